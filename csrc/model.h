// A loaded GGUF model: weights (or only the vocabulary), tokenizer and chat templates.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat.h"
#include "llama.h"

namespace pyllm {

struct ModelOptions {
    int n_gpu_layers = 0;       // layers offloaded to the GPU; -1 means all
    // Device options as llama-server's -mg, -sm, -ts and --device. Any of them, or a nonzero
    // n_gpu_layers, asks for offload devices: with none there (a CPU build, no driver, no
    // --rpc) loading fails (std::invalid_argument) instead of running on the CPU.
    std::optional<int> main_gpu;
    std::optional<std::string> split_mode;            // none, layer (llama.cpp's default), row
    std::vector<float> tensor_split;                  // proportions per offload device
    std::optional<std::vector<std::string>> devices;  // offload devices by name; {"none"}: none
    bool use_mmap = true;
    bool use_mlock = false;
    bool vocab_only = false;     // tokenizer and metadata only, no weights
    bool repack = true;          // CPU weight repacking (faster; results vary with batch shape)
    std::string chat_template;   // jinja source overriding the model's own template
    // Called while the weights load, with the loaded fraction (0..1); returning false aborts
    // the load (ModelLoadError).
    std::function<bool(float)> on_progress;
};

// What a chat template is rendered with. JSON arrives as text in the OpenAI shapes.
struct ChatInputs {
    std::string messages_json;                 // [{"role": ..., "content": ...}, ...]
    std::string tools_json;                    // [{"type": "function", ...}] or empty
    std::optional<bool> enable_thinking;       // unset: the template's own default
    bool add_generation_prompt = true;
    std::map<std::string, std::string> kwargs; // extra template variables, values as JSON text
    // Shapes the output parser in the result: whether reasoning is split out of the content,
    // and whether several tool calls may follow each other.
    common_reasoning_format reasoning_format = COMMON_REASONING_FORMAT_NONE;
    bool parallel_tool_calls = false;
    // required: the output must be a tool call (grammar-forced); none: tools are not called.
    common_chat_tool_choice tool_choice = COMMON_CHAT_TOOL_CHOICE_AUTO;
    // The last message is an assistant prefill that the output continues.
    bool continue_final_message = false;
    std::string json_schema;  // constrain the answer to this JSON schema (JSON text)
};

class Model {
public:
    Model(const std::string & path, const ModelOptions & options);
    ~Model();
    Model(const Model &) = delete;
    Model & operator=(const Model &) = delete;

    const llama_model * get() const { return model_; }
    const llama_vocab * vocab() const { return vocab_; }
    const std::string & path() const { return path_; }
    bool vocab_only() const { return vocab_only_; }
    // Where the weights went, from llama.cpp's load log: layers offloaded (of n_layer + 1,
    // the output layer counting as one; -1 when the build cannot offload) and each weight
    // buffer's size in bytes by buffer name, e.g. {"RPC0[127.0.0.1:50052]": ..., "CPU_Mapped": ...}.
    int offloaded_layers() const { return offloaded_layers_; }
    const std::map<std::string, size_t> & weight_buffers() const { return weight_buffers_; }

    std::string architecture() const;
    std::string description() const;
    int32_t n_ctx_train() const;
    int32_t n_embd() const;
    int32_t n_layer() const;
    int32_t n_vocab() const;
    uint64_t n_params() const;
    uint64_t size_bytes() const;
    std::map<std::string, std::string> metadata() const;
    std::string chat_template_source() const;
    // What llama.cpp detected the template can do: supports_tools, supports_tool_calls,
    // supports_system_role, supports_parallel_tool_calls, ...
    std::map<std::string, bool> chat_template_caps() const;
    // Text of the BOS / EOS tokens as templates see them ("" when the vocabulary has none).
    std::string bos_token() const;
    std::string eos_token() const;
    // Whether tokenizing a prompt with add_special adds BOS itself (so templates' BOS is dropped).
    bool add_bos() const;

    std::vector<llama_token> tokenize(const std::string & text, bool add_special, bool parse_special) const;
    // render_special: control tokens such as <start_of_turn> come back as their text.
    std::string detokenize(const std::vector<llama_token> & tokens, bool render_special) const;

    // Renders messages through llama.cpp's jinja chat templates. The result also carries
    // the output format, generation prompt, thinking tags and grammar for later stages.
    common_chat_params render_chat(const ChatInputs & inputs) const;

private:
    std::string meta(const char * key) const;

    std::string path_;
    bool vocab_only_ = false;
    int offloaded_layers_ = -1;
    std::map<std::string, size_t> weight_buffers_;
    llama_model * model_ = nullptr;
    const llama_vocab * vocab_ = nullptr;
    common_chat_templates_ptr templates_;
};

}  // namespace pyllm
