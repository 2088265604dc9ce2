import json
import socket
import time

import httpx

from .conftest import chat, merge_stream, sdk, stream_chunks

HELLO = [{"role": "user", "content": "Write one sentence about the sea."}]


def test_stream_and_non_stream_agree_at_temperature_0(server):
    whole = chat(server, messages=HELLO, max_tokens=8, temperature=0).json()
    chunks = list(stream_chunks(server, messages=HELLO, max_tokens=8, temperature=0))
    streamed = merge_stream(chunks)
    assert streamed["content"] == whole["choices"][0]["message"]["content"]
    assert streamed["finish_reason"] == whole["choices"][0]["finish_reason"] == "length"
    assert whole["object"] == "chat.completion" and whole["usage"]["completion_tokens"] == 8


def test_chunks_share_one_id_first_delta_has_role_usage_chunk_then_done(server):
    chunks = list(stream_chunks(server, messages=HELLO, max_tokens=5, temperature=0,
                                stream_options={"include_usage": True}))
    assert chunks[-1] == "[DONE]"
    objects = chunks[:-1]
    assert len({c["id"] for c in objects}) == 1 and len({c["created"] for c in objects}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in objects)
    assert objects[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in objects[1:-1])
    usage_chunk = objects[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 5
    assert usage_chunk["usage"]["total_tokens"] == usage_chunk["usage"]["prompt_tokens"] + 5
    assert objects[-2]["choices"][0]["finish_reason"] == "length"


def test_no_usage_chunk_unless_asked(server):
    chunks = list(stream_chunks(server, messages=HELLO, max_tokens=3, temperature=0))
    assert all(c == "[DONE]" or c["choices"] for c in chunks)


def test_sdk_stream_and_usage_with_cached_tokens(server):
    client = sdk(server)
    messages = [{"role": "system", "content": "You are terse. " * 20}, *HELLO]
    client.chat.completions.create(model="any", messages=messages, max_tokens=2, temperature=0)
    stream = client.chat.completions.create(model="any", messages=messages, max_tokens=4, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens > 0
    assert chunks[-1].usage.completion_tokens == 4
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_stop_string_is_not_emitted_and_finishes_with_stop(server):
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, "temperature": 0,
            "grammar": 'root ::= "alpha beta gamma delta"'}
    r = chat(server, **body, stop=[" gamma"]).json()
    assert r["choices"][0]["message"]["content"] == "alpha beta"
    assert r["choices"][0]["finish_reason"] == "stop"


def test_seed_makes_sampling_repeatable(server):
    body = {"messages": HELLO, "max_tokens": 12, "temperature": 1.0, "seed": 1234}
    assert chat(server, **body).json()["choices"][0]["message"] == chat(server, **body).json()["choices"][0]["message"]


def test_response_format_json_schema_forces_matching_json(server):
    schema = {"type": "object", "properties": {"color": {"enum": ["red", "blue"]}}, "required": ["color"],
              "additionalProperties": False}
    r = chat(server, messages=HELLO, max_tokens=40, temperature=0,
             response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}}).json()
    assert json.loads(r["choices"][0]["message"]["content"])["color"] in ("red", "blue")
    r = chat(server, messages=HELLO, max_tokens=60, temperature=0, response_format={"type": "json_object"}).json()
    if r["choices"][0]["finish_reason"] == "stop":
        assert isinstance(json.loads(r["choices"][0]["message"]["content"]), dict)


def test_logprobs_non_stream(server):
    r = chat(server, messages=HELLO, max_tokens=3, temperature=0, logprobs=True, top_logprobs=2).json()
    content = r["choices"][0]["logprobs"]["content"]
    assert len(content) == 3
    assert all(e["logprob"] <= 0 and len(e["top_logprobs"]) == 2 for e in content)
    assert "".join(e["token"] for e in content) == r["choices"][0]["message"]["content"]


def test_logprobs_stream_cover_every_token_once(server):
    chunks = [c for c in stream_chunks(server, messages=HELLO, max_tokens=6, temperature=0, logprobs=True,
                                       top_logprobs=2, stream_options={"include_usage": True}) if c != "[DONE]"]
    content = [e for c in chunks if c["choices"] for e in c["choices"][0]["logprobs"]["content"]]
    assert len(content) == chunks[-1]["usage"]["completion_tokens"]
    assert all(e["logprob"] <= 0 and len(e["top_logprobs"]) == 2 for e in content)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "".join(e["token"] for e in content) == text
    non_stream = chat(server, messages=HELLO, max_tokens=6, temperature=0, logprobs=True, top_logprobs=2).json()
    assert [e["token"] for e in non_stream["choices"][0]["logprobs"]["content"]] == [e["token"] for e in content]


def test_legacy_completion_logprobs_are_refused_not_dropped(server):
    r = httpx.post(server.base_url + "/v1/completions", json={"prompt": "Hi", "max_tokens": 2, "logprobs": 2},
                   timeout=60)
    assert r.status_code == 400 and r.json()["error"]["param"] == "logprobs"


def test_unknown_fields_are_ignored(server):
    r = chat(server, messages=HELLO, max_tokens=2, store=False, metadata={"a": "b"}, user="u", frobnicate=[1])
    assert r.status_code == 200


def test_legacy_completions_stream_and_non_stream_agree(server):
    body = {"prompt": "The capital of France is", "max_tokens": 6, "temperature": 0}
    whole = httpx.post(server.base_url + "/v1/completions", json=body, timeout=60).json()
    assert whole["object"] == "text_completion"
    client = sdk(server)
    streamed = "".join(c.choices[0].text for c in client.completions.create(model="m", stream=True, **body)
                       if c.choices)
    assert streamed == whole["choices"][0]["text"] and whole["usage"]["completion_tokens"] == 6


def test_tokenize_detokenize_round_trip(server):
    tokens = httpx.post(server.base_url + "/tokenize", json={"content": "Hello world"}).json()["tokens"]
    assert tokens and all(isinstance(t, int) for t in tokens)
    pieces = httpx.post(server.base_url + "/tokenize", json={"content": "Hello world", "with_pieces": True}).json()
    assert [p["id"] for p in pieces["tokens"]] == tokens
    text = httpx.post(server.base_url + "/detokenize", json={"tokens": tokens}).json()["content"]
    assert text == "Hello world"


def test_apply_template_accepts_system_messages_anywhere(server):
    messages = [{"role": "user", "content": "hi"}, {"role": "system", "content": "late rule"},
                {"role": "developer", "content": "dev rule"}, {"role": "user", "content": "again"}]
    prompt = httpx.post(server.base_url + "/apply-template", json={"messages": messages}).json()["prompt"]
    assert "late rule" in prompt and "dev rule" in prompt and prompt.index("late rule") > prompt.index("hi")
    assert chat(server, messages=messages, max_tokens=2).status_code == 200


def test_props_reports_model_context_template_and_thinking(server):
    props = httpx.get(server.base_url + "/props").json()
    assert props["n_ctx"] == 4096 and props["total_slots"] == 2
    assert props["chat_template"] and props["chat_template_caps"]["supports_thinking"] is False
    assert props["model_alias"] == "gemma-3-270m-q4_k_m.gguf"


def _idle(server) -> bool:
    return httpx.get(server.base_url + "/health").json()["slots_processing"] == 0


def test_client_disconnect_cancels_the_task(server):
    # The grammar keeps the answer going: no end-of-turn marker fits it, only a rare '#' ends it.
    body = json.dumps({"messages": HELLO, "max_tokens": 3000, "stream": True, "temperature": 1.0,
                       "grammar": 'root ::= ([a-z]+ " ")+ "#"'}).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        received = b""
        while received.count(b"data: ") < 3:
            received += s.recv(65536)
        assert not _idle(server)
    deadline = time.monotonic() + 10
    while not _idle(server):
        assert time.monotonic() < deadline, "the task kept its slot after the client left"
        time.sleep(0.05)
