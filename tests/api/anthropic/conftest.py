"""Anthropic API fixtures: real servers with real reasoning templates, and a strict stream
validator that every streamed response in this suite goes through (raw httpx and the
official SDK alike, through a recording transport)."""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "model_context_window_exceeded", "pause_turn"}
DELTA_OF_BLOCK = {"text": {"text_delta"}, "thinking": {"thinking_delta", "signature_delta"},
                  "tool_use": {"input_json_delta"}, "server_tool_use": {"input_json_delta"},
                  "tool_search_tool_result": set()}


class StreamRuleError(AssertionError):
    pass


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise StreamRuleError(message)


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Frames as (event, data); every frame must have both lines."""
    frames = []
    for raw in text.split("\n\n"):
        if not raw.strip():
            continue
        fields = dict(line.split(": ", 1) for line in raw.split("\n"))
        _check(set(fields) == {"event", "data"}, f"frame without exactly event and data lines: {raw!r}")
        frames.append((fields["event"], json.loads(fields["data"])))
    return frames


def validate_stream(text: str) -> dict[str, Any]:
    """Check every Anthropic streaming rule; return the message the stream describes.

    A stream that ends in an error event returns ``{"error": ...}``."""
    frames = parse_sse(text)
    _check(bool(frames), "empty stream")
    message: dict[str, Any] | None = None
    open_block: dict[str, Any] | None = None
    signature_seen = False
    json_parts: list[str] = []
    delta_seen = stopped = False
    for event, data in frames:
        _check(event == data.get("type"), f"event line {event!r} != data.type {data.get('type')!r}")
        _check(not stopped, f"{event} after message_stop")
        if event == "ping":
            continue
        if event == "error":
            _check(set(data["error"]) >= {"type", "message"}, f"error event shape: {data}")
            return {"error": data["error"]}
        if message is None:
            _check(event == "message_start", f"first event is {event}, not message_start")
            m = data["message"]
            _check(m["id"].startswith("msg_") and m["type"] == "message" and m["role"] == "assistant",
                   f"message_start skeleton: {m}")
            _check(m["content"] == [] and m["stop_reason"] is None and m["stop_sequence"] is None,
                   f"message_start skeleton: {m}")
            _check(isinstance(m["model"], str) and m["model"], "message_start without model")
            for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
                _check(isinstance(m["usage"].get(key), int), f"message_start usage lacks {key}")
            message = {**m, "content": []}
            continue
        _check(event != "message_start", "second message_start")
        if event == "content_block_start":
            _check(not delta_seen, "content_block_start after message_delta")
            _check(open_block is None, "content_block_start while another block is open")
            _check(data["index"] == len(message["content"]), f"block index {data['index']} out of order")
            block = data["content_block"]
            if block["type"] == "text":
                _check(block.get("text") == "", f"text placeholder: {block}")
            elif block["type"] == "thinking":
                _check(block.get("thinking") == "", f"thinking placeholder: {block}")
            elif block["type"] in ("tool_use", "server_tool_use"):
                prefix = "toolu_" if block["type"] == "tool_use" else "srvtoolu_"
                _check(block.get("id", "").startswith(prefix) and isinstance(block.get("name"), str)
                       and block["name"] and block.get("input") == {}, f"{block['type']} placeholder: {block}")
            elif block["type"] == "tool_search_tool_result":
                _check(block.get("tool_use_id", "").startswith("srvtoolu_")
                       and block["content"]["type"] in ("tool_search_tool_search_result", "tool_search_tool_result_error"),
                       f"tool_search_tool_result block: {block}")
            else:
                raise StreamRuleError(f"unknown block type {block['type']}")
            open_block = {**block}
            if block["type"] == "thinking":
                open_block["signature"] = ""
            message["content"].append(open_block)
            signature_seen, json_parts = False, []
        elif event == "content_block_delta":
            _check(open_block is not None and data["index"] == len(message["content"]) - 1,
                   f"delta for block {data['index']} that is not open")
            delta = data["delta"]
            _check(delta["type"] in DELTA_OF_BLOCK[open_block["type"]],
                   f"{delta['type']} in a {open_block['type']} block")
            _check(not signature_seen, "delta after the signature_delta")
            if delta["type"] == "text_delta":
                open_block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                open_block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                _check(isinstance(delta["signature"], str) and delta["signature"], "empty signature")
                open_block["signature"] = delta["signature"]
                signature_seen = True
            else:
                json_parts.append(delta["partial_json"])
        elif event == "content_block_stop":
            _check(open_block is not None and data["index"] == len(message["content"]) - 1,
                   f"stop for block {data['index']} that is not open")
            if open_block["type"] == "thinking":
                _check(signature_seen, "thinking block closed without a signature_delta")
            if open_block["type"] in ("tool_use", "server_tool_use"):
                value = json.loads("".join(json_parts))
                _check(isinstance(value, dict), f"tool input is not an object: {value!r}")
                open_block["input"] = value
            if open_block["type"] == "text":
                _check(open_block["text"].strip() != "", "a text block with only whitespace")
            open_block = None
        elif event == "message_delta":
            _check(open_block is None, "message_delta while a block is open")
            _check(not delta_seen, "second message_delta")
            _check(data["delta"]["stop_reason"] in STOP_REASONS, f"stop_reason {data['delta']}")
            _check("stop_sequence" in data["delta"], "message_delta without stop_sequence")
            _check(isinstance(data["usage"]["output_tokens"], int), "message_delta without usage.output_tokens")
            delta_seen = True
            message.update(stop_reason=data["delta"]["stop_reason"], stop_sequence=data["delta"]["stop_sequence"])
            message["usage"] = {**message["usage"], **data["usage"]}
        elif event == "message_stop":
            _check(delta_seen, "message_stop before message_delta")
            stopped = True
        else:
            raise StreamRuleError(f"unknown event {event}")
    _check(stopped, "stream ended without message_stop")
    return message


def _recording_transport(http: Any, record: StreamRecord) -> Any:
    """A transport for ``http`` (httpx, or httpx2 which newer SDKs use) that passes SSE
    bodies through and validates each once the client has read it all."""

    class RecordingStream(http.SyncByteStream):
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.chunks: list[bytes] = []
            self.finished = False

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.inner:
                self.chunks.append(chunk)
                yield chunk
            self.finished = True

        def close(self) -> None:
            self.inner.close()
            if self.finished:
                with contextlib.suppress(StreamRuleError, KeyError, ValueError):
                    record.check(b"".join(self.chunks).decode())

    class RecordingTransport(http.HTTPTransport):
        def handle_request(self, request: Any) -> Any:
            response = super().handle_request(request)
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                return http.Response(response.status_code, headers=response.headers,
                                     stream=RecordingStream(response.stream), extensions=response.extensions)
            return response

    return RecordingTransport()


class StreamRecord:
    def __init__(self) -> None:
        self.validated = 0
        self.failures: list[str] = []

    def check(self, text: str) -> dict[str, Any]:
        self.validated += 1
        try:
            return validate_stream(text)
        except (StreamRuleError, KeyError, ValueError) as e:
            self.failures.append(f"{type(e).__name__}: {e}\n{text[:2000]}")
            raise


@pytest.fixture(scope="session")
def stream_record() -> StreamRecord:
    return StreamRecord()


@pytest.fixture(autouse=True)
def _every_stream_is_valid(stream_record: StreamRecord) -> Iterator[None]:
    yield
    failures, stream_record.failures = stream_record.failures, []
    assert not failures, "invalid Anthropic streams:\n" + "\n\n".join(failures)


class AnthropicServer:
    """A running server plus clients whose every SSE response is validated."""

    def __init__(self, running: Any, record: StreamRecord) -> None:
        self.base_url = running.base_url
        self.record = record
        self.http = httpx.Client(base_url=self.base_url, transport=_recording_transport(httpx, record), timeout=120)
        sdk_http = importlib.import_module("httpx2") if importlib.util.find_spec("httpx2") else httpx
        self.sdk = anthropic.Anthropic(
            base_url=self.base_url, api_key="local", max_retries=0,
            http_client=sdk_http.Client(transport=_recording_transport(sdk_http, record), timeout=120))

    def post(self, body: Any, path: str = "/v1/messages", **kwargs: Any) -> httpx.Response:
        if isinstance(body, (bytes, str)):
            return self.http.post(path, content=body, **kwargs)
        return self.http.post(path, json=body, **kwargs)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self.post({**body, "stream": False})
        assert r.status_code == 200, r.text
        return r.json()

    def stream(self, body: dict[str, Any]) -> dict[str, Any]:
        """The message a raw stream describes, after validating every rule."""
        with self.http.stream("POST", "/v1/messages", json={**body, "stream": True}) as r:
            assert r.status_code == 200, r.read()
            text = "".join(r.iter_text())
        return validate_stream(text)

    def sdk_stream(self, body: dict[str, Any]) -> Any:
        """``sdk.messages.stream`` for a raw body: what the SDK no longer exposes (temperature,
        the grammar extension) goes in ``extra_body``."""
        sdk_fields = {"model", "max_tokens", "messages", "system", "tools", "tool_choice", "thinking",
                      "stop_sequences", "metadata"}
        return self.sdk.messages.stream(**{k: v for k, v in body.items() if k in sdk_fields},
                                        extra_body={k: v for k, v in body.items() if k not in sdk_fields})

    def close(self) -> None:
        self.http.close()
        self.sdk.close()


@pytest.fixture(scope="session")
def qwen3(start_server, templates_dir, stream_record) -> Iterator[AnthropicServer]:
    """`<think>` reasoning and `<tool_call>` tools (Qwen3's template)."""
    running = start_server("-np", "2", "-c", "8192", "--chat-template-file",
                           str(templates_dir / "Qwen-Qwen3-0.6B.jinja"))
    server = AnthropicServer(running, stream_record)
    yield server
    server.close()


@pytest.fixture(scope="session")
def deepseek(start_server, templates_dir, stream_record) -> Iterator[AnthropicServer]:
    """A forced-open thinking template: the prompt ends inside `<think>`."""
    running = start_server("-np", "2", "-c", "8192", "--chat-template-file",
                           str(templates_dir / "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"))
    server = AnthropicServer(running, stream_record)
    yield server
    server.close()
