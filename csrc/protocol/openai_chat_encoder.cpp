#include "protocol/openai_chat_encoder.h"

#include "protocol/openai_json.h"

namespace pyllm::protocol {

namespace {

constexpr const char * kToolCallIdPrefix = "call_";

OpenAIUsage openai_usage(const Usage & u) { return {u.prompt_tokens, u.cached_tokens, u.completion_tokens}; }

}  // namespace

OpenAIChatEncoder::OpenAIChatEncoder(OpenAIResponseOptions options) : options_(std::move(options)) {
    chunk_head_ = openai_object_head(options_.id, options_.created, options_.model, "chat.completion.chunk");
    chunk_head_ += "[{\"index\":0,\"delta\":";
}

void OpenAIChatEncoder::push_delta(std::string_view delta, std::vector<std::string> & out) const {
    std::string frame;
    frame.reserve(kSseDataPrefix.size() + chunk_head_.size() + delta.size() + 32);
    frame += kSseDataPrefix;
    frame += chunk_head_;
    frame += delta;
    frame += ",\"finish_reason\":null}]}";
    frame += kSseEnd;
    out.push_back(std::move(frame));
}

void OpenAIChatEncoder::start(const Usage &, std::vector<std::string> & out) {
    // The role comes first and alone, so clients show the turn before the first token.
    if (options_.stream) push_delta(R"({"role":"assistant","content":""})", out);
}

void OpenAIChatEncoder::on_event(const parse::StreamEvent & event, std::vector<std::string> & out) {
    using parse::StreamEventKind;
    if (!options_.stream) {
        switch (event.kind) {
            case StreamEventKind::reasoning: reasoning_ += event.text; break;
            case StreamEventKind::content: content_ += event.text; break;
            case StreamEventKind::tool_call_start:
                any_tool_call_ = true;
                if (tool_calls_.size() <= event.index) tool_calls_.resize(event.index + 1);
                tool_calls_[event.index].id = kToolCallIdPrefix + event.id;
                tool_calls_[event.index].name = event.name;
                break;
            case StreamEventKind::tool_args:
                if (event.index < tool_calls_.size()) tool_calls_[event.index].arguments += event.text;
                break;
            case StreamEventKind::tool_call_end: break;
        }
        return;
    }
    std::string delta;
    switch (event.kind) {
        case StreamEventKind::reasoning:
            delta = "{\"";
            delta += options_.reasoning_field;
            delta += "\":";
            append_json_string(delta, event.text);
            delta += '}';
            break;
        case StreamEventKind::content:
            delta = "{\"content\":";
            append_json_string(delta, event.text);
            delta += '}';
            break;
        case StreamEventKind::tool_call_start:
            any_tool_call_ = true;
            delta = "{\"tool_calls\":[{\"index\":";
            delta += std::to_string(event.index);
            delta += ",\"id\":";
            append_json_string(delta, kToolCallIdPrefix + event.id);
            delta += ",\"type\":\"function\",\"function\":{\"name\":";
            append_json_string(delta, event.name);
            delta += ",\"arguments\":\"\"}}]}";
            break;
        case StreamEventKind::tool_args:
            delta = "{\"tool_calls\":[{\"index\":";
            delta += std::to_string(event.index);
            delta += ",\"function\":{\"arguments\":";
            append_json_string(delta, event.text);
            delta += "}}]}";
            break;
        case StreamEventKind::tool_call_end: return;
    }
    push_delta(delta, out);
}

const char * OpenAIChatEncoder::finish_reason(const FinishInfo & info) const {
    // A call cut by max_tokens is not a call the client may run: "length" wins.
    if (info.reason == FinishReason::length) return "length";
    return any_tool_call_ ? "tool_calls" : "stop";
}

std::string OpenAIChatEncoder::completion(const FinishInfo & info) const {
    std::string out = "{\"id\":";
    append_json_string(out, options_.id);
    out += ",\"object\":\"chat.completion\",\"created\":";
    out += std::to_string(options_.created);
    out += ",\"model\":";
    append_json_string(out, options_.model);
    out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
    if (content_.empty() && any_tool_call_) {
        out += "null";
    } else {
        append_json_string(out, content_);
    }
    if (!reasoning_.empty()) {
        out += ",\"";
        out += options_.reasoning_field;
        out += "\":";
        append_json_string(out, reasoning_);
    }
    if (any_tool_call_) {
        out += ",\"tool_calls\":[";
        bool first = true;
        for (const auto & call : tool_calls_) {
            if (call.id.empty()) continue;
            if (!first) out += ',';
            first = false;
            out += "{\"id\":";
            append_json_string(out, call.id);
            out += ",\"type\":\"function\",\"function\":{\"name\":";
            append_json_string(out, call.name);
            out += ",\"arguments\":";
            append_json_string(out, call.arguments);
            out += "}}";
        }
        out += ']';
    }
    out += "},\"logprobs\":null,\"finish_reason\":\"";
    out += finish_reason(info);
    out += "\"}],\"usage\":";
    append_openai_usage(out, openai_usage(info.usage));
    out += '}';
    return out;
}

void OpenAIChatEncoder::finish(const FinishInfo & info, std::vector<std::string> & out) {
    if (info.reason == FinishReason::error) {
        // Streaming, the status is sent already: the error is the stream's last event.
        if (!options_.stream) {
            out.push_back(openai_error_payload(info.error));
            return;
        }
        out.push_back(sse_data(openai_error_payload(info.error)));
        out.emplace_back(kSseDone);
        return;
    }
    if (!options_.stream) {
        out.push_back(completion(info));
        return;
    }
    std::string chunk = chunk_head_;
    chunk += "{},\"finish_reason\":\"";
    chunk += finish_reason(info);
    chunk += "\"}]}";
    out.push_back(sse_data(chunk));
    if (options_.include_usage) {
        // The usage chunk has no choices: OpenAI's shape, which the SDKs special-case.
        std::string usage = chunk_head_.substr(0, chunk_head_.find("\"choices\":"));
        usage += "\"choices\":[],\"usage\":";
        append_openai_usage(usage, openai_usage(info.usage));
        usage += '}';
        out.push_back(sse_data(usage));
    }
    out.emplace_back(kSseDone);
}

}  // namespace pyllm::protocol
