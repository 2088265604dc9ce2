"""Chat requests through the engine: render the template, parse the output natively.

:func:`render_chat_format` reduces a conversation to what one request needs (prompt,
output format, tool-call grammar); :meth:`pyllm.Engine.chat` runs it and yields the
parsed events (reasoning, content, tool calls) as dicts. The HTTP APIs use the same
rendering with their own protocol encoders.
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from pyllm import _core
from pyllm.model import Model




def _is_empty_assistant(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    return (
        message.get("role") == "assistant"
        and not content
        and not message.get("tool_calls")
        and not message.get("reasoning_content")
        and not message.get("reasoning")
    )


def sampling_params(**params: Any) -> _core.SamplingParams:
    """The native sampling parameters from keywords (the names of Engine.submit's); None and
    absent keywords keep the engine's defaults."""
    sampling = _core.SamplingParams()
    for name, value in params.items():
        if value is None:
            continue
        if name == "json_schema" and isinstance(value, Mapping):
            value = json.dumps(value)
        elif name in ("stop", "grammar_triggers", "preserved_tokens"):
            value = list(value)
        elif name == "logit_bias":
            value = dict(value)
        try:
            setattr(sampling, name, value)
        except AttributeError:
            raise TypeError(f"unknown sampling parameter {name!r}") from None
    return sampling


def chat_request(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    *,
    enable_thinking: bool | None = None,
    extract_reasoning: bool = True,
    parallel_tool_calls: bool = True,
    tool_choice: str = "auto",
    json_schema: Mapping[str, Any] | None = None,
    template_kwargs: Mapping[str, Any] | None = None,
    tool_input_grammars: Mapping[str, str] | None = None,
    sampling: _core.SamplingParams | None = None,
    output: _core.OutputSpec | None = None,
) -> _core.ChatRequest:
    """One conversation as a native request. A trailing assistant message is a prefill that
    the output continues (thinking templates included); an empty trailing assistant message
    is dropped. ``tool_choice``: ``auto``, ``none`` or ``required`` (a grammar forces a call).
    ``tool_input_grammars``: tool name -> GBNF for the escaped text of its string argument
    ``input`` (freeform tools; applied where the tools are described in the prompt).

    A message's content may be a list of parts: ``{"type": "text", "text": ...}`` and images
    ``{"type": "image", "data": bytes, "media_type": "image/png"}`` (``media_type`` and
    ``where``, a location for error messages, are optional); images need an engine with a
    multimodal projector (``mmproj``)."""
    messages = _normalized(messages)
    images = _take_images(messages)
    request = _core.ChatRequest(
        messages_json=json.dumps(messages),
        tools_json=json.dumps(list(tools)) if tools else "",
        enable_thinking=enable_thinking,
        extract_reasoning=extract_reasoning,
        parallel_tool_calls=parallel_tool_calls,
        tool_choice=tool_choice,
        continue_final_message=bool(messages) and messages[-1].get("role") == "assistant",
        json_schema=json.dumps(json_schema) if json_schema else "",
        template_kwargs={k: json.dumps(v) for k, v in (template_kwargs or {}).items()},
        tool_input_grammars=dict(tool_input_grammars or {}),
        images=images,
    )
    if sampling is not None:
        request.sampling = sampling
    if output is not None:
        request.output = output
    return request


def _normalized(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    messages = [dict(m) for m in messages]
    for m in messages:
        # Templates read reasoning_content; some clients send the vLLM/Ollama name.
        if "reasoning" in m and "reasoning_content" not in m:
            m["reasoning_content"] = m.pop("reasoning")
    if messages and _is_empty_assistant(messages[-1]):
        messages.pop()
    return messages


def _take_images(messages: list[dict[str, Any]]) -> list[_core.ImageInput]:
    """The messages' image parts as native inputs, in order; each part becomes the bare
    ``{"type": "image"}`` placeholder the native side puts the projector's marker in."""
    images = []
    for i, m in enumerate(messages):
        content = m.get("content")
        if not isinstance(content, list):
            continue
        parts = []
        for j, part in enumerate(content):
            if isinstance(part, Mapping) and part.get("type") == "image":
                where = part.get("where") or f"messages[{i}].content[{j}]"
                data = part.get("data")
                if not isinstance(data, (bytes, bytearray)):
                    raise ValueError(f"{where}: an image part needs its file's bytes as 'data'")
                images.append(_core.ImageInput(data=bytes(data), media_type=part.get("media_type") or "",
                                               where=where))
                part = {"type": "image"}
            parts.append(part)
        m["content"] = parts
    return images


def render_chat_format(
    model: Model,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    **options: Any,
) -> _core.RenderedChat:
    """Render one conversation now (the prompt, the template's format, grammar and markers),
    with :func:`chat_request`'s options."""
    r = chat_request(messages, tools, **options)
    return _core.RenderedChat(
        model._native, r.messages_json, r.tools_json, r.enable_thinking, r.extract_reasoning,
        r.parallel_tool_calls, tool_choice=r.tool_choice, continue_final_message=r.continue_final_message,
        json_schema=r.json_schema, template_kwargs=r.template_kwargs, tool_input_grammars=r.tool_input_grammars)


class ChatEvents:
    """Iterates a chat task's events as dicts: ``start``, ``reasoning``, ``content``,
    ``tool_call_start`` (index, id, name), ``tool_args`` (index, text), ``tool_call_end``
    and ``finish`` (finish_reason, usage)."""

    def __init__(self, task: Any) -> None:
        self.task = task

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for payload in self.task:
            yield json.loads(payload)

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async for payload in self.task:
            yield json.loads(payload)

    def cancel(self) -> None:
        self.task.cancel()
