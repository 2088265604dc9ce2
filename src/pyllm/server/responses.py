"""The OpenAI Responses API: ``POST /v1/responses`` (stream and non-stream), and
``GET`` / ``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items`` on the
bounded store.

Requests are validated and translated in :mod:`pyllm.server.responses_request`; the native
Responses encoder owns every output item and writes finished SSE frames (with their
sequence numbers) or the whole Response object, so this module submits, writes the bytes
and keeps the finished response for ``previous_response_id``. Errors are OpenAI's shape.
"""
from __future__ import annotations

import json
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pyllm import _core
from pyllm.chat import chat_request, sampling_params
from pyllm.server import openai_request
from pyllm.server.errors import failure
from pyllm.server.images import resolve_images
from pyllm.server.openai import ERROR_TYPES, error_response
from pyllm.server.openai_request import RequestError
from pyllm.server.request_log import arrival, track
from pyllm.server.responses_request import ResponsesRequest, ResponseStore, echo_members, parse_request
from pyllm.server.streaming import Interrupted, SSEResponse, collect

_PING = b": ping\n\n"  # an SSE comment: clients skip it, proxies see traffic
_FINAL_EVENTS = (b"event: response.completed\n", b"event: response.incomplete\n")
_RESPONSE_MEMBER = b',"response":'


def _request_error(e: RequestError) -> JSONResponse:
    # Not every status maps to its usual type here: an unknown previous_response_id is a 404
    # of type invalid_request_error, as OpenAI answers it.
    body = {"error": {"message": e.message, "type": "invalid_request_error" if e.status in (400, 404)
                      else ERROR_TYPES.get(e.status, "invalid_request_error"), "param": e.param, "code": e.code}}
    return JSONResponse(body, status_code=e.status)


def _failure_response(e: Exception, request: Request | None = None) -> JSONResponse:
    if isinstance(e, RequestError):
        return _request_error(e)
    f = failure(e, request)
    return error_response(f.status, f.message, "input" if f.code == "context_length_exceeded" else f.param, f.code)


class _StreamFrames:
    """Frames a streamed response: the native payloads are final SSE frames, one per
    sequence number, so counting them gives the number for an error the server adds."""

    def __init__(self, keep: Any) -> None:
        self.sent = 0
        self.keep = keep

    def frame(self, payload: bytes) -> bytes:
        self.sent += 1
        if payload.startswith(_FINAL_EVENTS):
            # The final event is {"type":..,"sequence_number":..,"response":{...}}: keep the Response.
            data = payload[payload.index(b"data: ") + 6:].rstrip(b"\n")
            self.keep(data[data.index(_RESPONSE_MEMBER) + len(_RESPONSE_MEMBER):-1].decode())
        return payload

    def error_frame(self, e: Exception) -> bytes:
        code = e.code if isinstance(e, Interrupted) else "server_error"
        data = {"type": "error", "sequence_number": self.sent, "code": code, "message": str(e), "param": None}
        return f"event: error\ndata: {json.dumps(data)}\n\n".encode()


def routes(state: Any) -> list[Route]:
    config = state.config
    store = ResponseStore(config.responses_store_entries, config.responses_store_bytes, config.responses_store_ttl)

    async def submit(req: ResponsesRequest, response_id: str) -> Any:
        output = _core.OutputSpec(
            protocol=_core.Protocol.responses, id=response_id, model=req.model or state.model_name,
            created=int(time.time()), stream=req.stream, request_fields=echo_members(req.echo),
            responses_tools=list(req.tools.entries), reasoning_summary=req.echo["reasoning"]["summary"] is not None)
        request = chat_request(
            req.messages, req.tools.chat or None,
            enable_thinking=state.enable_thinking(req.enable_thinking),
            extract_reasoning=state.extract_reasoning(None),
            parallel_tool_calls=req.parallel_tool_calls,
            tool_choice=req.tool_choice,
            json_schema=req.json_schema,
            tool_input_grammars=req.tools.input_grammars,
            sampling=sampling_params(max_tokens=state.max_tokens(req.max_output_tokens), **req.sampling),
            output=output,
        )
        return await state.engine.asubmit(request)

    async def create(request: Request) -> Response:
        try:
            req = parse_request(openai_request.parse_json_body(await request.body()), store, state.config.images)
            await resolve_images(req.messages, state.config.images, state.engine.vision)
            response_id = f"resp_{secrets.token_hex(24)}"
            task = await submit(req, response_id)
        except Exception as e:  # noqa: BLE001 - every failure answers in OpenAI's shape
            return _failure_response(e, request)
        track(request, task)
        interrupt = state.interrupter(arrival(request))

        def keep(response_json: str) -> None:
            if req.store:
                store.put(response_id, response_json, req)

        if req.stream:
            frames = _StreamFrames(keep)
            return SSEResponse(task, transform=frames.frame, error_frame=frames.error_frame,  # type: ignore[return-value]
                               ping=_PING, interrupt=interrupt)
        try:
            payloads = await collect(task, request, interrupt)
        except Exception as e:  # noqa: BLE001
            return _failure_response(e, request)
        if payloads is None:
            return Response(status_code=499)  # nobody is listening any more
        keep(payloads[-1].decode())
        return Response(payloads[-1], media_type="application/json")

    def not_found(response_id: str) -> JSONResponse:
        return error_response(404, f"Response with id '{response_id}' not found.", "response_id")

    async def retrieve(request: Request) -> Response:
        response_id = request.path_params["response_id"]
        stored = store.get(response_id)
        if stored is None:
            return not_found(response_id)
        if request.query_params.get("stream") == "true":
            return error_response(400, "streaming a stored response again is not supported", "stream")
        return Response(stored.response_json, media_type="application/json")

    async def delete(request: Request) -> Response:
        response_id = request.path_params["response_id"]
        if not store.delete(response_id):
            return not_found(response_id)
        return JSONResponse({"id": response_id, "object": "response", "deleted": True})

    async def list_input_items(request: Request) -> Response:
        response_id = request.path_params["response_id"]
        stored = store.get(response_id)
        if stored is None:
            return not_found(response_id)
        q = request.query_params
        order = q.get("order", "desc")
        if order not in ("asc", "desc"):
            return error_response(400, "'order' must be 'asc' or 'desc'", "order")
        try:
            limit = int(q.get("limit", "20"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 100:
            return error_response(400, "'limit' must be an integer between 1 and 100", "limit")
        items = stored.input if order == "asc" else stored.input[::-1]
        for name in ("after", "before"):
            cursor = q.get(name)
            if cursor is not None:
                at = next((i for i, item in enumerate(items) if item["id"] == cursor), None)
                if at is None:
                    return error_response(400, f"'{name}': no input item with id '{cursor}'", name)
                items = items[at + 1:] if name == "after" else items[:at]
        page = items[:limit]
        return JSONResponse({"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                             "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit})

    return [
        Route("/v1/responses", create, methods=["POST"]),
        Route("/responses", create, methods=["POST"]),
        Route("/v1/responses/{response_id}", retrieve, methods=["GET"]),
        Route("/v1/responses/{response_id}", delete, methods=["DELETE"]),
        Route("/v1/responses/{response_id}/input_items", list_input_items, methods=["GET"]),
    ]
