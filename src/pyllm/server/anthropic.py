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
from pyllm.chat import render_chat_format
from pyllm.engine import EngineError
from pyllm.server.anthropic_request import AnthropicRequestError, MessagesRequest, parse_messages_request
from pyllm.server.request_log import arrival, track
from pyllm.server.streaming import Interrupted, collect, sse_response

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 405: "invalid_request_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 503: "overloaded_error", 504: "timeout_error",
               529: "overloaded_error"}

PING_FRAME = 'event: ping\ndata: {"type":"ping"}\n\n'


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status)


def _error_frame(exc: Exception) -> str:
    status = exc.status if isinstance(exc, Interrupted) else 500
    return f"event: error\ndata: {json.dumps(error_body(status, str(exc)))}\n\n"


def _status_of(exc: Exception) -> int:
    if isinstance(exc, AnthropicRequestError):
        return exc.status
    if isinstance(exc, _core.EngineOverloadedError):
        return 529
    if isinstance(exc, (_core.ContextOverflowError, _core.InvalidRequestError, _core.ChatTemplateError)):
        return 400
    return 500


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AnthropicRequestError(f"invalid JSON body: {e}") from e


def routes(state: Any) -> list[Route]:
    def render(req: MessagesRequest) -> Any:
        return render_chat_format(
            state.model,
            req.messages,
            req.tools or None,
            enable_thinking=state.enable_thinking(req.enable_thinking),
            extract_reasoning=state.extract_reasoning(None),
            parallel_tool_calls=req.parallel_tool_calls,
            tool_choice=req.tool_choice,
        )

    async def messages(request: Request) -> Response:
        if request.method != "POST":
            return error_response(405, f"method {request.method} not allowed on {request.url.path}")
        try:
            req = parse_messages_request(await _json_body(request))
            output_format = render(req)
            model_name = req.model or state.model_name
            processor = _core.anthropic_processor(
                output_format, f"msg_{secrets.token_hex(12)}", model_name, req.stream, req.stop_sequences,
                req.tool_search)
            task = state.engine.submit_chat(
                output_format,
                processor,
                max_tokens=state.max_tokens(req.max_tokens),
                stop=req.stop_sequences,
                reasoning_budget_tokens=req.reasoning_budget_tokens,
                **req.sampling,
            )
        except Exception as e:  # noqa: BLE001 - every failure answers in Anthropic's shape
            return error_response(_status_of(e), str(e))
        track(request, task)
        interrupt = state.interrupter(arrival(request))

        if req.stream:
            return sse_response(task, frame=str, error_frame=_error_frame, ping=PING_FRAME, interrupt=interrupt)
        try:
            payloads = await collect(task, request, interrupt)
        except EngineError as e:
            return error_response(500, str(e))
        except Interrupted as e:
            return error_response(529 if e.status == 503 else e.status, str(e))
        if payloads is None:
            return Response(status_code=499)  # nobody is listening any more
        return Response("".join(payloads), media_type="application/json")

    async def count_tokens(request: Request) -> Response:
        if request.method != "POST":
            return error_response(405, f"method {request.method} not allowed on {request.url.path}")
        try:
            req = parse_messages_request(await _json_body(request), count_only=True)
            # The very tokens a real call submits: same rendering, BOS and special tokens.
            n_tokens = len(state.engine.tokenize_prompt(render(req).prompt))
        except Exception as e:  # noqa: BLE001
            return error_response(_status_of(e), str(e))
        return JSONResponse({"input_tokens": n_tokens})

    async def not_found(request: Request) -> Response:
        return error_response(404, f"no such endpoint: {request.method} {request.url.path}")

    any_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return [
        Route("/v1/messages", messages, methods=any_method),
        Route("/v1/messages/count_tokens", count_tokens, methods=any_method),
        Route("/v1/messages/{rest:path}", not_found, methods=any_method),
    ]
