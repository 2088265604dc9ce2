#include "engine/request_preparer.h"

#include <exception>

#include "engine/chat_prompt.h"
#include "engine/projector.h"
#include "errors.h"
#include "model.h"
#include "protocol/output_processors.h"

namespace pyllm {

namespace {

// A conversation's prompt: its tokens, and where its images are.
MultimodalPrompt chat_prompt(const Model & model, const Projector * projector, const ChatRequest & request,
                             parse::RenderedChat & format) {
    if (request.images.empty()) {
        format = render_chat(model, request);
        return {chat_prompt_tokens(model, format), nullptr};
    }
    if (!projector) {
        throw InvalidRequestError(request.images.front().where +
                                  ": image input needs a multimodal projector: start the server with --mmproj FILE");
    }
    ChatRequest with_markers = request;
    with_markers.messages_json = place_media_markers(request.messages_json, projector->marker(), request.images.size());
    format = render_chat(model, with_markers);
    return tokenize_with_images(*projector, format.params.prompt, request.images);
}

}  // namespace

PreparedRequest prepare_request(const Model & model, const Projector * projector, const ChatRequest & request,
                                const std::string & default_grammar) {
    PreparedRequest p;
    p.params = task_params(model, request.sampling);
    const bool own_constraint =
        !request.sampling.grammar.empty() || !request.sampling.json_schema.empty() || !request.json_schema.empty();
    const bool server_grammar = !default_grammar.empty() && !own_constraint;
    if (request.is_chat()) {
        parse::RenderedChat format;
        MultimodalPrompt prompt = chat_prompt(model, projector, request, format);
        p.prompt = std::move(prompt.tokens);
        p.params.images = std::move(prompt.images);
        if (server_grammar && !format.tool_call_required) {
            // The server's grammar decides what the model may write, tool calls included (a
            // grammar can spell one in the template's syntax; the parser reads it as usual):
            // it takes the place of the lazy tool-call grammar of tool_choice auto.
            format.params.grammar.clear();
            format.params.grammar_lazy = false;
            format.params.grammar_triggers.clear();
            p.params.sampling.grammar = common_grammar(COMMON_GRAMMAR_TYPE_USER, default_grammar);
        }
        apply_chat_format(model, format, p.params);
        p.processor = protocol::make_output_processor(request.output, &format, request.sampling.stop);
    } else {
        if (server_grammar) p.params.sampling.grammar = common_grammar(COMMON_GRAMMAR_TYPE_USER, default_grammar);
        p.prompt = request.prompt_text.empty() ? request.prompt_tokens
                                               : model.tokenize(request.prompt_text, /*add_special=*/true,
                                                                /*parse_special=*/true);
        p.processor = protocol::make_output_processor(request.output, nullptr, request.sampling.stop);
    }
    return p;
}

int count_prompt_tokens(const Model & model, const Projector * projector, const ChatRequest & request) {
    if (!request.is_chat()) {
        return static_cast<int>(request.prompt_text.empty() ? request.prompt_tokens.size()
                                                            : model.tokenize(request.prompt_text, true, true).size());
    }
    parse::RenderedChat format;
    return static_cast<int>(chat_prompt(model, projector, request, format).tokens.size());
}

RequestPreparer::RequestPreparer(std::shared_ptr<const Model> model, std::shared_ptr<const Projector> projector,
                                 Enqueue enqueue, ReadyQueue & ready, int n_threads, std::string default_grammar)
    : model_(std::move(model)),
      projector_(std::move(projector)),
      enqueue_(std::move(enqueue)),
      ready_(ready),
      default_grammar_(std::move(default_grammar)) {
    for (int i = 0; i < n_threads; ++i) workers_.emplace_back([this] { run(); });
}

RequestPreparer::~RequestPreparer() { stop(); }

void RequestPreparer::submit(std::shared_ptr<Task> task, ChatRequest request) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!stopping_) {
            queue_.emplace_back(std::move(task), std::move(request));
            cv_.notify_one();
            return;
        }
    }
    ready_.notify(task, task->fail_preparation(std::make_exception_ptr(EngineOverloadedError("the engine is shutting down"))));
}

void RequestPreparer::stop() {
    std::deque<std::pair<std::shared_ptr<Task>, ChatRequest>> left;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        stopping_ = true;
        left.swap(queue_);
    }
    cv_.notify_all();
    for (auto & w : workers_) w.join();
    for (auto & [task, request] : left) {
        ready_.notify(task, task->fail_preparation(std::make_exception_ptr(EngineOverloadedError("the engine is shutting down"))));
    }
}

void RequestPreparer::run() {
    for (;;) {
        std::pair<std::shared_ptr<Task>, ChatRequest> item;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            item = std::move(queue_.front());
            queue_.pop_front();
        }
        prepare(item.first, item.second);
    }
}

void RequestPreparer::prepare(const std::shared_ptr<Task> & task, const ChatRequest & request) {
    try {
        // A client that left while the request waited here costs no rendering.
        if (task->cancel_requested()) throw InvalidRequestError("cancelled before it was prepared");
        enqueue_(task, prepare_request(*model_, projector_.get(), request, default_grammar_));
        ready_.notify(task, true);  // prepared: the consumer learns it, output or not
    } catch (...) {
        ready_.notify(task, task->fail_preparation(std::current_exception()));
    }
}

}  // namespace pyllm
