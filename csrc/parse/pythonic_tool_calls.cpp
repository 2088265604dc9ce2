#include "pythonic_tool_calls.h"

#include "chat.h"
#include "json_escape.h"
#include "literal_match.h"
#include "utf8_tail.h"

namespace pyllm::parse {

namespace {

constexpr size_t npos = std::string_view::npos;
// A call name or bare scalar longer than this is not one.
constexpr size_t longest_token = 1024;

bool is_identifier_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_identifier_char(char c) { return is_identifier_start(c) || (c >= '0' && c <= '9'); }
bool is_name_char(char c) { return is_identifier_char(c) || c == '.' || c == '-'; }
bool ends_scalar(char c) {
    return c == ',' || c == ')' || c == ']' || c == '}' || c == ':' || c == '<' || is_space(c);
}
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// The escape sequence at `text` (which starts with a backslash) as JSON string text: bytes of
// `text` it takes, 0 when it is cut off.
size_t python_escape(std::string_view text, std::string & out) {
    if (text.size() < 2) {
        return 0;
    }
    const char c = text[1];
    switch (c) {
        case 'n': out += "\\n"; return 2;
        case 't': out += "\\t"; return 2;
        case 'r': out += "\\r"; return 2;
        case 'b': out += "\\b"; return 2;
        case 'f': out += "\\f"; return 2;
        case '\\': out += "\\\\"; return 2;
        case '"': out += "\\\""; return 2;
        case '\'': out += '\''; return 2;
        case '\n': return 2;  // a line continuation
        case 'u':
        case 'x': {
            const size_t digits = c == 'u' ? 4 : 2;
            if (text.size() < 2 + digits) {
                return 0;
            }
            for (size_t i = 2; i < 2 + digits; ++i) {
                if (!is_hex(text[i])) {
                    out += "\\\\";  // not an escape after all: the backslash is text
                    return 1;
                }
            }
            out += c == 'u' ? "\\u" : "\\u00";
            out.append(text.substr(2, digits));
            return 2 + digits;
        }
        default:
            out += "\\\\";  // Python keeps an unknown escape's backslash
            return 1;
    }
}

}  // namespace

PythonicToolCalls::PythonicToolCalls(std::set<std::string> declared_tools, std::string list_marker,
                                     std::string end_marker)
    : declared_(std::move(declared_tools)), list_marker_(std::move(list_marker)), end_marker_(std::move(end_marker)) {}

void PythonicToolCalls::begin(std::string_view start_marker) {
    wrapped_ = start_marker != list_marker_;
    stage_ = wrapped_ ? Stage::list_open : Stage::call_name;
    calls_ = 0;
    open_.clear();
    pending_.clear();
    comma_ = false;
    dict_key_ = false;
    awaiting_value_ = false;
}

size_t PythonicToolCalls::match_call_name(std::string_view text, std::string & name) {
    const size_t start = skip_space(text, 0);
    if (start == text.size()) {
        return 0;
    }
    if (!is_identifier_start(text[start])) {
        return npos;
    }
    size_t pos = start;
    while (pos < text.size() && is_name_char(text[pos])) {
        ++pos;
    }
    if (pos == text.size()) {
        return 0;
    }
    if (text[pos] != '(') {
        return npos;
    }
    name.assign(text.substr(start, pos - start));
    return pos + 1;
}

void PythonicToolCalls::separate(ToolCallSink & sink) {
    if (comma_) {
        sink.arguments(",");
        comma_ = false;
    }
}

void PythonicToolCalls::open(char container, ToolCallSink & sink) {
    separate(sink);
    sink.arguments(container == '{' || container == 'c' ? "{" : "[");
    open_.push_back(container);
    awaiting_value_ = false;
    dict_key_ = container == '{';
    stage_ = container == 'c' ? Stage::kwarg : Stage::value;
}

void PythonicToolCalls::close_container(ToolCallSink & sink) {
    const char container = open_.back();
    open_.pop_back();
    sink.arguments(container == '{' || container == 'c' ? "}" : "]");
    comma_ = false;  // a trailing comma is dropped
    dict_key_ = false;
    awaiting_value_ = false;
    if (container == 'c') {
        sink.end_call();
        stage_ = Stage::after_call;
    } else {
        stage_ = Stage::after_value;
    }
}

void PythonicToolCalls::end_scalar(ToolCallSink & sink) {
    const std::string_view text = trim(pending_);
    std::string out;
    if (text == "True" || text == "False" || text == "None") {
        out = text == "True" ? "true" : text == "False" ? "false" : "null";
    } else if (const auto v = common_json::parse_no_throw(std::string(text));
               !dict_key_ && !v.is_discarded() && (v.is_number() || v.is_boolean() || v.is_null())) {
        out.assign(text);
    } else {
        out = "\"";  // not a JSON scalar (or a dict key, which JSON quotes): the text, as a string
        append_json_escaped(out, text);
        out += '"';
    }
    if (dict_key_ && out[0] != '"') {
        out = '"' + out + '"';
    }
    sink.arguments(out);
    pending_.clear();
    awaiting_value_ = false;
}

void PythonicToolCalls::close_all(ToolCallSink & sink) {
    if (stage_ == Stage::scalar && !pending_.empty()) {
        end_scalar(sink);
    } else if (stage_ == Stage::string) {
        sink.arguments("\"");
        awaiting_value_ = false;
    }
    if (dict_key_ && !open_.empty() && open_.back() == '{' && stage_ == Stage::after_value) {
        sink.arguments(":null");  // a dict key without its value
    } else if (awaiting_value_) {
        sink.arguments("null");
    }
    while (!open_.empty()) {
        close_container(sink);
    }
}

ToolCallSyntax::Step PythonicToolCalls::consume(std::string_view text, bool at_end, ToolCallSink & sink) {
    size_t used = 0;
    // Reading stopped making sense at `used`: the call (if any) is closed there, the rest is text.
    auto malformed = [&]() {
        if (open_.empty() && calls_ == 0) {
            return Step{Status::not_a_call, 0};
        }
        close_all(sink);
        return Step{Status::done, used};
    };
    while (true) {
        const std::string_view rest = text.substr(used);
        switch (stage_) {
            case Stage::list_open: {
                const size_t i = skip_space(rest, 0);
                if (i == rest.size()) {
                    return {at_end ? Status::cut_off : Status::more, used};
                }
                if (rest[i] != '[') {
                    return {Status::not_a_call, 0};
                }
                used += i + 1;
                stage_ = Stage::call_name;
                continue;
            }
            case Stage::call_name: {
                std::string name;
                const size_t n = match_call_name(rest.substr(0, longest_token), name);
                if (n == 0 && !at_end && rest.size() <= longest_token) {
                    if (calls_ == 0) {
                        // Nothing is taken before the first call is known: the text stays
                        // whole for the content if it is not one.
                        stage_ = wrapped_ ? Stage::list_open : Stage::call_name;
                        return {Status::more, 0};
                    }
                    return {Status::more, used};
                }
                if (n == 0 || n == npos || !declared_.count(name)) {
                    if (calls_ == 0) {
                        return {n == 0 && at_end ? Status::cut_off : Status::not_a_call, 0};
                    }
                    // A cut-off call is dropped; anything else is not another call: text.
                    return {Status::done, n == 0 && at_end ? text.size() : used};
                }
                sink.start_call(name, {});
                ++calls_;
                used += n;
                open('c', sink);
                continue;
            }
            case Stage::kwarg: {
                const size_t i = skip_space(rest, 0);
                if (i == rest.size()) {
                    return {Status::more, text.size()};
                }
                if (rest[i] == ')') {
                    used += i + 1;
                    close_container(sink);
                    continue;
                }
                size_t end = i;
                while (end < rest.size() && is_identifier_char(rest[end])) {
                    ++end;
                }
                const size_t eq = skip_space(rest, end);
                if (eq == rest.size() && rest.size() <= longest_token) {
                    // Cut off at the end: the call stays open (its arguments never completed).
                    return {Status::more, at_end ? text.size() : used};
                }
                if (end == i || eq == rest.size() || rest[eq] != '=') {
                    used += i;
                    return malformed();
                }
                std::string out;
                if (comma_) {
                    out = ",";
                    comma_ = false;
                }
                out += common_json::make(std::string(rest.substr(i, end - i))).dump();
                out += ':';
                sink.arguments(out);
                awaiting_value_ = true;
                used += eq + 1;
                stage_ = Stage::value;
                continue;
            }
            case Stage::value: {
                const size_t i = skip_space(rest, 0);
                if (i == rest.size()) {
                    return {Status::more, text.size()};
                }
                used += i;
                const char c = rest[i];
                if (c == '\'' || c == '"') {
                    separate(sink);
                    sink.arguments("\"");
                    quote_ = c;
                    ++used;
                    stage_ = Stage::string;
                    continue;
                }
                if (c == '{' || c == '[' || c == '(') {
                    if (dict_key_) {
                        return malformed();  // not a key JSON can have
                    }
                    ++used;
                    open(c == '(' ? 't' : c, sink);
                    continue;
                }
                const char top = open_.back();
                const bool closes = (c == '}' && top == '{' && dict_key_) || (c == ']' && top == '[') || (c == ')' && top == 't');
                if (closes && !awaiting_value_) {
                    ++used;  // empty, or a trailing comma before the close
                    close_container(sink);
                    continue;
                }
                if (ends_scalar(c)) {
                    return malformed();
                }
                separate(sink);
                stage_ = Stage::scalar;
                continue;
            }
            case Stage::string: {
                std::string out;
                size_t n = 0;
                bool closed = false;
                while (n < rest.size()) {
                    const size_t stop = rest.find_first_of(quote_ == '\'' ? "'\\" : "\"\\", n);
                    const size_t plain_end = stop == npos ? rest.size() : stop;
                    size_t plain = plain_end - n;
                    if (stop == npos && !at_end) {
                        plain -= incomplete_utf8_tail(rest.substr(n, plain));
                    }
                    append_json_escaped(out, rest.substr(n, plain));
                    n += plain;
                    if (stop == npos) {
                        break;
                    }
                    if (rest[stop] == quote_) {
                        out += '"';
                        n = stop + 1;
                        closed = true;
                        break;
                    }
                    const size_t k = python_escape(rest.substr(stop), out);
                    if (k == 0) {
                        break;  // a cut-off escape: offered again with more text
                    }
                    n = stop + k;
                }
                sink.arguments(out);
                used += n;
                if (!closed) {
                    // Cut off at the end: the call stays open (its arguments never completed).
                    return {Status::more, at_end ? text.size() : used};
                }
                stage_ = Stage::after_value;
                if (!dict_key_) {
                    awaiting_value_ = false;
                }
                continue;
            }
            case Stage::scalar: {
                size_t n = 0;
                while (n < rest.size() && !ends_scalar(rest[n])) {
                    ++n;
                }
                pending_.append(rest.substr(0, n));
                used += n;
                if (n == rest.size()) {
                    if (pending_.size() > longest_token) {
                        return malformed();
                    }
                    return {Status::more, text.size()};  // cut off at the end: the call stays open
                }
                end_scalar(sink);
                stage_ = Stage::after_value;
                continue;
            }
            case Stage::after_value: {
                const size_t i = skip_space(rest, 0);
                if (i == rest.size()) {
                    return {Status::more, text.size()};
                }
                used += i;
                const char c = rest[i];
                const char top = open_.back();
                if (dict_key_) {
                    if (c != ':') {
                        return malformed();
                    }
                    ++used;
                    sink.arguments(":");
                    dict_key_ = false;
                    awaiting_value_ = true;
                    stage_ = Stage::value;
                    continue;
                }
                if (c == ',') {
                    ++used;
                    comma_ = true;
                    dict_key_ = top == '{';
                    stage_ = top == 'c' ? Stage::kwarg : Stage::value;
                    continue;
                }
                if ((c == '}' && top == '{') || (c == ']' && top == '[') || (c == ')' && (top == 't' || top == 'c'))) {
                    ++used;
                    close_container(sink);
                    continue;
                }
                return malformed();
            }
            case Stage::after_call: {
                const size_t i = skip_space(rest, 0);
                if (i == rest.size()) {
                    if (at_end) {
                        return {Status::done, text.size()};  // the list's ']' cut off: its calls are whole
                    }
                    return {Status::more, used};
                }
                if (rest[i] == ',') {
                    used += i + 1;
                    stage_ = Stage::call_name;
                    continue;
                }
                if (rest[i] != ']') {
                    return {Status::done, used};  // not the list's shape: the rest is text
                }
                used += i + 1;
                if (!wrapped_ || end_marker_.empty()) {
                    return {Status::done, used};
                }
                stage_ = Stage::end_marker;
                continue;
            }
            case Stage::end_marker: {
                const size_t i = skip_space(rest, 0);
                const int r = match_literal(rest, i, end_marker_);
                if (r == 0 && !at_end) {
                    return {Status::more, used};
                }
                return {Status::done, used + (r == 1 ? i + end_marker_.size() : r == 0 ? rest.size() : 0)};
            }
        }
    }
}

}  // namespace pyllm::parse
