"""Context checkpoints: the prompt cache of memory that cannot be cut back to a prefix, on
Qwen3.5's recurrent layers (the tiny random-weight Qwen3.5 of tests/models) and on sliding
windows, whose cells go once they fall out of the window (the default model, Gemma 3, and the
tiny Gemma 4 MoE)."""
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


# -- sliding windows -------------------------------------------------------------------------
# Gemma 3 270M attends over 512 tokens in 15 of its 18 layers, the tiny Gemma 4 MoE over 64 in
# three of four: the window layers keep only the last window of each slot (plus a batch), so
# prompts here are longer than a window.

SWA_SYSTEM = "You are a coding agent working in a repository. " + " ".join(
    f"Rule {i}: files under src/module_{i} follow the house style and keep their tests." for i in range(60))


@pytest.fixture(scope="module", params=["gemma3", "gemma4-moe"])
def sliding(request: pytest.FixtureRequest, model: pyllm.Model, tiny_models: dict[str, Path]) -> pyllm.Model:
    return model if request.param == "gemma3" else pyllm.Model(tiny_models["gemma4-moe"])


def chat_turn(model: pyllm.Model, messages: list[dict[str, str]]) -> list[int]:
    return model.tokenize(pyllm.chat.render_chat_format(model, messages).prompt, add_special=True)


def sliding_turns(model: pyllm.Model) -> tuple[list[int], list[int]]:
    """A first turn, and the next one as the template renders it: the first turn's prompt, an
    answer that is not what the model generated, a new user message."""
    first = [{"role": "system", "content": SWA_SYSTEM}, {"role": "user", "content": "List the files."}]
    turn1 = chat_turn(model, first)
    turn2 = chat_turn(model, [*first, {"role": "assistant", "content": "a.py and b.py."},
                              {"role": "user", "content": "Open a.py."}])
    assert turn2[:len(turn1)] == turn1
    return turn1, turn2


def sliding_cold(model: pyllm.Model, prompt: list[int]) -> pyllm.Completion:
    with pyllm.Engine(model, n_parallel=2, n_ctx=2 * 2048) as fresh:
        return fresh.generate(prompt, max_tokens=12, temperature=0, ignore_eos=True)


def test_sliding_window_slot_leaves_the_context_and_resumes_at_a_checkpoint_equal_to_a_cold_run(sliding: pyllm.Model):
    turn1, turn2 = sliding_turns(sliding)
    assert len(turn1) > 600
    with pyllm.Engine(sliding, n_parallel=2, n_ctx=2 * 2048) as e:
        e.generate(turn1, max_tokens=8, temperature=0, ignore_eos=True)
        assert e.stats()["checkpoints"] >= 1 and e.stats()["checkpoint_bytes"] > 0
        e.generate(sliding.tokenize("another conversation " * 20), max_tokens=2, temperature=0)
        # The first conversation's slot left the context for host memory, its checkpoints with it.
        assert e.stats()["saved_prompts"] >= 1
        again = e.generate(turn2, max_tokens=12, temperature=0, ignore_eos=True)
        assert e.stats()["checkpoint_restores"] == 1 and e.stats()["checkpoint_restore_failures"] == 0
    # The saved state holds the last window only; the answer differs from the generated one, so
    # the next turn goes back to the checkpoint one token before the end of turn 1.
    assert again.result.usage.cached_tokens == len(turn1) - 1
    assert again.text == sliding_cold(sliding, turn2).text


def test_sliding_window_prompt_continuing_a_saved_slot_at_its_end_needs_no_checkpoint(sliding: pyllm.Model):
    turn1, _ = sliding_turns(sliding)
    with pyllm.Engine(sliding, n_parallel=2, n_ctx=2 * 2048) as e:
        task = e.submit(turn1, max_tokens=6, temperature=0, ignore_eos=True, n_probs=1)
        "".join(task)
        generated = [p["token"] for p in task.logprobs()]
        e.generate(sliding.tokenize("another conversation " * 20), max_tokens=2, temperature=0)
        # The saved state ends with the last window: a prompt going on from its end resumes
        # there (the last generated token was never decoded).
        follow_up = turn1 + generated + sliding.tokenize(" Next.")
        again = e.generate(follow_up, max_tokens=4, temperature=0, ignore_eos=True)
        assert e.stats()["checkpoint_restores"] == 0
    assert again.result.usage.cached_tokens == len(turn1) + len(generated) - 1


def test_sliding_window_prefix_without_a_checkpoint_is_decoded_again(sliding: pyllm.Model):
    turn1, _ = sliding_turns(sliding)
    with pyllm.Engine(sliding, n_parallel=2, n_ctx=2 * 2048) as e:
        e.generate(turn1, max_tokens=4, temperature=0, ignore_eos=True)
        e.generate(sliding.tokenize("another conversation " * 20), max_tokens=2, temperature=0)
        # Diverges long before the first checkpoint, and behind the saved window.
        diverged = turn1[:300] + sliding.tokenize(" something else entirely")
        out = e.generate(diverged, max_tokens=12, temperature=0, ignore_eos=True)
    assert out.result.usage.cached_tokens == 0
    assert out.text == sliding_cold(sliding, diverged).text


def test_sliding_window_checkpoints_share_the_host_memory_limit(model: pyllm.Model):
    # A Gemma 3 270M window checkpoint is 7.5 MiB (15 layers x 512 cells x 1 KiB): 10 MiB hold one.
    turn1, _ = sliding_turns(model)
    with pyllm.Engine(model, n_parallel=1, n_ctx=2048, cache_ram_mib=10) as e:
        e.generate(turn1, max_tokens=2, temperature=0)
        stats = e.stats()
    assert stats["checkpoints"] == 1 and 0 < stats["checkpoint_bytes"] <= 10 << 20


def test_full_size_sliding_window_cache_takes_no_checkpoints(model: pyllm.Model):
    turn1, turn2 = sliding_turns(model)
    with pyllm.Engine(model, n_parallel=2, n_ctx=2 * 2048, swa_full=True) as e:
        e.generate(turn1, max_tokens=8, temperature=0, ignore_eos=True)
        again = e.generate(turn2, max_tokens=12, temperature=0, ignore_eos=True)
        assert e.stats()["checkpoints"] == 0
    # Every position stays in the window layers: the slot is cut back to the whole shared prefix.
    assert again.result.usage.cached_tokens == len(turn1)


def test_a_refused_restore_decodes_the_prompt_cold_and_gives_the_same_answer(
        qwen35: pyllm.Model, monkeypatch: pytest.MonkeyPatch):
    # The failpoint makes the engine treat every restore as one llama.cpp refused.
    monkeypatch.setenv("PYLLM_FAILPOINT", "checkpoint_restore")
    turn1 = first_turn(qwen35)
    turn2 = next_turn(qwen35, turn1)
    with pyllm.Engine(qwen35, n_parallel=2, n_ctx=2 * 2048) as e:
        e.generate(turn1, max_tokens=8, temperature=0, ignore_eos=True)
        again = e.generate(turn2, max_tokens=12, temperature=0, ignore_eos=True)
        stats = e.stats()
    assert stats["checkpoint_restore_failures"] == 1 and stats["checkpoint_restores"] == 0
    assert again.result.usage.cached_tokens == 0
    assert again.text == cold(qwen35, turn2).text


def test_ctx_checkpoints_bounds_the_checkpoints_of_a_slot(qwen35: pyllm.Model):
    turn1 = first_turn(qwen35)
    turns = [turn1]
    for _ in range(3):
        turns.append(next_turn(qwen35, turns[-1]))
    with pyllm.Engine(qwen35, n_parallel=1, n_ctx=4096, ctx_checkpoints=2) as e:
        for prompt in turns:
            e.generate(prompt, max_tokens=2, temperature=0, ignore_eos=True)
            assert e.stats()["checkpoints"] <= 2
        assert e.stats()["checkpoints"] == 2
    with pyllm.Engine(qwen35, n_parallel=1, n_ctx=4096, ctx_checkpoints=0) as e:
        e.generate(turns[0], max_tokens=2, temperature=0, ignore_eos=True)
        again = e.generate(turns[1], max_tokens=2, temperature=0, ignore_eos=True)
        assert e.stats()["checkpoints"] == 0
    assert again.result.usage.cached_tokens == 0
