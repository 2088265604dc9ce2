"""Thinking blocks: signatures in both modes, forced-open templates, the budget, prefill
that continues inside the reasoning."""
from __future__ import annotations

ASK = [{"role": "user", "content": "Say Hello World"}]


def _blocks(message):
    return [(b["type"], b.get("thinking", b.get("text"))) for b in message["content"]]


def test_forced_open_thinking_template_yields_signed_thinking_in_both_modes(deepseek):
    # The prompt ends inside <think>: the output starts as reasoning without a tag.
    body = {"model": "m", "max_tokens": 40, "messages": ASK, "thinking": {"type": "adaptive"},
            "grammar": 'root ::= "I should greet.</think>Hello World"'}
    whole = deepseek.create(body)
    streamed = deepseek.stream(body)
    for m in (whole, streamed):
        assert [b["type"] for b in m["content"]] == ["thinking", "text"]
        assert "I should greet." in m["content"][0]["thinking"]
        assert m["content"][0]["signature"]
        assert m["content"][1]["text"] == "Hello World"
    assert whole["content"] == streamed["content"]


def test_sdk_final_message_keeps_thinking_and_signature(deepseek):
    with deepseek.sdk_stream({"model": "m", "max_tokens": 40, "messages": ASK,
                                            "thinking": {"type": "enabled", "budget_tokens": 30},
                                            "grammar": 'root ::= "Greet.</think>Hello"'}) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].signature and "Greet." in final.content[0].thinking
    assert final.content[1].text == "Hello"


def test_budget_tokens_bounds_the_reasoning(qwen3):
    # Prefilled reasoning puts the sampler inside <think>; without a budget this weak model
    # never closes it, with one the end tag is forced and an answer follows.
    prefill = {"role": "assistant", "content": [{"type": "thinking", "thinking": "Let me think", "signature": "s"}]}
    body = {"model": "m", "max_tokens": 20, "temperature": 0, "messages": [*ASK, prefill]}
    unbounded = qwen3.create({**body, "thinking": {"type": "adaptive"}})
    bounded = qwen3.create({**body, "thinking": {"type": "enabled", "budget_tokens": 5}})
    assert [b["type"] for b in unbounded["content"]] == ["thinking"]
    assert [b["type"] for b in bounded["content"]][:2] == ["thinking", "text"]
    assert len(bounded["content"][0]["thinking"]) < len(unbounded["content"][0]["thinking"])


def test_prefill_inside_reasoning_is_continued_as_thinking(qwen3, deepseek):
    # Peers either refused prefill with thinking on, or parsed the continuation as content.
    prefill = {"role": "assistant", "content": [{"type": "thinking", "thinking": "Let me think", "signature": "s"}]}
    body = {"model": "m", "max_tokens": 40, "messages": [*ASK, prefill], "thinking": {"type": "adaptive"},
            "grammar": 'root ::= " more.</think>Hello World"'}
    for server in (qwen3, deepseek):
        for m in (server.create(body), server.stream(body)):
            assert _blocks(m) == [("thinking", " more."), ("text", "Hello World")]


def test_thinking_disabled_renders_without_reasoning(qwen3):
    body = {"model": "m", "max_tokens": 10, "messages": ASK, "thinking": {"type": "disabled"},
            "grammar": 'root ::= "Hello"'}
    assert qwen3.create(body)["content"] == [{"type": "text", "text": "Hello"}]
    enabled = qwen3.post({**body, "thinking": {"type": "adaptive"}}, path="/v1/messages/count_tokens")
    disabled = qwen3.post(body, path="/v1/messages/count_tokens")
    # Qwen3 renders an empty <think></think> when thinking is off.
    assert disabled.json()["input_tokens"] > enabled.json()["input_tokens"]


def test_thinking_blocks_are_passed_back_into_the_template(qwen3):
    history = [*ASK, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "A very particular thought about greetings.", "signature": "s"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Hello World"}]}, {"role": "user", "content": "Again"}]
    r = qwen3.post({"model": "m", "messages": history}, path="/v1/messages/count_tokens")
    assert r.status_code == 200 and r.json()["input_tokens"] > 0
    m = qwen3.create({"model": "m", "max_tokens": 8, "messages": history, "grammar": 'root ::= "Hello"'})
    assert m["content"][-1]["text"] == "Hello"
