// One generation request as the engine sees it: what to generate, where its output goes,
// and how it ended. Shared between the scheduler thread (producer) and Python (consumer).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common.h"
#include "llama.h"

struct common_sampler;

namespace pyllm {

struct PromptImages;

struct TaskParams {
    int32_t max_tokens = -1;  // -1: until end of generation or the slot's context is full
    common_params_sampling sampling;  // temperature, top_p/k, min_p, seed, penalties, bias, grammar...
    std::string json_schema;          // JSON text; compiled to a grammar at submit
    std::vector<std::string> stop;    // stop strings: never emitted, not even partially
    // The chat template's end-of-turn strings: held back like stop strings, but the answer
    // ends as at end of generation (finish reason stop), not at a client's stop sequence.
    std::vector<std::string> end_of_turn;
    std::vector<llama_token> preserved_tokens;  // special tokens rendered as text (parser markers)
    // A tool call is forced after the reasoning the template opens: submit bounds the
    // reasoning so that the call still fits in the output's room (max_tokens, context).
    bool reasoning_before_forced_call = false;
    bool plain_greedy = false;  // set at submit: arg-max with nothing else in the chain
    // Where the prompt's images are and mtmd's chunks for them (projector.h); null: text only.
    std::shared_ptr<const PromptImages> images;
};

// length: max_tokens reached; context_full: the slot's context ended the generation first.
enum class FinishReason { none, stop, length, context_full, stop_sequence, cancelled, error };
const char * finish_reason_name(FinishReason reason);

struct Usage {
    int32_t prompt_tokens = 0;
    int32_t cached_tokens = 0;      // prompt tokens reused from a slot's KV cache
    int32_t completion_tokens = 0;
};

struct Timings {
    double queue_ms = 0;    // submit -> admitted to a slot
    double prefill_ms = 0;  // admitted -> first token sampled
    double decode_ms = 0;   // first token -> finished
};

struct TokenLogprob {
    llama_token token;
    float logprob;
};

// The sampled token, its log-probability and the n_probs most likely alternatives.
struct TokenProbs {
    llama_token token;
    float logprob;
    std::vector<TokenLogprob> top;
};

struct FinishInfo {
    FinishReason reason = FinishReason::none;
    std::string stop_sequence;  // the stop string matched, for FinishReason::stop_sequence
    std::string error;          // what failed, for FinishReason::error
    Usage usage;
};

// Turns a task's generated text into the payloads Python receives, on the engine thread:
// the output parser and a protocol encoder plug in here, so Python only gets finished
// payloads. Without one, payloads are the text deltas themselves.
class OutputProcessor {
public:
    virtual ~OutputProcessor() = default;
    // Admitted to a slot: prompt and cached token counts are known.
    virtual void on_start(const Usage & usage, std::vector<std::string> & out) = 0;
    virtual void on_text(std::string_view text, std::vector<std::string> & out) = 0;
    virtual void on_finish(const FinishInfo & info, std::vector<std::string> & out) = 0;
};

// A task is created "preparing" (its request is rendered and tokenized off the event loop,
// request_preparer.h), then given its prompt, parameters, sampler and output processor once,
// before it is queued for the scheduler; or it fails preparation and is done at once.
class Task {
public:
    using Clock = std::chrono::steady_clock;

    explicit Task(uint64_t id);
    ~Task();
    Task(const Task &) = delete;
    Task & operator=(const Task &) = delete;

    // Before the task is queued, exactly once; the scheduler reads these without a lock.
    // The task counts as prepared from here on, so no output can come before it is.
    void set_request(std::vector<llama_token> prompt, TaskParams params, common_sampler * sampler,
                     std::unique_ptr<OutputProcessor> processor);

    uint64_t id() const { return id_; }
    const std::vector<llama_token> & prompt() const { return prompt_; }
    const TaskParams & params() const { return params_; }
    common_sampler * sampler() { return sampler_; }
    // Payloads are a protocol's final bytes (an output processor writes them), not text.
    bool binary_output() const { return binary_output_.load(std::memory_order_relaxed); }

    // Preparation failed: the task is done. Returns true: the consumer needs a wake-up.
    bool fail_preparation(std::exception_ptr error);
    bool prepared() const;  // queued for the scheduler (it may be running or done since)
    // Why preparation failed (null if it did not): the typed error a submit() would throw.
    std::exception_ptr preparation_error() const;
    // Blocks up to timeout_ms (< 0: forever) until prepared or done.
    bool wait_prepared(int timeout_ms);

    // Consumer side (any thread). wait() blocks up to timeout_ms (< 0: forever) until
    // output is ready or the task is done, then takes everything ready.
    struct Ready {
        std::vector<std::string> items;
        bool done = false;
    };
    Ready take();
    Ready wait(int timeout_ms);
    // Blocks up to timeout_ms (< 0: forever) until the task is done, leaving output queued:
    // a waiter that does not stream is not woken for every token.
    bool wait_done(int timeout_ms);
    void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
    bool cancel_requested() const { return cancelled_.load(std::memory_order_relaxed); }
    bool done() const;

    // Results; complete once done.
    FinishReason finish_reason() const;
    std::string stop_sequence() const;
    std::string error() const;
    Usage usage() const;
    Timings timings() const;
    std::vector<TokenProbs> logprobs(size_t start = 0) const;  // entries from `start` on

    // Producer side (the scheduler thread). Those returning bool return true when the
    // queue went from empty to non-empty, i.e. when the consumer needs a wake-up.
    bool emit_text(std::string_view text);
    bool finish(FinishReason reason, std::string stop_sequence = {}, std::string error = {});
    void record_logprobs(TokenProbs probs);
    bool set_admitted(int32_t cached_tokens);
    void note_first_token();
    void note_token();

    // Whether wake-ups go through the engine's file descriptor (an asyncio consumer).
    std::atomic<bool> notify_fd{false};
    std::atomic<bool> in_ready_list{false};

private:
    bool push_locked(std::string && item);

    const uint64_t id_;
    std::vector<llama_token> prompt_;
    TaskParams params_;
    common_sampler * sampler_ = nullptr;
    std::unique_ptr<OutputProcessor> processor_;
    std::atomic<bool> cancelled_{false};
    std::atomic<bool> binary_output_{false};

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::string> items_;
    bool done_ = false;
    bool prepared_ = false;
    std::exception_ptr preparation_error_;
    FinishReason finish_reason_ = FinishReason::none;
    std::string stop_sequence_;
    std::string error_;
    Usage usage_;
    std::vector<TokenProbs> logprobs_;
    Clock::time_point t_submit_, t_admit_, t_first_, t_end_;
};

}  // namespace pyllm
