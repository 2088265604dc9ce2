"""opencode as `pyllm launch opencode` configures it (the server as its only provider, the
model's limits from the slot's context), `opencode run`, offline, on the default model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ANSWER_GRAMMAR

pytestmark = pytest.mark.slow


def _token_reports(value: Any) -> Iterator[dict[str, Any]]:
    """Every ``tokens`` object in opencode's JSON events (one per model step)."""
    if isinstance(value, dict):
        if isinstance(value.get("tokens"), dict):
            yield value["tokens"]
        for inner in value.values():
            yield from _token_reports(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _token_reports(inner)


def launch_opencode(port: int, home: Path, env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    r = subprocess.run([sys.executable, "-m", "pyllm", "launch", "opencode", "--port", str(port), "--",
                        "run", "--format", "json", *args],
                       cwd=home / "work", capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert not [e for e in events if e.get("type") == "error"], events
    return events


def test_opencode_turn_then_a_second_turn_from_the_prompt_cache(serve, opencode_exe: Path, client_home: Path,
                                                                client_env):
    server = serve("-np", "1", "-c", "40000", *ANSWER_GRAMMAR)
    env = client_env()
    env["PATH"] = f"{opencode_exe.parent}{os.pathsep}{env['PATH']}"
    first = launch_opencode(server.port, client_home, env, "Say hello.")
    assert list(_token_reports(first)), first
    second = launch_opencode(server.port, client_home, env, "--continue", "Say it again.")
    cached = [t.get("cache", {}).get("read", 0) for t in _token_reports(second)]
    assert max(cached, default=0) > 1000, second
