"""The OpenAI-compatible API: routes, error shape, and the llama-server extras clients probe.

Request bodies are validated in :mod:`pyllm.server.openai_request` into one native request;
rendering, tokenizing and the per-request protocol state (chunks and their SSE framing,
tool-call fragments, finish reason, usage, ``[DONE]``) are native, so this module only
submits requests and writes finished bytes.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pyllm import _core
from pyllm.chat import chat_request, render_chat_format, sampling_params
from pyllm.engine import Task
from pyllm.server import openai_request
from pyllm.server.errors import failure
from pyllm.server.images import image_parts, resolve_images
from pyllm.server.openai_request import RequestError
from pyllm.server.request_log import arrival, track
from pyllm.server.streaming import SSEResponse, collect

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "server_error", 503: "unavailable_error", 504: "timeout_error"}

_DONE = b"data: [DONE]\n\n"
_PING = b": ping\n\n"  # an SSE comment: clients skip it, proxies see traffic


def error_response(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    """``{"error": {"message", "type", "param", "code"}}`` with the HTTP status."""
    body = {"error": {"message": message, "type": ERROR_TYPES.get(status, "invalid_request_error"),
                      "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def failure_response(e: BaseException, request: Request | None = None) -> JSONResponse:
    f = failure(e, request)
    return error_response(f.status, f.message, f.param, f.code)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail))


def exception_handlers() -> dict[Any, Any]:
    """App-wide: unknown routes and wrong methods answer in OpenAI's error shape."""
    return {HTTPException: _http_exception}


def _error_frame(e: Exception) -> bytes:
    f = failure(e)
    body = {"error": {"message": f.message, "type": ERROR_TYPES.get(f.status, "server_error"), "param": None,
                      "code": f.code}}
    return f"data: {json.dumps(body)}\n\n".encode() + _DONE


def _logprobs_content(model: Any, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def piece(token: int, logprob: float) -> dict[str, Any]:
        text = model.detokenize([token])
        return {"token": text, "logprob": logprob, "bytes": list(text.encode())}

    return [{**piece(e["token"], e["logprob"]), "top_logprobs": [piece(t, lp) for t, lp in e["top"]]}
            for e in entries]


def _logprobs_frame(model: Any, task: Task) -> Callable[[bytes], bytes]:
    """Adds to each chunk the log-probabilities of the tokens sampled since the previous
    chunk (a chunk's text can lag its tokens while the parser holds back a marker). The
    rare opt-in path, so the chunk is parsed and written again here."""
    sent = 0

    def frame(payload: bytes) -> bytes:
        nonlocal sent
        if not payload.startswith(b"data: {"):
            return payload  # [DONE]
        chunk = json.loads(payload[6:])
        if chunk.get("choices"):
            entries = task.logprobs(sent)
            sent += len(entries)
            chunk["choices"][0]["logprobs"] = {"content": _logprobs_content(model, entries)}
        return f"data: {json.dumps(chunk)}\n\n".encode()

    return frame


def routes(state: Any) -> list[Route]:
    model = state.model

    async def body_of(request: Request) -> dict[str, Any]:
        return openai_request.parse_json_body(await request.body())

    def handled(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Exception as e:  # noqa: BLE001 - every failure answers in OpenAI's shape
                return failure_response(e, request)

        return run

    async def respond(task: Task, request: Request, stream: bool, n_logprobs: int) -> Response:
        track(request, task)
        interrupt = state.interrupter(arrival(request))

        if stream:
            return SSEResponse(task, error_frame=_error_frame, ping=_PING, interrupt=interrupt,  # type: ignore[return-value]
                               transform=_logprobs_frame(model, task) if n_logprobs else None)
        try:
            payloads = await collect(task, request, interrupt)
        except Exception as e:  # noqa: BLE001
            return failure_response(e, request)
        if payloads is None:
            return Response(status_code=499)  # nobody is listening any more
        payload = payloads[-1]
        if n_logprobs:
            body = json.loads(payload)
            body["choices"][0]["logprobs"] = {"content": _logprobs_content(model, task.logprobs())}
            return JSONResponse(body)
        return Response(payload, media_type="application/json")

    def conversation(req: openai_request.ChatRequest, **options: Any) -> _core.ChatRequest:
        return chat_request(
            req.messages, req.tools or None,
            enable_thinking=state.enable_thinking(req.enable_thinking),
            extract_reasoning=state.extract_reasoning(req.reasoning_format),
            parallel_tool_calls=req.parallel_tool_calls, tool_choice=req.tool_choice,
            json_schema=req.json_schema, template_kwargs=req.template_kwargs, **options)

    async def chat_completions(request: Request) -> Response:
        req = openai_request.chat_request(await body_of(request), model.n_vocab, state.config.images)
        await resolve_images(req.messages, state.config.images, state.engine.vision)
        sampling = dict(req.sampling, max_tokens=state.max_tokens(req.sampling["max_tokens"]), n_probs=req.n_logprobs)
        output = _core.OutputSpec(protocol=_core.Protocol.openai_chat, id=f"chatcmpl-{uuid.uuid4().hex}",
                                  created=int(time.time()), model=state.model_name, stream=req.stream,
                                  include_usage=req.include_usage, reasoning_field=state.config.reasoning_field)
        task = await state.engine.asubmit(conversation(req, sampling=sampling_params(**sampling), output=output))
        return await respond(task, request, req.stream, req.n_logprobs)

    async def completions(request: Request) -> Response:
        body = await body_of(request)
        prompt = openai_request.completion_prompt(body)
        if body.get("echo"):
            raise RequestError("'echo' is not supported", "echo")
        if body.get("suffix"):
            raise RequestError("'suffix' is not supported", "suffix")
        if body.get("logprobs"):
            raise RequestError("'logprobs' is not supported here; /v1/chat/completions reports them", "logprobs")
        stream, include_usage = openai_request.stream_options(body)
        sampling = {**openai_request.sampling_params(body, model.n_vocab), **openai_request.lazy_grammar_params(body)}
        if isinstance(prompt, list) and not all(0 <= t < model.n_vocab for t in prompt):
            raise RequestError("'prompt' has token ids outside the vocabulary", "prompt")
        # OpenAI's default for this endpoint: 16 tokens.
        sampling["max_tokens"] = state.max_tokens(sampling.pop("max_tokens") or 16)
        output = _core.OutputSpec(protocol=_core.Protocol.openai_completion, id=f"cmpl-{uuid.uuid4().hex}",
                                  created=int(time.time()), model=state.model_name, stream=stream,
                                  include_usage=include_usage)
        native = (_core.ChatRequest(prompt_text=prompt) if isinstance(prompt, str)
                  else _core.ChatRequest(prompt_tokens=prompt))
        native.sampling = sampling_params(**sampling)
        native.output = output
        task = await state.engine.asubmit(native)
        return await respond(task, request, stream, 0)

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": state.model_name, "object": "model", "created": state.created, "owned_by": "pyllm",
             # llama-server's capability names: clients look for "multimodal" to send images.
             "capabilities": ["completion", "multimodal"] if state.engine.vision else ["completion"]}]})

    async def tokenize(request: Request) -> Response:
        body = await body_of(request)
        content = body.get("content")
        if not isinstance(content, str):
            raise RequestError("'content' must be a string", "content")
        add_special = openai_request.bool_field(body, "add_special", False)
        with_pieces = openai_request.bool_field(body, "with_pieces", False)
        tokens = model.tokenize(content, add_special=add_special, parse_special=True)
        if with_pieces:
            return JSONResponse({"tokens": [{"id": t, "piece": model.detokenize([t])} for t in tokens]})
        return JSONResponse({"tokens": tokens})

    async def detokenize(request: Request) -> Response:
        tokens = (await body_of(request)).get("tokens")
        if not isinstance(tokens, list) or not all(openai_request.is_int(t) for t in tokens):
            raise RequestError("'tokens' must be a list of token ids", "tokens")
        if not all(0 <= t < model.n_vocab for t in tokens):
            raise RequestError("'tokens' has ids outside the vocabulary", "tokens")
        return JSONResponse({"content": model.detokenize(tokens)})

    async def apply_template(request: Request) -> Response:
        req = openai_request.chat_request(await body_of(request), model.n_vocab)
        if any(True for _ in image_parts(req.messages)):
            raise RequestError("/apply-template renders text only: send the images to /v1/chat/completions", "messages")
        r = conversation(req)
        # Rendering grows with the conversation: off the event loop (it releases the GIL).
        output_format = await asyncio.to_thread(
            _core.RenderedChat, model._native, r.messages_json, r.tools_json, r.enable_thinking,
            r.extract_reasoning, r.parallel_tool_calls, r.tool_choice, r.continue_final_message, r.json_schema,
            r.template_kwargs)
        return JSONResponse({"prompt": output_format.prompt})

    thinks = _template_thinks(model)

    async def props(request: Request) -> Response:
        n_ctx = state.engine.n_ctx_slot
        stats = state.engine.stats()
        return JSONResponse({
            "model_path": model.path,
            "model_alias": state.model_name,
            "n_ctx": n_ctx,
            "total_slots": stats["n_slots"],
            # What the prompt cache holds in host memory now (idle slots' prompts, and the
            # context checkpoints of recurrent, hybrid and sliding-window models).
            "prompt_cache": {key: stats[key] for key in ("saved_prompts", "saved_bytes", "checkpoints",
                                                         "checkpoint_bytes", "checkpoint_restores",
                                                         "checkpoint_restore_failures")},
            "default_generation_settings": {"n_ctx": n_ctx, "params": {"n_predict": state.config.n_predict}},
            "chat_template": model.chat_template,
            "chat_template_caps": {"supports_thinking": thinks},
            "thinking": thinks and state.enable_thinking(None) is not False,
            "reasoning_field": state.config.reasoning_field,
            "bos_token": model.bos_token,
            "eos_token": model.eos_token,
            "modalities": {"vision": state.engine.vision, "audio": False},
        })

    return [
        Route("/v1/chat/completions", handled(chat_completions), methods=["POST"]),
        Route("/chat/completions", handled(chat_completions), methods=["POST"]),
        Route("/v1/completions", handled(completions), methods=["POST"]),
        Route("/completions", handled(completions), methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/models", models, methods=["GET"]),
        Route("/tokenize", handled(tokenize), methods=["POST"]),
        Route("/detokenize", handled(detokenize), methods=["POST"]),
        Route("/apply-template", handled(apply_template), methods=["POST"]),
        Route("/props", props, methods=["GET"]),
    ]


def _template_thinks(model: Any) -> bool:
    """Whether the chat template reasons: it has a thinking switch, or opens a think block itself."""
    probe = [{"role": "user", "content": "hi"}]
    try:
        on = render_chat_format(model, probe, enable_thinking=True)
        off = render_chat_format(model, probe, enable_thinking=False)
    except _core.ChatTemplateError:
        return False
    return on.prompt != off.prompt or bool(on.thinking_start_tag and on.thinking_start_tag in on.generation_prompt)
