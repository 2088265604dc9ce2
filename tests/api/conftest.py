"""A real `pyllm serve` on loopback, started as its own process, per set of flags."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningServer:
    def __init__(self, args: list[str]) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        exe = shutil.which("pyllm") or sys.executable
        cmd = [exe] if exe.endswith("pyllm") else [exe, "-m", "pyllm"]
        # A file, not a pipe: a server that logs a lot must never block on a full pipe.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [*cmd, "serve", "--port", str(self.port), *args],
            stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYLLM_LOG_LEVEL": "error", "PYLLM_HTTP_LOG_LEVEL": "warning"},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pyllm serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("pyllm serve did not become healthy in 120 s")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


_servers: dict[tuple[str, ...], RunningServer] = {}


@pytest.fixture(scope="session")
def start_server() -> Iterator:
    """start_server(*flags) -> RunningServer; one process per distinct flag set, reused."""

    def start(*flags: str) -> RunningServer:
        key = tuple(flags)
        if key not in _servers:
            _servers[key] = RunningServer(list(flags))
        return _servers[key]

    yield start
    for server in _servers.values():
        server.stop()
    _servers.clear()


@pytest.fixture(scope="session")
def server(start_server) -> RunningServer:
    """The default model with its own (ChatML fallback) template, 2 slots."""
    return start_server("-np", "2", "-c", "8192")


@pytest.fixture(scope="session")
def templates_dir(llama_cpp_dir: Path) -> Path:
    return llama_cpp_dir / "models" / "templates"
