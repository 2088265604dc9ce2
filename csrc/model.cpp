#include "model.h"

#include <algorithm>
#include <regex>
#include <stdexcept>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

#include "common.h"
#include "errors.h"
#include "runtime.h"

namespace pyllm {

namespace {

// Checks what can be checked before llama.cpp sees the file, so the common mistakes
// get a precise reason rather than a loader log line.
void check_gguf_file(const std::string & path) {
    struct stat st{};
    if (stat(path.c_str(), &st) != 0) {
        throw ModelLoadError(path + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        throw ModelLoadError(path + ": not a regular file");
    }
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        throw ModelLoadError(path + ": cannot be opened for reading");
    }
    char magic[4] = {};
    f.read(magic, sizeof magic);
    if (f.gcount() < 4 || std::memcmp(magic, "GGUF", 4) != 0) {
        throw ModelLoadError(path + ": not a GGUF file (it does not start with the GGUF magic bytes)");
    }
}

std::string join_names(const std::vector<ggml_backend_dev_t> & devs) {
    std::string out;
    for (auto * dev : devs) out += (out.empty() ? "" : ", ") + std::string(ggml_backend_dev_name(dev));
    return out;
}

// Why no offload device is there, in the words a user can act on.
std::string no_device_reason() {
    const BuildInfo info = build_info();
    std::string backends;
    for (const auto & b : info.backends) backends += (backends.empty() ? "" : ", ") + b;
    if (info.gpu_backends.empty()) {
        return "this pyllm build has no GPU backend (backends: " + backends +
               "); install a GPU build (README: Building for a GPU), pass --rpc servers, or use -ngl 0";
    }
    return "this build's " + info.gpu_backends.front() +
           " backend found no device (no GPU or driver visible to this process?); check `pyllm info --devices`";
}

// Resolves the device options into llama_model_params, or says why they cannot be met.
// Owns the arrays the params point at.
struct DeviceSelection {
    std::vector<ggml_backend_dev_t> devices;  // null-terminated when given explicitly
    std::vector<float> tensor_split;

    void apply(const ModelOptions & o, llama_model_params & params) {
        const bool offload_asked = o.n_gpu_layers != 0 || o.main_gpu || o.split_mode || !o.tensor_split.empty() ||
                                   (o.devices && !(o.devices->size() == 1 && (*o.devices)[0] == "none"));
        std::vector<ggml_backend_dev_t> chosen;
        if (o.devices) {
            for (const auto & name : *o.devices) {
                if (name == "none") {
                    if (o.devices->size() != 1) throw std::invalid_argument("--device none cannot be combined with devices");
                    continue;
                }
                ggml_backend_dev_t dev = ggml_backend_dev_by_name(name.c_str());
                const auto offloadable = offload_devices();
                if (!dev || std::find(offloadable.begin(), offloadable.end(), dev) == offloadable.end()) {
                    throw std::invalid_argument("--device " + name + ": no such offload device (found: " +
                                                (offloadable.empty() ? "none; " + no_device_reason() : join_names(offloadable)) + ")");
                }
                chosen.push_back(dev);
            }
            devices = chosen;
            devices.push_back(nullptr);
            params.devices = devices.data();
        } else {
            chosen = offload_devices();
        }
        if (!offload_asked) return;
        if (chosen.empty()) {
            std::string what = o.n_gpu_layers != 0 ? "-ngl " + std::to_string(o.n_gpu_layers)
                             : o.main_gpu ? "-mg " + std::to_string(*o.main_gpu)
                             : o.split_mode ? "-sm " + *o.split_mode
                             : !o.tensor_split.empty() ? std::string("-ts") : std::string("--device");
            if (o.devices) throw std::invalid_argument(what + " with --device none: nothing to offload to");
            throw std::invalid_argument(what + " asks for a GPU, but " + no_device_reason());
        }
        if (o.main_gpu) {
            if (*o.main_gpu < 0 || *o.main_gpu >= static_cast<int>(chosen.size())) {
                throw std::invalid_argument("-mg " + std::to_string(*o.main_gpu) + ": there are " +
                                            std::to_string(chosen.size()) + " offload devices (" + join_names(chosen) + ")");
            }
            params.main_gpu = *o.main_gpu;
        }
        if (o.split_mode) {
            if (*o.split_mode == "none") {
                params.split_mode = LLAMA_SPLIT_MODE_NONE;
            } else if (*o.split_mode == "layer") {
                params.split_mode = LLAMA_SPLIT_MODE_LAYER;
            } else if (*o.split_mode == "row") {
                ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(chosen[params.main_gpu]);
                if (!ggml_backend_reg_get_proc_address(reg, "ggml_backend_split_buffer_type")) {
                    throw std::invalid_argument(std::string("-sm row needs a backend that splits rows (CUDA, SYCL); ") +
                                                ggml_backend_reg_name(reg) + " does not");
                }
                params.split_mode = LLAMA_SPLIT_MODE_ROW;
            } else {
                throw std::invalid_argument("-sm " + *o.split_mode + ": choose none, layer or row");
            }
        }
        if (!o.tensor_split.empty()) {
            if (o.tensor_split.size() > chosen.size()) {
                throw std::invalid_argument("-ts has " + std::to_string(o.tensor_split.size()) + " proportions for " +
                                            std::to_string(chosen.size()) + " offload devices (" + join_names(chosen) + ")");
            }
            for (float f : o.tensor_split) {
                if (!(f >= 0.0f)) throw std::invalid_argument("-ts proportions must be numbers >= 0");
            }
            tensor_split.assign(llama_max_devices(), 0.0f);
            std::copy(o.tensor_split.begin(), o.tensor_split.end(), tensor_split.begin());
            params.tensor_split = tensor_split.data();
        }
    }
};

// "load_tensors: offloaded 19/19 layers to GPU" and "load_tensors:   CPU_Mapped model buffer
// size =   241.05 MiB": llama.cpp says where the weights went only in its load log.
void read_placement(const std::string & log, int & offloaded, std::map<std::string, size_t> & buffers) {
    static const std::regex offloaded_re(R"(offloaded (\d+)/\d+ layers to GPU)");
    static const std::regex buffer_re(R"(:\s+(\S+) model buffer size =\s+([0-9.]+) MiB)");
    std::smatch m;
    if (std::regex_search(log, m, offloaded_re)) offloaded = std::stoi(m[1].str());
    for (auto it = std::sregex_iterator(log.begin(), log.end(), buffer_re); it != std::sregex_iterator(); ++it) {
        buffers[(*it)[1].str()] += static_cast<size_t>(std::stod((*it)[2].str()) * 1024.0 * 1024.0);
    }
}

}  // namespace

Model::Model(const std::string & path, const ModelOptions & options)
    : path_(path), vocab_only_(options.vocab_only) {
    init_runtime();
    check_gguf_file(path);

    llama_model_params params = llama_model_default_params();
    params.n_gpu_layers = options.n_gpu_layers;
    DeviceSelection selection;
    if (!options.vocab_only) selection.apply(options, params);
    params.vocab_only = options.vocab_only;
    params.use_extra_bufts = options.repack;
    params.load_mode = options.use_mmap
        ? (options.use_mlock ? LLAMA_LOAD_MODE_MMAP_MLOCK : LLAMA_LOAD_MODE_MMAP)
        : (options.use_mlock ? LLAMA_LOAD_MODE_MLOCK : LLAMA_LOAD_MODE_NONE);

    if (options.on_progress) {
        params.progress_callback = [](float progress, void * user_data) {
            return (*static_cast<const std::function<bool(float)> *>(user_data))(progress);
        };
        params.progress_callback_user_data = const_cast<std::function<bool(float)> *>(&options.on_progress);
    }

    LogCapture log(/*keep_info=*/true);
    model_ = llama_model_load_from_file(path.c_str(), params);
    if (!model_) {
        std::string reason = log.summary();
        throw ModelLoadError(path + ": " + (reason.empty() ? "llama.cpp could not load it" : reason));
    }
    read_placement(log.info_text(), offloaded_layers_, weight_buffers_);
    vocab_ = llama_model_get_vocab(model_);
    try {
        templates_ = common_chat_templates_init(model_, options.chat_template);
    } catch (const std::exception & e) {
        llama_model_free(model_);
        throw ChatTemplateError(std::string("chat template does not parse: ") + e.what());
    }
}

Model::~Model() {
    templates_.reset();
    if (model_) llama_model_free(model_);
}

std::string Model::meta(const char * key) const {
    int32_t n = llama_model_meta_val_str(model_, key, nullptr, 0);
    if (n < 0) return {};
    std::string out(static_cast<size_t>(n) + 1, '\0');
    llama_model_meta_val_str(model_, key, out.data(), out.size());
    out.resize(static_cast<size_t>(n));
    return out;
}

std::string Model::architecture() const { return meta("general.architecture"); }

std::string Model::description() const {
    char buf[256];
    llama_model_desc(model_, buf, sizeof buf);
    return buf;
}

int32_t Model::n_ctx_train() const { return llama_model_n_ctx_train(model_); }
int32_t Model::n_embd() const { return llama_model_n_embd(model_); }
int32_t Model::n_layer() const { return llama_model_n_layer(model_); }
int32_t Model::n_vocab() const { return llama_vocab_n_tokens(vocab_); }
uint64_t Model::n_params() const { return llama_model_n_params(model_); }
uint64_t Model::size_bytes() const { return llama_model_size(model_); }

std::map<std::string, std::string> Model::metadata() const {
    std::map<std::string, std::string> out;
    const int32_t count = llama_model_meta_count(model_);
    std::string key(256, '\0');
    for (int32_t i = 0; i < count; ++i) {
        int32_t n = llama_model_meta_key_by_index(model_, i, key.data(), key.size());
        if (n < 0) continue;
        std::string k(key.data(), std::min<size_t>(static_cast<size_t>(n), key.size() - 1));
        int32_t m = llama_model_meta_val_str_by_index(model_, i, nullptr, 0);
        std::string v(static_cast<size_t>(std::max(m, 0)) + 1, '\0');
        llama_model_meta_val_str_by_index(model_, i, v.data(), v.size());
        v.resize(static_cast<size_t>(std::max(m, 0)));
        out.emplace(std::move(k), std::move(v));
    }
    return out;
}

std::map<std::string, bool> Model::chat_template_caps() const {
    return common_chat_templates_get_caps(templates_.get());
}

std::string Model::chat_template_source() const {
    return common_chat_templates_source(templates_.get());
}

namespace {
std::string token_text(const llama_vocab * vocab, llama_token token) {
    return token == LLAMA_TOKEN_NULL ? std::string() : common_token_to_piece(vocab, token, true);
}
}  // namespace

std::string Model::bos_token() const { return token_text(vocab_, llama_vocab_bos(vocab_)); }
std::string Model::eos_token() const { return token_text(vocab_, llama_vocab_eos(vocab_)); }
bool Model::add_bos() const { return llama_vocab_get_add_bos(vocab_); }

std::vector<llama_token> Model::tokenize(const std::string & text, bool add_special, bool parse_special) const {
    return common_tokenize(vocab_, text, add_special, parse_special);
}

std::string Model::detokenize(const std::vector<llama_token> & tokens, bool render_special) const {
    const int32_t n_vocab = llama_vocab_n_tokens(vocab_);
    for (llama_token t : tokens) {
        if (t < 0 || t >= n_vocab) {
            throw std::out_of_range("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                    std::to_string(n_vocab - 1) + ")");
        }
    }
    return common_detokenize(vocab_, tokens, render_special);
}

common_chat_params Model::render_chat(const ChatInputs & inputs) const {
    common_chat_templates_inputs in;
    try {
        in.messages = common_chat_msgs_parse_oaicompat(common_json::parse(inputs.messages_json));
        if (!inputs.tools_json.empty()) {
            in.tools = common_chat_tools_parse_oaicompat(common_json::parse(inputs.tools_json));
        }
    } catch (const std::exception & e) {
        throw ChatTemplateError(std::string("invalid chat messages or tools: ") + e.what());
    }
    if (inputs.enable_thinking) {
        in.enable_thinking = *inputs.enable_thinking;
    }
    in.reasoning_format = inputs.reasoning_format;
    in.parallel_tool_calls = inputs.parallel_tool_calls;
    in.tool_choice = inputs.tool_choice;
    in.json_schema = inputs.json_schema;
    if (inputs.continue_final_message) {
        in.continue_final_message = COMMON_CHAT_CONTINUATION_AUTO;
        in.add_generation_prompt = false;
    }
    in.add_generation_prompt = inputs.add_generation_prompt;
    in.chat_template_kwargs = inputs.kwargs;
    in.use_jinja = true;
    common_chat_params params;
    try {
        params = common_chat_templates_apply(templates_.get(), in);
    } catch (const std::exception & e) {
        throw ChatTemplateError(std::string("chat template failed to render: ") + e.what());
    }
    if (!common_chat_templates_was_explicit(templates_.get())) {
        // The model names no template, so llama.cpp renders ChatML. Its end-of-turn marker is
        // rarely a token of such a model: without this stop the answer runs on into new turns.
        const std::string end_of_turn = "<|im_end|>";
        if (std::find(params.additional_stops.begin(), params.additional_stops.end(), end_of_turn) ==
            params.additional_stops.end()) {
            params.additional_stops.push_back(end_of_turn);
        }
    }
    return params;
}

}  // namespace pyllm
