#include "reference_parser.h"

#include <stdexcept>

#include "tool_call_id.h"

namespace pyllm::parse {

common_chat_parser_params reference_parser_params(const common_chat_params & params, bool extract_reasoning) {
    common_chat_parser_params p(params);
    p.reasoning_format = extract_reasoning ? COMMON_REASONING_FORMAT_DEEPSEEK : COMMON_REASONING_FORMAT_NONE;
    if (!params.parser.empty()) {
        p.parser.load(params.parser);
    }
    return p;
}

common_chat_msg reference_parse(const std::string & text, bool is_partial, const common_chat_parser_params & params,
                                bool * rejected) {
    if (rejected) {
        *rejected = false;
    }
    if (!is_partial) {
        try {
            return common_chat_parse(text, false, params);
        } catch (const std::runtime_error &) {
            if (rejected) {
                *rejected = true;
            }
        }
    }
    // llama.cpp's partial parse also throws for some output no prefix of its format can
    // become: mid-stream nothing is sent yet; at the end the output is kept as content.
    try {
        return common_chat_parse(text, true, params);
    } catch (const std::runtime_error &) {
        common_chat_msg msg;
        if (!is_partial) {
            msg.content = text;
        }
        return msg;
    }
}

ReferenceParser::ReferenceParser(common_chat_parser_params params) : params_(std::move(params)) {}

namespace {

// The part of `now` beyond `sent`, or nothing when `now` no longer starts with `sent`.
std::string_view growth(const std::string & sent, const std::string & now) {
    if (now.size() <= sent.size() || now.compare(0, sent.size(), sent) != 0) {
        return {};
    }
    return std::string_view(now).substr(sent.size());
}

}  // namespace

void ReferenceParser::emit_growth(const common_chat_msg & msg, bool final, bool last_call_complete, StreamEvents & out) {
    if (auto d = growth(sent_.reasoning_content, msg.reasoning_content); !d.empty()) {
        out.push_back({StreamEventKind::reasoning, std::string(d)});
        sent_.reasoning_content.append(d);
    }
    if (auto d = growth(sent_.content, msg.content); !d.empty()) {
        out.push_back({StreamEventKind::content, std::string(d)});
        sent_.content.append(d);
    }
    for (size_t i = 0; i < msg.tool_calls.size(); ++i) {
        const auto & call = msg.tool_calls[i];
        if (i == sent_.tool_calls.size()) {
            // A name can still grow in a partial parse; it is sent once the call's arguments
            // have begun (the name is then complete) or the output is complete.
            if (call.name.empty() || (!final && call.arguments.empty())) {
                break;
            }
            common_chat_tool_call started;
            started.name = call.name;
            started.id = call.id.empty() ? new_tool_call_id() : call.id;
            out.push_back({StreamEventKind::tool_call_start, {}, i, started.id, started.name});
            sent_.tool_calls.push_back(std::move(started));
        }
        auto & sent_call = sent_.tool_calls[i];
        if (sent_call.name != call.name) {
            continue;
        }
        if (auto d = growth(sent_call.arguments, call.arguments); !d.empty()) {
            out.push_back({StreamEventKind::tool_args, std::string(d), i});
            sent_call.arguments.append(d);
        }
    }
    // A call is over once a later one has begun, or at the end of the output.
    size_t ended_up_to = sent_.tool_calls.empty() ? 0 : sent_.tool_calls.size() - 1;
    if (final && last_call_complete) {
        ended_up_to = sent_.tool_calls.size();
    }
    for (; calls_ended_ < ended_up_to; ++calls_ended_) {
        out.push_back({StreamEventKind::tool_call_end, {}, calls_ended_});
    }
}

void ReferenceParser::feed(std::string_view text, StreamEvents & out) {
    if (finished_ || text.empty()) {
        return;
    }
    text_.append(text);
    emit_growth(reference_parse(text_, true, params_), false, false, out);
}

void ReferenceParser::finish(StreamEvents & out) {
    if (finished_) {
        return;
    }
    finished_ = true;
    bool rejected = false;
    auto msg = reference_parse(text_, false, params_, &rejected);
    // A rejected final parse is a truncated or malformed output: its last call never closed.
    emit_growth(msg, true, !rejected, out);
}

}  // namespace pyllm::parse
