"""Serving metrics in the Prometheus text exposition format (version 0.0.4), written by hand:
a few counters and histograms need no client library.

Everything is updated on the event loop's thread (once per finished request), so nothing
here locks. Gauges that the engine owns (busy slots, queue depth) are read at scrape time.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from pyllm.engine import TaskResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds. TTFT spans queueing and prefill (milliseconds to minutes); a generated token
# takes from about a millisecond (small model, GPU) to a second (large model, CPU).
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TOKEN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


class Counter:
    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, label_names
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1, **labels: str) -> None:
        key = tuple(labels[n] for n in self.label_names)
        self._values[key] = self._values.get(key, 0) + amount

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        if not self.label_names and not self._values:
            yield f"{self.name} 0"
        for key, value in sorted(self._values.items()):
            yield f"{self.name}{_label_text(dict(zip(self.label_names, key)))} {_number(value)}"


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help = name, help_text
        self.bounds = (*buckets, math.inf)
        self._counts = [0] * len(self.bounds)  # per bucket, not cumulative
        self._sum = 0.0

    def observe(self, value: float) -> None:
        self._sum += value
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self._counts[i] += 1
                break

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        cumulative = 0
        for bound, count in zip(self.bounds, self._counts):
            cumulative += count
            yield f'{self.name}_bucket{{le="{_number(bound)}"}} {cumulative}'
        yield f"{self.name}_sum {_number(self._sum)}"
        yield f"{self.name}_count {cumulative}"


def _sample(name: str, kind: str, help_text: str, value: float) -> Iterable[str]:
    """A metric with one unlabelled value read at scrape time."""
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} {kind}"
    yield f"{name} {_number(value)}"


# The engine's own figures (Engine.stats()): name, type, help, stats key.
_ENGINE_SAMPLES = (
    ("pyllm_slots_busy", "gauge", "Slots generating now.", "busy_slots"),
    ("pyllm_slots_total", "gauge", "Slots (requests decoded together).", "n_slots"),
    ("pyllm_queue_depth", "gauge", "Requests waiting for a slot.", "queued"),
    ("pyllm_decode_calls_total", "counter", "llama_decode calls so far.", "decode_calls"),
    ("pyllm_prompt_cache_prompts", "gauge", "Idle slots' prompts whose KV is held in host memory (--cache-ram).",
     "saved_prompts"),
    ("pyllm_prompt_cache_bytes", "gauge", "Host memory those prompts hold, their checkpoints included.",
     "saved_bytes"),
    ("pyllm_context_checkpoints", "gauge",
     "Context checkpoints (recurrent and hybrid models, sliding windows), in slots and in saved prompts.", "checkpoints"),
    ("pyllm_context_checkpoint_bytes", "gauge", "Host memory the checkpoints hold.", "checkpoint_bytes"),
    ("pyllm_context_checkpoint_restores_total", "counter", "Prompts resumed from a context checkpoint.",
     "checkpoint_restores"),
    ("pyllm_context_checkpoint_restore_failures_total", "counter",
     "Checkpoint restores llama.cpp refused (the prompt was decoded again).", "checkpoint_restore_failures"),
)


class Metrics:
    """What ``GET /metrics`` reports."""

    def __init__(self) -> None:
        self.requests = Counter("pyllm_requests_total", "HTTP requests answered, by route and status.",
                                ("route", "status"))
        self.prompt_tokens = Counter("pyllm_prompt_tokens_total", "Prompt tokens of generation requests.")
        self.cached_tokens = Counter("pyllm_prompt_tokens_cached_total",
                                     "Prompt tokens reused from a slot's KV cache (not computed again).")
        self.generated_tokens = Counter("pyllm_generated_tokens_total", "Tokens generated.")
        self.ttft = Histogram("pyllm_time_to_first_token_seconds",
                              "From submission to the first sampled token (queue + prefill).", TTFT_BUCKETS)
        self.embedding_inputs = Counter("pyllm_embedding_inputs_total", "Inputs embedded (/v1/embeddings).")
        self.embedding_tokens = Counter("pyllm_embedding_tokens_total", "Tokens of the inputs embedded.")
        self.token_latency = Histogram("pyllm_time_per_output_token_seconds",
                                       "Mean time between generated tokens, one observation per request.",
                                       TOKEN_BUCKETS)

    def observe_request(self, route: str, status: int) -> None:
        self.requests.inc(route=route, status=str(status))

    def observe_generation(self, result: TaskResult) -> None:
        """Token counts and latencies of one finished (or abandoned) generation task."""
        usage, timings = result.usage, result.timings
        self.prompt_tokens.inc(usage.prompt_tokens)
        self.cached_tokens.inc(usage.cached_tokens)
        self.generated_tokens.inc(usage.completion_tokens)
        if timings.prefill_ms > 0:  # a first token was sampled
            self.ttft.observe((timings.queue_ms + timings.prefill_ms) / 1000)
        if usage.completion_tokens > 1 and timings.decode_ms > 0:
            self.token_latency.observe(timings.decode_ms / 1000 / (usage.completion_tokens - 1))

    def observe_embeddings(self, n_inputs: int, n_tokens: int) -> None:
        self.embedding_inputs.inc(n_inputs)
        self.embedding_tokens.inc(n_tokens)

    def render(self, engine_stats: dict[str, int], embedder_stats: dict[str, int] | None = None) -> str:
        lines: list[str] = []
        for metric in (self.requests, self.prompt_tokens, self.cached_tokens, self.generated_tokens,
                       self.ttft, self.token_latency):
            lines.extend(metric.render())
        if embedder_stats is not None:
            lines.extend(self.embedding_inputs.render())
            lines.extend(self.embedding_tokens.render())
            lines.extend(_sample("pyllm_embedding_requests_unfinished", "gauge",
                                 "Embedding requests queued or being decoded.", embedder_stats["queued"]))
            lines.extend(_sample("pyllm_embedding_decode_calls_total", "counter",
                                 "llama_decode calls of the embedder so far.", embedder_stats["decode_calls"]))
        for name, kind, help_text, key in _ENGINE_SAMPLES:
            lines.extend(_sample(name, kind, help_text, engine_stats[key]))
        return "\n".join(lines) + "\n"
