// The serving engine: one llama context, one sequence per slot, and a scheduler thread
// doing continuous batching. Every step is one llama_decode mixing prompt chunks of newly
// admitted tasks with one token for each generating task. The scheduler thread never
// touches Python; it hands output over through per-task queues and one wake-up pipe.
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
#include "prompt_cache.h"
#include "ready_queue.h"
#include "task.h"

namespace pyllm {

class Model;
class Projector;
struct PromptImages;
class RequestPreparer;
struct ChatRequest;

struct EngineOptions {
    int n_parallel = 4;    // slots: tasks generating at the same time
    int n_ctx = 0;         // total context over all slots; 0: the model's training context
    int n_batch = 512;     // most tokens in one llama_decode
    int n_threads = 0;     // 0: the number of physical cores
    int flash_attn = -1;   // -1 auto, 0 off, 1 on
    int max_queued = 64;   // tasks waiting for a slot before submit() is refused
    bool kv_unified = true;  // one KV buffer shared by all slots
    // Idle slots leave the context when a task starts (every decode attends over all the
    // cells in use); this much host memory (MiB) keeps their KV, copied back when a prompt
    // continues one of them. 0: idle slots stay in the context; -1: no limit.
    int64_t cache_ram_mib = 8192;
    // Context checkpoints kept per slot for memory that cannot be cut back to a prefix
    // (recurrent and hybrid models, sliding windows); they share cache_ram_mib's host memory.
    // 0: none.
    int ctx_checkpoints = 8;
    // A sliding-window model's window cache at the full context size (llama-server's
    // --swa-full): every position stays, so a slot can be cut back to any prefix without
    // checkpoints, but idle slots cannot leave the context and long contexts pay for the
    // window layers' full KV. Also what a sliding-window model gets without checkpoints
    // (ctx_checkpoints or cache_ram_mib 0).
    bool swa_full = false;
    // While tasks are generating, prompt chunks are sized so that one step takes at most this
    // long (from the measured step costs, less room for how far steps have lately run over
    // their prediction), so running streams keep getting tokens during another request's long
    // prefill (chunked prefill with a step budget, as vLLM's); with nothing generating a prompt
    // goes in chunks of n_batch. 0 (the default): always n_batch,
    // as llama-server. Off by default because on a CPU small chunks cost prefill throughput
    // (bench/RESULTS.md, "a running stream next to a long prefill").
    int max_stall_ms = 0;
    // A multimodal projector GGUF (llama-server's --mmproj): image input through mtmd.
    std::string mmproj;
    int64_t image_max_pixels = 0;  // width x height an input image may have; 0: no limit
    bool mmproj_offload = true;    // the projector on the offload device when there is one
    // GBNF for every request that brings no grammar, JSON schema or forced tool call of its
    // own (llama-server's --grammar-file); it replaces tool_choice auto's lazy tool grammar.
    std::string grammar;
};

struct EngineStats {
    int n_slots = 0;
    int busy_slots = 0;
    int queued = 0;
    int n_ctx_slot = 0;
    uint64_t decode_calls = 0;
    int saved_prompts = 0;      // idle slots' KV held in host memory
    int64_t saved_bytes = 0;    // their bytes, their checkpoints included
    int checkpoints = 0;        // context checkpoints, in slots and in saved prompts
    int64_t checkpoint_bytes = 0;
    uint64_t checkpoint_restores = 0;         // prompts resumed from a checkpoint
    uint64_t checkpoint_restore_failures = 0; // restores llama.cpp refused: decoded cold instead
};

class Engine {
public:
    Engine(std::shared_ptr<const Model> model, const EngineOptions & options);
    ~Engine();
    Engine(const Engine &) = delete;
    Engine & operator=(const Engine &) = delete;

    // Validates the request (context size, grammar, schema) and queues it.
    // Throws ContextOverflowError, EngineOverloadedError or InvalidRequestError.
    // `processor` (optional) turns the task's text into payloads on the engine thread.
    std::shared_ptr<Task> submit(std::vector<llama_token> prompt, TaskParams params,
                                 std::unique_ptr<OutputProcessor> processor = nullptr);
    // Queues a request for preparation off the caller's thread (request_preparer.h) and
    // returns its task at once, "preparing"; a refusal is the task's preparation_error().
    std::shared_ptr<Task> submit(ChatRequest request);

    // Where watched tasks signal new output to an asyncio loop.
    ReadyQueue & ready() { return ready_; }

    EngineStats stats() const;
    int n_ctx_slot() const { return n_ctx_slot_; }
    const Model & model() const { return *model_; }
    const Projector * projector() const { return projector_.get(); }  // null without mmproj

    // Stops the scheduler; unfinished tasks end as cancelled. Idempotent.
    void shutdown();

private:
    struct Slot;

    std::shared_ptr<Task> new_task();
    // What submit() validates, then the task joins the queue. Throws as submit() does.
    void enqueue(const std::shared_ptr<Task> & task, std::vector<llama_token> prompt, TaskParams params,
                 std::unique_ptr<OutputProcessor> processor);
    void run();
    bool admit_pending();
    int queued_locked() const;  // queued tasks not cancelled; mu_ held
    Slot & pick_slot(const std::vector<llama_token> & prompt);
    // Before a task takes `slot`: saves what the task would cut away, restores a saved prompt
    // that serves the task better than the slot's cache.
    void prepare_slot(Slot & slot, const std::vector<llama_token> & prompt);
    void save(Slot & slot);  // copies the slot's KV to host memory (cache_)
    void evict_idle_slots(const Slot & started);
    // Drops the slot's KV from position `keep` on, going back to the nearest checkpoint at or
    // before `keep` where the memory cannot be cut there; returns how many tokens are kept
    // (0, all dropped, when nothing left can continue).
    // `images` are those of the prompt whose prefix the slot keeps: they map its cache
    // indexes to model positions.
    size_t cut_back(Slot & slot, size_t keep, const PromptImages * images);
    // Whether the slot's sequence still holds every cell a token at model position `n` attends
    // to (a sliding window's cells go once they fall out of it).
    bool window_kept(const Slot & slot, llama_pos n) const;
    // Where a prompt's prefill pauses for a checkpoint: the start of the generation prompt
    // (the last control token) and the token before the last.
    std::vector<size_t> checkpoint_positions(const std::vector<llama_token> & prompt) const;
    void take_checkpoint(Slot & slot);  // at the slot's current cache length
    int64_t slot_checkpoint_bytes() const;
    void publish_cache_stats();
    void admit(Slot & slot, std::shared_ptr<Task> task);
    void step();
    // Prompt rows this step may add next to `decode_rows` generating tokens (max_stall_ms).
    int prompt_budget(int decode_rows) const;
    void sample(Slot & slot);
    // Evaluates the image that starts at the slot's next prompt position (mtmd encodes it,
    // then its embeddings are decoded into the slot's sequence); false when that failed and
    // the task was released.
    bool eval_image(Slot & slot);
    void release(Slot & slot, FinishReason reason, std::string stop = {}, std::string error = {});

    std::shared_ptr<const Model> model_;
    EngineOptions options_;
    std::shared_ptr<const Projector> projector_;
    llama_context * ctx_ = nullptr;
    llama_batch batch_{};
    int n_ctx_slot_ = 0;
    std::vector<std::unique_ptr<Slot>> slots_;  // owned by the scheduler thread
    uint64_t release_count_ = 0;
    PromptCache cache_;  // the scheduler thread's
    bool needs_checkpoints_ = false;  // the memory cannot be cut back to any prefix
    // A sliding-window model on a full-size window cache (EngineOptions::swa_full): cut back
    // anywhere, so no checkpoints; its idle slots are not saved (a saved state keeps only the
    // last window).
    bool full_swa_cache_ = false;
    // PYLLM_FAILPOINT=checkpoint_restore: every checkpoint restore counts as refused, so tests
    // can prove that the fallback (a cold decode) gives the same answer. Read once, at start.
    bool refuse_restores_ = false;
    // PYLLM_STEP_TRACE=1: a line per decode step on stderr (rows, prompt depth, time and the
    // step model), to tune the step budget (max_stall_ms) on a machine. Read once, at start.
    bool trace_steps_ = false;
    // A step's cost as fixed + rows * per-row (moving averages; 0: not measured yet): the
    // fixed part from steps with no prompt rows, the per-row part from steps with many.
    double step_fixed_ms_ = 0;
    double ms_per_prompt_row_ = 0;
    // How far budgeted steps ran over their prediction, relative (a moving average of the
    // overruns, 0 for none): the plan leaves room for it, so that the steps a running stream
    // waits for stay under max_stall_ms on a machine whose step times scatter.
    double step_overrun_ = 0;

    mutable std::mutex mu_;  // guards pending_, stopping_, next_id_, busy_slots_, decode_calls_
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Task>> pending_;
    bool stopping_ = false;
    uint64_t next_id_ = 1;
    int busy_slots_ = 0;
    uint64_t decode_calls_ = 0;
    EngineStats cache_stats_;  // the prompt cache's fields as last published for stats()

    ReadyQueue ready_;

    std::thread thread_;
    std::unique_ptr<RequestPreparer> preparer_;  // declared last: stopped first
};

}  // namespace pyllm
