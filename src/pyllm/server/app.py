"""The Starlette application: one model, one engine, the API families' routes, and the
serving operations around them (auth, limits, metrics, logging, graceful shutdown)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import pyllm
from pyllm.embedder import Embedder
from pyllm.engine import Engine
from pyllm.model import Model
from pyllm.runtime import add_rpc_servers, backend_failure
from pyllm.server.images import ImageOptions
from pyllm.server.load_progress import LoadProgress
from pyllm.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from pyllm.server.metrics import Metrics
from pyllm.server.streaming import Interrupted

log = logging.getLogger("pyllm.server")


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
    # -mg, -sm, -ts, --device as Model keyword arguments (main_gpu, split_mode, ...); when
    # given, n_gpu_layers is among them
    device_options: dict[str, Any] = field(default_factory=dict)
    chat_template_file: str | None = None
    reasoning: str = "auto"           # on | off | auto: enable_thinking default for requests
    reasoning_field: str = "reasoning_content"  # or "reasoning" (vLLM / Ollama / OpenRouter)
    reasoning_format: str = "auto"    # none: reasoning stays in the content, tags and all
    n_predict: int = -1               # server-side cap on generated tokens; -1: none
    grammar: str | None = None        # GBNF for requests without a constraint of their own (--grammar-file)
    max_queued: int = 64
    cache_ram_mib: int | None = None  # host memory for idle slots' KV; 0: they stay in the context; None: the engine's default
    max_stall_ms: int | None = None   # a running stream's longest wait during another prefill; None: the engine's default
    swa_full: bool = False            # a sliding-window model's window layers at full context size (no checkpoints)
    ctx_checkpoints: int | None = None  # context checkpoints per slot; None: the engine's default
    rpc: list[str] = field(default_factory=list)  # llama.cpp rpc-server host:port (RPC builds)
    api_keys: list[str] = field(default_factory=list)  # empty: no authentication
    max_body_bytes: int = 32 * 1024 * 1024
    request_timeout: float = 0        # seconds from arrival to the end of the response; 0: none
    metrics: bool = False             # serve GET /metrics
    log_format: str = "text"          # text | json
    shutdown_grace: float = 5.0       # seconds running requests get to finish on SIGINT/SIGTERM
    embeddings: bool = False          # serve POST /v1/embeddings (a second context over the model)
    pooling: str | None = None        # mean | cls | last | rank; None: the model's own, else mean
    responses_store_entries: int = 1000          # Responses API: stored responses at most
    responses_store_bytes: int = 256 * 2**20     # ... their size at most
    responses_store_ttl: float = 3600.0          # ... seconds each is kept; 0: until pushed out
    mmproj: str | None = None         # multimodal projector GGUF: image input
    mmproj_offload: bool = True       # the projector on the offload device when there is one
    image_max_pixels: int = 8192 * 8192   # width x height of an input image at most
    images: ImageOptions = field(default_factory=ImageOptions)  # sizes, URL fetching


class ServerState:
    """The loaded model and engine a running app serves."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        if config.rpc:
            add_rpc_servers(config.rpc)  # before loading: the model is split across them
        path = config.model or str(pyllm.default_model_path())
        template = Path(config.chat_template_file).read_text() if config.chat_template_file else None
        started = time.monotonic()
        progress = LoadProgress(Path(path).name, bar=None if config.log_format == "text" else False)
        devices = config.device_options or {"n_gpu_layers": config.n_gpu_layers}
        self.model = Model(path, chat_template=template, progress=progress, **devices)
        log.info("loaded %s (%.0f MiB) in %.1f s; weights: %s", path, self.model.size_bytes / 2**20,
                 time.monotonic() - started, _placement(self.model))
        n_ctx = config.n_ctx or 4096 * config.n_parallel
        self.engine = Engine(
            self.model,
            n_parallel=config.n_parallel,
            n_ctx=n_ctx,
            n_batch=config.n_batch,
            n_threads=config.n_threads,
            max_queued=config.max_queued,
            cache_ram_mib=config.cache_ram_mib,
            max_stall_ms=config.max_stall_ms,
            swa_full=config.swa_full,
            ctx_checkpoints=config.ctx_checkpoints,
            mmproj=config.mmproj,
            image_max_pixels=config.image_max_pixels,
            mmproj_offload=config.mmproj_offload,
            grammar=config.grammar,
        )
        if config.mmproj:
            log.info("loaded the multimodal projector %s: image input is on", config.mmproj)
        self.embedder = Embedder(self.model, pooling=config.pooling, n_batch=config.n_batch,
                                 n_threads=config.n_threads, max_queued=config.max_queued) if config.embeddings else None
        self.model_name = config.alias or Path(path).name
        self.created = int(time.time())
        self.metrics = Metrics()
        self.draining = False  # shutdown has begun: new API requests are refused
        self._grace_over = asyncio.Event()  # shutdown's grace period has ended
        self._loop: asyncio.AbstractEventLoop | None = None

    def started(self) -> None:
        """Called on the serving event loop before the first request."""
        self._loop = asyncio.get_running_loop()

    def begin_shutdown(self) -> None:
        """Start draining (safe from a signal handler): running requests get the grace period."""
        if self._loop is not None and not self.draining:
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        if self.draining:
            return
        self.draining = True
        assert self._loop is not None
        self._loop.call_later(self.config.shutdown_grace, self._grace_over.set)

    def interrupter(self, started: float) -> Callable[[], Awaitable[Interrupted]]:
        """What a request that arrived at ``started`` (time.monotonic()) awaits to learn
        that the server must end it: its time limit passed, or shutdown's grace period ended."""
        return lambda: self._interruption(started)

    async def _interruption(self, started: float) -> Interrupted:
        limit = self.config.request_timeout
        timeout = max(0.0, started + limit - time.monotonic()) if limit > 0 else None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._grace_over.wait(), timeout)
            return Interrupted.shutdown()
        return Interrupted.timeout(limit)

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
        if self.embedder is not None:
            self.embedder.close()

    def backend_failure(self) -> str | None:
        """Why the server cannot generate any more (an RPC worker is gone), or None."""
        failure = backend_failure()
        return f"{failure}; the weights on it are gone: restart pyllm serve" if failure else None


def _placement(model: Model) -> str:
    buffers = ", ".join(f"{name} {size / 2**20:.0f} MiB" for name, size in model.weight_buffers.items())
    if model.offloaded_layers < 0:
        return buffers
    return f"{buffers} ({model.offloaded_layers}/{model.n_layer + 1} layers offloaded)"


async def _root(request: Request) -> Response:
    # Claude Code probes HEAD / before it starts; anything but 200 looks like a dead server.
    if request.method == "HEAD":
        return Response(status_code=200)
    return JSONResponse({"name": "pyllm", "status": "ok"})


async def _metrics(request: Request) -> Response:
    state = request.app.state.pyllm
    embedder_stats = state.embedder.stats() if state.embedder is not None else None
    return Response(state.metrics.render(state.engine.stats(), embedder_stats), media_type=METRICS_CONTENT_TYPE)


async def _health(request: Request) -> Response:
    state: ServerState = request.app.state.pyllm
    stats = state.engine.stats()
    slots = {"slots_idle": stats["n_slots"] - stats["busy_slots"], "slots_processing": stats["busy_slots"],
             "queued": stats["queued"]}
    if failure := state.backend_failure():
        return JSONResponse({"status": "error", "error": failure, **slots}, status_code=503)
    return JSONResponse({"status": "ok", **slots})


def create_app(config: ServerConfig | None = None, *, state: ServerState | None = None) -> Starlette:
    """The ASGI app. Pass a config (the model is loaded now) or an already built state."""
    from pyllm.server import anthropic, embeddings, openai, responses  # noqa: PLC0415 - API modules import this one
    from pyllm.server.middleware import ServingMiddleware  # noqa: PLC0415

    state = state or ServerState(config or ServerConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.started()
        yield
        state.close()

    routes: list[Any] = [
        Route("/", _root, methods=["GET", "HEAD"]),
        Route("/health", _health, methods=["GET"]),
        *([Route("/metrics", _metrics, methods=["GET"])] if state.config.metrics else []),
        *openai.routes(state),
        *anthropic.routes(state),
        *embeddings.routes(state),
        *responses.routes(state),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=openai.exception_handlers())
    app.state.pyllm = state
    app.add_middleware(ServingMiddleware, state=state, paths={r.path for r in routes if "{" not in r.path})
    return app


def serve(config: ServerConfig, host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    app = create_app(config)
    state: ServerState = app.state.pyllm

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            state.begin_shutdown()
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            # uvicorn re-raises the signal after its shutdown, so the process would die of
            # it; a graceful stop on SIGINT/SIGTERM is a normal exit (status 0) here.
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    http_log_level = os.environ.get("PYLLM_HTTP_LOG_LEVEL", "info")
    uvicorn_config = uvicorn.Config(
        app, host=host, port=port, log_level=http_log_level,
        log_config=None,   # our handlers (text or JSON lines) format uvicorn's records too
        access_log=False,  # the middleware writes one richer line per request
        # After the grace period streams still need a moment to write their final event.
        timeout_graceful_shutdown=config.shutdown_grace + 5)
    Server(uvicorn_config).run()
    log.info("stopped")
