"""Pooled embeddings through the real model (Gemma 3 270M: a decoder, mean pooling by default)."""
from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

import pyllm

TEXTS = ["The lighthouse keeper climbed the stairs.", "A storm rolled in from the north.",
         "Gulls circled the harbour at dawn.", "def add(a, b): return a + b",
         "The ship's bell rang twice.", "Fog lay thick over the reef.", "Oil for the lamp ran low.",
         "She wrote the tide times in the logbook."]


def assert_same_vectors(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal up to what a different batch shape changes: the CPU's repacked weight kernels
    sum in another order for another number of rows (cosine 0.99997 seen)."""
    np.testing.assert_allclose(actual, expected, atol=5e-3)
    cosine = np.sum(actual * expected, axis=-1) / np.linalg.norm(actual, axis=-1) / np.linalg.norm(expected, axis=-1)
    assert (cosine > 0.9999).all(), cosine


@pytest.fixture(scope="module")
def embedder(model: pyllm.Model):
    """Batches of 64 tokens: a long request is cancelled or truncated within a short decode.
    One thread: ggml's spinning thread barriers made a 2-thread decode 20 times slower on a
    loaded 2-core machine, and these tests check vectors, not speed."""
    with pyllm.Embedder(model, n_batch=64, n_threads=1) as e:
        yield e


def test_defaults_for_a_generative_model(model: pyllm.Model):
    with pyllm.Embedder(model) as embedder:
        assert embedder.pooling == "mean"  # the GGUF names none
        assert embedder.n_dims == model.n_embd
        assert embedder.max_input_tokens == 512


def test_vectors_are_one_float32_array_over_the_native_buffer(embedder: pyllm.Embedder, model: pyllm.Model):
    vectors = embedder.embed(TEXTS[:3])
    assert vectors.dtype == np.float32 and vectors.shape == (3, model.n_embd)
    assert vectors.flags.c_contiguous and not vectors.flags.owndata  # a view of the native buffer
    assert np.isfinite(vectors).all()


def test_same_text_gives_the_same_vector(embedder: pyllm.Embedder):
    a, b = embedder.embed(TEXTS[0]), embedder.embed(TEXTS[0])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, embedder.embed(TEXTS[1]))


def test_normalized_vectors_have_norm_one(embedder: pyllm.Embedder):
    normalized = embedder.embed(TEXTS[:4])
    np.testing.assert_allclose(np.linalg.norm(normalized, axis=1), 1.0, atol=1e-5)
    raw = embedder.embed(TEXTS[:4], normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), normalized, atol=1e-5)


def test_batch_equals_one_by_one(embedder: pyllm.Embedder):
    batch = embedder.embed(TEXTS[:5])
    single = np.stack([embedder.embed(t)[0] for t in TEXTS[:5]])
    assert_same_vectors(batch, single)


def test_batch_neighbours_do_not_change_a_vector(embedder: pyllm.Embedder):
    # With llama.cpp's CPU flash attention the first of two equal inputs came out with a
    # cosine of 0.998 to the second; the embedder runs without it by default.
    alone = embedder.embed(TEXTS[0])[0]
    batch = embedder.embed([TEXTS[0], TEXTS[0], TEXTS[1], TEXTS[0]])
    assert_same_vectors(batch[[0, 1, 3]], np.stack([alone] * 3))


def test_concurrent_requests_equal_their_solo_results(embedder: pyllm.Embedder):
    solo = [embedder.embed(TEXTS[i:i + 2]) for i in range(0, 4, 2)]
    jobs = [embedder.submit(TEXTS[i:i + 2]) for i in range(0, 4, 2)]
    for job, expected in zip(jobs, solo):
        assert_same_vectors(job.wait(timeout=120), expected)


def test_token_ids_give_the_vector_of_their_text(embedder: pyllm.Embedder, model: pyllm.Model):
    tokens = model.tokenize(TEXTS[0], add_special=True)
    expected = embedder.embed(TEXTS[0])
    np.testing.assert_array_equal(embedder.embed(tokens), expected)
    np.testing.assert_array_equal(embedder.embed([tokens]), expected)
    np.testing.assert_array_equal(embedder.embed(model.tokenize(TEXTS[0], add_special=True, as_array=True)), expected)


def test_tokenize_as_array(model: pyllm.Model):
    array = model.tokenize(TEXTS[0], add_special=True, as_array=True)
    assert array.dtype == np.int32 and array.ndim == 1 and not array.flags.owndata
    assert array.tolist() == model.tokenize(TEXTS[0], add_special=True)
    assert model.tokenize("", as_array=True).shape == (0,)


def test_input_longer_than_the_limit_is_refused_or_truncated(embedder: pyllm.Embedder, model: pyllm.Model):
    long_text = "the keeper climbed " * 30
    with pytest.raises(pyllm.ContextOverflowError) as e:
        embedder.submit([TEXTS[0], long_text])
    assert e.value.n_ctx == 64 and e.value.n_tokens > 64
    job = embedder.submit([long_text], truncate=True)
    vectors = job.wait(timeout=120)
    assert job.input_lengths() == [64] and job.n_tokens == 64
    head = model.tokenize(long_text, add_special=True)[:64]
    np.testing.assert_array_equal(vectors, embedder.embed([head]))


@pytest.mark.parametrize("inputs", [[], [[]], [[1, 2], []], [[10**9]], [[-1]]])
def test_bad_inputs_are_invalid_requests(embedder: pyllm.Embedder, inputs):
    with pytest.raises(pyllm.InvalidRequestError):
        embedder.submit(inputs)


def test_unknown_or_per_token_pooling_is_refused(model: pyllm.Model):
    for pooling in ("none", "max"):
        with pytest.raises(pyllm.InvalidRequestError, match="pooling"):
            pyllm.Embedder(model, pooling=pooling)


def test_cls_and_last_pooling(model: pyllm.Model, embedder: pyllm.Embedder):
    # Causal attention: the first token (BOS) sees only itself, so CLS pooling gives every
    # input the same vector, the one mean pooling gives BOS alone; LAST pooling of a
    # one-token input is that vector too.
    bos = model.tokenize("", add_special=True)
    assert len(bos) == 1
    bos_vector = embedder.embed([bos])[0]
    with pyllm.Embedder(model, pooling="cls", n_batch=64, n_threads=1) as cls:
        assert cls.pooling == "cls"
        vectors = cls.embed(TEXTS[:3])
        assert_same_vectors(vectors, np.stack([bos_vector] * 3))
    with pyllm.Embedder(model, pooling="last", n_batch=64, n_threads=1) as last:
        assert_same_vectors(last.embed([bos])[0], bos_vector)
        a, b = last.embed(TEXTS[:2])
        assert not np.allclose(a, b)


def test_cancel_ends_the_request_and_the_embedder_goes_on(embedder: pyllm.Embedder):
    job = embedder.submit(TEXTS * 64)  # 512 inputs: about 90 decodes
    job.cancel()
    result = job.task.wait(timeout=120)
    assert result.finish_reason == "cancelled"
    with pytest.raises(pyllm.PyllmError, match="cancelled"):
        job.vectors()
    assert embedder.embed(TEXTS[:1]).shape == (1, embedder.n_dims)


def test_full_queue_is_refused(model: pyllm.Model):
    with pyllm.Embedder(model, max_queued=1, n_batch=64, n_threads=1) as small:
        job = small.submit(TEXTS)  # two decodes: it is still running at the next submit
        with pytest.raises(pyllm.EngineOverloadedError):
            small.submit(TEXTS[:1])
        job.wait(timeout=300)
        assert small.embed(TEXTS[:1]).shape == (1, small.n_dims)
        stats = small.stats()
        assert stats["queued"] == 0 and stats["requests"] == 2 and stats["inputs"] == len(TEXTS) + 1
        assert stats["decode_calls"] > 1


def test_async_embed_waits_on_the_event_loop(embedder: pyllm.Embedder):
    expected = embedder.embed(TEXTS[:2])

    async def both():
        return await asyncio.gather(embedder.aembed(TEXTS[:2]), embedder.aembed(TEXTS[2:4]))

    first, second = asyncio.run(both())
    assert_same_vectors(first, expected)
    assert second.shape == (2, embedder.n_dims)


def test_cancelled_coroutine_cancels_the_request(embedder: pyllm.Embedder):
    async def abandon():
        job = embedder.submit(TEXTS * 64)
        waiting = asyncio.ensure_future(job.wait_async())
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return job

    job = asyncio.run(abandon())
    deadline = time.monotonic() + 60
    while not job.task.done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.task.result().finish_reason == "cancelled"


def test_engine_embed_delegates_to_an_embedder(engine: pyllm.Engine, embedder: pyllm.Embedder):
    vectors = engine.embed(TEXTS[:2])
    assert vectors.shape == (2, engine.model.n_embd)
    assert_same_vectors(vectors, embedder.embed(TEXTS[:2]))
    assert engine.embedder is engine.embedder


@pytest.fixture(scope="module")
def bert(tiny_models) -> pyllm.Model:
    """An encoder-only model: tiny random BERT with llama.cpp's BERT (bge) vocabulary."""
    return pyllm.Model(tiny_models["bert"])


def test_encoder_only_model_pools_as_its_gguf_says(bert: pyllm.Model):
    tokens = bert.tokenize(TEXTS[0], add_special=True)
    assert (tokens[0], tokens[-1]) == (101, 102)  # [CLS] ... [SEP], added as llama-server adds them
    with pyllm.Embedder(bert, n_threads=1) as embedder:
        assert embedder.pooling == "cls" and embedder.n_dims == bert.n_embd
        assert embedder.max_input_tokens == bert.n_ctx_train  # learned positions end there
        batch = embedder.embed(TEXTS)
        np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
        # Non-causal attention stays within each input's sequence: batching changes nothing.
        single = np.stack([embedder.embed(t)[0] for t in TEXTS])
        assert_same_vectors(batch, single)
        np.testing.assert_array_equal(embedder.embed(TEXTS[0]), embedder.embed([tokens]))
        assert not np.allclose(batch[0], batch[1])
        with pytest.raises(pyllm.ContextOverflowError):
            embedder.submit("word " * 600)
        assert embedder.submit("word " * 600, truncate=True).wait(timeout=120).shape == (1, bert.n_embd)
    with pyllm.Embedder(bert, pooling="mean", n_threads=1) as mean:
        assert mean.pooling == "mean"
        assert not np.allclose(mean.embed(TEXTS[0]), batch[0])
