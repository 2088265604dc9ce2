"""Real agent clients (Claude Code, opencode, Codex), installed from npm by the suite itself
(the root conftest's ``npm_client``), against a real ``pyllm serve`` on the default model.

The clients keep their default settings. What the tests set is only what points a client at
the server (base URL, key, provider) and what keeps it offline: telemetry, update checks,
error reports and catalog downloads are off, and HOME points at a fresh directory, so that
no user settings leak in. The server caps each answer with ``-n 64``: a server setting, not
a client one; the default model does not end a turn on an agent's prompt by itself, and each
client still asks for its own default ``max_tokens``.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# Opt in with PYLLM_TEST_CLIENTS=1 until every client completes its turns on the default model
# within the CI budget. Measured on the 2-core machine (session 5, loaded by other work):
# Claude Code's first turn (an ~11.5k-token prompt in a 40k slot, max_tokens 32000 and more)
# completed in one run, and in the next one ended with is_error (stop_reason stop_sequence,
# ~215 s); Codex's turn fails whenever the -n cap ends the answer (Codex takes the Responses
# "incomplete: max_output_tokens" for a failed turn, ~155 s). See the session's report.
if os.environ.get("PYLLM_TEST_CLIENTS") != "1":
    collect_ignore_glob = ["test_*.py"]

# The offline sandbox: no telemetry, error reports, update checks or catalog downloads.
CLAUDE_OFFLINE = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
}
OPENCODE_OFFLINE = {
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_SHARE": "1",
}
# What one answer may cost the server (see the module docstring).
ANSWER_CAP = ("-n", "64")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``pyllm serve`` on loopback with the given flags."""

    def __init__(self, *flags: str) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        # A file, not a pipe: a server that logs a lot must never block on a full pipe.
        self.log = tempfile.NamedTemporaryFile(mode="w+", prefix="pyllm-serve-", suffix=".log")
        self.proc = subprocess.Popen([sys.executable, "-m", "pyllm", "serve", "--port", str(self.port), "--metrics", *flags],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pyllm serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("pyllm serve did not become healthy in 120 s")
            time.sleep(0.2)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def cached_prompt_tokens(self) -> int:
        """Prompt tokens the server has taken from its KV cache so far (/metrics)."""
        text = httpx.get(self.base_url + "/metrics", timeout=10).text
        found = re.search(r"^pyllm_prompt_tokens_cached_total(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M)
        assert found, text
        return int(float(found.group(1)))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def claude_exe(npm_client) -> Path:
    return npm_client("claude")


@pytest.fixture(scope="session")
def opencode_exe(npm_client) -> Path:
    return npm_client("opencode")


@pytest.fixture(scope="session")
def codex_exe(npm_client) -> Path:
    return npm_client("codex")


@pytest.fixture
def client_home(tmp_path: Path) -> Path:
    """A fresh HOME (and XDG dirs) for one client conversation: no user settings, no history."""
    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    return home


def _client_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "CLAUDE_", "OPENCODE_", "OPENAI_", "CODEX_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_STATE_HOME=str(home / ".local/state"), **extra)
    return env


@pytest.fixture(scope="module")
def serve() -> Iterator:
    """serve(*flags) -> Server: one per flag set, shared by the module's tests."""
    started: dict[tuple[str, ...], Server] = {}

    def start(*flags: str) -> Server:
        if flags not in started:
            started[flags] = Server(*flags)
        return started[flags]

    yield start
    for server in started.values():
        server.stop()


@pytest.fixture
def client_env(client_home: Path):
    """client_env(**extra) -> the environment of a client run in ``client_home``, offline."""
    return lambda **extra: _client_env(client_home, **CLAUDE_OFFLINE, **OPENCODE_OFFLINE, **extra)
