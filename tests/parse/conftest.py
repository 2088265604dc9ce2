"""Shared helpers for the parser tests: real templates, real tokenizers, the oracle."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

import pyllm
from pyllm import ParsedMessage, StreamEvent, StreamParser

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "vendor" / "llama.cpp" / "models"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
NOW = {
    "type": "function",
    "function": {"name": "get_time", "description": "The time now", "parameters": {"type": "object", "properties": {}}},
}
TOOLS = [WEATHER, NOW]
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


@functools.lru_cache(maxsize=None)
def vocab_model(template: str, vocab: str = "ggml-vocab-qwen2.gguf") -> pyllm.Model:
    if not (MODELS / "templates").is_dir():
        pytest.fail(f"llama.cpp source not found under {MODELS.parent}; build the package first")
    return pyllm.Model.from_template((MODELS / "templates" / template).read_text(), MODELS / vocab)


def make_parser(template: str, tools: list[dict[str, Any]] | None = TOOLS, **options: Any) -> StreamParser:
    return StreamParser(vocab_model(template), MESSAGES, tools, **options)


def token_pieces(model: pyllm.Model, text: str) -> list[str]:
    """The text as the model would stream it: one piece per token, special tokens as text.
    A token that ends inside a UTF-8 character is merged with the next (Python strings
    cannot hold half a character; byte-level splits are tested separately)."""
    tokens = model.tokenize(text, add_special=False, parse_special=True)
    pieces: list[str] = []
    pending: list[int] = []
    for t in tokens:
        pending.append(t)
        piece = model.detokenize(pending, render_special=True)
        if "\ufffd" in piece and "\ufffd" not in text:
            continue
        pieces.append(piece)
        pending = []
    assert not pending and "".join(pieces) == text
    return pieces


def run(parser: StreamParser, pieces: list[str | bytes]) -> tuple[ParsedMessage, list[StreamEvent]]:
    events: list[StreamEvent] = []
    for p in pieces:
        events += parser.feed(p)
    events += parser.finish()
    return ParsedMessage.from_events(events), events


def as_plain(msg: ParsedMessage | dict[str, Any]) -> dict[str, Any]:
    if isinstance(msg, ParsedMessage):
        return {
            "reasoning": msg.reasoning,
            "content": msg.content,
            "tool_calls": [(c["name"], c["arguments"]) for c in msg.tool_calls],
        }
    return {
        "reasoning": msg["reasoning"],
        "content": msg["content"],
        "tool_calls": [(c["name"], c["arguments"]) for c in msg["tool_calls"]],
    }


def check_against_reference(
    template: str, text: str, expected_family: str, vocab: str = "ggml-vocab-qwen2.gguf", **options: Any
) -> None:
    """Feeds `text` token by token: at every prefix what was emitted is a prefix of the
    reference's final parse (never retracted, names sent once, arguments only grow), and at
    the end the message equals it."""
    model = vocab_model(template, vocab)
    parser = StreamParser(model, MESSAGES, options.pop("tools", TOOLS), **options)
    assert parser.family == expected_family
    reference = as_plain(parser.reference_parse(text, False))
    msg = ParsedMessage()
    for piece in token_pieces(model, text):
        for event in parser.feed(piece):
            msg.apply(event)
        now = as_plain(msg)
        assert reference["reasoning"].startswith(now["reasoning"])
        assert reference["content"].startswith(now["content"])
        assert len(now["tool_calls"]) <= len(reference["tool_calls"])
        for (name, args), (ref_name, ref_args) in zip(now["tool_calls"], reference["tool_calls"]):
            assert name == ref_name and ref_args.startswith(args)
    for event in parser.finish():
        msg.apply(event)
    assert as_plain(msg) == reference
    ids = [c["id"] for c in msg.tool_calls]
    assert all(ids) and len(set(ids)) == len(ids)


@pytest.fixture(scope="session")
def kit() -> Any:
    """The helpers above, for test modules (conftest cannot be imported under importlib mode)."""
    import types

    return types.SimpleNamespace(
        MESSAGES=MESSAGES,
        StreamParser=StreamParser,
        TOOLS=TOOLS,
        as_plain=as_plain,
        check_against_reference=check_against_reference,
        make_parser=make_parser,
        run=run,
        token_pieces=token_pieces,
        vocab_model=vocab_model,
    )
