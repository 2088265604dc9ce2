"""Every encoder, every chunking: the same model output split any way (whole, per character,
per real token, random cuts) gives a strictly valid event sequence that a client assembles
into the same message, with the same blocks in the same order.

Vocab-only models with real templates and tokenizers; the processor (parser + encoder) runs
natively over text pieces as if each were one token (``replay_processor``).
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

import pyllm
from pyllm import _core
from pyllm.chat import render_chat_format

MODELS = Path(__file__).resolve().parents[2] / "vendor" / "llama.cpp" / "models"

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ASK = [{"role": "user", "content": "Weather in Paris and Köln?"}]
OUTPUT = ('<think>\nThe user wants two cities — "Paris" & Köln.\n</think>\n\nChecking both.'
          '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
          '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Köln"}}\n</tool_call>')


@pytest.fixture(scope="module")
def qwen3() -> pyllm.Model:
    if not (MODELS / "templates").is_dir():
        pytest.fail(f"llama.cpp source not found under {MODELS.parent}; build the package first")
    return pyllm.Model.from_template((MODELS / "templates" / "Qwen-Qwen3-0.6B.jinja").read_text(),
                                     MODELS / "ggml-vocab-qwen2.gguf")


def chunkings(model: pyllm.Model) -> dict[str, list[str]]:
    tokens = model.tokenize(OUTPUT, add_special=False, parse_special=True)
    by_token: list[str] = []
    pending: list[int] = []
    for t in tokens:  # a token ending inside a UTF-8 character joins the next one
        pending.append(t)
        piece = model.detokenize(pending, render_special=True)
        if "\ufffd" not in piece:
            by_token.append(piece)
            pending = []
    rng = random.Random(7)
    cuts, i = [], 0
    while i < len(OUTPUT):
        n = rng.randint(1, 12)
        cuts.append(OUTPUT[i:i + n])
        i += n
    return {"whole": [OUTPUT], "chars": list(OUTPUT), "tokens": by_token, "random": cuts}


def replay(model: pyllm.Model, protocol: Any, pieces: list[str]) -> str:
    fmt = render_chat_format(model, ASK, [WEATHER], enable_thinking=True)
    spec = _core.OutputSpec(protocol=protocol, id="fixed-id", created=1, model="m", stream=True, include_usage=True)
    payloads, _ = _core.replay_processor(_core.output_processor(spec, fmt), pieces, "stop", 12)
    return "".join(payloads)


def sse_events(stream: str) -> list[tuple[str | None, str]]:
    assert stream.endswith("\n\n")
    out = []
    for frame in stream[:-2].split("\n\n"):
        event, data = None, None
        for line in frame.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                assert data is None, f"one data line per frame: {frame!r}"
                data = line[6:]
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        assert data is not None, frame
        out.append((event, data))
    return out


def check_openai(stream: str) -> dict[str, Any]:
    events = sse_events(stream)
    assert events[-1] == (None, "[DONE]")
    chunks = [json.loads(d) for _, d in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    msg: dict[str, Any] = {"content": "", "reasoning": "", "calls": {}}
    finishes = []
    for c in chunks:
        assert c["id"] == "fixed-id" and c["object"] == "chat.completion.chunk"
        if not c["choices"]:
            assert "usage" in c and c is chunks[-1], "the usage chunk comes last, with no choices"
            continue
        choice = c["choices"][0]
        if choice["finish_reason"]:
            finishes.append(choice["finish_reason"])
        d = choice["delta"]
        msg["content"] += d.get("content") or ""
        msg["reasoning"] += d.get("reasoning_content") or ""
        for call in d.get("tool_calls", []):
            slot = msg["calls"].setdefault(call["index"], {"name": None, "arguments": ""})
            if "id" in call:
                assert slot["name"] is None, "a call's name is sent once"
                slot["name"] = call["function"]["name"]
            slot["arguments"] += call["function"].get("arguments", "")
    assert finishes == ["tool_calls"]
    assert "<think>" not in msg["content"] and "</think>" not in msg["content"] and "<tool_call>" not in msg["content"]
    return msg


def check_anthropic(stream: str) -> dict[str, Any]:
    events = [(e, json.loads(d)) for e, d in sse_events(stream)]
    assert all(e == d["type"] for e, d in events), "every frame's event name is its type"
    kinds = [e for e, _ in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    blocks: list[dict[str, Any]] = []
    open_index = None
    for kind, d in events[1:-2]:
        if kind == "content_block_start":
            assert open_index is None and d["index"] == len(blocks), "one open block at a time, indices in order"
            open_index = d["index"]
            blocks.append({**d["content_block"], "deltas": []})
            if d["content_block"]["type"] == "tool_use":
                assert d["content_block"]["input"] == {} and d["content_block"]["id"]
        elif kind == "content_block_delta":
            assert d["index"] == open_index
            blocks[-1]["deltas"].append(d["delta"])
        elif kind == "content_block_stop":
            assert d["index"] == open_index
            if blocks[-1]["type"] == "thinking":
                assert blocks[-1]["deltas"][-1]["type"] == "signature_delta", "signature right before the stop"
            open_index = None
        else:
            raise AssertionError(f"unexpected event {kind}")
    assert open_index is None
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use" and "usage" in events[-2][1]
    return {"types": [b["type"] for b in blocks]}


@pytest.mark.parametrize("protocol,check", [(_core.Protocol.openai_chat, check_openai),
                                            (_core.Protocol.anthropic, check_anthropic)],
                         ids=["openai", "anthropic"])
def test_every_chunking_gives_the_same_bytes_and_a_valid_stream(qwen3, protocol, check):
    streams = {name: replay(qwen3, protocol, pieces) for name, pieces in chunkings(qwen3).items()}
    reference = streams.pop("whole")
    result = check(reference)
    for name, stream in streams.items():
        # Deltas may be cut differently; what a client assembles, and the event shape, may not.
        assert check(stream) == result, name
    if protocol == _core.Protocol.anthropic:
        assert result["types"] == ["thinking", "text", "tool_use", "tool_use"]
    else:
        assert result["reasoning"].strip().startswith("The user wants")
        assert [c["name"] for c in result["calls"].values()] == ["get_weather", "get_weather"]
        assert [json.loads(c["arguments"]) for c in result["calls"].values()] == [{"city": "Paris"}, {"city": "Köln"}]


def test_the_template_is_parsed_by_its_native_family(qwen3):
    # A replay that silently fell back to another parser would prove nothing about this one.
    parser = pyllm.StreamParser(qwen3, ASK, [WEATHER])
    assert parser.family == "hermes"
