// Conversions the binding files share (and the separate benchmark module, csrc/bench): text
// in from Python, payloads and ready tasks out.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/ready_queue.h"
#include "engine/task.h"

namespace pyllm::bindings {

namespace py = pybind11;

// str (surrogate escapes kept, so any bytes round-trip) or bytes -> UTF-8 bytes.
inline std::string from_py_text(const py::handle & h) {
    if (py::isinstance<py::bytes>(h)) {
        return h.cast<std::string>();
    }
    py::bytes b = h.attr("encode")("utf-8", "surrogateescape");
    return b.cast<std::string>();
}

inline std::vector<std::string> pieces_from_py(const py::iterable & pieces) {
    std::vector<std::string> out;
    for (auto p : pieces) {
        out.push_back(from_py_text(p));
    }
    return out;
}

// A protocol's payloads are final bytes (SSE frames, JSON) that go to the socket as they are;
// a text task's payloads are text, which can end inside a UTF-8 sequence only at a forced
// flush (never fail on it).
inline py::list to_py_list(const std::vector<std::string> & items, bool as_bytes) {
    py::list out(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        PyObject * o = as_bytes ? PyBytes_FromStringAndSize(items[i].data(), static_cast<Py_ssize_t>(items[i].size()))
                                : PyUnicode_DecodeUTF8(items[i].data(), static_cast<Py_ssize_t>(items[i].size()), "replace");
        if (!o) throw py::error_already_set();
        out[i] = py::reinterpret_steal<py::object>(o);
    }
    return out;
}

// [(task id, payloads, done)] for every watched task with news, taken in one call.
inline py::list drain(ReadyQueue & queue) {
    py::list out;
    for (auto & task : queue.drain()) {
        auto r = task->take();
        out.append(py::make_tuple(task->id(), to_py_list(r.items, task->binary_output()), r.done));
    }
    return out;
}

}  // namespace pyllm::bindings
