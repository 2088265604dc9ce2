// Prepares requests off the event loop: renders the chat template, decides how tools reach
// the model, builds grammars and triggers, tokenizes, and makes the task's parser and
// encoder, on native worker threads that never take the GIL. A 100k-token conversation takes
// about a second to render and tokenize on 2 cores; on the event loop that second would stall
// every other stream. The task waits in the "preparing" state meanwhile; when it is queued
// (or has failed) the consumer is woken through the engine's ReadyQueue like for any output.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/chat_request.h"
#include "engine/ready_queue.h"
#include "engine/task.h"

namespace pyllm {

class Model;
class Projector;

struct PreparedRequest {
    std::vector<llama_token> prompt;
    TaskParams params;
    std::unique_ptr<OutputProcessor> processor;
};

// Renders, tokenizes and builds everything one request needs; `projector` (null without
// --mmproj) tokenizes a conversation's images. Throws ChatTemplateError or
// InvalidRequestError for a request the template, the grammar machinery or the image checks
// refuse. `default_grammar` (the server's --grammar-file; empty: none) constrains a request
// that brings no grammar, JSON schema or forced tool call of its own.
PreparedRequest prepare_request(const Model & model, const Projector * projector, const ChatRequest & request,
                                const std::string & default_grammar = {});

// The prompt's token count as prepare_request would submit it (count_tokens), images included.
int count_prompt_tokens(const Model & model, const Projector * projector, const ChatRequest & request);

class RequestPreparer {
public:
    // `enqueue` hands a prepared task to the scheduler (Engine::enqueue); it throws what a
    // refused submission throws (context overflow, a full queue, a bad grammar).
    using Enqueue = std::function<void(const std::shared_ptr<Task> &, PreparedRequest)>;

    RequestPreparer(std::shared_ptr<const Model> model, std::shared_ptr<const Projector> projector, Enqueue enqueue,
                    ReadyQueue & ready, int n_threads, std::string default_grammar);
    ~RequestPreparer();
    RequestPreparer(const RequestPreparer &) = delete;
    RequestPreparer & operator=(const RequestPreparer &) = delete;

    void submit(std::shared_ptr<Task> task, ChatRequest request);
    // Stops the workers; requests not yet prepared fail as refused (the engine is stopping).
    void stop();

private:
    void run();
    void prepare(const std::shared_ptr<Task> & task, const ChatRequest & request);

    std::shared_ptr<const Model> model_;
    std::shared_ptr<const Projector> projector_;
    Enqueue enqueue_;
    ReadyQueue & ready_;
    const std::string default_grammar_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<std::shared_ptr<Task>, ChatRequest>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace pyllm
