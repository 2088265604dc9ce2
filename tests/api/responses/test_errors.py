"""Client mistakes on /v1/responses: 400s in OpenAI's error shape naming the parameter;
unknown ids are 404s. (Keys: tests/api/test_auth.py covers this route with the others.)"""
from __future__ import annotations

import pytest

BAD = [
    ({"model": "m"}, "input"),
    ({"model": "m", "input": 5}, "input"),
    ({"model": "m", "input": [{"type": "message", "role": "robot", "content": "x"}]}, "input[0].role"),
    ({"model": "m", "input": [{"type": "message", "role": "user", "content": [{"type": "input_image",
                                                                              "image_url": "x"}]}]},
     "input[0].content[0]"),
    ({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
    ({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{oops"}]},
     "input[0].arguments"),
    ({"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]}, "input[0].output"),
    ({"model": "m", "input": [{"type": "teleport"}]}, "input[0].type"),
    ({"model": "m", "input": "x", "tools": {"type": "function"}}, "tools"),
    ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    ({"model": "m", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": {"type": "array"}}]},
     "tools[0].parameters"),
    ({"model": "m", "input": "x", "tools": [{"type": "custom", "name": "c", "format": {
        "type": "grammar", "syntax": "lark", "definition": "start: missing_rule"}}]}, "tools[0].format.definition"),
    ({"model": "m", "input": "x", "tools": [{"type": "custom", "name": "c", "format": {
        "type": "grammar", "syntax": "regex", "definition": "(?=look)ahead"}}]}, "tools[0].format.definition"),
    ({"model": "m", "input": "x", "tools": [{"type": "custom", "name": "c", "format": {
        "type": "grammar", "syntax": "ebnf", "definition": "x"}}]}, "tools[0].format.syntax"),
    ({"model": "m", "input": "x", "tool_choice": "required"}, "tool_choice"),
    ({"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice"),
    ({"model": "m", "input": "x", "tool_choice": {"type": "web_search"}}, "tool_choice"),
    ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": "m", "input": "x", "temperature": 3}, "temperature"),
    ({"model": "m", "input": "x", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
    ({"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}, "text.format"),
    ({"model": "m", "input": "x", "stream": "yes"}, "stream"),
    ({"model": "m", "input": "x", "background": True}, "background"),
    ({"model": 3, "input": "x"}, "model"),
]


@pytest.mark.parametrize(("body", "param"), BAD, ids=[p for _, p in BAD])
def test_bad_input_is_a_400_naming_the_parameter(gemma, body, param):
    r = gemma.post(body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_body_is_a_400(gemma, raw):
    r = gemma.post(raw, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_unknown_response_ids_are_404s(gemma):
    for method, path in (("GET", "/v1/responses/resp_x"), ("DELETE", "/v1/responses/resp_x"),
                         ("GET", "/v1/responses/resp_x/input_items")):
        r = gemma.http.request(method, path)
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error", (method, path)


def test_context_overflow_is_a_400(gemma):
    r = gemma.post({"model": "m", "input": "word " * 9000})
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
