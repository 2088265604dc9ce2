#include "format_detection.h"

#include <algorithm>

#include "chat_layout.h"
#include "gemma4_tool_calls.h"
#include "harmony_stream_parser.h"
#include "hermes_tool_calls.h"
#include "kimi_tool_calls.h"
#include "pythonic_tool_calls.h"
#include "tagged_args_tool_calls.h"
#include "tagged_json_tool_calls.h"
#include "tagged_stream_parser.h"
#include "tool_call_syntax_choice.h"

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
    auto calls = std::make_unique<TaggedArgsToolCalls>(std::vector<TaggedCallFormat>{std::move(format)}, layout.arg_kinds);
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
    // Models also write the call without the template's newlines, and drop a </parameter>.
    TaggedCallFormat format{"", "<function=", ">", "<parameter=", ">", "\n</parameter>", "</function>", true};
    format.value_leading_newline = true;
    format.call_close = "</tool_call>";
    format.other_value_ends = {
        {"\n<parameter=", 1, {}},
        {"\n</function>", 1, {"</tool_call>", "<tool_call>", "<function="}},
        {"</parameter>", 12, {"<parameter=", "</function>"}},
    };
    return tagged_args_parser(layout, std::move(format), "qwen3-coder");
}

// GLM-4.5/4.6: <tool_call>NAME\n<arg_key>K</arg_key>\n<arg_value>V</arg_value>\n</tool_call>;
// GLM-4.7 writes the same without the newlines.
std::optional<NativeParser> make_glm_parser(const ChatLayout & layout, const common_chat_params & params) {
    // With only tools that take no arguments the parser holds no argument tags; the prompt's
    // description of the call format (which GLM's templates write) still names them.
    const bool tagged_args = layout.literals.count("<arg_key>") && layout.literals.count("<arg_value>");
    const bool no_args = !layout.literals.count("<arg_key>") && !layout.literals.count("\"name\"") &&
                         !layout.literals.count("<function=") && params.prompt.find("<arg_key>") != std::string::npos;
    if (layout.content_until != std::vector<std::string>{"<tool_call>"} || !(tagged_args || no_args) ||
        !layout.literals.count("</tool_call>")) {
        return std::nullopt;
    }
    // Either model family writes either spacing (GLM-4.5 newlines reach GLM-4.7 templates and
    // the other way round): whitespace between the tags is free, the name ends at a tag or a
    // newline.
    TaggedCallFormat format{"", "", "", "<arg_key>", "</arg_key>", "</arg_value>", "</tool_call>", true, "<arg_value>"};
    format.other_value_ends = {{"</tool_call>", 0, {"<tool_call>"}}};  // models drop the last </arg_value>
    return tagged_args_parser(layout, std::move(format), "glm");
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
    CallSection section{{section_start}, {call_start}, {"<|tool_calls_section_end|>"}, {}, true};
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

// DeepSeek V3.2 / V4 DSML, a section of invokes with tagged, self-typed parameters:
//   <｜DSML｜function_calls>\n<｜DSML｜invoke name="NAME">\n<｜DSML｜parameter name="K" string="true">V</｜DSML｜parameter>\n
//   </｜DSML｜invoke>\n</｜DSML｜function_calls>   (V4 names the block tool_calls)
// DeepSeek V4.1 writes a space after ｜DSML｜ and names the block calls (<｜DSML｜ calls>,
// <｜DSML｜ invoke name=...>); llama.cpp reads it with V4's grammar, which does not match, so
// both spellings are read. The layout is built here rather than read from llama.cpp's parser,
// whose reasoning-or-calls choice has no single reasoning block; it follows that parser: the
// content ends at the block (and the blank line before it), reasoning ends at </think> or
// at a block opened without it. string="true" values are raw text, string="false" JSON.
std::optional<NativeParser> make_dsml_parser(const common_chat_params & params, const std::vector<common_chat_tool> & tools) {
    static const std::string dsml = "｜DSML｜", assistant = "<｜Assistant｜>";
    std::string block;  // the template's own call block marker, one of the reasoning's end tags
    for (const auto & tag : params.thinking_end_tags) {
        if (tag.rfind("<" + dsml, 0) == 0 && tag.back() == '>') {
            block = tag.substr(1 + dsml.size(), tag.size() - dsml.size() - 2);
        }
    }
    if (block.empty() || params.generation_prompt.rfind(assistant, 0) != 0) {
        return std::nullopt;
    }
    const auto facts = read_parser_facts(params);
    if (!facts || !facts->rules.count("tool-call") || facts->rules.count("response-format")) {
        return std::nullopt;
    }
    ChatLayout layout;
    layout.prompt_tail = params.generation_prompt.substr(assistant.size());
    layout.arg_kinds = facts->arg_kinds;
    for (const auto & tool : tools) {
        layout.arg_kinds[tool.name];
    }
    CallSection section;
    std::vector<TaggedCallFormat> spellings;
    for (const auto & [tag, name] : {std::pair{dsml, block}, std::pair{dsml + " ", std::string("calls")}}) {
        const std::string open = "<" + tag + name + ">";
        section.start.push_back("\n\n" + open);
        section.start.push_back(open);
        section.end.push_back("</" + tag + name + ">");
        section.next_call.push_back("<" + tag + "invoke name=\"");
        TaggedCallFormat f{"", "<" + tag + "invoke name=\"", "\">", "<" + tag + "parameter name=\"", "\">",
                           "</" + tag + "parameter>", "</" + tag + "invoke>", true};
        f.typed_arg_suffixes = {{"\" string=\"true\">", true}, {"\" string=\"false\">", false}};
        f.self_closing_suffix = "\"/>";
        spellings.push_back(std::move(f));
    }
    layout.content_until = section.start;
    if (facts->extracts_reasoning) {
        layout.reasoning = ReasoningLayout{"<think>", "", "</think>", "", false, section.start};
    }
    auto calls = std::make_unique<TaggedArgsToolCalls>(std::move(spellings), layout.arg_kinds);
    return NativeParser{std::make_unique<TaggedStreamParser>(layout, std::move(calls), std::move(section)), "dsml"};
}

// Kimi K3's XTML elements:
//   REASONING<|close|>think<|sep|><|open|>response<|sep|>CONTENT<|close|>response<|sep|><|open|>tools<|sep|>
//   <|open|>call tool="NAME" index="1"<|sep|><|open|>argument key="K" type="string"<|sep|>V<|close|>argument<|sep|>
//   <|close|>call<|sep|><|close|>tools<|sep|><|close|>message<|sep|>
// (the generation prompt opens the message and the think element, or the response with
// thinking off). Values are typed by their type attribute (llama.cpp's parser types them by
// the schema alone, and reads a null as the text "null"), keys are XML-escaped, and a value
// ends at its closing tag only where another argument or the call's end follows, so the
// closing tag's own text can sit in a value.
std::optional<NativeParser> make_kimi_k3_parser(const common_chat_params & params,
                                                const std::vector<common_chat_tool> & tools) {
    static const std::string message = "<|open|>message role=\"assistant\"<|sep|>";
    if (params.thinking_start_tag != "<|open|>think<|sep|>" || params.generation_prompt.rfind(message, 0) != 0) {
        return std::nullopt;
    }
    const auto facts = read_parser_facts(params);
    if (!facts || !facts->rules.count("kimi-k3-tool-call")) {
        return std::nullopt;
    }
    ChatLayout layout;
    layout.prompt_tail = params.generation_prompt.substr(message.size());
    if (facts->extracts_reasoning) {
        layout.reasoning = ReasoningLayout{"<|open|>think<|sep|>", "", "<|close|>think<|sep|>", "", false,
                                           {"<|open|>response<|sep|>"}};
    }
    layout.content_until = {"<|open|>tools<|sep|>"};
    layout.content_dropped = {"<|open|>response<|sep|>", "<|close|>response<|sep|>", "<|close|>message<|sep|>",
                              "<|end_of_msg|>"};
    for (const auto & tool : tools) {
        layout.arg_kinds[tool.name];
    }
    TaggedCallFormat format{"", "<|open|>call tool=\"", "\"", "<|open|>argument key=\"", "\"<|sep|>",
                            "<|close|>argument<|sep|>", "<|close|>call<|sep|>", true};
    for (const char * type : {"string", "number", "integer", "boolean", "null", "array", "object"}) {
        format.typed_arg_suffixes.emplace_back(std::string("\" type=\"") + type + "\"<|sep|>",
                                               std::string(type) == "string");
    }
    format.value_end_confirmed_by = {"<|open|>argument key=\"", "<|close|>call<|sep|>"};
    format.header_end = "<|sep|>";
    format.xml_escaped_keys = true;
    auto calls = std::make_unique<TaggedArgsToolCalls>(std::vector<TaggedCallFormat>{std::move(format)},
                                                       layout.arg_kinds);
    CallSection section{{"<|open|>tools<|sep|>"}, {"<|open|>call tool=\""}, {"<|close|>tools<|sep|>"}, {}};
    return NativeParser{std::make_unique<TaggedStreamParser>(layout, std::move(calls), std::move(section)), "kimi-k3"};
}

// Gemma 4: an optional thought channel, content, then calls:
//   <|channel>thought\nREASONING<channel|>CONTENT<|tool_call>call:NAME{...}<tool_call|>...
// The generation prompt opens the turn (<|turn>model\n, which the reference also reads in
// front of the output) and, with thinking off, holds an empty thought channel. Text after the
// calls is content (the reference's grammar ends at the last call and drops it).
std::optional<NativeParser> make_gemma4_parser(const common_chat_params & params,
                                               const std::vector<common_chat_tool> & tools) {
    static const std::string turn = "<|turn>model\n";
    const auto facts = read_parser_facts(params);
    if (!facts || !facts->rules.count("tool-call") || facts->rules.count("response-format-schema")) {
        return std::nullopt;
    }
    ChatLayout layout;
    const std::string & prompt = params.generation_prompt;
    layout.prompt_tail = prompt.rfind(turn, 0) == 0 ? prompt.substr(turn.size()) : prompt;
    if (facts->extracts_reasoning) {
        layout.reasoning = ReasoningLayout{"<|channel>thought", "", "<channel|>", "", true, {}};
    }
    layout.content_until = {"<|tool_call>"};
    auto calls = std::make_unique<Gemma4ToolCalls>(declared_names(tools));
    return NativeParser{std::make_unique<TaggedStreamParser>(layout, std::move(calls)), "gemma4"};
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
    ChatLayout thinking = layout;
    if (thinking.reasoning && thinking.reasoning->start == "[THINK]") {
        // Magistral's models were trained on <think> tags (their system prompt asks for them).
        thinking.reasoning->other_tags = {{"<think>", "</think>"}};
    }
    return NativeParser{std::make_unique<TaggedStreamParser>(thinking, std::move(calls)), "mistral"};
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
    // and models trained on OpenAI-style data write "arguments" for "parameters". Llama 3.2
    // and 4 also write pythonic call lists, [f(a=1), g(b='x')], Llama 4 between
    // <|python_start|> and <|python_end|>.
    ChatLayout tagged = layout;
    tagged.content_until.insert(tagged.content_until.end(), {"<|python_tag|>", "[", "<|python_start|>"});
    auto json_calls = std::make_unique<HermesToolCalls>(declared_names(tools), "", "parameters", true);
    json_calls->also_accept_args_key("arguments");
    json_calls->also_open_with("<|python_tag|>");
    auto calls = std::make_unique<ToolCallSyntaxChoice>();
    calls->add({"{", "<|python_tag|>"}, std::move(json_calls));
    calls->add({"[", "<|python_start|>"},
               std::make_unique<PythonicToolCalls>(declared_names(tools), "[", "<|python_end|>"));
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
    if (params.format == COMMON_CHAT_FORMAT_PEG_GEMMA4) {
        return tools.empty() ? std::nullopt : make_gemma4_parser(params, tools);
    }
    if (params.format != COMMON_CHAT_FORMAT_CONTENT_ONLY && params.format != COMMON_CHAT_FORMAT_PEG_NATIVE &&
        params.format != COMMON_CHAT_FORMAT_PEG_SIMPLE) {
        return std::nullopt;
    }
    if (auto harmony = make_harmony_parser(params, tools)) {
        return harmony;
    }
    if (auto dsml = make_dsml_parser(params, tools)) {
        return dsml;
    }
    if (auto kimi_k3 = make_kimi_k3_parser(params, tools)) {
        return kimi_k3;
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
    if (auto parser = make_glm_parser(*layout, params)) {
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
