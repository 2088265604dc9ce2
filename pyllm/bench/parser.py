"""The parser benchmark: our StreamParser against llama.cpp's server path, both native.

The same real-tokenizer token stream (Qwen3 template: reasoning, then one tool call whose
arguments carry most of the length) is fed to both, one token per call. The server path is
common_chat_parse over the whole accumulated text plus compute_diffs, after every token.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyllm
from pyllm.parse import StreamParser

TEMPLATE = "Qwen-Qwen3-0.6B.jinja"
VOCAB = "ggml-vocab-qwen2.gguf"
LENGTHS = (1_000, 4_000, 16_000, 32_000)
TOOL = {
    "type": "function",
    "function": {
        "name": "write_file",
        "description": "Write a file",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
}
SENTENCE = "The quick brown fox jumps over the lazy dog, then considers the weather in Zürich. "


def models_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "vendor" / "llama.cpp" / "models"


def make_parser() -> StreamParser:
    models = models_dir()
    return StreamParser.from_template(
        (models / "templates" / TEMPLATE).read_text(),
        models / VOCAB,
        [{"role": "user", "content": "Write the story to story.txt"}],
        [TOOL],
    )


def token_stream(n_tokens: int) -> list[str]:
    """About n_tokens pieces: a quarter reasoning, the rest a tool call's string argument."""
    model = pyllm.Model.from_template((models_dir() / "templates" / TEMPLATE).read_text(), models_dir() / VOCAB)
    per_sentence = len(model.tokenize(SENTENCE, add_special=False, parse_special=False))
    reasoning = SENTENCE * max(1, n_tokens // 4 // per_sentence)
    story = SENTENCE * max(1, (3 * n_tokens) // 4 // per_sentence)
    text = (
        f"<think>\n{reasoning}\n</think>\n\n<tool_call>\n"
        + json.dumps({"name": "write_file", "arguments": {"path": "story.txt", "content": story}})
        + "\n</tool_call>"
    )
    tokens = model.tokenize(text, add_special=False, parse_special=True)
    return [model.detokenize([t], render_special=True) for t in tokens]


def run(lengths: tuple[int, ...] = LENGTHS, repeat: int = 3) -> list[dict[str, Any]]:
    parser = make_parser()
    fmt = parser.output_format
    results = []
    for n in lengths:
        pieces = token_stream(n)
        ours = min(fmt.time_stream_parser(pieces, False) for _ in range(repeat))
        reparse = fmt.time_server_reparse(pieces)
        results.append(
            {
                "tokens": len(pieces),
                "ours_us_per_token": ours / len(pieces) * 1e6,
                "reparse_us_per_token": reparse / len(pieces) * 1e6,
            }
        )
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| output tokens | ours, us per token | llama.cpp re-parse, us per token | speedup |", "|---|---|---|---|"]
    for r in results:
        speedup = r["reparse_us_per_token"] / r["ours_us_per_token"]
        lines.append(
            f"| {r['tokens']:,} | {r['ours_us_per_token']:.3f} | {r['reparse_us_per_token']:.1f} | {speedup:,.0f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m pyllm.bench parser")
    ap.add_argument("--json", action="store_true", help="print {'results': [...]} instead of a table")
    args = ap.parse_args(argv)
    results = run()
    print(json.dumps({"results": results}) if args.json else table(results))
    return 0
