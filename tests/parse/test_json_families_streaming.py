"""Chunking invariance, fuzz and failure modes for the JSON tool-call families (DeepSeek,
Mistral, gpt-oss harmony, Llama 3.x); the oracle comparisons are in test_json_families.py."""
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyllm import ParsedMessage

DS_CALL = "<｜tool▁call▁begin｜>{}<｜tool▁sep｜>{}<｜tool▁call▁end｜>"
R1_CALL = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>{}\n```json\n{}\n```<｜tool▁call▁end｜>"
HARMONY_CALL = " to=functions.{}<|channel|>commentary <|constrain|>json<|message|>{}"

# family -> (template, vocab, options, an output with every feature, markers for the fuzz)
FAMILIES: dict[str, tuple[str, str, dict[str, Any], str, list[str]]] = {
    "deepseek-r1": (
        "llama-cpp-deepseek-r1.jinja",
        "ggml-vocab-deepseek-llm.gguf",
        {},
        "Plan: <｜tool▁calls▁begin｜>? 東京 🙂\n</think>\n\nSure, \"quoted\" \\ text.<｜tool▁calls▁begin｜>"
        + R1_CALL.format("get_weather", '{"city": "Zürich 🙂", "days": 2}')
        + "\n"
        + R1_CALL.format("get_time", "{}")
        + "<｜tool▁calls▁end｜>",
        ["</think>", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "function<｜tool▁sep｜>get_weather\n```json\n",
         "function<｜tool▁sep｜>nope\n```json\n", "\n```", "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>", "</thi"],
    ),
    "deepseek-v3.1": (
        "deepseek-ai-DeepSeek-V3.1.jinja",
        "ggml-vocab-deepseek-llm.gguf",
        {"enable_thinking": True},
        "Plan ✓</think>Sure.<｜tool▁calls▁begin｜>"
        + DS_CALL.format("get_weather", '{"city": "Zürich 🙂", "days": 2}')
        + DS_CALL.format("get_time", "{}")
        + "<｜tool▁calls▁end｜>",
        ["</think>", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "get_weather<｜tool▁sep｜>", "nope<｜tool▁sep｜>",
         "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>", "<｜tool▁"],
    ),
    "mistral": (
        "mistralai-Ministral-3-14B-Reasoning-2512.jinja",
        "ggml-vocab-llama-bpe.gguf",
        {},
        "[THINK]Plan: [TOOL_CALLS] twice? 東京 🙂[/THINK]\n\nSure, \"quoted\" \\ text."
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Zürich 🙂", "days": 2}[TOOL_CALLS]get_time[ARGS]{}',
        ["[THINK]", "[/THINK]", "[TOOL_CALLS]", "get_weather[ARGS]", "nope[ARGS]", "[/THI", "[TOOL_"],
    ),
    "mistral-small": (
        "Mistral-Small-3.2-24B-Instruct-2506.jinja",
        "ggml-vocab-llama-bpe.gguf",
        {},
        'Sure, "quoted" \\ text 🙂[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{"city": "Zürich 🙂", "days": 2}'
        "[TOOL_CALLS]get_time[CALL_ID]f5g6h7i8j[ARGS]{}",
        ["[TOOL_CALLS]", "get_weather[CALL_ID]", "get_time[ARGS]", "nope[ARGS]", "[CALL_ID]", "[ARGS]", "[TOOL_"],
    ),
    "mistral-nemo": (
        "mistralai-Mistral-Nemo-Instruct-2407.jinja",
        "ggml-vocab-llama-bpe.gguf",
        {},
        'Sure, "quoted" \\ text 🙂[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Zürich 🙂", "days": 2}, '
        '"id": "a1b2c3d4e"}, {"name": "get_time", "arguments": {}, "id": "f5g6h7i8j"}]',
        ["[TOOL_CALLS]", "[", "]", '{"name": "get_weather", "arguments": ', '{"name": "nope", "arguments": ',
         ', "id": "a1b2c3d4e"}', "[TOOL_"],
    ),
    "harmony": (
        "openai-gpt-oss-120b.jinja",
        "ggml-vocab-llama-bpe.gguf",
        {},
        "<|channel|>analysis<|message|>Plan: to=functions.get_time? 東京 🙂<|end|><|start|>assistant"
        "<|channel|>commentary<|message|>Checking ✓.<|end|><|start|>assistant"
        + HARMONY_CALL.format("get_weather", '{"city": "Zürich 🙂", "days": 2}'),
        ["<|channel|>", "analysis", "final", "commentary", "<|message|>", "<|end|>", "<|start|>assistant",
         " to=functions.get_weather", " to=functions.nope", "<|constrain|>json", "<|en", "<|chan"],
    ),
    "llama3": (
        "meta-llama-Llama-3.1-8B-Instruct.jinja",
        "ggml-vocab-llama-bpe.gguf",
        {},
        'Sure, "quoted" \\ text 🙂 {"name": "get_weather", "parameters": {"city": "Zürich 🙂", "days": 2}}, '
        '{"name": "get_time", "parameters": {}}',
        ['{"name": "get_weather", "parameters": ', '{"name": "nope", "parameters": ', ", ", '{"type": "function", '],
    ),
}
JSON_SOUP = ["{", "}", '"', "\\", "\n", " ", ",", "é", "🙂"]
# Text of the generation prompt the reference counts as output: R1's prompt ends in "<think>\n".
PROMPT_TEXT = {"deepseek-r1": b"\n"}


def parser(kit: Any, family: str) -> Any:
    template, vocab, options, _, _ = FAMILIES[family]
    p = kit.StreamParser(kit.vocab_model(template, vocab), kit.MESSAGES, kit.TOOLS, **options)
    assert p.family == family.split("-")[0]
    return p


def whole(kit: Any, family: str, text: str) -> dict[str, Any]:
    return kit.as_plain(kit.run(parser(kit, family), [text])[0])


@pytest.mark.parametrize("family", FAMILIES)
def test_byte_by_byte_equals_whole_text(kit: Any, family: str) -> None:
    text = FAMILIES[family][3]
    data = text.encode()
    msg, _ = kit.run(parser(kit, family), [data[i : i + 1] for i in range(len(data))])
    assert kit.as_plain(msg) == whole(kit, family, text)
    assert len(msg.tool_calls) >= 1


@pytest.mark.parametrize("family", FAMILIES)
def test_token_by_token_equals_whole_text(kit: Any, family: str) -> None:
    template, vocab, _, text, _ = FAMILIES[family]
    msg, _ = kit.run(parser(kit, family), kit.token_pieces(kit.vocab_model(template, vocab), text))
    assert kit.as_plain(msg) == whole(kit, family, text)


CHUNKS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("family", FAMILIES)
@CHUNKS
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_random_multi_token_chunks_equal_whole_text(kit: Any, family: str, cuts: list[int]) -> None:
    template, vocab, _, text, _ = FAMILIES[family]
    pieces = kit.token_pieces(kit.vocab_model(template, vocab), text)
    bounds = sorted({c % (len(pieces) + 1) for c in cuts} | {0, len(pieces)})
    chunks = ["".join(pieces[a:b]) for a, b in zip(bounds, bounds[1:])]
    p = parser(kit, family)
    events = p.feed_many(chunks) + p.finish()
    assert kit.as_plain(ParsedMessage.from_events(events)) == whole(kit, family, text)


def emitted_bytes(events: list[Any]) -> bytes:
    return b"".join(e.text.encode("utf-8", "surrogateescape") for e in events)


def is_subsequence(small: bytes, big: bytes) -> bool:
    it = iter(big)
    return all(b in it for b in small)


FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("family", FAMILIES)
@FUZZ
@given(data=st.data(), cut=st.integers(min_value=1, max_value=9))
def test_marker_soup_is_chunking_stable_and_invents_nothing(kit: Any, family: str, data: Any, cut: int) -> None:
    markers = FAMILIES[family][4] + JSON_SOUP
    text = data.draw(st.lists(st.one_of(st.sampled_from(markers), st.text(max_size=5)), max_size=60).map("".join))
    once = whole(kit, family, text)
    raw = text.encode()
    chunked, events = kit.run(parser(kit, family), [raw[i : i + cut] for i in range(0, len(raw), cut)])
    assert kit.as_plain(chunked) == once
    assert is_subsequence(emitted_bytes(events), PROMPT_TEXT.get(family, b"") + raw)
    assert {e.name for e in events if e.kind == "tool_call_start"} <= {"get_weather", "get_time"}


@pytest.mark.parametrize("family", FAMILIES)
@FUZZ
@given(raw=st.binary(max_size=300), cut=st.integers(min_value=1, max_value=7))
def test_random_bytes_never_crash_and_invent_nothing(kit: Any, family: str, raw: bytes, cut: int) -> None:
    _, events = kit.run(parser(kit, family), [raw[i : i + cut] for i in range(0, len(raw), cut)])
    assert is_subsequence(emitted_bytes(events), PROMPT_TEXT.get(family, b"") + raw)


# Failure modes seen in other servers' parsers (PARSER.md), for these families.
CALLS = {
    "deepseek-r1": "</think><｜tool▁calls▁begin｜>" + R1_CALL.format("get_weather", "{args}") + "<｜tool▁calls▁end｜>",
    "deepseek-v3.1": "</think><｜tool▁calls▁begin｜>" + DS_CALL.format("get_weather", "{args}") + "<｜tool▁calls▁end｜>",
    "mistral": "[TOOL_CALLS]get_weather[ARGS]{args}",
    "mistral-small": "[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{args}",
    "mistral-nemo": '[TOOL_CALLS][{"name": "get_weather", "arguments": {args}, "id": "a1b2c3d4e"}]',
    "harmony": HARMONY_CALL.format("get_weather", "{args}"),
    "llama3": '{"name": "get_weather", "parameters": {args}}',
}


def one_call(family: str, args: str) -> str:
    return CALLS[family].replace("{args}", args)


@pytest.mark.parametrize("family", FAMILIES)
def test_name_sent_once_arguments_raw_and_streamed_as_generated(kit: Any, family: str) -> None:
    raw = '{ "city" :"Paris",\n  "days": 3.50 }'
    text = one_call(family, raw)
    p = parser(kit, family)
    events = []
    cut = text.index('"Paris"') + 4
    events += p.feed(text[:cut])
    grown = p.feed("is")
    assert [e.text for e in grown if e.kind == "tool_args"] == ["is"]  # not buffered
    events += grown + p.feed(text[cut + 2 :]) + p.finish()
    msg = ParsedMessage.from_events(events)
    assert [(e.index, e.name) for e in events if e.kind == "tool_call_start"] == [(0, "get_weather")]
    assert msg.tool_calls[0]["arguments"] == raw and msg.ended_calls == {0}


@pytest.mark.parametrize("family", FAMILIES)
def test_non_ascii_escapes_are_not_duplicated_byte_by_byte(kit: Any, family: str) -> None:
    raw = json.dumps({"city": "Zürich \u00e9 \\u00e9"}, ensure_ascii=False)
    data = one_call(family, raw).encode()
    msg, _ = kit.run(parser(kit, family), [data[i : i + 1] for i in range(len(data))])
    assert msg.tool_calls[0]["arguments"] == raw


@pytest.mark.parametrize("family", FAMILIES)
def test_truncated_call_is_not_reported_finished(kit: Any, family: str) -> None:
    text = one_call(family, '{"city": "Paris"}')
    msg, events = kit.run(parser(kit, family), [text[: text.index("Paris") + 2]])
    assert msg.tool_calls[0]["arguments"] == '{"city": "Pa'
    assert not [e for e in events if e.kind == "tool_call_end"]


@pytest.mark.parametrize("family", ["deepseek-r1", "deepseek-v3.1", "mistral", "mistral-small", "mistral-nemo", "llama3"])
def test_undeclared_tool_is_not_a_call_and_its_text_is_kept(kit: Any, family: str) -> None:
    text = one_call(family, "{}").replace("get_weather", "launch_rockets")
    msg, _ = kit.run(parser(kit, family), list(text))
    assert msg.tool_calls == [] and msg.content.endswith(text.split("</think>")[-1])


def test_harmony_call_to_undeclared_recipient_is_dropped_like_the_reference(kit: Any) -> None:
    msg, _ = kit.run(parser(kit, "harmony"), [HARMONY_CALL.format("launch_rockets", "{}") + "<|end|>"])
    assert (msg.reasoning, msg.content, msg.tool_calls) == ("", "", [])


def test_mistral_partial_reasoning_end_split_across_tokens_does_not_leak(kit: Any) -> None:
    events = kit.run(parser(kit, "mistral"), ["[THINK]abc[/TH", "INK]\n\nHello"])[1]
    assert [(e.kind, e.text) for e in events] == [("reasoning", "abc"), ("content", "Hello")]


def test_deepseek_section_marker_split_across_tokens_does_not_leak(kit: Any) -> None:
    text = "</think>Hi" + "<｜tool▁calls▁begin｜>" + DS_CALL.format("get_time", "{}") + "<｜tool▁calls▁end｜>"
    cut = text.index("▁calls") + 2
    msg, _ = kit.run(parser(kit, "deepseek-v3.1"), [text[:cut], text[cut:]])
    assert msg.content == "Hi" and [c["name"] for c in msg.tool_calls] == ["get_time"]


@pytest.mark.parametrize("family", ["deepseek-r1", "deepseek-v3.1", "mistral", "mistral-small", "mistral-nemo", "llama3"])
def test_several_calls_in_one_chunk_all_kept(kit: Any, family: str) -> None:
    text = FAMILIES[family][3]
    msg, events = kit.run(parser(kit, family), [text])
    assert [c["name"] for c in msg.tool_calls] == ["get_weather", "get_time"]
    assert [e.index for e in events if e.kind == "tool_call_start"] == [0, 1] and msg.ended_calls == {0, 1}
