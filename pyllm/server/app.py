"""The Starlette application: one model, one engine, the API families' routes."""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import pyllm
from pyllm.engine import Engine
from pyllm.model import Model
from pyllm.runtime import add_rpc_servers


@dataclass
class ServerConfig:
    """What ``pyllm serve`` is started with (flags follow llama-server where they overlap)."""

    model: str | None = None          # GGUF path; None: the packaged default model
    alias: str | None = None          # model name reported to clients
    n_ctx: int = 0                    # total context over all slots; 0: 4096 per slot
    n_parallel: int = 4
    n_threads: int = 0
    n_batch: int = 512
    n_gpu_layers: int = 0
    chat_template_file: str | None = None
    reasoning: str = "auto"           # on | off | auto: enable_thinking default for requests
    reasoning_field: str = "reasoning_content"  # or "reasoning" (vLLM / Ollama / OpenRouter)
    reasoning_format: str = "auto"    # none: reasoning stays in the content, tags and all
    n_predict: int = -1               # server-side cap on generated tokens; -1: none
    max_queued: int = 64
    rpc: list[str] = field(default_factory=list)  # llama.cpp rpc-server host:port (RPC builds)


class ServerState:
    """The loaded model and engine a running app serves."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        if config.rpc:
            add_rpc_servers(config.rpc)  # before loading: the model is split across them
        path = config.model or str(pyllm.default_model_path())
        template = Path(config.chat_template_file).read_text() if config.chat_template_file else None
        self.model = Model(path, n_gpu_layers=config.n_gpu_layers, chat_template=template)
        n_ctx = config.n_ctx or 4096 * config.n_parallel
        self.engine = Engine(
            self.model,
            n_parallel=config.n_parallel,
            n_ctx=n_ctx,
            n_batch=config.n_batch,
            n_threads=config.n_threads,
            max_queued=config.max_queued,
        )
        self.model_name = config.alias or Path(path).name
        self.created = int(time.time())

    def enable_thinking(self, requested: bool | None) -> bool | None:
        """A request's thinking switch, or the server's default (``--reasoning``)."""
        if requested is not None:
            return requested
        return {"on": True, "off": False}.get(self.config.reasoning)

    def extract_reasoning(self, requested_format: str | None) -> bool:
        """Whether reasoning is split out of the content (``reasoning_format``, else ``--reasoning-format``)."""
        return (requested_format or self.config.reasoning_format) != "none"

    def max_tokens(self, requested: int | None) -> int | None:
        """The request's max_tokens capped by ``-n``."""
        cap = self.config.n_predict
        if cap is None or cap < 0:
            return requested
        return cap if requested is None else min(requested, cap)

    def close(self) -> None:
        self.engine.close()


async def _root(request: Request) -> Response:
    # Claude Code probes HEAD / before it starts; anything but 200 looks like a dead server.
    if request.method == "HEAD":
        return Response(status_code=200)
    return JSONResponse({"name": "pyllm", "status": "ok"})


async def _health(request: Request) -> Response:
    stats = request.app.state.pyllm.engine.stats()
    return JSONResponse({"status": "ok", "slots_idle": stats["n_slots"] - stats["busy_slots"],
                         "slots_processing": stats["busy_slots"], "queued": stats["queued"]})


def create_app(config: ServerConfig | None = None, *, state: ServerState | None = None) -> Starlette:
    """The ASGI app. Pass a config (the model is loaded now) or an already built state."""
    from pyllm.server import anthropic, openai  # noqa: PLC0415 - API modules import this one

    state = state or ServerState(config or ServerConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    routes: list[Any] = [
        Route("/", _root, methods=["GET", "HEAD"]),
        Route("/health", _health, methods=["GET"]),
        *openai.routes(state),
        *anthropic.routes(state),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=openai.exception_handlers())
    app.state.pyllm = state
    return app


def serve(config: ServerConfig, host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    log_level = os.environ.get("PYLLM_HTTP_LOG_LEVEL", "info")
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
