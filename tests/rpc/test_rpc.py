"""A model split over two of llama.cpp's rpc-server processes on loopback (`pyllm serve
--rpc A,B -ngl 99`): where the weights went, the same greedy tokens as a local run, both
APIs streaming, and a worker killed mid-stream."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time

import anthropic
import httpx
import openai
import pytest

import pyllm

pytestmark = pytest.mark.slow

PROMPT = "The capital of France is"
# No end of turn (ids 1 and 106): every one of max_tokens comes.
NO_EOS = {"1": -100, "106": -100}


def completion(server, **body) -> dict:
    r = httpx.post(server.base_url + "/v1/completions", json={"prompt": PROMPT, "temperature": 0, **body}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_model_is_split_over_both_rpc_servers(cluster):
    a, b = (w.endpoint for w in cluster.workers)
    line = next(line for line in cluster.server.output().splitlines() if "weights:" in line)
    sizes = {name: float(mib) for name, mib in re.findall(r"(\S+) (\d+) MiB", line.split("weights:", 1)[1])}
    on = {endpoint: sum(mib for name, mib in sizes.items() if name.startswith("RPC") and f"[{endpoint}]" in name)
          for endpoint in (a, b)}
    assert on[a] > 10 and on[b] > 10, line  # llama.cpp splits the layers by the servers' free memory
    assert re.search(r"\((\d+)/\1 layers offloaded\)", line), line


def test_greedy_output_equals_the_local_run(cluster, default_model_path):
    remote = completion(cluster.server, max_tokens=24, logit_bias=NO_EOS)["choices"][0]["text"]
    # rpc-server's CPU backend keeps the weights as the GGUF has them; repacked local weights
    # sum in another order (AVX-512 here), enough to turn a near tie at temperature 0.
    engine = pyllm.Engine(pyllm.Model(default_model_path, repack=False), n_parallel=1, n_ctx=2048)
    try:
        local = engine.generate(PROMPT, max_tokens=24, temperature=0,
                                logit_bias={int(k): v for k, v in NO_EOS.items()}).text
    finally:
        engine.close()
    assert remote == local


def test_both_apis_stream(cluster):
    base = cluster.server.base_url
    oai = openai.OpenAI(base_url=base + "/v1", api_key="local")
    pieces = [c.choices[0].delta.content or "" for c in oai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Count from 1 to 5."}], max_tokens=16,
        temperature=0, stream=True, extra_body={"ignore_eos": True}) if c.choices]
    assert len([p for p in pieces if p]) > 1

    ant = anthropic.Anthropic(base_url=base, api_key="local")
    with ant.messages.stream(model="m", max_tokens=16, extra_body={"ignore_eos": True},
                             messages=[{"role": "user", "content": "Count from 1 to 5."}]) as stream:
        texts = list(stream.text_stream)
    assert len([t for t in texts if t]) > 1


def _openai_stream(server, out: list[str], started: threading.Event) -> None:
    body = {"prompt": PROMPT, "temperature": 0, "max_tokens": 900, "logit_bias": NO_EOS, "stream": True}
    with httpx.stream("POST", server.base_url + "/v1/completions", json=body, timeout=120) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line.startswith("data: "):
                out.append(line[6:])
                started.set()


def _anthropic_stream(server, out: list[tuple[str, str]], started: threading.Event) -> None:
    body = {"model": "m", "max_tokens": 900, "temperature": 0, "stream": True, "ignore_eos": True,
            "messages": [{"role": "user", "content": "Write a very long story."}]}
    event = ""
    with httpx.stream("POST", server.base_url + "/v1/messages", json=body, timeout=120) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                out.append((event, line[6:]))
                if event == "content_block_delta":
                    started.set()


def test_a_killed_worker_ends_the_streams_with_an_error_and_the_server_says_so(doomed_cluster):
    server = doomed_cluster.server
    victim = doomed_cluster.workers[1]
    oai: list[str] = []
    ant: list[tuple[str, str]] = []
    oai_started, ant_started = threading.Event(), threading.Event()
    threads = [threading.Thread(target=_openai_stream, args=(server, oai, oai_started)),
               threading.Thread(target=_anthropic_stream, args=(server, ant, ant_started))]
    for t in threads:
        t.start()
    assert oai_started.wait(60) and ant_started.wait(60)
    victim.kill()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a stream did not end after its worker died"

    assert oai[-1] == "[DONE]"
    error = json.loads(oai[-2])["error"]
    assert victim.endpoint in error["message"] and error["type"] == "server_error", error
    assert any(json.loads(d)["choices"][0]["text"] for d in oai[:-2])

    assert ant[-1][0] == "error"
    assert json.loads(ant[-1][1])["type"] == "error" and victim.endpoint in ant[-1][1]
    assert not any(event == "message_stop" for event, _ in ant)

    # The server stays up and says what is wrong; generation is refused, not attempted.
    assert server.proc.poll() is None
    health = httpx.get(server.base_url + "/health", timeout=10)
    assert health.status_code == 503
    assert victim.endpoint in health.json()["error"] and "restart" in health.json()["error"]
    refused = httpx.post(server.base_url + "/v1/completions", json={"prompt": PROMPT, "max_tokens": 4}, timeout=30)
    assert refused.status_code == 503 and victim.endpoint in refused.json()["error"]["message"]
    refused = httpx.post(server.base_url + "/v1/messages", timeout=30, json={
        "model": "m", "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]})
    assert refused.status_code == 503 and refused.json()["type"] == "error"

    # A restarted worker has none of the weights: the server still says it must be restarted.
    victim.start()
    time.sleep(0.2)
    assert httpx.get(server.base_url + "/health", timeout=10).status_code == 503


def test_an_unreachable_rpc_server_is_a_clear_error_at_startup():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: refuses connections
        result = subprocess.run([sys.executable, "-m", "pyllm", "serve", "--rpc", endpoint, "-ngl", "99",
                                 "--port", "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"cannot connect to RPC server {endpoint}" in result.stderr
