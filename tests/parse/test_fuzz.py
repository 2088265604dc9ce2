"""Random bytes and random marker soup: no crash, no hang, nothing invented, chunking-stable."""
from __future__ import annotations

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
