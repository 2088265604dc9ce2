#include "runtime.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "build-info.h"
#include "ggml-backend.h"
#include "llama.h"
#include "log.h"

namespace pyllm {

namespace {

int parse_level(const char * name) {
    if (!name) return GGML_LOG_LEVEL_WARN;
    if (!std::strcmp(name, "debug")) return GGML_LOG_LEVEL_DEBUG;
    if (!std::strcmp(name, "info")) return GGML_LOG_LEVEL_INFO;
    if (!std::strcmp(name, "error")) return GGML_LOG_LEVEL_ERROR;
    if (!std::strcmp(name, "none")) return GGML_LOG_LEVEL_ERROR + 1;
    return GGML_LOG_LEVEL_WARN;
}

int g_log_level = parse_level(std::getenv("PYLLM_LOG_LEVEL"));
thread_local LogCapture * t_capture = nullptr;
// GGML_LOG_LEVEL_CONT continues the previous line at that line's level.
thread_local int t_last_level = GGML_LOG_LEVEL_INFO;

void route_log(ggml_log_level level, const char * text, void *) {
    int effective = level == GGML_LOG_LEVEL_CONT ? t_last_level : level;
    t_last_level = effective;
    if (t_capture && effective >= GGML_LOG_LEVEL_WARN) {
        t_capture->append(text);
    }
    if (effective >= g_log_level) {
        std::fputs(text, stderr);
    }
}

}  // namespace

LogCapture::LogCapture() : previous_(t_capture) { t_capture = this; }
LogCapture::~LogCapture() { t_capture = previous_; }

std::string LogCapture::summary() const {
    std::string out;
    size_t start = 0;
    while (start < text_.size()) {
        size_t end = text_.find('\n', start);
        if (end == std::string::npos) end = text_.size();
        std::string line = text_.substr(start, end - start);
        size_t first = line.find_first_not_of(" \t");
        if (first != std::string::npos) {
            if (!out.empty()) out += "; ";
            out += line.substr(first);
        }
        start = end + 1;
    }
    return out;
}

void set_log_level(int level) {
    g_log_level = level;
    // llama.cpp's common library logs through its own logger with its own verbosity scale.
    int common_threshold = -1;
    switch (level) {
        case GGML_LOG_LEVEL_DEBUG: common_threshold = LOG_LEVEL_DEBUG; break;
        case GGML_LOG_LEVEL_INFO: common_threshold = LOG_LEVEL_INFO; break;
        case GGML_LOG_LEVEL_WARN: common_threshold = LOG_LEVEL_WARN; break;
        case GGML_LOG_LEVEL_ERROR: common_threshold = LOG_LEVEL_ERROR; break;
        default: break;
    }
    common_log_set_verbosity_thold(common_threshold);
}
int log_level() { return g_log_level; }

void init_runtime() {
    static std::once_flag once;
    std::call_once(once, [] {
        llama_log_set(route_log, nullptr);
        set_log_level(g_log_level);
        llama_backend_init();
    });
}

BuildInfo build_info() {
    init_runtime();
    BuildInfo info;
    info.llama_cpp_commit = PYLLM_LLAMA_CPP_COMMIT;
    info.llama_cpp_source = PYLLM_LLAMA_CPP_SOURCE;
    info.llama_cpp_build_number = llama_build_number();
    info.compiler = llama_compiler();
    info.build_type = PYLLM_BUILD_TYPE;
    for (size_t i = 0; i < ggml_backend_reg_count(); ++i) {
        ggml_backend_reg_t reg = ggml_backend_reg_get(i);
        info.backends.emplace_back(ggml_backend_reg_name(reg));
        auto get_features = reinterpret_cast<ggml_backend_get_features_t>(
            ggml_backend_reg_get_proc_address(reg, "ggml_backend_get_features"));
        if (get_features && std::strcmp(ggml_backend_reg_name(reg), "CPU") == 0) {
            for (ggml_backend_feature * f = get_features(reg); f && f->name; ++f) {
                info.cpu_features[f->name] = f->value;
            }
        }
    }
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        info.devices.emplace_back(ggml_backend_dev_name(ggml_backend_dev_get(i)));
    }
    info.system_info = llama_print_system_info();
    return info;
}

void add_rpc_servers(const std::vector<std::string> & endpoints) {
    init_runtime();
    ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
    if (!rpc) {
        throw std::invalid_argument("this build has no RPC backend; rebuild with -C cmake.define.GGML_RPC=ON");
    }
    using add_server_fn = ggml_backend_reg_t (*)(const char * endpoint);
    auto add_server = reinterpret_cast<add_server_fn>(ggml_backend_reg_get_proc_address(rpc, "ggml_backend_rpc_add_server"));
    if (!add_server) {
        throw std::invalid_argument("the RPC backend of this build cannot add servers");
    }
    for (const auto & endpoint : endpoints) {
        if (endpoint.empty()) {
            throw std::invalid_argument("empty RPC server address");
        }
        ggml_backend_register(add_server(endpoint.c_str()));
    }
}

}  // namespace pyllm
