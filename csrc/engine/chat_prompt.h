// A chat request through the model's template: render_chat() renders it (and decides how
// tools reach the model); what the rendering adds to a task, as llama-server applies it: the
// prompt's tokens, the template's tool-call grammar (lazy behind its triggers, or forced
// from the first token), special tokens the parser needs as text, extra stop strings, and
// the generation prompt the grammar starts from.
#pragma once

#include <vector>

#include "engine/chat_request.h"
#include "engine/task.h"
#include "parse/rendered_chat.h"

namespace pyllm {

class Model;

// Renders the conversation of `request` with the model's template. A template that cannot
// carry tools gets them described in the prompt (generic_tool_calls.h). Throws
// ChatTemplateError or InvalidRequestError.
parse::RenderedChat render_chat(const Model & model, const ChatRequest & request);

std::vector<llama_token> chat_prompt_tokens(const Model & model, const parse::RenderedChat & format);

// Throws InvalidRequestError when the request also brings its own grammar.
void apply_chat_format(const Model & model, const parse::RenderedChat & format, TaskParams & params);

}  // namespace pyllm
