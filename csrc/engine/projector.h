// Image input through llama.cpp's multimodal library (tools/mtmd): a projector loaded beside
// the text model (`--mmproj`), the checks an image passes before mtmd decodes it, and the
// prompt as mtmd tokenizes it (text chunks and image chunks, in order).
//
// In a prompt's token list an image stands as n_tokens pseudo tokens, all the same negative
// value derived from the image's content hash (mtmd's SHA-256 bitmap id). Prefix matching
// (slot reuse, the prompt cache) then works unchanged: the same picture at the same place is
// a shared prefix, a different picture diverges at its first token, and no pseudo token ever
// equals a vocabulary token.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "llama.h"
#include "mtmd.h"

namespace pyllm {

class Model;
struct ImageInput;

struct ProjectorOptions {
    std::string path;             // the mmproj GGUF
    int n_threads = 0;            // 0: the number of physical cores
    int flash_attn = -1;          // -1 auto, 0 off, 1 on
    bool use_gpu = true;          // the projector on the text model's offload device, if any
    int64_t max_pixels = 0;       // width x height an image may have; 0: no limit
};

class Projector {
public:
    // Throws ModelLoadError when mtmd refuses the file or it does not fit the text model.
    Projector(const Model & model, const ProjectorOptions & options);
    ~Projector();
    Projector(const Projector &) = delete;
    Projector & operator=(const Projector &) = delete;

    mtmd_context * get() const { return ctx_.get(); }
    bool vision() const;
    // What the rendered prompt carries where an image goes: random per process, so that no
    // client text can stand in for an image.
    const std::string & marker() const { return marker_; }

    // The checks mtmd does not make, then mtmd's own decoding (stb_image): a format it reads
    // (PNG, JPEG, GIF, BMP), the declared media type matching the bytes, the pixel limit
    // read from the header before anything is decoded, a complete image. Throws
    // InvalidRequestError saying which check failed and where (`image.where`).
    mtmd::bitmap_ptr decode(const ImageInput & image) const;

private:
    mtmd::context_ptr ctx_;
    std::string marker_;
    int64_t max_pixels_;
};

// A prompt's images as mtmd tokenized them: the chunk list (owning the preprocessed images)
// and, per image chunk, where its pseudo tokens start in the prompt.
//
// Two numberings: a token's index in the prompt (and in a slot's cache: one KV cell each)
// and its position in the model (what RoPE sees). They agree except after an M-RoPE image
// (Qwen-VL family), whose n_tokens cells on an nx x ny grid advance the position by only
// max(nx, ny) (mtmd writes the 2-D positions of its cells itself, all with the image's
// first position as their sequence position).
struct PromptImages {
    mtmd::input_chunks_ptr chunks;
    struct Image {
        size_t pos;       // first prompt index
        size_t n_tokens;  // prompt indexes (KV cells) it fills
        llama_pos n_pos;  // model positions it advances by (n_tokens unless M-RoPE)
        const mtmd_input_chunk * chunk;
    };
    std::vector<Image> images;  // in prompt order

    // The image starting at prompt index `pos`, or null.
    const Image * at(size_t pos) const;
    // The model position of the token at prompt (or cache) index `index`, which is not inside
    // an image: the index less what the M-RoPE images before it saved. Also right for the
    // tokens generated after the prompt.
    llama_pos position(size_t index) const;
};

struct MultimodalPrompt {
    std::vector<llama_token> tokens;  // text tokens, and pseudo tokens where images are
    std::shared_ptr<const PromptImages> images;
};

// Tokenizes a rendered prompt in which `projector.marker()` stands where each image goes,
// with BOS and special tokens parsed as for text prompts. Throws InvalidRequestError when the
// markers and images do not pair up or mtmd refuses an image.
MultimodalPrompt tokenize_with_images(const Projector & projector, const std::string & prompt,
                                      const std::vector<ImageInput> & images);

// Whether `token` is an image's pseudo token rather than a vocabulary token.
inline bool is_image_token(llama_token token) { return token < LLAMA_TOKEN_NULL; }

// The messages JSON with each {"type": "image"} content part (Python's placeholder, one per
// ImageInput, in order) replaced by a media marker part the chat template renders as text.
// Throws InvalidRequestError when their number differs from `n_images`.
std::string place_media_markers(const std::string & messages_json, const std::string & marker, size_t n_images);

}  // namespace pyllm
