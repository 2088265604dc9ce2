// llama.cpp's own output parser (common_chat_parse over the whole accumulated text) behind
// the StreamParser interface. It is the fallback for formats without a native module and
// the oracle the native modules are tested against. Each feed re-parses everything, so a
// response costs O(n^2); correct, never fast.
#pragma once

#include <string>
#include <string_view>

#include "chat.h"
#include "stream_event.h"
#include "stream_parser.h"

namespace pyllm::parse {

// The parameters llama.cpp's server would parse this request's output with.
common_chat_parser_params reference_parser_params(const common_chat_params & params, bool extract_reasoning);

// The reference's parse of a complete or partial output. A final parse the reference
// rejects (output that does not match the format) falls back to its partial parse, as
// a stream would have shown it, and sets *rejected.
common_chat_msg reference_parse(const std::string & text, bool is_partial, const common_chat_parser_params & params,
                                bool * rejected = nullptr);

class ReferenceParser : public FormatParser {
public:
    explicit ReferenceParser(common_chat_parser_params params);

    void feed(std::string_view text, StreamEvents & out) override;
    void finish(StreamEvents & out) override;

private:
    // Turns what the new parse adds to what was already sent into events; a parse that
    // disagrees with what was sent is never retracted, only not extended.
    void emit_growth(const common_chat_msg & msg, bool final, bool last_call_complete, StreamEvents & out);

    common_chat_parser_params params_;
    std::string text_;
    common_chat_msg sent_;
    size_t calls_ended_ = 0;
    bool finished_ = false;
};

}  // namespace pyllm::parse
