"""The engine on the architectures people run, through tiny random-weight models of them
(tests/models/make_test_models.py): Qwen3.5 (hybrid recurrent + attention), Qwen3 (dense GQA)
and Gemma 4 MoE (sliding window + experts). Random weights produce noise, so grammars force
the outputs that need a shape; GBNF token references (``<think>``) force the single special
tokens the released models emit."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import pyllm

ARCHS = ["qwen35", "qwen3", "gemma4-moe"]
N_CTX_SLOT = 1024


@pytest.fixture(scope="module", params=ARCHS)
def arch_engine(request: pytest.FixtureRequest, tiny_models: dict[str, Path]):
    model = pyllm.Model(tiny_models[request.param])
    with pyllm.Engine(model, n_parallel=4, n_ctx=4 * N_CTX_SLOT, n_batch=256) as engine:
        yield engine


@pytest.fixture(scope="module")
def qwen35_engine(tiny_models: dict[str, Path]):
    with pyllm.Engine(pyllm.Model(tiny_models["qwen35"]), n_parallel=2, n_ctx=2 * 2048) as engine:
        yield engine


def user_turn(engine: pyllm.Engine, text: str) -> str:
    return pyllm.chat.render_chat_format(engine.model, [{"role": "user", "content": text}]).prompt


def test_forced_output_streams_token_by_token_and_equals_the_whole(arch_engine: pyllm.Engine):
    prompt = user_turn(arch_engine, "Say hello.")
    grammar = 'root ::= "Hello there, how are you today?"'
    whole = arch_engine.generate(prompt, grammar=grammar, max_tokens=32, temperature=0)
    assert whole.text == "Hello there, how are you today?"
    pieces = list(arch_engine.submit(prompt, grammar=grammar, max_tokens=32, temperature=0))
    assert len(pieces) > 3 and "".join(pieces) == whole.text


def test_eight_tasks_on_four_slots_equal_their_serial_outputs(arch_engine: pyllm.Engine):
    if arch_engine.model.architecture == "gemma4":
        pytest.xfail("the MoE model's greedy outputs change with the batch they are decoded in "
                     "(seen on CPU; dense and hybrid models do not)")
    prompts = [user_turn(arch_engine, f"Question number {i}: " + "word " * (5 * i)) for i in range(8)]
    params = dict(max_tokens=12, temperature=0, ignore_eos=True)
    serial = [arch_engine.generate(p, **params).text for p in prompts]

    async def together():
        return await asyncio.gather(*(arch_engine.agenerate(p, **params) for p in prompts))

    assert [c.text for c in asyncio.run(together())] == serial


def test_cancelled_task_frees_its_slot(arch_engine: pyllm.Engine):
    task = arch_engine.submit(user_turn(arch_engine, "Go on forever."), max_tokens=None, ignore_eos=True,
                              temperature=0)
    pieces = iter(task)
    next(pieces)
    task.cancel()
    for _ in pieces:
        pass
    assert task.result().finish_reason == "cancelled"
    assert arch_engine.generate(user_turn(arch_engine, "Next."), max_tokens=2, temperature=0).result.usage.completion_tokens >= 1


def test_prompt_longer_than_a_slot_is_refused(arch_engine: pyllm.Engine):
    with pytest.raises(pyllm.ContextOverflowError):
        arch_engine.generate(list(range(100, 100 + N_CTX_SLOT + 10)), max_tokens=4)


@pytest.mark.parametrize("name", ["qwen35", "qwen3"])
def test_think_and_tool_call_markers_are_sampled_as_single_tokens(tiny_models: dict[str, Path], name: str):
    model = pyllm.Model(tiny_models[name])
    ids = {t: model.tokenize(t)[0] for t in ("<think>", "</think>", "<tool_call>", "</tool_call>")}
    with pyllm.Engine(model, n_parallel=1, n_ctx=1024) as engine:
        grammar = 'root ::= <think> "a" </think> "b" <tool_call> "c" </tool_call>'
        task = engine.submit(user_turn(engine, "Hi"), grammar=grammar, max_tokens=16, temperature=0, n_probs=1)
        text = "".join(task)
    assert text == "<think>a</think>b<tool_call>c</tool_call>"
    sampled = [p["token"] for p in task.logprobs()]
    assert [t for t in sampled if t in ids.values()] == list(ids.values())


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def collect(events) -> dict:
    out = {"reasoning": "", "content": "", "calls": [], "types": []}
    for e in events:
        out["types"].append(e["type"])
        if e["type"] in ("reasoning", "content"):
            out[e["type"]] += e["text"]
        elif e["type"] == "tool_call_start":
            out["calls"].append({"name": e["name"], "arguments": ""})
        elif e["type"] == "tool_args":
            out["calls"][e["index"]]["arguments"] += e["text"]
        elif e["type"] == "finish":
            out["finish"] = e
    return out


def test_qwen35_forced_tool_call_is_parsed_from_its_single_tokens(qwen35_engine: pyllm.Engine):
    # tool_choice="required": the template's tool-call grammar forces the call, opened by the
    # single <tool_call> token; random weights pick the argument's text.
    out = collect(qwen35_engine.chat([{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER],
                                     tool_choice="required", enable_thinking=False, max_tokens=80,
                                     temperature=0))
    # (The noise inside the city's value may run to max_tokens: the arguments are not checked.)
    assert [c["name"] for c in out["calls"]] == ["get_weather"]
    assert out["content"].strip() == ""


def test_qwen35_reasoning_budget_really_ends_the_thinking(qwen35_engine: pyllm.Engine):
    out = collect(qwen35_engine.chat([{"role": "user", "content": "Think."}], reasoning_budget_tokens=6,
                                     max_tokens=40, temperature=0, ignore_eos=True))
    assert out["reasoning"], "the thinking started"
    assert out["content"], "the budget forced </think> and the answer followed"
    assert len(qwen35_engine.model.tokenize(out["reasoning"])) <= 6 + 16  # the budget and its closing message
