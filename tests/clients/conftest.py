"""Real agent clients (Claude Code, opencode, Codex), installed from npm by the suite itself
(the root conftest's ``npm_client``), against a real ``pyllm serve`` on the default model.

The clients keep their default settings. What the tests set is only what points a client at
the server (base URL, key, provider) and what keeps it offline: telemetry, update checks,
error reports and catalog downloads are off, and HOME points at a fresh directory, so that
no user settings leak in. The server is started with a grammar (``--grammar``, a server
setting, not a client one) that makes every answer "Hello." and then ends the turn: the
default model does not end a turn on an agent's prompt by itself, and each client still asks
for its own default ``max_tokens`` and sends its own tools.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..serving import PyllmServer

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
# Every answer of the server (see the module docstring).
ANSWER = "Hello."
ANSWER_GRAMMAR = ("--grammar", f'root ::= "{ANSWER}"')


class Server(PyllmServer):
    """``pyllm serve --metrics`` with its request log (the tests read the served prompts' sizes)."""

    def __init__(self, *flags: str) -> None:
        super().__init__(["--metrics", *flags], env={})

    def cached_prompt_tokens(self) -> int:
        """Prompt tokens the server has taken from its KV cache so far (/metrics)."""
        return int(self.metric("pyllm_prompt_tokens_cached_total"))


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
