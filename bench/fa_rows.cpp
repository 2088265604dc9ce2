// How much a decode step of n prompt rows costs at a prompt depth, in llama.cpp itself (no
// pyllm code): the kernel-level facts behind the step budget (--max-stall) in bench/RESULTS.md.
// One sequence is prefilled with random tokens in 512-row steps up to each depth; there, a step
// of n rows is timed (median of 3, each removed again). The context is pyllm's engine's:
// unified KV cache, 2 sequences, sliding-window layers at window size unless SWA_FULL is 1.
//   bash bench/fa_rows.sh MODEL [FLASH_ATTN=1] [SWA_FULL=0] [DEPTHS=4000,8000,16000,26000] [ROWS=...]
#include "llama.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

static double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static std::vector<int> parse_list(const char * s) {
    std::vector<int> out;
    for (const char * p = s; *p;) {
        out.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
    }
    return out;
}

static void decode(llama_context * ctx, llama_pos pos0, int n, std::mt19937 & rng, int n_vocab) {
    llama_batch b = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; i++) {
        b.token[i] = 100 + static_cast<llama_token>(rng() % (n_vocab - 200));
        b.pos[i] = pos0 + i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = i == n - 1;
    }
    b.n_tokens = n;
    if (llama_decode(ctx, b) != 0) {
        std::fprintf(stderr, "llama_decode failed\n");
        std::exit(1);
    }
    llama_synchronize(ctx);
    llama_batch_free(b);
}

int main(int argc, char ** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL [FLASH_ATTN] [SWA_FULL] [DEPTHS] [ROWS]\n", argv[0]);
        return 2;
    }
    const bool flash_attn = argc > 2 ? std::atoi(argv[2]) != 0 : true;
    const bool swa_full = argc > 3 ? std::atoi(argv[3]) != 0 : false;
    const std::vector<int> depths = parse_list(argc > 4 ? argv[4] : "4000,8000,16000,26000");
    const std::vector<int> rows = parse_list(argc > 5 ? argv[5] : "16,32,63,64,128,256,512");

    llama_backend_init();
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_model * model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) return 1;
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 2 * 32768;
    cp.n_batch = cp.n_ubatch = 512;
    cp.n_seq_max = 2;
    cp.kv_unified = true;
    cp.n_threads = cp.n_threads_batch = 2;
    cp.flash_attn_type = flash_attn ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.swa_full = swa_full;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) return 1;
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    std::printf("flash_attn=%d swa_full=%d threads=2; ms per step (ms per row)\n", flash_attn, swa_full);
    std::printf("| depth | prefill to here (s) |");
    for (int n : rows) std::printf(" %d rows |", n);
    std::printf("\n|---|---|");
    for (size_t i = 0; i < rows.size(); i++) std::printf("---|");
    std::printf("\n");
    std::mt19937 rng(42);
    llama_pos pos = 0;
    double prefill_ms = 0;
    for (int depth : depths) {
        while (pos < depth) {
            const int n = std::min(512, depth - pos);
            const double t = now_ms();
            decode(ctx, pos, n, rng, n_vocab);
            prefill_ms += now_ms() - t;
            pos += n;
        }
        std::printf("| %d | %.1f |", depth, prefill_ms / 1000);
        for (int n : rows) {
            std::vector<double> ms;
            for (int r = 0; r < 3; r++) {
                const double t = now_ms();
                decode(ctx, pos, n, rng, n_vocab);
                ms.push_back(now_ms() - t);
                llama_memory_seq_rm(llama_get_memory(ctx), 0, pos, -1);
            }
            std::sort(ms.begin(), ms.end());
            std::printf(" %.0f (%.2f) |", ms[1], ms[1] / n);
            std::fflush(stdout);
        }
        std::printf("\n");
    }
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
