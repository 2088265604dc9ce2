// A request's rendered chat parameters and declared tools: everything an output parser is
// made from. Built once per request when the prompt is rendered.
#pragma once

#include <vector>

#include "chat.h"
#include "stream_parser.h"

namespace pyllm::parse {

struct RenderedChat {
    common_chat_params params;
    std::vector<common_chat_tool> tools;
    bool extract_reasoning = true;
    bool tool_call_required = false;  // tool_choice required / a named tool: no text before the call
    bool parallel_tool_calls = true;
    bool generic_tool_calls = false;  // tools described in the prompt (generic_tool_calls.h)
    common_chat_parser_params reference;  // llama.cpp's parser, for fallback and tests

    StreamParserOptions parser_options(bool force_reference = false) const {
        return {extract_reasoning, force_reference, generic_tool_calls};
    }
};

}  // namespace pyllm::parse
