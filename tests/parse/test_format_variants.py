"""Outputs real models write that llama.cpp's parser for their template misreads or does not
read at all, each read natively (issue 18; the canitoolcall corpus has the recorded cases).
Every output is fed whole and byte by byte, which must agree."""
from __future__ import annotations

import json
from typing import Any

NUMBERS = {
    "type": "function",
    "function": {
        "name": "calc",
        "description": "Compute",
        "parameters": {
            "type": "object",
            "properties": {"x": {"type": "number"}, "code": {"type": "string"}, "tags": {"type": "array"}},
        },
    },
}


def parse(kit: Any, template: str, text: str, tools: list[dict[str, Any]] | None = None, **options: Any) -> Any:
    tools = tools or kit.TOOLS
    whole, events = kit.run(kit.make_parser(template, tools=tools, **options), [text])
    data = text.encode()
    split, _ = kit.run(kit.make_parser(template, tools=tools, **options), [data[i : i + 1] for i in range(len(data))])
    assert kit.as_plain(split) == kit.as_plain(whole)
    assert [e.index for e in events if e.kind == "tool_call_start"] == list(range(len(whole.tool_calls)))
    return whole


def calls(msg: Any) -> list[tuple[str, Any]]:
    return [(c["name"], json.loads(c["arguments"])) for c in msg.tool_calls]


def test_dsml_v41_spaced_block_is_read_on_the_v4_template(kit: Any) -> None:
    # DeepSeek V4.1 writes <｜DSML｜ calls> and spaced tags; llama.cpp reads it with V4's
    # grammar, which returns the whole block as content.
    text = ("Checking.\n\n<｜DSML｜ calls>\n<｜DSML｜ invoke name=\"get_weather\">\n"
            "<｜DSML｜ parameter name=\"city\" string=\"true\">Paris</｜DSML｜ parameter>\n"
            "<｜DSML｜ parameter name=\"days\" string=\"false\">3</｜DSML｜ parameter>\n"
            "</｜DSML｜ invoke>\n</｜DSML｜ calls>")
    msg = parse(kit, "deepseek-ai-DeepSeek-V4-Flash-0731.jinja", text, enable_thinking=False)
    assert msg.content == "Checking." and calls(msg) == [("get_weather", {"city": "Paris", "days": 3})]
    assert msg.ended_calls == {0}


def test_dsml_string_attribute_types_the_value(kit: Any) -> None:
    param = '<｜DSML｜parameter name="{}" string="{}">{}</｜DSML｜parameter>\n'
    text = ("<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"calc\">\n" + param.format("code", "true", "007")
            + param.format("x", "false", "1e-05") + param.format("tags", "false", '["a", {"b": null}]')
            + "</｜DSML｜invoke>\n</｜DSML｜tool_calls>")
    msg = parse(kit, "deepseek-ai-DeepSeek-V4.jinja", text, tools=[NUMBERS], enable_thinking=False)
    assert calls(msg) == [("calc", {"code": "007", "x": 1e-05, "tags": ["a", {"b": None}]})]


def test_dsml_self_closing_invoke_is_a_call_without_arguments(kit: Any) -> None:
    text = '<｜DSML｜tool_calls>\n<｜DSML｜invoke name="get_time"/>\n</｜DSML｜tool_calls>'
    msg = parse(kit, "deepseek-ai-DeepSeek-V4.jinja", text, enable_thinking=False)
    assert calls(msg) == [("get_time", {})] and msg.content == ""


def test_gemma4_notation_becomes_json_and_text_after_the_call_is_content(kit: Any) -> None:
    # llama.cpp's Gemma 4 grammar ends at the last call: the text after it was dropped.
    text = ('<|channel>thought\nLook it up.<channel|><|tool_call>call:get_weather{city:<|"|>Zürich "Süd"\n<|"|>,'
            'days:3, key with space:{a:[1,true,None,<|"|>x,y}<|"|>]},unit:celsius}<tool_call|>Done.')
    msg = parse(kit, "google-gemma-4-31B-it.jinja", text)
    assert msg.reasoning == "Look it up." and msg.content == "Done."
    assert calls(msg) == [("get_weather", {"city": 'Zürich "Süd"\n', "days": 3,
                                           "key with space": {"a": [1, True, None, "x,y}"]}, "unit": "celsius"})]


def test_gemma4_arguments_that_stop_making_sense_are_closed_as_json(kit: Any) -> None:
    msg = parse(kit, "google-gemma-4-31B-it.jinja", '<|tool_call>call:get_weather{city:<|"|>Oslo<|"|>,days:<tool_call|>ok')
    assert calls(msg) == [("get_weather", {"city": "Oslo", "days": None})] and msg.content == "ok"


def test_pythonic_calls_on_a_llama3_template(kit: Any) -> None:
    text = "[get_weather(city='Martha\\'s \"Vineyard\"', days=3), get_time()]"
    msg = parse(kit, "meta-llama-Llama-3.1-8B-Instruct.jinja", text)
    assert calls(msg) == [("get_weather", {"city": "Martha's \"Vineyard\"", "days": 3}), ("get_time", {})]
    assert msg.content == "" and msg.ended_calls == {0, 1}


def test_brackets_in_text_are_not_pythonic_calls(kit: Any) -> None:
    text = "See [1] and [get_weather] or [launch(x=1)]."
    msg = parse(kit, "meta-llama-Llama-3.1-8B-Instruct.jinja", text)
    assert msg.content == text and msg.tool_calls == []


def test_harmony_reads_a_second_call_and_a_final_message_after_a_call(kit: Any) -> None:
    call = "<|start|>assistant to=functions.{}<|channel|>commentary <|constrain|>json<|message|>{}<|call|>"
    text = ("<|channel|>analysis<|message|>Two lookups.<|end|>" + call.format("get_weather", '{"city": "Paris"}')
            + call.format("get_time", "{}") + "<|start|>assistant<|channel|>final<|message|>Done.")
    msg = parse(kit, "openai-gpt-oss-120b.jinja", text)
    assert (msg.reasoning, msg.content) == ("Two lookups.", "Done.")
    assert calls(msg) == [("get_weather", {"city": "Paris"}), ("get_time", {})] and msg.ended_calls == {0, 1}


def test_qwen3_coder_call_without_the_templates_newlines(kit: Any) -> None:
    text = "before<tool_call><function=get_weather><parameter=city>Paris</parameter></function></tool_call>after"
    msg = parse(kit, "Qwen3-Coder.jinja", text)
    assert (msg.content, calls(msg)) == ("beforeafter", [("get_weather", {"city": "Paris"})])


def test_value_missing_its_closing_tag_ends_at_the_next_tag(kit: Any) -> None:
    text = ("<tool_call>\n<function=get_weather>\n<parameter=city>\nDallas\n<parameter=days>\n3\n</parameter>\n"
            "</function>\n</tool_call>")
    assert calls(parse(kit, "Qwen3-Coder.jinja", text)) == [("get_weather", {"city": "Dallas", "days": 3})]
    glm = "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Berlin</tool_call>"
    assert calls(parse(kit, "GLM-4.7-Flash.jinja", glm, enable_thinking=False)) == [("get_weather", {"city": "Berlin"})]


def test_closing_tag_text_inside_a_value_stays_text(kit: Any) -> None:
    text = ("<tool_call>\n<function=get_weather>\n<parameter=city>\nUse </parameter> and </function> inline.\n"
            "</parameter>\n</function>\n</tool_call>")
    msg = parse(kit, "Qwen3-Coder.jinja", text)
    assert calls(msg) == [("get_weather", {"city": "Use </parameter> and </function> inline."})]


def test_kimi_text_between_section_and_call_markers_is_skipped(kit: Any) -> None:
    text = ("Hi. <|tool_calls_section_begin|> noise <|tool_call_begin|>functions.get_weather:0 "
            '<|tool_call_argument_begin|>{"city": "Paris"} <|tool_call_end|><|tool_calls_section_end|>')
    msg = parse(kit, "Kimi-K2-Instruct.jinja", text)
    assert (msg.content, calls(msg)) == ("Hi. ", [("get_weather", {"city": "Paris"})])


def test_mistral_arguments_before_the_name(kit: Any) -> None:
    text = '[TOOL_CALLS] [{"arguments": {"city": "Paris"}, "name": "get_weather"}]'
    msg = parse(kit, "mistralai-Mistral-Nemo-Instruct-2407.jinja", text)
    assert calls(msg) == [("get_weather", {"city": "Paris"})] and msg.content == ""


def test_kimi_k3_values_are_typed_by_their_attribute_and_may_hold_closing_tag_text(kit: Any) -> None:
    # llama.cpp's parser types K3 values by the schema alone (a null became "null") and ends a
    # value at the first closing tag, even inside the value's text.
    arg = '<|open|>argument key="{}" type="{}"<|sep|>{}<|close|>argument<|sep|>'
    text = ("Look up.<|close|>think<|sep|><|open|>response<|sep|>On it.<|close|>response<|sep|><|open|>tools<|sep|>"
            '<|open|>call tool="calc" index="1"<|sep|>' + arg.format("code", "string", "<|close|>argument<|sep|> ends")
            + arg.format("x", "null", "null") + arg.format("q&amp;a", "array", "[1]")
            + "<|close|>call<|sep|><|close|>tools<|sep|><|close|>message<|sep|>")
    msg = parse(kit, "Kimi-K3.jinja", text, tools=[NUMBERS])
    assert (msg.reasoning, msg.content) == ("Look up.", "On it.")
    assert calls(msg) == [("calc", {"code": "<|close|>argument<|sep|> ends", "x": None, "q&a": [1]})]
