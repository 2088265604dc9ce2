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
PYTHONIC_LIST_CUT_AFTER_CALL = (
    "policy: each call of a pythonic list ([f(a=1), g(b=2)]) is delivered when its ')' closes, as "
    "each call of the other formats is when it closes; a list cut off after a whole call keeps that "
    "call (as the corpus expects of every other family's truncated-second-parallel-call), where the "
    "corpus reads the cut-off list as no call at all."
)

EXCEPTIONS: dict[str, str] = {
    "deepseek/vllm-v3-malformed-missing-brace": STREAMED_UNCLOSED_CALL,
    "deepseek/v3-truncated-mid-arguments": STREAMED_UNCLOSED_CALL,
    "deepseek/v31-truncated-mid-arguments": STREAMED_UNCLOSED_CALL,
    "deepseek/v32-truncated-mid-arguments": STREAMED_UNCLOSED_CALL,
    "deepseek/v32-truncated-second-parallel-call": STREAMED_UNCLOSED_CALL,
    "deepseek/v4-truncated-mid-arguments": STREAMED_UNCLOSED_CALL,
    "deepseek/v4-truncated-second-parallel-call": STREAMED_UNCLOSED_CALL,
    "deepseek/v41-truncated-mid-arguments": STREAMED_UNCLOSED_CALL,
    "deepseek/v41-truncated-second-parallel-call": STREAMED_UNCLOSED_CALL,
    "gemma4/truncated-before-close": STREAMED_UNCLOSED_CALL,
    "gemma4/truncated-mid-string": STREAMED_UNCLOSED_CALL,
    "gemma4/truncated-second-parallel-call": STREAMED_UNCLOSED_CALL,
    "glm/glm47-truncated-inside-arg-value": STREAMED_UNCLOSED_CALL,
    "glm/glm47-truncated-before-close-call": STREAMED_UNCLOSED_CALL,
    "glm/glm45-truncated-after-arg-key": STREAMED_UNCLOSED_CALL,
    "gpt-oss/harmony-truncated-in-arguments": STREAMED_UNCLOSED_CALL,
    "kimi/k26-truncated-inside-arguments": STREAMED_UNCLOSED_CALL,
    "kimi/k3-truncated-inside-argument": STREAMED_UNCLOSED_CALL,
    "llama/l3-truncated-inside-parameters": STREAMED_UNCLOSED_CALL,
    "mistral/v13think-truncated-in-arguments": STREAMED_UNCLOSED_CALL,
    "qwen3-hermes/bug-sglang-30480-truncated-mid-arguments": STREAMED_UNCLOSED_CALL,
    "qwen3-hermes/vllm-invalid-json-missing-brace": STREAMED_UNCLOSED_CALL,
    "qwen3-hermes/truncated-mid-arguments-no-thinking": STREAMED_UNCLOSED_CALL,
    "qwen3-hermes/truncated-mid-arguments-thinking": STREAMED_UNCLOSED_CALL,
    "qwen3-hermes/truncated-second-parallel-call": STREAMED_UNCLOSED_CALL,
    "qwen3-xml/q38-truncated-in-parameter": STREAMED_UNCLOSED_CALL,
    "llama/l4-truncated-missing-close-bracket": PYTHONIC_LIST_CUT_AFTER_CALL,
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
