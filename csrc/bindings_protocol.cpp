// pybind11 bindings of the per-request output processors (parser + protocol encoder).
// Each factory returns a ProcessorHandle that Engine.submit(processor=...) takes over.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "parse/chat_output_format.h"
#include "parse/stream_parser.h"
#include "protocol/anthropic_encoder.h"
#include "protocol/chat_processor.h"
#include "protocol/events_encoder.h"
#include "protocol/processor_handle.h"

namespace py = pybind11;
using pyllm::parse::ChatOutputFormat;
using pyllm::protocol::ProcessorHandle;

namespace {

std::shared_ptr<ProcessorHandle> chat_processor(const ChatOutputFormat & format,
                                                std::unique_ptr<pyllm::protocol::StreamEncoder> encoder) {
    pyllm::parse::StreamParser parser(format.params, format.tools, {format.extract_reasoning, false});
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
}
