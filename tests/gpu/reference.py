"""Writes the greedy continuations of PROMPTS by this build on the CPU alone, as JSON: the
reference the GPU tests compare a GPU build's output with.
    python tests/gpu/reference.py OUT.json"""
from __future__ import annotations

import json
import sys

import pyllm

PROMPTS = ["The capital of France is", "def fibonacci(n):", "Water boils at"]
MAX_TOKENS = 16
NO_EOS = {1: -100.0, 106: -100.0}  # every one of MAX_TOKENS comes


def greedy(model: pyllm.Model) -> dict[str, str]:
    engine = pyllm.Engine(model, n_parallel=1, n_ctx=1024)
    try:
        return {p: engine.generate(p, max_tokens=MAX_TOKENS, temperature=0, logit_bias=NO_EOS).text for p in PROMPTS}
    finally:
        engine.close()


if __name__ == "__main__":
    cpu = pyllm.Model(pyllm.default_model_path(), devices=["none"])
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump({"build": pyllm.build_info()["backends"], "greedy": greedy(cpu)}, f, indent=2)
