"""Server-sent events. Payloads arrive as final bytes from the native encoders; this module
only writes them, pings idle streams, and cancels the task when the client goes away.

A request can also be ended by the server before the model is done: its time limit
(``--request-timeout``) passes, or shutdown's grace period ends. The stream then gets the
API's own error event (and trailer), so every client sees a well-formed end.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from pyllm.engine import EngineError, Task

log = logging.getLogger("pyllm.server")

# Where the serving middleware leaves the ASGI server's own send in the scope.
RAW_SEND = "pyllm.raw_send"
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


class Interrupted(Exception):
    """The server ended a request before the model did. ``status`` is what a response not
    yet started answers with (504 time limit, 503 shutting down)."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @classmethod
    def timeout(cls, seconds: float) -> Interrupted:
        return cls(f"the request took longer than the server's limit of {seconds:g} s (--request-timeout)",
                   504, "timeout")

    @classmethod
    def shutdown(cls) -> Interrupted:
        return cls("the server is shutting down", 503, "server_shutting_down")


class SSEResponse:
    """Streams ``task``'s payloads, which are final SSE bytes written by its native encoder,
    with raw ASGI sends: everything ready goes out in one send, and per token the loop pays
    one wake-up and one send (no async generator, no task group, no framing in Python).

    A disconnect cancels the task (its slot is free within one decode step); ``interrupt``
    resolves when the server ends the stream early, which then gets ``error_frame``; a ping
    goes out when a whole ``ping_interval`` passes without a frame. ``transform`` rewrites
    each payload (the rare logprobs path)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        task: Task,
        *,
        error_frame: Callable[[Exception], bytes],
        ping: bytes | None = None,
        ping_interval: float = 10.0,
        interrupt: Callable[[], Awaitable[Interrupted]] | None = None,
        transform: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.task = task
        self.error_frame = error_frame
        self.ping = ping
        self.ping_interval = ping_interval
        self.interrupt = interrupt
        self.transform = transform
        self.status_code = 200

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_RAW_HEADERS})
        # Body frames go straight to the ASGI server once the start has passed the middleware.
        send = scope.get(RAW_SEND, send)
        loop = asyncio.get_running_loop()
        task = self.task
        gone = asyncio.ensure_future(_wait_disconnect(receive))
        stop = asyncio.ensure_future(self.interrupt()) if self.interrupt is not None else None
        timer: asyncio.TimerHandle | None = None
        with task.batches() as batches:
            # Frames are counted, not timed, to keep the clock off the per-token path.
            frames = seen = 0
            ping_due = False

            def check_idle() -> None:
                nonlocal timer, seen, ping_due
                if frames == seen:
                    ping_due = True
                    batches.wake()
                seen = frames
                timer = loop.call_later(self.ping_interval, check_idle)

            if self.ping:
                timer = loop.call_later(self.ping_interval, check_idle)
            gone.add_done_callback(lambda _: batches.wake())
            if stop is not None:
                stop.add_done_callback(lambda _: batches.wake())
            try:
                while True:
                    payloads, finished = await batches.next_batch()
                    if gone.done():
                        return  # leaving the block cancels the task
                    if payloads:
                        frames += 1
                        body = b"".join(map(self.transform, payloads) if self.transform else payloads)
                        await send({"type": "http.response.body", "body": body, "more_body": True})
                    if finished:
                        task.raise_if_failed()
                        break
                    if stop is not None and stop.done() and not stop.cancelled():
                        log.warning("task %s interrupted: %s", task.id, stop.result())
                        await send({"type": "http.response.body", "body": self.error_frame(stop.result()),
                                    "more_body": True})
                        break
                    if ping_due:
                        ping_due = False
                        frames += 1
                        await send({"type": "http.response.body", "body": self.ping, "more_body": True})
            except EngineError as e:
                # The native encoder already wrote the protocol's error event for the failed task.
                log.warning("task %s failed: %s", task.id, e)
            except Exception as e:  # noqa: BLE001 - a failure after the 200 header must reach the client
                log.exception("stream of task %s failed", task.id)
                await send({"type": "http.response.body", "body": self.error_frame(e), "more_body": True})
            finally:
                if timer is not None:
                    timer.cancel()
                gone.cancel()
                if stop is not None:
                    stop.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


_SSE_RAW_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"),
                    *((k.lower().encode(), v.encode()) for k, v in SSE_HEADERS.items())]


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def collect(task: Task, request: Request,
                  interrupt: Callable[[], Awaitable[Interrupted]]) -> list[bytes] | None:
    """Every payload of a task answered in one response; None when the client left first.

    Raises :class:`Interrupted` when the server ends the request, EngineError when the task
    failed; either way the task is cancelled and its slot freed.
    """

    async def payloads() -> list[bytes]:
        return [p async for p in task]

    collecting = asyncio.ensure_future(payloads())
    watching = asyncio.ensure_future(_wait_disconnect(request.receive))
    stop = asyncio.ensure_future(interrupt())
    try:
        done, _ = await asyncio.wait({collecting, watching, stop}, return_when=asyncio.FIRST_COMPLETED)
        if collecting in done:
            return collecting.result()
        if stop in done:
            raise stop.result()
        return None
    finally:
        for waiter in (collecting, watching, stop):
            waiter.cancel()
        task.cancel()  # no-op when finished
