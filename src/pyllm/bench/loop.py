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

``prefill``: the time of one ``--prefill-prompt``-token prefill (a non-streamed request for one
token, a prompt no cache holds), alone and while another client polls ``/health`` about 100
times a second: on 2 cores the loop thread that answers the polls competes with the compute
threads. The same for llama-server (``bash bench/build_llama_tools.sh``) in the same run.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

import pyllm
from pyllm.bench import bridge
from pyllm.bench.http import Server, add_llama_server_argument, free_port, pyllm_serve_command


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


_WORDS = ("keeper lamp storm tide harbour ship signal fog beam rock gull wave logbook lens oil north south "
          "wind rain night dawn coast bell rope cliff anchor current reef mast chart").split()


def _long_messages(n_tokens: int) -> list[dict[str, Any]]:
    # Many turns, as an agent sends; Gemma's tokenizer makes each of these words one token
    # (a turn pair of 200-word messages with its markers is about 450 tokens).
    words = " ".join(_WORDS[i % len(_WORDS)] for i in range(200))
    turns = max(1, n_tokens // 450)
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


def prefill_seconds(server: Server, n_tokens: int, tag: str, polls_per_second: float = 0) -> dict[str, float]:
    """Wall time of one prefill of about ``n_tokens`` tokens (nothing cached: ``tag`` makes the
    prompt's first message unique), with ``polls_per_second`` /health polls from another client."""
    messages = _long_messages(n_tokens)
    messages[0] = {"role": "user", "content": f"{tag}: {messages[0]['content']}"}
    body = {"messages": messages, "max_tokens": 1, "temperature": 0}

    async def run() -> dict[str, float]:
        async with httpx.AsyncClient(timeout=3600) as client:
            done = asyncio.Event()
            polls = 0

            async def poll() -> None:
                nonlocal polls
                while not done.is_set():
                    await client.get(server.base_url + "/health")
                    polls += 1
                    await asyncio.sleep(1 / polls_per_second)

            poller = asyncio.ensure_future(poll()) if polls_per_second else None
            t0 = time.perf_counter()
            r = await client.post(server.base_url + "/v1/chat/completions", json=body)
            seconds = time.perf_counter() - t0
            done.set()
            if poller is not None:
                await poller
            r.raise_for_status()
            return {"seconds": seconds, "prompt_tokens": r.json()["usage"]["prompt_tokens"],
                    "polls_per_second": polls / seconds}

    return asyncio.run(run())


def prefill_under_load(server: Server, n_tokens: int, repeats: int) -> dict[str, Any]:
    """Best of ``repeats`` alone and under 100 polls/s, alternating (drift hits both alike)."""
    alone, loaded = [], []
    for i in range(repeats):
        alone.append(prefill_seconds(server, n_tokens, f"alone {i} {time.time_ns()}"))
        loaded.append(prefill_seconds(server, n_tokens, f"polled {i} {time.time_ns()}", polls_per_second=100))
    best_alone = min(a["seconds"] for a in alone)
    best_loaded = min(a["seconds"] for a in loaded)
    return {"prompt_tokens": alone[0]["prompt_tokens"], "alone_s": best_alone, "polled_s": best_loaded,
            "ratio": best_loaded / best_alone, "polls_per_second": min(a["polls_per_second"] for a in loaded),
            "samples_alone_s": [a["seconds"] for a in alone], "samples_polled_s": [a["seconds"] for a in loaded]}


_CLIENT = """
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
want, got = int(sys.argv[2]), 0
while got < want:
    data = s.recv(65536)
    if not data:
        break
    got += len(data)
"""


def send_floor_us(n_streams: int, n_items: int = 300, interval_s: float = 0.025, frame_bytes: int = 160) -> float:
    """The least a server's loop thread pays per streamed frame on this machine: a bare asyncio
    loop woken through a pipe by another thread every ``interval_s`` (a decode step's pace)
    writes one frame to each of ``n_streams`` loopback TCP connections, read by client
    processes. Loop-thread CPU microseconds per frame: the wake-up plus one socket send, which
    in a virtual machine can cost far more than the wake-up alone."""
    import subprocess  # noqa: PLC0415
    import threading  # noqa: PLC0415

    frame = b"x" * frame_bytes

    async def run() -> float:
        loop = asyncio.get_running_loop()
        transports: list[asyncio.Transport] = []
        connected = asyncio.Event()

        class Conn(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                transports.append(transport)  # type: ignore[arg-type]
                if len(transports) == n_streams:
                    connected.set()

        server = await loop.create_server(Conn, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        clients = [subprocess.Popen([sys.executable, "-c", _CLIENT, str(port), str(n_items * frame_bytes)])
                   for _ in range(n_streams)]
        await connected.wait()
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        sent = 0
        finished = loop.create_future()

        def on_readable() -> None:
            nonlocal sent
            os.read(read_fd, 4096)
            for t in transports:
                t.write(frame)
            sent += 1
            if sent == n_items and not finished.done():
                finished.set_result(None)

        def produce() -> None:
            for _ in range(n_items):
                os.write(write_fd, b"x")
                time.sleep(interval_s)

        loop.add_reader(read_fd, on_readable)
        cpu0 = time.thread_time()
        producer = threading.Thread(target=produce)
        producer.start()
        await finished
        cpu = time.thread_time() - cpu0
        producer.join()
        loop.remove_reader(read_fd)
        os.close(read_fd)
        os.close(write_fd)
        for c in clients:
            c.wait(timeout=60)
        for t in transports:
            t.close()
        server.close()
        return cpu / (n_items * n_streams) * 1e6

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
    parser.add_argument("--prefill-prompt", type=int, default=8000,
                        help="prompt tokens of the prefill-under-load figure (0: skip it)")
    parser.add_argument("--prefill-repeats", type=int, default=2)
    add_llama_server_argument(parser, "llama-server for the prefill baseline (skipped when missing)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    port = free_port()
    n_ctx = max(8 * (args.tokens + 64), args.long_prompt + 4096)
    flags = ["--port", str(port), "-np", "8", "-c", str(n_ctx), "-t", str(args.threads), "--cache-ram", "0"]
    if args.model:
        flags += ["-m", args.model]
    results: dict[str, Any] = {"floor_us": floor_us(), "cpu_us_per_token": {},
                               "send_floor_us": {n: min(send_floor_us(n) for _ in range(2)) for n in (1, 8)}}

    def progress(name: str, value: Any) -> None:  # each figure as it comes: a long run that fails keeps them
        print(json.dumps({name: value}), file=sys.stderr, flush=True)

    with Server("pyllm", pyllm_serve_command(*flags), port) as server:
        for api in ("openai", "anthropic"):
            for n_streams in (1, 8):
                key = f"{api}, {n_streams} stream(s)"
                results["cpu_us_per_token"][key] = loop_cpu(server, api, n_streams, args.tokens)
                progress(key, results["cpu_us_per_token"][key])
        if not args.skip_stall:
            results["stall"] = loop_stall(server, args.long_prompt)
            progress("stall", results["stall"])
    if args.prefill_prompt:
        # One slot with room for the prompt, the serve benchmark's batch settings on both servers.
        common = ["-np", "1", "-c", str(args.prefill_prompt * 5 // 4 + 1024), "-t", str(args.threads), "-b", "512"]
        model = args.model or str(pyllm.default_model_path())
        servers = {"pyllm": pyllm_serve_command("-m", model, "--cache-ram", "0", *common)}
        if args.llama_server.exists():
            servers["llama-server"] = [str(args.llama_server), "-m", model, *common, "-ub", "512",
                                       "-tb", str(args.threads), "-ngl", "0", "--no-webui", "--jinja",
                                       "--cache-ram", "0"]
        results["prefill"] = {}
        for name, command in servers.items():
            port = free_port()
            with Server(name, [*command, "--port", str(port)], port) as server:
                prefill_seconds(server, 256, f"warm-up {time.time_ns()}")
                results["prefill"][name] = prefill_under_load(server, args.prefill_prompt, args.prefill_repeats)
                progress(f"prefill {name}", results["prefill"][name])
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"bare asyncio reader wake-up floor: {results['floor_us']:.1f} us per item")
    print("| scenario | loop CPU per token (us) | bare loop + socket send per frame (us) | above it (us) |")
    print("|---|---|---|---|")
    for name, us in results["cpu_us_per_token"].items():
        floor = results["send_floor_us"][8 if name.endswith("8 stream(s)") else 1]
        print(f"| {name} | {us:.1f} | {floor:.1f} | {us - floor:.1f} |")
    for name, p in results.get("prefill", {}).items():
        print(f"{name}: {p['prompt_tokens']}-token prefill {p['alone_s']:.2f} s alone, {p['polled_s']:.2f} s "
              f"under {p['polls_per_second']:.0f} /health polls per second: {p['ratio']:.3f}x")
    if "stall" in results:
        s = results["stall"]
        print(f"longest /health round trip: {s['busy_worst_ms']:.1f} ms while a {s['prompt_tokens']}-token request "
              f"was prepared, {s['idle_worst_ms']:.1f} ms idle")
    return 0
