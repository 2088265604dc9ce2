"""Malformed requests get the right status in Anthropic's error shape, and the server keeps
serving."""
from __future__ import annotations

import httpx
import pytest

OK = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
DOC = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}

BAD_REQUESTS = {
    "invalid_json": b'{"model": "m", "max_tokens": 8, "messages": [',
    "not_an_object": b"[1, 2]",
    "empty_body": b"",
    "missing_messages": {"model": "m", "max_tokens": 8},
    "empty_messages": {**OK, "messages": []},
    "messages_not_a_list": {**OK, "messages": "hi"},
    "bad_role": {**OK, "messages": [{"role": "tool", "content": "hi"}]},
    "message_without_content": {**OK, "messages": [{"role": "user"}]},
    "content_not_string_or_list": {**OK, "messages": [{"role": "user", "content": 5}]},
    "block_without_type": {**OK, "messages": [{"role": "user", "content": [{"text": "hi"}]}]},
    "unknown_block_type": {**OK, "messages": [{"role": "user", "content": [{"type": "video"}]}]},
    "zero_max_tokens": {**OK, "max_tokens": 0},
    "negative_max_tokens": {**OK, "max_tokens": -5},
    "string_max_tokens": {**OK, "max_tokens": "8"},
    "tool_result_without_id": {**OK, "messages": [{"role": "user", "content": [{"type": "tool_result",
                                                                                 "content": "x"}]}]},
    "budget_not_below_max_tokens": {**OK, "thinking": {"type": "enabled", "budget_tokens": 8}},
    "budget_missing": {**OK, "thinking": {"type": "enabled"}},
    "unknown_thinking_type": {**OK, "thinking": {"type": "sometimes"}},
    "image_without_vision": {**OK, "messages": [{"role": "user", "content": [IMAGE, {"type": "text", "text": "?"}]}]},
    "document_unsupported": {**OK, "messages": [{"role": "user", "content": [DOC]}]},
    "temperature_out_of_range": {**OK, "temperature": 7},
    "top_k_negative": {**OK, "top_k": -1},
    "stop_sequences_not_strings": {**OK, "stop_sequences": [1]},
    "tool_without_name": {**OK, "tools": [{"input_schema": {"type": "object"}}]},
    "tool_choice_unknown_tool": {**OK, "tools": [{"name": "a", "input_schema": {"type": "object"}}],
                                 "tool_choice": {"type": "tool", "name": "b"}},
    "tool_choice_any_without_tools": {**OK, "tool_choice": {"type": "any"}},
    "bad_system": {**OK, "system": 5},
    "bad_grammar": {**OK, "grammar": "root ::= ("},
}


@pytest.mark.parametrize("body", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_malformed_request_is_400_invalid_request_error(qwen3, body):
    for stream in (False, True):
        if isinstance(body, dict):
            r = qwen3.post({**body, "stream": stream})
        else:
            r = qwen3.post(body)
        assert r.status_code == 400, r.text
        err = r.json()
        assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
        assert isinstance(err["error"]["message"], str) and err["error"]["message"]


def test_image_error_says_why(qwen3):
    r = qwen3.post(BAD_REQUESTS["image_without_vision"])
    assert "vision" in r.json()["error"]["message"]


def test_context_overflow_uses_the_wording_clients_match(qwen3):
    r = qwen3.post({**OK, "messages": [{"role": "user", "content": "word " * 9000}]})
    assert r.status_code == 400
    msg = r.json()["error"]["message"]
    assert msg.startswith("prompt is too long: ") and msg.endswith(" maximum")


def test_unknown_path_and_wrong_method_answer_in_anthropic_shape(qwen3):
    r = httpx.get(qwen3.base_url + "/v1/messages/batches/nope")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    r = httpx.get(qwen3.base_url + "/v1/messages")
    assert r.status_code == 405 and r.json()["type"] == "error"


def test_sdk_raises_typed_errors(qwen3):
    import anthropic

    with pytest.raises(anthropic.BadRequestError) as e:
        qwen3.sdk.messages.create(model="m", max_tokens=8, messages=[])
    assert e.value.body["error"]["type"] == "invalid_request_error"


def test_server_keeps_serving_after_bad_requests(qwen3):
    for body in BAD_REQUESTS.values():
        qwen3.post(body) if not isinstance(body, dict) else qwen3.post(body)
    m = qwen3.create({**OK, "grammar": 'root ::= "still here"', "max_tokens": 10})
    assert m["content"][0]["text"] == "still here"
