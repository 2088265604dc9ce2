"""``pyllm launch claude | opencode | codex``: one command from nothing to an agent client
talking to a local model, as ``ollama launch`` does.

The server is reused when one already answers on the port (with the model asked for), or
started for the session and stopped when the client exits. The client is configured for it
through its own environment and command-line switches only (no file of the user's is
written): base URL, key, model name, and its context-window and auto-compaction limits
taken from the slot's real context.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


CLIENTS = ("claude", "opencode", "codex")
# One slot for the agent's conversation, one for its side requests (titles, summaries).
DEFAULT_PARALLEL = 2
MAX_DEFAULT_CTX = 131072   # per slot, when the model's training context is larger
SERVER_START_TIMEOUT = 300


class LaunchError(Exception):
    """Why the client could not be started (exit status 2)."""


@dataclass
class ServerInfo:
    base_url: str        # http://host:port, no path
    model: str           # the name clients send (the server's alias)
    model_path: str
    n_ctx: int           # one slot's context: what a conversation can hold
    thinks: bool         # the template opens reasoning
    api_key: str         # what the client sends; any value when the server has no keys


def _probe(base_url: str, api_key: str) -> ServerInfo | None:
    request = urllib.request.Request(base_url + "/props", headers={"Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as r:
            props = json.load(r)
    except urllib.error.HTTPError as e:
        if e.code == 401:
            raise LaunchError(f"the server at {base_url} wants an API key: pass --api-key") from e
        return None
    except (OSError, ValueError):
        return None  # nothing (or not pyllm) listening there
    return ServerInfo(base_url, props["model_alias"], props["model_path"], int(props["n_ctx"]),
                      bool(props.get("thinking")), api_key)


def default_ctx_size(model_path: str) -> int:
    """One slot's context when -c is not given: the model's training context, capped."""
    from pyllm.model import Model  # noqa: PLC0415 - the native module loads only when starting a server

    n_ctx_train = Model(model_path, vocab_only=True).n_ctx_train
    return min(n_ctx_train or 4096, MAX_DEFAULT_CTX)


@contextmanager
def running_server(args: argparse.Namespace) -> Iterator[ServerInfo]:
    """The server the client talks to: the one on ``--port`` if it serves the model asked
    for, else a ``pyllm serve`` started here and stopped on exit."""
    from pyllm.default_model import default_model_path  # noqa: PLC0415

    host, port = args.host, args.port
    base_url = f"http://{host}:{port}"
    api_key = args.api_key or "pyllm"
    model_path = str(Path(args.model).resolve()) if args.model else None
    found = _probe(base_url, api_key)
    if found is not None:
        if model_path and Path(found.model_path).resolve() != Path(model_path):
            raise LaunchError(f"{base_url} already serves {found.model_path}; stop it or pick another --port")
        yield found
        return

    model_path = model_path or str(default_model_path())
    n_ctx = args.ctx_size or default_ctx_size(model_path)
    cmd = [sys.executable, "-m", "pyllm", "serve", "-m", model_path, "--host", host, "--port", str(port),
           "-np", str(args.parallel), "-c", str(n_ctx * args.parallel)]
    for flag, value in (("--alias", args.alias), ("--chat-template-file", args.chat_template_file)):
        if value:
            cmd += [flag, value]
    if args.api_key:
        cmd += ["--api-key", args.api_key]
    log_path = Path(tempfile.gettempdir()) / f"pyllm-launch-{port}.log"
    print(f"pyllm: starting the server on {base_url} ({n_ctx} tokens per slot); log: {log_path}", file=sys.stderr)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        info = None
        while info is None:
            if proc.poll() is not None:
                raise LaunchError(f"pyllm serve exited with status {proc.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise LaunchError(f"pyllm serve did not answer in {SERVER_START_TIMEOUT} s; see {log_path}")
            time.sleep(0.25)
            info = _probe(base_url, api_key)
        yield info
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def output_limit(n_ctx: int) -> int:
    """What a client may plan to generate in one response. Clients that compact when the
    prompt passes ``context - output`` must keep most of the window for the prompt."""
    return max(1024, min(32000, n_ctx // 4))


def claude_env(server: ServerInfo) -> dict[str, str]:
    """Claude Code's switches for a local Anthropic endpoint. An unknown model name gets
    its window from CLAUDE_CODE_MAX_CONTEXT_TOKENS, which auto-compaction works from."""
    return {
        "ANTHROPIC_BASE_URL": server.base_url,
        "ANTHROPIC_AUTH_TOKEN": server.api_key,   # a bearer token: no "use this API key?" prompt
        "ANTHROPIC_MODEL": server.model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": server.model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": server.model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": server.model,
        "ANTHROPIC_SMALL_FAST_MODEL": server.model,
        "CLAUDE_CODE_SUBAGENT_MODEL": server.model,
        "CLAUDE_CODE_MAX_CONTEXT_TOKENS": str(server.n_ctx),
        # Nothing but the model's own requests leaves the machine (telemetry, updates,
        # error reports): a local model needs no Anthropic servers.
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


def opencode_config(server: ServerInfo) -> dict[str, object]:
    """An opencode config (OPENCODE_CONFIG_CONTENT) with the server as its only provider."""
    return {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "pyllm": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "pyllm",
                "options": {"baseURL": server.base_url + "/v1", "apiKey": server.api_key},
                "models": {server.model: {
                    "name": server.model,
                    "tool_call": True,
                    "reasoning": server.thinks,
                    # opencode compacts once the prompt passes context - output.
                    "limit": {"context": server.n_ctx, "output": output_limit(server.n_ctx)},
                }},
            },
        },
        "model": f"pyllm/{server.model}",
        "small_model": f"pyllm/{server.model}",
        "autoupdate": False,
        "share": "disabled",
    }


def opencode_env(server: ServerInfo) -> dict[str, str]:
    return {
        "OPENCODE_CONFIG_CONTENT": json.dumps(opencode_config(server)),
        # Offline: no models.dev catalog, plugin or LSP downloads, update checks or sharing.
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "OPENCODE_DISABLE_SHARE": "1",
    }


def codex_args(server: ServerInfo) -> list[str]:
    """Codex's `-c` overrides: the server as a custom provider on the Responses API."""
    provider = (f'{{ name = "pyllm", base_url = "{server.base_url}/v1", wire_api = "responses", '
                f'env_key = "PYLLM_API_KEY" }}')
    n_ctx = server.n_ctx
    return [
        "-c", f"model_providers.pyllm={provider}",
        "-c", "model_provider=pyllm",
        "-c", f'model="{server.model}"',
        "-c", f"model_context_window={n_ctx}",
        "-c", f"model_auto_compact_token_limit={n_ctx - output_limit(n_ctx)}",
    ]


def client_command(client: str, server: ServerInfo, client_args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The command line and the environment additions that run ``client`` on ``server``."""
    if client == "claude":
        return ["claude", *client_args], claude_env(server)
    if client == "opencode":
        return ["opencode", *client_args], opencode_env(server)
    if client == "codex":
        return ["codex", *codex_args(server), *client_args], {"PYLLM_API_KEY": server.api_key}
    raise LaunchError(f"unknown client {client!r}; choose one of {', '.join(CLIENTS)}")


def run(args: argparse.Namespace) -> int:
    client: str = args.client
    try:
        with running_server(args) as server:
            cmd, env = client_command(client, server, args.client_args)
            exe = shutil.which(cmd[0], path=os.environ.get("PATH"))
            if exe is None:
                package = {"claude": "@anthropic-ai/claude-code", "opencode": "opencode-ai",
                           "codex": "@openai/codex"}[client]
                raise LaunchError(f"{cmd[0]} is not on PATH: install it with `npm install -g {package}`")
            child_env = {**os.environ, **env}
            if client == "claude":
                child_env.pop("ANTHROPIC_API_KEY", None)  # it would win over the bearer token
            return subprocess.call([exe, *cmd[1:]], env=child_env)
    except LaunchError as e:
        print(f"pyllm: {e}", file=sys.stderr)
        return 2
