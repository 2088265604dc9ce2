"""Server-sent events framing. Payloads arrive finished from the native encoders; this
module only frames and writes them, pings idle streams, and cancels the task when the
client goes away (Starlette cancels the body iterator on disconnect)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from starlette.responses import StreamingResponse

from pyllm.engine import EngineError, Task

log = logging.getLogger("pyllm.server")

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


async def _frames(
    task: Task,
    frame: Callable[[str], str],
    ping: str | None,
    ping_interval: float,
    error_frame: Callable[[Exception], str],
    trailer: str | None,
) -> AsyncIterator[str]:
    payloads = task.__aiter__()
    pending: asyncio.Future[str] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(payloads.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=ping_interval if ping else None)
            if not done:
                yield ping  # type: ignore[misc]
                continue
            try:
                payload = pending.result()
            except StopAsyncIteration:
                break
            finally:
                pending = None
            yield frame(payload)
    except EngineError as e:
        # The native encoder already wrote the protocol's error event for the failed task.
        log.warning("task %s failed: %s", task.id, e)
    except Exception as e:  # noqa: BLE001 - a failure after the 200 header must reach the client
        log.exception("stream of task %s failed", task.id)
        yield error_frame(e)
    finally:
        if pending is not None:
            pending.cancel()
        task.cancel()  # no-op when finished; frees the slot when the client went away
        await payloads.aclose()
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
) -> StreamingResponse:
    """Stream ``task``'s payloads as SSE. ``frame`` turns one payload into its frame text."""
    return StreamingResponse(
        _frames(task, frame, ping, ping_interval, error_frame, trailer),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
