// pybind11 bindings of the engine: argument conversion and GIL release only.
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "engine/chat_task.h"
#include "engine/engine.h"
#include "parse/chat_output_format.h"
#include "errors.h"
#include "model.h"
#include "protocol/processor_handle.h"

namespace py = pybind11;
using pyllm::Engine;
using pyllm::Task;

namespace {

// Payload text can end inside a UTF-8 sequence only at a forced flush; never fail on it.
py::list to_str_list(const std::vector<std::string> & items) {
    py::list out(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        PyObject * s = PyUnicode_DecodeUTF8(items[i].data(), static_cast<Py_ssize_t>(items[i].size()), "replace");
        if (!s) throw py::error_already_set();
        out[i] = py::reinterpret_steal<py::object>(s);
    }
    return out;
}

py::tuple ready_tuple(const Task::Ready & r) { return py::make_tuple(to_str_list(r.items), r.done); }

// [(task id, payloads, done)] for every watched task with news, taken in one call.
py::list drain(pyllm::ReadyQueue & queue) {
    py::list out;
    for (auto & task : queue.drain()) {
        auto r = task->take();
        out.append(py::make_tuple(task->id(), to_str_list(r.items), r.done));
    }
    return out;
}

common_grammar_trigger_type trigger_type(const std::string & name) {
    if (name == "word") return COMMON_GRAMMAR_TRIGGER_TYPE_WORD;
    if (name == "pattern") return COMMON_GRAMMAR_TRIGGER_TYPE_PATTERN;
    if (name == "pattern_full") return COMMON_GRAMMAR_TRIGGER_TYPE_PATTERN_FULL;
    if (name == "token") return COMMON_GRAMMAR_TRIGGER_TYPE_TOKEN;
    throw pyllm::InvalidRequestError("unknown grammar trigger type '" + name +
                                     "' (word, pattern, pattern_full or token)");
}

}  // namespace

void bind_engine(py::module_ & m) {
    py::class_<Task, std::shared_ptr<Task>>(m, "Task")
        .def_property_readonly("id", &Task::id)
        .def("cancel", &Task::cancel)
        .def_property_readonly("done", &Task::done)
        .def("take", [](Task & t) { return ready_tuple(t.take()); })
        .def("wait",
             [](Task & t, int timeout_ms) {
                 Task::Ready r;
                 {
                     py::gil_scoped_release nogil;
                     r = t.wait(timeout_ms);
                 }
                 return ready_tuple(r);
             },
             py::arg("timeout_ms"))
        .def("wait_done", &Task::wait_done, py::arg("timeout_ms"), py::call_guard<py::gil_scoped_release>())
        .def_property_readonly("finish_reason", [](const Task & t) { return pyllm::finish_reason_name(t.finish_reason()); })
        .def_property_readonly("stop_sequence", &Task::stop_sequence)
        .def_property_readonly("error", &Task::error)
        .def_property_readonly("n_prompt_tokens", [](const Task & t) { return t.prompt().size(); })
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

    py::class_<Engine, std::shared_ptr<Engine>>(m, "Engine")
        .def(py::init([](std::shared_ptr<pyllm::Model> model, int n_parallel, int n_ctx, int n_batch, int n_threads,
                         int flash_attn, int max_queued, bool kv_unified, int64_t cache_ram_mib) {
                 pyllm::EngineOptions o;
                 o.n_parallel = n_parallel;
                 o.n_ctx = n_ctx;
                 o.n_batch = n_batch;
                 o.n_threads = n_threads;
                 o.flash_attn = flash_attn;
                 o.max_queued = max_queued;
                 o.kv_unified = kv_unified;
                 o.cache_ram_mib = cache_ram_mib;
                 py::gil_scoped_release nogil;
                 return std::make_shared<Engine>(std::move(model), o);
             }),
             py::arg("model"), py::arg("n_parallel") = 4, py::arg("n_ctx") = 0, py::arg("n_batch") = 512,
             py::arg("n_threads") = 0, py::arg("flash_attn") = -1, py::arg("max_queued") = 64, py::arg("kv_unified") = true,
             py::arg("cache_ram_mib") = 8192)
        .def(
            "submit",
            [](Engine & e, std::vector<llama_token> prompt, int max_tokens, float temperature, float top_p, int top_k,
               float min_p, std::optional<uint32_t> seed, float repeat_penalty, int repeat_last_n,
               float presence_penalty, float frequency_penalty, std::map<llama_token, float> logit_bias,
               std::vector<std::string> stop, bool ignore_eos, std::string grammar, bool grammar_lazy,
               std::vector<std::pair<std::string, std::string>> grammar_triggers, std::string json_schema,
               int n_probs, std::vector<llama_token> preserved_tokens,
               std::shared_ptr<pyllm::protocol::ProcessorHandle> processor,
               std::shared_ptr<pyllm::parse::ChatOutputFormat> chat, int reasoning_budget_tokens) {
                pyllm::TaskParams p;
                p.max_tokens = max_tokens;
                auto & s = p.sampling;
                s.temp = temperature;
                s.top_p = top_p;
                s.top_k = top_k;
                s.min_p = min_p;
                if (seed) s.seed = *seed;
                s.penalty_repeat = repeat_penalty;
                s.penalty_last_n = repeat_last_n;
                s.penalty_present = presence_penalty;
                s.penalty_freq = frequency_penalty;
                for (auto [tok, bias] : logit_bias) s.logit_bias.push_back({tok, bias});
                s.ignore_eos = ignore_eos;
                s.n_probs = n_probs;
                s.reasoning_budget_tokens = reasoning_budget_tokens;
                if (!grammar.empty()) s.grammar = common_grammar(COMMON_GRAMMAR_TYPE_USER, std::move(grammar));
                s.grammar_lazy = grammar_lazy;
                for (auto & [type, value] : grammar_triggers) {
                    common_grammar_trigger trig{trigger_type(type), value, LLAMA_TOKEN_NULL};
                    if (trig.type == COMMON_GRAMMAR_TRIGGER_TYPE_TOKEN) {
                        auto ids = e.model().tokenize(value, false, true);
                        if (ids.size() != 1) {
                            throw pyllm::InvalidRequestError("token trigger '" + value + "' is not a single token");
                        }
                        trig.token = ids[0];
                    }
                    s.grammar_triggers.push_back(std::move(trig));
                }
                p.json_schema = std::move(json_schema);
                p.stop = std::move(stop);
                p.preserved_tokens = std::move(preserved_tokens);
                if (chat) {
                    if (prompt.empty()) prompt = pyllm::chat_prompt_tokens(e.model(), *chat);
                    pyllm::apply_chat_format(e.model(), *chat, p);
                }
                std::unique_ptr<pyllm::OutputProcessor> owned;
                if (processor) {
                    if (!processor->processor) {
                        throw pyllm::InvalidRequestError("this output processor was already submitted with another task");
                    }
                    owned = std::move(processor->processor);
                }
                py::gil_scoped_release nogil;
                return e.submit(std::move(prompt), std::move(p), std::move(owned));
            },
            py::arg("prompt"), py::arg("max_tokens") = -1, py::arg("temperature") = 0.8f, py::arg("top_p") = 0.95f,
            py::arg("top_k") = 40, py::arg("min_p") = 0.05f, py::arg("seed") = py::none(),
            py::arg("repeat_penalty") = 1.0f, py::arg("repeat_last_n") = 64, py::arg("presence_penalty") = 0.0f,
            py::arg("frequency_penalty") = 0.0f, py::arg("logit_bias") = std::map<llama_token, float>{},
            py::arg("stop") = std::vector<std::string>{}, py::arg("ignore_eos") = false,
            py::arg("grammar") = "", py::arg("grammar_lazy") = false,
            py::arg("grammar_triggers") = std::vector<std::pair<std::string, std::string>>{},
            py::arg("json_schema") = "", py::arg("n_probs") = 0,
            py::arg("preserved_tokens") = std::vector<llama_token>{}, py::arg("processor") = nullptr,
            py::arg("chat") = nullptr, py::arg("reasoning_budget_tokens") = -1)
        .def_property_readonly("wakeup_fd", [](Engine & e) { return e.ready().fd(); })
        .def_property_readonly("n_ctx_slot", &Engine::n_ctx_slot)
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

    py::class_<pyllm::SyntheticProducer>(m, "SyntheticProducer")
        .def(py::init<int>(), py::arg("n_tasks"))
        .def_property_readonly("tasks", &pyllm::SyntheticProducer::tasks)
        .def_property_readonly("wakeup_fd", [](pyllm::SyntheticProducer & p) { return p.queue().fd(); })
        .def("watch", [](pyllm::SyntheticProducer & p, const std::shared_ptr<Task> & t) { p.queue().watch(t); },
             py::arg("task"))
        .def("drain", [](pyllm::SyntheticProducer & p) { return drain(p.queue()); })
        .def("start", &pyllm::SyntheticProducer::start, py::arg("n_items"), py::arg("payload_bytes"),
             py::arg("interval_us") = 0)
        .def("join", &pyllm::SyntheticProducer::join, py::call_guard<py::gil_scoped_release>())
        .def_property_readonly("producer_cpu_seconds", &pyllm::SyntheticProducer::producer_cpu_seconds);
}
