// Process-wide llama.cpp state: backend initialisation, log routing, build facts.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ggml-backend.h"

namespace pyllm {

// Initialises llama.cpp's backends and installs the log router. Idempotent.
void init_runtime();

// Messages below this level are not printed to stderr. Levels follow ggml:
// 1 debug, 2 info, 3 warn, 4 error; 5 silences everything. Default: warn, or
// the PYLLM_LOG_LEVEL environment variable (debug|info|warn|error|none).
void set_log_level(int level);
int log_level();

// Collects llama.cpp's warning and error lines logged on this thread while alive,
// so a failed call can say why it failed instead of pointing at stderr. With
// keep_info, info lines are kept as well (info_text()), for facts llama.cpp only logs.
class LogCapture {
public:
    explicit LogCapture(bool keep_info = false);
    ~LogCapture();
    LogCapture(const LogCapture &) = delete;
    LogCapture & operator=(const LogCapture &) = delete;
    void append(int level, const char * text);
    bool keeps_info() const { return keep_info_; }
    // The captured warning and error lines joined by "; ", trimmed.
    std::string summary() const;
    // Every captured line, info included, as logged.
    const std::string & info_text() const { return info_; }

private:
    std::string text_;
    std::string info_;
    bool keep_info_;
    LogCapture * previous_;
};

struct BuildInfo {
    std::string llama_cpp_commit;
    std::string llama_cpp_source;  // where the source came from (pinned sdist or checkout)
    int llama_cpp_build_number = 0;
    std::string compiler;
    std::string build_type;
    std::vector<std::string> backends;  // registered ggml backends, e.g. {"CPU", "RPC"}
    std::vector<std::string> devices;   // devices those backends found, e.g. {"CPU", "CUDA0"}
    std::vector<std::string> gpu_backends;  // compiled-in GPU backends, e.g. {"CUDA"}, found or not
    std::string gpu_archs;               // compiled GPU architectures, e.g. "90" (CUDA), "" if none
    bool cpu_native = false;             // CPU code built with -march=native (GGML_NATIVE)
    std::map<std::string, std::string> cpu_features;  // e.g. {"AVX2": "1"}
    std::string system_info;             // llama_print_system_info()
};

BuildInfo build_info();

// A device a backend found: what `pyllm info --devices` lists.
struct DeviceInfo {
    std::string name;         // e.g. "CUDA0", "Vulkan0", "RPC0[127.0.0.1:50052]", "CPU"
    std::string description;  // e.g. "NVIDIA H200"
    std::string type;         // cpu, gpu, igpu, accel
    std::string backend;      // e.g. "CUDA"
    size_t memory_total = 0;  // bytes
    size_t memory_free = 0;
};

std::vector<DeviceInfo> devices();

// Devices that layers can be offloaded to (GPU, integrated GPU, RPC), in the order llama.cpp
// fills them.
std::vector<ggml_backend_dev_t> offload_devices();

// Why a backend stopped working (e.g. an RPC server's connection was lost), or "" while all
// work. Once set it stays: the device's state (weights, KV cache) is gone.
std::string backend_failure();

// Registers llama.cpp rpc-server endpoints ("host:port") as devices, so models loaded
// afterwards are split across them as llama-server's --rpc does. Throws
// std::invalid_argument when this build has no RPC backend (GGML_RPC=OFF), or when an
// endpoint is malformed or does not accept a connection (llama.cpp would abort the process).
void add_rpc_servers(const std::vector<std::string> & endpoints);

}  // namespace pyllm
