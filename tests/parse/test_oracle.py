"""Native parsing against llama.cpp's own parser (common_chat_parse), token by token.

Each output is tokenized with a real tokenizer and fed one token at a time. At the end the
message equals the reference's parse of the whole text; at every prefix what was emitted is
a prefix of that final message (deltas never retract, names are sent once, arguments grow).
"""
from __future__ import annotations

import json
from typing import Any

import pytest

CALL = '<tool_call>\n{{"name": "{name}", "arguments": {args}}}\n</tool_call>'
PARIS = CALL.format(name="get_weather", args='{"city": "Paris", "days": 3}')
EMPTY = CALL.format(name="get_time", args="{}")
UNICODE = CALL.format(name="get_weather", args=json.dumps({"city": "Zürich \"Süd\"\n\\ 東京 🙂"}))

# name -> output text, for the <think> + <tool_call> JSON layout
HERMES_CORPUS = {
    "reasoning-only": "<think>\nThe user wants weather.\n</think>",
    "content-only": "The weather is sunny.",
    "reasoning-and-content": "<think>\nLet me think.\n</think>\n\nIt is sunny in Paris.",
    "one-call": "<think>\nI need the tool.\n</think>\n\n" + PARIS,
    "content-then-call": "Checking.\n" + PARIS,
    "three-calls": "<think>\nThree.\n</think>\n\n" + "\n".join([PARIS, EMPTY, UNICODE]),
    "empty-args-call": EMPTY,
    "unicode-and-escapes": "<think>\nÄ \"quote\" \\ 日本語 🙂\n</think>\n\nRésumé: ✓ \\n \"ok\"\n" + UNICODE,
    "marker-like-in-reasoning": "<think>\nShould I write <tool_call> or </tool or <think>? Not yet.\n</think>\n\nDone.",
    "truncated-in-arguments": "<think>\nx\n</think>\n\n" + PARIS[: PARIS.index("Paris") + 3],
    "truncated-in-reasoning": "<think>\nStill thinking about the wea",
}

# template -> its family when tools are declared
HERMES_TEMPLATES = {
    "Qwen-Qwen3-0.6B.jinja": "hermes",
    "Qwen-QwQ-32B.jinja": "hermes",
    "Qwen-Qwen2.5-7B-Instruct.jinja": "hermes",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": "hermes",
}


def check_against_reference(kit: Any, template: str, text: str, expected_family: str, **options: Any) -> None:
    kit.check_against_reference(template, text, expected_family, **options)


@pytest.mark.parametrize("template", HERMES_TEMPLATES)
@pytest.mark.parametrize("case", HERMES_CORPUS)
def test_hermes_family_matches_reference_token_by_token(kit: Any, template: str, case: str) -> None:
    # Templates without reasoning take <think> text as content, in the reference and here.
    check_against_reference(kit, template, HERMES_CORPUS[case], HERMES_TEMPLATES[template])


@pytest.mark.parametrize("case", ["reasoning-only", "reasoning-and-content", "content-only", "marker-like-in-reasoning"])
def test_reasoning_without_tools_matches_reference(kit: Any, case: str) -> None:
    check_against_reference(kit, "Qwen-Qwen3-0.6B.jinja", HERMES_CORPUS[case], "think", tools=None)


@pytest.mark.parametrize(
    "text",
    ["Thinking right away.\n</think>\n\nAnswer.", "\nLeading newline.\n</think>Answer.", "Cut off in reasoning"],
)
def test_forced_open_reasoning_is_not_returned_as_content(kit: Any, text: str) -> None:
    # DeepSeek-R1's generation prompt ends in "<think>\n": the output starts inside reasoning.
    check_against_reference(kit, "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", text, "think", tools=None)


@pytest.mark.parametrize("case", ["content-only", "one-call", "three-calls"])
def test_disabled_thinking_matches_reference(kit: Any, case: str) -> None:
    text = HERMES_CORPUS[case].replace("<think>\nI need the tool.\n</think>\n\n", "").replace(
        "<think>\nThree.\n</think>\n\n", ""
    )
    check_against_reference(kit, "Qwen-Qwen3-0.6B.jinja", text, "hermes", enable_thinking=False)


# Formats without a native module yet: they must go through llama.cpp's parser, whole.
FALLBACK_CASES = {
    "meetkai-functionary-medium-v3.2.jinja": 'get_weather\n{"city": "Paris"}',
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja": "<|START_THINKING|>Hm.<|END_THINKING|><|START_ACTION|>"
    '[{"tool_call_id": "0", "tool_name": "get_weather", "parameters": {"city": "Paris"}}]<|END_ACTION|>',
    "ByteDance-Seed-OSS.jinja": "Sunny in Paris.",
}


@pytest.mark.parametrize("template", FALLBACK_CASES)
def test_formats_without_native_module_fall_back_to_reference(kit: Any, template: str) -> None:
    text = FALLBACK_CASES[template]
    parser = kit.make_parser(template)
    assert parser.family == "reference"
    reference = kit.as_plain(parser.reference_parse(text, False))
    msg, _ = kit.run(parser, kit.token_pieces(kit.vocab_model(template), text))
    assert kit.as_plain(msg) == reference
    assert reference["content"] or reference["tool_calls"] or reference["reasoning"]




def test_layout_reading_survives_recursive_argument_rules(kit: Any) -> None:
    # Reading how LFM2.5's parser types the tools' arguments followed its recursive rules
    # without end: StreamParser's constructor crashed (stack overflow) instead of falling back.
    text = "Sunny in Paris."
    parser = kit.make_parser("LFM2.5-8B-A1B.jinja")
    assert parser.family == "reference"
    msg, _ = kit.run(parser, kit.token_pieces(kit.vocab_model("LFM2.5-8B-A1B.jinja"), text))
    assert kit.as_plain(msg) == kit.as_plain(parser.reference_parse(text, False))
