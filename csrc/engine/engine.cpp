#include "engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>

#include "argmax.h"
#include "errors.h"
#include "json-schema-to-grammar.h"
#include "model.h"
#include "mtmd-helper.h"
#include "projector.h"
#include "request_preparer.h"
#include "runtime.h"
#include "sampling.h"
#include "stop_matcher.h"

namespace pyllm {

// Rendering and tokenizing run beside the scheduler; two let a short request overtake a
// long one being prepared.
constexpr int kPrepareThreads = 2;

struct Engine::Slot {
    explicit Slot(int id) : id(id) {}

    const int id;                       // also the llama sequence id
    std::shared_ptr<Task> task;         // null when idle
    std::vector<llama_token> cache;     // tokens whose KV is in this sequence
    size_t n_prompt_done = 0;           // prompt tokens already in the KV cache
    llama_token next_token = LLAMA_TOKEN_NULL;  // sampled, still to be decoded
    int32_t i_batch = -1;               // where this slot's logits are in the current batch
    int32_t n_generated = 0;
    uint64_t last_used = 0;
    bool first_token_seen = false;
    std::unique_ptr<StopMatcher> stops;  // UTF-8 and stop-string hold-back of the text sent
    Checkpoints checkpoints;            // of `cache`'s prefixes, oldest first
    std::vector<size_t> checkpoint_at;  // prompt positions still to checkpoint, nearest last
    bool checkpoint_due = false;        // this step's chunk ends at a checkpoint position
};

namespace {

// Top candidates from the raw logits, as log-probabilities over the whole vocabulary.
TokenProbs token_probs(llama_context * ctx, int32_t i_batch, llama_token sampled, int n_top, int n_vocab) {
    const float * logits = llama_get_logits_ith(ctx, i_batch);
    float max_logit = *std::max_element(logits, logits + n_vocab);
    double sum = 0;
    for (int i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max_logit));
    const float log_z = max_logit + static_cast<float>(std::log(sum));
    std::vector<TokenLogprob> all(n_vocab);
    for (int i = 0; i < n_vocab; ++i) all[i] = {i, logits[i] - log_z};
    n_top = std::min(n_top, n_vocab);
    std::partial_sort(all.begin(), all.begin() + n_top, all.end(),
                      [](const TokenLogprob & x, const TokenLogprob & y) { return x.logprob > y.logprob; });
    all.resize(n_top);
    return TokenProbs{sampled, logits[sampled] - log_z, std::move(all)};
}

// The model position of the token at `index` in a prompt with these images (null: text only),
// or in the cache of a slot that holds such a prompt: its index, unless M-RoPE images came
// before it (projector.h).
llama_pos position_of(const PromptImages * images, size_t index) {
    return images ? images->position(index) : static_cast<llama_pos>(index);
}

// A server grammar that does not parse is a start-up failure, not a 400 on every request.
void check_server_grammar(const Model & model, const std::string & grammar) {
    common_params_sampling params;
    params.grammar = common_grammar(COMMON_GRAMMAR_TYPE_USER, grammar);
    LogCapture log;  // the grammar parser says what is wrong only in the log
    common_sampler * sampler = nullptr;
    try {
        sampler = common_sampler_init(model.get(), params);
    } catch (const std::exception & e) {
        throw InvalidRequestError(std::string("invalid server grammar: ") + e.what());
    }
    if (!sampler) throw InvalidRequestError("invalid server grammar: " + log.summary());
    common_sampler_free(sampler);
}

}  // namespace

Engine::Engine(std::shared_ptr<const Model> model, const EngineOptions & options)
    : model_(std::move(model)),
      options_(options),
      cache_(options.cache_ram_mib < 0 ? -1 : options.cache_ram_mib * 1024 * 1024) {
    if (model_->vocab_only()) {
        throw InvalidRequestError("cannot serve a vocab-only model: load the weights");
    }
    if (options_.n_parallel < 1) throw InvalidRequestError("n_parallel must be at least 1");
    if (options_.n_batch < 1) throw InvalidRequestError("n_batch must be at least 1");
    if (options_.max_queued < 0) throw InvalidRequestError("max_queued must not be negative");
    if (options_.ctx_checkpoints < 0) throw InvalidRequestError("ctx_checkpoints must not be negative");
    if (!options_.grammar.empty()) check_server_grammar(*model_, options_.grammar);

    if (!options_.mmproj.empty()) {
        ProjectorOptions po;
        po.path = options_.mmproj;
        po.n_threads = options_.n_threads;
        po.flash_attn = options_.flash_attn;
        po.use_gpu = options_.mmproj_offload;
        po.max_pixels = options_.image_max_pixels;
        projector_ = std::make_shared<Projector>(*model_, po);
    }

    llama_context_params cp = llama_context_default_params();
    const int n_ctx = options_.n_ctx > 0 ? options_.n_ctx : model_->n_ctx_train();
    cp.n_ctx = static_cast<uint32_t>(n_ctx);
    cp.n_batch = static_cast<uint32_t>(options_.n_batch);
    cp.n_ubatch = static_cast<uint32_t>(options_.n_batch);
    cp.n_seq_max = static_cast<uint32_t>(options_.n_parallel);
    const int n_threads = options_.n_threads > 0 ? options_.n_threads : common_cpu_get_num_math();
    cp.n_threads = n_threads;
    cp.n_threads_batch = n_threads;
    cp.flash_attn_type = static_cast<llama_flash_attn_type>(options_.flash_attn);
    // A sliding-window model (Gemma 3) keeps only the last window of its window layers (plus
    // a batch), so the cache is small whatever the context; checkpoints of that window bring
    // back a prefix the window has left. Without checkpoints only a full-size window cache,
    // which keeps every position, lets a slot be cut back to a shared prefix.
    const bool can_checkpoint = options_.ctx_checkpoints > 0 && options_.cache_ram_mib != 0;
    const bool sliding = llama_model_n_swa(model_->get()) > 0;
    full_swa_cache_ = sliding && (options_.swa_full || !can_checkpoint);
    cp.swa_full = full_swa_cache_;
    cp.kv_unified = options_.kv_unified;
    cp.no_perf = true;

    ctx_ = llama_init_from_model(const_cast<llama_model *>(model_->get()), cp);
    if (!ctx_) throw std::runtime_error("llama.cpp could not create a context (out of memory?)");
    // Each slot is guaranteed its share, whether or not the KV buffer is unified.
    n_ctx_slot_ = static_cast<int>(llama_n_ctx(ctx_)) / options_.n_parallel;
    batch_ = llama_batch_init(options_.n_batch, 0, 1);
    needs_checkpoints_ = can_checkpoint && (llama_model_is_recurrent(model_->get()) ||
                                            llama_model_is_hybrid(model_->get()) || (sliding && !full_swa_cache_));
    for (int i = 0; i < options_.n_parallel; ++i) slots_.push_back(std::make_unique<Slot>(i));
    const char * failpoint = std::getenv("PYLLM_FAILPOINT");
    refuse_restores_ = failpoint && std::string(failpoint) == "checkpoint_restore";
    trace_steps_ = std::getenv("PYLLM_STEP_TRACE") != nullptr;
    thread_ = std::thread([this] { run(); });
    preparer_ = std::make_unique<RequestPreparer>(
        model_, projector_,
        [this](const std::shared_ptr<Task> & task, PreparedRequest p) {
            enqueue(task, std::move(p.prompt), std::move(p.params), std::move(p.processor));
        },
        ready_, kPrepareThreads, options_.grammar);
}

Engine::~Engine() {
    shutdown();
    llama_batch_free(batch_);
    llama_free(ctx_);
}

void Engine::shutdown() {
    if (preparer_) preparer_->stop();  // nothing may be queued behind the scheduler's back
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::deque<std::shared_ptr<Task>> left;
    {
        std::lock_guard<std::mutex> lock(mu_);
        left.swap(pending_);
    }
    for (auto & task : left) ready_.notify(task, task->finish(FinishReason::cancelled, {}, "engine shut down"));
}

std::shared_ptr<Task> Engine::new_task() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::make_shared<Task>(next_id_++);
}

std::shared_ptr<Task> Engine::submit(ChatRequest request) {
    auto task = new_task();
    preparer_->submit(task, std::move(request));
    return task;
}

std::shared_ptr<Task> Engine::submit(std::vector<llama_token> prompt, TaskParams params,
                                     std::unique_ptr<OutputProcessor> processor) {
    auto task = new_task();
    enqueue(task, std::move(prompt), std::move(params), std::move(processor));
    return task;
}

void Engine::enqueue(const std::shared_ptr<Task> & task, std::vector<llama_token> prompt, TaskParams params,
                     std::unique_ptr<OutputProcessor> processor) {
    if (prompt.empty()) throw InvalidRequestError("the prompt is empty");
    const int n_vocab = model_->n_vocab();
    size_t n_image_tokens = 0;
    if (params.images) {
        for (const auto & image : params.images->images) {
            // Non-causal image attention (Gemma 3) sees the whole image in one micro-batch.
            if (mtmd_decode_use_non_causal(projector_->get(), image.chunk) &&
                image.n_tokens > static_cast<size_t>(options_.n_batch)) {
                throw InvalidRequestError("an image of " + std::to_string(image.n_tokens) +
                                          " tokens does not fit the batch size (" + std::to_string(options_.n_batch) +
                                          "): raise -b / --batch-size");
            }
            n_image_tokens += image.n_tokens;
        }
    }
    for (llama_token t : prompt) {
        if (is_image_token(t) && n_image_tokens > 0) {
            --n_image_tokens;
        } else if (t < 0 || t >= n_vocab) {
            throw InvalidRequestError("prompt token " + std::to_string(t) + " is outside the vocabulary");
        }
    }
    // max_tokens is a cap, not a reservation (as the Anthropic API treats it: Claude Code asks
    // for 32000 on any prompt): a prompt that leaves room for one generated token is served,
    // and generation ends where the slot's context does (FinishReason::context_full).
    const int n_prompt = static_cast<int>(prompt.size());
    if (n_prompt >= n_ctx_slot_) throw ContextOverflowError(n_prompt, n_ctx_slot_);
    if (params.reasoning_before_forced_call) {
        // Seven eighths of the output's room (up to 2048 tokens) are kept for the call itself:
        // a template's call syntax can cost many tokens in a vocabulary that lacks its markers
        // (DeepSeek-R1's call of a one-argument tool takes about 85 of Gemma's).
        const int room = std::min(params.max_tokens >= 0 ? params.max_tokens : INT32_MAX, n_ctx_slot_ - n_prompt);
        const int budget = room - std::min(room - room / 8, 2048);
        int & tokens = params.sampling.reasoning_budget_tokens;
        tokens = tokens >= 0 ? std::min(tokens, budget) : budget;
    }

    if (!params.json_schema.empty()) {
        if (!params.sampling.grammar.empty()) throw InvalidRequestError("give either a grammar or a JSON schema, not both");
        try {
            params.sampling.grammar = common_grammar(COMMON_GRAMMAR_TYPE_OUTPUT_FORMAT,
                                                     json_schema_to_grammar(common_json::parse(params.json_schema)));
        } catch (const std::exception & e) {
            throw InvalidRequestError(std::string("invalid JSON schema: ") + e.what());
        }
    }
    for (llama_token t : params.preserved_tokens) params.sampling.preserved_tokens.insert(t);
    // Greedy picks the arg-max whatever top_k is; k = 1 makes the chain's top-k one linear
    // pass instead of a partial sort of the whole vocabulary (262k entries for Gemma 3).
    if (params.sampling.temp <= 0.0f) params.sampling.top_k = 1;
    const auto & sp = params.sampling;
    params.plain_greedy = sp.temp <= 0.0f && sp.grammar.empty() && sp.logit_bias.empty() &&
                          sp.penalty_repeat == 1.0f && sp.penalty_freq == 0.0f && sp.penalty_present == 0.0f &&
                          sp.dry_multiplier == 0.0f && sp.reasoning_budget_tokens < 0;
    if (params.sampling.ignore_eos) {
        // As in llama.cpp: end-of-generation tokens are never sampled (the plain greedy path
        // falls back to this chain in the rare step whose arg-max is one of them).
        const llama_vocab * vocab = model_->vocab();
        for (llama_token t = 0; t < n_vocab; ++t) {
            if (llama_vocab_is_eog(vocab, t)) params.sampling.logit_bias.push_back({t, -INFINITY});
        }
    }
    common_sampler * sampler = nullptr;
    {
        LogCapture log;  // the grammar parser says what is wrong only in the log
        try {
            sampler = common_sampler_init(model_->get(), params.sampling);
        } catch (const std::exception & e) {
            const std::string detail = log.summary();
            throw InvalidRequestError(std::string("invalid grammar or sampling parameters: ") +
                                      (detail.empty() ? e.what() : detail));
        }
        if (!sampler) {
            throw InvalidRequestError("invalid grammar or sampling parameters: " + log.summary());
        }
    }

    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) {
            common_sampler_free(sampler);
            throw EngineOverloadedError("the engine is shutting down");
        }
        // Tasks cancelled while queued (their clients left) wait for the scheduler to drop
        // them; they must not keep a returning client out.
        const int queued = queued_locked();
        if (queued >= options_.max_queued && busy_slots_ >= options_.n_parallel) {
            common_sampler_free(sampler);
            throw EngineOverloadedError("all " + std::to_string(options_.n_parallel) + " slots are busy and " +
                                        std::to_string(queued) + " requests are queued");
        }
        task->set_request(std::move(prompt), std::move(params), sampler, std::move(processor));
        pending_.push_back(task);
    }
    cv_.notify_one();
}

int Engine::queued_locked() const {
    return static_cast<int>(std::count_if(pending_.begin(), pending_.end(),
                                          [](const auto & t) { return !t->cancel_requested(); }));
}

EngineStats Engine::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    EngineStats s;
    s.n_slots = options_.n_parallel;
    s.busy_slots = busy_slots_;
    s.queued = queued_locked();
    s.n_ctx_slot = n_ctx_slot_;
    s.decode_calls = decode_calls_;
    s.saved_prompts = cache_stats_.saved_prompts;
    s.saved_bytes = cache_stats_.saved_bytes;
    s.checkpoints = cache_stats_.checkpoints;
    s.checkpoint_bytes = cache_stats_.checkpoint_bytes;
    s.checkpoint_restores = cache_stats_.checkpoint_restores;
    s.checkpoint_restore_failures = cache_stats_.checkpoint_restore_failures;
    return s;
}

void Engine::run() {
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !pending_.empty() || busy_slots_ > 0; });
            if (stopping_) break;
        }
        admit_pending();
        step();
    }
    for (auto & slot : slots_) {
        if (slot->task) release(*slot, FinishReason::cancelled, {}, "engine shut down");
    }
}

bool Engine::admit_pending() {
    bool admitted = false;
    for (;;) {
        std::shared_ptr<Task> task;
        {
            std::lock_guard<std::mutex> lock(mu_);
            // Tasks cancelled while queued end here, without ever taking a slot.
            while (!pending_.empty() && pending_.front()->cancel_requested()) {
                auto t = pending_.front();
                pending_.pop_front();
                ready_.notify(t, t->finish(FinishReason::cancelled));
            }
            if (pending_.empty() || busy_slots_ >= options_.n_parallel) return admitted;
            task = pending_.front();
            pending_.pop_front();
            ++busy_slots_;
        }
        Slot & slot = pick_slot(task->prompt());
        if (options_.cache_ram_mib != 0) prepare_slot(slot, task->prompt());
        admit(slot, std::move(task));
        if (options_.cache_ram_mib != 0) {
            // Only a unified buffer makes every decode attend over other slots' cells.
            if (options_.kv_unified) evict_idle_slots(slot);
        }
        publish_cache_stats();
        admitted = true;
    }
}

Engine::Slot & Engine::pick_slot(const std::vector<llama_token> & prompt) {
    // The idle slot whose cache shares the longest prefix with the prompt, when that prefix is
    // a real part of it (as llama-server: more than a tenth); otherwise the least recently used
    // slot, empty ones first, so that a prompt sharing little more than BOS with every cache
    // does not evict the most useful one.
    Slot * longest = nullptr;
    Slot * lru = nullptr;
    size_t longest_prefix = 0;
    for (auto & s : slots_) {
        if (s->task) continue;
        const size_t p = common_prefix(s->cache, prompt);
        if (!longest || p > longest_prefix || (p == longest_prefix && s->last_used < longest->last_used)) {
            longest = s.get();
            longest_prefix = p;
        }
        if (!lru || s->last_used < lru->last_used) lru = s.get();
    }
    return longest_prefix * 10 > prompt.size() ? *longest : *lru;
}

void Engine::prepare_slot(Slot & slot, const std::vector<llama_token> & prompt) {
    if (full_swa_cache_) return;  // nothing is saved (evict_idle_slots)
    // A saved prompt that shares more with this one than the slot's own cache replaces it.
    const size_t own = common_prefix(slot.cache, prompt);
    std::optional<SavedPrompt> restored = cache_.take_best(prompt, own);
    // What the slot holds (another conversation) stays available when most of it would go.
    if (restored || own * 2 < slot.cache.size()) save(slot);
    if (!restored) return;
    // Back into the context; saved again when the slot is idle at a later start.
    llama_memory_t mem = llama_get_memory(ctx_);
    llama_memory_seq_rm(mem, slot.id, -1, -1);
    slot.cache.clear();
    slot.checkpoints.clear();
    if (llama_state_seq_set_data_ext(ctx_, restored->state.data(), restored->state.size(), slot.id, 0) ==
        restored->state.size()) {
        slot.cache = std::move(restored->tokens);
        slot.checkpoints = std::move(restored->checkpoints);
    } else {
        llama_memory_seq_rm(mem, slot.id, -1, -1);
    }
}

void Engine::save(Slot & slot) {
    if (slot.cache.empty()) return;
    const size_t size = llama_state_seq_get_size_ext(ctx_, slot.id, 0);
    SavedPrompt saved{slot.cache, std::vector<uint8_t>(size), std::move(slot.checkpoints)};
    slot.checkpoints.clear();
    if (!cache_.fits(saved.bytes())) return;
    if (llama_state_seq_get_data_ext(ctx_, saved.state.data(), size, slot.id, 0) != size) return;
    cache_.put(std::move(saved), slot_checkpoint_bytes());
}

int64_t Engine::slot_checkpoint_bytes() const {
    int64_t n = 0;
    for (const auto & s : slots_) n += checkpoint_bytes(s->checkpoints);
    return n;
}

void Engine::publish_cache_stats() {
    int n_checkpoints = cache_.checkpoints();
    for (const auto & s : slots_) n_checkpoints += static_cast<int>(s->checkpoints.size());
    const int64_t bytes_in_slots = slot_checkpoint_bytes();
    std::lock_guard<std::mutex> lock(mu_);
    cache_stats_.saved_prompts = cache_.entries();
    cache_stats_.saved_bytes = cache_.bytes();
    cache_stats_.checkpoints = n_checkpoints;
    cache_stats_.checkpoint_bytes = cache_.checkpoint_bytes() + bytes_in_slots;
}

std::vector<size_t> Engine::checkpoint_positions(const std::vector<llama_token> & prompt) const {
    // The next turn of a conversation repeats this prompt and goes on with the answer: it
    // resumes at the token before the last (the last is decoded again for its logits), or, when
    // the template renders the answer's turn differently from the generation prompt (reasoning
    // dropped, an empty thinking block added), where the generation prompt starts.
    std::vector<size_t> at;
    if (prompt.size() < 2) return at;
    at.push_back(prompt.size() - 1);
    const llama_vocab * vocab = model_->vocab();
    for (size_t i = prompt.size() - 1; i-- > 1;) {
        if (!is_image_token(prompt[i]) && (llama_vocab_get_attr(vocab, prompt[i]) & LLAMA_TOKEN_ATTR_CONTROL)) {
            at.push_back(i);
            break;
        }
    }
    return at;  // nearest last
}

void Engine::take_checkpoint(Slot & slot) {
    const size_t n_tokens = slot.cache.size();
    if (n_tokens == 0 || (!slot.checkpoints.empty() && slot.checkpoints.back().n_tokens >= n_tokens)) return;
    const size_t size = llama_state_seq_get_size_ext(ctx_, slot.id, LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY);
    if (!cache_.fits(static_cast<int64_t>(size))) return;
    while (static_cast<int>(slot.checkpoints.size()) >= options_.ctx_checkpoints) {
        slot.checkpoints.erase(slot.checkpoints.begin());
    }
    // Saved prompts go first, least recently used first; then this slot's oldest checkpoints.
    while (!cache_.make_room(slot_checkpoint_bytes() + static_cast<int64_t>(size))) {
        if (slot.checkpoints.empty()) return;
        slot.checkpoints.erase(slot.checkpoints.begin());
    }
    Checkpoint c{n_tokens, std::vector<uint8_t>(size)};
    if (llama_state_seq_get_data_ext(ctx_, c.state.data(), size, slot.id, LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY) != size) {
        return;
    }
    slot.checkpoints.push_back(std::move(c));
}

void Engine::evict_idle_slots(const Slot & started) {
    // Every decode attends over all the cells in use in a unified KV buffer, so idle slots'
    // caches slow down the running tasks: they leave the context when a task starts, saved to
    // host memory with their checkpoints, and come back exactly (a sliding window's saved
    // state holds only the last window: a prompt that goes back further resumes at a
    // checkpoint). On a full-size window cache there are no checkpoints, and a prompt could
    // rarely continue from the last window (it diverges a few tokens back), so nothing is
    // saved; instead the most recently released idle slot stays, which keeps two alternating
    // conversations (an agent and its side requests) cached.
    const bool exact = !full_swa_cache_;
    const Slot * recent = nullptr;
    for (auto & s : slots_) {
        if (!s->task && s.get() != &started && !s->cache.empty() && (!recent || s->last_used > recent->last_used)) {
            recent = s.get();
        }
    }
    llama_memory_t mem = llama_get_memory(ctx_);
    for (auto & s : slots_) {
        if (s->task || s.get() == &started || s->cache.empty() || (!exact && s.get() == recent)) continue;
        if (exact) save(*s);
        llama_memory_seq_rm(mem, s->id, -1, -1);
        s->cache.clear();
        s->checkpoints.clear();
    }
}

size_t Engine::cut_back(Slot & slot, size_t keep, const PromptImages * images) {
    llama_memory_t mem = llama_get_memory(ctx_);
    auto drop_all = [&] {
        llama_memory_seq_rm(mem, slot.id, -1, -1);
        slot.cache.clear();
        slot.checkpoints.clear();
        return size_t{0};
    };
    // Checkpoints past what is kept describe tokens about to be replaced.
    auto drop_checkpoints_after = [&](size_t n) {
        while (!slot.checkpoints.empty() && slot.checkpoints.back().n_tokens > n) slot.checkpoints.pop_back();
    };
    // Recurrent memory cannot go back at all; a sliding window can go back only as far as its
    // cells are still there.
    // The cache up to `keep` is the prompt's, so the prompt's images give its positions.
    auto pos = [&](size_t index) { return position_of(images, index); };
    bool kept = llama_memory_seq_rm(mem, slot.id, pos(keep), -1) && (keep == 0 || window_kept(slot, pos(keep)));
    if (!kept && keep > 0) {
        // The nearest checkpoint at or before `keep` brings back the part that cannot be cut
        // (the recurrent state, the window's cells); a refused restore leaves the sequence in
        // an unknown state: it is all decoded again.
        drop_checkpoints_after(keep);
        if (slot.checkpoints.empty()) return drop_all();
        const Checkpoint & c = slot.checkpoints.back();
        kept = llama_state_seq_set_data_ext(ctx_, c.state.data(), c.state.size(), slot.id,
                                            LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY) == c.state.size() &&
               !refuse_restores_ &&
               llama_memory_seq_rm(mem, slot.id, pos(c.n_tokens), -1) && window_kept(slot, pos(c.n_tokens));
        {
            std::lock_guard<std::mutex> lock(mu_);
            ++(kept ? cache_stats_.checkpoint_restores : cache_stats_.checkpoint_restore_failures);
        }
        if (!kept) return drop_all();
        keep = c.n_tokens;
    }
    if (!kept) return drop_all();
    slot.cache.resize(keep);
    drop_checkpoints_after(keep);
    return keep;
}

bool Engine::window_kept(const Slot & slot, llama_pos n) const {
    // A token at position n attends to the positions from n - n_swa + 1 on (a chunked window,
    // Llama 4's, starts later still), and llama.cpp keeps a sequence's cells contiguous from
    // its lowest position. Cells that fell out of a window are reused for other tokens (also
    // in a full-size window cache), so the lowest position tells whether the window is whole.
    // Without a window it is 0, or a recurrent state's own position, never past n.
    const llama_pos n_swa = llama_model_n_swa(model_->get());
    const llama_pos pos_min = llama_memory_seq_pos_min(llama_get_memory(ctx_), slot.id);
    const llama_pos needed = n - (n_swa > 0 ? n_swa - 1 : 0);
    return pos_min >= 0 && pos_min <= std::max<llama_pos>(0, needed);
}

void Engine::admit(Slot & slot, std::shared_ptr<Task> task) {
    const auto & prompt = task->prompt();
    size_t keep = common_prefix(slot.cache, prompt);
    // The last prompt token is always decoded again: its logits give the first sample.
    if (keep == prompt.size()) --keep;
    // An image is evaluated whole: a prefix that ends inside one goes back to its start.
    while (keep > 0 && is_image_token(prompt[keep]) && prompt[keep - 1] == prompt[keep]) --keep;
    keep = cut_back(slot, keep, task->params().images.get());
    slot.n_prompt_done = keep;
    slot.checkpoint_at.clear();
    slot.checkpoint_due = false;
    if (needs_checkpoints_) {
        for (size_t at : checkpoint_positions(prompt)) {
            if (at > keep) slot.checkpoint_at.push_back(at);
        }
    }
    slot.next_token = LLAMA_TOKEN_NULL;
    slot.i_batch = -1;
    slot.n_generated = 0;
    slot.first_token_seen = false;
    std::vector<std::string> stops = task->params().stop;
    stops.insert(stops.end(), task->params().end_of_turn.begin(), task->params().end_of_turn.end());
    slot.stops = std::make_unique<StopMatcher>(std::move(stops));
    // Penalties look back over recent tokens, the prompt's included (as llama-server does).
    const int32_t last_n = task->params().sampling.penalty_last_n;
    const size_t from = last_n < 0 ? 0 : prompt.size() - std::min(prompt.size(), static_cast<size_t>(last_n));
    for (size_t i = from; i < prompt.size(); ++i) {
        if (!is_image_token(prompt[i])) common_sampler_accept(task->sampler(), prompt[i], false);
    }
    slot.task = std::move(task);
    ready_.notify(slot.task, slot.task->set_admitted(static_cast<int32_t>(keep)));
}

void Engine::release(Slot & slot, FinishReason reason, std::string stop, std::string error) {
    auto task = std::move(slot.task);
    slot.task.reset();
    slot.stops.reset();
    slot.i_batch = -1;
    slot.next_token = LLAMA_TOKEN_NULL;
    slot.last_used = ++release_count_;  // orders slots for least-recently-used ties
    {
        std::lock_guard<std::mutex> lock(mu_);
        --busy_slots_;
    }
    ready_.notify(task, task->finish(reason, std::move(stop), std::move(error)));
}

int Engine::prompt_budget(int decode_rows) const {
    const int room = options_.n_batch - decode_rows;
    if (decode_rows == 0 || options_.max_stall_ms <= 0) return room;
    // Not measured yet: a small first chunk, which measures the row cost.
    constexpr int first_chunk = 32, min_chunk = 16;
    if (ms_per_prompt_row_ == 0) return std::min(room, first_chunk);
    // Planned so that a step overrunning as much as they have lately (twice the average
    // overrun) still ends within the budget.
    const double target = options_.max_stall_ms / (1 + 2 * step_overrun_);
    const int fit = static_cast<int>((target - step_fixed_ms_) / ms_per_prompt_row_);
    return std::clamp(fit, std::min(room, min_chunk), room);
}

void Engine::step() {
    // Cancelled tasks leave first: their slot is free again before this decode.
    for (auto & s : slots_) {
        if (s->task && s->task->cancel_requested()) release(*s, FinishReason::cancelled);
    }

    batch_.n_tokens = 0;
    auto add = [this](llama_token token, llama_pos pos, llama_seq_id seq, bool logits) {
        const int32_t i = batch_.n_tokens++;
        batch_.token[i] = token;
        batch_.pos[i] = pos;
        batch_.n_seq_id[i] = 1;
        batch_.seq_id[i][0] = seq;
        batch_.logits[i] = logits;
        return i;
    };

    // At most one image per step is encoded and decoded, on its own (an image's embeddings
    // cannot share a batch with tokens): the other streams wait for one encode, not for every
    // image of a long prompt.
    for (auto & s : slots_) {
        if (!s->task || s->first_token_seen || s->i_batch >= 0) continue;
        const auto & prompt = s->task->prompt();
        if (s->n_prompt_done < prompt.size() && is_image_token(prompt[s->n_prompt_done])) {
            eval_image(*s);
            break;
        }
    }

    // One token for every generating slot, then prompt chunks in the room that is left.
    for (auto & s : slots_) {
        if (s->task && s->next_token != LLAMA_TOKEN_NULL) {
            s->i_batch = add(s->next_token, position_of(s->task->params().images.get(), s->cache.size()), s->id, true);
            s->cache.push_back(s->next_token);
            s->next_token = LLAMA_TOKEN_NULL;
        }
    }
    const int decode_rows = batch_.n_tokens;
    const int row_limit = decode_rows + prompt_budget(decode_rows);
    for (auto & s : slots_) {
        if (!s->task || s->first_token_seen || s->i_batch >= 0) continue;
        const auto & prompt = s->task->prompt();
        while (s->n_prompt_done < prompt.size() && batch_.n_tokens < row_limit) {
            if (is_image_token(prompt[s->n_prompt_done])) break;  // evaluated at the start of a step
            const bool last = s->n_prompt_done + 1 == prompt.size();
            const int32_t i = add(prompt[s->n_prompt_done], position_of(s->task->params().images.get(), s->n_prompt_done),
                                  s->id, last);
            s->cache.push_back(prompt[s->n_prompt_done]);
            ++s->n_prompt_done;
            if (last) s->i_batch = i;
            // The chunk ends where a checkpoint is due; the prompt goes on next step.
            if (!s->checkpoint_at.empty() && s->checkpoint_at.back() == s->n_prompt_done) {
                s->checkpoint_at.pop_back();
                s->checkpoint_due = true;
                break;
            }
        }
    }
    if (batch_.n_tokens == 0) return;

    const auto decode_start = std::chrono::steady_clock::now();
    int32_t rc = llama_decode(ctx_, batch_);
    {
        std::lock_guard<std::mutex> lock(mu_);
        ++decode_calls_;
    }
    // A remote (RPC) device whose connection broke shows only once its queued work has been
    // waited for, and its outputs are zeros then: the batch fails as a failed decode does.
    if (rc == 0) llama_synchronize(ctx_);
    const std::string failure = backend_failure();
    if (rc == 0 && !failure.empty()) rc = -3;
    if (rc != 0) {
        // Only the tasks in this batch fail; their sequences are cleared so the slots are clean.
        const std::string why = "llama_decode failed (code " + std::to_string(rc) + ")" +
                                (failure.empty() ? "" : ": " + failure);
        llama_memory_t mem = llama_get_memory(ctx_);
        for (auto & s : slots_) {
            if (!s->task) continue;
            llama_memory_seq_rm(mem, s->id, -1, -1);
            s->cache.clear();
            s->checkpoints.clear();
            release(*s, FinishReason::error, {}, why);
        }
        return;
    }
    {
        // Rows of a prompt chunk cost more the deeper they sit in the context (attention):
        // the averages follow it.
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - decode_start).count();
        const int prompt_rows = batch_.n_tokens - decode_rows;
        auto average = [](double & avg, double x) { avg = avg == 0 ? x : 0.7 * avg + 0.3 * x; };
        if (trace_steps_) {
            size_t depth = 0;  // of the deepest prompt in this step
            for (auto & slot : slots_) {
                if (slot->task && !slot->first_token_seen) depth = std::max(depth, slot->n_prompt_done);
            }
            std::fprintf(stderr,
                         "pyllm step: decode_rows=%d prompt_rows=%d depth=%zu ms=%.1f fixed_ms=%.2f row_ms=%.3f "
                         "overrun=%.3f\n",
                         decode_rows, prompt_rows, depth, ms, step_fixed_ms_, ms_per_prompt_row_, step_overrun_);
        }
        if (prompt_rows == 0) {
            average(step_fixed_ms_, ms);
        } else if (prompt_rows >= 16) {
            if (decode_rows > 0 && options_.max_stall_ms > 0 && ms_per_prompt_row_ > 0) {
                const double predicted = step_fixed_ms_ + prompt_rows * ms_per_prompt_row_;
                average(step_overrun_, std::max(0.0, ms / predicted - 1));
            }
            // Before any step without prompt rows, the fixed part is not known: counted per row.
            average(ms_per_prompt_row_, step_fixed_ms_ > 0 ? std::max(ms - step_fixed_ms_, 0.01 * prompt_rows) / prompt_rows
                                                           : ms / batch_.n_tokens);
        }
    }
    bool took_checkpoint = false;
    for (auto & s : slots_) {
        if (s->task && s->checkpoint_due) {
            s->checkpoint_due = false;
            take_checkpoint(*s);
            took_checkpoint = true;
        }
    }
    if (took_checkpoint) publish_cache_stats();
    for (auto & s : slots_) {
        if (!s->task || s->i_batch < 0) continue;
        try {
            sample(*s);
        } catch (const std::exception & e) {
            // A failure in one task's sampling, grammar or output processing (e.g. a lazy
            // grammar that rejects the text its trigger matched) ends that task only; its
            // KV cells stay valid, so the slot serves the next task as usual.
            release(*s, FinishReason::error, {}, e.what());
        }
    }
}

bool Engine::eval_image(Slot & slot) {
    const Task & task = *slot.task;
    const PromptImages::Image * image = task.params().images ? task.params().images->at(slot.n_prompt_done) : nullptr;
    int32_t rc = -1;
    std::string detail;
    if (image) {
        LogCapture log;
        llama_pos n_past = task.params().images->position(slot.n_prompt_done);
        rc = mtmd_helper_eval_chunk_single(projector_->get(), ctx_, image->chunk, n_past, slot.id, options_.n_batch,
                                           /*logits_last=*/false, &n_past);
        detail = log.summary();
        // mtmd says where the text after the image goes; the engine's own mapping must agree,
        // or every later position (and cut-back) of this slot would be off.
        const llama_pos expected = task.params().images->position(slot.n_prompt_done + image->n_tokens);
        if (rc == 0 && n_past != expected) {
            rc = -1;
            detail = "mtmd placed the text after it at position " + std::to_string(n_past) + ", not " +
                     std::to_string(expected);
        }
        std::lock_guard<std::mutex> lock(mu_);
        ++decode_calls_;
    }
    if (rc != 0) {
        llama_memory_seq_rm(llama_get_memory(ctx_), slot.id, -1, -1);
        slot.cache.clear();
        slot.checkpoints.clear();
        release(slot, FinishReason::error, {},
                image ? "the image could not be evaluated (code " + std::to_string(rc) + ")" +
                            (detail.empty() ? "" : ": " + detail)
                      : "no image chunk at prompt position " + std::to_string(slot.n_prompt_done));
        return false;
    }
    const auto & prompt = task.prompt();
    slot.cache.insert(slot.cache.end(), prompt.begin() + slot.n_prompt_done,
                      prompt.begin() + slot.n_prompt_done + image->n_tokens);
    slot.n_prompt_done += image->n_tokens;
    return true;
}

void Engine::sample(Slot & slot) {
    Task & task = *slot.task;
    const int32_t i_batch = slot.i_batch;
    slot.i_batch = -1;
    llama_token token = LLAMA_TOKEN_NULL;
    if (task.params().plain_greedy) {
        // Nothing in the sampler chain but ignore_eos's ban can change the arg-max: skip
        // copying the whole vocabulary into a candidate array every token.
        const float * logits = llama_get_logits_ith(ctx_, i_batch);
        token = static_cast<llama_token>(argmax(logits, static_cast<size_t>(model_->n_vocab())));
    }
    if (!task.params().plain_greedy ||
        (task.params().sampling.ignore_eos && llama_vocab_is_eog(model_->vocab(), token))) {
        token = common_sampler_sample(task.sampler(), ctx_, i_batch);
        common_sampler_accept(task.sampler(), token, true);
    }
    if (!slot.first_token_seen) {
        slot.first_token_seen = true;
        task.note_first_token();
    }
    const TaskParams & params = task.params();
    if (params.sampling.n_probs > 0) {
        task.record_logprobs(token_probs(ctx_, i_batch, token, params.sampling.n_probs, model_->n_vocab()));
    }

    const llama_vocab * vocab = model_->vocab();
    if (llama_vocab_is_eog(vocab, token) && !params.sampling.ignore_eos) {
        ready_.notify(slot.task, task.emit_text(slot.stops->flush()));
        release(slot, FinishReason::stop);
        return;
    }
    task.note_token();
    ++slot.n_generated;
    const bool render = params.sampling.preserved_tokens.count(token) > 0;
    const std::string piece = common_token_to_piece(vocab, token, render);
    ready_.notify(slot.task, task.emit_text(slot.stops->push(piece)));
    if (const auto & stop = slot.stops->stop()) {
        const auto & client_stops = params.stop;
        if (std::find(client_stops.begin(), client_stops.end(), *stop) == client_stops.end()) {
            release(slot, FinishReason::stop);  // the template's end of turn
        } else {
            release(slot, FinishReason::stop_sequence, *stop);
        }
        return;
    }
    const bool at_max = params.max_tokens >= 0 && slot.n_generated >= params.max_tokens;
    // The sampled token still needs a KV cell when it is decoded next step.
    const bool ctx_full = static_cast<int>(slot.cache.size()) + 1 >= n_ctx_slot_;
    if (at_max || ctx_full) {
        ready_.notify(slot.task, task.emit_text(slot.stops->flush()));
        release(slot, at_max ? FinishReason::length : FinishReason::context_full);
        return;
    }
    slot.next_token = token;
}

}  // namespace pyllm
