// The output processor a request's OutputSpec names: for chat protocols the request's
// parser and the protocol's encoder, for raw prompts the completion encoder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/chat_request.h"
#include "engine/task.h"
#include "parse/rendered_chat.h"

namespace pyllm::protocol {

// `chat` is the rendered conversation (null for a raw prompt); `stop_sequences` are the
// client's own stop strings (reported as such by the Anthropic API). Null for Protocol::text.
// Throws InvalidRequestError for a protocol that needs a conversation and has none.
std::unique_ptr<OutputProcessor> make_output_processor(const OutputSpec & spec, const parse::RenderedChat * chat,
                                                       const std::vector<std::string> & stop_sequences);

}  // namespace pyllm::protocol
