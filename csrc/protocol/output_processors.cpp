#include "protocol/output_processors.h"

#include "errors.h"
#include "protocol/anthropic_encoder.h"
#include "protocol/chat_processor.h"
#include "protocol/events_encoder.h"
#include "protocol/openai_chat_encoder.h"
#include "protocol/openai_completion_processor.h"
#include "protocol/responses_encoder.h"

namespace pyllm::protocol {

namespace {

std::unique_ptr<StreamEncoder> chat_encoder(const OutputSpec & spec, const std::vector<std::string> & stop_sequences) {
    switch (spec.protocol) {
        case Protocol::events: return std::make_unique<EventsEncoder>();
        case Protocol::openai_chat:
            return std::make_unique<OpenAIChatEncoder>(OpenAIResponseOptions{
                spec.id, spec.created, spec.model, spec.stream, spec.include_usage, spec.reasoning_field});
        case Protocol::anthropic: {
            AnthropicOptions options{spec.id, spec.model, spec.stream, stop_sequences, {}};
            try {
                options.tool_search = ToolSearch::from_json(spec.tool_search);
            } catch (const std::invalid_argument & e) {
                throw InvalidRequestError(e.what());
            }
            return std::make_unique<AnthropicEncoder>(std::move(options));
        }
        case Protocol::responses: {
            ResponsesOptions options{spec.id, spec.model, spec.created, spec.stream, spec.request_fields, {},
                                     spec.reasoning_summary};
            for (const auto & [flat_name, custom, ns, name] : spec.responses_tools) {
                options.tools.push_back({flat_name, custom, ns, name});
            }
            return std::make_unique<ResponsesEncoder>(std::move(options));
        }
        case Protocol::text:
        case Protocol::openai_completion: break;
    }
    return nullptr;
}

}  // namespace

std::unique_ptr<OutputProcessor> make_output_processor(const OutputSpec & spec, const parse::RenderedChat * chat,
                                                       const std::vector<std::string> & stop_sequences) {
    if (spec.protocol == Protocol::text) return nullptr;
    if (spec.protocol == Protocol::openai_completion) {
        return std::make_unique<OpenAICompletionProcessor>(
            OpenAIResponseOptions{spec.id, spec.created, spec.model, spec.stream, spec.include_usage, {}});
    }
    if (!chat) throw InvalidRequestError("this output protocol needs a conversation, not a raw prompt");
    parse::StreamParser parser(chat->params, chat->tools, chat->parser_options());
    return std::make_unique<ChatProcessor>(std::move(parser), chat_encoder(spec, stop_sequences));
}

}  // namespace pyllm::protocol
