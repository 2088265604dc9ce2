"""A real ``pyllm serve`` on loopback for the tests that talk to one over HTTP: its own
process, ready once ``/health`` answers, its log in a file (never a pipe that fills)."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import httpx

# Quiet llama.cpp and uvicorn unless a test asks for their logs.
QUIET = {"PYLLM_LOG_LEVEL": "error", "PYLLM_HTTP_LOG_LEVEL": "warning"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pyllm_command() -> list[str]:
    exe = shutil.which("pyllm")
    return [exe] if exe else [sys.executable, "-m", "pyllm"]


class PyllmServer:
    """``pyllm serve --port P <args>``; ``env`` is added to the test's environment."""

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None, ready_timeout: float = 120) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([*pyllm_command(), "serve", "--port", str(self.port), *args],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(QUIET if env is None else env)})
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pyllm serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"pyllm serve did not become healthy in {ready_timeout:.0f} s")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def metric(self, name: str) -> float:
        """One unlabelled sample of GET /metrics (the server needs --metrics)."""
        text = httpx.get(self.base_url + "/metrics", timeout=10).text
        found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
        assert found, text
        return float(found[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
