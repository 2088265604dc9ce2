"""With every layer on the device: the weights and the KV cache are really there, greedy
output is the CPU build's, both APIs stream, and the prompt cache and cancellation work."""
from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator

import anthropic
import openai
import pytest

import pyllm

from ..serving import PyllmServer

pytestmark = pytest.mark.gpu

CPU_BUFFERS = ("CPU", "CPU_Mapped", "CPU_REPACK")


def test_the_build_has_a_gpu_backend_and_device():
    info = pyllm.build_info()
    assert info["gpu_backends"], info["backends"]
    assert any(d["type"] in ("gpu", "igpu") for d in pyllm.devices()), pyllm.devices()


def test_every_layer_is_offloaded(gpu_model: pyllm.Model, ngl: int):
    assert gpu_model.offloaded_layers == min(ngl, gpu_model.n_layer + 1)
    on_device = {name: size for name, size in gpu_model.weight_buffers.items() if name not in CPU_BUFFERS}
    assert on_device and sum(on_device.values()) > 0.5 * gpu_model.size_bytes, gpu_model.weight_buffers


def test_greedy_output_equals_the_cpu(gpu_model: pyllm.Model, cpu_model: pyllm.Model, reference):
    on_gpu = reference.greedy(gpu_model)
    assert on_gpu == reference.greedy(cpu_model)
    if path := os.environ.get("PYLLM_TEST_REFERENCE"):  # the default CPU build's, by the test script
        with open(path, encoding="utf-8") as f:
            assert on_gpu == json.load(f)["greedy"]


@pytest.fixture(scope="module")
def engine(gpu_model: pyllm.Model) -> Iterator[pyllm.Engine]:
    e = pyllm.Engine(gpu_model, n_parallel=2, n_ctx=4096)
    yield e
    e.close()


def test_prompt_cache_with_the_kv_cache_on_the_device(engine: pyllm.Engine):
    prefix = "You are a helpful assistant. " * 40
    cold = engine.generate(prefix + "Question: what is 2+2? Answer:", max_tokens=8, temperature=0)
    warm = engine.generate(prefix + "Question: what is 2+2? Answer:", max_tokens=8, temperature=0)
    assert warm.result.usage.cached_tokens >= cold.result.usage.prompt_tokens - 1
    assert warm.text == cold.text
    other = engine.generate(prefix + "Question: what is 3+3? Answer:", max_tokens=8, temperature=0)
    assert other.result.usage.cached_tokens > 200


def test_cancellation_frees_the_slot(engine: pyllm.Engine):
    task = engine.submit("Once upon a time", max_tokens=2000, temperature=0, logit_bias={1: -100, 106: -100})
    pieces = []
    for piece in task:
        pieces.append(piece)
        if len(pieces) == 4:
            break
    deadline = time.monotonic() + 10
    while engine.stats()["busy_slots"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.stats()["busy_slots"] == 0
    assert engine.generate("Hello", max_tokens=4, temperature=0).result.usage.completion_tokens > 0


@pytest.fixture(scope="module")
def gpu_server(ngl: int) -> Iterator[tuple[str, str]]:
    """`pyllm serve -ngl N` with llama.cpp's info log, which says where the KV cache is."""
    server = PyllmServer(["-ngl", str(ngl), "-np", "2", "-c", "4096"], env={"PYLLM_LOG_LEVEL": "info"},
                         ready_timeout=300)
    try:
        yield server.base_url, server.output()
    finally:
        server.stop()


def test_the_server_keeps_the_kv_cache_on_the_device(gpu_server):
    _, log = gpu_server
    kv = re.findall(r"(\S+) KV buffer size\s*=\s*([0-9.]+) MiB", log)
    assert kv and all(name not in CPU_BUFFERS for name, _ in kv), kv


def test_both_apis_stream(gpu_server):
    base, _ = gpu_server
    oai = openai.OpenAI(base_url=base + "/v1", api_key="local")
    pieces = [c.choices[0].delta.content or "" for c in oai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Count from 1 to 5."}], max_tokens=16,
        temperature=0, stream=True, extra_body={"ignore_eos": True}) if c.choices]
    assert len([p for p in pieces if p]) > 1
    ant = anthropic.Anthropic(base_url=base, api_key="local")
    with ant.messages.stream(model="m", max_tokens=16, extra_body={"ignore_eos": True},
                             messages=[{"role": "user", "content": "Count from 1 to 5."}]) as stream:
        assert len([t for t in stream.text_stream if t]) > 1
