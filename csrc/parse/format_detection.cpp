#include "format_detection.h"

#include "chat_layout.h"
#include "harmony_stream_parser.h"
#include "hermes_tool_calls.h"
#include "tagged_json_tool_calls.h"
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

std::set<std::string> declared_names(const std::vector<common_chat_tool> & tools) {
    std::set<std::string> names;
    for (const auto & tool : tools) {
        names.insert(tool.name);
    }
    return names;
}

// DeepSeek-R1 / V3.1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>...<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>,
// R1 calls as `function<｜tool▁sep｜>NAME\n```json\n{...}\n```` and V3.1 as `NAME<｜tool▁sep｜>{...}`.
std::optional<NativeParser> make_deepseek_parser(const ChatLayout & layout, const std::vector<common_chat_tool> & tools) {
    static const std::string section_start = "<｜tool▁calls▁begin｜>", section_end = "<｜tool▁calls▁end｜>",
                             call_start = "<｜tool▁call▁begin｜>", call_end = "<｜tool▁call▁end｜>",
                             sep = "<｜tool▁sep｜>", r1_fence = "\n```json\n";
    const auto & lit = layout.literals;
    if (layout.content_until != std::vector<std::string>{section_start} || !lit.count(section_end) ||
        !lit.count(call_end) || !layout.rules.count("tool-calls")) {
        return std::nullopt;
    }
    TaggedJsonCallLayout call;
    call.call_end = call_end;
    if (lit.count(r1_fence) && (lit.count(sep) || lit.count("function" + sep))) {
        // The template's "function" type sits in the call start or in the name prefix: same text.
        call.name_prefix = "function" + sep;
        call.name_suffix = r1_fence;
    } else if (lit.count(sep) && lit.count(call_start)) {
        call.name_suffix = sep;
    } else {
        return std::nullopt;
    }
    auto calls = std::make_unique<TaggedJsonToolCalls>(declared_names(tools), std::move(call));
    ToolSection section{section_start, call_start, section_end};
    return NativeParser{std::make_unique<TaggedStreamParser>(layout, std::move(calls), std::move(section)), "deepseek"};
}

// Devstral / Ministral / Magistral: [TOOL_CALLS]NAME[ARGS]{...}, repeated for parallel calls;
// Mistral-Small-3.2: [TOOL_CALLS]NAME[CALL_ID]id[ARGS]{...}. For the latter, the parser
// llama.cpp builds here expects NAME[ARGS][CALL_ID]id[ARGS] and rejects the template's own
// output, dropping the whole message; the native module reads the template's format, which
// is what llama.cpp's own tests (test-chat.cpp) expect its parser to read.
std::optional<NativeParser> make_mistral_parser(const ChatLayout & layout, const std::vector<common_chat_tool> & tools) {
    if (layout.content_until != std::vector<std::string>{"[TOOL_CALLS]"} || !layout.literals.count("[ARGS]") ||
        !layout.rules.count("tool-call")) {
        return std::nullopt;
    }
    TaggedJsonCallLayout call{"", "[ARGS]", layout.literals.count("[CALL_ID]") ? "[CALL_ID]" : "", ""};
    auto calls = std::make_unique<TaggedJsonToolCalls>(declared_names(tools), std::move(call));
    return NativeParser{std::make_unique<TaggedStreamParser>(layout, std::move(calls)), "mistral"};
}

// Mistral Nemo: [TOOL_CALLS][{"name": ..., "arguments": {...}, "id": ...}, ...]; ids come after
// the arguments, so the streamed calls carry made ids (as the reference's stream does).
std::optional<NativeParser> make_mistral_nemo_parser(const ChatLayout & layout,
                                                     const std::vector<common_chat_tool> & tools) {
    if (layout.content_until != std::vector<std::string>{"[TOOL_CALLS]"} || !layout.literals.count("[") ||
        !layout.literals.count("]") || !layout.literals.count("\"arguments\"") || !layout.literals.count("\"id\"") ||
        !layout.rules.count("tool-call")) {
        return std::nullopt;
    }
    auto calls = std::make_unique<HermesToolCalls>(declared_names(tools), "]", "arguments", false, true);
    return NativeParser{std::make_unique<TaggedStreamParser>(layout, std::move(calls)), "mistral"};
}

// Llama 3.x: bare {"name": ..., "parameters": {...}} objects after the content, separated by
// commas; the content ends at the first "{".
std::optional<NativeParser> make_llama3_parser(const ChatLayout & layout, const std::vector<common_chat_tool> & tools) {
    if (layout.content_until != std::vector<std::string>{"{"} || !layout.literals.count("\"name\"") ||
        !layout.literals.count("\"parameters\"") || !layout.rules.count("tool-call")) {
        return std::nullopt;
    }
    auto calls = std::make_unique<HermesToolCalls>(declared_names(tools), "", "parameters", true);
    return NativeParser{std::make_unique<TaggedStreamParser>(layout, std::move(calls), std::nullopt, ","), "llama3"};
}

// gpt-oss harmony channels (its own FormatParser: see harmony_stream_parser.h).
std::optional<NativeParser> make_harmony_parser(const common_chat_params & params,
                                                const std::vector<common_chat_tool> & tools) {
    const auto harmony = read_harmony_layout(params);
    if (!harmony) {
        return std::nullopt;
    }
    auto names = harmony->tool_calls ? declared_names(tools) : std::set<std::string>{};
    return NativeParser{std::make_unique<HarmonyStreamParser>(std::move(names)), "harmony"};
}

}  // namespace

std::optional<NativeParser> make_native_parser(const common_chat_params & params,
                                               const std::vector<common_chat_tool> & tools) {
    if (params.format != COMMON_CHAT_FORMAT_CONTENT_ONLY && params.format != COMMON_CHAT_FORMAT_PEG_NATIVE &&
        params.format != COMMON_CHAT_FORMAT_PEG_SIMPLE) {
        return std::nullopt;
    }
    if (auto harmony = make_harmony_parser(params, tools)) {
        return harmony;
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
        auto calls = std::make_unique<HermesToolCalls>(declared_names(tools), "</tool_call>");
        return NativeParser{std::make_unique<TaggedStreamParser>(*layout, std::move(calls)), "hermes"};
    }
    if (auto deepseek = make_deepseek_parser(*layout, tools)) {
        return deepseek;
    }
    if (auto mistral = make_mistral_parser(*layout, tools)) {
        return mistral;
    }
    if (auto nemo = make_mistral_nemo_parser(*layout, tools)) {
        return nemo;
    }
    if (auto llama3 = make_llama3_parser(*layout, tools)) {
        return llama3;
    }
    return std::nullopt;
}

}  // namespace pyllm::parse
