#include "kimi_tool_calls.h"

#include "literal_match.h"

namespace pyllm::parse {

namespace {

constexpr size_t npos = std::string_view::npos;
constexpr size_t longest_header = 1024;
constexpr std::string_view argument_begin = "<|tool_call_argument_begin|>";
constexpr std::string_view call_end = "<|tool_call_end|>";

}  // namespace

KimiToolCalls::KimiToolCalls(std::set<std::string> declared_tools) : declared_(std::move(declared_tools)) {}

void KimiToolCalls::begin(std::string_view /*start_marker*/) {
    stage_ = Stage::header;
    value_end_.reset();
}

size_t KimiToolCalls::match_header(std::string_view text, std::string & name, std::string & id) const {
    int r = match_literal(text, 0, "functions.");
    auto cut_or_fail = [&]() { return r == 0 ? size_t(0) : npos; };
    if (r == 0) return 0;
    // The id is functions.NAME:N; models also write a bare NAME:N.
    size_t pos = r == 1 ? 10 : 0;
    const size_t name_end = text.find(':', pos);
    if (name_end == npos) {
        return text.find('<', pos) == npos ? 0 : npos;
    }
    name.assign(text.substr(pos, name_end - pos));
    if (name.empty() || name.find_first_of(" \n\t<>") != std::string::npos) return npos;
    pos = name_end + 1;
    const size_t digits = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        ++pos;
    }
    if (pos == text.size()) return 0;
    if (pos == digits) return npos;
    id.assign(text.substr(0, pos));
    pos = skip_space(text, pos);  // "functions.f:0 <|tool_call_argument_begin|>" is seen too
    if ((r = match_literal(text, pos, argument_begin)) <= 0) return cut_or_fail();
    return pos + argument_begin.size();
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
            return {at_end ? Status::cut_off : Status::more, 0};
        }
        if (!declared_.count(name)) {
            return {Status::not_a_call, 0};
        }
        sink.start_call(name, id);
        stage_ = Stage::arguments;
        used = n;
    }
    if (stage_ == Stage::arguments) {
        // Cut off at the end: everything flushed, the call left open (it never ended).
        const auto passed = value_end_.pass_through(text.substr(used), at_end,
                                                    [&](std::string_view bytes) { sink.arguments(bytes); });
        used += passed.used;
        if (!passed.ended) {
            return {Status::more, used};
        }
        stage_ = Stage::tail;
    }
    // After the arguments: the optional call end marker, maybe after spacing.
    const size_t end_at = skip_space(text, used);
    if (end_at == text.size() && !at_end) {
        return {Status::more, used};
    }
    const int r = match_literal(text, end_at, call_end);
    if (r == 1) {
        used = end_at;
    }
    if (r == 0 && !at_end) {
        return {Status::more, used};
    }
    sink.end_call();
    return {Status::done, used + (r == 1 ? call_end.size() : 0)};
}

}  // namespace pyllm::parse
