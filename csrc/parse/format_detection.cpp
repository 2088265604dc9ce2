#include "format_detection.h"

#include <algorithm>

#include "chat_layout.h"
#include "harmony_stream_parser.h"
#include "hermes_tool_calls.h"
#include "kimi_tool_calls.h"
#include "tagged_args_tool_calls.h"
#include "tagged_json_tool_calls.h"
#include "tagged_stream_parser.h"

namespace pyllm::parse {

namespace {

std::set<std::string> declared_names(const std::vector<common_chat_tool> & tools) {
    std::set<std::string> names;
    for (const auto & tool : tools) {
        names.insert(tool.name);
    }
    return names;
}

bool has_call_marker(const ChatLayout & layout, const std::string & marker) {
    return std::find(layout.content_until.begin(), layout.content_until.end(), marker) != layout.content_until.end();
}

NativeParser tagged_args_parser(const ChatLayout & layout, TaggedCallFormat format, const char * family,
                                CallSection section = {}) {
    auto calls = std::make_unique<TaggedArgsToolCalls>(std::move(format), layout.arg_kinds);
    return NativeParser{std::make_unique<TaggedStreamParser>(layout, std::move(calls), std::move(section)), family};
}

// <tool_call>{"name": ..., "arguments": ...}</tool_call>, as the reference reads it.
std::optional<NativeParser> make_hermes_parser(const ChatLayout & layout, const std::vector<common_chat_tool> & tools) {
    if (layout.content_until.size() != 1 || layout.content_until[0].rfind("<tool_call>", 0) != 0 ||
        !layout.literals.count("</tool_call>") || !layout.literals.count("\"name\"") ||
        !layout.literals.count("\"arguments\"") || !layout.rules.count("tool-call") ||
        layout.literals.count("<function=")) {
        return std::nullopt;
    }
    // The reference's marker is "<tool_call>\n"; models also write the JSON right after
    // "<tool_call>" (or after other spacing), which the header reader skips.
    ChatLayout bare = layout;
    bare.content_until = {"<tool_call>"};
    auto calls = std::make_unique<HermesToolCalls>(declared_names(tools), "</tool_call>");
    return NativeParser{std::make_unique<TaggedStreamParser>(bare, std::move(calls)), "hermes"};
}

// Qwen3-Coder / Qwen3.5 / Nemotron-3: <tool_call>\n<function=NAME>\n<parameter=KEY>\n...
// (Qwen3-Coder may also open a call with a bare <function=NAME>, another content marker).
std::optional<NativeParser> make_qwen3_coder_parser(const ChatLayout & layout) {
    if (!has_call_marker(layout, "<tool_call>") || !layout.literals.count("<function=") ||
        !layout.literals.count("\n</parameter>\n") || !layout.literals.count("</function>\n")) {
        return std::nullopt;
    }
    return tagged_args_parser(layout,
                              {"\n", "<function=", ">\n", "<parameter=", ">\n", "\n</parameter>\n",
                               "</function>\n</tool_call>", false},
                              "qwen3-coder");
}

// GLM-4.5/4.6: <tool_call>NAME\n<arg_key>K</arg_key>\n<arg_value>V</arg_value>\n</tool_call>;
// GLM-4.7 writes the same without the newlines.
std::optional<NativeParser> make_glm_parser(const ChatLayout & layout) {
    if (layout.content_until != std::vector<std::string>{"<tool_call>"} || !layout.literals.count("<arg_key>") ||
        !layout.literals.count("<arg_value>") || !layout.literals.count("</tool_call>")) {
        return std::nullopt;
    }
    // Either model family writes either spacing (GLM-4.5 newlines reach GLM-4.7 templates and
    // the other way round): whitespace between the tags is free, the name ends at a tag or a
    // newline.
    return tagged_args_parser(layout, {"", "", "", "<arg_key>", "</arg_key>", "</arg_value>", "</tool_call>", true, "<arg_value>"},
                              "glm");
}

// MiniMax-M2: <minimax:tool_call>\n<invoke name="NAME">\n<parameter name="K">V</parameter>\n
// </invoke>\n...</minimax:tool_call>, several invokes in one section.
std::optional<NativeParser> make_minimax_m2_parser(const ChatLayout & layout) {
    static const std::string section_start = "<minimax:tool_call>\n", invoke = "<invoke name=\"";
    if (layout.content_until != std::vector<std::string>{section_start} || !layout.literals.count(invoke) ||
        !layout.literals.count("<parameter name=\"") || !layout.literals.count("</parameter>\n")) {
        return std::nullopt;
    }
    // The reference separates invokes with ", "; the model writes them on new lines.
    CallSection section{{section_start}, {invoke, ", " + invoke}, {"</minimax:tool_call>"}, {}};
    return tagged_args_parser(
        layout, {"", invoke, "\">\n", "<parameter name=\"", "\">", "</parameter>\n", "</invoke>", true},
        "minimax-m2", std::move(section));
}

// Kimi-K2: <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:0<|tool_call_argument_begin|>
// {...}<|tool_call_end|>...<|tool_calls_section_end|>; a call may also open without the section.
std::optional<NativeParser> make_kimi_k2_parser(const ChatLayout & layout, const std::vector<common_chat_tool> & tools) {
    static const std::string section_start = "<|tool_calls_section_begin|>", call_start = "<|tool_call_begin|>";
    if (layout.content_until != std::vector<std::string>{section_start, call_start} ||
        !layout.literals.count("<|tool_call_argument_begin|>") || !layout.literals.count("functions.")) {
        return std::nullopt;
    }
    auto calls = std::make_unique<KimiToolCalls>(declared_names(tools));
    CallSection section{{section_start}, {call_start}, {"<|tool_calls_section_end|>"}, {}};
    return NativeParser{std::make_unique<TaggedStreamParser>(layout, std::move(calls), std::move(section)), "kimi-k2"};
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
    CallSection section{{section_start}, {call_start}, {section_end}, {}};
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
    // Llama 3.1+ may open a call with <|python_tag|> (the template's built-in tool syntax),
    // and models trained on OpenAI-style data write "arguments" for "parameters".
    ChatLayout tagged = layout;
    tagged.content_until.push_back("<|python_tag|>");
    auto calls = std::make_unique<HermesToolCalls>(declared_names(tools), "", "parameters", true);
    calls->also_accept_args_key("arguments");
    calls->also_open_with("<|python_tag|>");
    return NativeParser{std::make_unique<TaggedStreamParser>(tagged, std::move(calls), CallSection{{}, {}, {}, ","}),
                        "llama3"};
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
    if (auto parser = make_hermes_parser(*layout, tools)) {
        return parser;
    }
    if (auto parser = make_qwen3_coder_parser(*layout)) {
        return parser;
    }
    if (auto parser = make_glm_parser(*layout)) {
        return parser;
    }
    if (auto parser = make_minimax_m2_parser(*layout)) {
        return parser;
    }
    if (auto parser = make_kimi_k2_parser(*layout, tools)) {
        return parser;
    }
    if (auto parser = make_deepseek_parser(*layout, tools)) {
        return parser;
    }
    if (auto parser = make_mistral_parser(*layout, tools)) {
        return parser;
    }
    if (auto parser = make_mistral_nemo_parser(*layout, tools)) {
        return parser;
    }
    if (auto parser = make_llama3_parser(*layout, tools)) {
        return parser;
    }
    return std::nullopt;
}

}  // namespace pyllm::parse
