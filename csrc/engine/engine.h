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
#include "ready_queue.h"
#include "task.h"

namespace pyllm {

class Model;
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
};

struct EngineStats {
    int n_slots = 0;
    int busy_slots = 0;
    int queued = 0;
    int n_ctx_slot = 0;
    uint64_t decode_calls = 0;
    int saved_prompts = 0;      // idle slots' KV held in host memory
    int64_t saved_bytes = 0;
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

    // Stops the scheduler; unfinished tasks end as cancelled. Idempotent.
    void shutdown();

private:
    struct Slot;
    struct SavedPrompt {
        std::vector<llama_token> tokens;
        std::vector<uint8_t> state;
    };

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
    void save(Slot & slot);  // copies the slot's KV to host memory (saved_)
    void evict_idle_slots(const Slot & started);
    // Drops the slot's KV from position `keep` on; false (and all dropped) when what is left
    // cannot continue at `keep`.
    bool cut_back(Slot & slot, size_t keep);
    void admit(Slot & slot, std::shared_ptr<Task> task);
    void step();
    void sample(Slot & slot);
    void release(Slot & slot, FinishReason reason, std::string stop = {}, std::string error = {});

    std::shared_ptr<const Model> model_;
    EngineOptions options_;
    llama_context * ctx_ = nullptr;
    llama_batch batch_{};
    int n_ctx_slot_ = 0;
    std::vector<std::unique_ptr<Slot>> slots_;  // owned by the scheduler thread
    uint64_t release_count_ = 0;
    std::list<SavedPrompt> saved_;  // least recently used first; the scheduler thread's
    int64_t saved_bytes_ = 0;

    mutable std::mutex mu_;  // guards pending_, stopping_, next_id_, busy_slots_, decode_calls_
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Task>> pending_;
    bool stopping_ = false;
    uint64_t next_id_ = 1;
    int busy_slots_ = 0;
    uint64_t decode_calls_ = 0;
    int saved_prompts_ = 0;  // saved_.size() and saved_bytes_ as last published for stats()
    int64_t saved_bytes_published_ = 0;

    ReadyQueue ready_;

    std::thread thread_;
    std::unique_ptr<RequestPreparer> preparer_;  // declared last: stopped first
};

}  // namespace pyllm
