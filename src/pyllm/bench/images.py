"""Image input: ``pyllm serve --mmproj`` against ``llama-server --mmproj``, same GGUFs, threads
and slots, in the same run.

llama-server is built from the same vendor/llama.cpp source by ``bash
bench/build_llama_tools.sh``; without it pyllm runs alone and says so. The projector is any
mmproj GGUF for the model; the tests' tiny random-weight one is written by ``python
tests/models/make_test_models.py DIR`` (DIR/mmproj-gemma3-tiny.gguf).

Scenarios, each a streamed OpenAI chat completion with one ``image_url`` (a base64 PNG):
- new image: a picture neither server has seen, TTFT (decode, preprocess, encode, prefill);
- cached image: the same request again, TTFT (the image's tokens come from the prompt cache);
- stall: the longest gap between two tokens of a running text stream while image requests
  arrive, against the same stream's longest gap without them (one image's encode, not the
  whole prompt, should be what the stream waits for).
Servers alternate sample by sample (A B, then B A) so that load from other processes hits
both; medians are reported. Both servers' prompt token counts for the same request are
compared.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import json
import os
import random
import shlex
import statistics
import struct
import sys
import time
import zlib
from pathlib import Path

import httpx

import pyllm
from pyllm.bench.http import Server, Stream, add_llama_server_argument, llama_server_or_none, pyllm_serve_command, running

PYLLM, LLAMA = "pyllm", "llama-server"


def png(side: int, seed: int) -> bytes:
    """A side x side RGB PNG of pseudo-random pixels."""
    row_bytes = side * 3
    pixels = random.Random(seed).randbytes(row_bytes * side)
    rows = b"".join(b"\x00" + pixels[y * row_bytes:(y + 1) * row_bytes] for y in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def image_messages(image: bytes) -> list[dict]:
    url = "data:image/png;base64," + base64.b64encode(image).decode()
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                         {"type": "text", "text": "What is in this picture?"}]}]


TEXT = [{"role": "user", "content": "Tell me a long story about a lighthouse keeper."}]


def commands(model: Path, mmproj: Path, llama_server: Path | None, threads: int) -> dict[str, list[str]]:
    common = ["-m", str(model), "--mmproj", str(mmproj), "-t", str(threads), "-np", "2", "-c", "8192", "-b", "512"]
    out = {PYLLM: pyllm_serve_command(*common)}
    if llama_server is not None:
        out[LLAMA] = [str(llama_server), *common, "-ub", "512", "-tb", str(threads), "-ngl", "0", "--no-webui"]
    return out


# A grammar makes the first sampled token visible text on both servers: the random projector's
# answers otherwise start with end-of-turn pieces that a server holds back, and TTFT would
# measure when the first printable token happens to come.
FORCED = 'root ::= "It is a picture of noise."'


async def ttft(client: httpx.AsyncClient, base_url: str, messages: list[dict]) -> tuple[float, int | None]:
    """Time to the first text piece of a streamed answer, and the prompt's token count."""
    body = {"messages": messages, "max_tokens": 4, "temperature": 0, "stream": True, "grammar": FORCED,
            "stream_options": {"include_usage": True}}
    sent, first, prompt_tokens = time.perf_counter(), None, None
    async with client.stream("POST", base_url + "/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if first is None and chunk.get("choices") and chunk["choices"][0].get("delta", {}).get("content"):
                first = time.perf_counter()
            if chunk.get("usage"):
                prompt_tokens = chunk["usage"]["prompt_tokens"]
    assert first is not None, "no text came back"
    return first - sent, prompt_tokens


async def text_stream(client: httpx.AsyncClient, base_url: str, n_tokens: int) -> Stream:
    """A streamed text answer of exactly n_tokens tokens (ignore_eos, both servers' extension)."""
    body = {"messages": TEXT, "max_tokens": n_tokens, "temperature": 0, "stream": True, "ignore_eos": True}
    s = Stream(sent=time.perf_counter())
    async with client.stream("POST", base_url + "/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if line.startswith("data: {") and '"content"' in line:
                s.stamps.append(time.perf_counter())
    s.end = time.perf_counter()
    return s


async def longest_gap(client: httpx.AsyncClient, base_url: str, images: list[bytes]) -> float:
    """The longest gap (s) between two tokens of a text stream while `images` are sent, one after another."""
    text = asyncio.create_task(text_stream(client, base_url, 64))
    await asyncio.sleep(0.3)  # the stream is decoding
    for image in images:
        await ttft(client, base_url, image_messages(image))
    s = await text
    return max(b - a for a, b in zip(s.stamps, s.stamps[1:]))


async def run(targets: list[Server], repeats: int, side: int) -> tuple[dict[str, dict[str, list[float]]], dict]:
    results: dict[str, dict[str, list[float]]] = {}
    counts: dict[str, int | None] = {}
    seed = 1000
    # No kept-alive connections: a server closing an idle one just as it is reused would fail
    # the request (uvicorn's and llama-server's idle timeouts differ).
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for t in targets:  # warm-up, and the prompt token counts of one same request
            _, counts[t.name] = await ttft(client, t.base_url, image_messages(png(side, 1)))
        for rep in range(repeats):
            order = targets if rep % 2 == 0 else targets[::-1]
            for t in order:
                seed += 1
                fresh = image_messages(png(side, seed))
                results.setdefault("new image: TTFT ms", {}).setdefault(t.name, []).append(
                    (await ttft(client, t.base_url, fresh))[0] * 1000)
                results.setdefault("cached image: TTFT ms", {}).setdefault(t.name, []).append(
                    (await ttft(client, t.base_url, fresh))[0] * 1000)
                results.setdefault("text stream, longest gap ms, no images", {}).setdefault(t.name, []).append(
                    await longest_gap(client, t.base_url, []) * 1000)
                seed += 3
                results.setdefault("text stream, longest gap ms, 3 new images arriving", {}).setdefault(
                    t.name, []).append(await longest_gap(client, t.base_url, [png(side, seed + k) for k in range(3)]) * 1000)
    return results, counts


def report(results: dict[str, dict[str, list[float]]], counts: dict, info: dict) -> str:
    names = list(next(iter(results.values())))
    lines = [f"Command: `{info['command']}`  ", f"{info['date']}; {info['model']} + {info['mmproj']}, CPU, "
             f"{info['threads']} threads, {info['side']}x{info['side']} PNG; load average {info['load_start']} at "
             f"the start, {info['load_end']} at the end.", ""]
    header = "| scenario | " + " | ".join(names) + (" | pyllm / llama-server |" if len(names) == 2 else " |")
    lines += [header, "|" + "---|" * (len(names) + 1 + (len(names) == 2))]
    for label, per in results.items():
        medians = {n: statistics.median(v) for n, v in per.items()}
        row = f"| {label} | " + " | ".join(f"{medians[n]:.1f}" for n in names)
        row += f" | {medians[PYLLM] / medians[LLAMA]:.2f}x |" if len(names) == 2 else " |"
        lines.append(row)
    lines += ["", "Prompt tokens of the same image request: " + ", ".join(f"{n} {c}" for n, c in counts.items()) + "."]
    lines += ["", "Servers:"] + [f"- {n}: `{c}`" for n, c in info["commands"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench images", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mmproj", type=Path, required=True, help="multimodal projector GGUF for the model")
    parser.add_argument("-m", "--model", type=Path, default=None, help="GGUF (default: the packaged model)")
    parser.add_argument("-t", "--threads", type=int, default=os.cpu_count() or 1)
    add_llama_server_argument(parser)
    parser.add_argument("--repeats", type=int, default=3, help="samples per server and scenario")
    parser.add_argument("--side", type=int, default=256, help="the test pictures' width and height")
    args = parser.parse_args(argv)

    model = (args.model or pyllm.default_model_path()).resolve()
    llama_server = llama_server_or_none(args.llama_server)
    cmds = commands(model, args.mmproj.resolve(), llama_server, args.threads)
    load_start = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    started = time.monotonic()
    with running(cmds) as targets:
        results, counts = asyncio.run(run(targets, args.repeats, args.side))
    info = {
        "command": shlex.join(["python", "-m", "pyllm.bench", "images", *(argv if argv is not None else sys.argv[1:])]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "model": model.name, "mmproj": args.mmproj.name, "threads": str(args.threads), "side": str(args.side),
        "load_start": load_start, "load_end": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "commands": {n: shlex.join(c) for n, c in cmds.items()},
    }
    print(report(results, counts, info))
    print(f"\n({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0
