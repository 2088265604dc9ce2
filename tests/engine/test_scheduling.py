"""Continuous batching, prompt cache, cancellation, overflow and queue limits."""
import asyncio
import os
import re
import subprocess
import sys
import threading
import time

import pytest

import pyllm

# Repetition prompts: a small model copies them with large margins, so greedy output does
# not depend on which other tasks share the batch, while any mix-up between slots shows.
PATTERNS = [
    "red blue green",
    "cat dog bird",
    "one two three",
    "sun moon star",
    "apple pear plum",
    "north south east",
    "salt pepper oil",
    "rock paper scissors",
]


def pattern_prompt(words: str) -> str:
    return ", ".join([words] * 6) + ","


def test_concurrent_tasks_do_not_cross_talk(engine: pyllm.Engine):
    alone = {p: engine.generate(pattern_prompt(p), max_tokens=16, temperature=0, ignore_eos=True).text for p in PATTERNS}
    for p, text in alone.items():
        assert p.split()[0] in text, f"{p!r}: the model should keep copying, got {text!r}"

    async def run_all():
        return await asyncio.gather(
            *[engine.agenerate(pattern_prompt(p), max_tokens=16, temperature=0, ignore_eos=True) for p in PATTERNS]
        )

    together = asyncio.run(run_all())  # 8 tasks on 4 slots
    assert {p: c.text for p, c in zip(PATTERNS, together)} == alone
    assert engine.stats()["busy_slots"] == 0


def test_concurrent_sync_consumers_in_threads(engine: pyllm.Engine):
    alone = {p: engine.generate(pattern_prompt(p), max_tokens=12, temperature=0, ignore_eos=True).text for p in PATTERNS}
    results: dict[str, str] = {}

    def consume(p: str) -> None:
        results[p] = engine.generate(pattern_prompt(p), max_tokens=12, temperature=0, ignore_eos=True).text

    threads = [threading.Thread(target=consume, args=(p,)) for p in PATTERNS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == alone


def test_shared_prefix_is_reused_from_the_cache(engine: pyllm.Engine):
    prefix = " ".join(f"item{i}" for i in range(300))  # well over 1,000 tokens
    assert len(engine.tokenize_prompt(prefix)) >= 1000
    cold = engine.generate(prefix + " first question?", max_tokens=2, temperature=0)
    warm = engine.generate(prefix + " second question?", max_tokens=2, temperature=0)
    assert warm.result.usage.cached_tokens >= 1000
    assert warm.result.usage.prompt_tokens - warm.result.usage.cached_tokens < 20
    assert warm.result.timings.prefill_ms < cold.result.timings.prefill_ms



def test_context_overflow_raises_before_any_decode(engine: pyllm.Engine):
    before = engine.stats()["decode_calls"]
    prompt = [2] + [236764] * 1600
    with pytest.raises(pyllm.ContextOverflowError) as info:
        engine.submit(prompt, max_tokens=500)
    err = info.value
    assert err.n_tokens == 1601 and err.n_ctx == engine.n_ctx_slot == 1536
    assert str(err) == "prompt is too long: 1601 tokens > 1536 maximum"
    assert engine.stats()["decode_calls"] == before


def test_max_tokens_past_the_context_is_a_cap_not_a_reservation(engine: pyllm.Engine):
    prompt = [2] + [236764] * 1400
    result = engine.generate(prompt, max_tokens=500, temperature=0, ignore_eos=True).result
    assert result.finish_reason == "context_full"
    assert result.usage.prompt_tokens + result.usage.completion_tokens == engine.n_ctx_slot


def test_cancel_frees_the_slot_and_the_queued_task_starts(single_slot_engine: pyllm.Engine):
    e = single_slot_engine
    long = e.submit("Tell me a long story.", max_tokens=900, temperature=0, ignore_eos=True)
    queued = e.submit("Hi", max_tokens=3, temperature=0, ignore_eos=True)
    it = iter(long)
    next(it)  # the long task is generating; the other waits for the only slot
    assert e.stats()["queued"] == 1
    long.cancel()
    result = queued.wait(timeout=60)
    assert result.finish_reason == "length" and result.usage.completion_tokens == 3
    assert long.wait(timeout=10).finish_reason == "cancelled"
    assert long.result().usage.completion_tokens < 900
    assert e.stats()["busy_slots"] == 0


def test_breaking_out_of_iteration_cancels(single_slot_engine: pyllm.Engine):
    e = single_slot_engine
    task = e.submit("Tell me a long story.", max_tokens=900, temperature=0, ignore_eos=True)
    for _ in task:
        break
    assert task.wait(timeout=10).finish_reason == "cancelled"


def test_async_consumer_cancelled_frees_the_slot(single_slot_engine: pyllm.Engine):
    e = single_slot_engine

    async def consume(task):
        async for _ in task:
            pass

    async def main():
        task = e.submit("Tell me a long story.", max_tokens=900, temperature=0, ignore_eos=True)
        runner = asyncio.create_task(consume(task))
        await asyncio.sleep(0.3)
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        return task

    task = asyncio.run(main())
    assert task.wait(timeout=10).finish_reason == "cancelled"
    deadline = time.monotonic() + 10
    while e.stats()["busy_slots"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert e.stats()["busy_slots"] == 0


def test_cancelled_while_queued_never_runs(single_slot_engine: pyllm.Engine):
    e = single_slot_engine
    running = e.submit("Tell me a long story.", max_tokens=200, temperature=0, ignore_eos=True)
    queued = e.submit("Hi", max_tokens=3, temperature=0)
    queued.cancel()
    running.cancel()
    assert queued.wait(timeout=10).finish_reason == "cancelled"
    assert queued.result().usage.completion_tokens == 0


def test_queue_overflow_raises(single_slot_engine: pyllm.Engine):
    e = single_slot_engine  # one slot, at most one waiting
    running = e.submit("Tell me a long story.", max_tokens=500, temperature=0, ignore_eos=True)
    # The stream is kept: a stream dropped after its first piece cancels its task (a consumer
    # that left), which freed the slot under the next submit (the flake of session 5).
    stream = iter(running)
    next(stream)
    waiting = e.submit("Hi", max_tokens=2)
    with pytest.raises(pyllm.EngineOverloadedError, match="busy"):
        e.submit("Hi", max_tokens=2)
    running.cancel()
    waiting.wait(timeout=60)


def test_a_cancelled_queued_task_leaves_room_at_once(single_slot_engine: pyllm.Engine):
    # A client that left and comes straight back must not be refused for its own ghost.
    e = single_slot_engine
    running = e.submit("Tell me a long story.", max_tokens=500, temperature=0, ignore_eos=True)
    stream = iter(running)  # kept: dropping it would cancel the running task
    next(stream)
    left = e.submit("Hi", max_tokens=2)
    left.cancel()
    back = e.submit("Hi", max_tokens=2)  # would raise if the cancelled task still counted
    assert e.stats()["queued"] == 1
    running.cancel()
    assert left.wait(timeout=60).finish_reason == "cancelled"
    assert back.wait(timeout=60).finish_reason in ("stop", "length")


def test_close_ends_unfinished_tasks(model: pyllm.Model):
    e = pyllm.Engine(model, n_parallel=1, n_ctx=1024)
    running = e.submit("Tell me a long story.", max_tokens=500, temperature=0, ignore_eos=True)
    queued = e.submit("Hi", max_tokens=2)
    e.close()
    assert running.wait(timeout=10).finish_reason == "cancelled"
    assert queued.wait(timeout=10).finish_reason == "cancelled"
    with pytest.raises(pyllm.EngineOverloadedError):
        e.submit("Hi", max_tokens=2)


@pytest.mark.parametrize("max_stall_ms, chunked", [(1, True), (0, False)])
def test_long_prefill_is_chunked_while_another_task_generates(model: pyllm.Model, max_stall_ms: int, chunked: bool):
    # A 1 ms budget is below any real row cost, so chunks take the minimum (16 rows): the
    # prefill of B spreads over >= 100 steps, each also giving A a token; with the budget off,
    # B goes in chunks of n_batch (4 steps).
    with pyllm.Engine(model, n_parallel=2, n_ctx=2 * 2560, n_batch=512, max_stall_ms=max_stall_ms) as engine:
        a = engine.submit(engine.tokenize_prompt(pattern_prompt(PATTERNS[0])), max_tokens=600, temperature=0,
                          ignore_eos=True)
        deadline = time.monotonic() + 60
        while engine.stats()["decode_calls"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        long_prompt = [2] + [model.tokenize(" the")[0]] * 1999
        calls_before = engine.stats()["decode_calls"]
        b = engine.submit(long_prompt, max_tokens=1, temperature=0)
        b.wait(timeout=300)
        steps = engine.stats()["decode_calls"] - calls_before
        assert not a.done, "A must still be generating: the count would be meaningless"
        a.cancel()
    assert b.result().usage.prompt_tokens == 2000
    if chunked:
        assert steps >= 100, steps
    else:
        assert steps <= 8, steps


def test_step_trace_prints_each_decode_step_and_its_model(default_model_path):
    # PYLLM_STEP_TRACE=1 is how the step budget is tuned on a machine: a line per decode step.
    script = ("import pyllm, sys; e = pyllm.Engine(pyllm.Model(sys.argv[1]), n_ctx=1024, n_batch=64, max_stall_ms=250); "
              "e.generate([2] + [1000] * 199, max_tokens=3, temperature=0); e.close()")
    r = subprocess.run([sys.executable, "-c", script, str(default_model_path)], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "PYLLM_STEP_TRACE": "1"})
    assert r.returncode == 0, r.stderr
    steps = re.findall(r"pyllm step: decode_rows=(\d+) prompt_rows=(\d+) depth=(\d+) ms=([\d.]+)", r.stderr)
    # 200 prompt tokens in chunks of at most 64 (nothing else generates: no budget), then one
    # step a generated token
    prompt = [int(rows) for decode, rows, _, _ in steps if decode == "0"]
    assert sum(prompt) == 200 and max(prompt) == 64, steps
    assert [(int(d), int(p)) for d, p, _, _ in steps[len(prompt):]] == [(1, 0), (1, 0)], steps
    assert all(float(ms) > 0 for *_, ms in steps)
