#include "engine/projector.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <random>

#include "common.h"
#include "engine/chat_request.h"
#include "errors.h"
#include "model.h"
#include "mtmd-helper.h"
#include "runtime.h"
// stb_image's implementation is compiled into mtmd's helper; only its header-reading entry
// point is used here, to learn an image's size before mtmd decodes all of its pixels.
#include "stb/stb_image.h"

namespace pyllm {

namespace {

std::string random_marker() {
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<size_t> pick(0, sizeof(digits) - 2);
    std::string marker = "<__pyllm_image_";
    for (int i = 0; i < 24; ++i) marker += digits[pick(rng)];
    return marker + "__>";
}

// What the first bytes say the file is ("" when no known signature).
std::string sniff_format(const std::string & data) {
    auto starts = [&](size_t at, const char * magic, size_t n) {
        return data.size() >= at + n && std::memcmp(data.data() + at, magic, n) == 0;
    };
    if (starts(0, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (starts(0, "\xff\xd8\xff", 3)) return "jpeg";
    if (starts(0, "GIF87a", 6) || starts(0, "GIF89a", 6)) return "gif";
    if (starts(0, "BM", 2) && data.size() >= 26) return "bmp";
    if (starts(0, "RIFF", 4) && starts(8, "WEBP", 4)) return "webp";
    if (starts(0, "II*\0", 4) || starts(0, "MM\0*", 4)) return "tiff";
    if (starts(4, "ftypavif", 8)) return "avif";
    if (starts(4, "ftypheic", 8) || starts(4, "ftypheix", 8) || starts(4, "ftypmif1", 8)) return "heic";
    return "";
}

// stb_image (through mtmd) reads these; the others are known images it cannot decode.
bool decodable(const std::string & format) {
    return format == "png" || format == "jpeg" || format == "gif" || format == "bmp";
}

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

// image/png -> png; image/jpg is a common misspelling of image/jpeg.
std::string declared_format(std::string media_type) {
    std::transform(media_type.begin(), media_type.end(), media_type.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    media_type = media_type.substr(0, media_type.find(';'));
    if (media_type.rfind("image/", 0) != 0) return "";
    std::string format = media_type.substr(6);
    if (format == "jpg" || format == "pjpeg") return "jpeg";
    if (format == "x-ms-bmp") return "bmp";
    return format;
}

// Why stb_image refused the data last on this thread, as " (reason)".
std::string decoder_reason() {
    const char * reason = stbi_failure_reason();
    return reason && *reason ? std::string(" (") + reason + ")" : std::string();
}

// A pseudo token for every position of an image: negative, below LLAMA_TOKEN_NULL, from
// the image's content hash.
llama_token image_token(const char * id) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the SHA-256 hex digest
    for (const char * c = id ? id : ""; *c; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 1099511628211ull;
    return -2 - static_cast<llama_token>(h % 0x7ffffff0ull);
}

}  // namespace

Projector::Projector(const Model & model, const ProjectorOptions & options)
    : marker_(random_marker()), max_pixels_(options.max_pixels) {
    init_runtime();
    mtmd_context_params params = mtmd_context_params_default();
    params.use_gpu = options.use_gpu;
    params.n_threads = options.n_threads > 0 ? options.n_threads : common_cpu_get_num_math();
    params.print_timings = false;
    params.media_marker = marker_.c_str();
    params.flash_attn_type = static_cast<llama_flash_attn_type>(options.flash_attn);
    LogCapture log;  // mtmd says why it refuses a file only in the log
    ctx_.reset(mtmd_init_from_file(options.path.c_str(), model.get(), params));
    if (!ctx_) {
        const std::string why = log.summary();
        throw ModelLoadError("cannot load the multimodal projector " + options.path + (why.empty() ? "" : ": " + why));
    }
    if (!mtmd_support_vision(ctx_.get())) {
        throw ModelLoadError("the multimodal projector " + options.path + " has no vision encoder (audio only)");
    }
}

Projector::~Projector() = default;

bool Projector::vision() const { return mtmd_support_vision(ctx_.get()); }

mtmd::bitmap_ptr Projector::decode(const ImageInput & image) const {
    const std::string where = image.where.empty() ? "image" : image.where;
    auto fail = [&](const std::string & why) { return InvalidRequestError(where + ": " + why); };
    if (image.data.empty()) throw fail("the image data is empty");
    const std::string format = sniff_format(image.data);
    if (format.empty()) throw fail("not an image (no PNG, JPEG, GIF, BMP or WebP signature in its first bytes)");
    if (!image.media_type.empty()) {
        const std::string declared = declared_format(image.media_type);
        if (declared.empty()) throw fail("media type '" + image.media_type + "' is not an image type");
        if (declared != format) {
            throw fail("media type '" + image.media_type + "' does not match the data, which is a " + upper(format) +
                       " image");
        }
    }
    if (!decodable(format)) {
        throw fail(upper(format) + " images are not supported (llama.cpp's image decoder reads PNG, JPEG, GIF and BMP)");
    }
    const auto * bytes = reinterpret_cast<const unsigned char *>(image.data.data());
    const int len = static_cast<int>(std::min<size_t>(image.data.size(), INT32_MAX));
    int nx = 0, ny = 0, nc = 0;
    if (!stbi_info_from_memory(bytes, len, &nx, &ny, &nc)) {
        throw fail("truncated or corrupt " + upper(format) + " image" + decoder_reason());
    }
    const int64_t pixels = static_cast<int64_t>(nx) * ny;
    if (max_pixels_ > 0 && pixels > max_pixels_) {
        throw fail("the image is " + std::to_string(nx) + "x" + std::to_string(ny) + " pixels, more than the " +
                   std::to_string(max_pixels_) + " pixels this server accepts (--image-max-pixels)");
    }
    mtmd_helper_bitmap_wrapper decoded =
        mtmd_helper_bitmap_init_from_buf(ctx_.get(), bytes, image.data.size(), /*placeholder=*/false,
                                         mtmd_helper_init_opt_default());
    if (decoded.video_ctx) mtmd_helper_video_free(decoded.video_ctx);
    if (!decoded.bitmap) throw fail("truncated or corrupt " + upper(format) + " image" + decoder_reason());
    return mtmd::bitmap_ptr(decoded.bitmap);
}

const PromptImages::Image * PromptImages::at(size_t pos) const {
    auto it = std::lower_bound(images.begin(), images.end(), pos, [](const Image & i, size_t p) { return i.pos < p; });
    return it != images.end() && it->pos == pos ? &*it : nullptr;
}

llama_pos PromptImages::position(size_t index) const {
    llama_pos saved = 0;
    for (const Image & image : images) {
        if (image.pos + image.n_tokens > index) break;
        saved += static_cast<llama_pos>(image.n_tokens) - image.n_pos;
    }
    return static_cast<llama_pos>(index) - saved;
}

MultimodalPrompt tokenize_with_images(const Projector & projector, const std::string & prompt,
                                      const std::vector<ImageInput> & images) {
    std::vector<mtmd::bitmap_ptr> bitmaps;
    std::vector<const mtmd_bitmap *> bitmap_ptrs;
    for (const auto & image : images) {
        bitmaps.push_back(projector.decode(image));
        bitmap_ptrs.push_back(bitmaps.back().get());
    }
    size_t n_markers = 0;
    for (size_t at = prompt.find(projector.marker()); at != std::string::npos;
         at = prompt.find(projector.marker(), at + projector.marker().size())) {
        ++n_markers;
    }
    if (n_markers != images.size()) {
        throw InvalidRequestError("the chat template rendered " + std::to_string(n_markers) + " of the request's " +
                                  std::to_string(images.size()) + " images (it drops content of some messages)");
    }
    auto out = std::make_shared<PromptImages>();
    out->chunks.reset(mtmd_input_chunks_init());
    const mtmd_input_text text{prompt.c_str(), prompt.size(), /*add_special=*/true, /*parse_special=*/true};
    int32_t rc;
    std::string why;
    {
        LogCapture log;
        rc = mtmd_tokenize(projector.get(), out->chunks.get(), &text, bitmap_ptrs.data(), bitmap_ptrs.size());
        why = log.summary();
    }
    if (rc != 0) throw InvalidRequestError("the images could not be prepared for the model" + (why.empty() ? "" : ": " + why));

    MultimodalPrompt result;
    const size_t n_chunks = mtmd_input_chunks_size(out->chunks.get());
    for (size_t i = 0; i < n_chunks; ++i) {
        const mtmd_input_chunk * chunk = mtmd_input_chunks_get(out->chunks.get(), i);
        if (mtmd_input_chunk_get_type(chunk) == MTMD_INPUT_CHUNK_TYPE_TEXT) {
            size_t n = 0;
            const llama_token * tokens = mtmd_input_chunk_get_tokens_text(chunk, &n);
            result.tokens.insert(result.tokens.end(), tokens, tokens + n);
            continue;
        }
        const size_t n = mtmd_input_chunk_get_n_tokens(chunk);
        out->images.push_back({result.tokens.size(), n, mtmd_input_chunk_get_n_pos(chunk), chunk});
        result.tokens.insert(result.tokens.end(), n, image_token(mtmd_input_chunk_get_id(chunk)));
    }
    if (!result.tokens.empty() && is_image_token(result.tokens.back())) {
        // The first output token's logits come from the prompt's last text token.
        throw InvalidRequestError("the prompt must not end with an image");
    }
    result.images = std::move(out);
    return result;
}

std::string place_media_markers(const std::string & messages_json, const std::string & marker, size_t n_images) {
    common_json messages;
    try {
        messages = common_json::parse(messages_json);
    } catch (const std::exception & e) {
        throw ChatTemplateError(std::string("invalid chat messages: ") + e.what());
    }
    size_t placed = 0;
    if (messages.is_array()) {
        for (auto & message : messages) {
            if (!message.is_object() || !message.contains("content") || !message["content"].is_array()) continue;
            for (auto & part : message["content"]) {
                if (part.is_object() && part.value("type", "") == "image") {
                    part = common_json{{"type", "media_marker"}, {"text", marker}};
                    ++placed;
                }
            }
        }
    }
    if (placed != n_images) {
        throw InvalidRequestError("the messages have " + std::to_string(placed) + " image parts for " +
                                  std::to_string(n_images) + " images");
    }
    return messages.dump();
}

}  // namespace pyllm
