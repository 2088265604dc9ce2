"""Image input through llama.cpp's mtmd (`pyllm serve --mmproj`): the Anthropic, OpenAI and
Responses shapes, the official SDKs and raw HTTP, exact token counts, the prompt cache, URL
images from a loopback server, and a clear 400 for every bad image.

The projector is the tiny random-weight Gemma 3 one (tests/models/make_test_models.py): it
cannot describe a picture, but its embeddings reach the real Gemma 3 270M, so a different
picture changes the output and the same picture gives the same output.
"""
from __future__ import annotations

import base64
import http.server
import random
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

IMAGE_TOKENS = 16  # the tiny projector: a 64x64 image, 8x8 patches, 2x2 pooling


def png(width: int, height: int, seed: int | None = 0) -> bytes:
    """An RGB PNG (written with zlib, no imaging library): pseudo-random pixels from `seed`,
    which do not compress, or black ones for seed None."""
    row_bytes = width * 3
    pixels = random.Random(seed).randbytes(row_bytes * height) if seed is not None else bytes(row_bytes * height)
    rows = b"".join(b"\x00" + pixels[y * row_bytes:(y + 1) * row_bytes] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


RED = png(32, 32, seed=1)
BLUE = png(32, 32, seed=2)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def anthropic_image(data: bytes, media_type: str = "image/png") -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": b64(data)}}


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{b64(data)}"


class ImageHost:
    """A loopback HTTP server with the pictures and misbehaviours the URL tests fetch."""

    def __init__(self) -> None:
        routes = {
            "/red.png": (200, {"Content-Type": "image/png"}, RED),
            "/text": (200, {"Content-Type": "text/plain"}, b"not a picture"),
            "/to-red": (302, {"Location": "/red.png"}, b""),
            "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
            "/missing": (404, {"Content-Type": "text/plain"}, b"no"),
        }

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/slow.png":
                    time.sleep(3)
                status, headers, body = routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    yield host
    host.close()


@pytest.fixture(scope="session")
def vision(start_server, tiny_models):
    """Gemma 3 270M with the tiny projector; loopback URLs allowed, small limits to test against."""
    return start_server("-np", "2", "-c", "4096", "--mmproj", str(tiny_models["mmproj-gemma3"]),
                        "--allow-private-image-urls", "--image-max-bytes", "300000",
                        "--image-max-pixels", "1000000", "--image-url-timeout", "1.5")


@pytest.fixture(scope="session")
def vision_public_urls(start_server, tiny_models):
    """The same, with the default URL policy: loopback and private addresses refused."""
    return start_server("-np", "1", "-c", "2048", "--mmproj", str(tiny_models["mmproj-gemma3"]))


def messages(server, body: dict[str, Any], path: str = "/v1/messages") -> httpx.Response:
    return httpx.post(server.base_url + path, json={"model": "m", "max_tokens": 2, "temperature": 0, **body},
                      timeout=120)


def ask(*content: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [*content, {"type": "text", "text": "What is in the picture?"}]}]


def anthropic_sdk(server) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key="unused", max_retries=0)


def openai_sdk(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0)


def test_props_and_models_say_whether_vision_is_available(vision, server):
    assert httpx.get(vision.base_url + "/props").json()["modalities"]["vision"] is True
    assert "multimodal" in httpx.get(vision.base_url + "/v1/models").json()["data"][0]["capabilities"]
    assert httpx.get(server.base_url + "/props").json()["modalities"]["vision"] is False
    assert "multimodal" not in httpx.get(server.base_url + "/v1/models").json()["data"][0]["capabilities"]


def test_anthropic_sdk_image_counts_as_many_tokens_as_count_tokens_says(vision):
    client = anthropic_sdk(vision)
    conversation = ask(anthropic_image(RED))
    counted = client.messages.count_tokens(model="m", messages=conversation).input_tokens
    text_only = client.messages.count_tokens(model="m", messages=ask()).input_tokens
    reply = client.messages.create(model="m", max_tokens=2, messages=conversation)
    assert reply.usage.input_tokens == counted
    # The image's tokens and the begin/end-of-image markers mtmd puts around them.
    assert counted >= text_only + IMAGE_TOKENS
    assert reply.stop_reason in ("end_turn", "max_tokens")  # random projector weights: any answer


def test_openai_sdk_image_url_data_uri(vision):
    client = openai_sdk(vision)
    reply = client.chat.completions.create(model="m", max_tokens=2, temperature=0, messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": data_uri(RED)}}, {"type": "text", "text": "What is in the picture?"}]}])
    anthropic_count = messages(vision, {"messages": ask(anthropic_image(RED))},
                               "/v1/messages/count_tokens").json()["input_tokens"]
    assert reply.usage.prompt_tokens == anthropic_count
    assert reply.choices[0].message.content is not None


def test_responses_input_image_raw_http(vision):
    r = httpx.post(vision.base_url + "/v1/responses", timeout=120, json={
        "model": "m", "max_output_tokens": 2, "temperature": 0, "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": data_uri(RED)},
            {"type": "input_text", "text": "What is in the picture?"}]}]})
    assert r.status_code == 200, r.text
    text_only = httpx.post(vision.base_url + "/v1/responses", timeout=120, json={
        "model": "m", "max_output_tokens": 1, "input": "What is in the picture?"}).json()
    assert r.json()["usage"]["input_tokens"] >= text_only["usage"]["input_tokens"] + IMAGE_TOKENS


def first_token_logprobs(server, *images: bytes) -> dict[str, float]:
    """The first answer token's top candidates: what the images make the model expect."""
    parts = [{"type": "image_url", "image_url": {"url": data_uri(image)}} for image in images]
    r = httpx.post(server.base_url + "/v1/chat/completions", timeout=120, json={
        "model": "m", "max_tokens": 1, "temperature": 0, "logprobs": True, "top_logprobs": 5,
        "messages": [{"role": "user", "content": [*parts, {"type": "text", "text": "Describe it."}]}]})
    assert r.status_code == 200, r.text
    return {t["token"]: t["logprob"] for t in r.json()["choices"][0]["logprobs"]["content"][0]["top_logprobs"]}


def distance(a: dict[str, float], b: dict[str, float]) -> float:
    """How far apart two candidate lists are: a token missing from one counts as far."""
    return max(abs(a[t] - b[t]) if t in a and t in b else 100.0 for t in {*a, *b})


# The same prompt decoded whole or after a cached prefix differs only by float rounding.
SAME = 0.05


def test_the_image_reaches_the_model_same_image_same_output_other_image_other_output(vision):
    red = first_token_logprobs(vision, RED)
    assert distance(first_token_logprobs(vision, RED), red) < SAME
    assert distance(first_token_logprobs(vision, BLUE), red) > 10 * SAME


def test_several_images_in_order_each_count(vision):
    one = messages(vision, {"messages": ask(anthropic_image(RED))}, "/v1/messages/count_tokens").json()
    two = messages(vision, {"messages": ask(anthropic_image(RED), anthropic_image(BLUE))},
                   "/v1/messages/count_tokens").json()
    assert two["input_tokens"] >= one["input_tokens"] + IMAGE_TOKENS
    # The order reaches the model: beyond rounding (measured 0.29 here since the window-checkpoint
    # cache layout; two solid-colour pictures swapped move the first token less than one swapped for another).
    assert distance(first_token_logprobs(vision, RED, BLUE), first_token_logprobs(vision, BLUE, RED)) > 4 * SAME


def test_second_turn_with_the_same_image_reports_it_cached(vision):
    first_turn = ask(anthropic_image(BLUE))
    first = messages(vision, {"messages": first_turn}).json()
    answer = "".join(block["text"] for block in first["content"] if block["type"] == "text") or "It is blue."
    second = messages(vision, {"messages": [*first_turn, {"role": "assistant", "content": answer},
                                            {"role": "user", "content": "Are you sure?"}]}).json()
    # The whole first prompt, image included, comes from the slot's cache.
    assert second["usage"]["cache_read_input_tokens"] >= first["usage"]["input_tokens"] - 1
    assert first["usage"]["input_tokens"] > IMAGE_TOKENS


def test_image_inside_a_tool_result(vision):
    conversation = [
        {"role": "user", "content": "Open the picture."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"path": "a.png"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": [{"type": "text", "text": "a.png:"}, anthropic_image(RED)]}]},
    ]
    tools = [{"name": "read", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]
    with_image = messages(vision, {"messages": conversation, "tools": tools}, "/v1/messages/count_tokens")
    assert with_image.status_code == 200, with_image.text
    conversation[2]["content"][0]["content"] = [{"type": "text", "text": "a.png:"}]
    without = messages(vision, {"messages": conversation, "tools": tools}, "/v1/messages/count_tokens").json()
    assert with_image.json()["input_tokens"] >= without["input_tokens"] + IMAGE_TOKENS
    r = messages(vision, {"messages": [*conversation[:2], {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [anthropic_image(RED)]}]}], "tools": tools})
    assert r.status_code == 200, r.text


def test_url_image_from_a_loopback_server_with_the_flag(vision, image_host):
    by_url = {"type": "image", "source": {"type": "url", "url": image_host.base_url + "/red.png"}}
    redirected = {"type": "image", "source": {"type": "url", "url": image_host.base_url + "/to-red"}}
    count = messages(vision, {"messages": ask(by_url)}, "/v1/messages/count_tokens").json()["input_tokens"]
    base64_count = messages(vision, {"messages": ask(anthropic_image(RED))},
                            "/v1/messages/count_tokens").json()["input_tokens"]
    assert count == base64_count
    r = messages(vision, {"messages": ask(redirected)})
    assert r.status_code == 200, r.text
    reply = openai_sdk(vision).chat.completions.create(model="m", max_tokens=4, messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": image_host.base_url + "/red.png"}}]}])
    assert reply.usage.prompt_tokens > IMAGE_TOKENS


def test_url_image_on_loopback_is_refused_without_the_flag(vision_public_urls, image_host):
    by_url = {"type": "image", "source": {"type": "url", "url": image_host.base_url + "/red.png"}}
    r = messages(vision_public_urls, {"messages": ask(by_url)})
    assert r.status_code == 400, r.text
    assert "--allow-private-image-urls" in r.json()["error"]["message"]
    r = httpx.post(vision_public_urls.base_url + "/v1/chat/completions", timeout=60, json={"messages": [{
        "role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://localhost:9/x.png"}}]}]})
    assert r.status_code == 400 and "non-public" in r.json()["error"]["message"]
    assert r.json()["error"]["param"] == "messages[0].content[0]"


def _url_error(server, url: str) -> str:
    r = messages(server, {"messages": ask({"type": "image", "source": {"type": "url", "url": url}})})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"
    return r.json()["error"]["message"]


def test_each_url_refusal_says_why(vision, image_host):
    assert "content type" in _url_error(vision, image_host.base_url + "/text")
    assert "only http(s) is followed" in _url_error(vision, image_host.base_url + "/to-file")
    assert "HTTP 404" in _url_error(vision, image_host.base_url + "/missing")
    assert "--image-url-timeout" in _url_error(vision, image_host.base_url + "/slow.png")
    assert "http(s)" in _url_error(vision, "ftp://example.com/a.png")


WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + b"\x00" * 24
BAD_IMAGES = {
    "not_an_image": (anthropic_image(b"hello, this is text"), "not an image"),
    "truncated": (anthropic_image(RED[: len(RED) // 2]), "truncated or corrupt PNG"),
    "media_type_mismatch": (anthropic_image(RED, "image/jpeg"), "does not match the data, which is a PNG"),
    "not_an_image_media_type": (anthropic_image(RED, "text/plain"), "not an image type"),
    "unsupported_format": (anthropic_image(WEBP, "image/webp"), "WEBP images are not supported"),
    "too_many_bytes": (anthropic_image(png(330, 330)), "--image-max-bytes"),
    "too_many_pixels": (anthropic_image(png(1001, 1000, seed=None)), "--image-max-pixels"),
    "bad_base64": ({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "%%%"}},
                   "not valid base64"),
    "no_media_type": ({"type": "image", "source": {"type": "base64", "data": b64(RED)}}, "media_type"),
    "file_source": ({"type": "image", "source": {"type": "file", "file_id": "f"}}, "not supported"),
    "document": ({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}},
                 "document content blocks are not supported"),
}


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_bad_image_is_a_400_that_says_why(vision, name):
    block, reason = BAD_IMAGES[name]
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        r = messages(vision, {"messages": ask(block)}, path)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert reason in error["message"], error["message"]
        assert "messages.0.content.0" in error["message"]


def test_bad_images_in_the_openai_and_responses_shapes(vision):
    r = httpx.post(vision.base_url + "/v1/chat/completions", timeout=60, json={"messages": [{"role": "user", "content": [
        {"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": data_uri(RED, "image/gif")}}]}]})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"].startswith("messages[0].content[1]: ")
    assert "does not match" in r.json()["error"]["message"]
    r = httpx.post(vision.base_url + "/v1/responses", timeout=60, json={"input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": data_uri(b"GIF89a" + b"\x00" * 4, "image/gif")}]}]})
    assert r.status_code == 400, r.text
    assert "truncated or corrupt GIF" in r.json()["error"]["message"]
    r = httpx.post(vision.base_url + "/v1/responses", timeout=60, json={"input": [{"role": "user", "content": [
        {"type": "input_image", "file_id": "file-1"}]}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input[0].content[0]"


def test_image_sent_to_a_model_without_mmproj_names_the_flag(server):
    r = messages(server, {"messages": ask(anthropic_image(RED))})
    assert r.status_code == 400
    assert "--mmproj" in r.json()["error"]["message"]
    r = httpx.post(server.base_url + "/v1/chat/completions", timeout=60, json={"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": data_uri(RED)}}]}]})
    assert r.status_code == 400 and "--mmproj" in r.json()["error"]["message"]


def test_server_still_serves_images_after_every_bad_input(vision):
    r = messages(vision, {"messages": ask(anthropic_image(RED))})
    assert r.status_code == 200, r.text


# --- images in a Responses function_call_output (what a view_image tool returns) -------------

VIEW_IMAGE = [{"type": "function", "name": "view_image", "description": "Shows a picture.",
               "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}]


def viewed(*output: dict[str, Any]) -> list[dict[str, Any]]:
    """A Responses conversation in which the view_image tool answered with `output` parts."""
    return [{"role": "user", "content": "Look at a.png."},
            {"type": "function_call", "call_id": "call_1", "name": "view_image", "arguments": '{"path": "a.png"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": list(output)}]


def viewed_image(data: bytes) -> list[dict[str, Any]]:
    return viewed({"type": "input_text", "text": "a.png:"}, {"type": "input_image", "image_url": data_uri(data)})


def test_image_in_a_function_call_output_reaches_the_model(vision):
    # Random projector weights give no telling answer (the model mostly stops at once), so the
    # prompt cache tells: the prompt holds the picture's content, where the tool output is.
    client = openai_sdk(vision)

    def usage(image: bytes) -> tuple[int, int]:
        reply = client.responses.create(model="m", input=viewed_image(image), tools=VIEW_IMAGE,  # type: ignore[arg-type]
                                        tool_choice="none", temperature=0, max_output_tokens=2)
        assert reply.status in ("completed", "incomplete") and reply.usage is not None
        return reply.usage.input_tokens, reply.usage.input_tokens_details.cached_tokens

    n_tokens, _ = usage(RED)
    assert usage(RED) == (n_tokens, n_tokens - 1)  # all but the last, decoded again for its logits
    other, cached = usage(BLUE)
    assert other == n_tokens  # same size, other content: the cache ends where the picture starts
    assert cached < n_tokens - IMAGE_TOKENS


def test_function_call_output_image_counts_as_the_same_tool_message_in_chat_completions(vision):
    reply = openai_sdk(vision).responses.create(model="m", input=viewed_image(RED), tools=VIEW_IMAGE,  # type: ignore[arg-type]
                                                temperature=0, max_output_tokens=1)
    chat = httpx.post(vision.base_url + "/v1/chat/completions", timeout=120, json={
        "model": "m", "max_tokens": 1, "temperature": 0,
        "tools": [{"type": "function", "function": {k: v for k, v in VIEW_IMAGE[0].items() if k != "type"}}],
        "messages": [
            {"role": "user", "content": "Look at a.png."},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {
                "name": "view_image", "arguments": '{"path": "a.png"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": [
                {"type": "text", "text": "a.png:"}, {"type": "image_url", "image_url": {"url": data_uri(RED)}}]}]})
    assert chat.status_code == 200, chat.text
    assert reply.usage is not None
    assert reply.usage.input_tokens == chat.json()["usage"]["prompt_tokens"]
    text_only = httpx.post(vision.base_url + "/v1/responses", timeout=120, json={
        "model": "m", "max_output_tokens": 1, "tools": VIEW_IMAGE,
        "input": viewed({"type": "input_text", "text": "a.png:"})}).json()
    assert reply.usage.input_tokens >= text_only["usage"]["input_tokens"] + IMAGE_TOKENS


def test_bad_function_call_output_images_are_400s_in_the_responses_shape(vision):
    def error(*output: dict[str, Any]) -> dict[str, Any]:
        r = httpx.post(vision.base_url + "/v1/responses", timeout=60,
                       json={"model": "m", "max_output_tokens": 1, "tools": VIEW_IMAGE, "input": viewed(*output)})
        assert r.status_code == 400, r.text
        body = r.json()["error"]
        assert body["type"] == "invalid_request_error" and set(body) == {"message", "type", "param", "code"}
        return body

    truncated = error({"type": "input_image", "image_url": data_uri(RED[: len(RED) // 2])})
    assert truncated["message"].startswith("input[2].output[0]: ") and "truncated or corrupt PNG" in truncated["message"]
    assert error({"type": "input_image", "file_id": "file-1"})["param"] == "input[2].output[0]"
    assert "input_file" in error({"type": "input_file", "file_id": "file-1"})["message"]
    assert "http(s)" in error({"type": "input_image", "image_url": "ftp://example.com/a.png"})["message"]


def test_function_call_output_image_without_mmproj_names_the_flag(server):
    r = httpx.post(server.base_url + "/v1/responses", timeout=60, json={
        "model": "m", "max_output_tokens": 1, "tools": VIEW_IMAGE, "input": viewed_image(RED)})
    assert r.status_code == 400, r.text
    assert "--mmproj" in r.json()["error"]["message"]
    assert r.json()["error"]["param"] == "input[2].output[1]"


# --- M-RoPE images: the tiny Qwen3.5 with the tiny qwen3vl_merger projector ------------------

FORCED = 'root ::= "A picture of noise."'


@pytest.fixture(scope="session")
def qwen_vision(start_server, tiny_models):
    return start_server("-m", str(tiny_models["qwen35"]), "--mmproj", str(tiny_models["mmproj-qwen3vl"]),
                        "-np", "1", "-c", "2048")


def test_mrope_image_through_both_apis_gives_the_grammar_forced_output(qwen_vision):
    anthropic_reply = anthropic_sdk(qwen_vision).messages.create(
        model="m", max_tokens=16, messages=ask(anthropic_image(RED)),  # type: ignore[arg-type]
        thinking={"type": "disabled"}, extra_body={"grammar": FORCED, "temperature": 0})
    assert [b.text for b in anthropic_reply.content if b.type == "text"] == ["A picture of noise."]
    chat = openai_sdk(qwen_vision).chat.completions.create(
        model="m", max_tokens=16, temperature=0, reasoning_effort="none", extra_body={"grammar": FORCED},
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_uri(RED)}},
                                               {"type": "text", "text": "What is in the picture?"}]}])
    assert chat.choices[0].message.content == "A picture of noise."
    assert chat.usage is not None and chat.usage.prompt_tokens == anthropic_reply.usage.input_tokens
    response = openai_sdk(qwen_vision).responses.create(
        model="m", max_output_tokens=16, temperature=0, reasoning={"effort": "none"}, tools=VIEW_IMAGE,  # type: ignore[arg-type]
        tool_choice="none", input=viewed_image(RED), extra_body={"grammar": FORCED})  # type: ignore[arg-type]
    assert response.output_text == "A picture of noise."
