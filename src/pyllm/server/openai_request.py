"""Validation of OpenAI request bodies: every field the API defines is type- and range-checked
here, so a client mistake is a 400 naming the parameter, never a 500; unknown fields are ignored.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyllm.server.images import ImageOptions, ImageRequestError, from_url, joined

_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_REASONING_EFFORTS = {"none", "minimal", "low", "medium", "high", "xhigh"}
_MAX_STOP_STRINGS = 16


class RequestError(Exception):
    """A client mistake: answered with ``status`` in OpenAI's error shape."""

    def __init__(self, message: str, param: str | None = None, *, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status
        self.code = code


def parse_json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise RequestError(f"request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    return body


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _optional(body: Mapping[str, Any], name: str) -> Any:
    """The field's value; JSON null counts as absent, as the SDKs send it for unset fields."""
    return body.get(name)


def bool_field(body: Mapping[str, Any], name: str, default: bool) -> bool:
    v = _optional(body, name)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise RequestError(f"'{name}' must be a boolean", name)
    return v


def _int(body: Mapping[str, Any], name: str, lo: int | None = None, hi: int | None = None) -> int | None:
    v = _optional(body, name)
    if v is None:
        return None
    if not is_int(v):
        raise RequestError(f"'{name}' must be an integer", name)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise RequestError(f"'{name}' must be between {lo} and {hi}, got {v}" if hi is not None
                           else f"'{name}' must be at least {lo}, got {v}", name)
    return v


def _number(body: Mapping[str, Any], name: str, lo: float, hi: float) -> float | None:
    v = _optional(body, name)
    if v is None:
        return None
    if not _is_number(v):
        raise RequestError(f"'{name}' must be a number", name)
    if v < lo or v > hi:
        raise RequestError(f"'{name}' must be between {lo} and {hi}, got {v}", name)
    return float(v)


def _string(body: Mapping[str, Any], name: str) -> str | None:
    v = _optional(body, name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise RequestError(f"'{name}' must be a string", name)
    return v


def _object(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    v = _optional(body, name)
    if v is None:
        return None
    if not isinstance(v, dict):
        raise RequestError(f"'{name}' must be an object", name)
    return v


def _stop(body: Mapping[str, Any]) -> list[str]:
    v = _optional(body, "stop")
    if v is None:
        return []
    stops = [v] if isinstance(v, str) else v
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise RequestError("'stop' must be a non-empty string or a list of non-empty strings", "stop")
    if len(stops) > _MAX_STOP_STRINGS:
        raise RequestError(f"'stop' allows at most {_MAX_STOP_STRINGS} strings", "stop")
    return stops


def _logit_bias(body: Mapping[str, Any], n_vocab: int) -> dict[int, float]:
    v = _object(body, "logit_bias")
    bias: dict[int, float] = {}
    for key, value in (v or {}).items():
        try:
            token = int(key)
        except ValueError:
            raise RequestError(f"'logit_bias' keys must be token ids, got {key!r}", "logit_bias") from None
        if not 0 <= token < n_vocab:
            raise RequestError(f"'logit_bias' token {token} is outside the vocabulary", "logit_bias")
        if not _is_number(value) or not -100 <= value <= 100:
            raise RequestError("'logit_bias' values must be numbers between -100 and 100", "logit_bias")
        bias[token] = float(value)
    return bias


def sampling_params(body: Mapping[str, Any], n_vocab: int) -> dict[str, Any]:
    """Keyword arguments of Engine.submit shared by chat and completions; absent: engine defaults."""
    _int(body, "n", 1, 1)  # one choice per request
    max_tokens = _int(body, "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = _int(body, "max_tokens", 1)
    params: dict[str, Any] = {"max_tokens": max_tokens}
    ranged = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "min_p": (0.0, 1.0),
              "presence_penalty": (-2.0, 2.0), "frequency_penalty": (-2.0, 2.0), "repeat_penalty": (0.0, 10.0)}
    for name, (lo, hi) in ranged.items():
        value = _number(body, name, lo, hi)
        if value is not None:
            params[name] = value
    top_k = _int(body, "top_k", 0)
    if top_k is not None:
        params["top_k"] = top_k
    seed = _int(body, "seed")
    if seed is not None:
        params["seed"] = seed & 0xFFFFFFFF
    params["stop"] = _stop(body)
    params["logit_bias"] = _logit_bias(body, n_vocab)
    grammar = _string(body, "grammar")
    if grammar:
        params["grammar"] = grammar
    # llama-server's extension: generate max_tokens tokens, end of turn or not (benchmarks).
    params["ignore_eos"] = bool_field(body, "ignore_eos", False)
    return params


def stream_options(body: Mapping[str, Any]) -> tuple[bool, bool]:
    """(stream, include_usage)."""
    stream = bool_field(body, "stream", False)
    options = _object(body, "stream_options") or {}
    return stream, bool_field(options, "include_usage", False)


def _image_url(part: Mapping[str, Any], param: str, images: ImageOptions) -> dict[str, Any]:
    """An ``image_url`` part (``{"url": ...}`` or the URL itself) as an image part."""
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str):
        raise ImageRequestError("an image_url part needs 'image_url.url' (a data: URI or an http(s) URL)", param)
    return from_url(url, param, images)


def _content(value: Any, param: str, *, required: bool, images: ImageOptions | None = None) -> Any:
    """A message's content: a string, null, or a list of text parts and, where ``images``
    are allowed, image_url parts (other modalities: 400)."""
    if value is None:
        if required:
            raise RequestError(f"'{param}' is required", param)
        return None
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise RequestError(f"'{param}' must be a string or a list of content parts", param)
    texts: list[str | dict[str, Any]] = []
    for j, part in enumerate(value):
        p = f"{param}[{j}]"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise RequestError(f"'{p}' must be an object with a 'type'", p)
        if part["type"] == "image_url" and images is not None:
            texts.append(_image_url(part, p, images))
            continue
        if part["type"] != "text":
            raise RequestError(f"'{p}': content type '{part['type']}' is not supported by this model (text only)", p)
        if not isinstance(part.get("text"), str):
            raise RequestError(f"'{p}.text' must be a string", f"{p}.text")
        texts.append(part["text"])
    return joined(texts, "")


def _tool_calls(value: Any, param: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise RequestError(f"'{param}' must be a list", param)
    calls = []
    for j, call in enumerate(value):
        p = f"{param}[{j}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise RequestError(f"'{p}.function.name' must be a string", f"{p}.function.name")
        arguments = fn.get("arguments", "{}")
        if isinstance(arguments, dict):
            arguments = json.dumps(arguments)
        if not isinstance(arguments, str):
            raise RequestError(f"'{p}.function.arguments' must be a JSON string", f"{p}.function.arguments")
        try:
            json.loads(arguments or "{}")
        except ValueError:
            raise RequestError(f"'{p}.function.arguments' is not valid JSON", f"{p}.function.arguments") from None
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise RequestError(f"'{p}.id' must be a string", f"{p}.id")
        calls.append({"id": call_id or f"call_{j}", "type": "function",
                      "function": {"name": fn["name"], "arguments": arguments or "{}"}})
    return calls


def messages(body: Mapping[str, Any], images: ImageOptions | None = None) -> list[dict[str, Any]]:
    """The conversation, normalized for the chat template (developer -> system, text parts
    joined, image_url parts of non-assistant messages as image parts)."""
    raw = body.get("messages")
    if raw is None:
        raise RequestError("'messages' is required", "messages")
    if not isinstance(raw, list) or not raw:
        raise RequestError("'messages' must be a non-empty list", "messages")
    out = []
    for i, m in enumerate(raw):
        p = f"messages[{i}]"
        if not isinstance(m, dict):
            raise RequestError(f"'{p}' must be an object", p)
        role = m.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise RequestError(f"'{p}.role' must be one of {sorted(_ROLES)}, got {role!r}", f"{p}.role")
        msg: dict[str, Any] = {"role": "system" if role == "developer" else "tool" if role == "function" else role}
        content = _content(m.get("content"), f"{p}.content", required=role in ("system", "developer", "user"),
                           images=images or ImageOptions() if role != "assistant" else None)
        msg["content"] = content if content is not None else ""
        if role == "assistant":
            for name in ("reasoning_content", "reasoning"):
                value = m.get(name)
                if value is not None:
                    if not isinstance(value, str):
                        raise RequestError(f"'{p}.{name}' must be a string", f"{p}.{name}")
                    msg["reasoning_content"] = value
            if m.get("tool_calls"):
                msg["tool_calls"] = _tool_calls(m["tool_calls"], f"{p}.tool_calls")
        if msg["role"] == "tool":
            call_id = m.get("tool_call_id")
            if call_id is not None and not isinstance(call_id, str):
                raise RequestError(f"'{p}.tool_call_id' must be a string", f"{p}.tool_call_id")
            if call_id:
                msg["tool_call_id"] = call_id
        name = m.get("name")
        if isinstance(name, str):
            msg["name"] = name
        out.append(msg)
    return out


def tools(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("tools")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RequestError("'tools' must be a list", "tools")
    out = []
    for i, tool in enumerate(raw):
        p = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise RequestError(f"'{p}' must be a function tool ({{'type': 'function', 'function': {{...}}}})", p)
        fn = tool.get("function")
        if not isinstance(fn, dict):
            raise RequestError(f"'{p}.function' must be an object", f"{p}.function")
        name = fn.get("name")
        if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
            raise RequestError(f"'{p}.function.name' must match {_FUNCTION_NAME.pattern}", f"{p}.function.name")
        parameters = fn.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
            raise RequestError(f"'{p}.function.parameters' must be a JSON schema of type object",
                               f"{p}.function.parameters")
        if not isinstance(parameters.get("properties", {}), dict):
            raise RequestError(f"'{p}.function.parameters.properties' must be an object",
                               f"{p}.function.parameters.properties")
        description = fn.get("description")
        if description is not None and not isinstance(description, str):
            raise RequestError(f"'{p}.function.description' must be a string", f"{p}.function.description")
        function = {"name": name, "parameters": parameters}
        if description:
            function["description"] = description
        out.append({"type": "function", "function": function})
    return out


def tool_choice(body: Mapping[str, Any], declared: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """(auto | none | required, the tools the template sees): a named function is that tool, required."""
    v = body.get("tool_choice")
    if v is None:
        return "auto", declared
    if isinstance(v, str):
        if v not in ("auto", "none", "required"):
            raise RequestError("'tool_choice' must be 'auto', 'none', 'required' or a named function", "tool_choice")
        if v == "required" and not declared:
            raise RequestError("'tool_choice' is 'required' but no tools were given", "tool_choice")
        return v, declared
    fn = v.get("function") if isinstance(v, dict) else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str):
        raise RequestError("'tool_choice.function.name' must be a string", "tool_choice")
    chosen = [t for t in declared if t["function"]["name"] == name]
    if not chosen:
        raise RequestError(f"'tool_choice' names function '{name}', which is not in 'tools'", "tool_choice")
    return "required", chosen


def response_schema(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON schema the output must match (response_format), or None for free text."""
    v = _object(body, "response_format")
    if v is None:
        return None
    kind = v.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        spec = v.get("json_schema")
        if not isinstance(spec, dict):
            raise RequestError("'response_format.json_schema' must be an object", "response_format")
        schema = spec.get("schema", {})
        if not isinstance(schema, dict):
            raise RequestError("'response_format.json_schema.schema' must be an object", "response_format")
        return schema
    raise RequestError("'response_format.type' must be 'text', 'json_object' or 'json_schema'", "response_format")


def thinking(body: Mapping[str, Any]) -> tuple[bool | None, dict[str, Any]]:
    """(enable_thinking requested or None, the other chat_template_kwargs)."""
    kwargs = dict(_object(body, "chat_template_kwargs") or {})
    enable = kwargs.pop("enable_thinking", None)
    if enable is not None and not isinstance(enable, bool):
        raise RequestError("'chat_template_kwargs.enable_thinking' must be a boolean", "chat_template_kwargs")
    effort = _string(body, "reasoning_effort")
    if effort is not None:
        if effort not in _REASONING_EFFORTS:
            raise RequestError(f"'reasoning_effort' must be one of {sorted(_REASONING_EFFORTS)}", "reasoning_effort")
        if effort == "none" and enable is None:
            enable = False
    return enable, kwargs


REASONING_FORMATS = ("auto", "deepseek", "none")


def reasoning_format(body: Mapping[str, Any]) -> str | None:
    """llama-server's per-request ``reasoning_format``: ``none`` leaves the reasoning, with
    its tags, in the content; ``auto``/``deepseek`` split it out. None: the server's default."""
    value = _string(body, "reasoning_format")
    if value is not None and value not in REASONING_FORMATS:
        raise RequestError(f"'reasoning_format' must be one of {list(REASONING_FORMATS)}", "reasoning_format")
    return value


def logprobs(body: Mapping[str, Any]) -> int:
    """How many alternatives per token to report; 0 when logprobs were not asked for."""
    wanted = bool_field(body, "logprobs", False)
    top = _int(body, "top_logprobs", 0, 20)
    if top is not None and not wanted:
        raise RequestError("'top_logprobs' requires 'logprobs': true", "top_logprobs")
    return max(top or 0, 1) if wanted else 0


@dataclass
class ChatRequest:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_choice: str
    parallel_tool_calls: bool
    json_schema: dict[str, Any] | None
    enable_thinking: bool | None
    template_kwargs: dict[str, Any]
    reasoning_format: str | None
    stream: bool
    include_usage: bool
    n_logprobs: int
    sampling: dict[str, Any] = field(default_factory=dict)


def chat_request(body: Mapping[str, Any], n_vocab: int, images: ImageOptions | None = None) -> ChatRequest:
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise RequestError("'model' must be a string", "model")
    declared = tools(body)
    choice, offered = tool_choice(body, declared)
    enable_thinking, template_kwargs = thinking(body)
    stream, include_usage = stream_options(body)
    return ChatRequest(
        messages=messages(body, images),
        tools=offered,
        tool_choice=choice,
        # A named function is one call, as OpenAI makes it.
        parallel_tool_calls=bool_field(body, "parallel_tool_calls", True) and not isinstance(body.get("tool_choice"), dict),
        json_schema=response_schema(body),
        enable_thinking=enable_thinking,
        template_kwargs=template_kwargs,
        reasoning_format=reasoning_format(body),
        stream=stream,
        include_usage=include_usage,
        n_logprobs=logprobs(body),
        sampling=sampling_params(body, n_vocab),
    )


def completion_prompt(body: Mapping[str, Any]) -> str | list[int]:
    """/v1/completions' prompt: text or token ids, one prompt per request."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and all(is_int(t) for t in prompt):
        return prompt
    raise RequestError("'prompt' must be a string or a list of token ids (one prompt per request)", "prompt")


_TRIGGER_TYPES = {"word", "pattern", "pattern_full", "token"}


def lazy_grammar_params(body: Mapping[str, Any]) -> dict[str, Any]:
    """llama-server's /completion extension: ``grammar_lazy`` applies ``grammar`` only once one of
    ``grammar_triggers`` (``[{"type": "word"|"pattern"|"pattern_full"|"token", "value": str}]``) appears."""
    if not bool_field(body, "grammar_lazy", False):
        return {}
    triggers = _optional(body, "grammar_triggers")
    if not isinstance(triggers, list) or not triggers or not all(
            isinstance(t, dict) and t.get("type") in _TRIGGER_TYPES and isinstance(t.get("value"), str) and t["value"]
            for t in triggers):
        raise RequestError("'grammar_lazy' needs 'grammar_triggers': a list of {\"type\": word, pattern, "
                           "pattern_full or token, \"value\": a non-empty string}", "grammar_triggers")
    if not _string(body, "grammar"):
        raise RequestError("'grammar_lazy' needs a 'grammar'", "grammar")
    return {"grammar_lazy": True, "grammar_triggers": [(t["type"], t["value"]) for t in triggers]}
