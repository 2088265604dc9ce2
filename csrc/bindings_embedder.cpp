// pybind11 bindings of the embedder: argument conversion, GIL release, and vectors handed
// to numpy without a copy (the array owns the native buffer).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "engine/embedder.h"
#include "errors.h"
#include "model.h"
#include "protocol/openai_embeddings.h"

namespace py = pybind11;
using pyllm::Embedder;
using pyllm::EmbeddingRequest;

namespace {

template <typename T>
py::array_t<T> owning_array(std::vector<T> && values, std::vector<py::ssize_t> shape) {
    auto * owned = new std::vector<T>(std::move(values));
    py::capsule release(owned, [](void * p) { delete static_cast<std::vector<T> *>(p); });
    return py::array_t<T>(std::move(shape), owned->data(), release);
}

}  // namespace

void bind_embedder(py::module_ & m) {
    py::class_<EmbeddingRequest, std::shared_ptr<EmbeddingRequest>>(m, "EmbeddingRequest")
        .def_property_readonly("completion", &EmbeddingRequest::completion)
        .def_property_readonly("n_inputs", &EmbeddingRequest::n_inputs)
        .def_property_readonly("n_dims", &EmbeddingRequest::n_dims)
        .def_property_readonly("n_tokens", &EmbeddingRequest::n_tokens)
        .def("input_lengths", &EmbeddingRequest::input_lengths)
        .def("take_vectors", [](EmbeddingRequest & r) {
            std::vector<float> vectors = r.take_vectors();
            if (vectors.empty()) throw std::runtime_error("the embedding request did not finish successfully");
            return owning_array<float>(std::move(vectors), {r.n_inputs(), r.n_dims()});
        });

    py::class_<Embedder, std::shared_ptr<Embedder>>(m, "Embedder")
        .def(py::init([](std::shared_ptr<pyllm::Model> model, int n_batch, int n_seq_max, int n_threads, int flash_attn,
                         const std::string & pooling, int max_queued) {
                 pyllm::EmbedderOptions o;
                 o.n_batch = n_batch;
                 o.n_seq_max = n_seq_max;
                 o.n_threads = n_threads;
                 o.flash_attn = flash_attn;
                 o.pooling = pooling.empty() ? LLAMA_POOLING_TYPE_UNSPECIFIED : pyllm::pooling_from_name(pooling);
                 o.max_queued = max_queued;
                 py::gil_scoped_release nogil;
                 return std::make_shared<Embedder>(std::move(model), o);
             }),
             py::arg("model"), py::arg("n_batch") = 512, py::arg("n_seq_max") = 0, py::arg("n_threads") = 0,
             py::arg("flash_attn") = 0, py::arg("pooling") = "", py::arg("max_queued") = 64)
        .def("submit", &Embedder::submit, py::arg("inputs"), py::arg("normalize"), py::arg("truncate"),
             py::call_guard<py::gil_scoped_release>())
        .def("submit_texts", &Embedder::submit_texts, py::arg("texts"), py::arg("normalize"), py::arg("truncate"),
             py::call_guard<py::gil_scoped_release>())
        .def_property_readonly("n_dims", &Embedder::n_dims)
        .def_property_readonly("max_input_tokens", &Embedder::max_input_tokens)
        .def_property_readonly("pooling", [](const Embedder & e) { return pyllm::pooling_name(e.pooling()); })
        .def_property_readonly("wakeup_fd", [](Embedder & e) { return e.ready().fd(); })
        .def("watch", [](Embedder & e, const std::shared_ptr<pyllm::Task> & t) { e.ready().watch(t); }, py::arg("task"))
        // [(task id, payloads, done)] like Engine.drain; a completion carries no payloads.
        .def("drain",
             [](Embedder & e) {
                 py::list out;
                 for (auto & task : e.ready().drain()) {
                     auto r = task->take();
                     out.append(py::make_tuple(task->id(), py::list(), r.done));
                 }
                 return out;
             })
        .def("stats",
             [](const Embedder & e) {
                 auto s = e.stats();
                 py::dict d;
                 d["queued"] = s.queued;
                 d["requests"] = s.requests;
                 d["inputs"] = s.inputs;
                 d["tokens"] = s.tokens;
                 d["decode_calls"] = s.decode_calls;
                 return d;
             })
        .def("shutdown", &Embedder::shutdown, py::call_guard<py::gil_scoped_release>());

    m.def(
        "tokenize_array",
        [](const pyllm::Model & model, const std::string & text, bool add_special, bool parse_special) {
            std::vector<llama_token> tokens;
            {
                py::gil_scoped_release nogil;
                tokens = model.tokenize(text, add_special, parse_special);
            }
            const auto n = static_cast<py::ssize_t>(tokens.size());
            return owning_array<int32_t>(std::move(tokens), {n});
        },
        py::arg("model"), py::arg("text"), py::arg("add_special"), py::arg("parse_special"),
        "Model.tokenize as an int32 array that owns the native buffer.");

    m.def(
        "openai_embeddings_body",
        [](py::array_t<float, py::array::c_style | py::array::forcecast> vectors, const std::string & model,
           bool base64, int64_t prompt_tokens) {
            if (vectors.ndim() != 2) throw pyllm::InvalidRequestError("vectors must be a 2-D array");
            std::string body;
            {
                py::gil_scoped_release nogil;
                body = pyllm::protocol::openai_embeddings_body(vectors.data(), vectors.shape(0), vectors.shape(1),
                                                               base64, model, prompt_tokens);
            }
            return py::bytes(body);
        },
        py::arg("vectors"), py::arg("model"), py::arg("base64"), py::arg("prompt_tokens"),
        "The JSON body of an OpenAI embeddings response for float32 rows.");
}
