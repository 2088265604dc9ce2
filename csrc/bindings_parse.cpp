// pybind11 bindings for the incremental output parser (csrc/parse). Binding only: the
// request's chat parameters are rendered once into a RenderedChat, parsers are made
// from it, and native work runs without the GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "engine/chat_prompt.h"
#include "errors.h"
#include "model.h"
#include "parse/rendered_chat.h"
#include "parse/reference_parser.h"
#include "parse/stream_parser.h"
#include "py_convert.h"

namespace py = pybind11;
using namespace pyllm::parse;
using pyllm::bindings::from_py_text;
using pyllm::bindings::pieces_from_py;

namespace {

// Output text is bytes; invalid UTF-8 (possible mid-stream, or from fuzzing) survives the
// trip to Python as surrogate escapes instead of failing or being replaced.
py::str to_py_str(const std::string & s) {
    PyObject * o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape");
    if (!o) {
        throw py::error_already_set();
    }
    return py::reinterpret_steal<py::str>(o);
}

py::list events_to_py(const StreamEvents & events) {
    py::list out;
    for (const auto & e : events) {
        out.append(py::make_tuple(stream_event_kind_name(e.kind), to_py_str(e.text), e.index, e.id, to_py_str(e.name)));
    }
    return out;
}

py::dict msg_to_py(const common_chat_msg & msg) {
    py::dict d;
    d["reasoning"] = to_py_str(msg.reasoning_content);
    d["content"] = to_py_str(msg.content);
    py::list calls;
    for (const auto & c : msg.tool_calls) {
        py::dict call;
        call["name"] = to_py_str(c.name);
        call["arguments"] = to_py_str(c.arguments);
        call["id"] = to_py_str(c.id);
        calls.append(call);
    }
    d["tool_calls"] = calls;
    return d;
}

}  // namespace

void bind_parse(py::module_ & m) {
    py::class_<RenderedChat, std::shared_ptr<RenderedChat>>(m, "RenderedChat")
        .def(py::init([](const pyllm::Model & model, std::string messages_json, std::string tools_json,
                         std::optional<bool> enable_thinking, bool extract_reasoning, bool parallel_tool_calls,
                         std::string tool_choice, bool continue_final_message, std::string json_schema,
                         std::map<std::string, std::string> template_kwargs,
                         std::map<std::string, std::string> tool_input_grammars) {
                 pyllm::ChatRequest r;
                 r.messages_json = std::move(messages_json);
                 r.tools_json = std::move(tools_json);
                 r.enable_thinking = enable_thinking;
                 r.extract_reasoning = extract_reasoning;
                 r.parallel_tool_calls = parallel_tool_calls;
                 r.tool_choice = std::move(tool_choice);
                 r.continue_final_message = continue_final_message;
                 r.json_schema = std::move(json_schema);
                 r.template_kwargs = std::move(template_kwargs);
                 r.tool_input_grammars = std::move(tool_input_grammars);
                 py::gil_scoped_release nogil;
                 return std::make_shared<RenderedChat>(pyllm::render_chat(model, r));
             }),
             py::arg("model"), py::arg("messages_json"), py::arg("tools_json"), py::arg("enable_thinking"),
             py::arg("extract_reasoning"), py::arg("parallel_tool_calls"), py::arg("tool_choice") = "auto",
             py::arg("continue_final_message") = false, py::arg("json_schema") = "",
             py::arg("template_kwargs") = std::map<std::string, std::string>{},
             py::arg("tool_input_grammars") = std::map<std::string, std::string>{})
        .def_property_readonly("prompt", [](const RenderedChat & f) { return to_py_str(f.params.prompt); })
        .def_property_readonly("generation_prompt",
                               [](const RenderedChat & f) { return to_py_str(f.params.generation_prompt); })
        .def_property_readonly("preserved_tokens", [](const RenderedChat & f) { return f.params.preserved_tokens; })
        .def_property_readonly("grammar", [](const RenderedChat & f) { return f.params.grammar; })
        .def_property_readonly("grammar_lazy", [](const RenderedChat & f) { return f.params.grammar_lazy; })
        .def_property_readonly("supports_thinking", [](const RenderedChat & f) { return f.params.supports_thinking; })
        .def_property_readonly("thinking_start_tag", [](const RenderedChat & f) { return f.params.thinking_start_tag; })
        .def_property_readonly("thinking_end_tags", [](const RenderedChat & f) { return f.params.thinking_end_tags; })
        .def_property_readonly("additional_stops", [](const RenderedChat & f) { return f.params.additional_stops; })
        .def("reference_parse",
             [](const RenderedChat & f, const py::handle & text, bool is_partial) {
                 const std::string s = from_py_text(text);
                 common_chat_msg msg;
                 {
                     py::gil_scoped_release nogil;
                     msg = reference_parse(s, is_partial, f.reference);
                 }
                 return msg_to_py(msg);
             },
             py::arg("text"), py::arg("is_partial"));

    py::class_<StreamParser>(m, "StreamParser")
        .def(py::init([](const RenderedChat & f, bool force_reference) {
                 return std::make_unique<StreamParser>(f.params, f.tools, f.parser_options(force_reference));
             }),
             py::arg("output_format"), py::arg("force_reference") = false)
        .def_property_readonly("family", &StreamParser::family)
        .def("feed",
             [](StreamParser & self, const py::handle & text) {
                 const std::string s = from_py_text(text);
                 StreamEvents events;
                 {
                     py::gil_scoped_release nogil;
                     events = self.feed(s);
                 }
                 return events_to_py(events);
             },
             py::arg("text"))
        .def("feed_many",
             [](StreamParser & self, const py::iterable & pieces) {
                 const auto v = pieces_from_py(pieces);
                 StreamEvents events;
                 {
                     py::gil_scoped_release nogil;
                     for (const auto & piece : v) {
                         auto e = self.feed(piece);
                         events.insert(events.end(), std::make_move_iterator(e.begin()), std::make_move_iterator(e.end()));
                     }
                 }
                 return events_to_py(events);
             },
             py::arg("pieces"))
        .def("finish", [](StreamParser & self) {
            StreamEvents events;
            {
                py::gil_scoped_release nogil;
                events = self.finish();
            }
            return events_to_py(events);
        });
}
