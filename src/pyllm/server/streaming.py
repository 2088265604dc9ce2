"""Server-sent events framing. Payloads arrive finished from the native encoders; this
module only frames and writes them, pings idle streams, and cancels the task when the
client goes away (Starlette cancels the body iterator on disconnect).

A request can also be ended by the server before the model is done: its time limit
(``--request-timeout``) passes, or shutdown's grace period ends. The stream then gets the
API's own error event (and trailer), so every client sees a well-formed end.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import StreamingResponse

from pyllm.engine import EngineError, Task

log = logging.getLogger("pyllm.server")

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


async def _frames(
    task: Task,
    frame: Callable[[str], str],
    ping: str | None,
    ping_interval: float,
    error_frame: Callable[[Exception], str],
    trailer: str | None,
    interrupt: Callable[[], Awaitable[Interrupted]] | None = None,
) -> AsyncIterator[str]:
    # Per token this costs one future and one loop iteration: everything ready is framed into
    # one chunk, and pings and interruptions wake the same wait (no task, timer or
    # asyncio.wait per token).
    loop = asyncio.get_running_loop()
    stop = asyncio.ensure_future(interrupt()) if interrupt is not None else None
    timer: asyncio.TimerHandle | None = None
    with task.batches() as batches:
        # A ping goes out when a whole interval passes without a frame (so after one to two
        # intervals of silence); frames are counted, not timed, to keep the clock off the
        # per-token path.
        frames = seen = 0
        ping_due = False

        def check_idle() -> None:
            nonlocal timer, seen, ping_due
            if frames == seen:
                ping_due = True
                batches.wake()
            seen = frames
            timer = loop.call_later(ping_interval, check_idle)

        if ping:
            timer = loop.call_later(ping_interval, check_idle)
        if stop is not None:
            stop.add_done_callback(lambda _: batches.wake())
        try:
            while True:
                payloads, finished = await batches.next_batch()
                if payloads:
                    frames += 1
                    yield "".join(frame(p) for p in payloads)
                if finished:
                    task.raise_if_failed()
                    break
                if stop is not None and stop.done() and not stop.cancelled():
                    log.warning("task %s interrupted: %s", task.id, stop.result())
                    yield error_frame(stop.result())
                    break
                if ping_due:
                    ping_due = False
                    frames += 1
                    yield ping  # type: ignore[misc]
        except EngineError as e:
            # The native encoder already wrote the protocol's error event for the failed task.
            log.warning("task %s failed: %s", task.id, e)
        except Exception as e:  # noqa: BLE001 - a failure after the 200 header must reach the client
            log.exception("stream of task %s failed", task.id)
            yield error_frame(e)
        finally:
            if timer is not None:
                timer.cancel()
            if stop is not None:
                stop.cancel()
    if trailer:
        yield trailer


def sse_response(
    task: Task,
    *,
    frame: Callable[[str], str],
    error_frame: Callable[[Exception], str],
    ping: str | None = None,
    ping_interval: float = 10.0,
    trailer: str | None = None,
    interrupt: Callable[[], Awaitable[Interrupted]] | None = None,
) -> StreamingResponse:
    """Stream ``task``'s payloads as SSE. ``frame`` turns one payload into its frame text;
    ``interrupt`` resolves when the server ends the stream early."""
    return StreamingResponse(
        _frames(task, frame, ping, ping_interval, error_frame, trailer, interrupt),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def _wait_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def collect(task: Task, request: Request,
                  interrupt: Callable[[], Awaitable[Interrupted]]) -> list[str] | None:
    """Every payload of a task answered in one response; None when the client left first.

    Raises :class:`Interrupted` when the server ends the request, EngineError when the task
    failed; either way the task is cancelled and its slot freed.
    """

    async def payloads() -> list[str]:
        return [p async for p in task]

    collecting = asyncio.ensure_future(payloads())
    watching = asyncio.ensure_future(_wait_disconnect(request))
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
