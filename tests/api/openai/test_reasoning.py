import httpx

from .conftest import chat, merge_stream, sdk, stream_chunks

HI = [{"role": "user", "content": "hi"}]
THINK_THEN_ANSWER = 'root ::= "<think>I reason.</think>The answer."'


def test_reasoning_lands_only_in_reasoning_content(qwen3_server):
    whole = chat(qwen3_server, messages=HI, max_tokens=40, temperature=0, grammar=THINK_THEN_ANSWER).json()
    message = whole["choices"][0]["message"]
    assert message["reasoning_content"] == "I reason." and message["content"] == "The answer."
    streamed = merge_stream(list(stream_chunks(qwen3_server, messages=HI, max_tokens=40, temperature=0,
                                               grammar=THINK_THEN_ANSWER)))
    assert streamed["reasoning_content"] == "I reason." and streamed["content"] == "The answer."
    assert streamed["finish_reason"] == "stop"


def test_reasoning_format_none_leaves_reasoning_in_the_content(qwen3_server):
    # llama-server's per-request switch (and --reasoning-format none for the whole server).
    body = {"messages": HI, "max_tokens": 40, "temperature": 0, "grammar": THINK_THEN_ANSWER, "reasoning_format": "none"}
    message = chat(qwen3_server, **body).json()["choices"][0]["message"]
    assert message["content"] == "<think>I reason.</think>The answer." and not message.get("reasoning_content")
    streamed = merge_stream(list(stream_chunks(qwen3_server, **body)))
    assert streamed["content"] == "<think>I reason.</think>The answer." and streamed["reasoning_content"] == ""
    assert chat(qwen3_server, **{**body, "reasoning_format": "sideways"}).status_code == 400


def test_think_tags_never_reach_the_sdk_client(qwen3_server):
    stream = sdk(qwen3_server).chat.completions.create(
        model="m", messages=HI, max_tokens=40, temperature=0, stream=True,
        extra_body={"grammar": THINK_THEN_ANSWER})
    content = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert content == "The answer." and "<think>" not in content


def test_answer_with_only_reasoning_is_a_valid_response(qwen3_server):
    r = chat(qwen3_server, messages=HI, max_tokens=40, temperature=0, grammar='root ::= "<think>Just thoughts.</think>"')
    message = r.json()["choices"][0]["message"]
    assert message["reasoning_content"] == "Just thoughts." and message["content"] == ""


def test_prefill_with_open_think_continues_the_reasoning(qwen3_server):
    messages = [*HI, {"role": "assistant", "content": "<think>I am"}]
    body = {"messages": messages, "max_tokens": 30, "temperature": 0, "grammar": 'root ::= " sure.</think>Done."'}
    message = chat(qwen3_server, **body).json()["choices"][0]["message"]
    assert message["reasoning_content"] == " sure." and message["content"] == "Done."
    streamed = merge_stream(list(stream_chunks(qwen3_server, **body)))
    assert streamed["reasoning_content"] == " sure." and streamed["content"] == "Done."


def test_prefill_with_thinking_on_continues_the_text(qwen3_server):
    messages = [*HI, {"role": "assistant", "content": "The answer is"}]
    prompt = httpx.post(qwen3_server.base_url + "/apply-template", json={"messages": messages}).json()["prompt"]
    assert prompt.endswith("The answer is")
    r = chat(qwen3_server, messages=messages, max_tokens=10, temperature=0, grammar='root ::= " 42."')
    assert r.json()["choices"][0]["message"]["content"] == " 42."


def test_empty_trailing_assistant_is_dropped(qwen3_server):
    plain = httpx.post(qwen3_server.base_url + "/apply-template", json={"messages": HI}).json()["prompt"]
    with_empty = httpx.post(qwen3_server.base_url + "/apply-template",
                            json={"messages": [*HI, {"role": "assistant", "content": ""}]}).json()["prompt"]
    assert with_empty == plain


def test_reasoning_effort_none_and_enable_thinking_false_close_the_think_block(qwen3_server):
    def prompt(**extra):
        return httpx.post(qwen3_server.base_url + "/apply-template", json={"messages": HI, **extra}).json()["prompt"]

    assert "<think>" not in prompt()
    assert prompt(reasoning_effort="none").endswith("<think>\n\n</think>\n\n")
    assert prompt(chat_template_kwargs={"enable_thinking": False}).endswith("<think>\n\n</think>\n\n")


def test_assistant_reasoning_under_either_name_reaches_the_template(qwen3_server):
    for field in ("reasoning_content", "reasoning"):
        messages = [*HI, {"role": "assistant", field: "secret chain", "content": "",
                          "tool_calls": [{"id": "call_1", "type": "function",
                                          "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
        prompt = httpx.post(qwen3_server.base_url + "/apply-template", json={"messages": messages}).json()["prompt"]
        assert "secret chain" in prompt and "sunny" in prompt


def test_props_says_the_template_thinks(qwen3_server):
    props = httpx.get(qwen3_server.base_url + "/props").json()
    assert props["chat_template_caps"]["supports_thinking"] is True and props["thinking"] is True


def test_forced_open_thinking_under_the_reasoning_field_name(r1_server):
    body = {"messages": HI, "temperature": 0, "grammar": 'root ::= "Hmm.</think>Yes."'}
    message = chat(r1_server, **body).json()["choices"][0]["message"]
    assert message["reasoning"].strip() == "Hmm." and message["content"] == "Yes."
    assert "reasoning_content" not in message
    streamed = merge_stream(list(stream_chunks(r1_server, **body)), reasoning_field="reasoning")
    assert streamed["reasoning"].strip() == "Hmm." and streamed["content"] == "Yes."


def test_n_predict_caps_max_tokens(r1_server):
    r = chat(r1_server, messages=HI, max_tokens=500, temperature=1.0, seed=3).json()
    assert r["usage"]["completion_tokens"] <= 24
