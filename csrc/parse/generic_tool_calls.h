// Tools for chat templates that have no tool-call syntax of their own. llama.cpp renders
// such a prompt without the tools and never parses a call (llama-server silently drops
// them); here the tools are described in the system prompt and calls take the Hermes form
//   <tool_call>
//   {"name": "get_weather", "arguments": {"city": "Paris"}}
//   </tool_call>
// which a grammar enforces (lazily from the start marker, or from the first token when a
// call is required) and the native Hermes module parses.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chat.h"
#include "stream_parser.h"

namespace pyllm::parse {

// The conversation as a template without tool support can render it: the tools described
// in the (first) system message, earlier calls written out in the assistant's text, tool
// results as user turns wrapped in <tool_response>. Messages are OpenAI-shaped JSON.
common_json describe_tools_in_messages(const common_json & messages, const std::vector<common_chat_tool> & tools);

// Sets the grammar that admits only well-formed calls to declared tools, with arguments
// matching each tool's schema: from the first token when `required`, else once the model
// writes the start marker. A tool named in `input_grammars` (a freeform tool) takes the
// arguments {"input": "<string>"} instead, the string's escaped text matching that GBNF
// (one rule per line; the first is the entry). Throws std::invalid_argument for a schema
// it cannot compile.
void set_generic_tool_grammar(common_chat_params & params, const std::vector<common_chat_tool> & tools,
                              bool required, bool parallel,
                              const std::map<std::string, std::string> & input_grammars = {});

// Reasoning and content as the rendered template lays them out, calls in the Hermes form.
std::unique_ptr<FormatParser> make_generic_tool_parser(const common_chat_params & params,
                                                       const std::vector<common_chat_tool> & tools);

}  // namespace pyllm::parse
