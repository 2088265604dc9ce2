// pybind11 bindings of the per-request output processors (parser + protocol encoder).
// Each factory returns a ProcessorHandle that Engine.submit(processor=...) takes over.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <map>

#include "errors.h"
#include "parse/chat_output_format.h"
#include "parse/stream_parser.h"
#include "protocol/anthropic_encoder.h"
#include "protocol/chat_processor.h"
#include "protocol/events_encoder.h"
#include "protocol/openai_chat_encoder.h"
#include "protocol/openai_completion_processor.h"
#include "protocol/processor_handle.h"
#include "protocol/responses_encoder.h"

namespace py = pybind11;
using pyllm::parse::ChatOutputFormat;
using pyllm::protocol::ProcessorHandle;

namespace {

std::shared_ptr<ProcessorHandle> chat_processor(const ChatOutputFormat & format,
                                                std::unique_ptr<pyllm::protocol::StreamEncoder> encoder) {
    pyllm::parse::StreamParser parser(format.params, format.tools, format.parser_options());
    auto handle = std::make_shared<ProcessorHandle>();
    handle->processor = std::make_unique<pyllm::protocol::ChatProcessor>(std::move(parser), std::move(encoder));
    return handle;
}

}  // namespace

void bind_protocol(py::module_ & m) {
    py::class_<ProcessorHandle, std::shared_ptr<ProcessorHandle>>(m, "OutputProcessor")
        .def_property_readonly("submitted", [](const ProcessorHandle & h) { return !h.processor; });

    m.def(
        "events_processor",
        [](const ChatOutputFormat & format) {
            return chat_processor(format, std::make_unique<pyllm::protocol::EventsEncoder>());
        },
        py::arg("output_format"),
        "Parser events and the finish as JSON objects, one per payload (Engine.chat).");

    m.def(
        "openai_chat_processor",
        [](const ChatOutputFormat & format, std::string id, int64_t created, std::string model, bool stream,
           bool include_usage, std::string reasoning_field) {
            pyllm::protocol::OpenAIResponseOptions options{std::move(id), created, std::move(model), stream,
                                                           include_usage, std::move(reasoning_field)};
            return chat_processor(format, std::make_unique<pyllm::protocol::OpenAIChatEncoder>(std::move(options)));
        },
        py::arg("output_format"), py::arg("id"), py::arg("created"), py::arg("model"), py::arg("stream"),
        py::arg("include_usage") = false, py::arg("reasoning_field") = "reasoning_content",
        "OpenAI chat.completion.chunk payloads (stream) or one chat.completion object.");

    m.def(
        "openai_completion_processor",
        [](std::string id, int64_t created, std::string model, bool stream, bool include_usage) {
            pyllm::protocol::OpenAIResponseOptions options{std::move(id), created, std::move(model), stream,
                                                           include_usage, {}};
            auto handle = std::make_shared<ProcessorHandle>();
            handle->processor = std::make_unique<pyllm::protocol::OpenAICompletionProcessor>(std::move(options));
            return handle;
        },
        py::arg("id"), py::arg("created"), py::arg("model"), py::arg("stream"), py::arg("include_usage") = false,
        "OpenAI text_completion payloads for a plain-text prompt (/v1/completions).");

    m.def(
        "replay_processor",
        [](ProcessorHandle & handle, const std::vector<std::string> & pieces, const std::string & finish_reason,
           int32_t prompt_tokens) {
            if (!handle.processor) throw pyllm::InvalidRequestError("this output processor was already used");
            static const std::map<std::string, pyllm::FinishReason> reasons{
                {"stop", pyllm::FinishReason::stop}, {"length", pyllm::FinishReason::length},
                {"stop_sequence", pyllm::FinishReason::stop_sequence}, {"error", pyllm::FinishReason::error}};
            const auto reason = reasons.find(finish_reason);
            if (reason == reasons.end()) throw pyllm::InvalidRequestError("unknown finish reason: " + finish_reason);
            std::unique_ptr<pyllm::OutputProcessor> processor = std::move(handle.processor);
            pyllm::Usage usage{prompt_tokens, 0, 0};
            std::vector<std::string> out;
            std::vector<int64_t> piece_ns;
            py::gil_scoped_release release;
            processor->on_start(usage, out);
            for (const auto & piece : pieces) {
                const auto t0 = std::chrono::steady_clock::now();
                processor->on_text(piece, out);
                piece_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now() - t0).count());
                ++usage.completion_tokens;
            }
            processor->on_finish({reason->second, {}, reason->second == pyllm::FinishReason::error ? "replayed error" : "",
                                  usage},
                                 out);
            return std::make_pair(out, piece_ns);
        },
        py::arg("processor"), py::arg("pieces"), py::arg("finish_reason") = "stop", py::arg("prompt_tokens") = 0,
        "Run a processor over text pieces without an engine, as if each were one token: (payloads, "
        "nanoseconds per piece). For protocol tests that replay chunkings, and the encoder benchmark.");

    m.def(
        "anthropic_processor",
        [](const ChatOutputFormat & format, std::string message_id, std::string model, bool stream,
           std::vector<std::string> stop_sequences) {
            pyllm::protocol::AnthropicOptions options{std::move(message_id), std::move(model), stream,
                                                      std::move(stop_sequences)};
            return chat_processor(format, std::make_unique<pyllm::protocol::AnthropicEncoder>(std::move(options)));
        },
        py::arg("output_format"), py::arg("message_id"), py::arg("model"), py::arg("stream"),
        py::arg("stop_sequences") = std::vector<std::string>{},
        "Anthropic Messages API output: complete SSE frames when streaming, else one Message JSON at finish.");

    m.def(
        "responses_processor",
        [](const ChatOutputFormat & format, std::string response_id, std::string model, int64_t created_at,
           bool stream, std::string request_fields,
           const std::vector<std::tuple<std::string, bool, std::string, std::string>> & tools,
           bool reasoning_summary) {
            pyllm::protocol::ResponsesOptions options{std::move(response_id), std::move(model), created_at, stream,
                                                      std::move(request_fields), {}, reasoning_summary};
            for (const auto & [flat_name, custom, ns, name] : tools) options.tools.push_back({flat_name, custom, ns, name});
            return chat_processor(format, std::make_unique<pyllm::protocol::ResponsesEncoder>(std::move(options)));
        },
        py::arg("output_format"), py::arg("response_id"), py::arg("model"), py::arg("created_at"), py::arg("stream"),
        py::arg("request_fields") = "",
        py::arg("tools") = std::vector<std::tuple<std::string, bool, std::string, std::string>>{},
        py::arg("reasoning_summary") = false,
        "OpenAI Responses API output: complete SSE frames with sequence numbers when streaming, else one "
        "Response JSON at finish. request_fields: the echoed request members as JSON without braces; tools: "
        "(name the template knows, custom, namespace, name) per tool; reasoning_summary: reasoning items "
        "carry their text as the summary too.");
}
