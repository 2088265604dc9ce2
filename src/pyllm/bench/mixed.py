"""A running stream while another request prefills a long prompt: how long the stream waits
for its next token, and what the sharing costs the long request.

Per server: the long prompt's time to first token alone (best of ``--repeats``), then the
same with a stream already running next to it: the stream's longest gap between frames
while the long request was prefilled (and its 99th percentile, and how far into the prefill
the longest came), and the long request's time to first token. pyllm sizes prompt chunks to a
step budget (``--max-stall MS``; 0: chunks of ``-b`` tokens) while other tasks generate; pyllm
with each budget of ``--budgets`` and llama-server (``bash bench/build_llama_tools.sh``, with
``-kvu``: pyllm's KV layout) run in the same run.

    python -m pyllm.bench mixed --prompt 27000 --budgets 0,250
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx

import pyllm
from pyllm.bench.http import Server, add_llama_server_argument, free_port, pyllm_serve_command
from pyllm.bench.loop import _long_messages


def _unique(messages: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"{tag}: {messages[0]['content']}"}, *messages[1:]]


async def _ttft(client: httpx.AsyncClient, base_url: str, messages: list[dict[str, Any]]) -> float:
    """Seconds to the first generated token (a non-streamed request for one token)."""
    t0 = time.perf_counter()
    r = await client.post(base_url + "/v1/chat/completions",
                          json={"messages": messages, "max_tokens": 1, "temperature": 0})
    r.raise_for_status()
    return time.perf_counter() - t0


async def _mixed(base_url: str, messages: list[dict[str, Any]]) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=3600) as client:
        stamps: list[float] = []
        streaming = asyncio.Event()
        done = asyncio.Event()

        async def stream() -> None:
            body = {"messages": [{"role": "user", "content": f"Count to a thousand. {time.time_ns()}"}],
                    "max_tokens": 100_000, "temperature": 0, "stream": True, "ignore_eos": True}
            async with client.stream("POST", base_url + "/v1/chat/completions", json=body) as r:
                r.raise_for_status()
                async for _ in r.aiter_raw():
                    stamps.append(time.perf_counter())
                    if len(stamps) == 8:
                        streaming.set()
                    if done.is_set():
                        return  # leaving closes the connection: the server cancels the stream

        streamer = asyncio.ensure_future(stream())
        await streaming.wait()
        t0 = time.perf_counter()
        ttft = await _ttft(client, base_url, messages)
        t1 = time.perf_counter()
        await asyncio.sleep(0.5)  # the stream's first frames after the prefill close the window
        done.set()
        await streamer
        window = [t for t in stamps if t >= t0]
        gaps = sorted(((b - a, a) for a, b in zip([t0, *window], window) if a <= t1), reverse=True)
        return {"ttft_s": ttft, "worst_gap_ms": gaps[0][0] * 1e3,
                "p99_gap_ms": gaps[len(gaps) // 100][0] * 1e3,
                # 0: as the long request arrived, 1: as its first token came
                "worst_gap_at": (gaps[0][1] - t0) / (t1 - t0),
                "frames_during_prefill": sum(t <= t1 for t in window)}


def measure(server: Server, n_tokens: int, repeats: int) -> dict[str, Any]:
    messages = _long_messages(n_tokens)

    async def alone(tag: str) -> float:
        async with httpx.AsyncClient(timeout=3600) as client:
            return await _ttft(client, server.base_url, _unique(messages, tag))

    async def warm_up() -> None:  # first-request costs out of the figure
        async with httpx.AsyncClient(timeout=3600) as client:
            await _ttft(client, server.base_url, _unique(_long_messages(900), f"warm-up {time.time_ns()}"))

    asyncio.run(warm_up())
    alone_s: list[float] = []
    mixed: list[dict[str, float]] = []
    for i in range(repeats):  # alternating, so drift hits both alike
        alone_s.append(asyncio.run(alone(f"alone {i} {time.time_ns()}")))
        mixed.append(asyncio.run(_mixed(server.base_url, _unique(messages, f"mixed {i} {time.time_ns()}"))))
    best = min(mixed, key=lambda m: m["ttft_s"])
    return {"alone_ttft_s": min(alone_s), "mixed_ttft_s": best["ttft_s"],
            "ttft_ratio": best["ttft_s"] / min(alone_s),
            "worst_gap_ms": max(m["worst_gap_ms"] for m in mixed),
            "p99_gap_ms": max(m["p99_gap_ms"] for m in mixed),
            "worst_gap_at": max(mixed, key=lambda m: m["worst_gap_ms"])["worst_gap_at"],
            "frames_during_prefill": best["frames_during_prefill"], "samples": {"alone_s": alone_s, "mixed": mixed}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench mixed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", help="GGUF (default: the packaged model)")
    parser.add_argument("--prompt", type=int, default=8000, help="tokens of the long prompt")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("--budgets", default="0,500,250",
                        help="pyllm's --max-stall values to run, comma-separated (default: %(default)s)")
    add_llama_server_argument(parser, "llama-server for the baseline (skipped when missing)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    model = args.model or str(pyllm.default_model_path())
    # Two slots, each with room for the long prompt; the serve benchmark's batch settings.
    common = ["-m", model, "-np", "2", "-c", str(2 * (args.prompt * 5 // 4 + 1024)), "-t", str(args.threads),
              "-b", "512"]
    servers = {f"pyllm --max-stall {ms}": pyllm_serve_command(*common, "--max-stall", ms)
               for ms in args.budgets.split(",") if ms}
    if args.llama_server.exists():
        servers["llama-server"] = [str(args.llama_server), *common, "-ub", "512", "-tb", str(args.threads),
                                   "-kvu", "-ngl", "0", "--no-webui", "--jinja"]
    results: dict[str, Any] = {}
    for name, command in servers.items():
        port = free_port()
        with Server(name, [*command, "--port", str(port)], port) as server:
            results[name] = measure(server, args.prompt, args.repeats)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"a running stream next to a {args.prompt}-token prefill (best of {args.repeats})")
    print("| server | prefill TTFT alone (s) | next to a stream (s) | ratio | stream's worst gap (ms) "
          "| p99 gap (ms) | worst gap at | frames during the prefill |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['alone_ttft_s']:.2f} | {r['mixed_ttft_s']:.2f} | {r['ttft_ratio']:.3f}x | "
              f"{r['worst_gap_ms']:.0f} | {r['p99_gap_ms']:.0f} | {r['worst_gap_at']:.2f} | {r['frames_during_prefill']} |")
    return 0
