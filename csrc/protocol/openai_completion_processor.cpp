#include "protocol/openai_completion_processor.h"

#include "protocol/openai_json.h"

namespace pyllm::protocol {

namespace {

const char * completion_finish_reason(FinishReason reason) {
    return reason == FinishReason::length ? "length" : "stop";
}

}  // namespace

OpenAICompletionProcessor::OpenAICompletionProcessor(OpenAIResponseOptions options) : options_(std::move(options)) {
    head_ = openai_object_head(options_.id, options_.created, options_.model, "text_completion");
}

void OpenAICompletionProcessor::on_start(const Usage &, std::vector<std::string> &) {}

void OpenAICompletionProcessor::on_text(std::string_view text, std::vector<std::string> & out) {
    if (!options_.stream) {
        text_ += text;
        return;
    }
    std::string chunk = head_;
    chunk += "[{\"index\":0,\"text\":";
    append_json_string(chunk, text);
    chunk += ",\"logprobs\":null,\"finish_reason\":null}]}";
    out.push_back(sse_data(chunk));
}

void OpenAICompletionProcessor::on_finish(const FinishInfo & info, std::vector<std::string> & out) {
    if (info.reason == FinishReason::error) {
        if (!options_.stream) {
            out.push_back(openai_error_payload(info.error));
            return;
        }
        out.push_back(sse_data(openai_error_payload(info.error)));
        out.emplace_back(kSseDone);
        return;
    }
    const OpenAIUsage usage{info.usage.prompt_tokens, info.usage.cached_tokens, info.usage.completion_tokens};
    std::string last = head_;
    last += "[{\"index\":0,\"text\":";
    append_json_string(last, options_.stream ? std::string_view() : std::string_view(text_));
    last += ",\"logprobs\":null,\"finish_reason\":\"";
    last += completion_finish_reason(info.reason);
    last += "\"}]";
    if (!options_.stream) {
        last += ",\"usage\":";
        append_openai_usage(last, usage);
    }
    last += '}';
    if (!options_.stream) {
        out.push_back(std::move(last));
        return;
    }
    out.push_back(sse_data(last));
    if (options_.include_usage) {
        std::string chunk = head_;
        chunk += "[],\"usage\":";
        append_openai_usage(chunk, usage);
        chunk += '}';
        out.push_back(sse_data(chunk));
    }
    out.emplace_back(kSseDone);
}

}  // namespace pyllm::protocol
