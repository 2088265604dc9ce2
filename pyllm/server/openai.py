"""The OpenAI-compatible API (routes, request validation, error shape).

Chat completions and the rest of the OpenAI surface land here (issue 5); the per-request
protocol state lives in the native OpenAI encoder.
"""
from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "server_error", 503: "unavailable_error"}


def error_response(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    """``{"error": {"message", "type", "param", "code"}}`` with the HTTP status."""
    body = {"error": {"message": message, "type": ERROR_TYPES.get(status, "invalid_request_error"),
                      "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail))


def exception_handlers() -> dict[Any, Any]:
    """App-wide: unknown routes and wrong methods answer in OpenAI's error shape."""
    return {HTTPException: _http_exception}


def routes(state: Any) -> list[Route]:
    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": state.model_name, "object": "model", "created": state.created, "owned_by": "pyllm"}]})

    return [Route("/v1/models", models, methods=["GET"])]
