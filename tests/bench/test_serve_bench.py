"""The side-by-side serving benchmark, end to end on tiny settings, against pyllm alone (CI has
no llama-server build): every scenario runs through real HTTP streams and reports figures."""
import json
import subprocess
import sys
import tempfile
from collections import Counter

import pytest

import pyllm

# Outside the checkout, as in tests/cli: `python -m` from the root would import the source tree.
OUTSIDE = tempfile.gettempdir()


def test_quick_run_without_llama_server_reports_every_scenario_for_pyllm(tmp_path):
    out = tmp_path / "serve.json"
    r = subprocess.run(
        [sys.executable, "-m", "pyllm.bench", "serve", "--quick", "--llama-server", str(tmp_path / "no-llama-server"),
         "--json", str(out)],
        capture_output=True, text=True, timeout=900, cwd=OUTSIDE)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "no-llama-server not found: running pyllm alone" in r.stderr
    report = json.loads(out.read_text())
    rows = {row["scenario"]: row for row in report["rows"]}
    assert set(rows) == {
        "TTFT, short prompt (OpenAI), p50", "TTFT, short prompt (OpenAI), p95",
        "TTFT, short prompt (Anthropic), p50", "TTFT, short prompt (Anthropic), p95",
        "TTFT, 256-token prompt (OpenAI), p50", "TTFT, 256-token prompt (OpenAI), p95",
        "decode, 1 stream, 16 tokens (OpenAI)", "decode, 1 stream, 16 tokens (Anthropic)",
        "aggregate, 2 streams x 16 tokens (OpenAI)",
        "prompt cache, 256-token shared prefix (OpenAI): cold TTFT p50",
        "prompt cache, 256-token shared prefix (OpenAI): hit TTFT p50",
        "prompt cache: hit TTFT / cold TTFT",
        "agent replay, 2 turns, 256-token system prompt, billing header (Anthropic)",
    }
    for row in rows.values():
        assert set(row["values"]) == {"pyllm"} and row["values"]["pyllm"] > 0, row
        assert row["ratio"] is None
    # Greedy, fixed max_tokens: every request generated exactly what it asked for.
    generated = report["generated"]["pyllm"]
    requests = Counter(scenario for scenario, _ in generated)
    assert requests == {"ttft-short": 4, "ttft-long": 1, "decode": 2, "aggregate-2": 2, "cache": 2, "agent": 2}
    max_tokens = {"ttft-short": 4, "ttft-long": 4, "decode": 16, "aggregate-2": 16, "cache": 4, "agent": 8}
    assert all(n == max_tokens[scenario] for scenario, n in generated), generated
    assert "| TTFT, short prompt (OpenAI), p50 | ms |" in r.stdout


@pytest.mark.skipif(pyllm.build_info()["backends"] != ["CPU"], reason="a GPU build runs the GPU mode")
def test_gpu_mode_on_a_cpu_build_is_skipped_with_the_reason():
    r = subprocess.run([sys.executable, "-m", "pyllm.bench", "serve", "--gpu"], capture_output=True, text=True,
                       timeout=120, cwd=OUTSIDE)
    assert r.returncode == 0, r.stderr
    assert "GPU mode skipped: pyllm is a CPU-only build" in r.stderr
