"""``POST /v1/embeddings`` in OpenAI's shape, served by the native embedder when the server
runs with ``--embeddings`` (as llama-server). The vectors stay in one native buffer from the
pooling to the response body, which is written natively (floats or base64)."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pyllm import _core
from pyllm.server import openai_request
from pyllm.server.openai import error_response, failure_response
from pyllm.server.openai_request import RequestError
from pyllm.server.request_log import arrival
from pyllm.server.streaming import collect

MAX_INPUTS = 2048  # OpenAI's limit on inputs per request

_INPUT_SHAPES = "a string, a list of strings, a list of token ids or a list of token-id lists"


def request_inputs(body: dict[str, Any]) -> list[str] | list[list[int]]:
    """The request's inputs as texts or token-id lists; RequestError for any other shape."""
    value = body.get("input")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise RequestError(f"'input' must be {_INPUT_SHAPES}", "input")
    if all(openai_request.is_int(x) for x in value):
        return [value]
    if len(value) > MAX_INPUTS:
        raise RequestError(f"'input' has {len(value)} items; at most {MAX_INPUTS} are allowed", "input")
    if all(isinstance(x, str) for x in value):
        for i, text in enumerate(value):
            if not text:
                raise RequestError(f"'input[{i}]' is an empty string", "input")
        return value
    if all(isinstance(x, list) for x in value):
        for i, tokens in enumerate(value):
            if not tokens or not all(openai_request.is_int(t) for t in tokens):
                raise RequestError(f"'input[{i}]' must be a non-empty list of token ids", "input")
        return value
    raise RequestError(f"'input' must be {_INPUT_SHAPES}, not a mix of them", "input")


def _failure(e: Exception, request: Request) -> Response:
    """The server's one error model, with what an embeddings client needs to hear about a
    too long input (the field, and the two ways out)."""
    if isinstance(e, _core.ContextOverflowError):
        return error_response(400, f"an input is too long: {e} (send \"truncate\": true to cut inputs to the "
                                   "limit, or start the server with a larger -b)", "input", "context_length_exceeded")
    return failure_response(e, request)


def routes(state: Any) -> list[Route]:
    async def embeddings(request: Request) -> Response:
        embedder = state.embedder
        try:
            body = openai_request.parse_json_body(await request.body())
            if embedder is None:
                raise RequestError("embeddings are off on this server: start it with --embeddings")
            inputs = request_inputs(body)
            encoding = body.get("encoding_format") or "float"
            if encoding not in ("float", "base64"):
                raise RequestError("'encoding_format' must be 'float' or 'base64'", "encoding_format")
            dimensions = body.get("dimensions")
            if dimensions is not None and dimensions != embedder.n_dims:
                raise RequestError(f"this model's embeddings have {embedder.n_dims} dimensions; 'dimensions' "
                                   f"cannot change that (got {dimensions!r})", "dimensions")
            truncate = openai_request.bool_field(body, "truncate", False)
            job = embedder.submit(inputs, normalize=True, truncate=truncate)
            finished = await collect(job.task, request, state.interrupter(arrival(request)))
        except Exception as e:  # noqa: BLE001 - every failure answers in OpenAI's shape
            return _failure(e, request)
        if finished is None:
            return Response(status_code=499)  # nobody is listening any more
        if job.task.result().finish_reason != "stop":  # ended by the embedder's shutdown
            return error_response(503, "the server is shutting down", None, "server_shutting_down")
        state.metrics.observe_embeddings(job.n_inputs, job.n_tokens)
        payload = _core.openai_embeddings_body(job.vectors(), state.model_name, encoding == "base64", job.n_tokens)
        return Response(payload, media_type="application/json")

    return [
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/embeddings", embeddings, methods=["POST"]),
    ]
