// Process-wide llama.cpp state: backend initialisation, log routing, build facts.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pyllm {

// Initialises llama.cpp's backends and installs the log router. Idempotent.
void init_runtime();

// Messages below this level are not printed to stderr. Levels follow ggml:
// 1 debug, 2 info, 3 warn, 4 error; 5 silences everything. Default: warn, or
// the PYLLM_LOG_LEVEL environment variable (debug|info|warn|error|none).
void set_log_level(int level);
int log_level();

// Collects llama.cpp's warning and error lines logged on this thread while alive,
// so a failed call can say why it failed instead of pointing at stderr.
class LogCapture {
public:
    LogCapture();
    ~LogCapture();
    LogCapture(const LogCapture &) = delete;
    LogCapture & operator=(const LogCapture &) = delete;
    void append(const char * text) { text_ += text; }
    // The captured lines joined by "; ", trimmed.
    std::string summary() const;

private:
    std::string text_;
    LogCapture * previous_;
};

struct BuildInfo {
    std::string llama_cpp_commit;
    std::string llama_cpp_source;  // where the source came from (pinned sdist or checkout)
    int llama_cpp_build_number = 0;
    std::string compiler;
    std::string build_type;
    std::vector<std::string> backends;  // registered ggml backends, e.g. {"CPU"}
    std::vector<std::string> devices;   // devices those backends found, e.g. {"CPU", "CUDA0"}
    std::map<std::string, std::string> cpu_features;  // e.g. {"AVX2": "1"}
    std::string system_info;             // llama_print_system_info()
};

BuildInfo build_info();

// Registers llama.cpp rpc-server endpoints ("host:port") as devices, so models loaded
// afterwards are split across them as llama-server's --rpc does. Throws
// std::invalid_argument when this build has no RPC backend (GGML_RPC=OFF).
void add_rpc_servers(const std::vector<std::string> & endpoints);

}  // namespace pyllm
