"""``pyllm serve --grammar`` / ``--grammar-file`` (llama-server's flags): one GBNF grammar for
every request that brings no constraint of its own, through every API."""
from __future__ import annotations

import json
import subprocess
import sys

import httpx

HELLO = 'root ::= "Hello."'
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def test_the_server_grammar_shapes_and_ends_every_unconstrained_answer(start_server, tmp_path):
    grammar_file = tmp_path / "hello.gbnf"
    grammar_file.write_text(HELLO + "\n")
    server = start_server("-np", "1", "-c", "4096", "--grammar-file", str(grammar_file))
    chat = httpx.post(server.base_url + "/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "Write a long story."}], "max_tokens": 200}, timeout=120).json()
    assert chat["choices"][0]["message"]["content"] == "Hello."
    assert chat["choices"][0]["finish_reason"] == "stop"

    # Tools with tool_choice auto: the grammar replaces the lazy tool-call grammar (an agent
    # client's turn on this grammar ends in "Hello.", whatever tools it sends).
    message = httpx.post(server.base_url + "/v1/messages", json={
        "model": "any", "max_tokens": 32000, "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}]}, timeout=120).json()
    assert message["content"] == [{"type": "text", "text": "Hello."}]
    assert message["stop_reason"] == "end_turn"

    response = httpx.post(server.base_url + "/v1/responses", json={
        "input": "Say something.", "tools": [{"type": "function", "name": "get_weather",
                                               "parameters": WEATHER["function"]["parameters"]}]}, timeout=120).json()
    assert response["status"] == "completed"
    assert response["output"][-1]["content"][0]["text"] == "Hello."

    completion = httpx.post(server.base_url + "/v1/completions", json={"prompt": "Once upon a time",
                                                                      "max_tokens": 50}, timeout=120).json()
    assert completion["choices"][0]["text"] == "Hello."


def test_a_request_with_its_own_constraint_keeps_it_over_the_server_grammar(start_server):
    server = start_server("-np", "1", "-c", "4096", "--grammar", HELLO)
    own = httpx.post(server.base_url + "/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "Hi"}], "grammar": 'root ::= "Bye."', "max_tokens": 20},
        timeout=120).json()
    assert own["choices"][0]["message"]["content"] == "Bye."

    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
              "additionalProperties": False}
    structured = httpx.post(server.base_url + "/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 40, "temperature": 0,
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}},
        timeout=120).json()
    assert isinstance(json.loads(structured["choices"][0]["message"]["content"])["ok"], bool)

    forced = httpx.post(server.base_url + "/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [WEATHER],
        "tool_choice": "required", "parallel_tool_calls": False, "max_tokens": 60, "temperature": 0},
        timeout=120).json()
    assert forced["choices"][0]["finish_reason"] == "tool_calls"
    (call,) = forced["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"


def test_a_server_grammar_that_does_not_parse_stops_the_start_with_the_reason():
    r = subprocess.run([sys.executable, "-m", "pyllm", "serve", "--port", "1", "--grammar", "root ::= (("],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "invalid server grammar" in r.stderr, r.stderr
