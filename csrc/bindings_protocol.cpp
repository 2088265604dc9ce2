// pybind11 bindings of the per-request output processors (parser + protocol encoder).
// For tests and benchmarks that replay text through a request's processor without an engine.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <map>

#include "errors.h"
#include "parse/rendered_chat.h"
#include "parse/stream_parser.h"
#include "engine/chat_request.h"
#include "protocol/output_processors.h"
#include "protocol/processor_handle.h"

namespace py = pybind11;
using pyllm::parse::RenderedChat;
using pyllm::protocol::ProcessorHandle;


void bind_protocol(py::module_ & m) {
    py::class_<ProcessorHandle, std::shared_ptr<ProcessorHandle>>(m, "OutputProcessor")
        .def_property_readonly("submitted", [](const ProcessorHandle & h) { return !h.processor; });

    m.def(
        "output_processor",
        [](const pyllm::OutputSpec & spec, const RenderedChat * output_format,
           const std::vector<std::string> & stop_sequences) {
            auto handle = std::make_shared<ProcessorHandle>();
            handle->processor = pyllm::protocol::make_output_processor(spec, output_format, stop_sequences);
            if (!handle->processor) throw pyllm::InvalidRequestError("the text protocol has no output processor");
            return handle;
        },
        py::arg("spec"), py::arg("output_format") = nullptr, py::arg("stop_sequences") = std::vector<std::string>{},
        "The output processor (parser + encoder) a request with this output spec gets, for replay_processor.");

    m.def(
        "replay_processor",
        [](ProcessorHandle & handle, const std::vector<std::string> & pieces, const std::string & finish_reason,
           int32_t prompt_tokens) {
            if (!handle.processor) throw pyllm::InvalidRequestError("this output processor was already used");
            static const std::map<std::string, pyllm::FinishReason> reasons{
                {"stop", pyllm::FinishReason::stop}, {"length", pyllm::FinishReason::length},
                {"context_full", pyllm::FinishReason::context_full},
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
}
