"""Forced tool use on templates that open reasoning, as the Anthropic API answers it: the
call comes (no thinking unless asked; a template that thinks anyway is bounded), and forced
tool use with thinking enabled is the API's 400."""
from collections.abc import Iterator

import pytest

from .conftest import AnthropicServer
from .test_tools import ASK, TIME, WEATHER


@pytest.fixture(scope="module")
def deepseek_r1(start_server, templates_dir, stream_record) -> Iterator[AnthropicServer]:
    """llama.cpp's DeepSeek-R1 template: its prompt opens <think> whatever the thinking switch
    says, so a forced call comes only after reasoning that the budget ends. (The R1-Distill
    template's forced-call grammar costs this model seconds per token: not used here.)"""
    running = start_server("-np", "1", "-c", "4096", "--chat-template-file",
                           str(templates_dir / "llama-cpp-deepseek-r1.jinja"))
    server = AnthropicServer(running, stream_record)
    yield server
    server.close()


def _body(choice, **extra):
    # DeepSeek's call markers are no tokens of the default model's vocabulary: a call in its
    # syntax takes about 90 of them; reasoning comes before it.
    return {"model": "m", "max_tokens": 160, "temperature": 0, "messages": ASK, "tools": [WEATHER, TIME],
            "tool_choice": choice, **extra}


@pytest.mark.parametrize("fixture", ["qwen3", "deepseek_r1"])
@pytest.mark.parametrize("choice", [{"type": "any", "disable_parallel_tool_use": True},
                                    {"type": "tool", "name": "get_weather"}])
def test_forced_tool_use_comes_on_a_thinking_template(fixture, choice, request):
    server = request.getfixturevalue(fixture)
    for m in (server.create(_body(choice)), server.stream(_body(choice))):
        calls = [b for b in m["content"] if b["type"] == "tool_use"]
        assert len(calls) == 1 and m["stop_reason"] == "tool_use", m
        assert calls[0]["name"] in ("get_weather", "get_time")
        if calls[0]["name"] == "get_weather":
            assert calls[0]["input"]["city"] in ("Paris", "Rome")


@pytest.mark.parametrize("thinking", [{"type": "enabled", "budget_tokens": 64}, {"type": "adaptive"}])
def test_forced_tool_use_with_thinking_enabled_is_the_apis_400(qwen3, thinking):
    r = qwen3.post(_body({"type": "any"}, thinking=thinking))
    assert r.status_code == 400
    assert r.json()["error"] == {"type": "invalid_request_error",
                                 "message": "Thinking may not be enabled when tool_choice forces tool use."}
