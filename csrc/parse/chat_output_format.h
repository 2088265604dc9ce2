// A request's rendered chat parameters and declared tools: everything an output parser is
// made from. Built once per request when the prompt is rendered.
#pragma once

#include <vector>

#include "chat.h"

namespace pyllm::parse {

struct ChatOutputFormat {
    common_chat_params params;
    std::vector<common_chat_tool> tools;
    bool extract_reasoning = true;
    bool tool_call_required = false;  // tool_choice required / a named tool: no text before the call
    bool parallel_tool_calls = true;
    common_chat_parser_params reference;  // llama.cpp's parser, for fallback and tests
};

}  // namespace pyllm::parse
