#include "tagged_args_tool_calls.h"

#include <cstdio>

#include "chat.h"
#include "literal_match.h"
#include "utf8_tail.h"

namespace pyllm::parse {

namespace {

constexpr size_t npos = std::string_view::npos;
// A header longer than this is not one (tool and argument names are short identifiers).
constexpr size_t longest_header = 1024;

// The inside of a JSON string literal, as nlohmann::json::dump writes it (the reference's
// escaping): the two-character escapes, other control characters as \u00xx, UTF-8 as is.
void append_json_escaped(std::string & out, std::string_view text) {
    for (const char ch : text) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(ch) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(ch));
                    out += buf;
                } else {
                    out += ch;
                }
        }
    }
}

unsigned json_kind(const common_json & v) {
    if (v.is_object()) return ArgValueKind::object;
    if (v.is_array()) return ArgValueKind::array;
    if (v.is_number()) return ArgValueKind::number;
    if (v.is_boolean()) return ArgValueKind::boolean;
    if (v.is_null()) return ArgValueKind::null;
    return ArgValueKind::string_value;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// Models trained on Python tool calls write True, False and None; copied raw they are not
// JSON. Where the schema allows the JSON value they stand for, it is that value.
std::string_view python_literal_as_json(std::string_view text, unsigned kinds) {
    if ((kinds & ArgValueKind::boolean) && text == "True") return "true";
    if ((kinds & ArgValueKind::boolean) && text == "False") return "false";
    if ((kinds & ArgValueKind::null) && text == "None") return "null";
    return {};
}

}  // namespace

TaggedArgsToolCalls::TaggedArgsToolCalls(TaggedCallFormat format,
                                         std::map<std::string, std::map<std::string, ArgValueKind>> arg_kinds)
    : format_(std::move(format)), arg_kinds_(std::move(arg_kinds)), value_end_({format_.value_end}) {}

void TaggedArgsToolCalls::begin(std::string_view start_marker) {
    stage_ = Stage::header;
    arg_count_ = 0;
    args_ = nullptr;
    undecided_.clear();
    // A marker such as `<function=NAME>` (Qwen3-Coder without <tool_call>) or `<invoke name="`
    // (the next call in a MiniMax section) already holds the start of the header.
    const size_t p = format_.name_prefix.empty() ? npos : start_marker.find(format_.name_prefix);
    seed_ = p == npos ? std::string() : std::string(start_marker.substr(p));
}

size_t TaggedArgsToolCalls::match_header(std::string_view text, std::string & name) const {
    auto cut_or_fail = [&](size_t pos, int r) { return r == 0 || pos >= text.size() ? size_t(0) : npos; };
    size_t pos = 0;
    int r = 1;
    if (seed_.empty()) {
        if ((r = match_literal(text, pos, format_.call_open)) <= 0) return cut_or_fail(pos, r);
        pos += format_.call_open.size();
        if (format_.space_between_tags) pos = skip_space(text, pos);
    }
    if ((r = match_literal(text, pos, format_.name_prefix)) <= 0) return cut_or_fail(pos, r);
    pos += format_.name_prefix.size();
    const size_t name_start = pos;
    const char end = format_.name_suffix.empty() ? '\0' : format_.name_suffix[0];
    for (; pos < text.size(); ++pos) {
        const char c = text[pos];
        if (c == end || (end == '\0' && (is_space(c) || c == '<'))) {
            break;
        }
        if (is_space(c) || c == '<' || c == '>' || c == '"') {
            return npos;  // not a tool name
        }
    }
    if (pos >= text.size() || pos == name_start) {
        return pos >= text.size() ? 0 : npos;
    }
    name.assign(text.substr(name_start, pos - name_start));
    if ((r = match_literal(text, pos, format_.name_suffix)) <= 0) return cut_or_fail(pos, r);
    return pos + format_.name_suffix.size();
}

size_t TaggedArgsToolCalls::match_arg_header(std::string_view text, std::string & key) const {
    const size_t key_start = format_.arg_prefix.size();
    const size_t key_end = text.find(format_.arg_suffix, key_start);
    if (key_end == npos) {
        return 0;
    }
    key.assign(trim(text.substr(key_start, key_end - key_start)));
    const size_t after_key = key_end + format_.arg_suffix.size();
    if (format_.value_open.empty()) {
        return after_key;
    }
    const size_t open = skip_space(text, after_key);
    const int r = match_literal(text, open, format_.value_open);
    if (r == 0 || open == text.size()) {
        return 0;
    }
    return r == 1 ? open + format_.value_open.size() : after_key;
}

void TaggedArgsToolCalls::start_value(std::string_view key, ToolCallSink & sink) {
    // An argument the tool does not declare (the reference rejects it) is taken as text.
    kind_ = ArgValueKind{true, 0};
    if (args_) {
        if (const auto it = args_->find(std::string(key)); it != args_->end()) {
            kind_ = it->second;
        }
    }
    // Objects and arrays (possibly long) stream as the model writes them. A value that may
    // also be text, or a scalar (short), waits for its end tag to decide: text, or a
    // scalar that is not what the schema says, becomes a string rather than invalid JSON.
    // A value that may be any JSON (Qwen3-Coder's json-value) waits for its first byte:
    // an object or array then streams, a scalar waits for its end.
    constexpr unsigned containers = ArgValueKind::object | ArgValueKind::array;
    const bool only_containers = (kind_.json & containers) && !(kind_.json & ~containers);
    mode_ = kind_.json == 0                      ? ValueMode::string
            : only_containers && !kind_.string   ? ValueMode::json
                                                 : ValueMode::undecided;
    std::string out = arg_count_ > 0 ? "," : "";
    out += common_json::make(std::string(key)).dump();
    out += ':';
    if (mode_ == ValueMode::string) {
        out += '"';
    }
    sink.arguments(out);
}

void TaggedArgsToolCalls::value_text(std::string_view text, ToolCallSink & sink) {
    switch (mode_) {
        case ValueMode::string: {
            std::string out;
            append_json_escaped(out, text);
            sink.arguments(out);
            break;
        }
        case ValueMode::json:
            sink.arguments(text);  // a JSON value passes through as the model wrote it
            break;
        case ValueMode::undecided: {
            undecided_.append(text);
            const size_t first = skip_space(undecided_, 0);
            const unsigned opens = first == undecided_.size() ? 0
                                   : undecided_[first] == '{' ? ArgValueKind::object
                                   : undecided_[first] == '[' ? ArgValueKind::array
                                                              : 0;
            if (!kind_.string && (kind_.json & opens)) {
                mode_ = ValueMode::json;
                sink.arguments(undecided_);
                undecided_.clear();
            }
            break;
        }
    }
}

void TaggedArgsToolCalls::end_value(ToolCallSink & sink) {
    if (mode_ == ValueMode::string) {
        sink.arguments("\"");
    } else if (mode_ == ValueMode::undecided) {
        // The reference tries the schema's JSON types first, then takes the text as a string
        // (or, when the schema allows no string, rejects the output).
        const auto v = common_json::parse_no_throw(undecided_);
        const std::string_view python = python_literal_as_json(trim(undecided_), kind_.json);
        if (!v.is_discarded() && (json_kind(v) & kind_.json)) {
            sink.arguments(undecided_);
        } else if (!python.empty()) {
            sink.arguments(python);
        } else {
            std::string out = "\"";
            append_json_escaped(out, undecided_);
            out += '"';
            sink.arguments(out);
        }
        undecided_.clear();
    }
    ++arg_count_;
}

ToolCallSyntax::Step TaggedArgsToolCalls::consume(std::string_view text, bool at_end, ToolCallSink & sink) {
    size_t used = 0;
    if (stage_ == Stage::header) {
        const std::string header = seed_ + std::string(text.substr(0, longest_header));
        std::string name;
        const size_t n = match_header(header, name);
        if (n == npos || (n == 0 && text.size() > longest_header)) {
            return {Status::not_a_call, 0};
        }
        if (n == 0) {
            return {at_end ? Status::cut_off : Status::more, 0};
        }
        const auto tool = arg_kinds_.find(name);
        if (tool == arg_kinds_.end()) {
            return {Status::not_a_call, 0};  // not a declared tool
        }
        args_ = &tool->second;
        sink.start_call(name, {});
        sink.arguments("{");
        used = n - seed_.size();
        stage_ = Stage::between_args;
    }
    while (true) {
        const std::string_view rest = text.substr(used);
        switch (stage_) {
            case Stage::header:
                return {Status::more, used};
            case Stage::between_args: {
                const size_t i = format_.space_between_tags ? skip_space(rest, 0) : 0;
                const int arg = match_literal(rest, i, format_.arg_prefix);
                const int end = match_literal(rest, i, format_.call_end);
                if (arg == 1) {
                    used += i;
                    stage_ = Stage::arg_header;
                    continue;
                }
                if (end == 1) {
                    sink.arguments("}");
                    sink.end_call();
                    return {Status::done, used + i + format_.call_end.size()};
                }
                if (arg == 0 || end == 0) {
                    // Cut off: at the end the call stays unfinished, as in the reference.
                    return {Status::more, at_end ? text.size() : used + i};
                }
                // Neither another argument nor the end (the reference rejects this): the
                // call ends here and what follows is read as text after the calls.
                sink.arguments("}");
                sink.end_call();
                return {Status::done, used + i};
            }
            case Stage::arg_header: {
                std::string key;
                const size_t n = match_arg_header(rest.substr(0, longest_header), key);
                if (n == 0) {
                    if (at_end || rest.size() > longest_header) {
                        return {Status::more, text.size()};  // a cut-off or runaway key: nothing more to read
                    }
                    return {Status::more, used};
                }
                start_value(key, sink);
                used += n;
                stage_ = Stage::value;
                continue;
            }
            case Stage::value: {
                const auto m = value_end_.find(rest);
                size_t n = m.text_end;
                if (m.marker < 0 && !at_end) {
                    n -= incomplete_utf8_tail(rest.substr(0, n));
                }
                value_text(rest.substr(0, n), sink);
                if (m.marker < 0) {
                    if (at_end && mode_ == ValueMode::undecided && !kind_.string) {
                        sink.arguments(undecided_);  // a cut-off JSON value is kept, as in the reference
                    }
                    // At the end, a held-back tail is a cut-off closing tag: the reference drops it.
                    return {Status::more, at_end ? text.size() : used + n};
                }
                end_value(sink);
                used += n + value_end_.marker(m.marker).size();
                stage_ = Stage::between_args;
                continue;
            }
        }
    }
}

}  // namespace pyllm::parse
