"""Serving limits: request body size (413), a full queue (429 / 529), the per-request time
limit (504 before the response starts, the API's error event after)."""
from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from .anthropic.conftest import parse_sse, validate_stream

BODY_LIMIT = 4096
TIMEOUT_S = 1.5
# Never complete, so the end of generation cannot come before max_tokens: the task runs
# until the server ends it.
ENDLESS = 'root ::= [a-z ] root'
CHAT = {"messages": [{"role": "user", "content": "Tell a story"}], "max_tokens": 3000, "grammar": ENDLESS}
MESSAGES = {"model": "any", "max_tokens": 3000, "messages": [{"role": "user", "content": "Tell a story"}],
            "grammar": ENDLESS}


@pytest.fixture(scope="module")
def limited(start_server):
    """One slot, no queue, a small body limit."""
    return start_server("-np", "1", "-c", "4096", "--max-queued", "0", "--max-body-size", str(BODY_LIMIT))


@pytest.fixture(scope="module")
def timed(start_server):
    """Every request here outlasts the time limit (a loaded machine cannot make one finish early)."""
    return start_server("-np", "1", "-c", "4096", "--request-timeout", str(TIMEOUT_S))


def post(server, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(server.base_url + path, timeout=120, **kwargs)


def assert_idle(server) -> None:
    deadline = time.monotonic() + 5
    while (health := httpx.get(server.base_url + "/health").json())["slots_processing"]:
        assert time.monotonic() < deadline, health
        time.sleep(0.05)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_body_over_the_limit_is_413_in_the_apis_shape(limited, path):
    big = {"model": "any", "max_tokens": 1, "messages": [{"role": "user", "content": "x" * BODY_LIMIT}]}
    r = post(limited, path, json=big)
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["type"] == "request_too_large" and "--max-body-size" in error["message"]
    if path == "/v1/messages":
        assert r.json()["type"] == "error"

    # Without Content-Length (chunked), the limit holds while the body is read.
    chunks = (b"x" * 1000 for _ in range(8))
    r = post(limited, path, content=chunks, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"


def test_body_under_the_limit_is_served(limited):
    # The bulk in a field the server ignores: a long prompt would only test prefill speed.
    body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1, "user": "x" * (BODY_LIMIT - 200)}
    assert len(json.dumps(body)) < BODY_LIMIT
    assert post(limited, "/v1/chat/completions", json=body).status_code == 200


def test_full_queue_is_429_openai_and_529_anthropic(limited):
    with httpx.stream("POST", limited.base_url + "/v1/chat/completions", json={**CHAT, "stream": True},
                      timeout=120) as running:
        lines = running.iter_lines()
        next(line for line in lines if line.startswith("data: "))  # the slot is taken
        r = post(limited, "/v1/chat/completions", json={**CHAT, "max_tokens": 1})
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "overloaded" and "queued" in r.json()["error"]["message"]
        r = post(limited, "/v1/messages", json={**MESSAGES, "max_tokens": 1})
        assert r.status_code == 529
        assert r.json()["type"] == "error" and r.json()["error"]["type"] == "overloaded_error"
    assert_idle(limited)  # leaving the stream cancelled its task


def test_openai_stream_past_the_time_limit_ends_with_an_error_frame_and_done(timed):
    started = time.monotonic()
    with httpx.stream("POST", timed.base_url + "/v1/chat/completions", json={**CHAT, "stream": True},
                      timeout=120) as r:
        assert r.status_code == 200
        data = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    elapsed = time.monotonic() - started
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 10, "ended at the limit, not after 3000 tokens"
    assert data[-1] == "[DONE]"
    error = json.loads(data[-2])["error"]
    assert error["type"] == "timeout_error" and error["code"] == "timeout" and "--request-timeout" in error["message"]
    assert all("choices" in json.loads(chunk) for chunk in data[:-2])
    assert_idle(timed)


def test_anthropic_stream_past_the_time_limit_ends_with_an_error_event(timed):
    with httpx.stream("POST", timed.base_url + "/v1/messages", json={**MESSAGES, "stream": True},
                      timeout=120) as r:
        assert r.status_code == 200
        text = "".join(r.iter_text())
    assert validate_stream(text)["error"]["type"] == "timeout_error"
    assert [event for event, _ in parse_sse(text)][-1] == "error"
    assert_idle(timed)


@pytest.mark.parametrize(("path", "body"), [("/v1/chat/completions", CHAT), ("/v1/messages", MESSAGES)])
def test_unstreamed_request_past_the_time_limit_is_504(timed, path, body):
    r = post(timed, path, json=body)
    assert r.status_code == 504
    assert r.json()["error"]["type"] == "timeout_error"
    assert_idle(timed)
