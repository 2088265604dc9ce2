"""GET /metrics (Prometheus text) and the one structured log line per request."""
from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from .anthropic.conftest import validate_stream

CHAT = {"messages": [{"role": "user", "content": "Count to five"}], "max_tokens": 6}
MESSAGES = {"model": "any", "max_tokens": 6, "messages": [{"role": "user", "content": "Count to five"}]}
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape(server) -> dict[str, float]:
    """Samples by ``name{labels}``; checks every line is valid exposition format."""
    r = httpx.get(server.base_url + "/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in r.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram")
            typed.add(name)
        elif line.startswith("# HELP "):
            continue
        else:
            m = _SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            base = re.sub(r"_(bucket|sum|count)$", "", m[1])
            assert m[1] in typed or base in typed, f"{m[1]} without # TYPE"
            samples[m[1] + (m[2] or "")] = float(m[3])
    return samples


@pytest.fixture(scope="module")
def metered(start_server):
    return start_server("-np", "2", "-c", "4096", "--metrics", "--log-format", "json")


def test_metrics_count_requests_tokens_and_latencies(metered):
    before = scrape(metered)
    chat = httpx.post(metered.base_url + "/v1/chat/completions", json=CHAT, timeout=120).json()
    with httpx.stream("POST", metered.base_url + "/v1/messages", json={**MESSAGES, "stream": True}, timeout=120) as r:
        message = validate_stream(r.read().decode())
    assert httpx.post(metered.base_url + "/v1/messages", json={}, timeout=120).status_code == 400
    after = scrape(metered)

    def grew(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    assert grew('pyllm_requests_total{route="/v1/chat/completions",status="200"}') == 1
    assert grew('pyllm_requests_total{route="/v1/messages",status="200"}') == 1
    assert grew('pyllm_requests_total{route="/v1/messages",status="400"}') == 1
    usage = chat["usage"]
    assert grew("pyllm_prompt_tokens_total") >= 2 * usage["prompt_tokens"] - 1
    assert grew("pyllm_generated_tokens_total") == usage["completion_tokens"] + message["usage"]["output_tokens"]
    # The second request repeats the first one's rendered prompt prefix: served from the cache.
    assert grew("pyllm_prompt_tokens_cached_total") > 0
    assert grew("pyllm_time_to_first_token_seconds_count") == 2
    assert grew('pyllm_time_to_first_token_seconds_bucket{le="+Inf"}') == 2
    assert grew("pyllm_time_to_first_token_seconds_sum") > 0
    assert grew("pyllm_time_per_output_token_seconds_count") == 2
    assert after["pyllm_slots_total"] == 2 and after["pyllm_slots_busy"] == 0 and after["pyllm_queue_depth"] == 0
    # The prompt cache and the context checkpoints: the default model's sliding window is
    # checkpointed one token before the end of every prompt.
    assert after["pyllm_prompt_cache_prompts"] >= 0 and after["pyllm_prompt_cache_bytes"] >= 0
    assert after["pyllm_context_checkpoints"] >= 1 and after["pyllm_context_checkpoint_bytes"] > 0
    assert after["pyllm_context_checkpoint_restore_failures_total"] == 0


def test_metrics_is_off_without_the_flag(server):
    assert httpx.get(server.base_url + "/metrics").status_code == 404


def test_model_load_progress_is_plain_json_lines_when_not_on_a_terminal(metered):
    messages = [json.loads(line)["message"] for line in metered.output().splitlines() if line.startswith("{")]
    assert "loading gemma-3-270m-q4_k_m.gguf: 100%" in messages
    assert any(m.startswith("loaded ") for m in messages)
    assert "\r" not in metered.output()


def test_one_json_log_line_per_request_with_tokens_and_ttft(metered):
    r = httpx.post(metered.base_url + "/v1/chat/completions", json=CHAT, timeout=120)
    request_id = r.headers["x-request-id"]
    usage = r.json()["usage"]
    # The line is written once the response is complete, which the client may see first.
    deadline = time.monotonic() + 10
    while not (lines := [json.loads(line) for line in metered.output().splitlines() if request_id in line]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["logger"] == "pyllm.request" and line["level"] == "info"
    assert line["route"] == "/v1/chat/completions" and line["method"] == "POST" and line["status"] == 200
    assert line["prompt_tokens"] == usage["prompt_tokens"]
    assert line["generated_tokens"] == usage["completion_tokens"]
    assert line["cached_tokens"] == usage["prompt_tokens_details"]["cached_tokens"]
    assert 0 < line["ttft_ms"] <= line["duration_ms"]
    assert line["finish"] in ("length", "stop")
