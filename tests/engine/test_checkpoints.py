"""Context checkpoints: the prompt cache of memory that cannot be cut back to a prefix
(Qwen3.5's recurrent layers), on the tiny random-weight Qwen3.5 (tests/models)."""
from __future__ import annotations

from pathlib import Path

import pytest

import pyllm

SYSTEM = "You are a coding agent. " + " ".join(f"Rule {i}: keep file {i} tidy." for i in range(40))


@pytest.fixture(scope="module")
def qwen35(tiny_models: dict[str, Path]) -> pyllm.Model:
    return pyllm.Model(tiny_models["qwen35"])


def first_turn(model: pyllm.Model) -> list[int]:
    prompt = pyllm.chat.render_chat_format(model, [{"role": "system", "content": SYSTEM},
                                                   {"role": "user", "content": "List the files."}]).prompt
    return model.tokenize(prompt, add_special=True)


def next_turn(model: pyllm.Model, previous: list[int]) -> list[int]:
    # The previous prompt, an answer as the template would render it, and a new message.
    return previous + model.tokenize("a.py b.py<|im_end|>\n<|im_start|>user\nOpen a.py.<|im_end|>\n"
                                     "<|im_start|>assistant\n<think>\n")


def cold(model: pyllm.Model, prompt: list[int], max_tokens: int = 12) -> pyllm.Completion:
    with pyllm.Engine(model, n_parallel=2, n_ctx=2 * 2048) as fresh:
        return fresh.generate(prompt, max_tokens=max_tokens, temperature=0, ignore_eos=True)


def test_hybrid_next_turn_resumes_at_a_checkpoint_and_equals_a_cold_run(qwen35: pyllm.Model):
    turn1 = first_turn(qwen35)
    turn2 = next_turn(qwen35, turn1)
    with pyllm.Engine(qwen35, n_parallel=2, n_ctx=2 * 2048) as e:
        e.generate(turn1, max_tokens=8, temperature=0, ignore_eos=True)
        assert e.stats()["checkpoints"] >= 1 and e.stats()["checkpoint_bytes"] > 0
        again = e.generate(turn2, max_tokens=12, temperature=0, ignore_eos=True)
        assert e.stats()["checkpoint_restores"] == 1
    # The recurrent state cannot be cut back; the checkpoint one token before the end of turn 1 can.
    assert again.result.usage.cached_tokens == len(turn1) - 1
    assert again.text == cold(qwen35, turn2).text


def test_hybrid_without_a_checkpoint_decodes_the_prompt_again(qwen35: pyllm.Model):
    turn1 = first_turn(qwen35)
    with pyllm.Engine(qwen35, n_parallel=1, n_ctx=2048) as e:
        e.generate(turn1, max_tokens=8, temperature=0, ignore_eos=True)
        # Diverges before the generation prompt's checkpoint: nothing at or before it is kept.
        diverged = turn1[:10] + qwen35.tokenize(" something else entirely")
        out = e.generate(diverged, max_tokens=4, temperature=0, ignore_eos=True)
    assert out.result.usage.cached_tokens == 0
    assert out.text == cold(qwen35, diverged, max_tokens=4).text


def test_checkpoints_travel_with_a_slot_saved_to_host_memory(qwen35: pyllm.Model):
    turn1 = first_turn(qwen35)
    turn2 = next_turn(qwen35, turn1)
    with pyllm.Engine(qwen35, n_parallel=2, n_ctx=2 * 2048) as e:
        e.generate(turn1, max_tokens=8, temperature=0, ignore_eos=True)
        e.generate(qwen35.tokenize("other conversation " * 20), max_tokens=2, temperature=0)
        e.generate(qwen35.tokenize("third conversation " * 20), max_tokens=2, temperature=0)
        assert e.stats()["saved_prompts"] >= 1
        again = e.generate(turn2, max_tokens=12, temperature=0, ignore_eos=True)
    assert again.result.usage.cached_tokens == len(turn1) - 1
    assert again.text == cold(qwen35, turn2).text
