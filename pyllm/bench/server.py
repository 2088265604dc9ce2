"""What the OpenAI server adds per streamed token.

1. Native: the request's parser + OpenAI encoder over real token pieces, per token
   (``replay_processor``, no engine): the engine-thread cost from token text to chunk JSON.
2. End to end: one streamed chat completion through ``pyllm serve`` (HTTP, SSE framing,
   asyncio, loopback) against the same generation through the engine alone in this process,
   same model, threads, prompt and token count. Per-token intervals (time between
   consecutive pieces reaching the consumer) p50/p99 and decode tokens/s for both; the
   difference of the medians is the per-token overhead from the native event to the bytes
   a client reads.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

import httpx

import pyllm
from pyllm import _core
from pyllm.chat import render_chat_format
from pyllm.engine import Engine
from pyllm.model import Model

MESSAGES = [{"role": "user", "content": "Tell me a long story about a lighthouse keeper."}]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _intervals(stamps: list[float]) -> list[float]:
    return [(b - a) * 1e6 for a, b in zip(stamps, stamps[1:])]


def native_encode(model: Model, n_tokens: int) -> list[float]:
    """Microseconds per token for parser + encoder over the pieces of a generated text."""
    text = "The keeper climbed the stairs, counting each one, as the storm rolled in. " * (n_tokens // 16 + 1)
    pieces = [model.detokenize([t]) for t in model.tokenize(text)][:n_tokens]
    output_format = render_chat_format(model, MESSAGES)
    processor = _core.openai_chat_processor(output_format, "chatcmpl-bench", 0, "m", True, True)
    _, piece_ns = _core.replay_processor(processor, pieces)
    return [ns / 1000 for ns in piece_ns]


def engine_alone(model: Model, n_tokens: int, threads: int) -> tuple[list[float], float]:
    with Engine(model, n_parallel=1, n_ctx=4096, n_threads=threads) as engine:
        output_format = render_chat_format(model, MESSAGES)
        task = engine.submit_chat(output_format, _core.openai_chat_processor(output_format, "c", 0, "m", True),
                                  max_tokens=n_tokens, temperature=0)
        stamps: list[float] = []

        async def consume() -> None:
            # The server's path: asyncio iteration over the engine's wake-up fd.
            async for _ in task:
                stamps.append(time.perf_counter())

        asyncio.run(consume())
        result = task.result()
    decoded = result.usage.completion_tokens - 1
    return _intervals(stamps[1:]), decoded / (result.timings.decode_ms / 1000)


def through_http(n_tokens: int, threads: int, port: int) -> tuple[list[float], float]:
    proc = subprocess.Popen([sys.executable, "-m", "pyllm", "serve", "--port", str(port), "-np", "1", "-c", "4096",
                             "-t", str(threads)], env={**os.environ, "PYLLM_HTTP_LOG_LEVEL": "warning"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        body = {"messages": MESSAGES, "max_tokens": n_tokens, "temperature": 0, "stream": True,
                "stream_options": {"include_usage": True}}
        stamps, usage = [], None
        with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=300) as r:
            for line in r.iter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line[6:])
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    stamps.append(time.perf_counter())
                usage = chunk.get("usage") or usage
    finally:
        proc.terminate()
        proc.wait()
    decoded = len(stamps) - 1
    return _intervals(stamps[1:]), decoded / (stamps[-1] - stamps[0])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench server", description=__doc__)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=18777)
    args = parser.parse_args(argv)

    model = Model(str(pyllm.default_model_path()))
    encode = native_encode(model, 4096)
    engine_iv, engine_tps = engine_alone(model, args.tokens, args.threads)
    del model
    http_iv, http_tps = through_http(args.tokens, args.threads, args.port)

    def row(name: str, values: list[float], tps: str = "") -> str:
        return f"| {name} | {statistics.median(values):.1f} | {_quantile(values, 0.99):.1f} | {tps} |"

    print("| per token | p50 us | p99 us | decode tok/s |")
    print("|---|---|---|---|")
    print(row("parser + OpenAI encoder (native)", encode))
    print(row("interval, engine alone", engine_iv, f"{engine_tps:.1f}"))
    print(row("interval, through HTTP (SSE, loopback)", http_iv, f"{http_tps:.1f}"))
    print(f"\noverhead per token (p50 difference): {statistics.median(http_iv) - statistics.median(engine_iv):.1f} us;"
          f" p99 difference: {_quantile(http_iv, 0.99) - _quantile(engine_iv, 0.99):.1f} us")
    return 0
