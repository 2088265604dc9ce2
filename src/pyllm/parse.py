"""Incremental reasoning / tool-call parsing of a model's output (native, see csrc/parse).

A :class:`StreamParser` is made per request from the rendered chat (template, messages,
tools, thinking switch), fed the text of each sampled token, and returns typed events.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pyllm import _core
from pyllm.chat import render_chat_format
from pyllm.model import Model

EventKind = Literal["reasoning", "content", "tool_call_start", "tool_args", "tool_call_end"]


@dataclass(frozen=True)
class StreamEvent:
    """One delta. ``text`` for reasoning/content/tool_args; ``index`` for tool events;
    ``id`` and ``name`` on ``tool_call_start`` only."""

    kind: EventKind
    text: str = ""
    index: int = 0
    id: str = ""
    name: str = ""


@dataclass
class ParsedMessage:
    """The message a sequence of events adds up to."""

    reasoning: str = ""
    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    ended_calls: set[int] = field(default_factory=set)

    def apply(self, event: StreamEvent) -> None:
        if event.kind == "reasoning":
            self.reasoning += event.text
        elif event.kind == "content":
            self.content += event.text
        elif event.kind == "tool_call_start":
            self.tool_calls.append({"name": event.name, "arguments": "", "id": event.id})
        elif event.kind == "tool_args":
            self.tool_calls[event.index]["arguments"] += event.text
        else:
            self.ended_calls.add(event.index)

    @classmethod
    def from_events(cls, events: Iterable[StreamEvent]) -> ParsedMessage:
        msg = cls()
        for e in events:
            msg.apply(e)
        return msg


def _events(raw: list[tuple[str, str, int, str, str]]) -> list[StreamEvent]:
    return [StreamEvent(kind, text, index, id_, name) for kind, text, index, id_, name in raw]  # type: ignore[arg-type]


class StreamParser:
    """Parses one response incrementally.

    ``feed(text)`` returns the events that text produced (a marker split across tokens is
    held back until it is decided); ``finish()`` flushes. ``family`` names the native module
    in use, or ``"reference"`` when the format falls back to llama.cpp's parser.
    """

    def __init__(
        self,
        model: Model,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        *,
        enable_thinking: bool | None = None,
        extract_reasoning: bool = True,
        parallel_tool_calls: bool = True,
        force_reference: bool = False,
        template_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.output_format = self.render(
            model,
            messages,
            tools,
            enable_thinking=enable_thinking,
            extract_reasoning=extract_reasoning,
            parallel_tool_calls=parallel_tool_calls,
            template_kwargs=template_kwargs,
        )
        self._native = _core.StreamParser(self.output_format, force_reference)

    @staticmethod
    def render(
        model: Model,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        *,
        enable_thinking: bool | None = None,
        extract_reasoning: bool = True,
        parallel_tool_calls: bool = True,
        template_kwargs: Mapping[str, Any] | None = None,
    ) -> _core.RenderedChat:
        """The request's rendered chat format, from which any number of parsers are made."""
        return render_chat_format(
            model,
            messages,
            tools,
            enable_thinking=enable_thinking,
            extract_reasoning=extract_reasoning,
            parallel_tool_calls=parallel_tool_calls,
            template_kwargs=template_kwargs,
        )

    @classmethod
    def from_output_format(cls, output_format: _core.RenderedChat, *, force_reference: bool = False) -> StreamParser:
        """A parser for an already rendered request (see :meth:`render`)."""
        parser = cls.__new__(cls)
        parser.output_format = output_format
        parser._native = _core.StreamParser(output_format, force_reference)
        return parser

    @classmethod
    def from_template(
        cls,
        template_source: str,
        vocab_path: str | os.PathLike[str],
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> StreamParser:
        """A parser for ``template_source`` rendered with a vocab-only tokenizer."""
        return cls(Model.from_template(template_source, vocab_path), messages, tools, **options)

    @property
    def family(self) -> str:
        return self._native.family

    def feed(self, text: str | bytes) -> list[StreamEvent]:
        return _events(self._native.feed(text))

    def feed_many(self, pieces: Iterable[str | bytes]) -> list[StreamEvent]:
        """Feeds every piece in one native call (no return to Python between pieces)."""
        return _events(self._native.feed_many(list(pieces)))

    def finish(self) -> list[StreamEvent]:
        return _events(self._native.finish())

    def reference_parse(self, text: str | bytes, is_partial: bool) -> dict[str, Any]:
        """llama.cpp's own parse (common_chat_parse) of ``text`` for this request."""
        return self.output_format.reference_parse(text, is_partial)
