"""What every request goes through before and after its route: an id, the API-key check,
the body size limit, refusal while shutting down, then one log line and the request metrics.

Refusals answer in the shape of the API the path belongs to: Anthropic's under
``/v1/messages``, OpenAI's elsewhere.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyllm.server import anthropic, openai
from pyllm.server.request_log import RequestRecord, attach, log_request
from pyllm.server.streaming import RAW_SEND

# No key needed: liveness probes, and the root that Claude Code probes (it reveals nothing).
OPEN_PATHS = {"/", "/health"}


def _digest(key: str | bytes) -> bytes:
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).digest()


def _error(path: str, status: int, message: str, code: str | None = None) -> JSONResponse:
    if path == "/v1/messages" or path.startswith("/v1/messages/"):
        return anthropic.error_response(status, message)
    return openai.error_response(status, message, None, code)



class ServingMiddleware:
    def __init__(self, app: ASGIApp, state: Any, paths: set[str]) -> None:
        self.app = app
        self.state = state
        self.config = state.config
        # Digests of equal length: comparing them takes the same time whatever the key.
        self.key_digests = [_digest(k) for k in self.config.api_keys]
        self.paths = paths

    def _authorized(self, scope: Scope) -> bool | None:
        """True/False for a key that matches or not; None when the request has no key."""
        given: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                given = value
            elif name == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:].strip()
        if given is None:
            return None
        digest = _digest(given)
        matched = False
        for key in self.key_digests:  # no early exit: every key is compared
            matched |= hmac.compare_digest(digest, key)
        return matched

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        path = scope["path"]
        if self.key_digests and path not in OPEN_PATHS:
            authorized = self._authorized(scope)
            if authorized is None:
                return _error(path, 401, "no API key: send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'",
                              "invalid_api_key")
            if not authorized:
                return _error(path, 401, "invalid API key", "invalid_api_key")
        if self.state.draining and path not in OPEN_PATHS:
            return _error(path, 529 if path.startswith("/v1/messages") else 503, "the server is shutting down",
                          "server_shutting_down")
        if path not in OPEN_PATHS and (failure := self.state.backend_failure()):
            return _error(path, 503, failure, "backend_failed")
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.config.max_body_bytes:
                return self._too_large(path)
        return None

    def _too_large(self, path: str) -> JSONResponse:
        return _error(path, 413, f"request body is larger than the server's limit of "
                                 f"{self.config.max_body_bytes} bytes (--max-body-size)", "request_too_large")

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body; None past the size limit. Raises _ClientGone."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.config.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        record = RequestRecord(id=f"req_{secrets.token_hex(8)}", method=scope["method"],
                               route=path if path in self.paths else "(other)", started=time.monotonic())
        attach(scope, record)
        # The server's own send, for streamed bodies after the response has started
        # (streaming.SSEResponse): per token it skips the wrappers below, which only act on
        # the response start and on errors raised before it.
        scope[RAW_SEND] = send
        request_id_header = (b"x-request-id", record.id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = [*message.get("headers", []), request_id_header]
            await send(message)

        body: bytes | None = None
        try:
            refusal = self._refusal(scope)
            if refusal is None:
                # Routes read whole bodies anyway; reading it here enforces the limit also
                # for bodies sent without Content-Length (chunked).
                body = await self._read_body(receive)
                if body is None:
                    refusal = self._too_large(path)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
                return
            assert body is not None
            await self.app(scope, _replay(body, receive), send_with_id)
        except _ClientGone:
            record.status = 499  # nginx's code for "client closed the request"
        except BaseException:
            record.status = record.status or 500
            raise
        finally:
            self._finish(record)

    def _finish(self, record: RequestRecord) -> None:
        self.state.metrics.observe_request(record.route, record.status)
        result = record.task.result() if record.task is not None else None
        if result is not None:
            self.state.metrics.observe_generation(result)
        log_request(record, result)


class _ClientGone(Exception):
    pass


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands the already read body over first, then waits as usual (for the
    disconnect that streaming routes listen for)."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
