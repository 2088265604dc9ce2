"""pyllm's changes to the pinned llama.cpp source, applied at configure time.

Each change is an exact text replacement; applying it again is a no-op, and a source whose
text no longer matches (a new pin) stops the configure step, naming the change to redo.

rpc-client-failure: llama.cpp's RPC client aborts the whole process when a connection to an
rpc-server breaks (GGML_ABORT on a failed send or receive), which would take a server and
all its other requests down with one worker. Instead the connection is marked failed: its
queued and later commands complete without being sent (outputs zeroed), graph computations
on it report GGML_STATUS_FAILED, and ggml_backend_rpc_failure() (a proc address of the RPC
backend) says which server failed and why, so a caller can end its requests with an error.
"""
from __future__ import annotations

import sys
from pathlib import Path

RPC = "ggml/src/ggml-rpc/ggml-rpc.cpp"

CHANGES = [
    ("rpc-client-failure", RPC,
     """#define RPC_STATUS_ASSERT(x) if (!(x)) GGML_ABORT("Remote RPC server crashed or returned malformed response")
""",
     """#define RPC_STATUS_ASSERT(x) if (!(x)) GGML_ABORT("Remote RPC server crashed or returned malformed response")

// pyllm: the first connection that failed, as "endpoint: reason"; set once, then read-only.
static std::atomic_bool g_rpc_failed{false};
static char g_rpc_failure[512];
static std::mutex g_rpc_failure_mutex;

static void rpc_record_failure(const std::string & endpoint, const char * reason) {
    std::lock_guard<std::mutex> lock(g_rpc_failure_mutex);
    if (!g_rpc_failed) {
        snprintf(g_rpc_failure, sizeof(g_rpc_failure), "%s: %s", endpoint.c_str(), reason);
        g_rpc_failed = true;
    }
    GGML_LOG_ERROR("RPC server %s: %s; its commands fail from now on\\n", endpoint.c_str(), reason);
}

// NULL while every connection works, else which server failed and why.
static const char * ggml_backend_rpc_failure(void) {
    return g_rpc_failed ? g_rpc_failure : NULL;
}
"""),
    ("rpc-client-failure", RPC,
     """    rpc_msg_queue    queue;
    socket_ptr       sock;
    std::atomic_bool running;
    std::thread      thread;
};
""",
     """    rpc_msg_queue    queue;
    socket_ptr       sock;
    std::atomic_bool running;
    std::thread      thread;
public:
    std::string      endpoint;
    std::atomic_bool failed{false};
};
"""),
    ("rpc-client-failure", RPC,
     """    LOG_DBG("[%s] connected to %s\\n", __func__, endpoint.c_str());
    running = true;
""",
     """    LOG_DBG("[%s] connected to %s\\n", __func__, endpoint.c_str());
    this->endpoint = endpoint;
    running = true;
"""),
    ("rpc-client-failure", RPC,
     """        if (msg_ptr->cmd != RPC_CMD_NONE) {
            if (msg_ptr->output) {
                bool status = send_rpc_cmd(sock, msg_ptr->cmd, msg_ptr->input.get(), msg_ptr->input_size, msg_ptr->output, msg_ptr->output_size);
                RPC_STATUS_ASSERT(status);
            } else {
                bool status = send_rpc_cmd(sock, msg_ptr->cmd, msg_ptr->input.get(), msg_ptr->input_size);
                RPC_STATUS_ASSERT(status);
            }
        }
""",
     """        if (msg_ptr->cmd != RPC_CMD_NONE && !failed) {
            bool status = msg_ptr->output
                ? send_rpc_cmd(sock, msg_ptr->cmd, msg_ptr->input.get(), msg_ptr->input_size, msg_ptr->output, msg_ptr->output_size)
                : send_rpc_cmd(sock, msg_ptr->cmd, msg_ptr->input.get(), msg_ptr->input_size);
            if (!status) {
                failed = true;
                rpc_record_failure(endpoint, "connection lost (the server crashed, exited or sent a malformed response)");
            }
        }
        if (failed && msg_ptr->cmd != RPC_CMD_NONE && msg_ptr->output) {
            memset(msg_ptr->output, 0, msg_ptr->output_size);
        }
"""),
    ("rpc-client-failure", RPC,
     """    GGML_ASSERT(cgraph->n_nodes > 0);
    bool reuse = cgraph->uid != 0 && rpc_dev_ctx->last_graph_uid == cgraph->uid;
""",
     """    GGML_ASSERT(cgraph->n_nodes > 0);
    if (rpc_ctx->dispatcher->failed) {
        return GGML_STATUS_FAILED;
    }
    bool reuse = cgraph->uid != 0 && rpc_dev_ctx->last_graph_uid == cgraph->uid;
"""),
    ("rpc-client-failure", RPC,
     """    if (std::strcmp(name, "ggml_backend_rpc_start_server") == 0) {
        return (void *)ggml_backend_rpc_start_server;
    }
""",
     """    if (std::strcmp(name, "ggml_backend_rpc_start_server") == 0) {
        return (void *)ggml_backend_rpc_start_server;
    }
    if (std::strcmp(name, "ggml_backend_rpc_failure") == 0) {
        return (void *)ggml_backend_rpc_failure;
    }
"""),
]


def apply(source: Path) -> None:
    pending: dict[Path, str] = {}
    for name, rel, old, new in CHANGES:
        path = source / rel
        text = pending.get(path) or path.read_text(encoding="utf-8")
        if new in text:
            continue
        if text.count(old) != 1:
            raise SystemExit(f"pyllm: cannot apply llama.cpp change {name!r} to {path}: the text it replaces "
                             "is not there exactly once (a new llama.cpp pin?); update cmake/patch_llama_cpp.py")
        pending[path] = text.replace(old, new)
    for path, text in pending.items():
        path.write_text(text, encoding="utf-8")
        print(f"-- pyllm: patched {path}", flush=True)


if __name__ == "__main__":
    apply(Path(sys.argv[1]))
