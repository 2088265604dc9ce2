"""--api-key: every route but /health (and the bare root) needs a key, in either header;
refusals are 401 in the shape of the API the route belongs to."""
from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

KEY_FLAG, KEY_FILE = "key-from-flag", "key-from-file"
CHAT = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
MESSAGES = {"model": "any", "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]}

# Every route the server has (with --metrics), with a body it accepts, plus an unknown path
# of each family: a missing key must not even reveal which paths exist.
OPENAI_ROUTES = [
    ("POST", "/v1/chat/completions", CHAT), ("POST", "/chat/completions", CHAT),
    ("POST", "/v1/completions", {"prompt": "Hi", "max_tokens": 2}), ("POST", "/completions", {"prompt": "Hi", "max_tokens": 2}),
    ("GET", "/v1/models", None), ("GET", "/models", None), ("GET", "/props", None), ("GET", "/metrics", None),
    ("POST", "/tokenize", {"content": "Hi"}), ("POST", "/detokenize", {"tokens": [1]}),
    ("POST", "/apply-template", CHAT), ("GET", "/v1/nope", None),
    ("POST", "/v1/responses", {"model": "any", "input": "Hi", "max_output_tokens": 2}),
]
ANTHROPIC_ROUTES = [
    ("POST", "/v1/messages", MESSAGES), ("POST", "/v1/messages?beta=true", MESSAGES),
    ("POST", "/v1/messages/count_tokens", {k: v for k, v in MESSAGES.items() if k != "max_tokens"}),
    ("GET", "/v1/messages/batches", None),
]
ROUTES = [pytest.param(*r, id=f"{r[0]} {r[1]}") for r in OPENAI_ROUTES + ANTHROPIC_ROUTES]


@pytest.fixture(scope="module")
def keyed(start_server, tmp_path_factory):
    key_file = tmp_path_factory.mktemp("keys") / "keys.txt"
    key_file.write_text(f"# one key per line\n\n{KEY_FILE}\n")
    return start_server("-np", "1", "-c", "2048", "--metrics", "--api-key", KEY_FLAG, "--api-key-file", str(key_file))


def call(server, method: str, path: str, body, headers: dict[str, str]) -> httpx.Response:
    return httpx.request(method, server.base_url + path, json=body, headers=headers, timeout=120)


def assert_401(r: httpx.Response, path: str) -> None:
    assert r.status_code == 401, r.text
    body = r.json()
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and body["error"]["type"] == "authentication_error", body
        assert body["error"]["message"]
    else:
        assert body["error"]["type"] == "authentication_error" and body["error"]["code"] == "invalid_api_key", body
        assert body["error"]["message"]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_missing_key_is_401_in_the_routes_shape(keyed, method, path, body):
    r = call(keyed, method, path, body, {})
    assert_401(r, path)
    assert "Authorization: Bearer" in r.text  # says how to send it


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_wrong_key_is_401_in_the_routes_shape(keyed, method, path, body, header):
    value = "Bearer nope" if header == "authorization" else "nope"
    assert_401(call(keyed, method, path, body, {header: value}), path)


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_right_key_in_either_header_is_served(keyed, method, path, body, header):
    for key in (KEY_FLAG, KEY_FILE):
        value = f"Bearer {key}" if header == "authorization" else key
        r = call(keyed, method, path, body, {header: value})
        expected = 404 if path.endswith(("/nope", "/batches")) else 200
        assert r.status_code == expected, r.text


def test_a_key_prefix_or_extension_is_not_a_key(keyed):
    for wrong in (KEY_FLAG[:-1], KEY_FLAG + "x", KEY_FLAG.upper(), ""):
        assert_401(call(keyed, "GET", "/v1/models", None, {"x-api-key": wrong}), "/v1/models")


def test_health_and_root_stay_open(keyed):
    assert httpx.get(keyed.base_url + "/health").status_code == 200
    assert httpx.head(keyed.base_url + "/").status_code == 200


def test_official_sdks_with_and_without_the_key(keyed):
    good = openai.OpenAI(base_url=keyed.base_url + "/v1", api_key=KEY_FLAG, max_retries=0)
    r = good.chat.completions.create(model="any", messages=CHAT["messages"], max_tokens=2)
    assert r.choices[0].finish_reason in ("length", "stop")
    bad = openai.OpenAI(base_url=keyed.base_url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()

    good_a = anthropic.Anthropic(base_url=keyed.base_url, api_key=KEY_FILE, max_retries=0)  # sends x-api-key
    m = good_a.messages.create(**MESSAGES)
    assert m.stop_reason in ("max_tokens", "end_turn")
    token_a = anthropic.Anthropic(base_url=keyed.base_url, auth_token=KEY_FLAG, max_retries=0)  # sends Bearer
    assert token_a.messages.count_tokens(model="any", messages=MESSAGES["messages"]).input_tokens > 0
    bad_a = anthropic.Anthropic(base_url=keyed.base_url, api_key="nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        bad_a.messages.create(**MESSAGES)
    assert e.value.body["error"]["type"] == "authentication_error"
