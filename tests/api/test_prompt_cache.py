"""The prompt cache as clients see it: usage counts the prompt tokens really reused. The default
model, Gemma 3, has sliding-window layers that keep only the last 512 positions of a slot, so a
conversation whose slot left the context for host memory comes back from a context checkpoint."""
from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from .test_metrics import scrape

RULES = " ".join(f"Rule {i}: files under src/module_{i} follow the house style." for i in range(60))


@pytest.fixture(scope="module")
def cached(start_server):
    return start_server("-np", "2", "-c", "4096", "--metrics", "--log-format", "json")


def anthropic(server, system: str, messages: list[dict[str, Any]], grammar: str) -> dict[str, Any]:
    body = {"model": "any", "max_tokens": 8, "system": system, "messages": messages, "grammar": grammar}
    r = httpx.post(server.base_url + "/v1/messages", json=body, timeout=300)
    assert r.status_code == 200, r.text
    return r.json()["usage"]


def openai(server, system: str, messages: list[dict[str, Any]], grammar: str) -> dict[str, Any]:
    body = {"messages": [{"role": "system", "content": system}, *messages], "max_tokens": 8, "grammar": grammar}
    r = httpx.post(server.base_url + "/v1/chat/completions", json=body, timeout=300)
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    return {"input_tokens": usage["prompt_tokens"] - cached, "cache_read_input_tokens": cached}


@pytest.mark.parametrize("api", [anthropic, openai], ids=["anthropic", "openai"])
def test_next_turn_after_the_slot_left_the_context_reports_the_tokens_reused(cached, api):
    system = f"[{uuid.uuid4().hex}] You are a coding agent. {RULES}"
    restores = scrape(cached)["pyllm_context_checkpoint_restores_total"]
    first = [{"role": "user", "content": "List the files."}]
    turn1 = api(cached, system, first, 'root ::= "Sure."')
    assert turn1["cache_read_input_tokens"] <= 1  # BOS at most
    n_turn1 = turn1["input_tokens"] + turn1["cache_read_input_tokens"]
    api(cached, f"[{uuid.uuid4().hex}] Another conversation.", first, 'root ::= "ok"')  # the first slot leaves
    # The client sends back another answer than the one generated: the slot's saved window
    # (its last 512 positions) does not reach back to where the prompts part, the checkpoint
    # one token before the end of turn 1 does.
    turn2 = api(cached, system, [*first, {"role": "assistant", "content": "a.py and b.py."},
                                 {"role": "user", "content": "Open a.py."}], 'root ::= "ok"')
    assert turn2["cache_read_input_tokens"] == n_turn1 - 1
    assert turn2["input_tokens"] > 1
    assert scrape(cached)["pyllm_context_checkpoint_restores_total"] == restores + 1
