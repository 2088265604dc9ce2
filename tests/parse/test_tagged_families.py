"""The tagged-argument and Kimi-K2 families against llama.cpp's own parser, token by token.

Qwen3-Coder / Qwen3.5 / Nemotron-3 (<function=...><parameter=...>), GLM-4.5..4.7
(<arg_key>/<arg_value>), MiniMax-M2 (<invoke>/<parameter name=...>), DeepSeek V3.2 / V4 DSML
(<｜DSML｜invoke name=...><｜DSML｜parameter name=... string=...>) and Kimi-K2
(<|tool_call_begin|>functions.NAME:N...). Each output is written the way the template renders
an assistant turn, tokenized with a vocab-only tokenizer and fed one token at a time (see
conftest.check_against_reference). No GGUF ships with these models' own tokenizers: Qwen3.5
uses its own, the others the Qwen2 one, which splits their special tokens into several pieces
(a harder case for marker hold-back, not an easier one).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from pyllm import ParsedMessage

TYPED = {
    "type": "function",
    "function": {
        "name": "set_alarm",
        "description": "Set an alarm",
        "parameters": {
            "type": "object",
            "properties": {
                "hour": {"type": "integer"},
                "ratio": {"type": "number"},
                "loud": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "meta": {"type": "object"},
                "label": {"type": "string"},
            },
            "required": ["hour"],
        },
    },
}

Args = list[tuple[str, str]]  # (key, value as written in the tag)


@dataclass(frozen=True)
class Family:
    name: str  # what StreamParser.family reports
    templates: dict[str, str]  # template -> vocab
    thinking: dict[str, str]  # template -> how its reasoning opens ("forced": the prompt opened it)
    call: Callable[[str, Args], str]
    calls: Callable[[list[str]], str]  # joins calls as the model writes several


def qwen_call(name: str, args: Args) -> str:
    body = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in args)
    return f"<tool_call>\n<function={name}>\n{body}</function>\n</tool_call>"


def glm46_call(name: str, args: Args) -> str:
    body = "".join(f"<arg_key>{k}</arg_key>\n<arg_value>{v}</arg_value>\n" for k, v in args)
    return f"<tool_call>{name}\n{body}</tool_call>"


def glm47_call(name: str, args: Args) -> str:
    body = "".join(f"<arg_key>{k}</arg_key><arg_value>{v}</arg_value>" for k, v in args)
    return f"<tool_call>{name}{body}</tool_call>"


def minimax_invoke(name: str, args: Args) -> str:
    body = "".join(f'<parameter name="{k}">{v}</parameter>\n' for k, v in args)
    return f'<invoke name="{name}">\n{body}</invoke>\n'


def minimax_section(invokes: list[str]) -> str:
    # llama.cpp's parser for this template reads invokes separated by ", " (see
    # test_minimax_invokes_on_new_lines_are_all_calls for the template's own newline form).
    return "<minimax:tool_call>\n" + ", ".join(invokes) + "</minimax:tool_call>"


def kimi_call(name: str, args: Args) -> str:
    obj = "{" + ", ".join(f"{json.dumps(k)}: {v if not v.startswith('!') else json.dumps(v[1:])}" for k, v in args) + "}"
    return f"<|tool_call_begin|>functions.{name}:{{i}}<|tool_call_argument_begin|>{obj}<|tool_call_end|>"


def kimi_section(calls: list[str]) -> str:
    return "<|tool_calls_section_begin|>" + "".join(c.replace("{i}", str(i)) for i, c in enumerate(calls)) + (
        "<|tool_calls_section_end|>"
    )


# DeepSeek DSML writes each parameter's type in its tag: string="true" for the schema's strings.
DSML_STRING_KEYS = {"city", "label"}


def dsml_invoke(name: str, args: Args) -> str:
    body = "".join(
        f'<｜DSML｜parameter name="{k}" string="{"true" if k in DSML_STRING_KEYS else "false"}">{v}</｜DSML｜parameter>\n'
        for k, v in args
    )
    return f'<｜DSML｜invoke name="{name}">\n{body}</｜DSML｜invoke>\n'


def dsml_block(block: str) -> Callable[[list[str]], str]:
    return lambda invokes: f"\n\n<｜DSML｜{block}>\n" + "".join(invokes) + f"</｜DSML｜{block}>"


QWEN2 = "ggml-vocab-qwen2.gguf"
FAMILIES = [
    Family(
        "qwen3-coder",
        {"Qwen3-Coder.jinja": QWEN2, "Qwen3.5-4B.jinja": "ggml-vocab-qwen35.gguf",
         "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja": QWEN2},
        {"Qwen3.5-4B.jinja": "forced", "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja": "forced"},
        qwen_call,
        "\n".join,
    ),
    Family("glm", {"GLM-4.6.jinja": QWEN2}, {"GLM-4.6.jinja": "tag"}, glm46_call, "\n".join),
    Family("glm", {"GLM-4.7-Flash.jinja": QWEN2}, {"GLM-4.7-Flash.jinja": "forced"}, glm47_call, "".join),
    Family("minimax-m2", {"MiniMax-M2.jinja": QWEN2}, {"MiniMax-M2.jinja": "forced"}, minimax_invoke, minimax_section),
    Family("dsml", {"deepseek-ai-DeepSeek-V3.2.jinja": QWEN2}, {"deepseek-ai-DeepSeek-V3.2.jinja": "forced"},
           dsml_invoke, dsml_block("function_calls")),
    Family("dsml", {"deepseek-ai-DeepSeek-V4.jinja": QWEN2}, {"deepseek-ai-DeepSeek-V4.jinja": "forced"},
           dsml_invoke, dsml_block("tool_calls")),
    Family(
        "kimi-k2",
        {"Kimi-K2-Instruct.jinja": QWEN2, "Kimi-K2-Thinking.jinja": QWEN2, "moonshotai-Kimi-K2.jinja": QWEN2},
        {"Kimi-K2-Thinking.jinja": "tag"},
        kimi_call,
        kimi_section,
    ),
]
TEMPLATES = {t: f for f in FAMILIES for t in f.templates}


def think(template: str, reasoning: str) -> str:
    """A reasoning block as the template's model writes it (empty: the prompt opened one)."""
    mode = TEMPLATES[template].thinking.get(template)
    if mode == "forced":
        end = "</think>" if "GLM" in template else "\n</think>\n\n"
        return reasoning + end
    if mode == "tag":
        return f"<think>{reasoning}</think>" + ("\n" if "GLM" in template else "")
    return ""


def one(template: str, name: str, args: Args) -> str:
    family = TEMPLATES[template]
    return family.calls([family.call(name, args)])


PARIS: Args = [("city", "Paris"), ("days", "3")]
UNICODE: Args = [("city", 'Zürich "Süd"\n\\ 東京 🙂\ttab \x01')]
KIMI_ARGS = {  # Kimi's arguments are a JSON object, not tags
    "PARIS": [("city", "!Paris"), ("days", "3")],
    "UNICODE": [("city", '!Zürich "Süd"\n\\ 東京 🙂\ttab \x01')],
}


def args_for(template: str, which: str) -> Args:
    if TEMPLATES[template].name == "kimi-k2":
        return KIMI_ARGS[which]
    return {"PARIS": PARIS, "UNICODE": UNICODE}[which]


def corpus(template: str) -> dict[str, str]:
    family = TEMPLATES[template]
    paris = family.call("get_weather", args_for(template, "PARIS"))
    empty = family.call("get_time", [])
    uni = family.call("get_weather", args_for(template, "UNICODE"))
    one_call = family.calls([paris])
    cases = {
        "content-only": think(template, "") + "The weather is sunny.",
        "one-call": think(template, "I need the tool.") + one_call,
        "content-then-call": think(template, "") + "Checking.\n" + one_call,
        "three-calls": think(template, "Three.") + family.calls([paris, empty, uni]),
        "empty-args-call": think(template, "") + family.calls([empty]),
        "unicode-and-escapes": think(template, 'Ä "quote" \\ 日本語 🙂') + "Résumé: ✓ \\n \"ok\"\n" + family.calls([uni]),
        "truncated-in-arguments": think(template, "x") + one_call[: one_call.index("Paris") + 3],
        "truncated-in-call-header": think(template, "x") + one_call[: one_call.index("weather") + 2],
        "truncated-in-typed-value": think(template, "x") + one_call[: one_call.index("3") + 1],
    }
    if template in family.thinking:
        cases["reasoning-only"] = think(template, "The user wants weather.")
        cases["reasoning-and-content"] = think(template, "Let me think.") + "It is sunny in Paris."
        # Text that looks like the family's markers, inside reasoning (not the markers that
        # end reasoning early: Qwen3.5 and Kimi end it at a tool call's start, as llama.cpp does).
        inner = "<parameter=city> </function> <arg_key> <invoke name=\"x\"> <|tool_call_end|> <think> </thi"
        cases["marker-like-in-reasoning"] = think(template, "Should I write " + inner + "? Not yet.") + "Done."
        cases["truncated-in-reasoning"] = (
            "Still thinking about the wea" if family.thinking[template] == "forced" else "<think>Still thinking about"
        )
    return cases


ORACLE_CASES = [(t, c) for t in TEMPLATES for c in corpus(t)]


@pytest.mark.parametrize(("template", "case"), ORACLE_CASES, ids=[f"{t}-{c}" for t, c in ORACLE_CASES])
def test_family_matches_reference_token_by_token(kit: Any, template: str, case: str) -> None:
    family = TEMPLATES[template]
    kit.check_against_reference(template, corpus(template)[case], family.name, vocab=family.templates[template])


TYPED_ARGS: Args = [
    ("hour", "7"),
    ("ratio", "-1.5e3"),
    ("loud", "true"),
    ("tags", '["a", "b c"]'),
    ("meta", '{"k": [1, {"x": null}]}'),
    ("label", "42"),  # a string argument that looks like a number stays a string
]


@pytest.mark.parametrize("template", [t for t in TEMPLATES if TEMPLATES[t].name != "kimi-k2"])
def test_values_are_typed_by_the_schema_like_the_reference(kit: Any, template: str) -> None:
    family = TEMPLATES[template]
    text = think(template, "") + one(template, "set_alarm", TYPED_ARGS)
    kit.check_against_reference(template, text, family.name, vocab=family.templates[template], tools=[TYPED])


def parser_for(kit: Any, template: str, tools: list[dict[str, Any]] | None = None) -> Any:
    from pyllm import StreamParser

    family = TEMPLATES[template]
    model = kit.vocab_model(template, family.templates[template])
    return StreamParser(model, [{"role": "user", "content": "hi"}], tools or kit.TOOLS)


@pytest.mark.parametrize("template", [t for t in TEMPLATES if TEMPLATES[t].name != "kimi-k2"])
def test_ints_are_not_streamed_as_strings_in_tagged_formats(kit: Any, template: str) -> None:
    parser = parser_for(kit, template, [TYPED])
    msg, _ = kit.run(parser, list(think(template, "") + one(template, "set_alarm", [("hour", "7"), ("label", "7")])))
    assert json.loads(msg.tool_calls[0]["arguments"]) == {"hour": 7, "label": "7"}


@pytest.mark.parametrize("template", [t for t in TEMPLATES if TEMPLATES[t].name != "kimi-k2"])
def test_xml_argument_values_stream_before_their_closing_tag(kit: Any, template: str) -> None:
    """A long value arrives as it is generated, escaped, not buffered to its closing tag."""
    parser = parser_for(kit, template)
    text = think(template, "") + one(template, "get_weather", [("city", "Par\"is and more")])
    head = text[: text.index("Par")]
    events = parser.feed(head)
    events += (first := parser.feed("Par\"is"))
    assert [e.text for e in first if e.kind == "tool_args"] == ['Par\\"is']
    events += (second := parser.feed(" and more"))
    assert [e.text for e in second if e.kind == "tool_args"] == [" and more"]
    events += parser.feed(text[len(head) + len("Par\"is and more") :]) + parser.finish()
    msg = ParsedMessage.from_events(events)
    assert json.loads(msg.tool_calls[0]["arguments"]) == {"city": 'Par"is and more'} and msg.ended_calls == {0}


def test_kimi_arguments_stream_before_the_call_ends(kit: Any) -> None:
    parser = parser_for(kit, "Kimi-K2-Thinking.jinja")
    parser.feed("<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>")
    assert [e.text for e in parser.feed('{"city": "Pa') if e.kind == "tool_args"] == ['{"city": "Pa']


def test_kimi_keeps_the_models_call_ids(kit: Any) -> None:
    text = corpus("Kimi-K2-Thinking.jinja")["three-calls"]
    msg, _ = kit.run(parser_for(kit, "Kimi-K2-Thinking.jinja"), kit.token_pieces(kit.vocab_model(
        "Kimi-K2-Thinking.jinja", QWEN2), text))
    assert [c["id"] for c in msg.tool_calls] == ["functions.get_weather:0", "functions.get_time:1",
                                                 "functions.get_weather:2"]


def test_minimax_invokes_on_new_lines_are_all_calls(kit: Any) -> None:
    # The template writes one invoke per line; llama.cpp's parser for it only reads invokes
    # separated by ", " and drops the whole message otherwise. Ours reads both.
    invokes = [minimax_invoke("get_weather", PARIS), minimax_invoke("get_time", [])]
    text = "hm\n</think>\n\nOK\n<minimax:tool_call>\n" + "".join(invokes) + "</minimax:tool_call>"
    msg, _ = kit.run(parser_for(kit, "MiniMax-M2.jinja"), list(text))
    assert (msg.reasoning, msg.content) == ("hm\n", "OK\n")
    assert [(c["name"], c["arguments"]) for c in msg.tool_calls] == [
        ("get_weather", '{"city":"Paris","days":3}'), ("get_time", "{}")]
    assert msg.ended_calls == {0, 1}


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_undeclared_tool_is_not_a_call(kit: Any, template: str) -> None:
    text = think(template, "") + one(template, "launch_rockets", [])
    if TEMPLATES[template].name == "kimi-k2":
        text = text.replace("{i}", "0")
    msg, events = kit.run(parser_for(kit, template), list(text))
    assert msg.tool_calls == [] and not [e for e in events if e.kind == "tool_call_start"]
    assert "launch_rockets" in msg.content


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_truncated_call_is_not_reported_finished(kit: Any, template: str) -> None:
    text = corpus(template)["truncated-in-arguments"]
    msg, events = kit.run(parser_for(kit, template), list(text))
    assert [c["name"] for c in msg.tool_calls] == ["get_weather"]
    assert not [e for e in events if e.kind == "tool_call_end"]


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_several_calls_in_one_chunk_and_byte_by_byte_agree(kit: Any, template: str) -> None:
    text = corpus(template)["three-calls"]
    whole, _ = kit.run(parser_for(kit, template), [text])
    data = text.encode()
    split, _ = kit.run(parser_for(kit, template), [data[i : i + 1] for i in range(len(data))])
    assert kit.as_plain(whole) == kit.as_plain(split)
    assert len(whole.tool_calls) == 3 and whole.ended_calls == {0, 1, 2}


MIXED = {
    "type": "function",
    "function": {
        "name": "note",
        "description": "Take a note",
        "parameters": {
            "type": "object",
            "properties": {"value": {"type": ["integer", "string"]}, "extra": {"type": ["object", "null"]}},
            "required": ["value"],
        },
    },
}


@pytest.mark.parametrize(
    "args",
    [[("value", "12")], [("value", "twelve")], [("value", "12 apples"), ("extra", "null")],
     [("value", "true")], [("value", "1"), ("extra", '{"a": [1]}')]],
)
@pytest.mark.parametrize("template", ["Qwen3-Coder.jinja", "GLM-4.7-Flash.jinja", "MiniMax-M2.jinja"])
def test_values_of_several_types_are_typed_like_the_reference(kit: Any, template: str, args: Args) -> None:
    family = TEMPLATES[template]
    text = think(template, "") + one(template, "note", args)
    kit.check_against_reference(template, text, family.name, vocab=family.templates[template], tools=[MIXED])


def test_qwen3_coder_call_opened_without_tool_call_tag(kit: Any) -> None:
    # Qwen3-Coder sometimes starts a call at <function=NAME>; llama.cpp reads it as a call.
    text = "Let me check.\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>"
    kit.check_against_reference("Qwen3-Coder.jinja", text, "qwen3-coder")


@pytest.mark.parametrize("case", ["content-only", "one-call", "three-calls"])
def test_qwen35_disabled_thinking_matches_reference(kit: Any, case: str) -> None:
    text = corpus("Qwen3.5-4B.jinja")[case].split("</think>\n\n", 1)[1]
    kit.check_against_reference("Qwen3.5-4B.jinja", text, "qwen3-coder", vocab="ggml-vocab-qwen35.gguf",
                                enable_thinking=False)


@pytest.mark.parametrize("template", ["Qwen3.5-4B.jinja", "Kimi-K2-Thinking.jinja"])
def test_call_that_ends_reasoning_without_its_end_tag(kit: Any, template: str) -> None:
    # Both templates' parsers let a tool call end an unclosed reasoning block.
    family = TEMPLATES[template]
    call = one(template, "get_weather", args_for(template, "PARIS"))
    text = ("" if template.startswith("Qwen") else "<think>") + "Need the tool." + call
    kit.check_against_reference(template, text, family.name, vocab=family.templates[template])


@pytest.mark.parametrize("template", ["Qwen3.5-4B.jinja", "GLM-4.6.jinja", "MiniMax-M2.jinja", "Kimi-K2-Thinking.jinja"])
def test_reasoning_without_tools_matches_reference(kit: Any, template: str) -> None:
    family = TEMPLATES[template]
    text = think(template, "Plan <tool_call> 🙂") + "Answer."
    kit.check_against_reference(template, text, "think", vocab=family.templates[template], tools=None)
