#include "hermes_tool_calls.h"

#include "literal_match.h"

namespace pyllm::parse {

namespace {

constexpr size_t npos = std::string_view::npos;
// A header longer than this is not one (tool names are short identifiers).
constexpr size_t longest_header = 1024;

// A cursor over a header that may be cut off: `partial` once the text ran out.
struct HeaderCursor {
    std::string_view text;
    size_t pos = 0;
    bool partial = false;

    void space() {
        while (pos < text.size() && is_space(text[pos])) {
            ++pos;
        }
    }
    // true: matched; false: mismatch, or the text ran out (then partial is set)
    bool literal(std::string_view lit) {
        const size_t n = std::min(lit.size(), text.size() - pos);
        if (text.compare(pos, n, lit, 0, n) != 0) {
            return false;
        }
        if (n < lit.size()) {
            partial = true;
            return false;
        }
        pos += n;
        return true;
    }
    bool at_end() const { return pos >= text.size(); }
};

}  // namespace

HermesToolCalls::HermesToolCalls(std::set<std::string> declared_tools, std::string call_end, std::string args_key,
                                 bool brace_in_start_marker, bool array_wrapped)
    : declared_(std::move(declared_tools)),
      call_end_({std::move(call_end)}),
      args_key_('"' + args_key + '"'),
      brace_in_start_marker_(brace_in_start_marker),
      array_wrapped_(array_wrapped) {}

void HermesToolCalls::begin(std::string_view start_marker) {
    opening_brace_ = !brace_in_start_marker_ || (!braced_marker_.empty() && start_marker == braced_marker_);
    stage_ = Stage::header;
    started_value_ = false;
    value_end_.reset();
    held_start_ = held_scanned_ = held_end_ = 0;
}

size_t HermesToolCalls::match_header(std::string_view text, std::string & name, bool array_open,
                                     bool opening_brace) const {
    HeaderCursor c{text};
    auto fail = [&]() { return (c.partial || c.at_end()) ? size_t(0) : npos; };
    if (array_open) {
        c.space();
        if (!c.literal("[")) return fail();
    }
    if (opening_brace) {
        c.space();
        if (!c.literal("{")) return fail();
    }
    c.space();
    // The OpenAI wrapper some models add: "type": "function",
    if (c.literal("\"type\"")) {
        c.space();
        if (!c.literal(":")) return fail();
        c.space();
        if (!c.literal("\"function\"")) return fail();
        c.space();
        if (!c.literal(",")) return fail();
        c.space();
    } else if (c.partial) {
        // "\"t" is a prefix of both "\"type\"" and nothing else we accept: wait.
        return 0;
    }
    if (!c.literal("\"name\"")) return fail();
    c.space();
    if (!c.literal(":")) return fail();
    c.space();
    if (!c.literal("\"")) return fail();
    const size_t name_start = c.pos;
    while (!c.at_end() && text[c.pos] != '"') {
        if (text[c.pos] == '\\') {
            return npos;  // tool names are identifiers; an escaped name is not a declared one
        }
        ++c.pos;
    }
    if (c.at_end()) return 0;
    name.assign(text.substr(name_start, c.pos - name_start));
    ++c.pos;
    c.space();
    if (!c.literal(",")) return fail();
    c.space();
    if (!c.literal(args_key_) && (alt_args_key_.empty() || c.partial || !c.literal(alt_args_key_))) return fail();
    c.space();
    if (!c.literal(":")) return fail();
    c.space();
    if (c.at_end()) return 0;  // the value's first byte decides nothing yet, but keep it whole
    return c.pos;
}

size_t HermesToolCalls::match_arguments_key(std::string_view text) const {
    HeaderCursor c{text};
    auto fail = [&]() { return (c.partial || c.at_end()) ? size_t(0) : npos; };
    if (array_wrapped_) {
        c.space();
        if (!c.literal("[")) return fail();
    }
    if (opening_brace_) {
        c.space();
        if (!c.literal("{")) return fail();
    }
    c.space();
    if (!c.literal(args_key_)) return fail();
    c.space();
    if (!c.literal(":")) return fail();
    return c.pos;
}

ToolCallSyntax::Step HermesToolCalls::consume_arguments_first(std::string_view text, bool at_end, ToolCallSink & sink) {
    const Step wait{at_end ? Status::cut_off : Status::more, 0};
    if (!started_value_) {
        const size_t i = skip_space(text, held_start_);
        if (i == text.size()) {
            return wait;
        }
        held_start_ = held_scanned_ = i;
        started_value_ = true;
    }
    if (held_end_ == 0) {
        const size_t n = value_end_.scan(text.substr(held_scanned_));
        if (n == JsonValueEnd::npos) {
            held_scanned_ = text.size();
            return wait;
        }
        held_end_ = held_scanned_ + n;
    }
    // `, "name": "NAME"` after the arguments
    HeaderCursor c{text, held_end_};
    c.space();
    if (!c.literal(",")) return c.partial || c.at_end() ? wait : Step{Status::not_a_call, 0};
    c.space();
    if (!c.literal("\"name\"")) return c.partial || c.at_end() ? wait : Step{Status::not_a_call, 0};
    c.space();
    if (!c.literal(":")) return c.partial || c.at_end() ? wait : Step{Status::not_a_call, 0};
    c.space();
    if (!c.literal("\"")) return c.partial || c.at_end() ? wait : Step{Status::not_a_call, 0};
    const size_t name_end = text.find('"', c.pos);
    if (name_end == npos) {
        return text.size() - c.pos > longest_header ? Step{Status::not_a_call, 0} : wait;
    }
    const std::string name(text.substr(c.pos, name_end - c.pos));
    if (!declared_.count(name)) {
        return {Status::not_a_call, 0};
    }
    sink.start_call(name, {});
    sink.arguments(text.substr(held_start_, held_end_ - held_start_));
    stage_ = Stage::object_close;
    return {Status::more, name_end + 1};
}

ToolCallSyntax::Step HermesToolCalls::consume_arguments(std::string_view text, ToolCallSink & sink) {
    size_t i = 0;
    if (!started_value_) {
        while (i < text.size() && is_space(text[i])) {
            ++i;
        }
        if (i == text.size()) {
            return {Status::more, i};
        }
        started_value_ = true;
    }
    const auto passed = value_end_.pass_through(text.substr(i), false,
                                                [&](std::string_view bytes) { sink.arguments(bytes); });
    if (passed.ended) {
        stage_ = Stage::tail;
    }
    return {Status::more, i + passed.used};
}

std::optional<ToolCallSyntax::Step> HermesToolCalls::object_closed(size_t used, ToolCallSink & sink) {
    if (call_end_.empty()) {
        sink.end_call();
        return Step{Status::done, used};
    }
    stage_ = Stage::after_object;
    return std::nullopt;
}

ToolCallSyntax::Step HermesToolCalls::consume(std::string_view text, bool at_end, ToolCallSink & sink) {
    size_t used = 0;
    if (stage_ == Stage::header) {
        std::string name;
        size_t n = match_header(text, name, array_wrapped_, opening_brace_);
        const bool args_first = n == npos;
        if (args_first) {
            n = match_arguments_key(text.substr(0, longest_header));
        }
        if (n == npos || (n == 0 && text.size() > longest_header)) {
            return {Status::not_a_call, 0};
        }
        if (n == 0) {
            return {at_end ? Status::cut_off : Status::more, 0};
        }
        if (args_first) {
            held_start_ = n;
            stage_ = Stage::arguments_first;
        } else if (!declared_.count(name)) {
            return {Status::not_a_call, 0};
        } else {
            sink.start_call(name, {});
            stage_ = Stage::arguments;
            used = n;
        }
    }
    if (stage_ == Stage::arguments_first) {
        const Step r = consume_arguments_first(text, at_end, sink);
        if (stage_ == Stage::arguments_first) {
            return r;
        }
        used = r.consumed;
    }
    for (;;) {
        const std::string_view rest = text.substr(used);
        switch (stage_) {
            case Stage::header:
            case Stage::arguments_first:
                return {Status::more, used};  // not reached: read above
            case Stage::arguments: {
                const auto r = consume_arguments(rest, sink);
                used += r.consumed;
                if (stage_ == Stage::arguments) {
                    if (at_end) {
                        // Cut off inside the arguments: flush what was held, the call stays open.
                        sink.arguments(text.substr(used));
                        used = text.size();
                    }
                    return {Status::more, used};
                }
                stage_ = Stage::object_close;
                break;
            }
            case Stage::object_close: {
                size_t i = 0;
                while (i < rest.size() && is_space(rest[i])) {
                    ++i;
                }
                if (i == rest.size()) {
                    return {Status::more, used + i};
                }
                if (rest[i] == ',') {
                    value_end_.reset();
                    value_end_.scan("{");  // inside the call's object, which the scan must close
                    stage_ = Stage::more_members;
                    used += i;
                    break;
                }
                if (rest[i] != '}') {
                    stage_ = Stage::tail;  // not the reference's shape; read on to the end marker
                    break;
                }
                if (auto step = object_closed(used + i + 1, sink)) {
                    return *step;
                }
                used += i + 1;
                break;
            }
            case Stage::more_members: {
                const size_t n = value_end_.scan(rest);
                if (n == JsonValueEnd::npos) {
                    return {Status::more, text.size()};  // nothing here is emitted: no bytes held
                }
                if (auto step = object_closed(used + n, sink)) {
                    return *step;
                }
                used += n;
                break;
            }
            case Stage::after_object: {
                size_t i = 0;
                while (i < rest.size() && is_space(rest[i])) {
                    ++i;
                }
                if (i == rest.size()) {
                    return {Status::more, at_end ? text.size() : used};
                }
                if (rest[i] != ',') {
                    stage_ = Stage::tail;
                    break;
                }
                // `, {"name": ...` : the next call in the same wrapper.
                std::string name;
                const size_t n = match_header(rest.substr(i + 1), name, false, true);
                if (n == 0 && !at_end && rest.size() <= longest_header) {
                    return {Status::more, used};
                }
                if (n == 0 || n == npos || !declared_.count(name)) {
                    // Cut off, or not a call: the reference drops a cut-off header; anything
                    // else is text after the call, which the core keeps as content.
                    sink.end_call();
                    return {n == 0 && at_end ? Status::cut_off : Status::done, used};
                }
                sink.end_call();
                sink.start_call(name, {});
                started_value_ = false;
                value_end_.reset();
                stage_ = Stage::arguments;
                used += i + 1 + n;
                break;
            }
            case Stage::tail: {
                const auto m = call_end_.find(rest);
                if (m.marker < 0) {
                    return {Status::more, at_end ? text.size() : used + m.text_end};
                }
                sink.end_call();
                return {Status::done, used + m.text_end + call_end_.marker(m.marker).size()};
            }
        }
    }
}

}  // namespace pyllm::parse
