"""The parser benchmark for the other native families (``python -m pyllm.bench parser-families``).

Same measure as ``python -m pyllm.bench parser``: one real-tokenizer token per call, a quarter
of the output reasoning (where the format has it) and the rest one tool call whose string
argument carries most of the length, against llama.cpp's server path (common_chat_parse over
the whole text plus compute_diffs after every token).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyllm
from pyllm.bench.parser import SENTENCE, TOOL, models_dir, table
from pyllm.parse import StreamParser

LENGTHS = (1_000, 4_000, 16_000)

# family -> (template, vocab, output(reasoning, arguments JSON))
FAMILIES: dict[str, tuple[str, str, Callable[[str, str], str]]] = {
    "deepseek": (
        "llama-cpp-deepseek-r1.jinja",
        "ggml-vocab-deepseek-llm.gguf",
        lambda r, a: f"{r}\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>write_file\n"
        f"```json\n{a}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    ),
    "mistral": (
        "mistralai-Ministral-3-14B-Reasoning-2512.jinja",
        "ggml-vocab-llama-bpe.gguf",
        lambda r, a: f"[THINK]{r}[/THINK][TOOL_CALLS]write_file[ARGS]{a}",
    ),
    "harmony": (
        "openai-gpt-oss-120b.jinja",
        "ggml-vocab-llama-bpe.gguf",
        lambda r, a: f"<|channel|>analysis<|message|>{r}<|end|><|start|>assistant to=functions.write_file"
        f"<|channel|>commentary <|constrain|>json<|message|>{a}",
    ),
    "llama3": (
        "meta-llama-Llama-3.1-8B-Instruct.jinja",
        "ggml-vocab-llama-bpe.gguf",
        lambda r, a: f'{r}\n{{"name": "write_file", "parameters": {a}}}',
    ),
}


def make_parser(family: str) -> StreamParser:
    template, vocab, _ = FAMILIES[family]
    parser = StreamParser.from_template(
        (models_dir() / "templates" / template).read_text(),
        models_dir() / vocab,
        [{"role": "user", "content": "Write the story to story.txt"}],
        [TOOL],
    )
    assert parser.family == family, parser.family
    return parser


def token_stream(family: str, n_tokens: int) -> list[str]:
    template, vocab, output = FAMILIES[family]
    model = pyllm.Model.from_template((models_dir() / "templates" / template).read_text(), models_dir() / vocab)
    per_sentence = len(model.tokenize(SENTENCE, add_special=False, parse_special=False))
    reasoning = SENTENCE * max(1, n_tokens // 4 // per_sentence)
    story = SENTENCE * max(1, (3 * n_tokens) // 4 // per_sentence)
    text = output(reasoning, json.dumps({"path": "story.txt", "content": story}))
    tokens = model.tokenize(text, add_special=False, parse_special=True)
    return [model.detokenize([t], render_special=True) for t in tokens]


def run(family: str, lengths: tuple[int, ...] = LENGTHS, repeat: int = 3) -> list[dict[str, Any]]:
    fmt = make_parser(family).output_format
    results = []
    for n in lengths:
        pieces = token_stream(family, n)
        ours = min(fmt.time_stream_parser(pieces, False) for _ in range(repeat))
        reparse = fmt.time_server_reparse(pieces)
        results.append(
            {
                "family": family,
                "tokens": len(pieces),
                "ours_us_per_token": ours / len(pieces) * 1e6,
                "reparse_us_per_token": reparse / len(pieces) * 1e6,
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m pyllm.bench parser-families")
    ap.add_argument("--family", choices=sorted(FAMILIES), action="append", help="default: all")
    ap.add_argument("--json", action="store_true", help="print {'results': [...]} instead of tables")
    args = ap.parse_args(argv)
    results = {f: run(f) for f in args.family or FAMILIES}
    if args.json:
        print(json.dumps({"results": [r for rs in results.values() for r in rs]}))
    else:
        print("\n\n".join(f"{family}\n\n{table(rs)}" for family, rs in results.items()))
    return 0
