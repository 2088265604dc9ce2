"""The response store: previous_response_id continues a stored conversation (and the prompt
cache makes it cheap), GET / DELETE / input_items, and unknown or unstored ids answer 404."""
from __future__ import annotations

def _turn(server, text, previous=None, **extra):
    body = {"model": "m", "input": text, "max_output_tokens": 8, "temperature": 0, **extra}
    if previous:
        body["previous_response_id"] = previous
    return server.create(body)


def test_previous_response_id_continues_the_conversation_from_the_cache(gemma):
    first = _turn(gemma, "My name is Ada. Remember it and reply with one word.")
    second = _turn(gemma, "What is my name?", first["id"])
    third = _turn(gemma, "Say it again.", second["id"])
    assert second["previous_response_id"] == first["id"]
    # The continuation's prompt starts with the whole earlier turn: its tokens come from the cache.
    assert second["usage"]["input_tokens"] > first["usage"]["input_tokens"]
    assert second["usage"]["input_tokens_details"]["cached_tokens"] >= first["usage"]["input_tokens"] - 1
    assert third["usage"]["input_tokens_details"]["cached_tokens"] >= second["usage"]["input_tokens"] - 1


def test_streamed_responses_are_stored_too(gemma):
    streamed = gemma.stream({"model": "m", "input": "Hi", "max_output_tokens": 4, "temperature": 0})
    got = gemma.http.get(f"/v1/responses/{streamed['id']}")
    assert got.status_code == 200 and got.json() == streamed
    assert _turn(gemma, "Again", streamed["id"])["status"] in ("completed", "incomplete")


def test_get_returns_the_stored_response_and_sdk_retrieves_it(gemma):
    r = _turn(gemma, "Hi")
    assert gemma.http.get(f"/v1/responses/{r['id']}").json() == r
    assert gemma.sdk.responses.retrieve(r["id"]).id == r["id"]


def test_input_items_lists_this_requests_input(gemma):
    r = gemma.create({"model": "m", "max_output_tokens": 4, "temperature": 0, "input": [
        {"type": "message", "role": "user", "content": "one"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "two"}]}]})
    listing = gemma.http.get(f"/v1/responses/{r['id']}/input_items", params={"order": "asc"}).json()
    assert listing["object"] == "list" and listing["has_more"] is False
    assert [i["content"][0]["text"] for i in listing["data"]] == ["one", "two"]
    assert all(i["id"].startswith("msg_") for i in listing["data"])
    page = gemma.http.get(f"/v1/responses/{r['id']}/input_items", params={"limit": 1}).json()
    assert page["has_more"] is True and page["data"][0]["content"][0]["text"] == "two"
    assert [i.id for i in gemma.sdk.responses.input_items.list(r["id"])] == [i["id"] for i in listing["data"][::-1]]


def test_delete_removes_the_response(gemma):
    r = _turn(gemma, "Hi")
    deleted = gemma.http.delete(f"/v1/responses/{r['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"id": r["id"], "object": "response", "deleted": True}
    assert gemma.http.get(f"/v1/responses/{r['id']}").status_code == 404
    assert gemma.http.delete(f"/v1/responses/{r['id']}").status_code == 404


def test_unknown_previous_response_id_is_a_404_never_a_fresh_start(gemma):
    r = gemma.post({"model": "m", "input": "Hi", "previous_response_id": "resp_nope"})
    assert r.status_code == 404
    assert r.json()["error"] == {"message": "Previous response with id 'resp_nope' not found.",
                                 "type": "invalid_request_error", "param": "previous_response_id",
                                 "code": "previous_response_not_found"}


def test_store_false_keeps_nothing(gemma):
    r = _turn(gemma, "Hi", store=False)
    assert r["store"] is False
    assert gemma.http.get(f"/v1/responses/{r['id']}").status_code == 404
    assert gemma.post({"model": "m", "input": "x", "previous_response_id": r["id"]}).status_code == 404


def test_the_oldest_responses_are_evicted_and_then_cannot_be_continued(small_store):
    ids = [_turn(small_store, f"Hi {n}")["id"] for n in range(3)]
    assert small_store.http.get(f"/v1/responses/{ids[0]}").status_code == 404
    assert small_store.http.get(f"/v1/responses/{ids[2]}").status_code == 200
    r = small_store.post({"model": "m", "input": "x", "previous_response_id": ids[0]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "previous_response_not_found"
