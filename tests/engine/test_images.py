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


# -- M-RoPE image positions (Qwen3-VL / Qwen3.5) ------------------------------------------------
# The tiny random-weight Qwen3.5 with the tiny qwen3vl_merger projector (tests/models): a 32x32
# image is 16 tokens on a 4x4 grid, which advance the model position by 4, not 16. The engine
# checks its position mapping against mtmd's own count after every image (engine.cpp).

MROPE_IMAGE_TOKENS = 16


@pytest.fixture(scope="module")
def qwen35_model(tiny_models: dict[str, Path]) -> pyllm.Model:
    return pyllm.Model(tiny_models["qwen35"])


def mrope_engine(qwen35_model: pyllm.Model, tiny_models: dict[str, Path]) -> pyllm.Engine:
    return pyllm.Engine(qwen35_model, n_parallel=2, n_ctx=2 * 2048, mmproj=tiny_models["mmproj-qwen3vl"])


@pytest.fixture(scope="module")
def qwen_vision(qwen35_model: pyllm.Model, tiny_models: dict[str, Path]):
    with mrope_engine(qwen35_model, tiny_models) as engine:
        yield engine


def greedy(engine: pyllm.Engine, messages: list[dict], max_tokens: int = 8, **params) -> tuple[str, dict]:
    text, usage = "", {}
    params.setdefault("ignore_eos", True)
    for event in engine.chat(messages, max_tokens=max_tokens, temperature=0, enable_thinking=False, **params):
        if event["type"] in ("content", "reasoning"):
            text += event["text"]
        elif event["type"] == "finish":
            usage = event["usage"]
    return text, usage


def test_mrope_projector_loads_for_qwen35(qwen_vision):
    assert qwen_vision.vision is True


def test_mrope_image_with_a_grammar_gives_the_forced_output(qwen_vision):
    text, usage = greedy(qwen_vision, conversation(png(32, 32, 1)), max_tokens=16,
                         grammar='root ::= "A picture of noise."', ignore_eos=False)
    assert text == "A picture of noise."
    plain = greedy(qwen_vision, [{"role": "user", "content": "Describe the picture."}], max_tokens=1)[1]
    # The image's cells and the <|vision_start|> / <|vision_end|> markers mtmd puts around them.
    assert usage["prompt_tokens"] == plain["prompt_tokens"] + MROPE_IMAGE_TOKENS + 2


def test_mrope_same_image_same_output_other_image_other_output(qwen_vision):
    first = greedy(qwen_vision, conversation(png(32, 32, 1)))[0]
    assert greedy(qwen_vision, conversation(png(32, 32, 1)))[0] == first
    assert greedy(qwen_vision, conversation(png(32, 32, 2)))[0] != first


def test_mrope_next_turn_reuses_the_image_and_equals_a_cold_run(qwen_vision, qwen35_model, tiny_models):
    image = png(32, 32, 3)
    turn1 = conversation(image)
    first, first_usage = greedy(qwen_vision, turn1)
    turn2 = [*turn1, {"role": "assistant", "content": "a.py b.py"}, {"role": "user", "content": "Open a.py."}]
    again, usage = greedy(qwen_vision, turn2, max_tokens=12)
    # The hybrid model resumes at the checkpoint where turn 1's generation prompt started:
    # the image and the text after it come from the cache.
    assert usage["cached_tokens"] > MROPE_IMAGE_TOKENS + 2
    assert usage["cached_tokens"] < first_usage["prompt_tokens"]
    with mrope_engine(qwen35_model, tiny_models) as fresh:
        cold, cold_usage = greedy(fresh, turn2, max_tokens=12)
    assert cold_usage["cached_tokens"] == 0
    assert again == cold


def test_mrope_text_after_the_image_continues_the_same_from_the_cache(qwen_vision, qwen35_model, tiny_models):
    # The same prompt twice: the second run keeps all but the last token in the cache (text
    # after the image at M-RoPE positions) and must continue exactly as the first.
    messages = conversation(png(32, 32, 4), png(32, 32, 5))
    first, first_usage = greedy(qwen_vision, messages, max_tokens=12)
    again, usage = greedy(qwen_vision, messages, max_tokens=12)
    assert usage["cached_tokens"] == first_usage["prompt_tokens"] - 1
    assert again == first
    with mrope_engine(qwen35_model, tiny_models) as fresh:
        assert greedy(fresh, messages, max_tokens=12)[0] == first
