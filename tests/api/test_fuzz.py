"""Property-based fuzz of both APIs over real HTTP: malformed and odd requests (valid ones
mutated field by field, random JSON, bytes that are not JSON) never get a 5xx, every
refusal is in the API's own error shape, and the server is healthy and idle afterwards.

Valid requests are cheap: the server caps generation at one token (-n 1).
"""
from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .anthropic.conftest import validate_stream

EXAMPLES_PER_API = 260
FUZZ = settings(max_examples=EXAMPLES_PER_API, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

OPENAI_BASE = {"model": "any", "messages": [{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "Hi"}], "max_tokens": 2}
OPENAI_FIELDS = ["model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p",
                 "n", "stream", "stream_options", "stop", "tools", "tool_choice", "parallel_tool_calls",
                 "response_format", "logit_bias", "logprobs", "top_logprobs", "seed", "presence_penalty",
                 "frequency_penalty", "repeat_penalty", "reasoning_effort", "chat_template_kwargs", "grammar",
                 "prompt", "echo", "suffix", "content", "tokens", "add_special", "with_pieces"]
OPENAI_PATHS = ["/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize", "/apply-template"]
MESSAGE_FIELDS = ["role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content"]

ANTHROPIC_BASE = {"model": "any", "max_tokens": 2, "system": [{"type": "text", "text": "Be brief."}],
                  "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}
ANTHROPIC_FIELDS = ["model", "max_tokens", "messages", "system", "stop_sequences", "stream", "temperature", "top_p",
                    "top_k", "tools", "tool_choice", "thinking", "metadata", "output_config", "service_tier",
                    "grammar"]
ANTHROPIC_PATHS = ["/v1/messages", "/v1/messages/count_tokens"]
BLOCK_FIELDS = ["type", "text", "id", "name", "input", "tool_use_id", "content", "is_error", "thinking", "signature",
                "source", "cache_control"]

# Odd scalars: boundaries, wrong types, unicode, lone surrogates, huge numbers.
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**30, 0.5, -0.0, 1e308]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "user", "assistant", "system", "tool", "text", "tool_use", "auto", "any", "none",
                     "required", "enabled", "\x00", "\ud800", "<|im_end|>", "<think>", "{", "🙂" * 3]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)


texts = st.text(max_size=16)  # any code point, lone surrogates included
OPENAI_PLAUSIBLE = {
    "stream": st.sampled_from([True, True, False]), "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
    "temperature": st.floats(0, 2), "top_p": st.floats(0, 1), "top_k": st.integers(0, 100),
    "min_p": st.floats(0, 1), "seed": st.integers(-(2**40), 2**40), "max_tokens": st.integers(1, 4),
    "stop": st.lists(texts.filter(bool), max_size=3), "logprobs": st.booleans(), "top_logprobs": st.integers(0, 4),
    "presence_penalty": st.floats(-2, 2), "frequency_penalty": st.floats(-2, 2),
    "response_format": st.sampled_from([{"type": "text"}, {"type": "json_object"}]),
    "reasoning_effort": st.sampled_from(["none", "low", "high"]), "tool_choice": st.sampled_from(["none", "auto"]),
    "prompt": texts | st.lists(st.integers(0, 1000), max_size=4), "content": texts,
    "tokens": st.lists(st.integers(0, 1000), max_size=4),
}
ANTHROPIC_PLAUSIBLE = {
    "stream": st.sampled_from([True, True, False]), "temperature": st.floats(0, 1), "top_p": st.floats(0, 1), "top_k": st.integers(0, 100),
    "stop_sequences": st.lists(texts.filter(bool), max_size=3), "system": texts, "max_tokens": st.integers(1, 4),
    "thinking": st.sampled_from([{"type": "disabled"}, {"type": "enabled", "budget_tokens": 1024},
                                 {"type": "adaptive"}]),
    "metadata": st.fixed_dictionaries({"user_id": texts}), "tool_choice": st.sampled_from([{"type": "none"}]),
}


def _with_values_for(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(fields) | st.text(max_size=6), json_values, max_size=3)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], fields: list[str], inner_fields: list[str], inner: str,
            plausible: dict[str, st.SearchStrategy[Any]]) -> Any:
    """``base`` with some fields set to plausible values (odd text included), then a few
    replaced, removed or added at random, at the top or inside the last message (or its
    first content block, ``inner``)."""
    body = copy.deepcopy(base)
    body.update(draw(st.fixed_dictionaries({}, optional=plausible)))
    body["messages"][-1][inner] = draw(st.sampled_from([body["messages"][-1][inner], draw(texts)]))
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.sampled_from(["top", "message", "inner", "remove"]))
        if where == "top":
            body.update(draw(_with_values_for(fields)))
        elif where == "remove" and body:
            body.pop(draw(st.sampled_from(sorted(body))), None)
        else:
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
                continue
            target = messages[-1]
            if where == "inner":
                blocks = target.get(inner)
                if not isinstance(blocks, list) or not blocks or not isinstance(blocks[0], dict):
                    target[inner] = blocks = [{"type": "text", "text": "Hi"}]
                target = blocks[0]
            target.update(draw(_with_values_for(inner_fields)))
    return body


def raw_bodies(base: dict[str, Any], fields: list[str], inner_fields: list[str], inner: str,
               plausible: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[bytes]:
    as_json = st.one_of(mutated(base, fields, inner_fields, inner, plausible), json_values)
    whole = as_json.map(lambda v: json.dumps(v).encode())
    return st.one_of(
        whole, whole, whole,
        as_json.map(lambda v: json.dumps(v)[: max(1, len(json.dumps(v)) // 2)].encode()),  # cut short
        st.binary(max_size=40),
        st.sampled_from([b"", b"null", b"[]", b'{"messages": [', b"\xff\xfe", b'{"a": NaN}', b'{"a": 1e999}']),
    )


def _check(r: httpx.Response, body_text: str, anthropic_shape: bool, stream: bool) -> None:
    assert r.status_code < 500, f"{r.status_code} for {body_text[:300]!r}: {r.text[:300]}"
    if r.status_code >= 400:
        error = r.json()
        if anthropic_shape:
            assert error["type"] == "error" and error["error"]["type"] and error["error"]["message"], error
        else:
            assert error["error"]["message"] and error["error"]["type"], error
    elif stream and anthropic_shape:
        validate_stream(r.text)
    elif stream:
        assert r.text.rstrip().endswith("data: [DONE]"), r.text[-300:]


def _send(server, path: str, body: bytes) -> tuple[httpx.Response, str, bool]:
    r = server.client.post(path, content=body, headers={"content-type": "application/json"})
    text = body.decode(errors="replace")
    stream = r.headers.get("content-type", "").startswith("text/event-stream")
    return r, text, stream


@pytest.fixture(scope="module")
def fuzzed(start_server):
    running = start_server("-np", "2", "-c", "4096", "-n", "1")
    running.client = httpx.Client(base_url=running.base_url, timeout=120)
    yield running
    running.client.close()


@FUZZ
@given(path=st.sampled_from(OPENAI_PATHS), body=raw_bodies(OPENAI_BASE, OPENAI_FIELDS, MESSAGE_FIELDS, "content", OPENAI_PLAUSIBLE))
def test_openai_never_answers_5xx(fuzzed, path, body):
    r, text, stream = _send(fuzzed, path, body)
    _check(r, text, anthropic_shape=False, stream=stream)


@FUZZ
@given(path=st.sampled_from(ANTHROPIC_PATHS),
       body=raw_bodies(ANTHROPIC_BASE, ANTHROPIC_FIELDS, BLOCK_FIELDS, "content", ANTHROPIC_PLAUSIBLE))
def test_anthropic_never_answers_5xx(fuzzed, path, body):
    r, text, stream = _send(fuzzed, path, body)
    _check(r, text, anthropic_shape=True, stream=stream)


def test_server_is_healthy_after_the_fuzz(fuzzed):
    # Runs after both fuzz tests (file order): the engine still generates normally.
    r = fuzzed.client.post("/v1/chat/completions", json=OPENAI_BASE)
    assert r.status_code == 200 and r.json()["choices"][0]["finish_reason"] in ("length", "stop")
    assert fuzzed.proc.poll() is None
    assert fuzzed.client.get("/health").json() == {"status": "ok", "slots_idle": 2, "slots_processing": 0, "queued": 0}
