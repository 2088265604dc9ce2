// One request's incremental output parser: fed the text of each sampled token, it emits
// reasoning, content and tool-call events, keeping its state for the whole response.
//
// Formats with a native module are parsed in one pass, O(bytes fed + longest marker) per
// call. Any other format llama.cpp can parse goes through llama.cpp's own parser instead
// (correct, but it re-parses the whole output on every call).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat.h"
#include "stream_event.h"

namespace pyllm::parse {

// The native half of a StreamParser: one format family's state machine.
class FormatParser {
public:
    virtual ~FormatParser() = default;
    virtual void feed(std::string_view text, StreamEvents & out) = 0;
    virtual void finish(StreamEvents & out) = 0;
};

struct StreamParserOptions {
    // Split reasoning out of the content (llama.cpp's reasoning_format other than "none").
    bool extract_reasoning = true;
    // Use llama.cpp's parser even where a native module exists (benchmarks, diagnosis).
    bool force_reference = false;
    // The template has no tool-call syntax: calls use the generic form (generic_tool_calls.h).
    bool generic_tool_calls = false;
};

class StreamParser {
public:
    // `params` is what common_chat_templates_apply returned for the request's prompt;
    // `tools` are the tools declared in that request.
    StreamParser(const common_chat_params & params, const std::vector<common_chat_tool> & tools,
                 const StreamParserOptions & options);
    ~StreamParser();
    StreamParser(StreamParser &&) noexcept;
    StreamParser & operator=(StreamParser &&) noexcept;

    StreamEvents feed(std::string_view text);
    StreamEvents finish();

    // The format family parsing this request: a native module's name, or "reference".
    const std::string & family() const { return family_; }

private:
    std::unique_ptr<FormatParser> impl_;
    std::string family_;
};

}  // namespace pyllm::parse
