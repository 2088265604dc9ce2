#include "kimi_tool_calls.h"

#include "literal_match.h"
#include "utf8_tail.h"

namespace pyllm::parse {

namespace {

constexpr size_t npos = std::string_view::npos;
constexpr size_t longest_header = 1024;
constexpr std::string_view argument_begin = "<|tool_call_argument_begin|>";
constexpr std::string_view call_end = "<|tool_call_end|>";

}  // namespace

KimiToolCalls::KimiToolCalls(std::set<std::string> declared_tools) : declared_(std::move(declared_tools)) {}

void KimiToolCalls::begin(std::string_view start_marker) {
    stage_ = Stage::header;
    need_call_begin_ = start_marker == section_begin;
    depth_ = 0;
    in_string_ = false;
    escaped_ = false;
}

size_t KimiToolCalls::match_header(std::string_view text, std::string & name, std::string & id) const {
    size_t pos = 0;
    int r = 1;
    auto cut_or_fail = [&]() { return r == 0 ? size_t(0) : npos; };
    if (need_call_begin_) {
        if ((r = match_literal(text, pos, call_begin)) <= 0) return cut_or_fail();
        pos += std::string_view(call_begin).size();
    }
    const size_t id_start = pos;
    if ((r = match_literal(text, pos, "functions.")) <= 0) return cut_or_fail();
    pos += 10;
    const size_t name_end = text.find(':', pos);
    if (name_end == npos) {
        return text.find('<', pos) == npos ? 0 : npos;
    }
    name.assign(text.substr(pos, name_end - pos));
    pos = name_end + 1;
    const size_t digits = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        ++pos;
    }
    if (pos == text.size()) return 0;
    if (pos == digits) return npos;
    id.assign(text.substr(id_start, pos - id_start));
    if ((r = match_literal(text, pos, argument_begin)) <= 0) return cut_or_fail();
    return pos + argument_begin.size();
}

// Bytes of `text` that belong to the arguments object; stage_ becomes tail at its last byte.
size_t KimiToolCalls::scan_arguments(std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        if (in_string_) {
            if (escaped_) {
                escaped_ = false;
            } else if (ch == '\\') {
                escaped_ = true;
            } else if (ch == '"') {
                in_string_ = false;
            }
            continue;
        }
        if (ch == '"') {
            in_string_ = true;
        } else if (ch == '{' || ch == '[') {
            ++depth_;
        } else if ((ch == '}' || ch == ']') && --depth_ <= 0) {
            stage_ = Stage::tail;
            return i + 1;
        }
    }
    return text.size() - incomplete_utf8_tail(text);
}

ToolCallSyntax::Step KimiToolCalls::consume(std::string_view text, bool at_end, ToolCallSink & sink) {
    size_t used = 0;
    if (stage_ == Stage::header) {
        std::string name;
        std::string id;
        const size_t n = match_header(text.substr(0, longest_header), name, id);
        if (n == npos || (n == 0 && text.size() > longest_header)) {
            return {Status::not_a_call, 0};
        }
        if (n == 0) {
            // A header cut off by the end of the output: the reference drops the call whole.
            return {Status::more, at_end ? text.size() : 0};
        }
        if (!declared_.count(name)) {
            return {Status::not_a_call, 0};
        }
        sink.start_call(name, id);
        stage_ = Stage::arguments;
        used = n;
    }
    if (stage_ == Stage::arguments) {
        size_t n = scan_arguments(text.substr(used));
        if (at_end && stage_ == Stage::arguments) {
            n = text.size() - used;  // a held-back partial character is flushed at the end
        }
        sink.arguments(text.substr(used, n));
        used += n;
        if (stage_ == Stage::arguments) {
            return {Status::more, used};  // at the end: cut off inside the arguments, left open
        }
    }
    // After the arguments: the optional call end marker.
    const int r = match_literal(text, used, call_end);
    if (r == 0 && !at_end) {
        return {Status::more, used};
    }
    sink.end_call();
    return {Status::done, used + (r == 1 ? call_end.size() : 0)};
}

}  // namespace pyllm::parse
