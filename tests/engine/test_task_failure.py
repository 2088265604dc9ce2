"""A task that fails inside the scheduler ends alone; the engine and the other tasks go on."""
import asyncio

import pytest

import pyllm
from pyllm.engine import EngineError

STORY = "Once upon a time"
# A genuine mid-stream failure: a lazy grammar wakes up when the output contains " the"
# and must then accept the text from the trigger on; "zzz" cannot, and llama.cpp's grammar
# throws while the sampler accepts the token. Greedy output of the story prompt reaches
# " there" after a few tokens.
FAILING = {"grammar": 'root ::= "zzz"', "grammar_lazy": True, "grammar_triggers": [("word", " the")]}


def test_grammar_failure_mid_stream_ends_only_that_task(engine: pyllm.Engine):
    async def run() -> tuple[list[str], BaseException | None, list[pyllm.Completion]]:
        bad = engine.submit(STORY, max_tokens=32, temperature=0, **FAILING)
        others = [engine.agenerate(p, max_tokens=24, temperature=0, ignore_eos=True)
                  for p in (STORY, "The capital of France is", "red blue green, red blue green,")]
        pieces: list[str] = []

        async def consume_bad() -> BaseException | None:
            try:
                async for piece in bad:
                    pieces.append(piece)
            except EngineError as e:
                return e
            return None

        failure, *completions = await asyncio.gather(consume_bad(), *others)
        return pieces, failure, completions

    pieces, failure, completions = asyncio.run(run())
    assert isinstance(failure, EngineError)
    assert "grammar" in str(failure)
    assert pieces, "the task failed mid-stream, after some output"
    for c in completions:
        assert c.result.finish_reason == "length" and c.result.usage.completion_tokens == 24
    stats = engine.stats()
    assert stats["busy_slots"] == 0 and stats["queued"] == 0
    # The slot that held the failed task serves the next one normally.
    again = engine.generate(STORY, max_tokens=8, temperature=0, ignore_eos=True)
    assert again.result.finish_reason == "length"


def test_failed_task_result_says_why(engine: pyllm.Engine):
    task = engine.submit(STORY, max_tokens=32, temperature=0, **FAILING)
    with pytest.raises(EngineError, match="Unexpected empty grammar stack"):
        "".join(task)
    assert task.result().finish_reason == "error"
