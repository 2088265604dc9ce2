import json

import httpx


def test_head_root_is_200_for_claude_code_probe(server):
    assert httpx.head(server.base_url + "/").status_code == 200
    assert httpx.get(server.base_url + "/").status_code == 200


def test_health(server):
    r = httpx.get(server.base_url + "/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["slots_idle"] == 2


def test_models_lists_the_served_model(server):
    r = httpx.get(server.base_url + "/v1/models")
    assert r.status_code == 200
    data = r.json()["data"]
    assert [m["id"] for m in data] == ["gemma-3-270m-q4_k_m.gguf"]


def test_unknown_route_is_404_in_openai_shape(server):
    r = httpx.get(server.base_url + "/v1/nope")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["type"] == "not_found_error" and err["message"]


WEATHER_OPENAI = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
WEATHER_ANTHROPIC = {"name": "get_weather", "input_schema": WEATHER_OPENAI["function"]["parameters"]}


def test_tools_on_a_template_without_tool_support_are_described_not_dropped(server):
    # The default GGUF has no template and ChatML has no tool syntax: llama-server would drop
    # the tools silently. Here they are described in the prompt and a call is parsed.
    r = httpx.post(server.base_url + "/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [WEATHER_OPENAI],
        "tool_choice": "required", "parallel_tool_calls": False, "max_tokens": 60, "temperature": 0}, timeout=120)
    assert r.status_code == 200
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather" and "city" in json.loads(call["function"]["arguments"])
    r = httpx.post(server.base_url + "/v1/messages", json={
        "model": "any", "max_tokens": 60, "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER_ANTHROPIC], "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "temperature": 0}, timeout=120)
    assert r.status_code == 200
    body = r.json()
    assert body["stop_reason"] == "tool_use"
    (block,) = body["content"]
    assert block["type"] == "tool_use" and block["name"] == "get_weather" and isinstance(block["input"]["city"], str)


def test_tools_with_tool_choice_none_are_served(server):
    r = httpx.post(server.base_url + "/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER_OPENAI], "tool_choice": "none",
        "max_tokens": 4}, timeout=120)
    assert r.status_code == 200
