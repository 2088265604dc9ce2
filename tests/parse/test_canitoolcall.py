"""The canitoolcall conformance corpus (469 recorded model outputs, 9 families) through the
native parser, via the corpus's own pytest plugin: one test per fixture (``canitoolcall_fixture``),
each checked non-streamed (the whole output in one feed) and streamed (whole, split at the
format's markers, token by token, random token groups), with the corpus's own checks
(expected parse, stream = non-stream, split invariance, no marker leakage, JSON arguments,
schema, call order).

How a fixture becomes a request (template, vocab, token pieces): pyllm.bench.conformance.

Every fixture not in EXCEPTIONS passes or soft-passes. EXCEPTIONS is the one list of those
that do not, each with its reason: a documented pyllm policy the expected outcome conflicts
with ("policy: ..."), or a parser gap not fixed yet ("gap: ..."). A listed fixture that
conforms fails the test, so the list only shrinks.
"""
from __future__ import annotations

from typing import Any

import pytest
from canitoolcall import checks
from canitoolcall.chunking import parse_strategies
from canitoolcall.pytest_plugin import assert_conforms, assert_equivalent, family_for
from canitoolcall.results import Status

from pyllm.bench import conformance

STRATEGIES = parse_strategies(["one", "special", "token", "rand:1:8", "rand:2:8"])

STREAMED_UNCLOSED_CALL = (
    "policy: a call streams as it is generated (name once complete, arguments as they grow), so a "
    "call the output never closes (cut off by max_tokens, or malformed) has been sent when the output "
    "ends; the parser leaves it unended, the response ends with finish_reason length, and the "
    "non-streamed response holds only ended calls (CONFORMANCE.md, PARSER.md). The corpus judges any "
    "streamed part of such a call a failure. Checked: dropping the unended calls, every stream conforms."
)
DSML_V41 = "gap: DeepSeek V4.1 DSML (<｜DSML｜ calls>, spaced tags) has no native module; the reference fallback (V4 grammar) returns it as content"
DSML_REFERENCE = "gap: DeepSeek V3.2/V4 DSML has no native module; the reference fallback returns cut-off calls and rejects self-closing invokes"
GEMMA4_REFERENCE = "gap: Gemma 4 has no native module; the reference fallback drops text after a call and returns cut-off calls"
KIMI_K3_REFERENCE = "gap: Kimi K3 (<|open|>/<|close|> XTML) has no native module; the reference fallback mistypes null and rejects escaped markers"
LLAMA4_PYTHONIC = "gap: Llama 4 pythonic calls ([f(a=1)]); llama.cpp ships no Llama 4 template, the Llama 3.3 one reads JSON calls only"
GLM_NO_PARAMETER_TOOL = "gap: a GLM tool declared without parameters makes llama.cpp's layout unreadable, so the request falls back to the reference, which rejects text after the call"
UNCLOSED_VALUE = "gap: a tagged value whose closing tag is missing (</arg_value>, </parameter>) runs into the next tag"
HARMONY_AFTER_CALL = "gap: harmony reads nothing after the first tool call (a second call, or a final message after it)"
KIMI_NOISE_IN_SECTION = "gap: text between Kimi-K2's section and call markers ends the section instead of being skipped"
MISTRAL_V3_ARGUMENTS_FIRST = "gap: Mistral v3 [TOOL_CALLS] [{\"arguments\": ..., \"name\": ...}] (arguments before the name) is not read"
MISTRAL_THINK_TAGS = "gap: <think> reasoning in a Mistral [THINK] template is not split out"
QWEN3_CODER_NO_NEWLINES = "gap: Qwen3-Coder calls written without the template's newlines (<tool_call><function=...>) stay content"

EXCEPTIONS: dict[str, str] = {
    "deepseek/vllm-v3-malformed-missing-brace": STREAMED_UNCLOSED_CALL,
    "deepseek/v3-truncated-mid-arguments": STREAMED_UNCLOSED_CALL,
    "deepseek/v31-truncated-mid-arguments": STREAMED_UNCLOSED_CALL,
    "glm/glm47-truncated-inside-arg-value": STREAMED_UNCLOSED_CALL,
    "glm/glm47-truncated-before-close-call": STREAMED_UNCLOSED_CALL,
    "glm/glm45-truncated-after-arg-key": STREAMED_UNCLOSED_CALL,
    "gpt-oss/harmony-truncated-in-arguments": STREAMED_UNCLOSED_CALL,
    "kimi/k26-truncated-inside-arguments": STREAMED_UNCLOSED_CALL,
    "llama/l3-truncated-inside-parameters": STREAMED_UNCLOSED_CALL,
    "mistral/v13think-truncated-in-arguments": STREAMED_UNCLOSED_CALL,
    "qwen3-hermes/bug-sglang-30480-truncated-mid-arguments": STREAMED_UNCLOSED_CALL,
    "qwen3-hermes/vllm-invalid-json-missing-brace": STREAMED_UNCLOSED_CALL,
    "qwen3-hermes/truncated-mid-arguments-no-thinking": STREAMED_UNCLOSED_CALL,
    "qwen3-hermes/truncated-mid-arguments-thinking": STREAMED_UNCLOSED_CALL,
    "qwen3-hermes/truncated-second-parallel-call": STREAMED_UNCLOSED_CALL,
    "qwen3-xml/q38-truncated-in-parameter": STREAMED_UNCLOSED_CALL,
    "deepseek/sglang-v4-self-closing-invoke": DSML_REFERENCE,
    "deepseek/v32-truncated-mid-arguments": DSML_REFERENCE,
    "deepseek/v32-truncated-second-parallel-call": DSML_REFERENCE,
    "deepseek/v4-truncated-mid-arguments": DSML_REFERENCE,
    "deepseek/v4-truncated-second-parallel-call": DSML_REFERENCE,
    "deepseek/v41-empty-arguments": DSML_V41,
    "deepseek/v41-long-arguments": DSML_V41,
    "deepseek/v41-marker-in-arguments": DSML_V41,
    "deepseek/v41-multi-turn-after-tool-result": DSML_V41,
    "deepseek/v41-numeric-arguments": DSML_V41,
    "deepseek/v41-parallel-two-calls": DSML_V41,
    "deepseek/v41-reasoning-parallel-text-before": DSML_V41,
    "deepseek/v41-reasoning-single-call": DSML_V41,
    "deepseek/v41-single-call": DSML_V41,
    "deepseek/v41-string-false-json": DSML_V41,
    "deepseek/v41-text-before-call": DSML_V41,
    "deepseek/v41-truncated-second-parallel-call": DSML_V41,
    "deepseek/v41-unescaped-string-value": DSML_V41,
    "deepseek/v41-unicode-emoji": DSML_V41,
    "deepseek/v41-whitespace-string-value": DSML_V41,
    "deepseek/vllm-v41-reasoning-text-before-parallel-calls": DSML_V41,
    "deepseek/vllm-v41-text-before-parallel-calls": DSML_V41,
    "gemma4/sglang-text-around-call": GEMMA4_REFERENCE,
    "gemma4/text-after-call": GEMMA4_REFERENCE,
    "gemma4/text-after-call-thinking": GEMMA4_REFERENCE,
    "gemma4/truncated-before-close": GEMMA4_REFERENCE,
    "gemma4/truncated-mid-string": GEMMA4_REFERENCE,
    "gemma4/truncated-second-parallel-call": GEMMA4_REFERENCE,
    "glm/glm45-ollama-content-after-call": GLM_NO_PARAMETER_TOOL,
    "glm/glm47-missing-last-close-arg-value": UNCLOSED_VALUE,
    "gpt-oss/vllm-call-then-final": HARMONY_AFTER_CALL,
    "gpt-oss/vllm-sequential-calls": HARMONY_AFTER_CALL,
    "kimi/k2i-vllm-noise-between-markers": KIMI_NOISE_IN_SECTION,
    "kimi/k3-control-marker-text-in-value": KIMI_K3_REFERENCE,
    "kimi/k3-truncated-inside-argument": KIMI_K3_REFERENCE,
    "kimi/k3-typed-values": KIMI_K3_REFERENCE,
    "kimi/k3-vllm-call-thinking-disabled": KIMI_K3_REFERENCE,
    "kimi/k3-xtml-attr-escaping": KIMI_K3_REFERENCE,
    "llama/l4-bug-leading-underscore-identifier": LLAMA4_PYTHONIC,
    "llama/l4-meta-pythonic-int-and-string": LLAMA4_PYTHONIC,
    "llama/l4-meta-pythonic-parallel": LLAMA4_PYTHONIC,
    "llama/l4-vllm-pythonic-escaped-strings": LLAMA4_PYTHONIC,
    "llama/l4-vllm-pythonic-more-types": LLAMA4_PYTHONIC,
    "llama/l4-vllm-pythonic-parallel-no-spaces": LLAMA4_PYTHONIC,
    "llama/l4-vllm-pythonic-parameterless": LLAMA4_PYTHONIC,
    "llama/l4-vllm-pythonic-python-start-end": LLAMA4_PYTHONIC,
    "mistral/vllm-v11-think-text": MISTRAL_THINK_TAGS,
    "mistral/vllm-v3-arguments-before-name": MISTRAL_V3_ARGUMENTS_FIRST,
    "mistral/vllm-v3-name-inside-arguments": MISTRAL_V3_ARGUMENTS_FIRST,
    "qwen3-xml/bug-coder-number-outside-int64": QWEN3_CODER_NO_NEWLINES,
    "qwen3-xml/bug-coder-text-after-call": QWEN3_CODER_NO_NEWLINES,
    "qwen3-xml/bug-missing-close-parameter-before-function": UNCLOSED_VALUE,
    "qwen3-xml/vllm-coder-missing-close-parameter": UNCLOSED_VALUE,
}


def _failing(fixture: Any, family: Any, obs: Any) -> list[checks.CheckResult]:
    return [r for r in checks.run_checks(fixture, family, obs) if r.status in (Status.FAIL, Status.ERROR)]


def _describe(rows: list[checks.CheckResult]) -> str:
    return "; ".join(f"{r.check}[{r.strategy}]: {r.detail}" for r in rows)


def test_canitoolcall_fixture(canitoolcall_fixture: Any) -> None:
    fixture = canitoolcall_fixture
    family = family_for(fixture)
    obs = conformance.observe(fixture, family, STRATEGIES)
    failing = _failing(fixture, family, obs)
    reason = EXCEPTIONS.get(fixture.id)
    if reason is None:
        assert_conforms(fixture, obs.nonstream, soft=True, family=family)
        for streamed in obs.streams.values():
            assert_conforms(fixture, streamed, soft=True, family=family)
            assert_equivalent(obs.nonstream, streamed, soft=True)
        assert not failing, _describe(failing)
        return
    assert failing, f"{fixture.id} conforms now: remove it from EXCEPTIONS"
    if reason is STREAMED_UNCLOSED_CALL:
        dropped = conformance.observe(fixture, family, STRATEGIES, ended_calls_only=True)
        still = _failing(fixture, family, dropped)
        assert not still, "not only the unended call: " + _describe(still)
    pytest.xfail(reason)
