"""tool_choice required / named on templates that open reasoning: the reasoning is bounded
so the call still comes inside max_tokens (a small model never leaves <think> by itself)."""
import json

import pytest

from .conftest import WEATHER_TOOL, TIME_TOOL, chat

ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def _one_valid_call(r):
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls", choice
    calls = choice["message"]["tool_calls"]
    assert len(calls) == 1
    args = json.loads(calls[0]["function"]["arguments"])
    assert isinstance(args.get("city", args.get("zone")), str)
    return calls[0]


@pytest.mark.parametrize("fixture", ["qwen3_server",
                                     pytest.param("r1_server", marks=pytest.mark.xfail(strict=False, reason="forced calls on a template that opens <think> itself (DeepSeek-R1): the reasoning budget does not apply and the call never comes (issue 19, open)"))])
def test_required_call_comes_after_bounded_reasoning(fixture, request):
    server = request.getfixturevalue(fixture)
    r = chat(server, messages=ASK, tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="required",
             parallel_tool_calls=False, max_tokens=120, temperature=0)
    _one_valid_call(r)


def test_named_function_is_exactly_one_call_of_it(qwen3_server):
    r = chat(qwen3_server, messages=ASK, tools=[WEATHER_TOOL, TIME_TOOL], max_tokens=160, temperature=0,
             tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert _one_valid_call(r)["function"]["name"] == "get_weather"
