"""Any chunking of the same output gives the same message: bytes, tokens, random chunks."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

OUTPUTS = {
    "Qwen-Qwen3-0.6B.jinja": (
        "<think>\nPlan: call <tool_call> twice? 東京 🙂\n</think>\n\nSure, \"quoted\" \\ text.\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich 🙂", "days": 2}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'
    ),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": "Forced open ✓ reasoning.\n</think>\n\nAnswer ✓.",
    "Qwen3.5-4B.jinja": (
        "Plan: <parameter=x> 東京 🙂\n</think>\n\nSure, \"quoted\".\n<tool_call>\n<function=get_weather>\n"
        "<parameter=city>\nZürich \"🙂\" \\ </parameter> x\n</parameter>\n<parameter=days>\n2\n</parameter>\n"
        "</function>\n</tool_call>\n<tool_call>\n<function=get_time>\n</function>\n</tool_call>"
    ),
    "GLM-4.7-Flash.jinja": (
        "Plan <arg_value> 🙂</think>Sure.<tool_call>get_weather<arg_key>city</arg_key><arg_value>Zürich\n"
        "\"🙂\"</arg_value><arg_key>days</arg_key><arg_value>2</arg_value></tool_call><tool_call>get_time</tool_call>"
    ),
    "MiniMax-M2.jinja": (
        "Plan 🙂\n</think>\n\nSure.\n<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">"
        "Zürich \"🙂\"</parameter>\n<parameter name=\"days\">2</parameter>\n</invoke>\n<invoke name=\"get_time\">\n"
        "</invoke>\n</minimax:tool_call>"
    ),
    "Kimi-K2-Thinking.jinja": (
        "<think>Plan 🙂 <|tool_call_end|></think>Sure.<|tool_calls_section_begin|><|tool_call_begin|>"
        'functions.get_weather:0<|tool_call_argument_begin|>{"city": "Zürich \\"🙂\\" }", "days": 2}'
        "<|tool_call_end|><|tool_call_begin|>functions.get_time:1<|tool_call_argument_begin|>{}<|tool_call_end|>"
        "<|tool_calls_section_end|>"
    ),
}


# What each whole text parses to: without this, a template that fell back to plain text
# would agree with itself under every chunking and pass the tests below.
EXPECTED = {
    "Qwen-Qwen3-0.6B.jinja": ("hermes", "Plan: call <tool_call> twice?", 2),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": ("deepseek", "\nForced open ✓ reasoning.", 0),
    "Qwen3.5-4B.jinja": ("qwen3-coder", "Plan: <parameter=x>", 2),
    "GLM-4.7-Flash.jinja": ("glm", "Plan <arg_value> 🙂", 2),
    "MiniMax-M2.jinja": ("minimax-m2", "Plan 🙂", 2),
    "Kimi-K2-Thinking.jinja": ("kimi-k2", "Plan 🙂 <|tool_call_end|>", 2),
}


@pytest.mark.parametrize("template", OUTPUTS)
def test_whole_text_is_parsed_by_its_family_into_reasoning_content_and_calls(kit: Any, template: str) -> None:
    family, reasoning, n_calls = EXPECTED[template]
    parser = kit.make_parser(template)
    assert parser.family == family
    msg = whole(kit, template)
    assert msg["reasoning"].startswith(reasoning), msg
    assert msg["content"].strip() and "</think>" not in msg["content"], msg
    assert len(msg["tool_calls"]) == n_calls, msg
    if n_calls:
        assert msg["tool_calls"][0][0] == "get_weather" and "Zürich" in msg["tool_calls"][0][1], msg


def whole(kit: Any, template: str) -> dict[str, Any]:
    parser = kit.make_parser(template)
    msg, _ = kit.run(parser, [OUTPUTS[template]])
    return kit.as_plain(msg)


@pytest.mark.parametrize("template", OUTPUTS)
def test_byte_by_byte_equals_whole_text(kit: Any, template: str) -> None:
    data = OUTPUTS[template].encode()
    msg, _ = kit.run(kit.make_parser(template), [data[i : i + 1] for i in range(len(data))])
    assert kit.as_plain(msg) == whole(kit, template)


@pytest.mark.parametrize("template", OUTPUTS)
def test_token_by_token_equals_whole_text(kit: Any, template: str) -> None:
    pieces = kit.token_pieces(kit.vocab_model(template), OUTPUTS[template])
    msg, _ = kit.run(kit.make_parser(template), pieces)
    assert kit.as_plain(msg) == whole(kit, template)


@pytest.mark.parametrize("template", OUTPUTS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_random_multi_token_chunks_equal_whole_text(kit: Any, template: str, cuts: list[int]) -> None:
    pieces = kit.token_pieces(kit.vocab_model(template), OUTPUTS[template])
    bounds = sorted({c % (len(pieces) + 1) for c in cuts} | {0, len(pieces)})
    chunks = ["".join(pieces[a:b]) for a, b in zip(bounds, bounds[1:])]
    parser = kit.make_parser(template)
    feed_all = parser.feed_many(chunks) + parser.finish()
    from pyllm import ParsedMessage

    assert kit.as_plain(ParsedMessage.from_events(feed_all)) == whole(kit, template)
