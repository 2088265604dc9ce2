"""tool_choice required / named on templates that open reasoning: the reasoning is bounded
so the call still comes inside max_tokens (a small model never leaves <think> by itself),
also on a template whose prompt opens <think> itself (DeepSeek-R1)."""
import json

import pytest

from .conftest import WEATHER_TOOL, TIME_TOOL, chat

ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def r1_forced_server(start_server, templates_dir):
    """DeepSeek-R1's template with no server cap on the output: its call syntax alone takes
    about 50 of this model's tokens."""
    return start_server("-np", "1", "-c", "4096", "--chat-template-file",
                        str(templates_dir / "llama-cpp-deepseek-r1.jinja"), "--reasoning-field", "reasoning")


def _one_valid_call(r):
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls", choice
    calls = choice["message"]["tool_calls"]
    assert len(calls) == 1
    args = json.loads(calls[0]["function"]["arguments"])
    assert isinstance(args.get("city", args.get("zone")), str)
    return calls[0]


@pytest.mark.parametrize("fixture", ["qwen3_server", "r1_forced_server"])
def test_required_call_comes_after_bounded_reasoning(fixture, request):
    server = request.getfixturevalue(fixture)
    r = chat(server, messages=ASK, tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="required",
             parallel_tool_calls=False, max_tokens=120, temperature=0)
    _one_valid_call(r)


def test_named_function_is_exactly_one_call_of_it(qwen3_server):
    r = chat(qwen3_server, messages=ASK, tools=[WEATHER_TOOL, TIME_TOOL], max_tokens=160, temperature=0,
             tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert _one_valid_call(r)["function"]["name"] == "get_weather"
