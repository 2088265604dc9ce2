#include "gemma4_tool_calls.h"

#include "chat.h"
#include "json_escape.h"
#include "literal_match.h"
#include "utf8_tail.h"

namespace pyllm::parse {

namespace {

constexpr size_t npos = std::string_view::npos;
// A header, key or bare scalar longer than this is not one.
constexpr size_t longest_token = 1024;
constexpr std::string_view call_prefix = "call:";
constexpr std::string_view quote = "<|\"|>";
constexpr std::string_view call_end = "<tool_call|>";

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

bool ends_scalar(char c) { return c == ',' || c == '}' || c == ']' || c == '<' || is_space(c); }

}  // namespace

Gemma4ToolCalls::Gemma4ToolCalls(std::set<std::string> declared_tools) : declared_(std::move(declared_tools)) {}

void Gemma4ToolCalls::begin(std::string_view /*start_marker*/) {
    stage_ = Stage::header;
    open_.clear();
    pending_.clear();
    comma_ = false;
    awaiting_value_ = false;
}

size_t Gemma4ToolCalls::match_header(std::string_view text, std::string & name) const {
    const int r = match_literal(text, 0, call_prefix);
    if (r <= 0) {
        return r == 0 ? 0 : npos;
    }
    const size_t open = text.find('{', call_prefix.size());
    const std::string_view candidate = text.substr(call_prefix.size(), open - call_prefix.size());
    for (const char c : candidate) {
        if (is_space(c) || c == '<' || c == '>' || c == '"' || c == '}') {
            return npos;  // not a tool name
        }
    }
    if (open == npos) {
        return 0;
    }
    if (candidate.empty()) {
        return npos;
    }
    name.assign(candidate);
    return open;  // the arguments' '{' is read as their first value
}

void Gemma4ToolCalls::separate(ToolCallSink & sink) {
    if (comma_) {
        sink.arguments(",");
        comma_ = false;
    }
}

void Gemma4ToolCalls::end_scalar(ToolCallSink & sink) {
    const std::string_view text = trim(pending_);
    std::string out;
    if (text == "True" || text == "False" || text == "None") {
        out = text == "True" ? "true" : text == "False" ? "false" : "null";  // Python spellings
    } else if (const auto v = common_json::parse_no_throw(std::string(text));
               !v.is_discarded() && (v.is_number() || v.is_boolean() || v.is_null())) {
        out.assign(text);
    } else {
        out = "\"";  // not a JSON scalar: the text, as a string
        append_json_escaped(out, text);
        out += '"';
    }
    sink.arguments(out);
    pending_.clear();
    awaiting_value_ = false;
}

void Gemma4ToolCalls::close_container(ToolCallSink & sink) {
    sink.arguments(open_.back() == '{' ? "}" : "]");
    open_.pop_back();
    comma_ = false;  // a trailing comma is dropped
    stage_ = open_.empty() ? Stage::call_end : Stage::after_value;
}

void Gemma4ToolCalls::close_all(ToolCallSink & sink) {
    if (stage_ == Stage::scalar && !pending_.empty()) {
        end_scalar(sink);
    } else if (stage_ == Stage::string) {
        sink.arguments("\"");
        awaiting_value_ = false;
    }
    if (awaiting_value_) {
        sink.arguments("null");
        awaiting_value_ = false;
    }
    while (!open_.empty()) {
        close_container(sink);
    }
}

ToolCallSyntax::Step Gemma4ToolCalls::consume(std::string_view text, bool at_end, ToolCallSink & sink) {
    size_t used = 0;
    if (stage_ == Stage::header) {
        std::string name;
        const size_t n = match_header(text.substr(0, longest_token), name);
        if (n == npos || (n == 0 && text.size() > longest_token)) {
            return {Status::not_a_call, 0};
        }
        if (n == 0) {
            return {at_end ? Status::cut_off : Status::more, 0};
        }
        if (!declared_.count(name)) {
            return {Status::not_a_call, 0};
        }
        sink.start_call(name, {});
        used = n;
        stage_ = Stage::value;
    }
    // After the arguments: the call's end marker, if written.
    auto end_of_call = [&]() {
        const std::string_view rest = text.substr(used);
        const size_t i = skip_space(rest, 0);
        const int r = match_literal(rest, i, call_end);
        if (r == 0 && !at_end) {
            return Step{Status::more, used};  // may still be <tool_call|>
        }
        sink.end_call();
        // At the end, a cut-off <tool_call|> is dropped with the call's end.
        return Step{Status::done, used + (r == 1 ? i + call_end.size() : r == 0 ? rest.size() : 0)};
    };
    // Reading stopped making sense at `used`: the arguments are closed there and the call ends
    // (with its end marker, if that is what follows); any other rest is text.
    auto malformed = [&]() {
        close_all(sink);
        stage_ = Stage::call_end;
        return end_of_call();
    };
    while (true) {
        const std::string_view rest = text.substr(used);
        switch (stage_) {
            case Stage::header:
                return {Status::more, used};
            case Stage::key: {
                const size_t colon = rest.find(':');
                const std::string_view part = rest.substr(0, colon);
                const size_t bad = part.find_first_of("}<{[]\"");
                const std::string joined = pending_ + std::string(part.substr(0, bad));
                const std::string_view key = trim(joined);
                if (bad != npos && key.empty() && rest[bad] == '}') {
                    used += bad + 1;  // {} or a trailing comma before the close
                    close_container(sink);
                    continue;
                }
                if (bad != npos || pending_.size() + part.size() > longest_token) {
                    used += bad == npos ? 0 : bad;
                    pending_.clear();
                    return malformed();
                }
                if (colon == npos) {
                    pending_.append(part);
                    return {Status::more, text.size()};
                }
                std::string out;
                if (comma_) {
                    out = ",";
                    comma_ = false;
                }
                out += common_json::make(std::string(key)).dump();
                out += ':';
                sink.arguments(out);
                pending_.clear();
                awaiting_value_ = true;
                used += colon + 1;
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
                if (c == '<') {
                    const int r = match_literal(rest, i, quote);
                    if (r == 0) {
                        return {Status::more, at_end ? text.size() : used};
                    }
                    if (r < 0) {
                        return malformed();
                    }
                    separate(sink);
                    sink.arguments("\"");
                    used += quote.size();
                    stage_ = Stage::string;
                    continue;
                }
                if (c == '{' || c == '[') {
                    separate(sink);
                    sink.arguments(std::string(1, c));
                    open_.push_back(c);
                    awaiting_value_ = false;
                    ++used;
                    stage_ = c == '{' ? Stage::key : Stage::value;
                    continue;
                }
                if (c == ']' && !open_.empty() && open_.back() == '[' && !awaiting_value_) {
                    ++used;  // [] or a trailing comma before the close
                    close_container(sink);
                    continue;
                }
                if (ends_scalar(c) || open_.empty()) {
                    return malformed();
                }
                separate(sink);
                stage_ = Stage::scalar;
                continue;
            }
            case Stage::string: {
                const auto m = quote_.find(rest);
                size_t n = m.text_end;
                if (m.marker < 0 && !at_end) {
                    n -= incomplete_utf8_tail(rest.substr(0, n));
                }
                std::string out;
                append_json_escaped(out, rest.substr(0, n));
                if (m.marker >= 0) {
                    out += '"';
                }
                sink.arguments(out);
                if (m.marker < 0) {
                    // Cut off at the end: the call stays open (its arguments never completed).
                    return {Status::more, at_end ? text.size() : used + n};
                }
                used += n + quote.size();
                awaiting_value_ = false;
                stage_ = Stage::after_value;
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
                if (c == ',') {
                    ++used;
                    comma_ = true;
                    stage_ = open_.back() == '{' ? Stage::key : Stage::value;
                    continue;
                }
                if ((c == '}' && open_.back() == '{') || (c == ']' && open_.back() == '[')) {
                    ++used;
                    close_container(sink);
                    continue;
                }
                return malformed();
            }
            case Stage::call_end:
                return end_of_call();
        }
    }
}

}  // namespace pyllm::parse
