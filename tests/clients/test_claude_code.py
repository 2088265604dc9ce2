"""Claude Code as it comes (`claude -p`, default settings, no output-token override) against
`pyllm serve` on the default model, offline.

Claude Code asks for max_tokens 128000 on an ~11.5k-token prompt; a 40k context fits the
prompt but not the prompt plus max_tokens, which must be served (max_tokens is a cap).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def claude(exe: Path, home: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    r = subprocess.run([str(exe), "-p", *args, "--output-format", "json", "--max-turns", "1"],
                       cwd=home / "work", capture_output=True, text=True, timeout=600, env=env)
    assert r.stdout, f"claude printed nothing (exit {r.returncode}):\n{r.stderr}"
    return json.loads(r.stdout)


def test_claude_code_turn_in_a_context_smaller_than_prompt_plus_max_tokens_then_a_cached_second_turn(
        serve, claude_exe: Path, client_home: Path, client_env):
    server = serve("-np", "1", "-c", "40000")
    env = client_env(ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_AUTH_TOKEN="local")
    first = claude(claude_exe, client_home, env, "Say hello.")
    assert first["is_error"] is False, first.get("result")
    assert first["usage"]["input_tokens"] + first["usage"]["cache_read_input_tokens"] > 5000

    second = claude(claude_exe, client_home, env, "--resume", first["session_id"], "Say it again.")
    assert second["is_error"] is False, second.get("result")
    # The whole first request (system prompt, tools, first turn) comes from the prompt cache.
    assert second["usage"]["cache_read_input_tokens"] > 5000, second["usage"]


def test_pyllm_launch_claude_reuses_the_running_server(serve, claude_exe: Path, client_home: Path, client_env):
    server = serve("-np", "1", "-c", "40000")
    env = client_env()
    env["PATH"] = f"{claude_exe.parent}{os.pathsep}{env['PATH']}"
    r = subprocess.run(
        [sys.executable, "-m", "pyllm", "launch", "claude", "--port", str(server.port), "--",
         "-p", "Say hello.", "--output-format", "json", "--max-turns", "1"],
        cwd=client_home / "work", capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["is_error"] is False, result.get("result")
