#include "tagged_json_tool_calls.h"

#include "literal_match.h"

namespace pyllm::parse {

namespace {
// A call id longer than this is not one (Mistral's are 9 characters).
constexpr size_t longest_id = 64;
}  // namespace

TaggedJsonToolCalls::TaggedJsonToolCalls(std::set<std::string> declared_tools, TaggedJsonCallLayout layout)
    : declared_(std::move(declared_tools)), layout_(std::move(layout)) {
    if (!layout_.call_end.empty()) {
        call_end_ = MarkerMatcher({layout_.call_end});
    }
}

void TaggedJsonToolCalls::begin(std::string_view /*start_marker*/) {
    stage_ = Stage::header;
    started_value_ = false;
    value_end_.reset();
}

ToolCallSyntax::Step TaggedJsonToolCalls::consume_header(std::string_view text, bool at_end, ToolCallSink & sink) {
    // The header is one of a few literal strings (one per declared tool), so it is matched
    // whole against each; a name the request did not declare never becomes a call.
    bool possible = false;
    for (const auto & name : declared_) {
        const std::string header = layout_.name_prefix + name + layout_.name_suffix;
        const size_t n = std::min(header.size(), text.size());
        if (text.compare(0, n, header, 0, n) == 0) {
            if (n == header.size()) {
                sink.start_call(name, {});
                stage_ = Stage::arguments;
                return {Status::more, n};
            }
            possible = true;
            continue;
        }
        if (layout_.id_marker.empty()) {
            continue;
        }
        // NAME[CALL_ID]id[ARGS]
        const std::string with_id = layout_.name_prefix + name + layout_.id_marker;
        const size_t k = std::min(with_id.size(), text.size());
        if (text.compare(0, k, with_id, 0, k) != 0) {
            continue;
        }
        const size_t id_end = k < with_id.size() ? std::string_view::npos : text.find(layout_.name_suffix, k);
        if (id_end == std::string_view::npos) {
            possible = possible || text.size() - k <= longest_id;
            continue;
        }
        sink.start_call(name, text.substr(k, id_end - k));
        stage_ = Stage::arguments;
        return {Status::more, id_end + layout_.name_suffix.size()};
    }
    if (!possible) {
        return {Status::not_a_call, 0};
    }
    return {at_end ? Status::cut_off : Status::more, 0};
}

ToolCallSyntax::Step TaggedJsonToolCalls::consume(std::string_view text, bool at_end, ToolCallSink & sink) {
    size_t used = 0;
    if (stage_ == Stage::header) {
        const auto r = consume_header(text, at_end, sink);
        if (stage_ == Stage::header) {
            return r;
        }
        used = r.consumed;
    }
    if (stage_ == Stage::arguments) {
        if (!started_value_) {
            used = skip_space(text, used);
            if (used == text.size()) {
                return {Status::more, used};
            }
            started_value_ = true;
        }
        // Cut off at the end: everything flushed, the call left open (it never ended).
        const auto passed = value_end_.pass_through(text.substr(used), at_end,
                                                    [&](std::string_view bytes) { sink.arguments(bytes); });
        used += passed.used;
        if (!passed.ended) {
            return {Status::more, used};
        }
        stage_ = Stage::tail;
    }
    if (call_end_.empty()) {
        sink.end_call();
        return {Status::done, used};
    }
    // After the arguments (the reference allows only a closing literal such as "```" and
    // spacing here): up to the end marker.
    const auto m = call_end_.find(text.substr(used));
    if (m.marker < 0) {
        return {Status::more, at_end ? text.size() : used + m.text_end};
    }
    sink.end_call();
    return {Status::done, used + m.text_end + call_end_.marker(m.marker).size()};
}

}  // namespace pyllm::parse
