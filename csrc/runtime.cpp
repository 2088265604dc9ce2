#include "runtime.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "build-info.h"
#include "ggml-backend.h"
#include "llama.h"
#include "log.h"
#include "mtmd-helper.h"

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
    if (t_capture) {
        t_capture->append(effective, text);
    }
    if (effective >= g_log_level) {
        std::fputs(text, stderr);
    }
}

}  // namespace

LogCapture::LogCapture(bool keep_info) : keep_info_(keep_info), previous_(t_capture) { t_capture = this; }
LogCapture::~LogCapture() { t_capture = previous_; }

void LogCapture::append(int level, const char * text) {
    if (level >= GGML_LOG_LEVEL_WARN) text_ += text;
    if (keep_info_ && level >= GGML_LOG_LEVEL_INFO) info_ += text;
}

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
        mtmd_helper_log_set(route_log, nullptr);  // the multimodal library logs on its own
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
    for (const auto & name : info.backends) {
        if (name != "CPU" && name != "RPC" && name != "BLAS") info.gpu_backends.push_back(name);
    }
    info.gpu_archs = PYLLM_GPU_ARCHS;
    info.cpu_native = PYLLM_CPU_NATIVE != 0;
    info.system_info = llama_print_system_info();
    return info;
}

std::vector<DeviceInfo> devices() {
    init_runtime();
    std::vector<DeviceInfo> out;
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        DeviceInfo d;
        d.name = ggml_backend_dev_name(dev);
        d.description = ggml_backend_dev_description(dev);
        switch (ggml_backend_dev_type(dev)) {
            case GGML_BACKEND_DEVICE_TYPE_CPU: d.type = "cpu"; break;
            case GGML_BACKEND_DEVICE_TYPE_GPU: d.type = "gpu"; break;
            case GGML_BACKEND_DEVICE_TYPE_IGPU: d.type = "igpu"; break;
            case GGML_BACKEND_DEVICE_TYPE_ACCEL: d.type = "accel"; break;
            default: d.type = "other"; break;
        }
        d.backend = ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev));
        ggml_backend_dev_memory(dev, &d.memory_free, &d.memory_total);
        out.push_back(std::move(d));
    }
    return out;
}

std::vector<ggml_backend_dev_t> offload_devices() {
    init_runtime();
    std::vector<ggml_backend_dev_t> rpc, gpus, igpus;
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        const auto type = ggml_backend_dev_type(dev);
        if (type == GGML_BACKEND_DEVICE_TYPE_GPU) {
            (std::strcmp(ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev)), "RPC") == 0 ? rpc : gpus).push_back(dev);
        } else if (type == GGML_BACKEND_DEVICE_TYPE_IGPU) {
            igpus.push_back(dev);
        }
    }
    rpc.insert(rpc.end(), gpus.begin(), gpus.end());
    if (gpus.empty()) rpc.insert(rpc.end(), igpus.begin(), igpus.end());
    return rpc;
}

std::string backend_failure() {
    // cmake/patch_llama_cpp.py gives the RPC backend this query instead of aborting the
    // process when a server's connection breaks; a checkout without it has no answer.
    using failure_fn = const char * (*)();
    static const failure_fn rpc_failure = [] {
        init_runtime();
        ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
        return rpc ? reinterpret_cast<failure_fn>(ggml_backend_reg_get_proc_address(rpc, "ggml_backend_rpc_failure"))
                   : nullptr;
    }();
    const char * failure = rpc_failure ? rpc_failure() : nullptr;
    return failure ? std::string("RPC server ") + failure : std::string();
}

namespace {

// llama.cpp's RPC client aborts the process when it cannot connect, so the address is
// tried here first and a bad one is an error the caller can report.
void check_rpc_endpoint(const std::string & endpoint) {
    const size_t colon = endpoint.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint.size()) {
        throw std::invalid_argument("RPC server address '" + endpoint + "' is not host:port");
    }
    std::string host = endpoint.substr(0, colon);
    const std::string port = endpoint.substr(colon + 1);
    if (port.find_first_not_of("0123456789") != std::string::npos) {
        throw std::invalid_argument("RPC server address '" + endpoint + "' has no numeric port");
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo * found = nullptr;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        throw std::invalid_argument("RPC server " + endpoint + ": " + gai_strerror(rc));
    }
    std::string error = "no address";
    bool connected = false;
    for (addrinfo * a = found; a && !connected; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            connected = true;
        } else if (errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (poll(&p, 1, 5000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0) {
                connected = true;
            } else {
                error = soerr ? std::strerror(soerr) : "timed out";
            }
        } else {
            error = std::strerror(errno);
        }
        close(fd);
    }
    freeaddrinfo(found);
    if (!connected) {
        throw std::invalid_argument("cannot connect to RPC server " + endpoint + ": " + error +
                                    " (is llama.cpp's rpc-server running there?)");
    }
}

}  // namespace

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
        check_rpc_endpoint(endpoint);
    }
    for (const auto & endpoint : endpoints) {
        ggml_backend_register(add_server(endpoint.c_str()));
    }
}

}  // namespace pyllm
