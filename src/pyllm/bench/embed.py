"""Embeddings per second: ``pyllm serve --embeddings`` against ``llama-server --embeddings``,
same GGUF, threads, batch size and pooling (mean), in the same run.

llama-server is built from the same vendor/llama.cpp source by ``bash
bench/build_llama_tools.sh``; without it pyllm runs alone and says so. Scenarios: one
request carrying 1, 16 or 128 short inputs (distinct sentences of about a dozen tokens),
sent back to back; and 16 concurrent requests of one input each. Each sample is a burst of
requests timed on the client (httpx over loopback, ``encoding_format`` float); servers
alternate sample by sample (A B, then B A) so that load from other processes hits both, and
the medians are reported. The vectors of the two servers are compared (cosine similarity).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np

import pyllm
from pyllm.bench.http import Server, add_llama_server_argument, llama_server_or_none, pyllm_serve_command, running

PYLLM, LLAMA = "pyllm", "llama-server"

_SUBJECTS = "keeper lamp storm tide harbour ship signal fog beam gull wave logbook lens bell rope anchor".split()


def sentences(n: int, offset: int = 0) -> list[str]:
    """``n`` distinct short sentences (no two requests of a run embed the same text)."""
    out = []
    for i in range(offset, offset + n):
        a, b = _SUBJECTS[i % len(_SUBJECTS)], _SUBJECTS[(i // len(_SUBJECTS)) % len(_SUBJECTS)]
        out.append(f"Sentence {i}: the {a} and the {b} waited by the shore at night.")
    return out


def commands(model: Path, llama_server: Path | None, threads: int, n_parallel: int) -> dict[str, list[str]]:
    common = ["-m", str(model), "-t", str(threads), "-b", "512", "--embeddings", "--pooling", "mean"]
    out = {PYLLM: pyllm_serve_command(*common, "-np", "1", "-c", "1024", "--max-queued", "256")}
    if llama_server is not None:
        # Each llama-server slot holds one input: -np slots of 512 tokens decode together, in one
        # unified KV buffer, micro-batches of 512 (-ub) and no flash attention, as pyllm's embedder.
        out[LLAMA] = [str(llama_server), *common, "-np", str(n_parallel), "-c", str(512 * n_parallel),
                      "-ub", "512", "-tb", str(threads), "-kvu", "-fa", "off", "-ngl", "0", "--no-webui"]
    return out


async def _post(client: httpx.AsyncClient, base_url: str, texts: list[str]) -> np.ndarray:
    r = await client.post(base_url + "/v1/embeddings", json={"input": texts, "encoding_format": "float"})
    r.raise_for_status()
    data = sorted(r.json()["data"], key=lambda d: d["index"])
    return np.array([d["embedding"] for d in data], dtype=np.float32)


async def burst(client: httpx.AsyncClient, base_url: str, n_inputs: int, concurrent: int, offset: int,
                min_seconds: float) -> float:
    """Inputs per second over requests sent until ``min_seconds`` passed (``concurrent`` at a time)."""
    done = 0
    start = time.perf_counter()
    while True:
        batches = [sentences(n_inputs, offset + done + k * n_inputs) for k in range(concurrent)]
        await asyncio.gather(*(_post(client, base_url, texts) for texts in batches))
        done += n_inputs * concurrent
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


async def run(targets: list[Server], scenarios: list[tuple[str, int, int]], repeats: int,
              min_seconds: float) -> tuple[dict[str, dict[str, list[float]]], float | None]:
    results: dict[str, dict[str, list[float]]] = {}
    async with httpx.AsyncClient(timeout=600) as client:
        probe = sentences(8, 10**6)
        vectors = {t.name: await _post(client, t.base_url, probe) for t in targets}  # also the warm-up
        similarity = None
        if len(vectors) == 2:
            a, b = vectors.values()
            similarity = float(np.min(np.sum(a * b, axis=1)))
        offset = 0
        for label, n_inputs, concurrent in scenarios:
            per = results.setdefault(label, {t.name: [] for t in targets})
            for rep in range(repeats):
                order = targets if rep % 2 == 0 else targets[::-1]
                for t in order:
                    per[t.name].append(await burst(client, t.base_url, n_inputs, concurrent, offset, min_seconds))
                    offset += 100_000
    return results, similarity


def report(results: dict[str, dict[str, list[float]]], similarity: float | None, info: dict[str, str]) -> str:
    names = list(next(iter(results.values())))
    lines = [f"Command: `{info['command']}`  ", f"{info['date']}; {info['model']}, CPU, {info['threads']} threads; "
             f"load average {info['load_start']} at the start, {info['load_end']} at the end.", ""]
    header = "| scenario | " + " | ".join(f"{n} inputs/s" for n in names)
    header += " | pyllm / llama-server |" if len(names) == 2 else " |"
    lines += [header, "|" + "---|" * (len(names) + 1 + (len(names) == 2))]
    for label, per in results.items():
        medians = {n: statistics.median(v) for n, v in per.items()}
        row = f"| {label} | " + " | ".join(f"{medians[n]:.1f}" for n in names)
        if len(names) == 2:
            row += f" | {medians[PYLLM] / medians[LLAMA]:.2f}x |"
        else:
            row += " |"
        lines.append(row)
    if similarity is not None:
        lines += ["", f"Same inputs, both servers: lowest cosine similarity of the vectors {similarity:.6f}."]
    lines += ["", "Servers:"] + [f"- {n}: `{c}`" for n, c in info["commands"].items()]  # type: ignore[attr-defined]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench embed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", type=Path, default=None, help="GGUF (default: the packaged model)")
    parser.add_argument("-t", "--threads", type=int, default=os.cpu_count() or 1)
    add_llama_server_argument(parser)
    parser.add_argument("--llama-parallel", type=int, default=16, help="llama-server slots (-np): inputs per decode")
    parser.add_argument("--repeats", type=int, default=3, help="samples per server and scenario")
    parser.add_argument("--seconds", type=float, default=2.0, help="least duration of one sample")
    parser.add_argument("--sizes", default="1,16,128", help="inputs per request")
    parser.add_argument("--concurrent", type=int, default=16, help="requests of one input sent together (0: none)")
    args = parser.parse_args(argv)

    model = (args.model or pyllm.default_model_path()).resolve()
    llama_server = llama_server_or_none(args.llama_server)
    scenarios = [(f"1 request x {n} inputs", n, 1) for n in (int(s) for s in args.sizes.split(","))]
    if args.concurrent:
        scenarios.append((f"{args.concurrent} concurrent requests x 1 input", 1, args.concurrent))
    cmds = commands(model, llama_server, args.threads, args.llama_parallel)
    load_start = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    with running(cmds) as targets:
        results, similarity = asyncio.run(run(targets, scenarios, args.repeats, args.seconds))
    info = {
        "command": shlex.join(["python", "-m", "pyllm.bench", "embed", *(argv if argv is not None else sys.argv[1:])]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "model": model.name, "threads": str(args.threads), "load_start": load_start,
        "load_end": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "commands": {n: shlex.join(c) for n, c in cmds.items()},  # type: ignore[dict-item]
    }
    print(report(results, similarity, info))
    return 0
