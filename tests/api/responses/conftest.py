"""Responses API fixtures: real servers (the default model; Qwen3's thinking template), the
official `openai` SDK, raw HTTP, and a strict validator of the event stream that every raw
streamed response in this suite goes through."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

ITEM_ID_PREFIX = {"reasoning": "rs_", "message": "msg_", "function_call": "fc_", "custom_tool_call": "ctc_"}
DELTA_OF_ITEM = {"response.output_text.delta": "message", "response.reasoning_text.delta": "reasoning",
                 "response.function_call_arguments.delta": "function_call",
                 "response.custom_tool_call_input.delta": "custom_tool_call"}
FINAL_EVENTS = {"response.completed": "completed", "response.incomplete": "incomplete", "response.failed": "failed"}


class StreamRuleError(AssertionError):
    pass


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise StreamRuleError(message)


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Frames as (event, data); SSE comments (pings) are skipped; every frame has both lines."""
    frames = []
    for raw in text.split("\n\n"):
        lines = [line for line in raw.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        _check(set(fields) == {"event", "data"}, f"frame without exactly event and data lines: {raw!r}")
        frames.append((fields["event"], json.loads(fields["data"])))
    return frames


def _check_usage(usage: Any) -> None:
    _check(isinstance(usage, dict), f"usage missing: {usage}")
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        _check(isinstance(usage.get(key), int), f"usage lacks {key}: {usage}")
    _check(isinstance(usage["input_tokens_details"]["cached_tokens"], int), "usage lacks cached_tokens")
    _check(isinstance(usage["output_tokens_details"]["reasoning_tokens"], int), "usage lacks reasoning_tokens")
    _check(usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"], f"total_tokens: {usage}")


def validate_stream(text: str) -> dict[str, Any]:
    """Check every Responses streaming rule; return the final Response object (for a stream
    that ends in an ``error`` event: ``{"error": ...}``)."""
    frames = parse_sse(text)
    _check(len(frames) >= 3, f"too short a stream: {frames}")
    items: list[dict[str, Any]] = []
    open_item: dict[str, Any] | None = None
    part_open = text_done = False
    accumulated = ""
    summary: str | None = None
    summary_open = summary_done = False
    skeleton: dict[str, Any] | None = None
    final: dict[str, Any] | None = None
    for n, (event, data) in enumerate(frames):
        _check(event == data.get("type"), f"event line {event!r} != data.type {data.get('type')!r}")
        _check(data.get("sequence_number") == n, f"{event}: sequence_number {data.get('sequence_number')} != {n}")
        _check(final is None, f"{event} after the final event")
        if event == "error":
            _check(isinstance(data.get("message"), str) and "code" in data and "param" in data, f"error: {data}")
            return {"error": data}
        if n == 0:
            _check(event == "response.created", f"first event is {event}")
            skeleton = data["response"]
            _check(skeleton["id"].startswith("resp_") and skeleton["object"] == "response", f"skeleton: {skeleton}")
            _check(skeleton["status"] == "in_progress" and skeleton["output"] == [], f"skeleton: {skeleton}")
            continue
        if n == 1:
            _check(event == "response.in_progress" and data["response"] == skeleton, f"second event {event}")
            continue
        if event in FINAL_EVENTS:
            _check(open_item is None, f"{event} while an item is open")
            final = data["response"]
            _check(final["status"] == FINAL_EVENTS[event], f"{event} with status {final['status']}")
            _check(final["id"] == skeleton["id"], "final response id differs")
            _check(final["output"] == items, f"final output {final['output']} != streamed items {items}")
            if final["status"] != "failed":
                _check_usage(final["usage"])
            if final["status"] == "incomplete":
                _check(final["incomplete_details"] == {"reason": "max_output_tokens"}, "incomplete_details")
            continue
        if event == "response.output_item.added":
            _check(open_item is None, "output_item.added while another item is open")
            _check(data["output_index"] == len(items), f"output_index {data['output_index']} out of order")
            item = data["item"]
            kind = item["type"]
            _check(item["id"].startswith(ITEM_ID_PREFIX[kind]), f"item id {item['id']} for {kind}")
            _check(item["status"] == "in_progress", f"added item status {item['status']}")
            if kind in ("message", "reasoning"):
                _check(item["content"] == [], f"added {kind} with content")
            if kind == "message":
                _check(item["role"] == "assistant", "message role")
            if kind == "reasoning":
                _check(item["summary"] == [], "added reasoning item with a summary")
            if kind == "function_call":
                _check(item["arguments"] == "" and item["call_id"] and item["name"], f"function_call placeholder {item}")
            if kind == "custom_tool_call":
                _check(item["input"] == "" and item["call_id"] and item["name"], f"custom_tool_call placeholder {item}")
            open_item, accumulated, part_open, text_done = item, "", False, False
            summary, summary_open, summary_done = None, False, False
            continue
        _check(open_item is not None, f"{event} with no open item")
        assert open_item is not None
        _check(data["item_id"] == open_item["id"] if "item_id" in data else True, f"{event} for another item")
        _check(data["output_index"] == len(items), f"{event} output_index")
        kind = open_item["type"]
        if event == "response.content_part.added":
            _check(kind in ("message", "reasoning") and not part_open and data["content_index"] == 0, event)
            _check(data["part"]["text"] == "", f"part placeholder {data['part']}")
            _check(data["part"]["type"] == ("output_text" if kind == "message" else "reasoning_text"), "part type")
            part_open = True
        elif event.startswith("response.reasoning_summary_"):
            # Asked-for summaries: one part (index 0) beside the content, same text.
            _check(kind == "reasoning" and data["summary_index"] == 0, f"{event} in a {kind} item")
            if event == "response.reasoning_summary_part.added":
                _check(summary is None and data["part"] == {"type": "summary_text", "text": ""}, event)
                summary, summary_open = "", True
            elif event == "response.reasoning_summary_text.delta":
                _check(summary_open and not summary_done and data["delta"], event)
                summary += data["delta"]
            elif event == "response.reasoning_summary_text.done":
                _check(summary_open and data["text"] == summary, f"{event} text != deltas")
                summary_done = True
            elif event == "response.reasoning_summary_part.done":
                _check(summary_done and data["part"] == {"type": "summary_text", "text": summary}, event)
                summary_open = False
            else:
                raise StreamRuleError(f"unknown event {event}")
        elif event in DELTA_OF_ITEM:
            _check(DELTA_OF_ITEM[event] == kind, f"{event} in a {kind} item")
            _check(not text_done, f"{event} after its done event")
            if kind in ("message", "reasoning"):
                _check(part_open and data["content_index"] == 0, f"{event} outside its content part")
            _check(isinstance(data["delta"], str) and data["delta"], f"{event} with an empty delta")
            accumulated += data["delta"]
        elif event in ("response.output_text.done", "response.reasoning_text.done"):
            _check(part_open and data["text"] == accumulated, f"{event} text != deltas")
            text_done = True
        elif event == "response.content_part.done":
            _check(part_open and text_done and data["part"]["text"] == accumulated, event)
            part_open = False
        elif event == "response.function_call_arguments.done":
            _check(kind == "function_call" and data["arguments"] == (accumulated or "{}"), f"{event}: {data}")
            text_done = True
        elif event == "response.custom_tool_call_input.done":
            _check(kind == "custom_tool_call" and data["input"] == accumulated, f"{event}: {data}")
            text_done = True
        elif event == "response.output_item.done":
            _check(text_done and not part_open, f"output_item.done before the item's done events ({kind})")
            item = data["item"]
            _check(item["id"] == open_item["id"] and item["type"] == kind, "output_item.done for another item")
            _check(item["status"] in ("completed", "incomplete"), f"done item status {item['status']}")
            if kind == "message":
                _check(item["content"] == [{"type": "output_text", "text": accumulated, "annotations": [],
                                            "logprobs": []}], f"message content {item['content']}")
            elif kind == "reasoning":
                _check(item["content"] == [{"type": "reasoning_text", "text": accumulated}], "reasoning content")
                _check(not summary_open, "reasoning item done with its summary part open")
                _check(item["summary"] == ([] if summary is None else [{"type": "summary_text", "text": summary}]),
                       f"reasoning summary {item['summary']}")
            elif kind == "function_call":
                _check(item["arguments"] == (accumulated or "{}"), "function_call arguments")
            else:
                _check(item["input"] == accumulated, "custom_tool_call input")
            items.append(item)
            open_item = None
        else:
            raise StreamRuleError(f"unknown event {event}")
    _check(final is not None, "stream ended without a final response event")
    assert final is not None
    return final


class ResponsesServer:
    """A running server plus a raw HTTP client and the official SDK."""

    def __init__(self, running: Any) -> None:
        self.base_url = running.base_url
        self.running = running
        self.http = httpx.Client(base_url=self.base_url, timeout=300)
        self.sdk = openai.OpenAI(base_url=self.base_url + "/v1", api_key="local", max_retries=0, timeout=300)

    def post(self, body: Any, path: str = "/v1/responses", **kwargs: Any) -> httpx.Response:
        if isinstance(body, (bytes, str)):
            return self.http.post(path, content=body, **kwargs)
        return self.http.post(path, json=body, **kwargs)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self.post({**body, "stream": False})
        assert r.status_code == 200, r.text
        return r.json()

    def stream_text(self, body: dict[str, Any]) -> str:
        with self.http.stream("POST", "/v1/responses", json={**body, "stream": True}) as r:
            assert r.status_code == 200, r.read()
            assert r.headers["content-type"].startswith("text/event-stream")
            return "".join(r.iter_text())

    def stream(self, body: dict[str, Any]) -> dict[str, Any]:
        """The final Response a raw stream describes, after validating every rule."""
        return validate_stream(self.stream_text(body))

    def close(self) -> None:
        self.http.close()
        self.sdk.close()


@pytest.fixture(scope="session")
def gemma(server) -> Iterator[ResponsesServer]:
    """The default model (its template has no tool syntax: tools are described in the prompt)."""
    s = ResponsesServer(server)
    yield s
    s.close()


@pytest.fixture(scope="session")
def qwen3(start_server, templates_dir) -> Iterator[ResponsesServer]:
    """`<think>` reasoning and `<tool_call>` tools (Qwen3's template)."""
    s = ResponsesServer(start_server("-np", "2", "-c", "8192", "--chat-template-file",
                                     str(templates_dir / "Qwen-Qwen3-0.6B.jinja")))
    yield s
    s.close()


@pytest.fixture(scope="session")
def small_store(start_server) -> Iterator[ResponsesServer]:
    """A store that keeps two responses."""
    s = ResponsesServer(start_server("-np", "1", "-c", "4096", "--responses-store-entries", "2"))
    yield s
    s.close()
