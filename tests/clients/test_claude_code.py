"""Claude Code as it comes (`claude -p`, default settings, no output-token override such as
CLAUDE_CODE_MAX_OUTPUT_TOKENS) against `pyllm serve` on the default model, offline.

Claude Code asks for max_tokens of 32000 or more on a prompt of over 10k tokens; the 40k
context fits the prompt but not the prompt plus max_tokens, which must be served (max_tokens
is a cap, not a reservation).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import ANSWER, ANSWER_GRAMMAR

pytestmark = pytest.mark.slow

SLOT_CONTEXT = 40000
CLAUDE_MIN_MAX_TOKENS = 32000


def claude(exe: Path, home: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    r = subprocess.run([str(exe), "-p", *args, "--output-format", "json", "--max-turns", "1"],
                       cwd=home / "work", capture_output=True, text=True, timeout=600, env=env)
    assert r.stdout, f"claude printed nothing (exit {r.returncode}):\n{r.stderr}"
    result = json.loads(r.stdout)
    assert result["is_error"] is False, {k: result.get(k) for k in ("subtype", "stop_reason", "result", "usage")}
    return result


def served_messages(log: str) -> list[dict[str, str]]:
    """The server's request-log fields of every generation on /v1/messages."""
    return [dict(re.findall(r"(\w+)=(\S+)", line)) for line in log.splitlines()
            if "POST /v1/messages 200" in line and "prompt_tokens=" in line]


def test_claude_code_turn_in_a_context_smaller_than_prompt_plus_max_tokens_then_a_cached_second_turn(
        serve, claude_exe: Path, client_home: Path, client_env):
    server = serve("-np", "1", "-c", str(SLOT_CONTEXT), *ANSWER_GRAMMAR)
    env = client_env(ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_AUTH_TOKEN="local")
    first = claude(claude_exe, client_home, env, "Say hello.")
    assert first["result"] == ANSWER, first
    prompt = first["usage"]["input_tokens"] + first["usage"]["cache_read_input_tokens"]
    # The context-window case is real: the prompt fits, the prompt plus max_tokens does not.
    assert SLOT_CONTEXT - CLAUDE_MIN_MAX_TOKENS < prompt < SLOT_CONTEXT, first["usage"]

    cached_before = server.cached_prompt_tokens()
    second = claude(claude_exe, client_home, env, "--resume", first["session_id"], "Say it again.")
    # The whole first request (system prompt, tools, first turn) comes from the prompt cache,
    # as Claude Code reports it and as the server counts it.
    assert second["usage"]["cache_read_input_tokens"] > prompt // 2, second["usage"]
    assert server.cached_prompt_tokens() - cached_before > prompt // 2, server.output()
    assert all(int(r["prompt_tokens"]) < SLOT_CONTEXT for r in served_messages(server.output()))


def test_pyllm_launch_claude_reuses_the_running_server(serve, claude_exe: Path, client_home: Path, client_env):
    server = serve("-np", "1", "-c", str(SLOT_CONTEXT), *ANSWER_GRAMMAR)
    env = client_env()
    env["PATH"] = f"{claude_exe.parent}{os.pathsep}{env['PATH']}"
    r = subprocess.run(
        [sys.executable, "-m", "pyllm", "launch", "claude", "--port", str(server.port), "--",
         "-p", "Say hello.", "--output-format", "json", "--max-turns", "1"],
        cwd=client_home / "work", capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["is_error"] is False and result["result"] == ANSWER, result
