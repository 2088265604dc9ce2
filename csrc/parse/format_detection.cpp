#include "format_detection.h"

#include "chat_layout.h"
#include "hermes_tool_calls.h"
#include "tagged_stream_parser.h"

namespace pyllm::parse {

namespace {

// <tool_call>{"name": ..., "arguments": ...}</tool_call>, as the reference reads it.
bool is_hermes_layout(const ChatLayout & layout) {
    return layout.content_until.size() == 1 && layout.content_until[0].rfind("<tool_call>", 0) == 0 &&
           layout.literals.count("</tool_call>") && layout.literals.count("\"name\"") &&
           layout.literals.count("\"arguments\"") && layout.rules.count("tool-call") &&
           !layout.literals.count("<function=");
}

}  // namespace

std::optional<NativeParser> make_native_parser(const common_chat_params & params,
                                               const std::vector<common_chat_tool> & tools) {
    if (params.format != COMMON_CHAT_FORMAT_CONTENT_ONLY && params.format != COMMON_CHAT_FORMAT_PEG_NATIVE &&
        params.format != COMMON_CHAT_FORMAT_PEG_SIMPLE) {
        return std::nullopt;
    }
    std::optional<ChatLayout> layout;
    if (params.parser.empty()) {
        layout = ChatLayout{};  // no parser: the reference takes the whole output as content
    } else {
        layout = read_chat_layout(params);
    }
    if (!layout) {
        return std::nullopt;
    }
    if (tools.empty() || layout->content_until.empty()) {
        if (!layout->content_until.empty()) {
            return std::nullopt;
        }
        return NativeParser{std::make_unique<TaggedStreamParser>(*layout, nullptr), "think"};
    }
    if (is_hermes_layout(*layout)) {
        std::set<std::string> names;
        for (const auto & tool : tools) {
            names.insert(tool.name);
        }
        auto calls = std::make_unique<HermesToolCalls>(std::move(names), "</tool_call>");
        return NativeParser{std::make_unique<TaggedStreamParser>(*layout, std::move(calls)), "hermes"};
    }
    return std::nullopt;
}

}  // namespace pyllm::parse
