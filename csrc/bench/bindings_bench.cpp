// pyllm._bench: the native pieces only benchmarks and delivery tests use (a synthetic
// producer, parser timings), kept out of _core, the module a server loads. Their tasks and
// output formats are _core's types (pybind11 shares registered types between modules).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bench/parser_bench.h"
#include "bench/synthetic_producer.h"
#include "parse/rendered_chat.h"
#include "py_convert.h"

namespace py = pybind11;
using pyllm::SyntheticProducer;
using pyllm::Task;
using pyllm::bindings::pieces_from_py;
using pyllm::parse::RenderedChat;

PYBIND11_MODULE(_bench, m) {
    m.doc() = "pyllm benchmark helpers (synthetic producer, parser timings); not used by the server";
    py::module_::import("pyllm._core");  // registers Task and RenderedChat

    py::class_<SyntheticProducer>(m, "SyntheticProducer")
        .def(py::init<int>(), py::arg("n_tasks"))
        .def_property_readonly("tasks", &SyntheticProducer::tasks)
        .def_property_readonly("wakeup_fd", [](SyntheticProducer & p) { return p.queue().fd(); })
        .def("watch", [](SyntheticProducer & p, const std::shared_ptr<Task> & t) { p.queue().watch(t); },
             py::arg("task"))
        .def("drain", [](SyntheticProducer & p) { return pyllm::bindings::drain(p.queue()); })
        .def("start", &SyntheticProducer::start, py::arg("n_items"), py::arg("payload_bytes"),
             py::arg("interval_us") = 0)
        .def("join", &SyntheticProducer::join, py::call_guard<py::gil_scoped_release>())
        .def_property_readonly("producer_cpu_seconds", &SyntheticProducer::producer_cpu_seconds);

    m.def(
        "time_stream_parser",
        [](const RenderedChat & f, const py::iterable & pieces, bool force_reference) {
            auto v = pieces_from_py(pieces);
            py::gil_scoped_release nogil;
            return pyllm::parse::time_stream_parser(f.params, f.tools, f.parser_options(force_reference), v);
        },
        py::arg("output_format"), py::arg("pieces"), py::arg("force_reference") = false,
        "Seconds to feed every piece to a fresh StreamParser and finish it.");
    m.def(
        "time_server_reparse",
        [](const RenderedChat & f, const py::iterable & pieces) {
            auto v = pieces_from_py(pieces);
            py::gil_scoped_release nogil;
            return pyllm::parse::time_server_reparse(f.params, f.extract_reasoning, v);
        },
        py::arg("output_format"), py::arg("pieces"),
        "Seconds for llama.cpp's server path over the same pieces (reparse of the whole text per piece).");
}
