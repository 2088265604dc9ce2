"""The JSON tool-call families (DeepSeek, Mistral, gpt-oss harmony, Llama 3.x) against
llama.cpp's own parser, token by token, with each template's real output format.

Vocab-only tokenizers: where the model's own is not shipped with llama.cpp, a related one
stands in (named per family below); its special tokens then arrive as plain text pieces,
which the parser must handle anyway.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

Call = Callable[[str, str], str]

PARIS_ARGS = '{"city": "Paris", "days": 3}'
UNICODE_ARGS = [json.dumps({"city": 'Zürich "Süd"\n\\ 東京 🙂'}), json.dumps({"city": "Zürich 東京 🙂"}, ensure_ascii=False)]


def corpus(
    call: Call,
    calls: Callable[[list[str]], str],
    think: tuple[str, str] | None,
    marker_like: str,
    forced_open: bool = False,
) -> dict[str, str]:
    """The standard cases for one family: `call(name, args)` renders one call, `calls(list)`
    the tool-call part of a message, `think` the reasoning tags (None: the template does not
    reason), `marker_like` text that looks like a tool-call marker."""
    paris = call("get_weather", PARIS_ARGS)
    empty = call("get_time", "{}")
    unicode_calls = [call("get_weather", a) for a in UNICODE_ARGS]
    if think is None:
        open_tag = close_tag = ""
    else:
        open_tag = "" if forced_open else think[0]
        close_tag = think[1]

    def reasoning(text: str) -> str:
        return open_tag + text + close_tag if think else ""

    one_call = reasoning("I need the tool.") + calls([paris])
    cases = {
        "content-only": (close_tag if forced_open else "") + "The weather is sunny.",
        "one-call": one_call,
        "content-then-call": (close_tag if forced_open else "") + "Checking. " + calls([paris]),
        "three-calls": reasoning("Three.") + calls([paris, empty, unicode_calls[0]]),
        "empty-args-call": (close_tag if forced_open else "") + calls([empty]),
        "unicode-and-escapes": reasoning('Ä "quote" \\ 日本語 🙂') + 'Résumé: ✓ \\n "ok" ' + calls(unicode_calls),
        "truncated-in-arguments": one_call[: one_call.index("Paris") + 3],
        "truncated-in-header": one_call[: one_call.index("get_weather") + 7],
    }
    if think is not None:
        cases |= {
            "reasoning-only": reasoning("The user wants weather."),
            "reasoning-and-content": reasoning("Let me think.") + "\n\nIt is sunny in Paris.",
            "marker-like-in-reasoning": reasoning(f"Should I write {marker_like} or {marker_like[:-3]}? Not yet.")
            + "\n\nDone.",
            "tool-call-inside-reasoning": reasoning("Maybe " + empty) + "Done.",
            "truncated-in-reasoning": open_tag + "Still thinking about the wea",
        }
    return cases


# DeepSeek. R1's own tokenizer (DeepSeek-V3's) is not shipped: deepseek-llm stands in for it.
DS_BEGIN, DS_END = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"


def r1_call(name: str, args: str) -> str:
    return f"<｜tool▁call▁begin｜>function<｜tool▁sep｜>{name}\n```json\n{args}\n```<｜tool▁call▁end｜>"


def v31_call(name: str, args: str) -> str:
    return f"<｜tool▁call▁begin｜>{name}<｜tool▁sep｜>{args}<｜tool▁call▁end｜>"


def r1_calls(calls: list[str]) -> str:
    return DS_BEGIN + "\n".join(calls) + DS_END


def v31_calls(calls: list[str]) -> str:
    return DS_BEGIN + "".join(calls) + DS_END


THINK = ("<think>", "</think>")
R1_CORPUS = corpus(r1_call, r1_calls, THINK, DS_BEGIN, forced_open=True)
V31_CORPUS = corpus(v31_call, v31_calls, THINK, DS_BEGIN, forced_open=True)
V31_NO_THINKING_CORPUS = corpus(v31_call, v31_calls, None, DS_BEGIN)

# (template, vocab, options, corpus, family)
DEEPSEEK = {
    "r1-llama-cpp": ("llama-cpp-deepseek-r1.jinja", "ggml-vocab-deepseek-llm.gguf", {}, R1_CORPUS),
    "r1-distill-qwen": ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "ggml-vocab-qwen2.gguf", {}, R1_CORPUS),
    "v3.1-thinking": (
        "deepseek-ai-DeepSeek-V3.1.jinja",
        "ggml-vocab-deepseek-llm.gguf",
        {"enable_thinking": True},
        V31_CORPUS,
    ),
    "v3.1-no-thinking": (
        "deepseek-ai-DeepSeek-V3.1.jinja",
        "ggml-vocab-deepseek-llm.gguf",
        {"enable_thinking": False},
        V31_NO_THINKING_CORPUS,
    ),
}


@pytest.mark.parametrize(("variant", "case"), [(v, c) for v, spec in DEEPSEEK.items() for c in sorted(spec[3])])
def test_deepseek_family_matches_reference_token_by_token(kit: Any, variant: str, case: str) -> None:
    template, vocab, options, cases = DEEPSEEK[variant]
    kit.check_against_reference(template, cases[case], "deepseek", vocab, **options)


@pytest.mark.parametrize("case", ["reasoning-only", "reasoning-and-content", "marker-like-in-reasoning"])
def test_deepseek_r1_distill_llama_reasoning_matches_reference(kit: Any, case: str) -> None:
    # This template declares no tool support: only its (forced-open) reasoning is parsed.
    kit.check_against_reference(
        "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", R1_CORPUS[case], "think", "ggml-vocab-llama-bpe.gguf", tools=None
    )


# Mistral. Tekken (a byte-level BPE) is not shipped: the Llama 3 BPE vocab stands in for it.
MISTRAL_VOCAB = "ggml-vocab-llama-bpe.gguf"


def mistral_call(name: str, args: str) -> str:
    return f"[TOOL_CALLS]{name}[ARGS]{args}"


MISTRAL_CORPUS = corpus(mistral_call, "".join, ("[THINK]", "[/THINK]"), "[TOOL_CALLS]")
MISTRAL_TEMPLATES = ["mistralai-Ministral-3-14B-Reasoning-2512.jinja", "unsloth-mistral-Devstral-Small-2507.jinja"]


@pytest.mark.parametrize("case", sorted(MISTRAL_CORPUS))
@pytest.mark.parametrize("template", MISTRAL_TEMPLATES)
def test_mistral_family_matches_reference_token_by_token(kit: Any, template: str, case: str) -> None:
    kit.check_against_reference(template, MISTRAL_CORPUS[case], "mistral", MISTRAL_VOCAB)


def nemo_call(name: str, args: str) -> str:
    return f'{{"name": "{name}", "arguments": {args}, "id": "a1b2c3d4e"}}'


NEMO_CORPUS = corpus(nemo_call, lambda calls: "[TOOL_CALLS][" + ", ".join(calls) + "]", None, "[TOOL_CALLS]")


@pytest.mark.parametrize("case", sorted(NEMO_CORPUS))
def test_mistral_nemo_matches_reference_token_by_token(kit: Any, case: str) -> None:
    kit.check_against_reference("mistralai-Mistral-Nemo-Instruct-2407.jinja", NEMO_CORPUS[case], "mistral", MISTRAL_VOCAB)


# Mistral-Small-3.2 writes [TOOL_CALLS]NAME[CALL_ID]id[ARGS]{...}. The parser llama.cpp builds
# for it at run time expects NAME[ARGS][CALL_ID]id[ARGS] and drops the whole message; the
# expectations below are those of llama.cpp's own tests for this template (test-chat.cpp).
MISTRAL_SMALL = "Mistral-Small-3.2-24B-Instruct-2506.jinja"


def mistral_small_call(name: str, args: str, call_id: str) -> str:
    return f"[TOOL_CALLS]{name}[CALL_ID]{call_id}[ARGS]{args}"


@pytest.mark.parametrize("text", [" \n Hello, world!\nWhat's up?", "Plain [TOOL_CALL] text."])
def test_mistral_small_content_matches_reference(kit: Any, text: str) -> None:
    kit.check_against_reference(MISTRAL_SMALL, text, "mistral", MISTRAL_VOCAB)


def test_mistral_small_calls_keep_the_model_ids_although_the_reference_rejects_them(kit: Any) -> None:
    text = "Checking. " + mistral_small_call("get_weather", PARIS_ARGS, "000000001") + mistral_small_call(
        "get_time", "{}", "000000002"
    )
    model = kit.vocab_model(MISTRAL_SMALL, MISTRAL_VOCAB)
    parser = kit.StreamParser(model, kit.MESSAGES, kit.TOOLS)
    assert parser.family == "mistral"
    assert kit.as_plain(parser.reference_parse(text, False)) == {"reasoning": "", "content": "", "tool_calls": []}
    msg, events = kit.run(parser, kit.token_pieces(model, text))
    assert msg.content == "Checking. " and msg.ended_calls == {0, 1}
    assert [(c["name"], c["arguments"], c["id"]) for c in msg.tool_calls] == [
        ("get_weather", PARIS_ARGS, "000000001"),
        ("get_time", "{}", "000000002"),
    ]
    whole, _ = kit.run(kit.StreamParser(model, kit.MESSAGES, kit.TOOLS), [text])
    assert kit.as_plain(whole) == kit.as_plain(msg)


def test_mistral_small_truncated_id_is_dropped_like_a_cut_off_header(kit: Any) -> None:
    parser = kit.StreamParser(kit.vocab_model(MISTRAL_SMALL, MISTRAL_VOCAB), kit.MESSAGES, kit.TOOLS)
    msg, _ = kit.run(parser, ["Checking. [TOOL_CALLS]get_weather[CALL_ID]0000"])
    assert (msg.content, msg.tool_calls) == ("Checking. ", [])


@pytest.mark.parametrize("case", ["reasoning-only", "reasoning-and-content", "content-only"])
@pytest.mark.parametrize("template", MISTRAL_TEMPLATES)
def test_mistral_reasoning_without_tools_matches_reference(kit: Any, template: str, case: str) -> None:
    # [THINK] reasoning is followed by whitespace the reference does not count as content.
    kit.check_against_reference(template, " \n" + MISTRAL_CORPUS[case], "think", MISTRAL_VOCAB, tools=None)


# Llama 3.x: its own tokenizer ships as the Llama 3 BPE vocab.
def llama3_call(name: str, args: str) -> str:
    return f'{{"name": "{name}", "parameters": {args}}}'


LLAMA3_CORPUS = corpus(llama3_call, ", ".join, None, "{")
LLAMA3_TEMPLATES = [
    "meta-llama-Llama-3.1-8B-Instruct.jinja",
    "meta-llama-Llama-3.2-3B-Instruct.jinja",
    "meta-llama-Llama-3.3-70B-Instruct.jinja",
]


@pytest.mark.parametrize("case", sorted(LLAMA3_CORPUS))
@pytest.mark.parametrize("template", LLAMA3_TEMPLATES)
def test_llama3_family_matches_reference_token_by_token(kit: Any, template: str, case: str) -> None:
    kit.check_against_reference(template, LLAMA3_CORPUS[case], "llama3", "ggml-vocab-llama-bpe.gguf")


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "function", "name": "get_time", "parameters": {}}',
        '{ "name" : "get_time",\n "parameters" : { } },\n {"name": "get_time", "parameters": {}}\n',
        '{"name": "get_weather", "parameters": {"city": "Paris"}},',
    ],
)
def test_llama3_spacing_wrapper_and_trailing_separator_match_reference(kit: Any, text: str) -> None:
    kit.check_against_reference(LLAMA3_TEMPLATES[0], text, "llama3", "ggml-vocab-llama-bpe.gguf")


# gpt-oss harmony. o200k_harmony is not shipped: the Llama 3 BPE vocab stands in, so the
# channel tokens arrive as plain text pieces.
GPT_OSS = "openai-gpt-oss-120b.jinja"
ANALYSIS = "<|channel|>analysis<|message|>{}<|end|><|start|>assistant"
FINAL = "<|channel|>final<|message|>{}"
PREAMBLE = "<|channel|>commentary<|message|>{}<|end|><|start|>assistant"
CALL_IN_ROLE = " to=functions.{}<|channel|>commentary <|constrain|>json<|message|>{}"
CALL_IN_CHANNEL = "<|channel|>commentary to=functions.{} json<|message|>{}"
HARMONY_ONE_CALL = ANALYSIS.format("I need the tool.") + CALL_IN_ROLE.format("get_weather", PARIS_ARGS)
# One call per response: harmony ends the assistant's turn at the call.
HARMONY_CORPUS = {
    "reasoning-only": ANALYSIS.format("The user wants weather.")[: -len("<|start|>assistant")],
    "content-only": FINAL.format("The weather is sunny."),
    "reasoning-and-content": ANALYSIS.format("Let me think.") + FINAL.format("It is sunny in Paris."),
    "several-analysis-and-preamble": ANALYSIS.format("A1.") + PREAMBLE.format("Checking.") + ANALYSIS.format("A2.")
    + FINAL.format("Sunny."),
    "one-call-in-role": HARMONY_ONE_CALL,
    "one-call-in-channel": ANALYSIS.format("x") + CALL_IN_CHANNEL.format("get_weather", PARIS_ARGS),
    "call-without-analysis": CALL_IN_ROLE.format("get_weather", PARIS_ARGS),
    "preamble-then-call": PREAMBLE.format("Let me check.") + CALL_IN_CHANNEL.format("get_time", "{}"),
    "empty-args-call": ANALYSIS.format("x") + CALL_IN_ROLE.format("get_time", "{}"),
    "unicode-and-escapes": ANALYSIS.format('Ä "quote" \\ 日本語 🙂') + CALL_IN_ROLE.format("get_weather", UNICODE_ARGS[0]),
    "unicode-raw-args": CALL_IN_ROLE.format("get_weather", UNICODE_ARGS[1]),
    "unicode-content": ANALYSIS.format("Zürich 🙂") + FINAL.format('Résumé: ✓ \\n "ok" 東京'),
    "marker-like-in-reasoning": ANALYSIS.format("Should I use <|channel|>final<|message|> or to=functions.get_time? <|en")
    + FINAL.format("Done."),
    "stray-commentary-before-final": "<|channel|>commentary to=assistant" + FINAL.format("Sunny."),
    "truncated-in-arguments": HARMONY_ONE_CALL[: HARMONY_ONE_CALL.index("Paris") + 3],
    "truncated-in-header": HARMONY_ONE_CALL[: HARMONY_ONE_CALL.index("get_weather") + 7],
    "truncated-in-reasoning": "<|channel|>analysis<|message|>Still thinking about the wea",
    "truncated-before-next-message": ANALYSIS.format("Done thinking.")[:-5],
    "undeclared-recipient-dropped-like-reference": ANALYSIS.format("x") + " to=browser.search<|channel|>commentary"
    '<|message|>{"q": "x"}<|end|>',
}


def harmony_cases() -> list[tuple[str, bool]]:
    """(case, with tools): calls are read with tools declared; without, the reference drops
    a message to any recipient as unsolicited (with tools it rejects an undeclared one)."""
    return [(c, True) for c in sorted(HARMONY_CORPUS) if not c.startswith("undeclared")] + [
        (c, False) for c in sorted(HARMONY_CORPUS) if "call" not in c
    ]


@pytest.mark.parametrize(("case", "with_tools"), harmony_cases())
def test_harmony_family_matches_reference_token_by_token(kit: Any, case: str, with_tools: bool) -> None:
    options = {} if with_tools else {"tools": None}
    kit.check_against_reference(GPT_OSS, HARMONY_CORPUS[case], "harmony", "ggml-vocab-llama-bpe.gguf", **options)


def test_harmony_without_reasoning_extraction_stays_with_reference(kit: Any) -> None:
    # The reference then returns the analysis message, channel markers and all, as content.
    text = HARMONY_CORPUS["reasoning-and-content"]
    kit.check_against_reference(GPT_OSS, text, "reference", "ggml-vocab-llama-bpe.gguf", extract_reasoning=False)


# Hermes (the first JSON family): the reference also reads several comma-separated calls
# inside one <tool_call>.
HERMES_OBJECTS = {
    "two-in-one-wrapper": '<tool_call>\n{{"name": "get_weather", "arguments": {paris}}}, '
    '{{"name": "get_time", "arguments": {{}}}}\n</tool_call>',
    "three-then-another-wrapper": '<tool_call>\n{{"name": "get_time", "arguments": {{}}}} ,\n'
    '{{"name": "get_weather", "arguments": {paris}}},{{"name": "get_time", "arguments": {{ }}}}</tool_call>\n'
    '<tool_call>\n{{"name": "get_time", "arguments": {{}}}}\n</tool_call>',
}


@pytest.mark.parametrize("case", HERMES_OBJECTS)
@pytest.mark.parametrize("template", ["Qwen-Qwen3-0.6B.jinja", "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"])
def test_hermes_comma_separated_calls_in_one_wrapper_match_reference(kit: Any, template: str, case: str) -> None:
    text = "Checking. " + HERMES_OBJECTS[case].format(paris=PARIS_ARGS)
    kit.check_against_reference(template, text, "hermes")
