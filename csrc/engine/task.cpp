#include "task.h"

#include "sampling.h"

namespace pyllm {

namespace {
double ms_between(Task::Clock::time_point a, Task::Clock::time_point b) {
    if (a == Task::Clock::time_point{} || b == Task::Clock::time_point{}) return 0;
    return std::chrono::duration<double, std::milli>(b - a).count();
}
}  // namespace

const char * finish_reason_name(FinishReason reason) {
    switch (reason) {
        case FinishReason::none: return "none";
        case FinishReason::stop: return "stop";
        case FinishReason::length: return "length";
        case FinishReason::stop_sequence: return "stop_sequence";
        case FinishReason::cancelled: return "cancelled";
        case FinishReason::error: return "error";
    }
    return "none";
}

Task::Task(uint64_t id) : id_(id), t_submit_(Clock::now()) {}

void Task::set_request(std::vector<llama_token> prompt, TaskParams params, common_sampler * sampler,
                       std::unique_ptr<OutputProcessor> processor) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        prompt_ = std::move(prompt);
        params_ = std::move(params);
        sampler_ = sampler;
        processor_ = std::move(processor);
        binary_output_.store(processor_ != nullptr, std::memory_order_relaxed);
        usage_.prompt_tokens = static_cast<int32_t>(prompt_.size());
        prepared_ = true;
    }
    cv_.notify_all();
}

bool Task::fail_preparation(std::exception_ptr error) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        preparation_error_ = error;
        done_ = true;
        finish_reason_ = cancel_requested() ? FinishReason::cancelled : FinishReason::error;
        try {
            std::rethrow_exception(error);
        } catch (const std::exception & e) {
            error_ = e.what();
        } catch (...) {
            error_ = "preparing the request failed";
        }
        t_end_ = t_admit_ = Clock::now();
    }
    cv_.notify_all();
    return true;
}

bool Task::prepared() const {
    std::lock_guard<std::mutex> lock(mu_);
    return prepared_;
}

std::exception_ptr Task::preparation_error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return preparation_error_;
}

bool Task::wait_prepared(int timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    auto ready = [this] { return prepared_ || done_; };
    if (timeout_ms < 0) {
        cv_.wait(lock, ready);
        return true;
    }
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready);
}

Task::~Task() {
    if (sampler_) common_sampler_free(sampler_);
}

bool Task::push_locked(std::string && item) {
    if (item.empty()) return false;
    const bool was_empty = items_.empty();
    items_.push_back(std::move(item));
    return was_empty;
}

bool Task::emit_text(std::string_view text) {
    std::vector<std::string> out;
    if (processor_) {
        processor_->on_text(text, out);
    } else if (!text.empty()) {
        out.emplace_back(text);
    }
    if (out.empty()) return false;
    bool woke = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto & item : out) woke |= push_locked(std::move(item));
    }
    if (woke) cv_.notify_all();
    return woke;
}

bool Task::finish(FinishReason reason, std::string stop_sequence, std::string error) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (done_) return false;
    }
    std::vector<std::string> out;
    if (processor_) processor_->on_finish(FinishInfo{reason, stop_sequence, error, usage()}, out);
    bool woke;
    {
        std::lock_guard<std::mutex> lock(mu_);
        woke = items_.empty();  // done is news for the consumer even without items
        for (auto & item : out) push_locked(std::move(item));
        done_ = true;
        finish_reason_ = reason;
        stop_sequence_ = std::move(stop_sequence);
        error_ = std::move(error);
        t_end_ = Clock::now();
        if (t_admit_ == Clock::time_point{}) t_admit_ = t_end_;
    }
    cv_.notify_all();
    return woke;
}

void Task::record_logprobs(TokenProbs probs) {
    std::lock_guard<std::mutex> lock(mu_);
    logprobs_.push_back(std::move(probs));
}

bool Task::set_admitted(int32_t cached_tokens) {
    Usage usage;
    {
        std::lock_guard<std::mutex> lock(mu_);
        usage_.cached_tokens = cached_tokens;
        t_admit_ = Clock::now();
        usage = usage_;
    }
    if (!processor_) return false;
    std::vector<std::string> out;
    processor_->on_start(usage, out);
    bool woke = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto & item : out) woke |= push_locked(std::move(item));
    }
    if (woke) cv_.notify_all();
    return woke;
}

void Task::note_first_token() {
    std::lock_guard<std::mutex> lock(mu_);
    t_first_ = Clock::now();
}

void Task::note_token() {
    std::lock_guard<std::mutex> lock(mu_);
    ++usage_.completion_tokens;
}

Task::Ready Task::take() {
    Ready r;
    std::lock_guard<std::mutex> lock(mu_);
    r.items.swap(items_);
    r.done = done_;
    return r;
}

Task::Ready Task::wait(int timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    auto ready = [this] { return done_ || !items_.empty(); };
    if (timeout_ms < 0) {
        cv_.wait(lock, ready);
    } else {
        cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready);
    }
    Ready r;
    r.items.swap(items_);
    r.done = done_;
    return r;
}

bool Task::wait_done(int timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    auto finished = [this] { return done_; };
    if (timeout_ms < 0) {
        cv_.wait(lock, finished);
        return true;
    }
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), finished);
}

bool Task::done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
}

FinishReason Task::finish_reason() const {
    std::lock_guard<std::mutex> lock(mu_);
    return finish_reason_;
}

std::string Task::stop_sequence() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_sequence_;
}

std::string Task::error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
}

Usage Task::usage() const {
    std::lock_guard<std::mutex> lock(mu_);
    return usage_;
}

Timings Task::timings() const {
    std::lock_guard<std::mutex> lock(mu_);
    Timings t;
    t.queue_ms = ms_between(t_submit_, t_admit_);
    t.prefill_ms = ms_between(t_admit_, t_first_);
    t.decode_ms = ms_between(t_first_, t_end_);
    return t;
}

std::vector<TokenProbs> Task::logprobs(size_t start) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (start >= logprobs_.size()) return {};
    return {logprobs_.begin() + static_cast<std::ptrdiff_t>(start), logprobs_.end()};
}

}  // namespace pyllm
