"""Tool search (`defer_loading`, `tool_reference`): deferred tools stay out of the rendered
prompt until a search result names them, so a client with many tools sends a short prompt.
Claude Code searches on its side (its ToolSearch tool answers with tool_reference blocks);
Anthropic's own search tools answer in a tool_search_tool_result block."""
import pytest

ALWAYS = {"name": "read_file", "description": "Read a file",
          "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}
SEARCH = {"name": "tool_search", "description": "Find deferred tools",
          "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}


def _deferred(i, deferred=True):
    tool = {"name": f"service_{i:02d}", "description": f"Operate service number {i} of the fleet",
            "input_schema": {"type": "object", "properties": {"action": {"type": "string", "enum": ["start", "stop"]}},
                             "required": ["action"]}}
    return {**tool, "defer_loading": True} if deferred else tool


FIFTY = [_deferred(i) for i in range(50)]
ASK = [{"role": "user", "content": "Stop service 7."}]


def _count(server, body):
    r = server.post({"model": "m", **body}, path="/v1/messages/count_tokens")
    assert r.status_code == 200, r.text
    return r.json()["input_tokens"]


def _searched(references, result_block="tool_result"):
    """The conversation after a search whose result names ``references``."""
    call = {"type": "tool_use", "id": "toolu_1", "name": "tool_search", "input": {"query": "service 7"}}
    refs = [{"type": "tool_reference", "tool_name": name} for name in references]
    if result_block == "tool_result":
        return [*ASK, {"role": "assistant", "content": [call]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": refs}]}]
    server_call = {**call, "type": "server_tool_use", "id": "srvtoolu_1", "name": "tool_search_tool_regex",
                   "input": {"pattern": "service_07"}}
    result = {"type": "tool_search_tool_result", "tool_use_id": "srvtoolu_1",
              "content": {"type": "tool_search_tool_search_result", "tool_references": refs}}
    return [*ASK, {"role": "assistant", "content": [server_call, result]}]


def test_fifty_deferred_tools_stay_out_of_the_prompt(qwen3):
    with_deferred = _count(qwen3, {"messages": ASK, "tools": [ALWAYS, SEARCH, *FIFTY]})
    without = _count(qwen3, {"messages": ASK, "tools": [ALWAYS, SEARCH]})
    everything = _count(qwen3, {"messages": ASK, "tools": [ALWAYS, SEARCH, *[_deferred(i, False) for i in range(50)]]})
    assert with_deferred == without
    assert everything > without + 50 * 20


def test_a_tool_reference_in_a_tool_result_brings_that_tool_into_the_next_turn(qwen3):
    messages = _searched(["service_07"])
    loaded = _count(qwen3, {"messages": messages, "tools": [ALWAYS, SEARCH, *FIFTY]})
    as_if_declared = _count(qwen3, {"messages": messages,
                                    "tools": [ALWAYS, SEARCH, *FIFTY[:7], _deferred(7, False), *FIFTY[8:]]})
    nothing_loaded = _count(qwen3, {"messages": _searched([]), "tools": [ALWAYS, SEARCH, *FIFTY]})
    assert loaded == as_if_declared
    assert loaded > nothing_loaded


def test_the_search_tools_result_block_brings_the_referenced_tools_in(qwen3):
    regex_tool = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
    before = _count(qwen3, {"messages": ASK, "tools": [regex_tool, ALWAYS, *FIFTY]})
    after = _count(qwen3, {"messages": _searched(["service_07", "service_17"], "tool_search_tool_result"),
                           "tools": [regex_tool, ALWAYS, *FIFTY]})
    assert after > before + 2 * 20
    m = qwen3.create({"model": "m", "max_tokens": 40, "temperature": 0, "thinking": {"type": "disabled"},
                      "messages": _searched(["service_07"], "tool_search_tool_result"),
                      "tools": [regex_tool, ALWAYS, *FIFTY],
                      "tool_choice": {"type": "tool", "name": "service_07"}})
    assert [b["name"] for b in m["content"] if b["type"] == "tool_use"] == ["service_07"]


@pytest.mark.parametrize("tools, messages, wording", [
    ([_deferred(1), _deferred(2)], ASK, "at least one tool must be non-deferred"),
    ([ALWAYS, *FIFTY], _searched(["no_such_tool"]), "no tool named 'no_such_tool'"),
])
def test_tool_search_mistakes_are_400s(qwen3, tools, messages, wording):
    r = qwen3.post({"model": "m", "max_tokens": 8, "messages": messages, "tools": tools})
    assert r.status_code == 400 and wording in r.json()["error"]["message"]


def test_the_regex_search_tool_runs_on_the_server_and_pauses_the_turn(qwen3):
    regex_tool = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
    body = {"model": "m", "max_tokens": 60, "temperature": 0, "thinking": {"type": "disabled"}, "messages": ASK,
            "tools": [regex_tool, ALWAYS, *FIFTY], "tool_choice": {"type": "tool", "name": "tool_search_tool_regex"}}
    for m in (qwen3.create(body), qwen3.stream(body)):
        assert [b["type"] for b in m["content"]] == ["server_tool_use", "tool_search_tool_result"], m
        call, result = m["content"]
        assert call["name"] == "tool_search_tool_regex" and isinstance(call["input"].get("pattern"), str)
        assert result["tool_use_id"] == call["id"] and m["stop_reason"] == "pause_turn"
    content = result["content"]
    names = [r["tool_name"] for r in content.get("tool_references", [])]
    assert set(names) <= {t["name"] for t in FIFTY} and len(names) <= 5
    # The client sends the paused turn back as it came; the found tools are loaded.
    resumed = _count(qwen3, {"messages": [*ASK, {"role": "assistant", "content": m["content"]}],
                             "tools": [regex_tool, ALWAYS, *FIFTY]})
    nothing = _count(qwen3, {"messages": _searched([], "tool_search_tool_result"),
                             "tools": [regex_tool, ALWAYS, *FIFTY]})
    assert resumed > nothing + 20 * len(names) - 10
