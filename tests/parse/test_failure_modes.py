"""One test per failure mode seen in other servers' parsers (see PARSER.md)."""
from __future__ import annotations

import json
from typing import Any

QWEN3 = "Qwen-Qwen3-0.6B.jinja"
CALL = '<tool_call>\n{{"name": "{name}", "arguments": {args}}}\n</tool_call>'


def events_of(kit: Any, pieces: list[str], template: str = QWEN3, **options: Any) -> list[Any]:
    return kit.run(kit.make_parser(template, **options), pieces)[1]


def test_partial_end_tag_split_across_tokens_does_not_leak(kit: Any) -> None:
    events = events_of(kit, ["<think>abc</thi", "nk>Hello"])
    assert [(e.kind, e.text) for e in events] == [("reasoning", "abc"), ("content", "Hello")]


def test_marker_like_text_inside_reasoning_stays_reasoning(kit: Any) -> None:
    msg, _ = kit.run(kit.make_parser(QWEN3), ["<think>I could emit <tool_call> or <think> here</think>Done"])
    assert msg.reasoning == "I could emit <tool_call> or <think> here" and msg.content == "Done"
    assert msg.tool_calls == []


def test_forced_open_reasoning_is_reasoning_not_content(kit: Any) -> None:
    parser = kit.make_parser("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", tools=None)
    msg, _ = kit.run(parser, ["why</think>because"])
    # The prompt's "<think>\n" newline is reasoning text for this template, in the reference too.
    assert (msg.reasoning.strip(), msg.content) == ("why", "because")
    assert kit.as_plain(msg) == kit.as_plain(parser.reference_parse("why</think>because", False))


def test_tool_name_is_sent_once(kit: Any) -> None:
    text = CALL.format(name="get_weather", args='{"city": "Paris"}')
    starts = [e for e in events_of(kit, list(text)) if e.kind == "tool_call_start"]
    assert [(s.index, s.name) for s in starts] == [(0, "get_weather")]


def test_tool_calls_never_decrease_and_second_parallel_call_is_kept(kit: Any) -> None:
    text = CALL.format(name="get_weather", args='{"city": "A"}') + "\n" + CALL.format(name="get_time", args="{}")
    msg, events = kit.run(kit.make_parser(QWEN3), list(text))
    assert [c["name"] for c in msg.tool_calls] == ["get_weather", "get_time"]
    assert [e.index for e in events if e.kind == "tool_call_start"] == [0, 1]


def test_arguments_are_the_raw_json_bytes_not_reserialized(kit: Any) -> None:
    raw = '{ "city" :"Paris",\n  "days": 3.50 }'
    msg, _ = kit.run(kit.make_parser(QWEN3), [CALL.format(name="get_weather", args=raw)])
    assert msg.tool_calls[0]["arguments"] == raw


def test_non_ascii_escapes_are_not_duplicated(kit: Any) -> None:
    raw = json.dumps({"city": "Zürich \u00e9 \\u00e9"})
    data = CALL.format(name="get_weather", args=raw).encode()
    msg, _ = kit.run(kit.make_parser(QWEN3), [data[i : i + 1] for i in range(len(data))])
    assert msg.tool_calls[0]["arguments"] == raw


def test_several_calls_in_one_multi_token_chunk(kit: Any) -> None:
    text = "\n".join(CALL.format(name="get_time", args="{}") for _ in range(3))
    msg, _ = kit.run(kit.make_parser(QWEN3), [text])
    assert len(msg.tool_calls) == 3 and msg.ended_calls == {0, 1, 2}


def test_empty_arguments_call_keeps_its_empty_object(kit: Any) -> None:
    msg, _ = kit.run(kit.make_parser(QWEN3), [CALL.format(name="get_time", args="{}")])
    assert msg.tool_calls[0]["arguments"] == "{}"


def test_tool_call_inside_reasoning_is_reasoning(kit: Any) -> None:
    inner = CALL.format(name="get_time", args="{}")
    msg, _ = kit.run(kit.make_parser(QWEN3), ["<think>" + inner + "</think>ok"])
    assert msg.reasoning == inner and msg.tool_calls == [] and msg.content == "ok"


def test_truncated_call_is_not_reported_finished(kit: Any) -> None:
    msg, events = kit.run(kit.make_parser(QWEN3), ['<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa'])
    assert msg.tool_calls[0]["arguments"] == '{"city": "Pa'
    assert not [e for e in events if e.kind == "tool_call_end"]


def test_finish_flushes_held_back_text(kit: Any) -> None:
    parser = kit.make_parser(QWEN3, tools=None)
    # "é" split across feeds is held back until complete; "<" may begin "<think>" at the start.
    assert parser.feed(b"<") == []
    assert [e.text for e in parser.finish()] == ["<"]


def test_arguments_stream_as_generated_not_buffered(kit: Any) -> None:
    parser = kit.make_parser(QWEN3)
    parser.feed('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par')
    assert [e.text for e in parser.feed("is") if e.kind == "tool_args"] == ["is"]


def test_undeclared_tool_is_not_a_call_and_its_text_is_kept(kit: Any) -> None:
    text = CALL.format(name="launch_rockets", args="{}")
    msg, _ = kit.run(kit.make_parser(QWEN3), list(text))
    assert msg.tool_calls == [] and msg.content == text
