// Pooled embeddings: a llama context of its own in embeddings mode over an already loaded
// model, and a scheduler thread that packs the inputs of every pending request into one
// llama_decode at a time, each input its own sequence (llama.cpp pools per sequence), as
// llama-server's --embeddings does. Generation is untouched: the engine's context, slots and
// KV cache are not shared with it.
//
// A request completes through a Task and a ReadyQueue, the engine's own delivery path, so
// Python waits for it the same way (blocking with the GIL released, or on the wake-up fd
// from asyncio) and cancels it the same way (Task::cancel).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "llama.h"
#include "ready_queue.h"
#include "task.h"

namespace pyllm {

class Model;

struct EmbedderOptions {
    // Most tokens in one llama_decode, and so the longest input: a sequence is pooled within
    // one micro-batch, and encoder-only models attend over the whole input at once.
    int n_batch = 512;
    int n_seq_max = 0;     // inputs decoded together; 0: as many as llama.cpp allows (256)
    int n_threads = 0;     // 0: the number of physical cores
    // -1 auto, 0 off, 1 on. Off: llama.cpp's CPU flash-attention kernel gives an input a
    // different vector (cosine 0.998) depending on what else is in its batch; without it
    // what is left is the order of sums in repacked CPU weight kernels (cosine 0.99997).
    int flash_attn = 0;
    // LLAMA_POOLING_TYPE_UNSPECIFIED: the model's own, mean for a model that names none
    // (a generative model such as Gemma 3). NONE (per-token vectors) is refused.
    enum llama_pooling_type pooling = LLAMA_POOLING_TYPE_UNSPECIFIED;
    int max_queued = 64;   // requests not finished before submit() is refused
};

struct EmbedderStats {
    int queued = 0;             // requests submitted and not finished
    uint64_t requests = 0;      // requests finished (done, cancelled or failed)
    uint64_t inputs = 0;        // inputs embedded
    uint64_t tokens = 0;        // tokens of those inputs
    uint64_t decode_calls = 0;
};

// One request: its inputs, and once done their vectors, row-major [n_inputs, n_dims].
class EmbeddingRequest {
public:
    EmbeddingRequest(std::shared_ptr<Task> completion, std::vector<std::vector<llama_token>> inputs, int n_dims,
                     bool normalize);

    // Done (finish reason stop, cancelled or error) when the request is over; its payloads are empty.
    const std::shared_ptr<Task> & completion() const { return completion_; }
    int n_inputs() const { return static_cast<int>(inputs_.size()); }
    int n_dims() const { return n_dims_; }
    int64_t n_tokens() const { return n_tokens_; }
    // Tokens of each input after truncation.
    std::vector<int32_t> input_lengths() const;
    // The vectors, moved out; empty unless the request finished with reason stop. Call once.
    std::vector<float> take_vectors();

private:
    friend class Embedder;

    const std::shared_ptr<Task> completion_;
    const std::vector<std::vector<llama_token>> inputs_;
    const int n_dims_;
    const bool normalize_;
    int64_t n_tokens_ = 0;
    // The scheduler thread's until the request is done.
    size_t next_input_ = 0;  // first input not yet in a batch
    size_t n_embedded_ = 0;
    std::vector<float> vectors_;
};

class Embedder {
public:
    Embedder(std::shared_ptr<const Model> model, const EmbedderOptions & options);
    ~Embedder();
    Embedder(const Embedder &) = delete;
    Embedder & operator=(const Embedder &) = delete;

    // Validates the inputs and queues them as one request. An input longer than
    // max_input_tokens() is cut to it when `truncate`, else refused (ContextOverflowError).
    // Throws InvalidRequestError (no inputs, an empty input, a token outside the vocabulary)
    // or EngineOverloadedError (max_queued requests unfinished, or shutting down).
    std::shared_ptr<EmbeddingRequest> submit(std::vector<std::vector<llama_token>> inputs, bool normalize,
                                             bool truncate);
    // Tokenizes each text as llama-server does for embeddings (special tokens added and
    // parsed), then as submit().
    std::shared_ptr<EmbeddingRequest> submit_texts(const std::vector<std::string> & texts, bool normalize,
                                                   bool truncate);

    ReadyQueue & ready() { return ready_; }
    EmbedderStats stats() const;
    int n_dims() const { return n_dims_; }                 // floats per vector
    int max_input_tokens() const { return options_.n_batch; }
    enum llama_pooling_type pooling() const { return pooling_; }
    const Model & model() const { return *model_; }

    // Stops the scheduler; unfinished requests end as cancelled. Idempotent.
    void shutdown();

private:
    struct Sequence {
        std::shared_ptr<EmbeddingRequest> request;
        size_t input;
    };

    void run();
    // Moves submitted requests to active_, drops cancelled ones; false when stopping.
    bool take_pending();
    // Packs inputs of the active requests, one from each in turn, into batch_.
    void fill_batch(std::vector<Sequence> & sequences);
    void decode(const std::vector<Sequence> & sequences);
    void finish(const std::shared_ptr<EmbeddingRequest> & request, FinishReason reason, std::string error = {});

    std::shared_ptr<const Model> model_;
    EmbedderOptions options_;
    enum llama_pooling_type pooling_ = LLAMA_POOLING_TYPE_MEAN;
    int n_dims_ = 0;
    llama_context * ctx_ = nullptr;
    llama_batch batch_{};
    std::list<std::shared_ptr<EmbeddingRequest>> active_;  // the scheduler thread's

    mutable std::mutex mu_;  // guards everything below
    std::condition_variable cv_;
    std::deque<std::shared_ptr<EmbeddingRequest>> pending_;
    bool stopping_ = false;
    uint64_t next_id_ = 1;
    int unfinished_ = 0;
    EmbedderStats totals_;

    ReadyQueue ready_;
    std::thread thread_;
};

// "mean", "cls", "last", "rank" (and "none", "unspecified").
const char * pooling_name(enum llama_pooling_type pooling);
// The pooling named `name` (mean, cls, last or rank); InvalidRequestError otherwise.
enum llama_pooling_type pooling_from_name(const std::string & name);

}  // namespace pyllm
