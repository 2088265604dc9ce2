"""Tools on a chat template without tool-call syntax (the default model's ChatML fallback):
described in the system prompt, calls in the generic <tool_call> form, forced by a grammar
when required, parsed natively. llama-server drops such tools silently."""
import json

import pytest

import pyllm
from pyllm.chat import render_chat_format

CITY = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
]


def test_template_has_no_tool_syntax(model):
    assert not model.chat_template_caps()["supports_tool_calls"]


def test_tools_are_described_in_the_existing_system_message(model):
    prompt = render_chat_format(model, HISTORY, [CITY]).prompt
    system = prompt.split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\nBe brief.\n\n# Tools")
    assert json.dumps(CITY["function"]["parameters"], separators=(",", ":")) in system
    assert prompt.count("<|im_start|>system") == 1


def test_history_calls_and_results_are_rendered_as_text(model):
    prompt = render_chat_format(model, HISTORY, [CITY]).prompt
    assert ('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "get_weather", "arguments": {"city":"Rome"}}\n</tool_call><|im_end|>') in prompt
    # Results of parallel calls share one user turn.
    assert ("<|im_start|>user\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\nrain\n</tool_response>"
            "<|im_end|>") in prompt


def test_without_a_system_message_one_is_added(model):
    prompt = render_chat_format(model, QUESTION, [CITY]).prompt
    assert prompt.startswith("<|im_start|>system\n# Tools")


def test_tool_choice_none_leaves_the_prompt_alone(model):
    assert render_chat_format(model, QUESTION, [CITY], tool_choice="none").prompt == \
        render_chat_format(model, QUESTION).prompt


def test_auto_is_lazy_required_is_not(model):
    auto = render_chat_format(model, QUESTION, [CITY])
    required = render_chat_format(model, QUESTION, [CITY], tool_choice="required")
    assert auto.grammar_lazy and not required.grammar_lazy
    assert '"<tool_call>\\n"' in auto.grammar


def test_generic_calls_are_parsed_natively(model):
    parser = pyllm.StreamParser(model, QUESTION, [CITY])
    assert parser.family == "generic"
    text = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}\n</tool_call>'
    events = [e for i in range(len(text)) for e in parser.feed(text[i])] + parser.finish()
    msg = pyllm.ParsedMessage.from_events(events)
    assert msg.content.strip() == "Let me check."
    assert [(c["name"], json.loads(c["arguments"])) for c in msg.tool_calls] == [("get_weather", {"city": "Paris", "days": 2})]


def test_undeclared_tool_is_not_a_call(model):
    parser = pyllm.StreamParser(model, QUESTION, [CITY])
    text = '<tool_call>\n{"name": "rm_rf", "arguments": {}}\n</tool_call>'
    msg = pyllm.ParsedMessage.from_events(parser.feed(text) + parser.finish())
    assert msg.tool_calls == [] and "rm_rf" in msg.content


@pytest.mark.parametrize("parallel", [False, True])
def test_required_call_is_forced_from_the_first_token(engine, parallel):
    events = list(engine.chat(QUESTION, tools=[CITY], tool_choice="required", parallel_tool_calls=parallel,
                              max_tokens=120, temperature=0.8, seed=5))
    assert events[1]["type"] == "tool_call_start" and events[1]["name"] == "get_weather"
    end = next(i for i, e in enumerate(events) if e["type"] == "tool_call_end")
    args = json.loads("".join(e["text"] for e in events[2:end]))
    assert args["city"] in ("Paris", "Rome") and isinstance(args.get("days", 0), int)
    if not parallel:
        assert events[end + 1:] == [events[-1]] and events[-1]["finish_reason"] == "stop"


def test_unsupported_tool_schema_is_a_request_error(model):
    bad = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"$ref": "#/definitions/missing"}}}}}
    with pytest.raises(pyllm.InvalidRequestError, match="tool 'f'"):
        render_chat_format(model, QUESTION, [bad], tool_choice="required")
