"""Codex CLI as it comes (`codex exec`, default settings) against `pyllm serve` on the default
model, through a custom Responses provider: the one setting a local server needs."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import ANSWER_GRAMMAR

pytestmark = pytest.mark.slow


def codex_exec(exe: Path, home: Path, env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    """The JSON events of one `codex exec` run; it must end with the turn completed."""
    r = subprocess.run([str(exe), "exec", "--json", "--skip-git-repo-check", *args], cwd=home / "work",
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"codex exec failed:\n{r.stdout}\n{r.stderr}"
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert events and events[-1]["type"] == "turn.completed", f"{r.stdout}\n{r.stderr}"
    assert not [e for e in events if e["type"] in ("error", "turn.failed")], events
    return events


def test_codex_exec_turn_then_a_resumed_turn_from_the_prompt_cache(serve, codex_exe: Path, client_home: Path,
                                                                    client_env):
    # Codex's first request is about 10k tokens (instructions, tools, environment).
    server = serve("-np", "1", "-c", "16384", *ANSWER_GRAMMAR)
    codex_home = client_home / ".codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(
        'model = "pyllm-default"\nmodel_provider = "pyllm"\n\n[model_providers.pyllm]\nname = "pyllm"\n'
        f'base_url = "{server.base_url}/v1"\nwire_api = "responses"\n')
    env = client_env(CODEX_HOME=str(codex_home))

    first = codex_exec(codex_exe, client_home, env, "Say hello.")
    usage = first[-1]["usage"]
    assert usage["input_tokens"] > 1000, usage
    [thread] = [e["thread_id"] for e in first if e["type"] == "thread.started"]

    cached_before = server.cached_prompt_tokens()
    second = codex_exec(codex_exe, client_home, env, "resume", thread, "Say it again.")
    # The first request (instructions, tools, first turn) comes from the prompt cache, as
    # Codex reports it and as the server counts it.
    assert second[-1]["usage"]["cached_input_tokens"] > usage["input_tokens"] // 2, second[-1]
    assert server.cached_prompt_tokens() - cached_before > usage["input_tokens"] // 2, server.output()
