import httpx


def test_head_root_is_200_for_claude_code_probe(server):
    assert httpx.head(server.base_url + "/").status_code == 200
    assert httpx.get(server.base_url + "/").status_code == 200


def test_health(server):
    r = httpx.get(server.base_url + "/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["slots_idle"] == 2


def test_models_lists_the_served_model(server):
    r = httpx.get(server.base_url + "/v1/models")
    assert r.status_code == 200
    data = r.json()["data"]
    assert [m["id"] for m in data] == ["gemma-3-270m-q4_k_m.gguf"]


def test_unknown_route_is_404_in_openai_shape(server):
    r = httpx.get(server.base_url + "/v1/nope")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["type"] == "not_found_error" and err["message"]
