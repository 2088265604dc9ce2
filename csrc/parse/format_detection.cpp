#include "format_detection.h"

#include <algorithm>

#include "chat_layout.h"
#include "hermes_tool_calls.h"
#include "kimi_tool_calls.h"
#include "tagged_args_tool_calls.h"
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

bool has_call_marker(const ChatLayout & layout, const std::string & marker) {
    return std::find(layout.content_until.begin(), layout.content_until.end(), marker) != layout.content_until.end();
}

// Qwen3-Coder / Qwen3.5 / Nemotron-3: <tool_call>\n<function=NAME>\n<parameter=KEY>\n...
// (Qwen3-Coder may also open a call with a bare <function=NAME>, another content marker).
std::optional<TaggedCallFormat> qwen3_coder_format(const ChatLayout & layout) {
    if (!has_call_marker(layout, "<tool_call>") || !layout.literals.count("<function=") ||
        !layout.literals.count("\n</parameter>\n") || !layout.literals.count("</function>\n")) {
        return std::nullopt;
    }
    return TaggedCallFormat{"\n", "<function=", ">\n", "<parameter=", ">\n", "\n</parameter>\n",
                            "</function>\n</tool_call>", false};
}

// GLM-4.5/4.6: <tool_call>NAME\n<arg_key>K</arg_key>\n<arg_value>V</arg_value>\n</tool_call>;
// GLM-4.7 writes the same without the newlines.
std::optional<TaggedCallFormat> glm_format(const ChatLayout & layout) {
    if (layout.content_until != std::vector<std::string>{"<tool_call>"} || !layout.literals.count("<arg_key>") ||
        !layout.literals.count("<arg_value>") || !layout.literals.count("</tool_call>")) {
        return std::nullopt;
    }
    const bool newlines = layout.literals.count("</arg_key>\n") > 0;
    return TaggedCallFormat{"", "", newlines ? "\n" : "", "<arg_key>",
                            newlines ? "</arg_key>\n<arg_value>" : "</arg_key><arg_value>",
                            newlines ? "</arg_value>\n" : "</arg_value>", "</tool_call>", true};
}

// MiniMax-M2: <minimax:tool_call>\n<invoke name="NAME">\n<parameter name="K">V</parameter>\n
// </invoke>\n...</minimax:tool_call>, several invokes in one section.
std::optional<TaggedCallFormat> minimax_m2_format(const ChatLayout & layout) {
    if (layout.content_until != std::vector<std::string>{"<minimax:tool_call>\n"} ||
        !layout.literals.count("<invoke name=\"") || !layout.literals.count("<parameter name=\"") ||
        !layout.literals.count("</parameter>\n")) {
        return std::nullopt;
    }
    return TaggedCallFormat{"", "<invoke name=\"", "\">\n", "<parameter name=\"", "\">", "</parameter>\n",
                            "</invoke>", true};
}

bool is_kimi_k2_layout(const ChatLayout & layout) {
    return layout.content_until ==
               std::vector<std::string>{KimiToolCalls::section_begin, KimiToolCalls::call_begin} &&
           layout.literals.count("<|tool_call_argument_begin|>") && layout.literals.count("functions.");
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
    if (auto format = qwen3_coder_format(*layout)) {
        auto calls = std::make_unique<TaggedArgsToolCalls>(std::move(*format), layout->arg_kinds);
        return NativeParser{std::make_unique<TaggedStreamParser>(*layout, std::move(calls)), "qwen3-coder"};
    }
    if (auto format = glm_format(*layout)) {
        auto calls = std::make_unique<TaggedArgsToolCalls>(std::move(*format), layout->arg_kinds);
        return NativeParser{std::make_unique<TaggedStreamParser>(*layout, std::move(calls)), "glm"};
    }
    if (auto format = minimax_m2_format(*layout)) {
        auto calls = std::make_unique<TaggedArgsToolCalls>(std::move(*format), layout->arg_kinds);
        // The reference separates invokes with ", "; the model writes them on new lines.
        CallSection section{{"<invoke name=\"", ", <invoke name=\""}, {"</minimax:tool_call>"}};
        return NativeParser{std::make_unique<TaggedStreamParser>(*layout, std::move(calls), section), "minimax-m2"};
    }
    if (is_kimi_k2_layout(*layout)) {
        std::set<std::string> names;
        for (const auto & tool : tools) {
            names.insert(tool.name);
        }
        auto calls = std::make_unique<KimiToolCalls>(std::move(names));
        CallSection section{{KimiToolCalls::call_begin}, {KimiToolCalls::section_end}};
        return NativeParser{std::make_unique<TaggedStreamParser>(*layout, std::move(calls), section), "kimi-k2"};
    }
    return std::nullopt;
}

}  // namespace pyllm::parse
