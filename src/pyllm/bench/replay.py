"""Agent replay: a 5-turn conversation (long system prompt, tool results) through the engine,
once with the prompt cache (and context checkpoints for hybrid / recurrent memory) and once
without, in the same run. Per turn: prompt tokens, tokens decoded, time to first token.

    python -m pyllm.bench replay [--model PATH] [--system-tokens 6000] [--turns 5]

Answers are forced by a grammar, so both runs see the same conversation whatever the weights
(the tiny random-weight test models work: python tests/models/make_test_models.py DIR).
"""
from __future__ import annotations

import argparse
import time

import pyllm


def _conversation_turns(model: pyllm.Model, system_tokens: int, turns: int):
    rules = []
    while len(model.tokenize(" ".join(rules))) < system_tokens:
        rules.append(f"Rule {len(rules)}: files under src/module_{len(rules)} follow the house style.")
    messages = [{"role": "system", "content": "x-billing-header: cc_version=2.1; " + " ".join(rules)},
                {"role": "user", "content": "Fix the failing test in tests/test_io.py."}]
    for turn in range(turns):
        yield messages
        messages = [*messages,
                    {"role": "assistant", "content": f"I will read file number {turn}."},
                    {"role": "user", "content": f"<tool_result>contents of file {turn}: "
                                                + "def f(x):\n    return x\n" * 20 + "</tool_result>"}]


def replay(model: pyllm.Model, *, cached: bool, system_tokens: int, turns: int, n_ctx: int) -> list[dict]:
    rows = []
    with pyllm.Engine(model, n_parallel=1, n_ctx=n_ctx, cache_ram_mib=8192 if cached else 0) as engine:
        for turn, messages in enumerate(_conversation_turns(model, system_tokens, turns)):
            fmt = pyllm.chat.render_chat_format(model, messages, enable_thinking=False)
            prompt = model.tokenize(fmt.prompt, add_special=True)
            answer = f"I will read file number {turn}."
            t0 = time.perf_counter()
            task = engine.submit(prompt, grammar=f'root ::= "{answer}"', max_tokens=32, temperature=0)
            pieces = iter(task)
            next(pieces)
            ttft = time.perf_counter() - t0
            for _ in pieces:
                pass
            usage = task.result().usage
            stats = engine.stats()
            rows.append({"turn": turn + 1, "prompt": usage.prompt_tokens,
                         "decoded": usage.prompt_tokens - usage.cached_tokens, "ttft_ms": ttft * 1000,
                         "checkpoints": stats["checkpoints"], "checkpoint_bytes": stats["checkpoint_bytes"]})
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="GGUF path (default: the default model)")
    parser.add_argument("--system-tokens", type=int, default=6000)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--n-ctx", type=int, default=16384)
    args = parser.parse_args(argv)
    model = pyllm.Model(args.model or pyllm.default_model_path())
    print(f"model {model.architecture} {model.path}")
    cold = replay(model, cached=False, system_tokens=args.system_tokens, turns=args.turns, n_ctx=args.n_ctx)
    warm = replay(model, cached=True, system_tokens=args.system_tokens, turns=args.turns, n_ctx=args.n_ctx)
    print("| turn | prompt tokens | decoded (cache) | decoded (no cache) | TTFT ms (cache) | TTFT ms (no cache) "
          "| ratio | checkpoints | checkpoint MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w, c in zip(warm, cold):
        print(f"| {w['turn']} | {w['prompt']} | {w['decoded']} | {c['decoded']} | {w['ttft_ms']:.0f} "
              f"| {c['ttft_ms']:.0f} | {w['ttft_ms'] / c['ttft_ms']:.2f} | {w['checkpoints']} "
              f"| {w['checkpoint_bytes'] / 2**20:.2f} |")
    return 0
