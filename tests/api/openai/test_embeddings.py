"""POST /v1/embeddings on a real `pyllm serve --embeddings`, through the openai SDK and raw HTTP."""
from __future__ import annotations

import base64
import concurrent.futures

import httpx
import numpy as np
import pytest

import pyllm

from .conftest import sdk, stream_chunks

TEXTS = ["The lighthouse keeper climbed the stairs.", "A storm rolled in from the north.",
         "Gulls circled the harbour at dawn."]


@pytest.fixture(scope="session")
def embeddings_server(start_server):
    # One thread each for the engine and the embedder: they run side by side on 2 cores.
    # -b 128: inputs of up to 128 tokens.
    return start_server("-np", "2", "-c", "8192", "-t", "1", "-b", "128", "--embeddings", "--metrics")


def post(server, **body) -> httpx.Response:
    return httpx.post(server.base_url + "/v1/embeddings", json=body, timeout=120)


def vectors_of(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    assert [d["index"] for d in body["data"]] == list(range(len(body["data"])))
    assert all(d["object"] == "embedding" for d in body["data"])
    rows = [d["embedding"] for d in body["data"]]
    if isinstance(rows[0], str):
        return np.stack([np.frombuffer(base64.b64decode(r), dtype="<f4") for r in rows])
    return np.array(rows, dtype=np.float32)


def test_sdk_embeddings_create(embeddings_server, model: pyllm.Model):
    # The SDK asks for base64 and decodes it itself.
    result = sdk(embeddings_server).embeddings.create(model="anything", input=TEXTS)
    assert len(result.data) == 3
    vectors = np.array([d.embedding for d in result.data])
    assert vectors.shape == (3, model.n_embd)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    n_tokens = sum(len(model.tokenize(t, add_special=True)) for t in TEXTS)
    assert result.usage.prompt_tokens == result.usage.total_tokens == n_tokens
    single = sdk(embeddings_server).embeddings.create(model="anything", input=TEXTS[0], encoding_format="float")
    assert len(single.data) == 1 and len(single.data[0].embedding) == model.n_embd


def test_base64_decodes_to_the_float_array(embeddings_server):
    floats = vectors_of(post(embeddings_server, input=TEXTS, encoding_format="float"))
    decoded = vectors_of(post(embeddings_server, input=TEXTS, encoding_format="base64"))
    np.testing.assert_allclose(decoded, floats, rtol=1e-6, atol=1e-9)


def test_same_text_same_vector_and_every_input_shape(embeddings_server, model: pyllm.Model):
    tokens = model.tokenize(TEXTS[0], add_special=True)
    from_text = vectors_of(post(embeddings_server, input=TEXTS[0]))
    np.testing.assert_array_equal(vectors_of(post(embeddings_server, input=TEXTS[0])), from_text)
    np.testing.assert_array_equal(vectors_of(post(embeddings_server, input=tokens)), from_text)
    np.testing.assert_array_equal(vectors_of(post(embeddings_server, input=[tokens])), from_text)
    both = vectors_of(post(embeddings_server, input=[tokens, model.tokenize(TEXTS[1], add_special=True)]))
    np.testing.assert_allclose(both[0], from_text[0], atol=2e-3)


def test_dimensions_must_be_the_models(embeddings_server, model: pyllm.Model):
    assert vectors_of(post(embeddings_server, input="hi", dimensions=model.n_embd)).shape == (1, model.n_embd)
    r = post(embeddings_server, input="hi", dimensions=256)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "dimensions" and str(model.n_embd) in r.json()["error"]["message"]


@pytest.mark.parametrize("body", [
    {}, {"input": None}, {"input": 7}, {"input": []}, {"input": ""}, {"input": ["a", ""]}, {"input": [[]]},
    {"input": ["a", [1, 2]]}, {"input": [1, "a"]}, {"input": [[1, 2.5]]}, {"input": [True]},
    {"input": [10**9]}, {"input": [[-1]]}, {"input": ["a"] * 2049},
    {"input": "a", "encoding_format": "int8"}, {"input": "a", "truncate": "yes"},
])
def test_bad_inputs_are_400s(embeddings_server, body):
    r = post(embeddings_server, **body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]


def test_invalid_json_is_a_400(embeddings_server):
    r = httpx.post(embeddings_server.base_url + "/v1/embeddings", content=b"{not json", timeout=30)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_input_longer_than_the_context_is_a_400_or_truncated(embeddings_server):
    long_text = "the keeper climbed " * 60
    r = post(embeddings_server, input=["short", long_text])
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "context_length_exceeded" and "truncate" in error["message"]
    r = post(embeddings_server, input=long_text, truncate=True)
    assert r.status_code == 200 and r.json()["usage"]["prompt_tokens"] == 128


def test_embeddings_off_is_a_400_naming_the_flag(server):
    r = post(server, input="hi")
    assert r.status_code == 400
    assert "--embeddings" in r.json()["error"]["message"]


def test_metrics_count_embedded_inputs(embeddings_server):
    vectors_of(post(embeddings_server, input=TEXTS))
    text = httpx.get(embeddings_server.base_url + "/metrics").text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert float(samples["pyllm_embedding_inputs_total"]) >= 3
    assert float(samples["pyllm_embedding_tokens_total"]) > 3
    assert samples["pyllm_embedding_requests_unfinished"] == "0"


def _stream_text(server) -> tuple[str, str]:
    chunks = list(stream_chunks(server, messages=[{"role": "user", "content": "Tell me about lighthouses."}],
                                max_tokens=24, temperature=0))
    assert chunks[-1] == "[DONE]"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1] if c["choices"])
    finish = [c["choices"][0]["finish_reason"] for c in chunks[:-1] if c["choices"]][-1]
    return text, finish


def test_embedding_requests_next_to_a_chat_stream_do_not_disturb_it(embeddings_server):
    solo = _stream_text(embeddings_server)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        stream = pool.submit(_stream_text, embeddings_server)
        embeds = [pool.submit(post, embeddings_server, input=TEXTS * 4) for _ in range(4)]
        assert stream.result(timeout=300) == solo
        for e in embeds:
            assert vectors_of(e.result(timeout=300)).shape[0] == 12


def test_encoder_only_model_through_the_sdk(start_server, tiny_models):
    server = start_server("-m", str(tiny_models["bert"]), "-np", "1", "-c", "1024", "-t", "1", "--embeddings")
    result = sdk(server).embeddings.create(model="bert", input=TEXTS)
    vectors = np.array([d.embedding for d in result.data])
    assert vectors.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    bert = pyllm.Model(tiny_models["bert"], vocab_only=True)
    assert result.usage.prompt_tokens == sum(len(bert.tokenize(t, add_special=True)) for t in TEXTS)
