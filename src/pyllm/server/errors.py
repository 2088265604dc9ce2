"""One error model for every route: what each failure means for the client (HTTP status,
OpenAI ``code`` and ``param``), whichever API it came through. Each API module turns the
result into its own error shape; anything not known here is a server fault, logged with the
request id and answered as a 500 in the route's shape, never as plain text.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request

from pyllm import _core
from pyllm.server.anthropic_request import AnthropicRequestError
from pyllm.server.images import ImageRequestError
from pyllm.server.openai_request import RequestError
from pyllm.server.request_log import request_id
from pyllm.server.streaming import Interrupted

log = logging.getLogger("pyllm.server")


@dataclass(frozen=True)
class Failure:
    status: int
    message: str
    code: str | None = None
    param: str | None = None
    overloaded: bool = False  # OpenAI answers 429 (the SDKs retry it), Anthropic 529


def failure(e: BaseException, request: Request | None = None) -> Failure:
    """What ``e`` means for the client. Unknown exceptions are logged here, once."""
    if isinstance(e, RequestError):
        return Failure(e.status, e.message, e.code, e.param)
    if isinstance(e, AnthropicRequestError):
        return Failure(e.status, str(e))
    if isinstance(e, ImageRequestError):
        return Failure(400, str(e), param=e.param)
    if isinstance(e, _core.ContextOverflowError):
        return Failure(400, str(e), "context_length_exceeded", "messages")
    if isinstance(e, _core.EngineOverloadedError):
        return Failure(429, str(e), "overloaded", overloaded=True)
    if isinstance(e, (_core.InvalidRequestError, _core.ChatTemplateError)):
        return Failure(400, str(e))
    if isinstance(e, Interrupted):
        return Failure(e.status, str(e), e.code, overloaded=e.status == 503)
    if isinstance(e, _core.EngineError):
        log.error("request %s: generation failed: %s", request_id(request), e)
        return Failure(500, str(e), "engine_error")
    log.exception("request %s failed", request_id(request), exc_info=e)
    return Failure(500, f"internal server error ({type(e).__name__}); see the server log for request "
                        f"{request_id(request)}", "internal_error")
