"""An Anthropic Messages request, validated and reduced to what the engine takes:
OpenAI-style messages and tools for the chat template, template switches, sampling.

Permissive where llama-server is (any model name, a missing ``max_tokens``, unknown
fields, ``cache_control`` anywhere); strict, with a 400 that says what is wrong, where a
request cannot be served as meant.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pyllm.server.images import ImageOptions, ImageRequestError, from_base64, from_url, joined

# Claude Code's first system block; it changes on every request and would defeat the
# prompt cache if it reached the prompt.
BILLING_HEADER_PREFIX = "x-anthropic-billing-header:"


class AnthropicRequestError(Exception):
    """A client mistake: answered as 400 invalid_request_error (or ``status``)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class MessagesRequest:
    model: str | None
    messages: list[dict[str, Any]]           # OpenAI-style, for render_chat_format
    tools: list[dict[str, Any]]              # OpenAI-style function tools
    tool_choice: str = "auto"                # auto | none | required
    parallel_tool_calls: bool = True
    enable_thinking: bool | None = None      # None: the server's default
    reasoning_budget_tokens: int | None = None
    stream: bool = False
    max_tokens: int | None = None
    stop_sequences: list[str] = field(default_factory=list)
    sampling: dict[str, Any] = field(default_factory=dict)
    tool_search: str = ""  # JSON: the search tools and the deferred tools they search (native encoder)


def _fail(message: str) -> AnthropicRequestError:
    return AnthropicRequestError(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _fail(f"{where}.content: expected a string or a list of content blocks")
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _fail(f"{where}.content.{i}: expected a content block object with a type")
    return content


def _text_of(block: dict[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise _fail(f"{where}: text block needs a string 'text'")
    return text


def _image(block: dict[str, Any], where: str, images: ImageOptions) -> dict[str, Any]:
    """An image block (base64 or URL source) as an image part (pyllm.server.images)."""
    source = block.get("source")
    if not isinstance(source, dict):
        raise ImageRequestError("an image block needs a 'source' object", where)
    kind = source.get("type")
    if kind == "base64":
        media_type = source.get("media_type")
        if not isinstance(media_type, str) or not media_type:
            raise ImageRequestError("a base64 image source needs its 'media_type'", where)
        return from_base64(source.get("data"), media_type, where, images)
    if kind == "url":
        return from_url(source.get("url"), where, images)
    raise ImageRequestError(f"image source type {kind!r} is not supported (base64 or url)", where)


def _unsupported(block: dict[str, Any], where: str) -> AnthropicRequestError | None:
    kind = block["type"]
    if kind == "document":
        return _fail(f"{where}: document content blocks are not supported by this server")
    return None


def _system_text(system: Any) -> str:
    if system is None:
        return ""
    if isinstance(system, str):
        return system
    if not isinstance(system, list):
        raise _fail("system: expected a string or a list of text blocks")
    parts = []
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _fail(f"system.{i}: expected a text block")
        text = _text_of(block, f"system.{i}")
        if not text.startswith(BILLING_HEADER_PREFIX):
            parts.append(text)
    return "\n\n".join(parts)


def _tool_reference(block: dict[str, Any], where: str, loaded: list[str]) -> str:
    name = block.get("tool_name")
    if not isinstance(name, str) or not name:
        raise _fail(f"{where}: tool_reference needs a 'tool_name'")
    loaded.append(name)
    return name


def _tool_result_content(block: dict[str, Any], where: str, loaded: list[str],
                         images: ImageOptions) -> str | list[dict[str, Any]]:
    content = block.get("content", "")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        pieces: list[str | dict[str, Any]] = []
        for i, inner in enumerate(content):
            if not isinstance(inner, dict) or not isinstance(inner.get("type"), str):
                raise _fail(f"{where}.content.{i}: expected a content block object with a type")
            if (error := _unsupported(inner, f"{where}.content.{i}")) is not None:
                raise error
            if inner["type"] == "text":
                pieces.append(_text_of(inner, f"{where}.content.{i}"))
            elif inner["type"] == "image":
                pieces.append(_image(inner, f"{where}.content.{i}", images))
            elif inner["type"] == "tool_reference":
                pieces.append(f"Tool loaded: {_tool_reference(inner, f'{where}.content.{i}', loaded)}")
        if block.get("is_error"):
            if not pieces or not isinstance(pieces[0], str):
                pieces.insert(0, "")
            pieces[0] = "Error: " + pieces[0]
        return joined(pieces, "\n")
    else:
        raise _fail(f"{where}.content: expected a string or a list of content blocks")
    return f"Error: {text}" if block.get("is_error") else text


def _user_messages(blocks: list[dict[str, Any]], where: str, loaded: list[str],
                   images: ImageOptions) -> list[dict[str, Any]]:
    # Tool results become OpenAI tool messages, which templates expect right after the
    # assistant's calls, so they come before the user's own text.
    tool_messages: list[dict[str, Any]] = []
    texts: list[str | dict[str, Any]] = []
    for i, block in enumerate(blocks):
        at = f"{where}.content.{i}"
        if (error := _unsupported(block, at)) is not None:
            raise error
        kind = block["type"]
        if kind == "text":
            texts.append(_text_of(block, at))
        elif kind == "image":
            texts.append(_image(block, at, images))
        elif kind == "tool_result":
            tool_use_id = block.get("tool_use_id")
            if not isinstance(tool_use_id, str) or not tool_use_id:
                raise _fail(f"{at}: tool_result needs a 'tool_use_id'")
            tool_messages.append({"role": "tool", "tool_call_id": tool_use_id,
                                  "content": _tool_result_content(block, at, loaded, images)})
        elif kind in ("tool_use", "thinking", "redacted_thinking"):
            raise _fail(f"{at}: '{kind}' blocks belong in assistant messages")
        else:
            raise _fail(f"{at}: unknown content block type '{kind}'")
    messages = tool_messages
    if texts:
        messages.append({"role": "user", "content": joined(texts, "\n")})
    return messages


def _search_result_text(block: dict[str, Any], where: str, loaded: list[str]) -> str:
    """A tool_search_tool_result as the tool message the model reads; its references load tools."""
    content = block.get("content")
    if not isinstance(content, dict):
        raise _fail(f"{where}: tool_search_tool_result needs a 'content' object")
    if content.get("type") == "tool_search_tool_result_error":
        return f"Error: {content.get('error_code', 'unavailable')}"
    references = content.get("tool_references")
    if not isinstance(references, list):
        raise _fail(f"{where}.content: expected 'tool_references'")
    names = [_tool_reference(r if isinstance(r, dict) else {}, f"{where}.content.tool_references.{i}", loaded)
             for i, r in enumerate(references)]
    return "Tools loaded: " + ", ".join(names) if names else "No tools matched."


def _assistant_messages(blocks: list[dict[str, Any]], where: str, loaded: list[str]) -> list[dict[str, Any]]:
    """One assistant turn as OpenAI-style messages. A server tool's call and result (tool
    search) inside the turn become a call, its tool message, and the rest of the turn after it."""
    out: list[dict[str, Any]] = []
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []

    def flush() -> None:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
        if reasoning:
            message["reasoning_content"] = "\n".join(reasoning)
        if calls:
            message["tool_calls"] = list(calls)
        out.append(message)
        texts.clear()
        reasoning.clear()
        calls.clear()

    for i, block in enumerate(blocks):
        at = f"{where}.content.{i}"
        if (error := _unsupported(block, at)) is not None:
            raise error
        kind = block["type"]
        if kind == "text":
            texts.append(_text_of(block, at))
        elif kind == "thinking":
            thinking = block.get("thinking")
            if not isinstance(thinking, str):
                raise _fail(f"{at}: thinking block needs a string 'thinking'")
            reasoning.append(thinking)
        elif kind == "redacted_thinking":
            continue  # opaque to every model but the one that wrote it
        elif kind in ("tool_use", "server_tool_use"):
            name, call_input = block.get("name"), block.get("input", {})
            if not isinstance(name, str) or not name:
                raise _fail(f"{at}: {kind} needs a 'name'")
            if not isinstance(call_input, dict):
                raise _fail(f"{at}: {kind} 'input' must be an object")
            calls.append({"id": str(block.get("id") or f"toolu_{len(calls)}"), "type": "function",
                          "function": {"name": name, "arguments": json.dumps(call_input)}})
        elif kind == "tool_search_tool_result":
            tool_use_id = block.get("tool_use_id")
            if not isinstance(tool_use_id, str) or not tool_use_id:
                raise _fail(f"{at}: tool_search_tool_result needs a 'tool_use_id'")
            text = _search_result_text(block, at, loaded)
            flush()
            out.append({"role": "tool", "tool_call_id": tool_use_id, "content": text})
        elif kind in ("tool_result", "image"):
            raise _fail(f"{at}: {kind} blocks belong in user messages")
        else:
            raise _fail(f"{at}: unknown content block type '{kind}'")
    if texts or reasoning or calls or not out:
        flush()
    return out


def _messages(raw: Any, system: str, loaded: list[str], images: ImageOptions) -> list[dict[str, Any]]:
    """The conversation as OpenAI-style messages; the tools its tool_reference blocks load
    are appended to ``loaded``."""
    if not isinstance(raw, list) or not raw:
        raise _fail("messages: at least one message is required")
    # Consecutive turns of one role are one turn.
    turns: list[tuple[str, list[dict[str, Any]], str]] = []
    for i, message in enumerate(raw):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise _fail(f"{where}: expected an object")
        role = message.get("role")
        if role not in ("user", "assistant", "system"):
            raise _fail(f"{where}.role: expected 'user', 'assistant' or 'system', got {role!r}")
        if "content" not in message:
            raise _fail(f"{where}: 'content' is required")
        blocks = _blocks(message["content"], where)
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, list(blocks), where))

    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for role, blocks, where in turns:
        if role == "system":
            text = "\n\n".join(_text_of(b, where) for b in blocks if b["type"] == "text"
                               and not b.get("text", "").startswith(BILLING_HEADER_PREFIX))
            if out and out[-1]["role"] == "system":
                out[-1]["content"] += "\n\n" + text
            else:
                out.append({"role": "system", "content": text})
        elif role == "user":
            out.extend(_user_messages(blocks, where, loaded, images))
        else:
            out.extend(_assistant_messages(blocks, where, loaded))
    if not any(m["role"] != "system" for m in out):
        raise _fail("messages: at least one user or assistant message is required")
    return out


# Anthropic's tool search server tools (type prefixes; the versions end in a date).
TOOL_SEARCH_TYPES = ("tool_search_tool_regex", "tool_search_tool_bm25")


def _search_tool(name: str, *, regex: bool) -> dict[str, Any]:
    """The tool search tool as the model sees it."""
    if regex:
        description = ("Search the deferred tools by a Python regular expression matched against their names, "
                       "descriptions and argument names and descriptions; the matching tools become callable.")
        argument = {"pattern": {"type": "string", "description": "a Python re.search() pattern, at most 200 characters"}}
    else:
        description = ("Search the deferred tools with a natural-language query over their names and "
                       "descriptions; the best matches become callable.")
        argument = {"query": {"type": "string", "description": "what the tool should do"}}
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": argument, "required": list(argument)}}}


def _searchable_text(tool: dict[str, Any]) -> str:
    """What tool search matches: the description, argument names and their descriptions."""
    parts = [tool.get("description") or ""]
    properties = (tool.get("input_schema") or {}).get("properties") or {}
    if isinstance(properties, dict):
        for name, schema in properties.items():
            parts.append(str(name))
            if isinstance(schema, dict) and isinstance(schema.get("description"), str):
                parts.append(schema["description"])
    return "\n".join(p for p in parts if isinstance(p, str))


def _tool_search_catalog(raw: Any, loaded: list[str]) -> str:
    """The native encoder's tool search: the search tools offered and the deferred tools not
    loaded yet, which a search can find."""
    if not isinstance(raw, list):
        return ""
    tools = [{"name": t["name"], "kind": "regex" if t["type"].startswith(TOOL_SEARCH_TYPES[0]) else "bm25"}
             for t in raw if isinstance(t, dict) and isinstance(t.get("type"), str)
             and t["type"].startswith(TOOL_SEARCH_TYPES) and isinstance(t.get("name"), str)]
    if not tools:
        return ""
    deferred = [{"name": t["name"], "text": _searchable_text(t)} for t in raw
                if isinstance(t, dict) and t.get("defer_loading") is True and isinstance(t.get("name"), str)
                and t["name"] not in loaded]
    return json.dumps({"tools": tools, "deferred": deferred})


def _tools(raw: Any, loaded: list[str]) -> list[dict[str, Any]]:
    """The function tools the template renders. A tool with ``defer_loading: true`` stays
    out of the prompt until a ``tool_reference`` in the conversation (``loaded``) names it
    (Anthropic's tool search), so a client with many tools sends a short prompt."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail("tools: expected a list")
    if raw and all(isinstance(t, dict) and t.get("defer_loading") is True for t in raw):
        raise _fail("tools: all tools have defer_loading set; at least one tool must be non-deferred")
    names = {t.get("name") for t in raw if isinstance(t, dict)}
    for name in loaded:
        if name not in names:
            raise _fail(f"tool_reference: no tool named {name!r} in tools")
    tools = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise _fail(f"tools.{i}: a tool needs a 'name'")
        if tool.get("defer_loading") is True and tool["name"] not in loaded:
            continue
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith(TOOL_SEARCH_TYPES):
            tools.append(_search_tool(tool["name"], regex=kind.startswith(TOOL_SEARCH_TYPES[0])))
            continue
        schema = tool.get("input_schema", {"type": "object", "properties": {}})
        if not isinstance(schema, dict):
            raise _fail(f"tools.{i}.input_schema: expected a JSON schema object")
        function: dict[str, Any] = {"name": tool["name"], "parameters": schema}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(raw: Any, tools: list[dict[str, Any]], request: MessagesRequest) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict) or raw.get("type") not in ("auto", "any", "tool", "none"):
        raise _fail("tool_choice: expected {'type': 'auto' | 'any' | 'tool' | 'none'}")
    kind = raw["type"]
    if raw.get("disable_parallel_tool_use"):
        request.parallel_tool_calls = False
    if kind == "none":
        request.tool_choice = "none"
    elif kind in ("any", "tool"):
        if not tools:
            raise _fail(f"tool_choice: '{kind}' needs tools")
        if kind == "tool":
            name = raw.get("name")
            named = [t for t in tools if t["function"]["name"] == name]
            if not named:
                raise _fail(f"tool_choice: no tool named {name!r}")
            request.tools = named
            request.parallel_tool_calls = False  # a named tool is exactly one call
        request.tool_choice = "required"


def _thinking(raw: Any, request: MessagesRequest) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict) or raw.get("type") not in ("enabled", "disabled", "adaptive"):
        raise _fail("thinking: expected {'type': 'enabled' | 'disabled' | 'adaptive'}")
    if raw["type"] == "disabled":
        request.enable_thinking = False
        return
    request.enable_thinking = True
    if raw["type"] == "enabled":
        budget = raw.get("budget_tokens")
        if not _is_int(budget) or budget < 1:
            raise _fail("thinking.budget_tokens: expected a positive integer")
        if request.max_tokens is not None and budget >= request.max_tokens:
            raise _fail("thinking.budget_tokens: must be less than max_tokens")
        request.reasoning_budget_tokens = budget


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    sampling: dict[str, Any] = {}
    for name, low, high in (("temperature", 0.0, 2.0), ("top_p", 0.0, 1.0)):
        if body.get(name) is not None:
            value = body[name]
            if not _is_number(value) or not low <= value <= high:
                raise _fail(f"{name}: expected a number in [{low}, {high}]")
            sampling[name] = float(value)
    if body.get("top_k") is not None:
        if not _is_int(body["top_k"]) or body["top_k"] < 0:
            raise _fail("top_k: expected a non-negative integer")
        sampling["top_k"] = body["top_k"]
    # llama-server's extension: a GBNF grammar the output must match.
    if body.get("grammar") is not None:
        if not isinstance(body["grammar"], str):
            raise _fail("grammar: expected a GBNF string")
        sampling["grammar"] = body["grammar"]
    # llama-server's extension: generate max_tokens tokens, end of turn or not (benchmarks).
    if body.get("ignore_eos") is not None:
        if not isinstance(body["ignore_eos"], bool):
            raise _fail("ignore_eos: expected a boolean")
        sampling["ignore_eos"] = body["ignore_eos"]
    return sampling


def parse_messages_request(body: Any, *, count_only: bool = False,
                           images: ImageOptions | None = None) -> MessagesRequest:
    """Validate a ``/v1/messages`` (or ``count_tokens``) body. Image blocks become image parts
    (pyllm.server.images); URL images are fetched later (resolve_images)."""
    if not isinstance(body, dict):
        raise _fail("the request body must be a JSON object")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise _fail("model: expected a string")
    max_tokens = None if count_only else body.get("max_tokens")
    if max_tokens is not None and (not _is_int(max_tokens) or max_tokens < 1):
        raise _fail("max_tokens: expected a positive integer")
    stop = body.get("stop_sequences") or []
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise _fail("stop_sequences: expected a list of non-empty strings")
    loaded: list[str] = []
    messages = _messages(body.get("messages"), _system_text(body.get("system")), loaded, images or ImageOptions())
    tools = _tools(body.get("tools"), loaded)
    request = MessagesRequest(
        model=model,
        messages=messages,
        tools=tools,
        stream=bool(body.get("stream", False)),
        max_tokens=max_tokens,
        stop_sequences=list(stop),
        sampling=_sampling(body),
        tool_search=_tool_search_catalog(body.get("tools"), loaded),
    )
    _tool_choice(body.get("tool_choice"), tools, request)
    _thinking(body.get("thinking"), request)
    if request.tool_choice == "required":
        # As the Anthropic API: a forced call answers without thinking, and asking for both
        # is a 400. (A template that thinks anyway gets its reasoning bounded natively.)
        if request.enable_thinking:
            raise _fail("Thinking may not be enabled when tool_choice forces tool use.")
        request.enable_thinking = False
    return request
