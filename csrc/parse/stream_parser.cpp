#include "stream_parser.h"

#include "format_detection.h"
#include "generic_tool_calls.h"
#include "reference_parser.h"

namespace pyllm::parse {

StreamParser::StreamParser(const common_chat_params & params, const std::vector<common_chat_tool> & tools,
                           const StreamParserOptions & options) {
    if (options.generic_tool_calls) {
        // llama.cpp's parser knows nothing of these calls: there is no reference to fall back to.
        impl_ = make_generic_tool_parser(params, tools);
        family_ = "generic";
        return;
    }
    if (!options.force_reference) {
        if (auto native = make_native_parser(params, tools)) {
            impl_ = std::move(native->parser);
            family_ = native->family;
            return;
        }
    }
    impl_ = std::make_unique<ReferenceParser>(reference_parser_params(params, options.extract_reasoning));
    family_ = "reference";
}

StreamParser::~StreamParser() = default;
StreamParser::StreamParser(StreamParser &&) noexcept = default;
StreamParser & StreamParser::operator=(StreamParser &&) noexcept = default;

StreamEvents StreamParser::feed(std::string_view text) {
    StreamEvents out;
    impl_->feed(text, out);
    return out;
}

StreamEvents StreamParser::finish() {
    StreamEvents out;
    impl_->finish(out);
    return out;
}

const char * stream_event_kind_name(StreamEventKind kind) {
    switch (kind) {
        case StreamEventKind::reasoning: return "reasoning";
        case StreamEventKind::content: return "content";
        case StreamEventKind::tool_call_start: return "tool_call_start";
        case StreamEventKind::tool_args: return "tool_args";
        case StreamEventKind::tool_call_end: return "tool_call_end";
    }
    return "unknown";
}

}  // namespace pyllm::parse
