// pybind11 bindings only: argument conversion, GIL release around native work, and the
// one place where C++ exception types become named Python exceptions.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "errors.h"
#include "model.h"
#include "runtime.h"

namespace py = pybind11;
using pyllm::Model;

void bind_embedder(py::module_ & m);
void bind_engine(py::module_ & m);
void bind_parse(py::module_ & m);
void bind_protocol(py::module_ & m);
void bind_request(py::module_ & m);

namespace {

py::dict chat_params_to_dict(const common_chat_params & p) {
    py::dict d;
    d["prompt"] = py::bytes(p.prompt).attr("decode")("utf-8", "replace");
    d["format"] = common_chat_format_name(p.format);
    d["generation_prompt"] = p.generation_prompt;
    d["supports_thinking"] = p.supports_thinking;
    d["thinking_start_tag"] = p.thinking_start_tag;
    d["thinking_end_tags"] = p.thinking_end_tags;
    d["grammar"] = p.grammar;
    d["grammar_lazy"] = p.grammar_lazy;
    d["preserved_tokens"] = p.preserved_tokens;
    d["additional_stops"] = p.additional_stops;
    return d;
}

py::dict build_info_to_dict(const pyllm::BuildInfo & b) {
    py::dict d;
    d["llama_cpp_commit"] = b.llama_cpp_commit;
    d["llama_cpp_source"] = b.llama_cpp_source;
    d["llama_cpp_build_number"] = b.llama_cpp_build_number;
    d["compiler"] = b.compiler;
    d["build_type"] = b.build_type;
    d["backends"] = b.backends;
    d["devices"] = b.devices;
    d["gpu_backends"] = b.gpu_backends;
    d["gpu_archs"] = b.gpu_archs;
    d["cpu_native"] = b.cpu_native;
    d["cpu_features"] = b.cpu_features;
    d["system_info"] = b.system_info;
    return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "pyllm native core (llama.cpp); use the pyllm package, not this module";

    auto base = py::register_exception<std::runtime_error>(m, "PyllmError", PyExc_RuntimeError);
    py::register_exception<pyllm::ModelLoadError>(m, "ModelLoadError", base.ptr());
    py::register_exception<pyllm::ChatTemplateError>(m, "ChatTemplateError", base.ptr());
    py::register_exception<pyllm::InvalidRequestError>(m, "InvalidRequestError", base.ptr());
    py::register_exception<pyllm::EngineOverloadedError>(m, "EngineOverloadedError", base.ptr());
    py::register_exception<pyllm::EngineError>(m, "EngineError", base.ptr());
    // Carries both numbers as attributes, not only in the message.
    static PyObject * context_overflow =
        py::register_exception<pyllm::ContextOverflowError>(m, "ContextOverflowError", base.ptr()).ptr();
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const pyllm::ContextOverflowError & e) {
            py::object exc = py::reinterpret_borrow<py::object>(context_overflow)(e.what());
            exc.attr("n_tokens") = e.n_tokens;
            exc.attr("n_ctx") = e.n_ctx;
            PyErr_SetObject(context_overflow, exc.ptr());
        }
    });

    pyllm::init_runtime();

    m.def("build_info", [] { return build_info_to_dict(pyllm::build_info()); });
    m.def("set_log_level", &pyllm::set_log_level, py::arg("level"));
    m.def("log_level", &pyllm::log_level);
    m.def("add_rpc_servers", &pyllm::add_rpc_servers, py::arg("endpoints"));
    m.def("backend_failure", &pyllm::backend_failure);
    m.def("devices", [] {
        py::list out;
        for (const auto & d : pyllm::devices()) {
            py::dict entry;
            entry["name"] = d.name;
            entry["description"] = d.description;
            entry["type"] = d.type;
            entry["backend"] = d.backend;
            entry["memory_total"] = d.memory_total;
            entry["memory_free"] = d.memory_free;
            out.append(std::move(entry));
        }
        return out;
    });

    py::class_<Model, std::shared_ptr<Model>>(m, "Model")
        .def(py::init([](const std::string & path, int n_gpu_layers, std::optional<int> main_gpu, bool use_mmap,
                         bool use_mlock, bool vocab_only, const std::string & chat_template, bool repack,
                         std::optional<py::function> progress, std::optional<std::string> split_mode,
                         std::vector<float> tensor_split, std::optional<std::vector<std::string>> devices) {
                 pyllm::ModelOptions o;
                 o.n_gpu_layers = n_gpu_layers;
                 o.main_gpu = main_gpu;
                 o.split_mode = std::move(split_mode);
                 o.tensor_split = std::move(tensor_split);
                 o.devices = std::move(devices);
                 o.use_mmap = use_mmap;
                 o.use_mlock = use_mlock;
                 o.vocab_only = vocab_only;
                 o.chat_template = chat_template;
                 o.repack = repack;
                 // An exception in the progress callback (Ctrl-C included) aborts the load and
                 // is raised instead of the load error.
                 auto failure = std::make_shared<std::exception_ptr>();
                 if (progress) {
                     o.on_progress = [fn = *progress, failure](float p) {
                         py::gil_scoped_acquire gil;  // called on this thread, inside the GIL release below
                         try {
                             fn(p);
                             return true;
                         } catch (...) {
                             *failure = std::current_exception();
                             return false;
                         }
                     };
                 }
                 try {
                     py::gil_scoped_release nogil;
                     return std::make_shared<Model>(path, o);
                 } catch (const pyllm::ModelLoadError &) {
                     if (*failure) std::rethrow_exception(*failure);
                     throw;
                 }
             }),
             py::arg("path"), py::arg("n_gpu_layers") = 0, py::arg("main_gpu") = py::none(), py::arg("use_mmap") = true,
             py::arg("use_mlock") = false, py::arg("vocab_only") = false, py::arg("chat_template") = "",
             py::arg("repack") = true, py::arg("progress") = py::none(), py::arg("split_mode") = py::none(),
             py::arg("tensor_split") = std::vector<float>{}, py::arg("devices") = py::none())
        .def_property_readonly("path", &Model::path)
        .def_property_readonly("vocab_only", &Model::vocab_only)
        .def_property_readonly("offloaded_layers", &Model::offloaded_layers)
        .def_property_readonly("weight_buffers", &Model::weight_buffers)
        .def_property_readonly("architecture", &Model::architecture)
        .def_property_readonly("description", &Model::description)
        .def_property_readonly("n_ctx_train", &Model::n_ctx_train)
        .def_property_readonly("n_embd", &Model::n_embd)
        .def_property_readonly("n_layer", &Model::n_layer)
        .def_property_readonly("n_vocab", &Model::n_vocab)
        .def_property_readonly("n_params", &Model::n_params)
        .def_property_readonly("size_bytes", &Model::size_bytes)
        .def_property_readonly("chat_template", &Model::chat_template_source)
        .def_property_readonly("bos_token", &Model::bos_token)
        .def_property_readonly("eos_token", &Model::eos_token)
        .def_property_readonly("add_bos", &Model::add_bos)
        .def("metadata", &Model::metadata)
        .def("chat_template_caps", &Model::chat_template_caps)
        .def("tokenize", &Model::tokenize, py::arg("text"), py::arg("add_special"), py::arg("parse_special"),
             py::call_guard<py::gil_scoped_release>())
        .def("detokenize",
             [](const Model & self, const std::vector<llama_token> & tokens, bool render_special) {
                 std::string text;
                 {
                     py::gil_scoped_release nogil;
                     text = self.detokenize(tokens, render_special);
                 }
                 // Token boundaries can split a UTF-8 sequence; never fail on that.
                 return py::bytes(text).attr("decode")("utf-8", "replace");
             },
             py::arg("tokens"), py::arg("render_special"))
        .def("render_chat",
             [](const Model & self, std::string messages_json, std::string tools_json,
                std::optional<bool> enable_thinking, bool add_generation_prompt,
                std::map<std::string, std::string> kwargs) {
                 pyllm::ChatInputs in{std::move(messages_json), std::move(tools_json), enable_thinking,
                                      add_generation_prompt, std::move(kwargs)};
                 common_chat_params params;
                 {
                     py::gil_scoped_release nogil;
                     params = self.render_chat(in);
                 }
                 return chat_params_to_dict(params);
             },
             py::arg("messages_json"), py::arg("tools_json"), py::arg("enable_thinking"),
             py::arg("add_generation_prompt"), py::arg("kwargs"));

    bind_request(m);
    bind_engine(m);
    bind_embedder(m);
    bind_parse(m);
    bind_protocol(m);
}
