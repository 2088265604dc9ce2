"""Validation of OpenAI Responses API requests, their translation to a chat conversation and
tools for the template, and the bounded store that ``previous_response_id`` continues from.

Input items become chat messages: ``message`` items by role (developer -> system),
``reasoning`` items the assistant turn's ``reasoning_content`` (foreign ``encrypted_content``
is ignored), ``function_call`` / ``custom_tool_call`` its ``tool_calls``, their outputs
``tool`` messages (input_image parts of an output included). Tools: ``function`` as is,
``custom`` (freeform) as a function with one string argument ``input`` whose text its
grammar constrains, ``namespace`` (MCP) tools flattened to ``<namespace>__<name>``, hosted
tools (``web_search``, ...) accepted and declared unavailable. Every client mistake is a :class:`RequestError` naming the parameter.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyllm.server.freeform_grammar import GrammarError, freeform_gbnf
from pyllm.server.images import ImageOptions, ImageRequestError, concatenated, from_url, joined
from pyllm.server.openai_request import RequestError, bool_field, is_int

_NAME_PATTERN = r"^[A-Za-z0-9_.\-]{1,128}$"
_EFFORTS = {"none", "minimal", "low", "medium", "high", "xhigh"}
_ROLES = {"user", "assistant", "system", "developer"}
_TEXT_PARTS = {"input_text", "output_text", "text", "refusal"}
# Output items of hosted tools (and other server-side state) that a conversation may carry
# back: nothing here can act on them, and they are no client mistake.
_SKIPPED_ITEMS = {"web_search_call", "file_search_call", "computer_call", "computer_call_output",
                  "image_generation_call", "code_interpreter_call", "mcp_call", "mcp_list_tools",
                  "mcp_approval_request", "mcp_approval_response", "local_shell_call", "local_shell_call_output",
                  "shell_call", "shell_call_output", "apply_patch_call", "apply_patch_call_output",
                  "tool_search_call", "tool_search_output", "compaction", "item_reference"}
_FREEFORM_HINT = "Freeform tool: write its raw input as the string argument `input`."
NAMESPACE_SEPARATOR = "__"


def _fail(message: str, param: str | None) -> RequestError:
    return RequestError(message, param)


def _input_image(part: Mapping[str, Any], param: str, images: ImageOptions) -> dict[str, Any]:
    """An ``input_image`` part (``image_url``: a data: URI or an http(s) URL) as an image part."""
    if part.get("file_id") is not None and part.get("image_url") is None:
        raise ImageRequestError("file_id images are not supported by this server: send 'image_url'", param)
    return from_url(part.get("image_url"), param, images)


def _text_of_parts(value: Any, param: str, images: ImageOptions | None = None) -> Any:
    """A content field's text: a string, or a list of text parts and, where ``images`` are
    allowed, input_image parts (then a list of text and image parts; see images.joined)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise _fail(f"'{param}' must be a string or a list of content parts", param)
    texts: list[str | dict[str, Any]] = []
    for j, part in enumerate(value):
        p = f"{param}[{j}]"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise _fail(f"'{p}' must be an object with a 'type'", p)
        kind = part["type"]
        if kind == "input_image" and images is not None:
            texts.append(_input_image(part, p, images))
            continue
        if kind == "input_file":
            raise _fail(f"'{p}': input_file parts are not supported by this server (send text, or images as "
                        "input_image)", p)
        if kind in ("input_image", "input_audio"):
            raise _fail(f"'{p}': content type '{kind}' is not supported here (text only)", p)
        if kind not in _TEXT_PARTS:
            raise _fail(f"'{p}.type' must be one of {sorted(_TEXT_PARTS)}, got {kind!r}", f"{p}.type")
        text = part.get("refusal" if kind == "refusal" else "text")
        if not isinstance(text, str):
            raise _fail(f"'{p}.text' must be a string", f"{p}.text")
        texts.append(text)
    return joined(texts, "")


def _string(item: Mapping[str, Any], name: str, param: str, *, required: bool = True) -> str:
    value = item.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _fail(f"'{param}.{name}' must be a string", f"{param}.{name}")
    return value


# --- tools -----------------------------------------------------------------------------------

@dataclass
class Tools:
    chat: list[dict[str, Any]] = field(default_factory=list)       # what the template sees
    entries: list[tuple[str, bool, str, str]] = field(default_factory=list)  # (flat, custom, ns, name)
    input_grammars: dict[str, str] = field(default_factory=dict)   # flat name -> GBNF of its input
    unavailable: list[str] = field(default_factory=list)           # hosted tools declared, not offered

    def flat_name(self, name: str, namespace: str | None = None) -> str:
        return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name

    def entry(self, flat: str) -> tuple[str, bool, str, str] | None:
        return next((e for e in self.entries if e[0] == flat), None)


def _add_tool(tools: Tools, tool: Mapping[str, Any], param: str, namespace: str | None) -> None:
    kind = tool.get("type")
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"'{param}.name' must be a non-empty string", f"{param}.name")
    if not re.match(_NAME_PATTERN, name):
        raise _fail(f"'{param}.name' must match {_NAME_PATTERN}", f"{param}.name")
    flat = tools.flat_name(name, namespace)
    if tools.entry(flat):
        raise _fail(f"'{param}': tool '{flat}' is declared twice", param)
    description = tool.get("description")
    if description is not None and not isinstance(description, str):
        raise _fail(f"'{param}.description' must be a string", f"{param}.description")
    description = description or ""
    if kind == "function":
        parameters = tool.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
            raise _fail(f"'{param}.parameters' must be a JSON schema of type object", f"{param}.parameters")
        if not isinstance(parameters.get("properties", {}), dict):
            raise _fail(f"'{param}.parameters.properties' must be an object", f"{param}.parameters.properties")
        strict = tool.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _fail(f"'{param}.strict' must be a boolean", f"{param}.strict")
        function: dict[str, Any] = {"name": flat, "parameters": parameters}
        tools.entries.append((flat, False, namespace or "", name))
    else:  # custom
        fmt = tool.get("format")
        if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in ("text", "grammar")):
            raise _fail(f"'{param}.format' must be {{'type': 'text'}} or {{'type': 'grammar', 'syntax', "
                        f"'definition'}}", f"{param}.format")
        hint = _FREEFORM_HINT
        if fmt and fmt["type"] == "grammar":
            syntax, definition = fmt.get("syntax"), fmt.get("definition")
            if syntax not in ("lark", "regex"):
                raise _fail(f"'{param}.format.syntax' must be 'lark' or 'regex'", f"{param}.format.syntax")
            if not isinstance(definition, str) or not definition.strip():
                raise _fail(f"'{param}.format.definition' must be a non-empty string", f"{param}.format.definition")
            try:
                tools.input_grammars[flat] = freeform_gbnf(syntax, definition, f"custom-{len(tools.input_grammars)}")
            except GrammarError as e:
                raise _fail(f"'{param}.format.definition': {e}", f"{param}.format.definition") from None
            hint += f" The input must match this {syntax} grammar:\n{definition}"
        description = f"{description}\n\n{hint}" if description else hint
        function = {"name": flat, "parameters": {
            "type": "object", "properties": {"input": {"type": "string", "description": "The raw input."}},
            "required": ["input"], "additionalProperties": False}}
        tools.entries.append((flat, True, namespace or "", name))
    if description:
        function["description"] = description
    tools.chat.append({"type": "function", "function": function})


def parse_tools(raw: Any) -> Tools:
    tools = Tools()
    if raw is None:
        return tools
    if not isinstance(raw, list):
        raise _fail("'tools' must be a list", "tools")
    for i, tool in enumerate(raw):
        p = f"tools[{i}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise _fail(f"'{p}' must be an object with a 'type'", p)
        kind = tool["type"]
        if kind in ("function", "custom"):
            _add_tool(tools, tool, p, None)
        elif kind == "namespace":
            ns = tool.get("name")
            if not isinstance(ns, str) or not ns:
                raise _fail(f"'{p}.name' must be a non-empty string", f"{p}.name")
            members = tool.get("tools")
            if not isinstance(members, list):
                raise _fail(f"'{p}.tools' must be a list", f"{p}.tools")
            for j, member in enumerate(members):
                q = f"{p}.tools[{j}]"
                if not isinstance(member, dict) or member.get("type") not in ("function", "custom"):
                    raise _fail(f"'{q}' must be a function or custom tool", q)
                _add_tool(tools, member, q, ns)
        else:
            # Hosted tools (web_search, file_search, mcp, ...) run on OpenAI's servers.
            tools.unavailable.append(kind)
    return tools


def _named_choice(tools: Tools, choice: Mapping[str, Any], param: str) -> str:
    name = choice.get("name")
    if not isinstance(name, str):
        raise _fail(f"'{param}.name' must be a string", f"{param}.name")
    namespace = choice.get("namespace")
    flat = tools.flat_name(name, namespace if isinstance(namespace, str) else None)
    entry = tools.entry(flat)
    if entry is None or entry[1] != (choice["type"] == "custom"):
        raise _fail(f"'{param}' names {choice['type']} tool '{flat}', which is not in 'tools'", param)
    return flat


def tool_choice(tools: Tools, raw: Any) -> tuple[str, Tools]:
    """(auto | none | required, the tools the template is offered)."""
    if raw is None or raw == "auto":
        return "auto", tools
    if raw in ("none", "required"):
        if raw == "required" and not tools.chat:
            raise _fail("'tool_choice' is 'required' but no tools were given", "tool_choice")
        return raw, tools
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise _fail("'tool_choice' must be 'auto', 'none', 'required' or an object with a 'type'", "tool_choice")
    kind = raw["type"]
    if kind in ("function", "custom"):
        chosen = {_named_choice(tools, raw, "tool_choice")}
        mode = "required"
    elif kind == "allowed_tools":
        mode = raw.get("mode", "auto")
        if mode not in ("auto", "required"):
            raise _fail("'tool_choice.mode' must be 'auto' or 'required'", "tool_choice.mode")
        allowed = raw.get("tools")
        if not isinstance(allowed, list):
            raise _fail("'tool_choice.tools' must be a list", "tool_choice.tools")
        chosen = set()
        for j, t in enumerate(allowed):
            q = f"tool_choice.tools[{j}]"
            if not isinstance(t, dict) or t.get("type") not in ("function", "custom"):
                continue  # hosted tools are unavailable anyway
            chosen.add(_named_choice(tools, t, q))
        if mode == "required" and not chosen:
            raise _fail("'tool_choice' requires a call but allows no function or custom tool", "tool_choice")
    else:
        raise _fail(f"'tool_choice' forces the hosted tool '{kind}', which this server does not provide",
                    "tool_choice")
    offered = Tools(
        chat=[t for t in tools.chat if t["function"]["name"] in chosen],
        entries=tools.entries,
        input_grammars={k: v for k, v in tools.input_grammars.items() if k in chosen},
        unavailable=tools.unavailable)
    return mode, offered


# --- input items -----------------------------------------------------------------------------

_ID_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "custom_tool_call": "ctc",
              "custom_tool_call_output": "ctco", "reasoning": "rs"}


def input_items(raw: Any, images: ImageOptions | None = None) -> list[dict[str, Any]]:
    """The request's input as validated items (a string is one user message); each gets an id.
    User messages and tool outputs may carry input_image parts."""
    if isinstance(raw, str):
        raw = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}]
    if not isinstance(raw, list):
        raise _fail("'input' must be a string or a list of items", "input")
    items = []
    for i, item in enumerate(raw):
        p = f"input[{i}]"
        if not isinstance(item, dict):
            raise _fail(f"'{p}' must be an object", p)
        kind = item.get("type", "message" if "role" in item else None)
        if not isinstance(kind, str):
            raise _fail(f"'{p}.type' must be a string", f"{p}.type")
        if kind in _SKIPPED_ITEMS:
            continue
        out = dict(item, type=kind)
        if kind == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise _fail(f"'{p}.role' must be one of {sorted(_ROLES)}, got {role!r}", f"{p}.role")
            content = item.get("content")
            _text_of_parts(content, f"{p}.content", (images or ImageOptions()) if role == "user" else None)
            if isinstance(content, str):
                part = "output_text" if role == "assistant" else "input_text"
                out["content"] = [{"type": part, "text": content}]
        elif kind in ("function_call", "custom_tool_call"):
            _string(item, "call_id", p)
            _string(item, "name", p)
            if kind == "function_call":
                arguments = _string(item, "arguments", p)
                try:
                    json.loads(arguments or "{}")
                except ValueError:
                    raise _fail(f"'{p}.arguments' is not valid JSON", f"{p}.arguments") from None
            else:
                _string(item, "input", p)
            if item.get("namespace") is not None:
                _string(item, "namespace", p)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            _string(item, "call_id", p)
            if item.get("output") is None:
                raise _fail(f"'{p}.output' is required", f"{p}.output")
            # A tool's output may show a picture (Codex's view_image): input_image parts as in a
            # user message, placed in the tool message where the template renders its content.
            _text_of_parts(item["output"], f"{p}.output", images or ImageOptions())
        elif kind == "reasoning":
            for name, part_type in (("content", "reasoning_text"), ("summary", "summary_text")):
                parts = item.get(name) or []
                if not isinstance(parts, list) or not all(
                        isinstance(x, dict) and isinstance(x.get("text"), str) for x in parts):
                    raise _fail(f"'{p}.{name}' must be a list of {{'type': '{part_type}', 'text'}}", f"{p}.{name}")
        else:
            raise _fail(f"'{p}.type' {kind!r} is not a supported input item", f"{p}.type")
        out.setdefault("id", f"{_ID_PREFIX[kind]}_{secrets.token_hex(12)}")
        items.append(out)
    return items


def to_messages(items: list[dict[str, Any]], instructions: str | None,
                unavailable: list[str], images: ImageOptions | None = None) -> list[dict[str, Any]]:
    """The conversation as chat messages. Consecutive user (or system) messages merge:
    templates that require alternating roles would refuse them."""
    messages: list[dict[str, Any]] = []
    system = [instructions] if instructions else []
    if unavailable:
        system.append("These tools are not available here: " + ", ".join(sorted(set(unavailable))) + ".")
    if system:
        messages.append({"role": "system", "content": "\n\n".join(system)})
    turn: dict[str, Any] | None = None

    def assistant(fresh_if: bool = False) -> dict[str, Any]:
        nonlocal turn
        if turn is None or fresh_if:
            turn = {"role": "assistant", "content": ""}
            messages.append(turn)
        return turn

    for i, item in enumerate(items):
        kind = item["type"]
        if kind == "message":
            role = item["role"]
            # Images are named by their place in the conversation (earlier turns included).
            text = _text_of_parts(item["content"], f"input[{i}].content",
                                  (images or ImageOptions()) if role == "user" else None)
            if role == "assistant":
                a = assistant()
                if a.get("tool_calls"):
                    a = assistant(fresh_if=True)
                a["content"] += text
                continue
            turn = None
            role = "system" if role == "developer" else role
            last = messages[-1] if messages else None
            if last is not None and last["role"] == role and role in ("user", "system"):
                last["content"] = concatenated(last["content"], text, "\n\n")
            else:
                messages.append({"role": role, "content": text})
        elif kind == "reasoning":
            parts = item.get("content") or item.get("summary") or []
            text = "".join(p["text"] for p in parts)
            if not text:
                continue  # only encrypted_content from another server: nothing to show the template
            a = assistant()
            a = assistant(fresh_if=bool(a["content"] or a.get("tool_calls") or a.get("reasoning_content")))
            a["reasoning_content"] = text
        elif kind in ("function_call", "custom_tool_call"):
            ns = item.get("namespace")
            name = f"{ns}{NAMESPACE_SEPARATOR}{item['name']}" if ns else item["name"]
            arguments = (item["arguments"] or "{}") if kind == "function_call" else json.dumps({"input": item["input"]})
            assistant().setdefault("tool_calls", []).append(
                {"id": item["call_id"], "type": "function", "function": {"name": name, "arguments": arguments}})
        else:  # a tool's output
            turn = None
            output = _text_of_parts(item["output"], f"input[{i}].output", images or ImageOptions())
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": output})
    return messages


# --- the request -----------------------------------------------------------------------------

@dataclass
class ResponsesRequest:
    model: str | None
    messages: list[dict[str, Any]]
    conversation: list[dict[str, Any]]  # earlier turns' items and this input: what a continuation extends
    input: list[dict[str, Any]]         # this request's input items (GET .../input_items)
    tools: Tools
    tool_choice: str
    parallel_tool_calls: bool
    json_schema: dict[str, Any] | None
    enable_thinking: bool | None
    stream: bool
    store: bool
    max_output_tokens: int | None
    sampling: dict[str, Any]
    echo: dict[str, Any]                # request fields every Response object repeats


def _number(body: Mapping[str, Any], name: str, lo: float, hi: float) -> float | None:
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise _fail(f"'{name}' must be a number between {lo} and {hi}", name)
    return float(v)


def _text_format(body: Mapping[str, Any]) -> dict[str, Any] | None:
    text = body.get("text")
    if text is None:
        return None
    if not isinstance(text, dict):
        raise _fail("'text' must be an object", "text")
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise _fail("'text.format.type' must be 'text', 'json_object' or 'json_schema'", "text.format")
    if fmt["type"] == "text":
        return None
    if fmt["type"] == "json_object":
        return {"type": "object"}
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise _fail("'text.format.schema' must be an object", "text.format.schema")
    return schema


def _enable_thinking(body: Mapping[str, Any]) -> tuple[bool | None, dict[str, Any]]:
    reasoning = body.get("reasoning")
    if reasoning is None:
        return None, {"effort": None, "summary": None}
    if not isinstance(reasoning, dict):
        raise _fail("'reasoning' must be an object", "reasoning")
    effort = reasoning.get("effort")
    if effort is not None and effort not in _EFFORTS:
        raise _fail(f"'reasoning.effort' must be one of {sorted(_EFFORTS)}", "reasoning.effort")
    summary = reasoning.get("summary", reasoning.get("generate_summary"))
    if summary is not None and summary not in ("auto", "concise", "detailed"):
        raise _fail("'reasoning.summary' must be 'auto', 'concise' or 'detailed'", "reasoning.summary")
    return (False if effort == "none" else None), {"effort": effort, "summary": summary}


def parse_request(body: Mapping[str, Any], store: ResponseStore, images: ImageOptions | None = None) -> ResponsesRequest:
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise _fail("'model' must be a string", "model")
    for unsupported in ("background", "conversation", "prompt"):
        if body.get(unsupported):
            raise _fail(f"'{unsupported}' is not supported by this server", unsupported)
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise _fail("'instructions' must be a string", "instructions")
    previous_id = body.get("previous_response_id")
    earlier: list[dict[str, Any]] = []
    if previous_id is not None:
        if not isinstance(previous_id, str):
            raise _fail("'previous_response_id' must be a string", "previous_response_id")
        previous = store.get(previous_id)
        if previous is None:
            raise RequestError(f"Previous response with id '{previous_id}' not found.", "previous_response_id",
                               status=404, code="previous_response_not_found")
        earlier = previous.conversation
    if body.get("input") is None and previous_id is None:
        raise _fail("'input' is required", "input")
    items = input_items(body.get("input") if body.get("input") is not None else [], images)
    tools = parse_tools(body.get("tools"))
    choice, offered = tool_choice(tools, body.get("tool_choice"))
    max_output_tokens = body.get("max_output_tokens")
    if max_output_tokens is not None and (not is_int(max_output_tokens) or max_output_tokens < 1):
        raise _fail("'max_output_tokens' must be a positive integer", "max_output_tokens")
    sampling: dict[str, Any] = {}
    temperature = _number(body, "temperature", 0.0, 2.0)
    top_p = _number(body, "top_p", 0.0, 1.0)
    if temperature is not None:
        sampling["temperature"] = temperature
    if top_p is not None:
        sampling["top_p"] = top_p
    grammar = body.get("grammar")  # llama-server's extension: a GBNF grammar the output must match
    if grammar is not None:
        if not isinstance(grammar, str):
            raise _fail("'grammar' must be a GBNF string", "grammar")
        sampling["grammar"] = grammar
    enable_thinking, reasoning = _enable_thinking(body)
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _fail("'metadata' must be an object", "metadata")
    stream = bool_field(body, "stream", False)
    store_it = bool_field(body, "store", True)
    parallel = bool_field(body, "parallel_tool_calls", True)
    json_schema = _text_format(body)
    conversation = [*earlier, *items]
    echo = {
        "background": False,
        "instructions": instructions,
        "max_output_tokens": max_output_tokens,
        "metadata": metadata or {},
        "parallel_tool_calls": parallel,
        "previous_response_id": previous_id,
        "reasoning": reasoning,
        "store": store_it,
        "temperature": temperature,
        "text": body.get("text") if isinstance(body.get("text"), dict) else {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice") if body.get("tool_choice") is not None else "auto",
        "tools": body.get("tools") or [],
        "top_p": top_p,
        "truncation": "disabled",
        "user": body.get("user") if isinstance(body.get("user"), str) else None,
    }
    return ResponsesRequest(
        model=model,
        messages=to_messages(conversation, instructions, tools.unavailable, images),
        conversation=conversation,
        input=items,
        tools=offered,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        json_schema=json_schema,
        enable_thinking=enable_thinking,
        stream=stream,
        store=store_it,
        max_output_tokens=max_output_tokens,
        sampling=sampling,
        echo=echo,
    )


def echo_members(echo: Mapping[str, Any]) -> str:
    """The echoed fields as JSON object members without braces (the native encoder splices them)."""
    return json.dumps(echo, separators=(",", ":"))[1:-1]


# --- the store -------------------------------------------------------------------------------

@dataclass
class StoredResponse:
    response_json: str                  # the Response object as the client received it
    input: list[dict[str, Any]]         # this request's input items
    conversation: list[dict[str, Any]]  # every item so far, this response's output included
    stored_at: float
    size: int


class ResponseStore:
    """Responses kept for GET and ``previous_response_id``, bounded by count, bytes and age;
    the oldest go first. Continuations share the item objects of the turns they extend, so a
    long chain costs its own items once each."""

    def __init__(self, max_entries: int, max_bytes: int, max_age_s: float) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._entries: OrderedDict[str, StoredResponse] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, response_id: str, response_json: str, request: ResponsesRequest) -> None:
        if self.max_entries <= 0:
            return
        output = json.loads(response_json).get("output", [])
        size = len(response_json) + sum(len(json.dumps(i)) for i in request.input)
        if size > self.max_bytes:
            return
        self._expire()
        while self._entries and (len(self._entries) >= self.max_entries or self._bytes + size > self.max_bytes):
            self._drop(next(iter(self._entries)))
        self._entries[response_id] = StoredResponse(
            response_json, request.input, [*request.conversation, *output], time.monotonic(), size)
        self._bytes += size

    def get(self, response_id: str) -> StoredResponse | None:
        self._expire()
        return self._entries.get(response_id)

    def delete(self, response_id: str) -> bool:
        self._expire()
        if response_id not in self._entries:
            return False
        self._drop(response_id)
        return True

    def _drop(self, response_id: str) -> None:
        self._bytes -= self._entries.pop(response_id).size

    def _expire(self) -> None:
        if self.max_age_s <= 0:
            return
        horizon = time.monotonic() - self.max_age_s
        while self._entries:
            oldest_id, oldest = next(iter(self._entries.items()))
            if oldest.stored_at >= horizon:
                break
            self._drop(oldest_id)
