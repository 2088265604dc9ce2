"""Generation through the real model: determinism, seeds, stops, grammars, logprobs."""
import asyncio
import json

import pytest

import pyllm

CHAT = "<start_of_turn>user\nWrite one sentence about the sea.<end_of_turn>\n<start_of_turn>model\n"


def test_greedy_is_deterministic_and_streaming_equals_non_streaming(engine: pyllm.Engine):
    first = engine.generate(CHAT, max_tokens=24, temperature=0)
    second = engine.generate(CHAT, max_tokens=24, temperature=0)
    assert first.text and first.text == second.text
    pieces = list(engine.submit(CHAT, max_tokens=24, temperature=0))
    assert len(pieces) > 1
    assert "".join(pieces) == first.text


def test_async_streaming_equals_sync(engine: pyllm.Engine):
    expected = engine.generate(CHAT, max_tokens=16, temperature=0).text

    async def collect():
        return [piece async for piece in engine.submit(CHAT, max_tokens=16, temperature=0)]

    pieces = asyncio.run(collect())
    assert "".join(pieces) == expected


def test_same_seed_gives_same_sample(engine: pyllm.Engine):
    params = dict(max_tokens=24, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    a = engine.generate(CHAT, seed=1234, **params).text
    b = engine.generate(CHAT, seed=1234, **params).text
    assert a == b
    others = {engine.generate(CHAT, seed=s, **params).text for s in (1, 2, 3)}
    assert len(others | {a}) > 1, "different seeds should not all give the same sample"


def test_max_tokens_finishes_with_length(engine: pyllm.Engine):
    c = engine.generate(CHAT, max_tokens=5, temperature=0, ignore_eos=True)
    assert c.result.finish_reason == "length"
    assert c.result.usage.completion_tokens == 5


def test_usage_and_timings_are_reported(engine: pyllm.Engine):
    c = engine.generate(CHAT, max_tokens=8, temperature=0, ignore_eos=True)
    u, t = c.result.usage, c.result.timings
    assert u.prompt_tokens == len(engine.tokenize_prompt(CHAT))
    assert u.completion_tokens == 8
    assert 0 <= u.cached_tokens < u.prompt_tokens
    assert t.prefill_ms > 0 and t.decode_ms > 0 and t.queue_ms >= 0


def test_gbnf_grammar_forces_exact_output(engine: pyllm.Engine):
    grammar = 'root ::= "<think>Two plus two.</think>The answer is 4."'
    c = engine.generate(CHAT, grammar=grammar, max_tokens=64, temperature=1.0, seed=7)
    assert c.text == "<think>Two plus two.</think>The answer is 4."
    assert c.result.finish_reason == "stop"


def test_json_schema_yields_valid_json(engine: pyllm.Engine):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    c = engine.generate(CHAT, json_schema=schema, max_tokens=80, temperature=0.7, seed=3)
    value = json.loads(c.text)
    assert set(value) == {"name", "age"}
    assert isinstance(value["name"], str) and isinstance(value["age"], int)


def test_stop_string_split_across_tokens_is_never_emitted(engine: pyllm.Engine):
    grammar = 'root ::= "alpha beta gamma delta epsilon"'
    full = engine.generate(CHAT, grammar=grammar, max_tokens=32, temperature=0)
    assert full.text == "alpha beta gamma delta epsilon"
    stop = "ta gam"  # spans the tokens of "beta" and " gamma"
    tokens = engine.model.tokenize(full.text)
    pieces_text = [engine.model.detokenize([t]) for t in tokens]
    assert not any(stop in p for p in pieces_text), "the stop string must cross a token boundary"

    task = engine.submit(CHAT, grammar=grammar, max_tokens=32, temperature=0, stop=[stop, "zzz"])
    pieces = list(task)
    assert "".join(pieces) == "alpha be"
    result = task.result()
    assert result.finish_reason == "stop_sequence"
    assert result.stop_sequence == stop


def test_stop_string_prefix_is_released_when_it_does_not_complete(engine: pyllm.Engine):
    grammar = 'root ::= "alpha beta gamma"'
    c = engine.generate(CHAT, grammar=grammar, max_tokens=32, temperature=0, stop=["beta gammX"])
    assert c.text == "alpha beta gamma"
    assert c.result.finish_reason == "stop"


def test_multibyte_text_is_never_split(engine: pyllm.Engine):
    grammar = 'root ::= "日本語 🦙 ok"'
    pieces = list(engine.submit(CHAT, grammar=grammar, max_tokens=32, temperature=0))
    assert "".join(pieces) == "日本語 🦙 ok"
    assert all("\ufffd" not in p for p in pieces)


def test_logprobs_are_reported_per_token(engine: pyllm.Engine):
    task = engine.submit(CHAT, max_tokens=4, temperature=0, n_probs=3, ignore_eos=True)
    list(task)
    probs = task.logprobs()
    assert len(probs) == 4
    for p in probs:
        assert len(p["top"]) == 3
        assert p["logprob"] <= 0
        assert p["top"][0][0] == p["token"]  # greedy picks the most likely token
        assert p["top"][0][1] >= p["top"][1][1] >= p["top"][2][1]


def test_greedy_fast_path_picks_the_most_likely_token(engine: pyllm.Engine):
    # Plain temperature 0 skips the sampler chain for a vectorized arg-max over the vocabulary.
    task = engine.submit("Count: one, two, three,", max_tokens=24, temperature=0, n_probs=2)
    list(task)
    probs = task.logprobs()
    assert probs
    assert all(p["logprob"] == p["top"][0][1] >= p["top"][1][1] for p in probs)


def test_preserved_special_token_is_rendered_as_text(engine: pyllm.Engine):
    marker = engine.model.tokenize("<start_of_turn>", parse_special=True)
    assert len(marker) == 1
    forced = {marker[0]: 100.0}
    hidden = engine.generate(CHAT, max_tokens=1, temperature=0, logit_bias=forced)
    shown = engine.generate(CHAT, max_tokens=1, temperature=0, logit_bias=forced, preserved_tokens=marker)
    assert hidden.text == ""
    assert shown.text == "<start_of_turn>"


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"grammar": "root ::= nonsense("}, "grammar"),
        ({"json_schema": "{not json"}, "JSON schema"),
        ({"grammar": 'root ::= "a"', "json_schema": {"type": "string"}}, "not both"),
        ({"grammar_triggers": [("bogus", "x")]}, "trigger"),
    ],
)
def test_invalid_request_parameters_raise(engine: pyllm.Engine, params, match):
    with pytest.raises(pyllm.InvalidRequestError, match=match):
        engine.submit(CHAT, max_tokens=4, **params)


def test_empty_prompt_is_rejected(engine: pyllm.Engine):
    with pytest.raises(pyllm.InvalidRequestError, match="empty"):
        engine.submit([], max_tokens=4)



@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_ignore_eos_never_samples_an_end_of_generation_token(engine: pyllm.Engine, temperature: float):
    # As in llama.cpp, ignore_eos bans the end-of-generation tokens rather than reading past
    # them. This small model hardly ever ends a turn by itself, so a bias pushes it to.
    eog = [engine.model.tokenize(t, parse_special=True)[0] for t in ("<end_of_turn>", "<eos>")]
    push = {t: 100.0 for t in eog}
    natural = engine.submit(CHAT, max_tokens=8, temperature=temperature, seed=7, logit_bias=push)
    assert "".join(natural) == ""
    assert natural.result().finish_reason == "stop"
    task = engine.submit(CHAT, max_tokens=8, temperature=temperature, seed=7, logit_bias=push, ignore_eos=True,
                         n_probs=1)
    list(task)
    assert task.result().finish_reason == "length"
    assert not set(eog) & {p["token"] for p in task.logprobs()}
