"""What the server's event loop pays per streamed token, and how late it answers while a long
prompt is prepared.

``cpu``: ``pyllm serve`` streams ``--tokens`` tokens (``ignore_eos``) to 1 and to 8 concurrent
clients, OpenAI and Anthropic; the figure is the event-loop thread's own CPU time (its
``/proc`` counters: uvicorn runs the loop on the main thread) over the tokens streamed. The
decode threads are left out, so the figure hardly moves with load. The floor beside it is the
least any fd-based hand-over to asyncio costs, measured in this process in the same run: a
bare ``loop.add_reader`` callback waking one future per item.

``stall``: while one client's request with a ``--long-prompt``-token prompt is prepared
(template rendering and tokenization), another polls ``/health``; the figure is the longest
time a poll took, against the same poll's longest time with nothing else going on.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx

from pyllm.bench import bridge
from pyllm.bench.http import Server, free_port, pyllm_serve_command


def thread_cpu_seconds(pid: int, tid: int) -> float:
    stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _body(api: str, n_tokens: int, i: int) -> tuple[str, dict[str, Any]]:
    messages = [{"role": "user", "content": f"Count to a thousand, stream {i}."}]
    if api == "openai":
        return "/v1/chat/completions", {"messages": messages, "max_tokens": n_tokens, "temperature": 0,
                                        "stream": True, "ignore_eos": True}
    return "/v1/messages", {"model": "bench", "messages": messages, "max_tokens": n_tokens, "temperature": 0,
                            "stream": True, "ignore_eos": True}


async def _stream(client: httpx.AsyncClient, base_url: str, api: str, n_tokens: int, i: int) -> int:
    path, body = _body(api, n_tokens, i)
    n_bytes = 0
    async with client.stream("POST", base_url + path, json=body) as r:
        r.raise_for_status()
        async for chunk in r.aiter_raw():
            n_bytes += len(chunk)
    return n_bytes


def loop_cpu(server: Server, api: str, n_streams: int, n_tokens: int) -> float:
    """Event-loop CPU microseconds per streamed token."""
    pid = server.proc.pid  # type: ignore[union-attr]

    async def run() -> None:
        async with httpx.AsyncClient(timeout=600) as client:
            await asyncio.gather(*[_stream(client, server.base_url, api, n_tokens, i) for i in range(n_streams)])

    asyncio.run(run())  # warm-up: first-request costs out of the figure
    before = thread_cpu_seconds(pid, pid)
    asyncio.run(run())
    return (thread_cpu_seconds(pid, pid) - before) / (n_streams * n_tokens) * 1e6


def _long_messages(n_tokens: int) -> list[dict[str, Any]]:
    # About one token per short word with Gemma's tokenizer; many turns, as an agent sends.
    words = " ".join(f"w{i % 977}" for i in range(200))
    turns = max(1, n_tokens // 400)
    messages: list[dict[str, Any]] = []
    for t in range(turns):
        messages.append({"role": "user", "content": f"turn {t}: {words}"})
        messages.append({"role": "assistant", "content": f"ok {t}: {words}"})
    messages.append({"role": "user", "content": "Say hi."})
    return messages


def loop_stall(server: Server, long_prompt: int) -> dict[str, float]:
    """Longest /health round trip (ms) while a long request is prepared, and without it."""

    async def poll(client: httpx.AsyncClient, until: asyncio.Event | None, seconds: float) -> float:
        worst = 0.0
        end = time.perf_counter() + seconds
        while (until is None and time.perf_counter() < end) or (until is not None and not until.is_set()):
            t0 = time.perf_counter()
            await client.get(server.base_url + "/health")
            worst = max(worst, time.perf_counter() - t0)
            await asyncio.sleep(0.002)
        return worst * 1e3

    async def run() -> dict[str, float]:
        async with httpx.AsyncClient(timeout=600) as client:
            idle = await poll(client, None, 2.0)
            body = {"messages": _long_messages(long_prompt), "max_tokens": 1, "temperature": 0}
            done = asyncio.Event()

            async def long_request() -> int:
                # count: the prompt is rendered and tokenized, nothing is decoded
                r = await client.post(server.base_url + "/v1/messages/count_tokens",
                                      json={"model": "bench", **body})
                done.set()
                return r.json().get("input_tokens", 0)

            polling = asyncio.ensure_future(poll(client, done, 0))
            n = await long_request()
            busy = await polling
            return {"idle_worst_ms": idle, "busy_worst_ms": busy, "prompt_tokens": n}

    return asyncio.run(run())


def floor_us() -> float:
    return min(bridge._measure(bridge._wakeup_floor, 1, 2000, 16, 200)["cpu_us_per_item"] for _ in range(3))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench loop", description=__doc__)
    parser.add_argument("-m", "--model", help="GGUF (default: the packaged model)")
    parser.add_argument("--tokens", type=int, default=512, help="tokens per stream")
    parser.add_argument("--long-prompt", type=int, default=100_000, help="prompt tokens for the stall figure")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-stall", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    port = free_port()
    n_ctx = max(8 * (args.tokens + 64), args.long_prompt + 4096)
    flags = ["--port", str(port), "-np", "8", "-c", str(n_ctx), "-t", str(args.threads), "--cache-ram", "0"]
    if args.model:
        flags += ["-m", args.model]
    results: dict[str, Any] = {"floor_us": floor_us(), "cpu_us_per_token": {}}
    with Server("pyllm", pyllm_serve_command(*flags), port) as server:
        for api in ("openai", "anthropic"):
            for n_streams in (1, 8):
                results["cpu_us_per_token"][f"{api}, {n_streams} stream(s)"] = loop_cpu(server, api, n_streams,
                                                                                        args.tokens)
        if not args.skip_stall:
            results["stall"] = loop_stall(server, args.long_prompt)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"bare asyncio reader wake-up floor: {results['floor_us']:.1f} us per item")
    print("| scenario | loop CPU per token (us) | / floor |")
    print("|---|---|---|")
    for name, us in results["cpu_us_per_token"].items():
        print(f"| {name} | {us:.1f} | {us / results['floor_us']:.1f}x |")
    if "stall" in results:
        s = results["stall"]
        print(f"longest /health round trip: {s['busy_worst_ms']:.1f} ms while a {s['prompt_tokens']}-token request "
              f"was prepared, {s['idle_worst_ms']:.1f} ms idle")
    return 0
