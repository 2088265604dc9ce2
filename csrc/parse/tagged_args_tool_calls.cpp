#include "tagged_args_tool_calls.h"

#include "chat.h"
#include "json_escape.h"
#include "literal_match.h"
#include "utf8_tail.h"

namespace pyllm::parse {

namespace {

constexpr size_t npos = std::string_view::npos;
// A header longer than this is not one (tool and argument names are short identifiers).
constexpr size_t longest_header = 1024;

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

// An XML attribute value's text: its five named entities decoded.
std::string xml_unescaped(std::string_view text) {
    static const std::pair<std::string_view, char> named[] = {
        {"&amp;", '&'}, {"&quot;", '"'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}};
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        bool decoded = false;
        if (text[i] == '&') {
            for (const auto & [entity, ch] : named) {
                if (text.compare(i, entity.size(), entity) == 0) {
                    out += ch;
                    i += entity.size() - 1;
                    decoded = true;
                    break;
                }
            }
        }
        if (!decoded) {
            out += text[i];
        }
    }
    return out;
}

}  // namespace

TaggedArgsToolCalls::TaggedArgsToolCalls(std::vector<TaggedCallFormat> spellings,
                                         std::map<std::string, std::map<std::string, ArgValueKind>> arg_kinds)
    : spellings_(std::move(spellings)), arg_kinds_(std::move(arg_kinds)) {
    for (const auto & f : spellings_) {
        ValueEnd end;
        std::vector<std::string> markers{f.value_end};
        end.consumed.push_back(f.value_end.size());
        end.confirmed_by.push_back(f.value_end_confirmed_by);
        for (const auto & other : f.other_value_ends) {
            markers.push_back(other.marker);
            end.consumed.push_back(other.consumed);
            end.confirmed_by.push_back(other.confirmed_by);
        }
        end.matcher = MarkerMatcher(std::move(markers));
        value_ends_.push_back(std::move(end));
    }
}

int TaggedArgsToolCalls::value_end_confirmed(std::string_view rest, size_t after,
                                             const std::vector<std::string> & confirmed_by, bool at_end) {
    if (confirmed_by.empty()) {
        return 1;
    }
    const size_t next = skip_space(rest, after);
    if (next == rest.size()) {
        return at_end ? 1 : 0;
    }
    bool partial = false;
    for (const auto & tag : confirmed_by) {
        const int r = match_literal(rest, next, tag);
        if (r == 1) {
            return 1;
        }
        partial = partial || r == 0;
    }
    // At the end, a cut-off tag after it: the value ended there.
    return partial ? (at_end ? 1 : 0) : -1;
}

void TaggedArgsToolCalls::begin(std::string_view start_marker) {
    stage_ = Stage::header;
    arg_count_ = 0;
    args_ = nullptr;
    undecided_.clear();
    spelling_ = 0;
    for (size_t i = 0; i < spellings_.size(); ++i) {
        if (!spellings_[i].name_prefix.empty() && start_marker.find(spellings_[i].name_prefix) != npos) {
            spelling_ = i;
            break;
        }
    }
    // A marker such as `<function=NAME>` (Qwen3-Coder without <tool_call>) or `<invoke name="`
    // (the next call in a MiniMax section) already holds the start of the header.
    const size_t p = format().name_prefix.empty() ? npos : start_marker.find(format().name_prefix);
    seed_ = p == npos ? std::string() : std::string(start_marker.substr(p));
}

size_t TaggedArgsToolCalls::match_header(std::string_view text, std::string & name, bool & self_closed) const {
    const TaggedCallFormat & f = format();
    auto cut_or_fail = [&](size_t pos, int r) { return r == 0 || pos >= text.size() ? size_t(0) : npos; };
    size_t pos = 0;
    int r = 1;
    if (seed_.empty()) {
        if ((r = match_literal(text, pos, f.call_open)) <= 0) return cut_or_fail(pos, r);
        pos += f.call_open.size();
        if (f.space_between_tags) pos = skip_space(text, pos);
    }
    if ((r = match_literal(text, pos, f.name_prefix)) <= 0) return cut_or_fail(pos, r);
    pos += f.name_prefix.size();
    const size_t name_start = pos;
    const char end = f.name_suffix.empty() ? '\0' : f.name_suffix[0];
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
    if (!f.self_closing_suffix.empty()) {
        if ((r = match_literal(text, pos, f.self_closing_suffix)) == 1) {
            self_closed = true;
            return pos + f.self_closing_suffix.size();
        }
        if (r == 0) return 0;
    }
    if ((r = match_literal(text, pos, f.name_suffix)) <= 0) return cut_or_fail(pos, r);
    pos += f.name_suffix.size();
    if (f.header_end.empty()) {
        return pos;
    }
    const size_t end_at = text.find(f.header_end, pos);
    if (end_at == npos) {
        return 0;  // the caller gives up on a header longer than longest_header
    }
    return end_at + f.header_end.size();
}

size_t TaggedArgsToolCalls::match_arg_header(std::string_view text, std::string & key,
                                             std::optional<ArgValueKind> & typed) const {
    const TaggedCallFormat & f = format();
    const size_t key_start = f.arg_prefix.size();
    // The key ends at the first of the suffixes (a typed one holds the plain one's text).
    size_t key_end = text.find(f.arg_suffix, key_start);
    size_t suffix_size = f.arg_suffix.size();
    typed.reset();
    for (const auto & [suffix, raw_text] : f.typed_arg_suffixes) {
        const size_t at = text.find(suffix, key_start);
        if (at < key_end) {
            key_end = at;
            suffix_size = suffix.size();
            typed = raw_text ? ArgValueKind{true, 0} : ArgValueKind{false, ArgValueKind::any};
        }
    }
    if (key_end == npos) {
        return 0;
    }
    key.assign(trim(text.substr(key_start, key_end - key_start)));
    if (f.xml_escaped_keys) {
        key = xml_unescaped(key);
    }
    const size_t after_key = key_end + suffix_size;
    if (f.value_open.empty()) {
        return after_key;
    }
    const size_t open = skip_space(text, after_key);
    const int r = match_literal(text, open, f.value_open);
    if (r == 0 || open == text.size()) {
        return 0;
    }
    return r == 1 ? open + f.value_open.size() : after_key;
}

void TaggedArgsToolCalls::start_value(std::string_view key, const std::optional<ArgValueKind> & typed,
                                      ToolCallSink & sink) {
    // An argument the tool does not declare (the reference rejects it) is taken as text.
    kind_ = ArgValueKind{true, 0};
    if (typed) {
        kind_ = *typed;
    } else if (args_) {
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
        bool self_closed = false;
        const size_t n = match_header(header, name, self_closed);
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
        if (self_closed) {
            sink.arguments("{}");
            sink.end_call();
            return {Status::done, n - seed_.size()};
        }
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
                const size_t i = format().space_between_tags ? skip_space(rest, 0) : 0;
                const int arg = match_literal(rest, i, format().arg_prefix);
                const int end = match_literal(rest, i, format().call_end);
                if (arg == 1) {
                    used += i;
                    stage_ = Stage::arg_header;
                    continue;
                }
                if (end == 1) {
                    sink.arguments("}");
                    sink.end_call();
                    used += i + format().call_end.size();
                    if (format().call_close.empty()) {
                        return {Status::done, used};
                    }
                    stage_ = Stage::call_close;
                    continue;
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
                std::optional<ArgValueKind> typed;
                const size_t n = match_arg_header(rest.substr(0, longest_header), key, typed);
                if (n == 0) {
                    if (at_end || rest.size() > longest_header) {
                        return {Status::more, text.size()};  // a cut-off or runaway key: nothing more to read
                    }
                    return {Status::more, used};
                }
                start_value(key, typed, sink);
                used += n;
                stage_ = Stage::value_start;
                continue;
            }
            case Stage::value_start: {
                if (format().value_leading_newline && !rest.empty() && rest[0] == '\n') {
                    ++used;
                } else if (format().value_leading_newline && rest.empty() && !at_end) {
                    return {Status::more, used};
                }
                stage_ = Stage::value;
                continue;
            }
            case Stage::value: {
                const ValueEnd & value_end = value_ends_[spelling_];
                // An end marker that needs confirming and is not one is value text: the scan
                // goes on after it.
                size_t n = 0;
                int found = -1;
                bool undecided = false;
                for (size_t scan = 0;;) {
                    const auto m = value_end.matcher.find(rest.substr(scan));
                    n = scan + m.text_end;
                    if (m.marker < 0) {
                        break;
                    }
                    const size_t after = n + value_end.matcher.marker(m.marker).size();
                    const int c = value_end_confirmed(rest, after, value_end.confirmed_by[static_cast<size_t>(m.marker)], at_end);
                    if (c >= 0) {
                        found = c == 1 ? m.marker : -1;
                        undecided = c == 0;
                        break;
                    }
                    scan = after;
                }
                if (found < 0 && !undecided && !at_end) {
                    n -= incomplete_utf8_tail(rest.substr(0, n));
                }
                value_text(rest.substr(0, n), sink);
                if (found < 0) {
                    if (at_end && mode_ == ValueMode::undecided && !kind_.string) {
                        sink.arguments(undecided_);  // a cut-off JSON value is kept, as in the reference
                    }
                    // At the end, a held-back tail is a cut-off closing tag: the reference drops it.
                    return {Status::more, at_end ? text.size() : used + n};
                }
                end_value(sink);
                used += n + value_end.consumed[static_cast<size_t>(found)];
                stage_ = Stage::between_args;
                continue;
            }
            case Stage::call_close: {
                const size_t i = skip_space(rest, 0);
                const int r = match_literal(rest, i, format().call_close);
                if (r == 1) {
                    return {Status::done, used + i + format().call_close.size()};
                }
                if (r == 0 && !at_end) {
                    return {Status::more, used};  // may still be the closing tag
                }
                return {Status::done, used};
            }
        }
    }
}

}  // namespace pyllm::parse
