// What a native module needs to know about a request's output layout, read from the PEG
// parser llama.cpp built for it (common_chat_params::parser), so the native parse agrees with
// the reference's whitespace and marker rules instead of guessing them per template.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chat.h"

namespace pyllm::parse {

struct ReasoningLayout {
    std::string start;           // "<think>"
    std::string start_optional;  // characters the reference accepts, one each, after the start tag
    std::string end;             // "</think>"
    std::string end_optional;    // characters accepted, one each, after the end tag
};

struct ChatLayout {
    // Text of the generation prompt the reference parses again in front of the output
    // (from the reasoning start tag on): how forced-open and disabled thinking look.
    std::string prompt_tail;
    bool skip_leading_space = false;        // whitespace at the very start is not content
    bool space_before_content = false;      // whitespace after the (optional) reasoning is not content
    std::optional<ReasoningLayout> reasoning;
    std::vector<std::string> content_until;  // markers that end the content (tool call starts)
    std::set<std::string> literals;          // every literal in the parser, for format recognition
    std::set<std::string> rules;             // every rule name
};

// Nullopt when the parser has a shape no native module is written for.
std::optional<ChatLayout> read_chat_layout(const common_chat_params & params);

}  // namespace pyllm::parse
