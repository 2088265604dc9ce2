import json

import pytest

from pyllm import _core
from pyllm.chat import render_chat_format
from pyllm.model import Model

from .conftest import TIME_TOOL, WEATHER_TOOL, chat, merge_stream, sdk, stream_chunks

ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [WEATHER_TOOL, TIME_TOOL]


def _assert_valid_call(name, arguments, expected_name=None):
    tool = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    assert name in tool and (expected_name is None or name == expected_name)
    args = json.loads(arguments)
    assert set(args) >= set(tool[name]["required"])
    assert all(isinstance(args[k], str) for k in tool[name]["required"])


@pytest.fixture(params=["qwen3-template", "template-without-tools"])
def tool_server(request):
    """A template with its own tool-call syntax, and the default ChatML fallback, which has
    none: its tools are described in the system prompt and calls use a generic form."""
    return request.getfixturevalue("qwen3_server" if request.param == "qwen3-template" else "server")


@pytest.mark.parametrize("tool_choice", ["required", {"type": "function", "function": {"name": "get_time"}}])
def test_forced_call_is_valid_non_stream(tool_server, tool_choice):
    r = chat(tool_server, messages=ASK, tools=TOOLS, tool_choice=tool_choice, parallel_tool_calls=False,
             max_tokens=80, temperature=0).json()
    choice = r["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and call["type"] == "function"
    expected = tool_choice["function"]["name"] if isinstance(tool_choice, dict) else None
    _assert_valid_call(call["function"]["name"], call["function"]["arguments"], expected)


@pytest.mark.parametrize("tool_choice", ["required", {"type": "function", "function": {"name": "get_time"}}])
def test_forced_call_is_valid_stream_name_sent_once(tool_server, tool_choice):
    chunks = list(stream_chunks(tool_server, messages=ASK, tools=TOOLS, tool_choice=tool_choice,
                                parallel_tool_calls=False, max_tokens=80, temperature=0))
    message = merge_stream(chunks)
    assert message["finish_reason"] == "tool_calls" and message["content"] == ""
    (call,) = message["tool_calls"].values()
    assert len(call["names"]) == 1 and len(call["ids"]) == 1 and call["ids"][0].startswith("call_")
    expected = tool_choice["function"]["name"] if isinstance(tool_choice, dict) else None
    _assert_valid_call(call["names"][0], call["arguments"], expected)
    first = next(c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("tool_calls"))
    assert first["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] == ""


def test_sdk_parses_a_forced_call(tool_server):
    r = sdk(tool_server).chat.completions.create(model="m", messages=ASK, tools=TOOLS, tool_choice="required",
                                                  parallel_tool_calls=False, max_tokens=80, temperature=0)
    call = r.choices[0].message.tool_calls[0]
    _assert_valid_call(call.function.name, call.function.arguments)


def test_truncated_call_finishes_with_length_not_tool_calls(tool_server):
    r = chat(tool_server, messages=ASK, tools=TOOLS, tool_choice="required", max_tokens=6, temperature=0).json()
    assert r["choices"][0]["finish_reason"] == "length"
    message = merge_stream(list(stream_chunks(tool_server, messages=ASK, tools=TOOLS, tool_choice="required",
                                              max_tokens=6, temperature=0)))
    assert message["finish_reason"] == "length"


def test_tool_choice_none_yields_no_call(tool_server):
    r = chat(tool_server, messages=ASK, tools=TOOLS, tool_choice="none", max_tokens=10, temperature=0,
             ).json()
    assert "tool_calls" not in r["choices"][0]["message"] and r["choices"][0]["finish_reason"] != "tool_calls"


@pytest.fixture(scope="module")
def qwen3_model(templates_dir):
    import pyllm

    return Model(str(pyllm.default_model_path()), chat_template=(templates_dir / "Qwen-Qwen3-0.6B.jinja").read_text())


PARALLEL_OUTPUT = ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
                   '<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>')


def _replay(model, pieces, stream=True, finish="stop"):
    fmt = render_chat_format(model, ASK, TOOLS)
    spec = _core.OutputSpec(protocol=_core.Protocol.openai_chat, id="chatcmpl-x", created=1, model="m", stream=stream,
                            include_usage=True)
    processor = _core.output_processor(spec, fmt)
    payloads, _ = _core.replay_processor(processor, pieces, finish)
    if not stream:
        return [json.loads(p) for p in payloads]
    assert payloads[-1] == "data: [DONE]\n\n"
    assert all(p.startswith("data: {") and p.endswith("\n\n") for p in payloads[:-1])
    return [json.loads(p[6:]) for p in payloads[:-1]]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_parallel_calls_get_distinct_indices_at_every_chunking(qwen3_model, size):
    pieces = [PARALLEL_OUTPUT[i:i + size] for i in range(0, len(PARALLEL_OUTPUT), size)]
    message = merge_stream(_replay(qwen3_model, pieces))
    assert message["finish_reason"] == "tool_calls"
    assert sorted(message["tool_calls"]) == [0, 1]
    for index, (name, args) in enumerate([("get_weather", {"city": "Paris"}), ("get_time", {"zone": "CET"})]):
        call = message["tool_calls"][index]
        assert call["names"] == [name] and len(call["ids"]) == 1
        assert json.loads(call["arguments"]) == args
    ids = [c["ids"][0] for c in message["tool_calls"].values()]
    assert len(set(ids)) == 2


def test_parallel_calls_non_stream_message(qwen3_model):
    (completion,) = _replay(qwen3_model, [PARALLEL_OUTPUT], stream=False)
    calls = completion["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert completion["choices"][0]["finish_reason"] == "tool_calls"


def test_invalid_utf8_and_control_characters_still_make_valid_json(qwen3_model):
    chunks = _replay(qwen3_model, ["a\x01\"\\\n", b"\xff", "é"])
    assert merge_stream(chunks)["content"] == "a\x01\"\\\n\ufffdé"


def test_mid_stream_error_is_an_error_payload(qwen3_model):
    chunks = _replay(qwen3_model, ["partial"], finish="error")
    assert chunks[-1]["error"]["message"] == "replayed error"
