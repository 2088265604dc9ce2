"""max_tokens is a cap, not a reservation: a prompt that fits the slot is served whatever
max_tokens says (Claude Code asks for 32000-128000), generation ends where the slot's
context does, and only a prompt that does not fit is "prompt is too long: N tokens > M
maximum" with N the prompt's own tokens (the text Claude Code compacts on)."""
import anthropic
import httpx
import openai
import pytest

ENDLESS = 'root ::= "a" [a-z ]+'  # never ends by itself: only the context can end it
N_CTX = 512


@pytest.fixture(scope="module")
def small(start_server):
    return start_server("-np", "1", "-c", str(N_CTX))


def _anthropic(server):
    return anthropic.Anthropic(base_url=server.base_url, api_key="local", max_retries=0)


def test_generation_runs_to_the_end_of_the_context_with_model_context_window_exceeded(small):
    # Streamed, as Claude Code asks (the SDK refuses a 32000-token request without streaming).
    with _anthropic(small).messages.stream(
            model="m", max_tokens=32000, messages=[{"role": "user", "content": "Write."}],
            extra_body={"grammar": ENDLESS, "temperature": 0}) as stream:
        m = stream.get_final_message()
    assert m.stop_reason == "model_context_window_exceeded"
    assert m.usage.input_tokens + m.usage.cache_read_input_tokens + m.usage.output_tokens == N_CTX


def test_openai_reports_the_end_of_the_context_as_length(small):
    client = openai.OpenAI(base_url=small.base_url + "/v1", api_key="local", max_retries=0)
    r = client.chat.completions.create(model="m", max_tokens=32000, temperature=0,
                                       messages=[{"role": "user", "content": "Write."}],
                                       extra_body={"grammar": ENDLESS})
    assert r.choices[0].finish_reason == "length"
    assert r.usage.total_tokens == N_CTX


def test_prompt_that_does_not_fit_names_its_own_token_count(small):
    body = {"model": "m", "max_tokens": 32000, "messages": [{"role": "user", "content": "word " * 700}]}
    n_prompt = httpx.post(small.base_url + "/v1/messages/count_tokens", json=body).json()["input_tokens"]
    assert n_prompt > N_CTX
    r = httpx.post(small.base_url + "/v1/messages", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == f"prompt is too long: {n_prompt} tokens > {N_CTX} maximum"
