"""Random bytes and random marker soup: no crash, no hang, nothing invented, chunking-stable."""
from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyllm import ParsedMessage

MARKERS = ["<think>", "</think>", "<tool_call>\n", "</tool_call>", '{"name": "get_weather", "arguments": ',
           '{"name": "nope", "arguments": ', "{", "}", '"', "\\", "\n", " ", "</thi", "<tool_c", "é", "🙂"]
soup = st.lists(st.one_of(st.sampled_from(MARKERS), st.text(max_size=5)), max_size=60).map("".join)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def emitted_bytes(events: list[Any]) -> bytes:
    return b"".join(e.text.encode("utf-8", "surrogateescape") for e in events)


def is_subsequence(small: bytes, big: bytes) -> bool:
    it = iter(big)
    return all(b in it for b in small)


@FUZZ
@given(data=st.binary(max_size=300), cut=st.integers(min_value=1, max_value=7))
def test_random_bytes_never_crash_and_invent_nothing(kit: Any, data: bytes, cut: int) -> None:
    parser = kit.make_parser("Qwen-Qwen3-0.6B.jinja")
    _, events = kit.run(parser, [data[i : i + cut] for i in range(0, len(data), cut)])
    assert is_subsequence(emitted_bytes(events), data)


@FUZZ
@given(text=soup, cut=st.integers(min_value=1, max_value=9))
def test_marker_soup_is_chunking_stable_and_invents_nothing(kit: Any, text: str, cut: int) -> None:
    whole, _ = kit.run(kit.make_parser("Qwen-Qwen3-0.6B.jinja"), [text])
    data = text.encode()
    chunked, events = kit.run(kit.make_parser("Qwen-Qwen3-0.6B.jinja"), [data[i : i + cut] for i in range(0, len(data), cut)])
    assert kit.as_plain(chunked) == kit.as_plain(whole)
    assert is_subsequence(emitted_bytes(events), data)
    for e in events:
        if e.kind == "tool_call_start":
            assert e.name == "get_weather"


@FUZZ
@given(text=st.text(alphabet=st.characters(blacklist_characters="<{\"\\", codec="utf-8"), max_size=200))
def test_text_without_markers_is_all_content(kit: Any, text: str) -> None:
    msg, _ = kit.run(kit.make_parser("Qwen-Qwen3-0.6B.jinja", tools=None), [text])
    assert isinstance(msg, ParsedMessage)
    assert msg.reasoning + msg.content == text.lstrip(" \n\r\t")


# The tagged-argument and Kimi-K2 families: each one's markers, cut markers and values.
FAMILY_MARKERS = {
    "Qwen3.5-4B.jinja": ["</think>", "<tool_call>", "\n", "<function=get_weather>", "<function=nope>",
                         "<parameter=city>", "<parameter=days>", "</parameter>", "</function>", "</tool_call>",
                         "</para", "<func", "7", "-1.5"],
    "GLM-4.6.jinja": ["<think>", "</think>", "<tool_call>", "get_weather", "nope", "\n", "<arg_key>", "city",
                      "days", "</arg_key>", "<arg_value>", "</arg_value>", "</tool_call>", "</arg_v", "3"],
    "MiniMax-M2.jinja": ["</think>", "<minimax:tool_call>\n", '<invoke name="get_weather">', '<invoke name="nope">',
                         '<parameter name="city">', '<parameter name="days">', "</parameter>", "</invoke>",
                         "</minimax:tool_call>", ", ", "\n", "</para", "4"],
    "Kimi-K2-Thinking.jinja": ["<think>", "</think>", "<|tool_calls_section_begin|>", "<|tool_call_begin|>",
                               "functions.get_weather:0", "functions.nope:1", "<|tool_call_argument_begin|>",
                               "<|tool_call_end|>", "<|tool_calls_section_end|>", '{"city": "', "}", "{", '"',
                               "<|tool_ca"],
    "deepseek-ai-DeepSeek-V4.jinja": ["</think>", "\n\n<｜DSML｜tool_calls>", "<｜DSML｜ calls>",
                                      '<｜DSML｜invoke name="get_weather">', '<｜DSML｜invoke name="nope">',
                                      '<｜DSML｜invoke name="get_time"/>', '<｜DSML｜parameter name="city" string="true">',
                                      '<｜DSML｜parameter name="days" string="false">', "</｜DSML｜parameter>",
                                      "</｜DSML｜invoke>", "</｜DSML｜tool_calls>", "</｜DSML｜", "\n", "3"],
    "google-gemma-4-31B-it.jinja": ["<|channel>thought\n", "<channel|>", "<|tool_call>", "call:get_weather{",
                                    "call:nope{", "call:get_time{}", "city:", "days:", '<|"|>', "<tool_call|>", "{", "}",
                                    "[", "]", ",", ":", "3", "true", "None", '<|"', "<tool_c"],
    "meta-llama-Llama-3.1-8B-Instruct.jinja": ["[", "]", "get_weather(", "nope(", "get_time()", "city=", "days=", "'",
                                               '"', "(", ")", ",", "{", "}", ":", "3", "True", "None", "\\",
                                               "<|python_start|>", "<|python_end|>"],
    "Kimi-K3.jinja": ["<|close|>think<|sep|>", "<|open|>response<|sep|>", "<|close|>response<|sep|>",
                      "<|open|>tools<|sep|>", '<|open|>call tool="get_weather" index="1"<|sep|>',
                      '<|open|>call tool="nope" index="2"<|sep|>', '<|open|>argument key="city" type="string"<|sep|>',
                      '<|open|>argument key="days" type="number"<|sep|>', "<|close|>argument<|sep|>",
                      "<|close|>call<|sep|>", "<|close|>tools<|sep|>", "<|close|>message<|sep|>", "<|close|>", "3"],
}
# Families whose arguments pass through as the model's raw JSON (Kimi-K2's objects, DSML's
# string="false" values): a malformed one stays malformed, so only the others must be JSON.
RAW_JSON_ARGUMENTS = ("Kimi", "DeepSeek")


@FUZZ
@given(data=st.data(), cut=st.integers(min_value=1, max_value=9))
def test_family_marker_soup_is_chunking_stable_and_invents_no_calls(kit: Any, data: Any, cut: int) -> None:
    template = data.draw(st.sampled_from(sorted(FAMILY_MARKERS)))
    parts = st.one_of(st.sampled_from(FAMILY_MARKERS[template] + ["é", "🙂", '"', "\\"]), st.text(max_size=4))
    text = data.draw(st.lists(parts, max_size=50).map("".join))
    whole, _ = kit.run(kit.make_parser(template), [text])
    raw = text.encode()
    chunked, events = kit.run(kit.make_parser(template), [raw[i : i + cut] for i in range(0, len(raw), cut)])
    assert kit.as_plain(chunked) == kit.as_plain(whole)
    assert {e.name for e in events if e.kind == "tool_call_start"} <= {"get_weather", "get_time"}
    for call, ended in zip(chunked.tool_calls, range(len(chunked.tool_calls))):
        if ended in chunked.ended_calls and not any(f in template for f in RAW_JSON_ARGUMENTS):
            json.loads(call["arguments"])  # a finished call built from tags or notation is valid JSON


@FUZZ
@given(data=st.binary(max_size=300), cut=st.integers(min_value=1, max_value=7))
def test_family_random_bytes_never_crash(kit: Any, data: bytes, cut: int) -> None:
    for template in FAMILY_MARKERS:
        kit.run(kit.make_parser(template), [data[i : i + cut] for i in range(0, len(data), cut)])
