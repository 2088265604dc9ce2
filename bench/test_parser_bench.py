"""pytest-benchmark view of the parser benchmark: ``pytest bench/test_parser_bench.py``.

Not under ``testpaths``, so plain ``pytest`` (CI) never collects it.
"""
from __future__ import annotations

from typing import Any

import pytest

from pyllm import _bench
from pyllm.bench import parser as parser_bench


@pytest.mark.parametrize("n_tokens", parser_bench.LENGTHS)
def test_stream_parser_per_token(benchmark: Any, n_tokens: int) -> None:
    parser = parser_bench.make_parser()
    assert parser.family == "hermes"
    pieces = parser_bench.token_stream(n_tokens)
    seconds = benchmark(_bench.time_stream_parser, parser.output_format, pieces, False)
    benchmark.extra_info["us_per_token"] = seconds / len(pieces) * 1e6
    assert seconds / len(pieces) < 0.5e-6


@pytest.mark.parametrize("family", [f for f in parser_bench.FAMILIES if f != "hermes"])
def test_other_families_per_token(benchmark: Any, family: str) -> None:
    parser = parser_bench.make_parser(family)
    pieces = parser_bench.token_stream(parser_bench.LENGTHS[-1], family)
    seconds = benchmark(_bench.time_stream_parser, parser.output_format, pieces, False)
    benchmark.extra_info["us_per_token"] = seconds / len(pieces) * 1e6
    assert seconds / len(pieces) < 0.5e-6
