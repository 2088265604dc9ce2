"""The Anthropic Messages API (routes, request validation, error shape).

``/v1/messages`` and ``/v1/messages/count_tokens``. The per-request block state lives in
the native Anthropic encoder, which writes finished SSE frames (or, without streaming, the
whole Message); this module validates, renders the prompt and answers errors in
Anthropic's shape, including for bad JSON and unknown paths under ``/v1/messages``.
"""
from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pyllm import _core
from pyllm.chat import chat_request, sampling_params
from pyllm.server.anthropic_request import AnthropicRequestError, MessagesRequest, parse_messages_request
from pyllm.server.errors import failure
from pyllm.server.images import resolve_images
from pyllm.server.request_log import arrival, track
from pyllm.server.streaming import SSEResponse, collect

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 405: "invalid_request_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 503: "overloaded_error", 504: "timeout_error",
               529: "overloaded_error"}

PING_FRAME = b'event: ping\ndata: {"type":"ping"}\n\n'


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status)


def _status(e: BaseException, request: Request | None = None) -> tuple[int, str]:
    f = failure(e, request)
    return (529 if f.overloaded else f.status), f.message


def failure_response(e: BaseException, request: Request | None = None) -> JSONResponse:
    return error_response(*_status(e, request))


def _error_frame(exc: Exception) -> bytes:
    return f"event: error\ndata: {json.dumps(error_body(*_status(exc)))}\n\n".encode()


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AnthropicRequestError(f"invalid JSON body: {e}") from e


def routes(state: Any) -> list[Route]:
    def conversation(req: MessagesRequest, **options: Any) -> _core.ChatRequest:
        return chat_request(
            req.messages,
            req.tools or None,
            enable_thinking=state.enable_thinking(req.enable_thinking),
            extract_reasoning=state.extract_reasoning(None),
            parallel_tool_calls=req.parallel_tool_calls,
            tool_choice=req.tool_choice,
            **options,
        )

    async def messages(request: Request) -> Response:
        if request.method != "POST":
            return error_response(405, f"method {request.method} not allowed on {request.url.path}")
        try:
            req = parse_messages_request(await _json_body(request), images=state.config.images)
            await resolve_images(req.messages, state.config.images, state.engine.vision)
            sampling = sampling_params(max_tokens=state.max_tokens(req.max_tokens), stop=req.stop_sequences,
                                       reasoning_budget_tokens=req.reasoning_budget_tokens, **req.sampling)
            output = _core.OutputSpec(protocol=_core.Protocol.anthropic, id=f"msg_{secrets.token_hex(12)}",
                                      model=req.model or state.model_name, stream=req.stream,
                                      tool_search=req.tool_search)
            task = await state.engine.asubmit(conversation(req, sampling=sampling, output=output))
        except Exception as e:  # noqa: BLE001 - every failure answers in Anthropic's shape
            return failure_response(e, request)
        track(request, task)
        interrupt = state.interrupter(arrival(request))

        if req.stream:
            return SSEResponse(task, error_frame=_error_frame, ping=PING_FRAME, interrupt=interrupt)  # type: ignore[return-value]
        try:
            payloads = await collect(task, request, interrupt)
        except Exception as e:  # noqa: BLE001
            return failure_response(e, request)
        if payloads is None:
            return Response(status_code=499)  # nobody is listening any more
        return Response(b"".join(payloads), media_type="application/json")

    async def count_tokens(request: Request) -> Response:
        if request.method != "POST":
            return error_response(405, f"method {request.method} not allowed on {request.url.path}")
        try:
            req = parse_messages_request(await _json_body(request), count_only=True, images=state.config.images)
            await resolve_images(req.messages, state.config.images, state.engine.vision)
            # The very tokens a real call submits: same rendering, BOS and special tokens.
            n_tokens = await state.engine.count_tokens(conversation(req))
        except Exception as e:  # noqa: BLE001
            return failure_response(e, request)
        return JSONResponse({"input_tokens": n_tokens})

    async def not_found(request: Request) -> Response:
        return error_response(404, f"no such endpoint: {request.method} {request.url.path}")

    any_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return [
        Route("/v1/messages", messages, methods=any_method),
        Route("/v1/messages/count_tokens", count_tokens, methods=any_method),
        Route("/v1/messages/{rest:path}", not_found, methods=any_method),
    ]
