#include "generic_tool_calls.h"

#include <set>
#include <stdexcept>
#include <string>

#include "chat_layout.h"
#include "hermes_tool_calls.h"
#include "json-schema-to-grammar.h"
#include "tagged_stream_parser.h"

namespace pyllm::parse {

namespace {

using json = common_json;

constexpr const char * kCallStart = "<tool_call>";
constexpr const char * kCallEnd = "</tool_call>";

// A message's text: a string, or the text and media marker (image) parts of a content list,
// joined as llama.cpp's chat rendering joins them (no newline next to a marker).
std::string text_of(const json & content) {
    if (content.is_string()) {
        return content.get<std::string>();
    }
    std::string text;
    bool after_marker = false;
    if (content.is_array()) {
        for (const auto & part : content) {
            if (!part.is_object() || !part.contains("text")) continue;
            const std::string type = part.value("type", "");
            if (type == "text") {
                if (!text.empty() && !after_marker) text += "\n";
                after_marker = false;
            } else if (type == "media_marker") {
                after_marker = true;
            } else {
                continue;
            }
            text += part.at("text").get<std::string>();
        }
    }
    return text;
}

json parameters_of(const common_chat_tool & tool) {
    return tool.parameters.empty() ? json::object({{"type", "object"}}) : json::parse(tool.parameters);
}

std::string tools_prompt(const std::vector<common_chat_tool> & tools) {
    std::string text =
        "# Tools\n\nYou may call one or more of these tools to help with the user's request:\n<tools>\n";
    for (const auto & tool : tools) {
        json entry = json::object({{"name", tool.name}});
        if (!tool.description.empty()) entry["description"] = tool.description;
        entry["parameters"] = parameters_of(tool);
        text += entry.dump() + "\n";
    }
    text += std::string("</tools>\n\nTo call a tool, answer with one block per call, in exactly this form:\n") +
            kCallStart + "\n{\"name\": \"<tool name>\", \"arguments\": {<the arguments as JSON>}}\n" + kCallEnd +
            "\nThe results come back in <tool_response> blocks. When no tool is needed, answer directly.";
    return text;
}

// An earlier call as the model would have written it.
std::string call_text(const json & call) {
    const json & function = call.contains("function") ? call.at("function") : call;
    json arguments = function.value("arguments", json::object());
    if (arguments.is_string()) {
        json parsed = json::parse_no_throw(arguments.get<std::string>());
        if (!parsed.is_discarded()) arguments = parsed;
    }
    json head = json::object({{"name", function.value("name", "")}});
    return std::string(kCallStart) + "\n{\"name\": " + head.at("name").dump() + ", \"arguments\": " +
           arguments.dump() + "}\n" + kCallEnd;
}

// Adds GBNF rules written one per line ("name ::= body"); returns the first rule's name.
std::string add_gbnf_rules(const common_grammar_builder & builder, const std::string & gbnf, const std::string & tool) {
    std::string entry;
    size_t start = 0;
    while (start < gbnf.size()) {
        size_t end = gbnf.find('\n', start);
        if (end == std::string::npos) end = gbnf.size();
        const std::string line = gbnf.substr(start, end - start);
        start = end + 1;
        if (line.empty()) continue;
        const size_t sep = line.find(" ::= ");
        if (sep == std::string::npos) throw std::invalid_argument("tool '" + tool + "': malformed input grammar");
        const std::string name = builder.add_rule(line.substr(0, sep), line.substr(sep + 5));
        if (entry.empty()) entry = name;
    }
    if (entry.empty()) throw std::invalid_argument("tool '" + tool + "': empty input grammar");
    return entry;
}

}  // namespace

json describe_tools_in_messages(const json & messages, const std::vector<common_chat_tool> & tools) {
    json out = json::array();
    const std::string description = tools_prompt(tools);
    size_t first = 0;
    if (!messages.empty() && messages.at(size_t(0)).value("role", "") == "system") {
        json system = messages.at(size_t(0));
        const std::string text = text_of(system.value("content", json()));
        system["content"] = text.empty() ? description : text + "\n\n" + description;
        out.push_back(system);
        first = 1;
    } else {
        out.push_back(json::object({{"role", "system"}, {"content", description}}));
    }
    bool last_is_tool_result = false;
    for (size_t i = first; i < messages.size(); i++) {
        const json & m = messages.at(i);
        const std::string role = m.value("role", "");
        if (role == "tool") {
            const std::string block = "<tool_response>\n" + text_of(m.value("content", json())) + "\n</tool_response>";
            // Results of parallel calls share one user turn (templates expect alternation).
            if (last_is_tool_result) {
                out.back()["content"] = out.back().at("content").get<std::string>() + "\n" + block;
            } else {
                out.push_back(json::object({{"role", "user"}, {"content", block}}));
            }
            last_is_tool_result = true;
            continue;
        }
        last_is_tool_result = false;
        if (role == "assistant" && m.contains("tool_calls") && m.at("tool_calls").is_array()) {
            json assistant = m;
            std::string text = text_of(m.value("content", json()));
            for (const auto & call : m.at("tool_calls")) {
                text += (text.empty() ? "" : "\n") + call_text(call);
            }
            assistant.erase("tool_calls");
            assistant["content"] = text;
            out.push_back(assistant);
            continue;
        }
        out.push_back(m);
    }
    return out;
}

void set_generic_tool_grammar(common_chat_params & params, const std::vector<common_chat_tool> & tools,
                              bool required, bool parallel, const std::map<std::string, std::string> & input_grammars) {
    std::vector<common_chat_schema_document> schemas;
    for (const auto & tool : tools) {
        try {
            schemas.push_back(common_chat_schema_from_json(parameters_of(tool)));
        } catch (const std::exception & e) {
            throw std::invalid_argument("tool '" + tool.name + "': unsupported parameters schema: " + e.what());
        }
    }
    params.grammar = build_grammar([&](const common_grammar_builder & builder) {
        std::string alternatives;
        for (size_t i = 0; i < tools.size(); i++) {
            const std::string name = json(tools[i].name).dump();
            const auto input = input_grammars.find(tools[i].name);
            if (input != input_grammars.end()) {
                const std::string entry = add_gbnf_rules(builder, input->second, tools[i].name);
                alternatives += (i ? " | " : "") +
                                gbnf_format_literal("{\"name\": " + name + ", \"arguments\": {\"input\": \"") + " " +
                                entry + " " + gbnf_format_literal("\"}}");
                continue;
            }
            const std::string args = builder.add_schema("tool-" + std::to_string(i) + "-args", *schemas[i].root);
            alternatives += (i ? " | " : "") + gbnf_format_literal("{\"name\": " + name + ", \"arguments\": ") +
                            " " + args + " \"}\"";
        }
        const std::string call = builder.add_rule(
            "tool-call", gbnf_format_literal(std::string(kCallStart) + "\n") + " (" + alternatives + ") " +
                             gbnf_format_literal(std::string("\n") + kCallEnd));
        const std::string calls = parallel ? call + " (\"\\n\" " + call + ")*" : call;
        // A grammar applied from the first token starts where llama.cpp's own tool-call
        // grammars do: at the generation prompt, which the sampler feeds through it first.
        const std::string prompt = params.generation_prompt.empty() ? "" : gbnf_format_literal(params.generation_prompt) + " ";
        builder.add_rule("root", required ? prompt + calls : calls);
    });
    params.grammar_lazy = !required;
    params.grammar_triggers.clear();
    if (!required) {
        params.grammar_triggers.push_back({COMMON_GRAMMAR_TRIGGER_TYPE_WORD, kCallStart});
    }
}

std::unique_ptr<FormatParser> make_generic_tool_parser(const common_chat_params & params,
                                                       const std::vector<common_chat_tool> & tools) {
    std::optional<ChatLayout> layout;
    if (!params.parser.empty()) {
        layout = read_chat_layout(params);
    }
    if (!layout) {
        layout = ChatLayout{};
    }
    layout->content_until = {kCallStart};
    std::set<std::string> names;
    for (const auto & tool : tools) {
        names.insert(tool.name);
    }
    return std::make_unique<TaggedStreamParser>(*layout, std::make_unique<HermesToolCalls>(std::move(names), kCallEnd));
}

}  // namespace pyllm::parse
