"""tool_use blocks: forced by tool_choice any / tool (first block, valid input), streamed
as input: {} then input_json_delta fragments, and the tool_result round trip."""
from __future__ import annotations

import json

WEATHER = {"name": "get_weather", "description": "Current weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
                            "required": ["city"], "additionalProperties": False}}
TIME = {"name": "get_time", "description": "Current time", "input_schema": {"type": "object", "properties": {}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def _forced(choice, tools=(WEATHER, TIME)):
    return {"model": "m", "max_tokens": 60, "temperature": 0, "messages": ASK, "tools": list(tools),
            "thinking": {"type": "disabled"}, "tool_choice": {**choice, "disable_parallel_tool_use": True}}


def test_tool_choice_any_forces_a_tool_use_block_first(qwen3):
    for m in (qwen3.create(_forced({"type": "any"})), qwen3.stream(_forced({"type": "any"}))):
        assert m["content"][0]["type"] == "tool_use"
        assert m["content"][0]["id"].startswith("toolu_")
        assert m["stop_reason"] == "tool_use"
        assert [b["type"] for b in m["content"]] == ["tool_use"]


def test_tool_choice_tool_forces_that_tool_with_valid_input(qwen3):
    body = _forced({"type": "tool", "name": "get_weather"})
    for m in (qwen3.create(body), qwen3.stream(body)):
        call = m["content"][0]
        assert call["type"] == "tool_use" and call["name"] == "get_weather"
        assert call["input"] in ({"city": "Paris"}, {"city": "Rome"})


def test_streamed_tool_use_starts_with_empty_input_then_json_deltas(qwen3):
    with qwen3.http.stream("POST", "/v1/messages", json={**_forced({"type": "tool", "name": "get_weather"}),
                                                          "stream": True}) as r:
        frames = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    start = next(f for f in frames if f["type"] == "content_block_start")
    assert start["content_block"] == {"type": "tool_use", "id": start["content_block"]["id"],
                                      "name": "get_weather", "input": {}}
    parts = [f["delta"]["partial_json"] for f in frames if f["type"] == "content_block_delta"]
    assert len(parts) > 1
    assert json.loads("".join(parts))["city"] in ("Paris", "Rome")


def test_call_without_arguments_still_streams_a_json_object(qwen3):
    body = _forced({"type": "tool", "name": "get_time"})
    for m in (qwen3.create(body), qwen3.stream(body)):
        assert m["content"][0]["name"] == "get_time" and m["content"][0]["input"] == {}


def test_sdk_parses_the_forced_call(qwen3):
    body = _forced({"type": "tool", "name": "get_weather"})
    with qwen3.sdk_stream(body) as s:
        final = s.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "tool_use" and final.content[0].input["city"] in ("Paris", "Rome")


def test_tool_result_round_trip(qwen3):
    call = qwen3.create(_forced({"type": "tool", "name": "get_weather"}))["content"][0]

    def conversation(result):
        return {"model": "m", "max_tokens": 30, "tools": [WEATHER, TIME], "thinking": {"type": "disabled"},
                "messages": [*ASK, {"role": "assistant", "content": [call]},
                             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                                                           "content": result}]}]}

    # A forced answer (grammar) cannot be combined with a tool-call grammar: tool_choice none.
    body = {**conversation([{"type": "text", "text": "Sunny, 21 C"}]), "tool_choice": {"type": "none"},
            "grammar": 'root ::= "It is sunny."'}
    for m in (qwen3.create(body), qwen3.stream(body)):
        assert m["content"] == [{"type": "text", "text": "It is sunny."}] and m["stop_reason"] == "end_turn"
    # The result text reaches the prompt: a longer result is a longer prompt.
    short = qwen3.post(conversation("Sunny"), path="/v1/messages/count_tokens").json()["input_tokens"]
    long = qwen3.post(conversation("Sunny with a light breeze from the west all afternoon"),
                      path="/v1/messages/count_tokens").json()["input_tokens"]
    assert long > short
    failed = {**conversation("boom"), "tool_choice": {"type": "none"}, "grammar": 'root ::= "Sorry."'}
    failed["messages"][-1]["content"][0]["is_error"] = True
    assert qwen3.create(failed)["content"][0]["text"] == "Sorry."
