// pybind11 bindings of the engine: argument conversion and GIL release only.
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "engine/chat_request.h"
#include "engine/engine.h"
#include "engine/projector.h"
#include "engine/request_preparer.h"
#include "errors.h"
#include "model.h"
#include "py_convert.h"

namespace py = pybind11;
using pyllm::Engine;
using pyllm::Task;
using pyllm::bindings::drain;
using pyllm::bindings::to_py_list;

namespace {

py::tuple ready_tuple(const Task & t, const Task::Ready & r) {
    return py::make_tuple(to_py_list(r.items, t.binary_output()), r.done);
}

}  // namespace

void bind_engine(py::module_ & m) {
    py::class_<Task, std::shared_ptr<Task>>(m, "Task")
        .def_property_readonly("id", &Task::id)
        .def("cancel", &Task::cancel)
        .def_property_readonly("done", &Task::done)
        .def("take", [](Task & t) { return ready_tuple(t, t.take()); })
        .def("wait",
             [](Task & t, int timeout_ms) {
                 Task::Ready r;
                 {
                     py::gil_scoped_release nogil;
                     r = t.wait(timeout_ms);
                 }
                 return ready_tuple(t, r);
             },
             py::arg("timeout_ms"))
        .def_property_readonly("prepared", &Task::prepared)
        .def(
            "raise_if_failed",
            [](const Task & t) {
                if (t.finish_reason() == pyllm::FinishReason::error && !t.preparation_error()) {
                    throw pyllm::EngineError(t.error());
                }
            },
            "Raises EngineError when the task ended in an engine failure.")
        .def("wait_prepared", &Task::wait_prepared, py::arg("timeout_ms"), py::call_guard<py::gil_scoped_release>())
        .def(
            "raise_if_refused",
            [](const Task & t) {
                if (auto error = t.preparation_error()) std::rethrow_exception(error);
            },
            "Raises what refused the request in preparation (ContextOverflowError, InvalidRequestError, "
            "ChatTemplateError, EngineOverloadedError); nothing if it was queued.")
        .def("wait_done", &Task::wait_done, py::arg("timeout_ms"), py::call_guard<py::gil_scoped_release>())
        .def_property_readonly("finish_reason", [](const Task & t) { return pyllm::finish_reason_name(t.finish_reason()); })
        .def_property_readonly("stop_sequence", &Task::stop_sequence)
        .def_property_readonly("error", &Task::error)
        .def("usage",
             [](const Task & t) {
                 auto u = t.usage();
                 py::dict d;
                 d["prompt_tokens"] = u.prompt_tokens;
                 d["cached_tokens"] = u.cached_tokens;
                 d["completion_tokens"] = u.completion_tokens;
                 return d;
             })
        .def("timings",
             [](const Task & t) {
                 auto x = t.timings();
                 py::dict d;
                 d["queue_ms"] = x.queue_ms;
                 d["prefill_ms"] = x.prefill_ms;
                 d["decode_ms"] = x.decode_ms;
                 return d;
             })
        .def("logprobs", [](const Task & t, size_t start) {
            py::list out;
            for (const auto & p : t.logprobs(start)) {
                py::list top;
                for (const auto & c : p.top) top.append(py::make_tuple(c.token, c.logprob));
                py::dict d;
                d["token"] = p.token;
                d["logprob"] = p.logprob;
                d["top"] = top;
                out.append(d);
            }
            return out;
        }, py::arg("start") = 0);

    // The engine's defaults are EngineOptions'; Python reads them from here instead of repeating them.
    const pyllm::EngineOptions defaults;
    py::dict engine_defaults;
    engine_defaults["n_parallel"] = defaults.n_parallel;
    engine_defaults["n_ctx"] = defaults.n_ctx;
    engine_defaults["n_batch"] = defaults.n_batch;
    engine_defaults["n_threads"] = defaults.n_threads;
    engine_defaults["max_queued"] = defaults.max_queued;
    engine_defaults["cache_ram_mib"] = defaults.cache_ram_mib;
    engine_defaults["swa_full"] = defaults.swa_full;
    engine_defaults["ctx_checkpoints"] = defaults.ctx_checkpoints;
    engine_defaults["max_stall_ms"] = defaults.max_stall_ms;
    m.attr("ENGINE_DEFAULTS") = engine_defaults;

    py::class_<Engine, std::shared_ptr<Engine>>(m, "Engine")
        .def(py::init([](std::shared_ptr<pyllm::Model> model, int n_parallel, int n_ctx, int n_batch, int n_threads,
                         int flash_attn, int max_queued, bool kv_unified, int64_t cache_ram_mib, bool swa_full,
                         int ctx_checkpoints, int max_stall_ms, std::string mmproj, int64_t image_max_pixels, bool mmproj_offload,
                         std::string grammar) {
                 pyllm::EngineOptions o;
                 o.n_parallel = n_parallel;
                 o.n_ctx = n_ctx;
                 o.n_batch = n_batch;
                 o.n_threads = n_threads;
                 o.flash_attn = flash_attn;
                 o.max_queued = max_queued;
                 o.kv_unified = kv_unified;
                 o.cache_ram_mib = cache_ram_mib;
                 o.swa_full = swa_full;
                 o.ctx_checkpoints = ctx_checkpoints;
                 o.max_stall_ms = max_stall_ms;
                 o.mmproj = std::move(mmproj);
                 o.image_max_pixels = image_max_pixels;
                 o.mmproj_offload = mmproj_offload;
                 o.grammar = std::move(grammar);
                 py::gil_scoped_release nogil;
                 return std::make_shared<Engine>(std::move(model), o);
             }),
             py::arg("model"), py::arg("n_parallel") = defaults.n_parallel, py::arg("n_ctx") = defaults.n_ctx,
             py::arg("n_batch") = defaults.n_batch, py::arg("n_threads") = defaults.n_threads,
             py::arg("flash_attn") = defaults.flash_attn, py::arg("max_queued") = defaults.max_queued,
             py::arg("kv_unified") = defaults.kv_unified, py::arg("cache_ram_mib") = defaults.cache_ram_mib,
             py::arg("swa_full") = defaults.swa_full, py::arg("ctx_checkpoints") = defaults.ctx_checkpoints,
             py::arg("max_stall_ms") = defaults.max_stall_ms,
             py::arg("mmproj") = defaults.mmproj, py::arg("image_max_pixels") = defaults.image_max_pixels,
             py::arg("mmproj_offload") = defaults.mmproj_offload, py::arg("grammar") = defaults.grammar)
        .def(
            "submit",
            [](Engine & e, pyllm::ChatRequest request) {
                py::gil_scoped_release nogil;
                return e.submit(std::move(request));
            },
            py::arg("request"),
            "Queue a request for preparation (template, tokens, grammar, parser, encoder) on a native worker; "
            "the task is returned at once and wakes its watcher when queued or refused.")
        .def(
            "count_tokens",
            [](Engine & e, const pyllm::ChatRequest & request) {
                return pyllm::count_prompt_tokens(e.model(), e.projector(), request);
            },
            py::arg("request"), py::call_guard<py::gil_scoped_release>(),
            "Prompt tokens of a request exactly as submit() would queue it.")
        .def_property_readonly("wakeup_fd", [](Engine & e) { return e.ready().fd(); })
        .def_property_readonly("n_ctx_slot", &Engine::n_ctx_slot)
        .def_property_readonly(
            "vision", [](const Engine & e) { return e.projector() != nullptr && e.projector()->vision(); },
            "Whether image input is available (a multimodal projector was loaded).")
        .def("watch", [](Engine & e, const std::shared_ptr<Task> & t) { e.ready().watch(t); }, py::arg("task"))
        .def("drain", [](Engine & e) { return drain(e.ready()); })
        .def("stats",
             [](const Engine & e) {
                 auto s = e.stats();
                 py::dict d;
                 d["n_slots"] = s.n_slots;
                 d["busy_slots"] = s.busy_slots;
                 d["queued"] = s.queued;
                 d["n_ctx_slot"] = s.n_ctx_slot;
                 d["decode_calls"] = s.decode_calls;
                 d["saved_prompts"] = s.saved_prompts;
                 d["saved_bytes"] = s.saved_bytes;
                 d["checkpoints"] = s.checkpoints;
                 d["checkpoint_bytes"] = s.checkpoint_bytes;
                 d["checkpoint_restores"] = s.checkpoint_restores;
                 d["checkpoint_restore_failures"] = s.checkpoint_restore_failures;
                 return d;
             })
        .def("shutdown", &Engine::shutdown, py::call_guard<py::gil_scoped_release>());
}
