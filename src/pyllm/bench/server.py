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
import statistics
import time

import httpx

import pyllm
from pyllm import _core
from pyllm.bench.http import Server, Stream, free_port, pyllm_serve_command, quantile, stream_openai
from pyllm.chat import chat_request, render_chat_format, sampling_params
from pyllm.engine import Engine
from pyllm.model import Model

MESSAGES = [{"role": "user", "content": "Tell me a long story about a lighthouse keeper."}]


def _intervals(stamps: list[float]) -> list[float]:
    return [(b - a) * 1e6 for a, b in zip(stamps, stamps[1:])]


def native_encode(model: Model, n_tokens: int) -> list[float]:
    """Microseconds per token for parser + encoder over the pieces of a generated text."""
    text = "The keeper climbed the stairs, counting each one, as the storm rolled in. " * (n_tokens // 16 + 1)
    pieces = [model.detokenize([t]) for t in model.tokenize(text)][:n_tokens]
    output_format = render_chat_format(model, MESSAGES)
    spec = _core.OutputSpec(protocol=_core.Protocol.openai_chat, id="chatcmpl-bench", model="m", stream=True,
                            include_usage=True)
    processor = _core.output_processor(spec, output_format)
    _, piece_ns = _core.replay_processor(processor, pieces)
    return [ns / 1000 for ns in piece_ns]


def engine_alone(model: Model, n_tokens: int, threads: int) -> tuple[list[float], float]:
    with Engine(model, n_parallel=1, n_ctx=4096, n_threads=threads) as engine:
        request = chat_request(MESSAGES, sampling=sampling_params(max_tokens=n_tokens, temperature=0),
                               output=_core.OutputSpec(protocol=_core.Protocol.openai_chat, id="c", model="m",
                                                       stream=True))
        task = engine.submit_request(request)
        stamps: list[float] = []

        async def consume() -> None:
            # The server's path: asyncio iteration over the engine's wake-up fd.
            async for _ in task:
                stamps.append(time.perf_counter())

        asyncio.run(consume())
        result = task.result()
    decoded = result.usage.completion_tokens - 1
    return _intervals(stamps[1:]), decoded / (result.timings.decode_ms / 1000)


def through_http(n_tokens: int, threads: int) -> tuple[list[float], float]:
    port = free_port()
    command = pyllm_serve_command("--port", str(port), "-np", "1", "-c", "4096", "-t", str(threads))

    async def one_stream(base_url: str) -> Stream:
        async with httpx.AsyncClient(timeout=300) as client:
            return await stream_openai(client, base_url, MESSAGES, n_tokens)

    with Server("pyllm serve", command, port) as server:
        stream = asyncio.run(one_stream(server.base_url))
    return _intervals(stream.stamps[1:]), stream.decode_tps


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench server", description=__doc__)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    model = Model(str(pyllm.default_model_path()))
    encode = native_encode(model, 4096)
    engine_iv, engine_tps = engine_alone(model, args.tokens, args.threads)
    del model
    http_iv, http_tps = through_http(args.tokens, args.threads)

    def row(name: str, values: list[float], tps: str = "") -> str:
        return f"| {name} | {statistics.median(values):.1f} | {quantile(values, 0.99):.1f} | {tps} |"

    print("| per token | p50 us | p99 us | decode tok/s |")
    print("|---|---|---|---|")
    print(row("parser + OpenAI encoder (native)", encode))
    print(row("interval, engine alone", engine_iv, f"{engine_tps:.1f}"))
    print(row("interval, through HTTP (SSE, loopback)", http_iv, f"{http_tps:.1f}"))
    print(f"\noverhead per token (p50 difference): {statistics.median(http_iv) - statistics.median(engine_iv):.1f} us;"
          f" p99 difference: {quantile(http_iv, 0.99) - quantile(engine_iv, 0.99):.1f} us")
    return 0
