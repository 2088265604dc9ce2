"""Concurrent streaming load against a running server, shared by the in-suite load test and
the soak script (tests/soak/soak.py): OpenAI and Anthropic streams, a share of clients that
disconnect at random points, every other stream checked to the last frame."""
from __future__ import annotations

import asyncio
import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .anthropic.conftest import validate_stream


@dataclass
class LoadReport:
    completed: int = 0
    cancelled: int = 0
    failures: list[str] = field(default_factory=list)


def _check_openai(text: str, max_tokens: int) -> None:
    frames = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert frames[-1] == "[DONE]", frames[-3:]
    chunks = [json.loads(f) for f in frames[:-1]]
    assert len({c["id"] for c in chunks}) == 1, "one id per stream"
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant", chunks[0]
    assert chunks[-1]["choices"][0]["finish_reason"] in ("length", "stop"), chunks[-1]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1]), chunks
    # Role chunk and finish chunk around at most one delta per token, plus one for text held
    # back as a possible stop-string start (e.g. "<" of "<|im_end|>") and released at the end.
    assert len(chunks) - 2 <= max_tokens + 1, (len(chunks), max_tokens, chunks)


def _check_anthropic(text: str, max_tokens: int) -> None:
    message = validate_stream(text)
    assert "error" not in message, message
    assert message["stop_reason"] in ("max_tokens", "end_turn"), message
    assert 0 < message["usage"]["output_tokens"] <= max_tokens or message["stop_reason"] == "end_turn"


async def _one(client: httpx.AsyncClient, i: int, rng: random.Random, max_tokens: int,
               disconnect_share: float, report: LoadReport) -> None:
    anthropic = i % 2 == 1
    path = "/v1/messages" if anthropic else "/v1/chat/completions"
    body = {"model": "any", "max_tokens": max_tokens, "stream": True,
            "messages": [{"role": "user", "content": f"Request {i}: name {rng.randint(2, 9)} animals."}]}
    # Disconnect after this many frames (0: right after the response head); None: read all.
    leave_after = rng.randint(0, max_tokens) if rng.random() < disconnect_share else None
    text = ""
    try:
        async with client.stream("POST", path, json=body) as r:
            assert r.status_code == 200, await r.aread()
            if leave_after == 0:
                report.cancelled += 1
                return
            async for chunk in r.aiter_text():
                text += chunk
                if leave_after is not None and text.count("\n\n") >= leave_after:
                    report.cancelled += 1
                    return  # leaving the block closes the connection mid-stream
        (_check_anthropic if anthropic else _check_openai)(text, max_tokens)
        report.completed += 1
    except Exception as e:  # noqa: BLE001 - every failure is reported with its request
        report.failures.append(f"request {i} ({path}): {type(e).__name__}: {e}\n{text[-500:]}")


async def run_load(base_url: str, *, n_requests: int, n_clients: int, max_tokens: int,
                   disconnect_share: float = 1 / 3, seed: int = 0) -> LoadReport:
    report = LoadReport()
    rng = random.Random(seed)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n_requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=n_clients, max_keepalive_connections=n_clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                await _one(client, queue.get_nowait(), rng, max_tokens, disconnect_share, report)

        await asyncio.gather(*(worker() for _ in range(n_clients)))
    return report


def wait_idle(base_url: str, timeout: float = 10) -> dict[str, int]:
    """Health once no slot is busy and nothing is queued; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        health = httpx.get(base_url + "/health").json()
        if health["slots_processing"] == 0 and health["queued"] == 0:
            return health
        if time.monotonic() > deadline:
            raise AssertionError(f"server not idle after {timeout} s: {health}")
        time.sleep(0.05)


def rss_kib(pid: int) -> int:
    """Resident memory of a process (VmRSS), KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match[1])
