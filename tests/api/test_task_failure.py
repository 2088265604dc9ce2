"""A generation that fails inside the engine mid-stream ends that stream alone, with the
API's error frame; requests beside it finish normally and the slot is free again.

The failure is genuine: a lazy grammar (llama-server's /completion extension) wakes up on
" the", which the greedy story reaches after a few tokens, and cannot accept that text."""
from __future__ import annotations

import json
import threading

import httpx

FAILING = {"prompt": "Once upon a time", "temperature": 0, "max_tokens": 32, "grammar": 'root ::= "zzz"',
           "grammar_lazy": True, "grammar_triggers": [{"type": "word", "value": " the"}]}
NORMAL = {"prompt": "The capital of France is", "temperature": 0, "max_tokens": 48,
          "logit_bias": {"1": -100, "106": -100}}  # no end of turn: all 48 tokens come


def stream_data(server, body: dict, out: list[str] | None = None, started: threading.Event | None = None) -> list[str]:
    out = [] if out is None else out
    with httpx.stream("POST", server.base_url + "/v1/completions", json={**body, "stream": True},
                      timeout=120) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                out.append(line[6:])
                if started is not None:
                    started.set()
    return out


def test_failure_mid_stream_ends_only_that_stream_with_an_error_frame(server):
    normal: list[str] = []
    running = threading.Event()
    beside = threading.Thread(target=stream_data, args=(server, NORMAL, normal, running))
    beside.start()
    assert running.wait(120)
    failed = stream_data(server, FAILING)
    assert not normal or normal[-1] != "[DONE]", "the other stream was still running when this one failed"
    beside.join(120)

    assert failed[-1] == "[DONE]"
    error = json.loads(failed[-2])["error"]
    assert error["type"] == "server_error" and "grammar" in error["message"]
    texts = [json.loads(d)["choices"][0]["text"] for d in failed[:-2]]
    assert "".join(texts), "text streamed before the failure"

    assert normal[-1] == "[DONE]"
    chunks = [json.loads(d) for d in normal[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert len([c for c in chunks if c["choices"][0]["text"]]) >= 40

    health = httpx.get(server.base_url + "/health").json()
    assert health["slots_processing"] == 0 and health["queued"] == 0
    again = httpx.post(server.base_url + "/v1/completions", json={**NORMAL, "max_tokens": 4}, timeout=120)
    assert again.status_code == 200 and again.json()["choices"][0]["finish_reason"] == "length"


def test_failure_without_streaming_is_a_500_in_openai_shape(server):
    r = httpx.post(server.base_url + "/v1/completions", json=FAILING, timeout=120)
    assert r.status_code == 500
    assert "grammar" in r.json()["error"]["message"]


def test_lazy_grammar_without_triggers_is_a_400(server):
    r = httpx.post(server.base_url + "/v1/completions", json={**FAILING, "grammar_triggers": []}, timeout=120)
    assert r.status_code == 400 and r.json()["error"]["param"] == "grammar_triggers"
