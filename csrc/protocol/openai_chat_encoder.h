// OpenAI Chat Completions output for one request: `chat.completion.chunk` payloads while
// streaming, or one `chat.completion` object at the end. All protocol state (which calls
// were announced, whether any call was made, the accumulated message) lives here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/stream_encoder.h"

namespace pyllm::protocol {

struct OpenAIResponseOptions {
    std::string id;  // chatcmpl-... / cmpl-...: the same on every chunk
    int64_t created = 0;
    std::string model;
    bool stream = true;
    bool include_usage = false;                     // stream_options.include_usage
    std::string reasoning_field = "reasoning_content";  // or "reasoning" (vLLM / Ollama)
};

class OpenAIChatEncoder : public StreamEncoder {
public:
    explicit OpenAIChatEncoder(OpenAIResponseOptions options);

    void start(const Usage & usage, std::vector<std::string> & out) override;
    void on_event(const parse::StreamEvent & event, std::vector<std::string> & out) override;
    void finish(const FinishInfo & info, std::vector<std::string> & out) override;

private:
    struct ToolCall {
        std::string id;
        std::string name;
        std::string arguments;
        bool ended = false;  // the parser saw the call's end
    };

    void push_delta(std::string_view delta, std::vector<std::string> & out) const;
    const char * finish_reason(const FinishInfo & info) const;
    std::string completion(const FinishInfo & info) const;

    OpenAIResponseOptions options_;
    std::string chunk_head_;  // every chunk up to the delta object: id, created, model are constant
    bool any_tool_call_ = false;
    // Non-streaming: the message being accumulated.
    std::string content_;
    std::string reasoning_;
    std::vector<ToolCall> tool_calls_;  // by the parser's call index
};

}  // namespace pyllm::protocol
