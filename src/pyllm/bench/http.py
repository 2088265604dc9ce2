"""HTTP pieces the server benchmarks share: a server subprocess that is healthy before it is
used, and streaming clients for the OpenAI and Anthropic endpoints that timestamp every
text piece on arrival (client-side measurement, the way a user sees it)."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


# A source checkout (src/pyllm/bench/http.py -> the repo root), where bench/build_llama_tools.sh
# puts llama.cpp's own tools; an installed wheel has no checkout, so the current directory's
# build/ and $PYLLM_LLAMA_TOOLS are looked at too.
REPO = Path(__file__).resolve().parents[3]


def llama_tools_dir() -> Path:
    """Where llama-server, llama-bench and llama-batched-bench are: $PYLLM_LLAMA_TOOLS, else
    ``build/llama-tools/bin`` of this checkout, else of the current directory."""
    if env := os.environ.get("PYLLM_LLAMA_TOOLS"):
        return Path(env)
    for root in (REPO, Path.cwd()):
        if (root / "build/llama-tools/bin").is_dir():
            return root / "build/llama-tools/bin"
    return REPO / "build/llama-tools/bin"


TOOLS = llama_tools_dir()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def pyllm_serve_command(*flags: str) -> list[str]:
    return [sys.executable, "-m", "pyllm", "serve", *flags]


class Server:
    """A server process on loopback, healthy on entry (``GET /health`` answers 200), stopped on exit."""

    def __init__(self, name: str, command: list[str], port: int, start_timeout: float = 180,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.command = command
        self.env = env or {}  # over the quiet logging defaults
        self.base_url = f"http://127.0.0.1:{port}"
        self.start_timeout = start_timeout
        # A file, not a pipe: a server that logs a lot must never block on a full pipe.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {**os.environ, "PYLLM_LOG_LEVEL": "error", "PYLLM_HTTP_LOG_LEVEL": "warning", **self.env}
        self.proc = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.output()[-4000:]}")
            try:
                # llama-server answers 503 while it loads the model.
                if httpx.get(self.base_url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"{self.name} did not become healthy in {self.start_timeout:.0f} s")
            time.sleep(0.2)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def rss_mib(self) -> float:
        """Resident memory of the server process now (Linux; 0 elsewhere)."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()  # type: ignore[union-attr]
        except OSError:
            return 0.0
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (Linux; 0 elsewhere). Unlike wall
        time it hardly moves when other processes compete for the cores."""
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()  # type: ignore[union-attr]
        except OSError:
            return 0.0
        fields = stat.rsplit(")", 1)[1].split()  # after the command name: field 3 onwards
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def add_llama_server_argument(parser: argparse.ArgumentParser,
                              help_text: str = "llama-server binary (default: build/llama-tools/bin/llama-server)") -> None:
    parser.add_argument("--llama-server", type=Path, default=TOOLS / "llama-server", help=help_text)


def llama_server_or_none(path: Path) -> Path | None:
    """``path`` when that llama-server is built; else None, and stderr says pyllm runs alone."""
    if path.exists():
        return path
    print(f"{path} not found: running pyllm alone (build llama-server with "
          f"bash bench/build_llama_tools.sh for the comparison)", file=sys.stderr)
    return None


@contextlib.contextmanager
def running(commands: dict[str, list[str]]) -> Iterator[list[Server]]:
    """Every server started (one after the other, so model loads do not overlap), healthy,
    stopped after; a failure inside prints the end of each server's log."""
    with contextlib.ExitStack() as stack:
        servers = []
        for name, cmd in commands.items():
            port = free_port()
            servers.append(stack.enter_context(Server(name, [*cmd, "--port", str(port)], port)))
        try:
            yield servers
        except BaseException:
            for s in servers:
                state = "running" if s.proc and s.proc.poll() is None else f"exited {s.proc and s.proc.returncode}"
                print(f"--- {s.name} ({state}), end of its log:\n{s.output()[-3000:]}", file=sys.stderr)
            raise


@dataclass
class Stream:
    """One streamed response as the client saw it (perf_counter seconds)."""

    sent: float
    stamps: list[float] = field(default_factory=list)  # arrival of each non-empty text piece
    end: float = 0.0
    prompt_tokens: int | None = None
    cached_tokens: int | None = None  # Anthropic: cache_read_input_tokens (prompt_tokens excludes them)
    completion_tokens: int | None = None
    text: str = ""

    @property
    def ttft(self) -> float:
        return self.stamps[0] - self.sent

    @property
    def wall(self) -> float:
        return self.end - self.sent

    @property
    def decode_tps(self) -> float:
        """Tokens after the first over the time from the first piece to the last."""
        return ((self.completion_tokens or len(self.stamps)) - 1) / (self.stamps[-1] - self.stamps[0])


async def stream_openai(client: httpx.AsyncClient, base_url: str, messages: list[dict[str, Any]],
                        max_tokens: int) -> Stream:
    body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    s = Stream(sent=time.perf_counter())
    async with client.stream("POST", base_url + "/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices") and (piece := chunk["choices"][0].get("delta", {}).get("content")):
                s.stamps.append(time.perf_counter())
                s.text += piece
            if usage := chunk.get("usage"):
                s.prompt_tokens, s.completion_tokens = usage["prompt_tokens"], usage["completion_tokens"]
    s.end = time.perf_counter()
    return s


async def stream_anthropic(client: httpx.AsyncClient, base_url: str, system: list[dict[str, Any]] | str,
                           messages: list[dict[str, Any]], max_tokens: int) -> Stream:
    body = {"model": "bench", "system": system, "messages": messages, "max_tokens": max_tokens,
            "temperature": 0, "stream": True}
    s = Stream(sent=time.perf_counter())
    async with client.stream("POST", base_url + "/v1/messages", json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data: {"):
                continue
            event = json.loads(line[6:])
            if event["type"] == "content_block_delta" and (piece := event["delta"].get("text")):
                s.stamps.append(time.perf_counter())
                s.text += piece
            elif event["type"] == "message_start":
                s.prompt_tokens = event["message"]["usage"]["input_tokens"]
                s.cached_tokens = event["message"]["usage"].get("cache_read_input_tokens")
            elif event["type"] == "message_delta":
                s.completion_tokens = event["usage"]["output_tokens"]
                s.prompt_tokens = event["usage"].get("input_tokens") or s.prompt_tokens
                s.cached_tokens = event["usage"].get("cache_read_input_tokens", s.cached_tokens)
    s.end = time.perf_counter()
    return s
