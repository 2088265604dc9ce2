"""Chat requests through the engine: render the template, parse the output natively.

:func:`render_chat_format` reduces a conversation to what one request needs (prompt,
output format, tool-call grammar); :meth:`pyllm.Engine.chat` runs it and yields the
parsed events (reasoning, content, tool calls) as dicts. The HTTP APIs use the same
rendering with their own protocol encoders.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pyllm import _core
from pyllm.model import Model


_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


def _is_empty_assistant(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    return (
        message.get("role") == "assistant"
        and not content
        and not message.get("tool_calls")
        and not message.get("reasoning_content")
        and not message.get("reasoning")
    )


def _open_think_as_reasoning(prefill: dict[str, Any]) -> None:
    """A prefill whose content opens a think block and leaves it open continues the reasoning:
    templates would otherwise render the text after a closed (empty) think block, and the
    output would be parsed as content."""
    content = prefill.get("content")
    if not isinstance(content, str) or prefill.get("reasoning_content"):
        return
    stripped = content.lstrip()
    if stripped.startswith(_THINK_OPEN) and _THINK_CLOSE not in stripped:
        prefill["reasoning_content"] = stripped[len(_THINK_OPEN):].lstrip("\n")
        prefill["content"] = ""


def render_chat_format(
    model: Model,
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
) -> _core.ChatOutputFormat:
    """Render one chat request. A trailing assistant message is a prefill that the output
    continues (thinking templates included); an empty trailing assistant message is dropped.
    ``tool_choice``: ``auto``, ``none`` or ``required`` (a grammar forces a call).
    ``tool_input_grammars``: tool name -> GBNF for the escaped text of its string argument
    ``input`` (freeform tools; applied where the tools are described in the prompt)."""
    messages = [dict(m) for m in messages]
    for m in messages:
        # Templates read reasoning_content; some clients send the vLLM/Ollama name.
        if "reasoning" in m and "reasoning_content" not in m:
            m["reasoning_content"] = m.pop("reasoning")
    if messages and _is_empty_assistant(messages[-1]):
        messages.pop()
    prefill = bool(messages) and messages[-1].get("role") == "assistant"
    if prefill:
        _open_think_as_reasoning(messages[-1])
    return _core.ChatOutputFormat(
        model._native,
        json.dumps(messages),
        json.dumps(list(tools)) if tools else "",
        enable_thinking,
        extract_reasoning,
        parallel_tool_calls,
        tool_choice=tool_choice,
        continue_final_message=prefill,
        json_schema=json.dumps(json_schema) if json_schema else "",
        template_kwargs={k: json.dumps(v) for k, v in (template_kwargs or {}).items()},
        tool_input_grammars=dict(tool_input_grammars or {}),
    )


class ChatEvents:
    """Iterates a chat task's events as dicts: ``start``, ``reasoning``, ``content``,
    ``tool_call_start`` (index, id, name), ``tool_args`` (index, text), ``tool_call_end``
    and ``finish`` (finish_reason, usage)."""

    def __init__(self, task: Any) -> None:
        self.task = task

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for payload in self.task:
            yield json.loads(payload)

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        async for payload in self.task:
            yield json.loads(payload)

    def cancel(self) -> None:
        self.task.cancel()
