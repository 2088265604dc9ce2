"""The parser benchmark: our StreamParser against llama.cpp's server path, both native.

The same real-tokenizer token stream (Qwen3 template: reasoning, then one tool call whose
arguments carry most of the length) is fed to both, one token per call. The server path is
common_chat_parse over the whole accumulated text plus compute_diffs, after every token.
``--family NAME`` (repeatable) or ``--all-families`` writes the same stream in other native
families' formats and templates (a quarter reasoning where the format has it, the rest one
tool call whose string argument carries most of the length).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyllm
from pyllm import _bench
from pyllm.runtime import llama_models_dir
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


def hermes_output(reasoning: str, story: str) -> str:
    call = json.dumps({"name": "write_file", "arguments": {"path": "story.txt", "content": story}})
    return f"<think>\n{reasoning}\n</think>\n\n<tool_call>\n{call}\n</tool_call>"


def qwen3_coder_output(reasoning: str, story: str) -> str:  # Qwen3.5: the prompt opens <think>
    return (
        f"{reasoning}\n</think>\n\n<tool_call>\n<function=write_file>\n<parameter=path>\nstory.txt\n</parameter>\n"
        f"<parameter=content>\n{story}\n</parameter>\n</function>\n</tool_call>"
    )


def glm_output(reasoning: str, story: str) -> str:  # GLM-4.7: the prompt opens <think>
    return (
        f"{reasoning}</think><tool_call>write_file<arg_key>path</arg_key><arg_value>story.txt</arg_value>"
        f"<arg_key>content</arg_key><arg_value>{story}</arg_value></tool_call>"
    )


def minimax_output(reasoning: str, story: str) -> str:  # the prompt opens <think>
    return (
        f'{reasoning}\n</think>\n\n<minimax:tool_call>\n<invoke name="write_file">\n<parameter name="path">story.txt'
        f'</parameter>\n<parameter name="content">{story}</parameter>\n</invoke>\n</minimax:tool_call>'
    )


def write_file_args(story: str) -> str:
    return json.dumps({"path": "story.txt", "content": story})


def kimi_output(reasoning: str, story: str) -> str:
    return (
        f"<think>{reasoning}</think><|tool_calls_section_begin|><|tool_call_begin|>functions.write_file:0"
        f"<|tool_call_argument_begin|>{write_file_args(story)}<|tool_call_end|><|tool_calls_section_end|>"
    )


def deepseek_output(reasoning: str, story: str) -> str:  # DeepSeek-R1: the prompt opens <think>
    return (
        f"{reasoning}\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>write_file\n"
        f"```json\n{write_file_args(story)}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"
    )


def mistral_output(reasoning: str, story: str) -> str:
    return f"[THINK]{reasoning}[/THINK][TOOL_CALLS]write_file[ARGS]{write_file_args(story)}"


def harmony_output(reasoning: str, story: str) -> str:
    return (
        f"<|channel|>analysis<|message|>{reasoning}<|end|><|start|>assistant to=functions.write_file"
        f"<|channel|>commentary <|constrain|>json<|message|>{write_file_args(story)}"
    )


def llama3_output(reasoning: str, story: str) -> str:  # no reasoning block: the text is content
    return f'{reasoning}\n{{"name": "write_file", "parameters": {write_file_args(story)}}}'


def dsml_output(reasoning: str, story: str) -> str:  # DeepSeek V4: the prompt opens <think>
    param = '<｜DSML｜parameter name="{}" string="true">{}</｜DSML｜parameter>\n'
    return (
        f'{reasoning}</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name="write_file">\n'
        f'{param.format("path", "story.txt")}{param.format("content", story)}</｜DSML｜invoke>\n</｜DSML｜tool_calls>'
    )


def gemma4_output(reasoning: str, story: str) -> str:
    return (
        f'<|channel>thought\n{reasoning}<channel|><|tool_call>call:write_file{{content:<|"|>{story}<|"|>,'
        f'path:<|"|>story.txt<|"|>}}<tool_call|>'
    )


def kimi_k3_output(reasoning: str, story: str) -> str:  # the prompt opens the think element
    arg = '<|open|>argument key="{}" type="string"<|sep|>{}<|close|>argument<|sep|>'
    return (
        f'{reasoning}<|close|>think<|sep|><|open|>response<|sep|><|close|>response<|sep|><|open|>tools<|sep|>'
        f'<|open|>call tool="write_file" index="1"<|sep|>{arg.format("path", "story.txt")}'
        f'{arg.format("content", story)}<|close|>call<|sep|><|close|>tools<|sep|><|close|>message<|sep|>'
    )


# family -> (template, vocab-only tokenizer, output writer); the tokenizers are not always the
# model's own (none ships for GLM, MiniMax or Kimi), which only changes where tokens split.
FAMILIES = {
    "hermes": (TEMPLATE, VOCAB, hermes_output),
    "qwen3-coder": ("Qwen3.5-4B.jinja", "ggml-vocab-qwen35.gguf", qwen3_coder_output),
    "glm": ("GLM-4.7-Flash.jinja", VOCAB, glm_output),
    "minimax-m2": ("MiniMax-M2.jinja", VOCAB, minimax_output),
    "kimi-k2": ("Kimi-K2-Thinking.jinja", VOCAB, kimi_output),
    "deepseek": ("llama-cpp-deepseek-r1.jinja", "ggml-vocab-deepseek-llm.gguf", deepseek_output),
    "mistral": ("mistralai-Ministral-3-14B-Reasoning-2512.jinja", "ggml-vocab-llama-bpe.gguf", mistral_output),
    "harmony": ("openai-gpt-oss-120b.jinja", "ggml-vocab-llama-bpe.gguf", harmony_output),
    "llama3": ("meta-llama-Llama-3.1-8B-Instruct.jinja", "ggml-vocab-llama-bpe.gguf", llama3_output),
    "dsml": ("deepseek-ai-DeepSeek-V4.jinja", "ggml-vocab-deepseek-llm.gguf", dsml_output),
    "gemma4": ("google-gemma-4-31B-it.jinja", "ggml-vocab-gemma-4.gguf", gemma4_output),
    "kimi-k3": ("Kimi-K3.jinja", VOCAB, kimi_k3_output),
}


def models_dir() -> Path:
    return llama_models_dir()


def make_parser(family: str = "hermes") -> StreamParser:
    template, vocab, _ = FAMILIES[family]
    models = models_dir()
    parser = StreamParser.from_template(
        (models / "templates" / template).read_text(),
        models / vocab,
        [{"role": "user", "content": "Write the story to story.txt"}],
        [TOOL],
    )
    if parser.family != family:
        raise RuntimeError(f"{template} parses as {parser.family!r}, not {family!r}")
    return parser


def token_stream(n_tokens: int, family: str = "hermes") -> list[str]:
    """About n_tokens pieces: a quarter reasoning, the rest a tool call's string argument."""
    template, vocab, write = FAMILIES[family]
    model = pyllm.Model.from_template((models_dir() / "templates" / template).read_text(), models_dir() / vocab)
    per_sentence = len(model.tokenize(SENTENCE, add_special=False, parse_special=False))
    reasoning = SENTENCE * max(1, n_tokens // 4 // per_sentence)
    story = SENTENCE * max(1, (3 * n_tokens) // 4 // per_sentence)
    tokens = model.tokenize(write(reasoning, story), add_special=False, parse_special=True)
    return [model.detokenize([t], render_special=True) for t in tokens]


def run(lengths: tuple[int, ...] = LENGTHS, repeat: int = 3, family: str = "hermes") -> list[dict[str, Any]]:
    parser = make_parser(family)
    fmt = parser.output_format
    results = []
    for n in lengths:
        pieces = token_stream(n, family)
        ours = min(_bench.time_stream_parser(fmt, pieces, False) for _ in range(repeat))
        reparse = _bench.time_server_reparse(fmt, pieces)
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
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--family", choices=sorted(FAMILIES), action="append", help="output format (default: hermes)")
    which.add_argument("--all-families", action="store_true", help="every native family in turn")
    args = ap.parse_args(argv)
    if not args.family and not args.all_families:
        results = run()
        print(json.dumps({"results": results}) if args.json else table(results))
        return 0
    # Several families: each result names its family, each table is headed by it.
    families = list(FAMILIES) if args.all_families else args.family
    by_family = {f: run(family=f) for f in families}
    if args.json:
        print(json.dumps({"results": [{"family": f, **r} for f, rs in by_family.items() for r in rs]}))
    else:
        print("\n\n".join(f"{f}\n\n{table(rs)}" for f, rs in by_family.items()))
    return 0
