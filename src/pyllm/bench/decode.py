"""Decode speed of the engine against llama.cpp's own llama-batched-bench, same model, same
threads, same machine, alternating in one run.

llama-batched-bench decodes ``B`` sequences in lock step with no sampling; the engine runs
``B`` real tasks (greedy sampling, detokenization, stop checks, output queues). Generation
speed is compared: tokens generated after each task's first token, over the time from the
first task's first token to the last task's end. Build the tool with
``bash bench/build_llama_tools.sh``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyllm
from pyllm.bench.http import TOOLS

PROMPT_TOKENS = 16


def llama_batched_bench(model: Path, parallel: int, n_gen: int, threads: int) -> float:
    """S_TG (generated tokens/s over all sequences) reported by llama-batched-bench."""
    cmd = [str(TOOLS / "llama-batched-bench"), "-m", str(model), "-c", str(max(1024, parallel * (PROMPT_TOKENS + n_gen) + 64)),
           "-b", "512", "-ub", "512", "-npp", str(PROMPT_TOKENS), "-ntg", str(n_gen), "-npl", str(parallel),
           "-t", str(threads), "-tb", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 8 and cells[0] == str(PROMPT_TOKENS) and cells[2] == str(parallel):
            return float(cells[7])
    raise RuntimeError(f"could not read llama-batched-bench output:\n{out}")


def engine_tg(engine: pyllm.Engine, parallel: int, n_gen: int) -> float:
    prompt = [2] + [engine.model.tokenize(" the")[0]] * (PROMPT_TOKENS - 1)
    tasks = [engine.submit(prompt, max_tokens=n_gen, temperature=0, ignore_eos=True) for _ in range(parallel)]
    for t in tasks:
        t.wait()
    results = [t.result() for t in tasks]
    generated = sum(r.usage.completion_tokens - 1 for r in results)
    # Every task was admitted together; the decode phase spans first tokens to the last end.
    span_ms = max(r.timings.prefill_ms + r.timings.decode_ms for r in results) - min(r.timings.prefill_ms for r in results)
    return generated / (span_ms / 1000)


def run(model_path: Path, threads: int, n_gen: int, repeats: int) -> list[dict[str, Any]]:
    model = pyllm.Model(model_path)
    results = []
    for parallel in (1, 4):
        engine = pyllm.Engine(model, n_parallel=parallel, n_ctx=parallel * 512, n_threads=threads)
        engine_tg(engine, parallel, 8)  # warm-up
        ours, ref = [], []
        for _ in range(repeats):
            ours.append(engine_tg(engine, parallel, n_gen))
            ref.append(llama_batched_bench(model_path, parallel, n_gen, threads))
            time.sleep(0.2)
        engine.close()
        o, r = statistics.median(ours), statistics.median(ref)
        results.append({"parallel": parallel, "engine_tg_tps": o, "llama_batched_bench_tg_tps": r,
                        "overhead_pct": (r / o - 1) * 100})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench decode", description=__doc__)
    parser.add_argument("-m", "--model", type=Path, default=None, help="GGUF (default: the packaged model)")
    parser.add_argument("-t", "--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("-n", "--n-gen", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (TOOLS / "llama-batched-bench").exists():
        print(f"{TOOLS / 'llama-batched-bench'} not found: run bash bench/build_llama_tools.sh", file=sys.stderr)
        return 2
    pyllm.set_log_level("error")
    results = run(args.model or pyllm.default_model_path(), args.threads, args.n_gen, args.repeats)
    if args.json:
        print(json.dumps({"results": results}, indent=2))
        return 0
    print("| streams | engine TG tok/s | llama-batched-bench TG tok/s | engine overhead |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['parallel']} | {r['engine_tg_tps']:.1f} | {r['llama_batched_bench_tg_tps']:.1f} | {r['overhead_pct']:+.1f}% |")
    return 0
