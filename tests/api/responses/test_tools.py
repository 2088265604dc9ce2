"""Tools through the Responses API: function calls (forced by tool_choice, streamed as
argument deltas, round trip through function_call_output), freeform custom tools whose input
a Lark or regex grammar constrains, namespace (MCP) tools, hosted tools declared unavailable."""
from __future__ import annotations

import json
import re

WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather for a city", "strict": True,
           "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
                          "required": ["city"], "additionalProperties": False}}
ASK = "What is the weather in Paris?"
# A small patch language in the Lark subset Codex's apply_patch grammar uses (the real one is
# exercised in test_codex.py, read from the installed Codex).
# Bounded, so that even the tiny model has to finish the patch.
PATCH_GRAMMAR = r'''
start: begin hunk end
begin: "*** Begin Patch" LF
end: "*** End Patch" LF?
hunk: add_hunk | delete_hunk
add_hunk: "*** Add File: " filename LF add_line ~ 1..2
delete_hunk: "*** Delete File: " filename LF
filename: /([a-z]{1,8}\.txt)/
add_line: "+" /([A-Za-z "]{0,12})/ LF -> line
%import common.LF
'''
PATCH_SHAPE = re.compile(r'\*\*\* Begin Patch\n((\*\*\* Add File: [a-z]{1,8}\.txt\n(\+[A-Za-z "]{0,12}\n){1,2})|'
                         r"(\*\*\* Delete File: [a-z]{1,8}\.txt\n))\*\*\* End Patch\n?")
APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files with a patch",
               "format": {"type": "grammar", "syntax": "lark", "definition": PATCH_GRAMMAR}}


def _calls(response, kind="function_call"):
    return [item for item in response["output"] if item["type"] == kind]


def test_named_tool_choice_forces_a_valid_function_call(gemma):
    body = {"model": "m", "input": ASK, "tools": [WEATHER], "max_output_tokens": 60, "temperature": 0,
            "tool_choice": {"type": "function", "name": "get_weather"}, "parallel_tool_calls": False}
    for r in (gemma.create(body), gemma.stream(body)):
        [call] = _calls(r)
        assert [item["type"] for item in r["output"]] == ["function_call"]
        assert call["name"] == "get_weather" and call["call_id"].startswith("call_") and call["id"].startswith("fc_")
        assert call["status"] == "completed" and json.loads(call["arguments"])["city"] in ("Paris", "Rome")


def test_function_call_round_trip_to_an_answer(gemma):
    first = gemma.create({"model": "m", "input": ASK, "tools": [WEATHER], "max_output_tokens": 60, "temperature": 0,
                          "tool_choice": "required", "parallel_tool_calls": False})
    [call] = _calls(first)
    # The answer is forced (the tiny model may say nothing); what is tested is the round trip.
    followup = {"model": "m", "tools": [WEATHER], "max_output_tokens": 16, "temperature": 0, "tool_choice": "none",
                "grammar": 'root ::= "It is sunny."', "input": [{"type": "message", "role": "user", "content": ASK}, call,
                          {"type": "function_call_output", "call_id": call["call_id"], "output": "Sunny, 24 C"}]}
    for r in (gemma.create(followup), gemma.stream(followup)):
        assert [item["type"] for item in r["output"]] == ["message"]
        assert r["output"][0]["content"][0]["text"] == "It is sunny."


def test_sdk_streams_the_function_call(gemma):
    with gemma.sdk.responses.stream(model="m", input=ASK, tools=[WEATHER], max_output_tokens=60, temperature=0,
                                    tool_choice={"type": "function", "name": "get_weather"},
                                    parallel_tool_calls=False) as s:
        events = list(s)
        final = s.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    [call] = [item for item in final.output if item.type == "function_call"]
    assert len(deltas) > 1 and "".join(deltas) == call.arguments
    assert json.loads(call.arguments)["city"] in ("Paris", "Rome")


def test_custom_tool_input_matches_its_lark_grammar(gemma):
    body = {"model": "m", "input": "Create hello.txt containing Hi", "tools": [APPLY_PATCH],
            "tool_choice": {"type": "custom", "name": "apply_patch"}, "parallel_tool_calls": False,
            "max_output_tokens": 80, "temperature": 0}
    whole, streamed = gemma.create(body), gemma.stream(body)
    for r in (whole, streamed):
        [call] = _calls(r, "custom_tool_call")
        assert call["name"] == "apply_patch" and call["call_id"].startswith("call_")
        assert call["status"] == "completed" and PATCH_SHAPE.fullmatch(call["input"]), call["input"]
    assert _calls(whole, "custom_tool_call")[0]["input"] == _calls(streamed, "custom_tool_call")[0]["input"]


def test_custom_tool_input_matches_its_regex_grammar(gemma):
    tool = {"type": "custom", "name": "set_color", "format": {
        "type": "grammar", "syntax": "regex", "definition": r'^(red|green|blue) "[a-z]{3,8}"\n$'}}
    body = {"model": "m", "input": "Pick a color", "tools": [tool], "max_output_tokens": 40, "temperature": 0,
            "tool_choice": {"type": "custom", "name": "set_color"}, "parallel_tool_calls": False}
    for r in (gemma.create(body), gemma.stream(body)):
        [call] = _calls(r, "custom_tool_call")
        assert re.fullmatch(r'(red|green|blue) "[a-z]{3,8}"\n', call["input"]), call["input"]


def test_custom_tool_call_round_trip(gemma):
    call = {"type": "custom_tool_call", "call_id": "call_1", "name": "apply_patch",
            "input": "*** Begin Patch\n*** Delete File: a.txt\n*** End Patch\n"}
    r = gemma.create({"model": "m", "tools": [APPLY_PATCH], "max_output_tokens": 8, "temperature": 0,
                      "tool_choice": "none", "grammar": 'root ::= "Deleted."', "input": [
                          {"type": "message", "role": "user", "content": "Delete a.txt"}, call,
                          {"type": "custom_tool_call_output", "call_id": "call_1", "output": "Done"}]})
    assert r["output"][0]["content"][0]["text"] == "Deleted."


def test_namespace_tools_are_flattened_and_reported_with_their_namespace(gemma):
    ns = {"type": "namespace", "name": "weather_mcp", "description": "Weather tools", "tools": [WEATHER]}
    body = {"model": "m", "input": ASK, "tools": [ns], "max_output_tokens": 60, "temperature": 0,
            "tool_choice": {"type": "function", "name": "get_weather", "namespace": "weather_mcp"},
            "parallel_tool_calls": False}
    for r in (gemma.create(body), gemma.stream(body)):
        [call] = _calls(r)
        assert call["name"] == "get_weather" and call["namespace"] == "weather_mcp"
    followup = gemma.create({"model": "m", "tools": [ns], "max_output_tokens": 4, "temperature": 0, "input": [
        {"type": "message", "role": "user", "content": ASK}, call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "Sunny"}]})
    assert followup["status"] in ("completed", "incomplete")


def test_hosted_tools_are_accepted_and_unavailable(gemma):
    r = gemma.create({"model": "m", "input": "Search the web for cats", "max_output_tokens": 8, "temperature": 0,
                      "tools": [{"type": "web_search", "external_web_access": False}, {"type": "file_search"}]})
    assert r["status"] in ("completed", "incomplete")
    assert all(item["type"] == "message" for item in r["output"])
    assert r["tools"][0]["type"] == "web_search"


def test_tool_choice_none_never_calls(gemma):
    r = gemma.create({"model": "m", "input": ASK, "tools": [WEATHER], "tool_choice": "none",
                      "max_output_tokens": 16, "temperature": 0})
    assert not _calls(r)
