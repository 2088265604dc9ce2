// pybind11 bindings of the request object (engine/chat_request.h): plain fields, set from
// Python by name; a misspelt field is an AttributeError, not a silently ignored keyword.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "engine/chat_request.h"

namespace py = pybind11;
using pyllm::ChatRequest;
using pyllm::ImageInput;
using pyllm::OutputSpec;
using pyllm::Protocol;
using pyllm::SamplingParams;

namespace {

// Keyword construction: every keyword must name a field.
template <typename T>
void init_from_kwargs(py::class_<T> & cls) {
    cls.def(py::init([](const py::kwargs & kwargs) {
        auto obj = py::cast(T{});
        for (auto [key, value] : kwargs) py::setattr(obj, key, value);
        return obj.template cast<T>();
    }));
}

}  // namespace

void bind_request(py::module_ & m) {
    py::enum_<Protocol>(m, "Protocol")
        .value("text", Protocol::text)
        .value("events", Protocol::events)
        .value("openai_chat", Protocol::openai_chat)
        .value("openai_completion", Protocol::openai_completion)
        .value("anthropic", Protocol::anthropic)
        .value("responses", Protocol::responses);

    py::class_<SamplingParams> sampling(m, "SamplingParams",
                                        "Sampling and limits of one request; the defaults are the engine's.");
    init_from_kwargs(sampling);
    sampling.def_readwrite("max_tokens", &SamplingParams::max_tokens)
        .def_readwrite("temperature", &SamplingParams::temperature)
        .def_readwrite("top_p", &SamplingParams::top_p)
        .def_readwrite("top_k", &SamplingParams::top_k)
        .def_readwrite("min_p", &SamplingParams::min_p)
        .def_readwrite("seed", &SamplingParams::seed)
        .def_readwrite("repeat_penalty", &SamplingParams::repeat_penalty)
        .def_readwrite("repeat_last_n", &SamplingParams::repeat_last_n)
        .def_readwrite("presence_penalty", &SamplingParams::presence_penalty)
        .def_readwrite("frequency_penalty", &SamplingParams::frequency_penalty)
        .def_readwrite("logit_bias", &SamplingParams::logit_bias)
        .def_readwrite("stop", &SamplingParams::stop)
        .def_readwrite("ignore_eos", &SamplingParams::ignore_eos)
        .def_readwrite("grammar", &SamplingParams::grammar)
        .def_readwrite("grammar_lazy", &SamplingParams::grammar_lazy)
        .def_readwrite("grammar_triggers", &SamplingParams::grammar_triggers)
        .def_readwrite("json_schema", &SamplingParams::json_schema)
        .def_readwrite("n_probs", &SamplingParams::n_probs)
        .def_readwrite("preserved_tokens", &SamplingParams::preserved_tokens)
        .def_readwrite("reasoning_budget_tokens", &SamplingParams::reasoning_budget_tokens);

    py::class_<OutputSpec> output(m, "OutputSpec", "How a request's output is written: protocol and its options.");
    init_from_kwargs(output);
    output.def_readwrite("protocol", &OutputSpec::protocol)
        .def_readwrite("id", &OutputSpec::id)
        .def_readwrite("created", &OutputSpec::created)
        .def_readwrite("model", &OutputSpec::model)
        .def_readwrite("stream", &OutputSpec::stream)
        .def_readwrite("include_usage", &OutputSpec::include_usage)
        .def_readwrite("reasoning_field", &OutputSpec::reasoning_field)
        .def_readwrite("request_fields", &OutputSpec::request_fields)
        .def_readwrite("responses_tools", &OutputSpec::responses_tools)
        .def_readwrite("reasoning_summary", &OutputSpec::reasoning_summary)
        .def_readwrite("tool_search", &OutputSpec::tool_search);

    py::class_<ImageInput> image(m, "ImageInput",
                                 "One image of a conversation: the file's bytes, the declared media type "
                                 "('' if none) and where in the request it was.");
    init_from_kwargs(image);
    image.def_property(
            "data", [](const ImageInput & i) { return py::bytes(i.data); },
            [](ImageInput & i, const py::bytes & data) { i.data = data; })
        .def_readwrite("media_type", &ImageInput::media_type)
        .def_readwrite("where", &ImageInput::where);

    py::class_<ChatRequest> request(m, "ChatRequest",
                                    "One API-neutral request: a conversation (messages_json) or a raw prompt, "
                                    "sampling, and the output spec.");
    init_from_kwargs(request);
    request.def_readwrite("messages_json", &ChatRequest::messages_json)
        .def_readwrite("tools_json", &ChatRequest::tools_json)
        .def_readwrite("enable_thinking", &ChatRequest::enable_thinking)
        .def_readwrite("extract_reasoning", &ChatRequest::extract_reasoning)
        .def_readwrite("parallel_tool_calls", &ChatRequest::parallel_tool_calls)
        .def_readwrite("tool_choice", &ChatRequest::tool_choice)
        .def_readwrite("continue_final_message", &ChatRequest::continue_final_message)
        .def_readwrite("json_schema", &ChatRequest::json_schema)
        .def_readwrite("template_kwargs", &ChatRequest::template_kwargs)
        .def_readwrite("tool_input_grammars", &ChatRequest::tool_input_grammars)
        .def_readwrite("images", &ChatRequest::images)
        .def_readwrite("prompt_text", &ChatRequest::prompt_text)
        .def_readwrite("prompt_tokens", &ChatRequest::prompt_tokens)
        .def_readwrite("sampling", &ChatRequest::sampling)
        .def_readwrite("output", &ChatRequest::output);
}
