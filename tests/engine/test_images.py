"""Images through the engine (pyllm.Engine(mmproj=...)): image chunks are evaluated into a
slot's sequence during prefill, beside other slots' decoding, and cached like text."""
from __future__ import annotations

import random
import struct
import threading
import zlib
from pathlib import Path

import pytest

import pyllm


def png(width: int, height: int, seed: int) -> bytes:
    row_bytes = width * 3
    pixels = random.Random(seed).randbytes(row_bytes * height)
    rows = b"".join(b"\x00" + pixels[y * row_bytes:(y + 1) * row_bytes] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def conversation(*images: bytes) -> list[dict]:
    parts = [{"type": "image", "data": image, "media_type": "image/png"} for image in images]
    return [{"role": "user", "content": [*parts, {"type": "text", "text": "Describe the picture."}]}]


@pytest.fixture(scope="module")
def vision_engine(model: pyllm.Model, tiny_models: dict[str, Path]):
    with pyllm.Engine(model, n_parallel=3, n_ctx=3 * 1024, mmproj=tiny_models["mmproj-gemma3"]) as engine:
        yield engine


def run(engine: pyllm.Engine, messages: list[dict], max_tokens: int = 8) -> tuple[str, dict]:
    text, usage = "", {}
    for event in engine.chat(messages, max_tokens=max_tokens, temperature=0):
        if event["type"] == "content":
            text += event["text"]
        elif event["type"] == "finish":
            usage = event["usage"]
    return text, usage


def test_engine_says_whether_it_has_vision(vision_engine, engine):
    assert vision_engine.vision is True
    assert engine.vision is False


def test_projector_that_mtmd_refuses_is_a_model_load_error(model, default_model_path):
    with pytest.raises(pyllm.ModelLoadError, match="multimodal projector"):
        pyllm.Engine(model, n_parallel=1, n_ctx=512, mmproj=default_model_path)  # a text model, not a projector
    with pytest.raises(pyllm.ModelLoadError):
        pyllm.Engine(model, n_parallel=1, n_ctx=512, mmproj="/nonexistent/mmproj.gguf")


def test_image_without_projector_is_refused_naming_the_flag(engine):
    with pytest.raises(pyllm.InvalidRequestError, match="--mmproj"):
        run(engine, conversation(png(8, 8, 1)))


# A prefill of a repetition the small model copies with a large margin: its greedy output does
# not depend on which other tasks share the batch, while any mix-up between slots shows.
PATTERN = ", ".join(["red blue green"] * 6) + ","


def copying(*images: bytes) -> list[dict]:
    return [{"role": "user", "content": [*({"type": "image", "data": i} for i in images),
                                         {"type": "text", "text": "Repeat the words."}]},
            {"role": "assistant", "content": PATTERN}]


def test_images_prefilled_beside_other_slots_give_what_they_give_alone(vision_engine):
    a, b = png(24, 24, 1), png(24, 24, 2)
    jobs = {"text": (copying(), 24), "two images": (copying(a, b), 12), "one image": (copying(b), 12)}
    alone = {name: run(vision_engine, messages, n) for name, (messages, n) in jobs.items()}
    assert alone["one image"][0].startswith(" red blue green,")
    together: dict[str, tuple[str, dict]] = {}

    def go(name: str) -> None:
        together[name] = run(vision_engine, *jobs[name])

    threads = [threading.Thread(target=go, args=(name,)) for name in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {k: v[0] for k, v in together.items()} == {k: v[0] for k, v in alone.items()}
    assert {k: v[1]["prompt_tokens"] for k, v in together.items()} == {k: v[1]["prompt_tokens"] for k, v in alone.items()}


def test_same_image_next_time_comes_from_the_cache(vision_engine):
    image = png(16, 16, 3)
    first = run(vision_engine, conversation(image))
    again = run(vision_engine, conversation(image))
    assert again[1]["cached_tokens"] == first[1]["prompt_tokens"] - 1  # all but the last, decoded again for logits
    other = run(vision_engine, conversation(png(16, 16, 4)))
    assert other[1]["cached_tokens"] < first[1]["prompt_tokens"] - 16  # diverges where the image starts
