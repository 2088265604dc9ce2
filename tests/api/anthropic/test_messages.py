"""/v1/messages text answers: stream and non-stream agree, with the SDK too; request
fields the API allows are accepted; sampling and stop sequences reach the engine."""
from __future__ import annotations

from .conftest import AnthropicServer

HELLO = {"model": "claude-local", "max_tokens": 32, "temperature": 0,
         "messages": [{"role": "user", "content": "Say Hello World"}]}


def test_stream_text_equals_non_stream_and_sdk_final_message(qwen3):
    body = {**HELLO, "grammar": 'root ::= "Hello World"'}
    whole = qwen3.create(body)
    streamed = qwen3.stream(body)
    with qwen3.sdk_stream(body) as s:
        final = s.get_final_message()
    assert whole["content"] == [{"type": "text", "text": "Hello World"}]
    assert streamed["content"] == whole["content"]
    assert [b.model_dump() for b in final.content] == [{"type": "text", "text": "Hello World", "citations": None}]
    for message in (whole, streamed, final.model_dump()):
        assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None
        assert message["id"].startswith("msg_") and message["model"] == "claude-local"


def test_hello_world_is_not_cut_to_its_last_block_by_the_sdk(qwen3):
    # Peers sent one content_block_start per token; the SDK then kept only "World".
    body = {**HELLO, "grammar": 'root ::= "Hello" " " "World"'}
    with qwen3.sdk_stream(body) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello World" and final.content[0].text == "Hello World" and len(final.content) == 1


def test_non_stream_message_has_every_field(qwen3):
    m = qwen3.create({**HELLO, "grammar": 'root ::= "Hi"'})
    assert set(m) == {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
    assert m["type"] == "message" and m["role"] == "assistant"
    assert set(m["usage"]) == {"input_tokens", "output_tokens", "cache_creation_input_tokens",
                               "cache_read_input_tokens"}
    assert m["usage"]["output_tokens"] >= 1


def test_max_tokens_cut_is_reported_as_max_tokens(qwen3):
    body = {**HELLO, "max_tokens": 3, "grammar": 'root ::= "one two three four five six seven"'}
    for m in (qwen3.create(body), qwen3.stream(body)):
        assert m["stop_reason"] == "max_tokens"
        assert m["usage"]["output_tokens"] == 3


def test_stop_sequence_is_reported_with_the_matched_string(qwen3):
    body = {**HELLO, "stop_sequences": ["three"], "grammar": 'root ::= "one two three four"'}
    for m in (qwen3.create(body), qwen3.stream(body)):
        assert m["stop_reason"] == "stop_sequence" and m["stop_sequence"] == "three"
        assert m["content"][0]["text"] == "one two "


def test_missing_max_tokens_falls_back_to_the_server_cap(start_server, templates_dir, stream_record):
    # The server's -n 3 is the cap: a body without max_tokens stops there, as max_tokens.
    capped = AnthropicServer(start_server("-np", "1", "-c", "2048", "-n", "3", "--chat-template-file",
                                          str(templates_dir / "Qwen-Qwen3-0.6B.jinja")), stream_record)
    try:
        body = {k: v for k, v in HELLO.items() if k != "max_tokens"}
        body["grammar"] = 'root ::= "one two three four five six seven eight"'
        for m in (capped.create(body), capped.stream(body)):
            assert m["stop_reason"] == "max_tokens", m
            assert m["usage"]["output_tokens"] == 3, m
            text = m["content"][0]["text"]
            assert text and "one two three four five six seven eight".startswith(text), m
    finally:
        capped.close()


def test_unknown_fields_cache_control_and_claude_code_extras_are_ignored(qwen3):
    body = {
        **HELLO,
        "grammar": 'root ::= "ok"',
        "metadata": {"user_id": "u"}, "service_tier": "auto", "context_management": {"edits": []},
        "diagnostics": {}, "output_config": {"effort": "low"}, "some_future_field": [1, 2],
        "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=1.0; cch=abc"},
                   {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Say ok", "cache_control": {"type": "ephemeral", "ttl": "5m"}}]}],
        "top_p": 0.9, "top_k": 20,
    }
    m = qwen3.create(body)
    assert m["content"] == [{"type": "text", "text": "ok"}]


def test_system_role_inside_messages_is_accepted(qwen3):
    body = {**HELLO, "grammar": 'root ::= "ok"',
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]}
    assert qwen3.create(body)["content"][0]["text"] == "ok"


def test_beta_query_parameter_is_accepted(qwen3):
    r = qwen3.post({**HELLO, "grammar": 'root ::= "ok"'}, path="/v1/messages?beta=true",
                   headers={"anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14"})
    assert r.status_code == 200 and r.json()["content"][0]["text"] == "ok"


def test_empty_trailing_assistant_message_is_dropped(qwen3):
    body = {**HELLO, "grammar": 'root ::= "ok"',
            "messages": [*HELLO["messages"], {"role": "assistant", "content": ""}]}
    assert qwen3.create(body)["content"] == [{"type": "text", "text": "ok"}]


def test_prefill_is_continued(qwen3):
    body = {**HELLO, "grammar": 'root ::= " World"', "thinking": {"type": "disabled"},
            "messages": [*HELLO["messages"], {"role": "assistant", "content": "Hello"}]}
    for m in (qwen3.create(body), qwen3.stream(body)):
        assert m["content"] == [{"type": "text", "text": " World"}]


def test_second_identical_request_reads_the_prompt_cache(qwen3):
    body = {**HELLO, "grammar": 'root ::= "ok"', "system": "A long enough system prompt for the cache. " * 8}
    qwen3.create(body)
    usage = qwen3.create(body)["usage"]
    assert usage["cache_read_input_tokens"] > 0
    assert usage["input_tokens"] >= 1
