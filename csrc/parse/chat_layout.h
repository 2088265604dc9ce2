// What a native module needs to know about a request's output layout, read from the PEG
// parser llama.cpp built for it (common_chat_params::parser), so the native parse agrees with
// the reference's whitespace and marker rules instead of guessing them per template.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "chat.h"

namespace pyllm::parse {

struct ReasoningLayout {
    std::string start;           // "<think>"
    std::string start_optional;  // characters the reference accepts, one each, after the start tag
    std::string end;             // "</think>"
    std::string end_optional;    // characters accepted, one each, after the end tag
    bool start_space = false;    // any whitespace after the start tag is skipped (Qwen3.5)
    // Markers that also end reasoning but are left for the content to read (a tool call
    // opened without closing the reasoning first: Qwen3.5, Kimi-K2).
    std::vector<std::string> stop_before;
    // Other (start, end) tags the output may open reasoning with instead (a Mistral [THINK]
    // template's models also write <think>...</think>); the start and end optionals do not apply.
    std::vector<std::pair<std::string, std::string>> other_tags = {};
};

// How the reference types one tagged argument's value (Qwen3-Coder, GLM, MiniMax formats),
// read from its parser: raw text made a JSON string, or a JSON value passed through.
struct ArgValueKind {
    enum Json : unsigned { object = 1, array = 2, number = 4, boolean = 8, null = 16, string_value = 32, any = 63 };
    bool string = false;  // may be raw text (then a JSON string)
    unsigned json = 0;    // JSON values it may be, tried before raw text
};

using ArgKinds = std::map<std::string, std::map<std::string, ArgValueKind>>;

struct ChatLayout {
    // Text of the generation prompt the reference parses again in front of the output
    // (from the reasoning start tag on): how forced-open and disabled thinking look.
    std::string prompt_tail;
    bool skip_leading_space = false;        // whitespace at the very start is not content
    bool space_before_content = false;      // whitespace after the (optional) reasoning block is not content
    std::optional<ReasoningLayout> reasoning;
    std::vector<std::string> content_until;  // markers that end the content (tool call starts)
    // Markers in the content or after the calls that are neither (Kimi K3's element tags
    // around the response): consumed, never emitted.
    std::vector<std::string> content_dropped = {};
    std::set<std::string> literals;          // every literal in the parser, for format recognition
    std::set<std::string> rules;             // every rule name
    // tool name -> argument name -> kind, for the tagged-argument formats
    ArgKinds arg_kinds;
};

// Nullopt when the parser has a shape no native module is written for.
std::optional<ChatLayout> read_chat_layout(const common_chat_params & params);

// What a native module that lays the output out itself (DeepSeek DSML) reads from the
// reference's parser: the tools' argument kinds (ChatLayout::arg_kinds), every rule name,
// and whether reasoning is split out. Nullopt when there is no parser to read.
struct ParserFacts {
    ArgKinds arg_kinds;
    std::set<std::string> rules;
    bool extracts_reasoning = false;
};
std::optional<ParserFacts> read_parser_facts(const common_chat_params & params);

}  // namespace pyllm::parse
