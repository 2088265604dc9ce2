#include "engine/chat_prompt.h"

#include <regex>

#include "errors.h"
#include "model.h"
#include "parse/generic_tool_calls.h"
#include "parse/reference_parser.h"

namespace pyllm {

namespace {

// llama.cpp's grammar for tool_choice "required" still lets free text come before the
// call (`root ::= <prompt> <reasoning>? until-N? tool-calls`). A required call must be the
// first thing after any reasoning, so that free-text term is taken out of the root rule;
// without parallel calls, exactly one call is allowed, so generation ends after it.
std::string forced_call_grammar(const std::string & grammar, bool single_call) {
    static const std::regex free_text(R"(until-[0-9]+\?? +((space +)?(tool-call-root|tool-calls|tool-call))$)");
    static const std::regex repeated_calls(R"(^tool-calls ::= \(tool-call space\)\+$)");
    std::string out;
    bool rewritten = false;
    size_t start = 0;
    while (start < grammar.size()) {
        size_t end = grammar.find('\n', start);
        if (end == std::string::npos) end = grammar.size();
        std::string line = grammar.substr(start, end - start);
        if (line.rfind("root ::= ", 0) == 0) {
            std::string fixed = std::regex_replace(line, free_text, "$1");
            rewritten = fixed != line;
            line = fixed;
        } else if (single_call && std::regex_match(line, repeated_calls)) {
            line = "tool-calls ::= tool-call space";
        }
        out += line;
        if (end < grammar.size()) out += '\n';
        start = end + 1;
    }
    if (!rewritten) {
        throw InvalidRequestError("cannot force a tool call with this chat template (unexpected grammar shape)");
    }
    return out;
}

// A prefill whose content opens the template's think block and leaves it open continues the
// reasoning: templates would otherwise render it after a closed (empty) think block, and the
// output would be parsed as content. Moves that text into the message's reasoning_content
// (the template's own tag, learnt from a first rendering); true when it did.
bool continues_reasoning(ChatInputs & in, const common_chat_params & rendered) {
    // Some templates' tag carries the newline they render after it; the client's may not.
    const std::string & open = rendered.thinking_start_tag;
    const std::string tag = open.substr(0, open.find_last_not_of(" \t\r\n") + 1);
    if (tag.empty()) return false;
    common_json messages;
    try {
        messages = common_json::parse(in.messages_json);
    } catch (const std::exception &) {
        return false;
    }
    if (!messages.is_array() || messages.empty()) return false;
    auto & last = messages.back();
    if (!last.is_object() || !last.contains("content") || !last["content"].is_string()) return false;
    if (last.contains("reasoning_content") && !last["reasoning_content"].is_null()) return false;
    std::string content = last["content"].get<std::string>();
    const size_t start = content.find_first_not_of(" \t\r\n");
    if (start == std::string::npos || content.compare(start, tag.size(), tag) != 0) return false;
    for (const auto & close : rendered.thinking_end_tags) {
        if (!close.empty() && content.find(close, start) != std::string::npos) return false;
    }
    std::string reasoning = content.substr(start + tag.size());
    const size_t first = reasoning.find_first_not_of('\n');
    reasoning.erase(0, first == std::string::npos ? reasoning.size() : first);
    last["reasoning_content"] = reasoning;
    last["content"] = "";
    in.messages_json = messages.dump();
    return true;
}

// The reasoning-budget sampler is fed the generation prompt's tokens first (as
// common_sampler_init prefills them) and starts counting when it meets the start tag's
// tokens. A template that opens the think block itself (DeepSeek-R1 ends its prompt in
// "<｜Assistant｜><think>\n") has the tag tokenized together with its neighbours ("><"
// "think" ">" in Gemma's vocabulary), so the tag's own tokens never come and the budget
// never applies. For a think block the generation prompt leaves open, the start sequence is
// the prompt's own tail of tokens that holds the tag.
std::vector<llama_token> reasoning_start_tokens(const Model & model, const common_chat_params & chat) {
    std::vector<llama_token> tag = model.tokenize(chat.thinking_start_tag, false, true);
    const std::string & prompt = chat.generation_prompt;
    const std::string & open = chat.thinking_start_tag;
    const std::string start = open.substr(0, open.find_last_not_of(" \t\r\n") + 1);
    const size_t at = start.empty() ? std::string::npos : prompt.rfind(start);
    if (at == std::string::npos) return tag;
    for (const auto & end : chat.thinking_end_tags) {
        const size_t first = end.find_first_not_of(" \t\r\n");
        if (first != std::string::npos && prompt.find(end.substr(first), at) != std::string::npos) return tag;
    }
    const std::vector<llama_token> tokens = model.tokenize(prompt, false, true);
    for (size_t n = 1; n <= tokens.size(); ++n) {
        std::vector<llama_token> tail(tokens.end() - static_cast<std::ptrdiff_t>(n), tokens.end());
        if (model.detokenize(tail, true).find(start) != std::string::npos) return tail;
    }
    return tag;
}

}  // namespace

parse::RenderedChat render_chat(const Model & model, const ChatRequest & request) {
    ChatInputs in;
    in.messages_json = request.messages_json;
    in.tools_json = request.tools_json;
    in.enable_thinking = request.enable_thinking;
    in.reasoning_format = request.extract_reasoning ? COMMON_REASONING_FORMAT_DEEPSEEK : COMMON_REASONING_FORMAT_NONE;
    in.parallel_tool_calls = request.parallel_tool_calls;
    try {
        in.tool_choice = common_chat_tool_choice_parse_oaicompat(request.tool_choice);
    } catch (const std::exception & e) {
        throw ChatTemplateError(e.what());
    }
    in.continue_final_message = request.continue_final_message;
    in.json_schema = request.json_schema;
    in.kwargs = request.template_kwargs;

    parse::RenderedChat f;
    f.extract_reasoning = request.extract_reasoning;
    f.parallel_tool_calls = request.parallel_tool_calls;
    if (!in.tools_json.empty()) {
        try {
            f.tools = common_chat_tools_parse_oaicompat(common_json::parse(in.tools_json));
        } catch (const std::exception & e) {
            throw ChatTemplateError(std::string("invalid tools: ") + e.what());
        }
    }
    f.tool_call_required = in.tool_choice == COMMON_CHAT_TOOL_CHOICE_REQUIRED && !f.tools.empty();
    f.generic_tool_calls = !f.tools.empty() && in.tool_choice != COMMON_CHAT_TOOL_CHOICE_NONE &&
                           !model.chat_template_caps().at("supports_tool_calls");
    if (f.generic_tool_calls) {
        // The template cannot carry tools: describe them in the prompt instead.
        try {
            in.messages_json = parse::describe_tools_in_messages(common_json::parse(in.messages_json), f.tools).dump();
        } catch (const std::exception & e) {
            throw ChatTemplateError(std::string("invalid chat messages: ") + e.what());
        }
        in.tools_json.clear();
        in.tool_choice = COMMON_CHAT_TOOL_CHOICE_AUTO;
    }
    f.params = model.render_chat(in);
    if (in.continue_final_message && continues_reasoning(in, f.params)) f.params = model.render_chat(in);
    if (f.generic_tool_calls) {
        try {
            parse::set_generic_tool_grammar(f.params, f.tools, f.tool_call_required, request.parallel_tool_calls,
                                            request.tool_input_grammars);
        } catch (const std::invalid_argument & e) {
            throw InvalidRequestError(e.what());
        }
    }
    f.reference = parse::reference_parser_params(f.params, request.extract_reasoning);
    return f;
}

std::vector<llama_token> chat_prompt_tokens(const Model & model, const parse::RenderedChat & format) {
    return model.tokenize(format.params.prompt, /*add_special=*/true, /*parse_special=*/true);
}

void apply_chat_format(const Model & model, const parse::RenderedChat & format, TaskParams & params) {
    const common_chat_params & chat = format.params;
    auto & s = params.sampling;

    for (const auto & text : chat.preserved_tokens) {
        auto ids = model.tokenize(text, false, true);
        if (ids.size() == 1) {
            s.preserved_tokens.insert(ids[0]);
            params.preserved_tokens.push_back(ids[0]);
        }
    }
    if (!chat.grammar.empty()) {
        if (!s.grammar.empty() || !params.json_schema.empty()) {
            throw InvalidRequestError("a custom grammar or JSON schema cannot be combined with tool calls");
        }
        s.grammar = common_grammar(COMMON_GRAMMAR_TYPE_TOOL_CALLS,
                                   format.tool_call_required && !format.generic_tool_calls
                                       ? forced_call_grammar(chat.grammar, !format.parallel_tool_calls)
                                       : chat.grammar);
        s.grammar_lazy = chat.grammar_lazy;
        for (const auto & trigger : chat.grammar_triggers) {
            // A trigger word that is one special token is matched as that token.
            if (trigger.type == COMMON_GRAMMAR_TRIGGER_TYPE_WORD) {
                auto ids = model.tokenize(trigger.value, false, true);
                if (ids.size() == 1 && s.preserved_tokens.count(ids[0])) {
                    s.grammar_triggers.push_back({COMMON_GRAMMAR_TRIGGER_TYPE_TOKEN, trigger.value, ids[0]});
                    continue;
                }
            }
            s.grammar_triggers.push_back(trigger);
        }
        if (s.grammar_lazy && s.grammar_triggers.empty()) {
            throw InvalidRequestError("the template's lazy tool-call grammar has no triggers");
        }
    }
    s.generation_prompt = chat.generation_prompt;
    const bool has_thinking_tags = !chat.thinking_start_tag.empty() && !chat.thinking_end_tags.empty();
    // A model left to think before a forced call can think until the output ends, with no
    // call (small models never leave <think>): the engine bounds that reasoning.
    params.reasoning_before_forced_call = format.tool_call_required && has_thinking_tags;
    // A reasoning budget, as llama-server applies it: past the budget the sampler forces
    // the template's end-of-thinking tag. Templates without thinking tags have no budget.
    if ((s.reasoning_budget_tokens >= 0 || params.reasoning_before_forced_call) && has_thinking_tags) {
        s.reasoning_budget_start = reasoning_start_tokens(model, chat);
        s.reasoning_budget_end.clear();
        for (const auto & tag : chat.thinking_end_tags) {
            if (!tag.empty()) s.reasoning_budget_end.push_back(model.tokenize(tag, false, true));
        }
        if (!s.reasoning_budget_end.empty()) s.reasoning_budget_forced = s.reasoning_budget_end.front();
    }
    // ignore_eos means max_tokens tokens, as in llama-server: the end-of-turn text is no stop either.
    if (!s.ignore_eos) params.end_of_turn = chat.additional_stops;
}

}  // namespace pyllm
