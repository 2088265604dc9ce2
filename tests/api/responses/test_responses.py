"""POST /v1/responses: the Response object, the event stream (raw and through the SDK's typed
events), streamed == non-streamed at temperature 0, max_output_tokens, reasoning items."""
from __future__ import annotations

import json

import openai.types.responses as types

HELLO = {"model": "m", "input": "Say hello", "max_output_tokens": 12, "temperature": 0}


def _text(response):
    return "".join(p["text"] for item in response["output"] if item["type"] == "message" for p in item["content"])


def test_non_streamed_response_object(gemma):
    r = gemma.create({**HELLO, "instructions": "Be brief.", "metadata": {"k": "v"}})
    assert r["id"].startswith("resp_") and r["object"] == "response"
    assert r["status"] in ("completed", "incomplete") and r["model"] == "m"
    assert isinstance(r["created_at"], int) and r["error"] is None
    assert r["instructions"] == "Be brief." and r["metadata"] == {"k": "v"} and r["max_output_tokens"] == 12
    assert r["tools"] == [] and r["tool_choice"] == "auto" and r["parallel_tool_calls"] is True
    [message] = r["output"]
    assert message["type"] == "message" and message["role"] == "assistant" and message["id"].startswith("msg_")
    assert message["content"][0]["type"] == "output_text" and message["content"][0]["text"]
    usage = r["usage"]
    assert usage["input_tokens"] > 0 and 0 < usage["output_tokens"] <= 12
    assert usage["output_tokens_details"]["reasoning_tokens"] == 0


def test_streamed_response_equals_the_non_streamed_one(gemma):
    whole = gemma.create(HELLO)
    streamed = gemma.stream(HELLO)
    assert _text(streamed) == _text(whole) and streamed["status"] == whole["status"]
    assert streamed["usage"]["output_tokens"] == whole["usage"]["output_tokens"]


def test_max_output_tokens_makes_the_response_incomplete(gemma):
    body = {"model": "m", "input": "Count from one to one hundred in words.", "max_output_tokens": 3,
            "temperature": 0}
    for r in (gemma.create(body), gemma.stream(body)):
        assert r["status"] == "incomplete" and r["incomplete_details"] == {"reason": "max_output_tokens"}
        assert r["output"][0]["status"] == "incomplete" and r["usage"]["output_tokens"] == 3


def test_sdk_create_parses_the_response(gemma):
    r = gemma.sdk.responses.create(model="m", input="Say hello", max_output_tokens=12, temperature=0)
    assert isinstance(r, types.Response) and r.output_text
    assert r.usage is not None and r.usage.input_tokens_details.cached_tokens >= 0


def test_sdk_stream_every_event_is_typed_and_final_equals_create(gemma):
    whole = gemma.sdk.responses.create(model="m", input="Say hello", max_output_tokens=12, temperature=0)
    with gemma.sdk.responses.stream(model="m", input="Say hello", max_output_tokens=12, temperature=0) as s:
        events = list(s)
        final = s.get_final_response()
    # Each event parsed into its own typed class (the SDK's stream wraps some in subclasses).
    known = tuple(c for c in (getattr(types, n) for n in dir(types) if n.endswith("Event")) if isinstance(c, type))
    assert all(isinstance(e, known) for e in events), [type(e).__name__ for e in events]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert final.output_text == whole.output_text
    assert [item.type for item in final.output] == [item.type for item in whole.output]


def test_reasoning_is_a_reasoning_item_on_a_thinking_template(qwen3):
    body = {"model": "m", "input": "Say hello", "max_output_tokens": 40,
            "grammar": 'root ::= "<think>\\nI should greet.\\n</think>\\n\\nHello there"'}
    for r in (qwen3.create(body), qwen3.stream(body)):
        assert [item["type"] for item in r["output"]] == ["reasoning", "message"]
        reasoning = r["output"][0]
        assert reasoning["summary"] == [] and reasoning["id"].startswith("rs_")
        assert reasoning["content"][0]["type"] == "reasoning_text"
        assert reasoning["content"][0]["text"].strip() == "I should greet."
        assert _text(r) == "Hello there"
        assert 0 < r["usage"]["output_tokens_details"]["reasoning_tokens"] < r["usage"]["output_tokens"]


def test_asked_for_summary_is_the_reasoning_text(qwen3):
    body = {"model": "m", "input": "Say hello", "max_output_tokens": 40, "reasoning": {"summary": "auto"},
            "grammar": 'root ::= "<think>\\nGreet.\\n</think>\\n\\nHello"'}
    for r in (qwen3.create(body), qwen3.stream(body)):
        reasoning = r["output"][0]
        assert reasoning["summary"] == [{"type": "summary_text", "text": reasoning["content"][0]["text"]}]
        assert "Greet." in reasoning["summary"][0]["text"]


def test_reasoning_effort_none_turns_thinking_off(qwen3):
    r = qwen3.create({"model": "m", "input": "hi", "max_output_tokens": 8, "temperature": 0,
                      "reasoning": {"effort": "none"}})
    assert r["reasoning"]["effort"] == "none"
    assert all(item["type"] != "reasoning" for item in r["output"]), r["output"]


def test_earlier_reasoning_items_reach_the_template(qwen3):
    # A reasoning item's text goes back as the assistant turn's reasoning; another server's
    # encrypted_content is accepted and ignored.
    body = {"model": "m", "max_output_tokens": 4, "temperature": 0, "input": [
        {"type": "message", "role": "user", "content": "hi"},
        {"type": "reasoning", "id": "rs_x", "summary": [], "encrypted_content": "gAAAAB-opaque",
         "content": [{"type": "reasoning_text", "text": "The user greets me."}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello!"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "again"}]}]}
    r = qwen3.create(body)
    assert r["status"] in ("completed", "incomplete")
    only_encrypted = {**body, "input": [body["input"][0], {"type": "reasoning", "id": "rs_y", "summary": [],
                                                            "encrypted_content": "opaque"}, *body["input"][2:]]}
    assert qwen3.create(only_encrypted)["status"] in ("completed", "incomplete")


def test_json_schema_text_format_constrains_the_message(gemma):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
              "additionalProperties": False}
    r = gemma.create({"model": "m", "input": "Answer in JSON", "max_output_tokens": 20, "temperature": 0,
                      "text": {"format": {"type": "json_schema", "name": "answer", "schema": schema}}})
    assert set(json.loads(_text(r))) == {"ok"}
