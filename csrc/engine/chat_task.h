// What a rendered chat request adds to a task, as llama-server applies it: the prompt's
// tokens, the template's tool-call grammar (lazy behind its triggers, or forced from the
// first token), special tokens the parser needs as text, extra stop strings, and the
// generation prompt the grammar starts from.
#pragma once

#include <vector>

#include "engine/task.h"
#include "parse/chat_output_format.h"

namespace pyllm {

class Model;

std::vector<llama_token> chat_prompt_tokens(const Model & model, const parse::ChatOutputFormat & format);

// Throws InvalidRequestError when the request also brings its own grammar.
void apply_chat_format(const Model & model, const parse::ChatOutputFormat & format, TaskParams & params);

}  // namespace pyllm
