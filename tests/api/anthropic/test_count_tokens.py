"""count_tokens counts the prompt a real call submits: system, tools, the template."""
from __future__ import annotations

import httpx

TOOLS = [{"name": "get_weather", "description": "Weather for a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


def _prompt_tokens(usage):
    # Anthropic reports cache reads apart from input_tokens; together they are the prompt.
    return usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]


def test_count_tokens_equals_the_prompt_of_a_real_call(qwen3):
    body = {"model": "m", "system": "You are a weather bot.", "tools": TOOLS,
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    counted = qwen3.post(body, path="/v1/messages/count_tokens")
    assert counted.status_code == 200 and set(counted.json()) == {"input_tokens"}
    m = qwen3.create({**body, "max_tokens": 4})
    assert counted.json()["input_tokens"] == _prompt_tokens(m["usage"])


def test_count_tokens_includes_system_and_tools(qwen3):
    base = {"model": "m", "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    plain = qwen3.post(base, path="/v1/messages/count_tokens").json()["input_tokens"]
    with_system = qwen3.post({**base, "system": "You are a weather bot."}, path="/v1/messages/count_tokens")
    with_tools = qwen3.post({**base, "tools": TOOLS}, path="/v1/messages/count_tokens")
    assert with_system.json()["input_tokens"] > plain
    assert with_tools.json()["input_tokens"] > plain


def test_count_tokens_through_the_sdk(qwen3):
    n = qwen3.sdk.messages.count_tokens(model="m", messages=[{"role": "user", "content": "hi"}])
    assert n.input_tokens > 0


def test_billing_header_does_not_reach_the_prompt(qwen3):
    # Claude Code's header changes per request; in the prompt it would defeat the cache.
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    counts = [
        qwen3.post({**base, "system": [*header, {"type": "text", "text": "Be brief."}]},
                   path="/v1/messages/count_tokens").json()["input_tokens"]
        for header in ([], [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.0.1; cch=123"}])
    ]
    assert counts[0] == counts[1]


def test_count_tokens_rejects_malformed_bodies_in_anthropic_shape(qwen3):
    r = httpx.post(qwen3.base_url + "/v1/messages/count_tokens", json={"model": "m", "messages": []})
    assert r.status_code == 400 and r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "invalid_request_error"
