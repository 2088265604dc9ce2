"""Servers for the OpenAI API tests: the default model with its ChatML fallback, and real
thinking templates from llama.cpp's repository (grammars force the weak model's output)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME_TOOL = {"type": "function", "function": {
    "name": "get_time", "description": "Time in a zone",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}


@pytest.fixture(scope="session")
def qwen3_server(start_server, templates_dir):
    """Qwen3's template: a thinking switch and <tool_call> syntax."""
    return start_server("-np", "2", "-c", "8192", "--chat-template-file", str(templates_dir / "Qwen-Qwen3-0.6B.jinja"))


@pytest.fixture(scope="session")
def r1_server(start_server, templates_dir):
    """DeepSeek-R1's template opens <think> itself; reasoning under the vLLM name; -n caps output."""
    template = templates_dir / "llama-cpp-deepseek-r1.jinja"
    return start_server("-np", "1", "-c", "4096", "--chat-template-file", str(template),
                        "--reasoning-field", "reasoning", "-n", "24")


def sdk(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0)


def chat(server, **body: Any) -> httpx.Response:
    return httpx.post(server.base_url + "/v1/chat/completions", json=body, timeout=120)


def stream_chunks(server, **body: Any) -> Iterator[Any]:
    """Every `data:` payload of a streamed chat completion, parsed; `[DONE]` as the string."""
    with httpx.stream("POST", server.base_url + "/v1/chat/completions", json={**body, "stream": True},
                      timeout=120) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                data = line[len("data: "):]
                yield data if data == "[DONE]" else json.loads(data)


def merge_stream(chunks: list[Any], reasoning_field: str = "reasoning_content") -> dict[str, Any]:
    """The message a client assembles from the chunks."""
    message: dict[str, Any] = {"content": "", reasoning_field: "", "tool_calls": {}}
    finish = None
    for chunk in chunks:
        if chunk == "[DONE]" or not chunk["choices"]:
            continue
        choice = chunk["choices"][0]
        delta = choice["delta"]
        message["content"] += delta.get("content") or ""
        message[reasoning_field] += delta.get(reasoning_field) or ""
        for call in delta.get("tool_calls") or []:
            slot = message["tool_calls"].setdefault(call["index"], {"names": [], "ids": [], "arguments": ""})
            if "id" in call:
                slot["ids"].append(call["id"])
            fn = call.get("function", {})
            if "name" in fn:
                slot["names"].append(fn["name"])
            slot["arguments"] += fn.get("arguments", "")
        finish = choice["finish_reason"] or finish
    message["finish_reason"] = finish
    return message
