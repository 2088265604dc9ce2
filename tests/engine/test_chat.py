"""Engine.chat: the template renders the prompt, the native parser splits the output."""
import json
from pathlib import Path

import pytest

import pyllm

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def qwen3_engine(default_model_path: Path, llama_cpp_dir: Path):
    template = (llama_cpp_dir / "models/templates/Qwen-Qwen3-0.6B.jinja").read_text()
    model = pyllm.Model(default_model_path, chat_template=template)
    with pyllm.Engine(model, n_parallel=2, n_ctx=4096) as engine:
        yield engine


def collect(events):
    out = {"reasoning": "", "content": "", "calls": [], "types": []}
    for e in events:
        out["types"].append(e["type"])
        if e["type"] in ("reasoning", "content"):
            out[e["type"]] += e["text"]
        elif e["type"] == "tool_call_start":
            out["calls"].append({"id": e["id"], "name": e["name"], "arguments": ""})
        elif e["type"] == "tool_args":
            out["calls"][e["index"]]["arguments"] += e["text"]
        elif e["type"] == "finish":
            out["finish"] = e
    return out


def test_reasoning_and_content_are_split(qwen3_engine):
    grammar = 'root ::= "<think>\\nTwo and two make four.\\n</think>\\n\\nIt is 4."'
    out = collect(qwen3_engine.chat([{"role": "user", "content": "2+2?"}], grammar=grammar, max_tokens=64))
    assert out["reasoning"].strip() == "Two and two make four."
    assert out["content"] == "It is 4."
    assert out["types"][0] == "start" and out["types"][-1] == "finish"
    assert out["finish"]["finish_reason"] == "stop"


def test_required_tool_choice_forces_a_call_first(qwen3_engine):
    events = qwen3_engine.chat(QUESTION, tools=[WEATHER], tool_choice="required", enable_thinking=False,
                               max_tokens=60, temperature=0.9, seed=11)
    out = collect(events)
    assert out["content"].strip() == ""
    assert [c["name"] for c in out["calls"]][:1] == ["get_weather"]
    assert isinstance(json.loads(out["calls"][0]["arguments"])["city"], str)


def test_single_forced_call_ends_generation(qwen3_engine):
    out = collect(qwen3_engine.chat(QUESTION, [WEATHER], tool_choice="required", parallel_tool_calls=False,
                                    enable_thinking=False, max_tokens=200, temperature=0))
    assert len(out["calls"]) == 1
    assert out["finish"]["finish_reason"] == "stop"


def test_prefill_is_continued(qwen3_engine):
    messages = [*QUESTION, {"role": "assistant", "content": "The weather in Paris is"}]
    fmt = pyllm.chat.render_chat_format(qwen3_engine.model, messages, enable_thinking=False)
    assert fmt.prompt.endswith("The weather in Paris is")
    out = collect(qwen3_engine.chat(messages, enable_thinking=False, grammar='root ::= " sunny."', max_tokens=8))
    assert out["content"] == " sunny."


def test_empty_trailing_assistant_message_is_dropped(qwen3_engine):
    with_empty = pyllm.chat.render_chat_format(qwen3_engine.model, [*QUESTION, {"role": "assistant", "content": ""}])
    without = pyllm.chat.render_chat_format(qwen3_engine.model, QUESTION)
    assert with_empty.prompt == without.prompt
