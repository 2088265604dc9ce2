import httpx
import openai
import pytest

from .conftest import WEATHER_TOOL, sdk

OK = [{"role": "user", "content": "hi"}]
CHAT = "/v1/chat/completions"

MALFORMED = {
    "bad_json": (CHAT, b'{"messages": [', 400),
    "body_not_an_object": (CHAT, [1, 2], 400),
    "missing_messages": (CHAT, {"model": "m"}, 400),
    "empty_messages": (CHAT, {"messages": []}, 400),
    "messages_not_a_list": (CHAT, {"messages": "hi"}, 400),
    "message_not_an_object": (CHAT, {"messages": ["hi"]}, 400),
    "unknown_role": (CHAT, {"messages": [{"role": "wizard", "content": "hi"}]}, 400),
    "role_not_a_string": (CHAT, {"messages": [{"role": [], "content": "hi"}]}, 400),
    "role_not_a_string_in_apply_template": ("/apply-template", {"messages": [{"role": {}, "content": "hi"}]}, 400),
    "user_without_content": (CHAT, {"messages": [{"role": "user"}]}, 400),
    "content_wrong_type": (CHAT, {"messages": [{"role": "user", "content": 5}]}, 400),
    "image_part_on_text_model": (CHAT, {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:,"}}]}]}, 400),
    "negative_max_tokens": (CHAT, {"messages": OK, "max_tokens": -5}, 400),
    "max_tokens_string": (CHAT, {"messages": OK, "max_tokens": "10"}, 400),
    "temperature_out_of_range": (CHAT, {"messages": OK, "temperature": 5}, 400),
    "temperature_not_number": (CHAT, {"messages": OK, "temperature": "hot"}, 400),
    "top_p_out_of_range": (CHAT, {"messages": OK, "top_p": 2}, 400),
    "n_above_one": (CHAT, {"messages": OK, "n": 2}, 400),
    "stop_wrong_type": (CHAT, {"messages": OK, "stop": 7}, 400),
    "stream_not_bool": (CHAT, {"messages": OK, "stream": "yes"}, 400),
    "seed_float": (CHAT, {"messages": OK, "seed": 1.5}, 400),
    "model_not_string": (CHAT, {"messages": OK, "model": 3}, 400),
    "tools_not_list": (CHAT, {"messages": OK, "tools": {"a": 1}}, 400),
    "tool_without_function": (CHAT, {"messages": OK, "tools": [{"type": "function"}]}, 400),
    "tool_bad_name": (CHAT, {"messages": OK, "tools": [{"type": "function", "function": {"name": "a b"}}]}, 400),
    "tool_schema_not_object": (CHAT, {"messages": OK, "tools": [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}]}, 400),
    "tool_schema_properties_not_object": (CHAT, {"messages": OK, "tools": [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": []}}}]}, 400),
    "tool_choice_unknown": (CHAT, {"messages": OK, "tools": [WEATHER_TOOL], "tool_choice": "always"}, 400),
    "tool_choice_names_missing_tool": (CHAT, {"messages": OK, "tools": [WEATHER_TOOL],
                                              "tool_choice": {"type": "function", "function": {"name": "nope"}}}, 400),
    "tool_choice_required_without_tools": (CHAT, {"messages": OK, "tool_choice": "required"}, 400),
    "response_format_unknown": (CHAT, {"messages": OK, "response_format": {"type": "yaml"}}, 400),
    "json_schema_not_object": (CHAT, {"messages": OK, "response_format": {"type": "json_schema",
                                                                          "json_schema": "x"}}, 400),
    "logit_bias_bad_key": (CHAT, {"messages": OK, "logit_bias": {"abc": 1}}, 400),
    "logit_bias_out_of_vocab": (CHAT, {"messages": OK, "logit_bias": {"99999999": 1}}, 400),
    "top_logprobs_without_logprobs": (CHAT, {"messages": OK, "top_logprobs": 3}, 400),
    "reasoning_effort_unknown": (CHAT, {"messages": OK, "reasoning_effort": "extreme"}, 400),
    "template_kwargs_not_object": (CHAT, {"messages": OK, "chat_template_kwargs": [1]}, 400),
    "tool_call_arguments_not_json": (CHAT, {"messages": [*OK, {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{nope"}}]}]}, 400),
    "grammar_with_json_schema": (CHAT, {"messages": OK, "grammar": 'root ::= "a"',
                                        "response_format": {"type": "json_object"}}, 400),
    "invalid_grammar": (CHAT, {"messages": OK, "grammar": "root ::= ("}, 400),
    "oversize_prompt": (CHAT, {"messages": [{"role": "user", "content": "word " * 5000}]}, 400),
    "completions_bad_prompt": ("/v1/completions", {"prompt": {"a": 1}}, 400),
    "completions_token_out_of_vocab": ("/v1/completions", {"prompt": [1, 99999999]}, 400),
    "detokenize_bad_tokens": ("/detokenize", {"tokens": ["a"]}, 400),
    "detokenize_out_of_vocab": ("/detokenize", {"tokens": [-1]}, 400),
    "tokenize_without_content": ("/tokenize", {}, 400),
    "apply_template_without_messages": ("/apply-template", {}, 400),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_request_is_4xx_in_openai_shape(server, name):
    path, body, status = MALFORMED[name]
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
    r = httpx.post(server.base_url + path, timeout=60, headers={"content-type": "application/json"}, **kwargs)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and error["type"] == "invalid_request_error"


def test_server_keeps_serving_after_malformed_requests(server):
    for path, body, _ in MALFORMED.values():
        kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
        httpx.post(server.base_url + path, timeout=60, **kwargs)
    r = httpx.post(server.base_url + CHAT, json={"messages": OK, "max_tokens": 2}, timeout=60)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["role"] == "assistant"


def test_context_overflow_uses_the_wording_clients_match(server):
    r = httpx.post(server.base_url + CHAT, json={"messages": [{"role": "user", "content": "word " * 5000}]})
    error = r.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["message"].startswith("prompt is too long: ")


def test_sdk_raises_bad_request_with_the_param(server):
    with pytest.raises(openai.BadRequestError) as e:
        sdk(server).chat.completions.create(model="m", messages=OK, max_tokens=-1)
    assert e.value.body["param"] == "max_tokens"


def test_wrong_method_is_405_in_openai_shape(server):
    r = httpx.get(server.base_url + CHAT)
    assert r.status_code == 405 and r.json()["error"]["message"]
