"""pyllm's parser on the canitoolcall conformance corpus (pip install canitoolcall).

Each fixture is a model's recorded raw output with the tools it was offered and the parse a
correct engine returns. It is replayed through a StreamParser made the way pyllm makes one
for a request: the chat template llama.cpp ships for the fixture's model (or the closest
one, see TEMPLATES), the fixture's thinking switch and tools, rendered by llama.cpp. The
text reaches the parser as the engine would deliver it:

- token ids: the fixture's own ``output_token_ids`` through a vocab llama.cpp ships for that
  tokenizer, when they decode to exactly ``raw_output``;
- otherwise ``raw_output`` cut at the format's markers (kept whole, as special tokens are)
  and the text between them tokenized with the closest shipped vocab.

Non-streamed, the parse is the events of the whole output fed in one piece, keeping only
the calls the parser ended (a call cut off by max_tokens is not a call to run); streamed,
everything the client received, per chunking strategy.

``python -m pyllm.bench conformance`` prints pass / soft / fail per family for the native
parser and for llama.cpp's parser driven the way pyllm's reference fallback drives it.
"""
from __future__ import annotations

import argparse
import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyllm
from pyllm.runtime import llama_models_dir
from pyllm.parse import StreamEvent, StreamParser


# fixture model (models[0]) -> template in llama.cpp's models/templates. Where llama.cpp has
# none named after the model, the closest: the same family's template that renders the
# same output format and generation prompt.
TEMPLATES: Mapping[str, str] = {
    "Qwen/Qwen3-0.6B": "Qwen-Qwen3-0.6B.jinja",
    "Qwen/Qwen3-4B-Instruct-2507": "Qwen-Qwen3-0.6B.jinja",
    "Qwen/Qwen3-4B-Thinking-2507": "Qwen-Qwen3-0.6B.jinja",  # + the prompt's open <think>, GENERATION_PROMPTS
    "Qwen/Qwen3-Coder-30B-A3B-Instruct": "Qwen3-Coder.jinja",
    "Qwen/Qwen3-Coder-480B-A35B-Instruct": "Qwen3-Coder.jinja",
    "Qwen/Qwen3-Coder-Next": "Qwen3-Coder.jinja",
    "Qwen/Qwen3.5-9B": "Qwen3.5-4B.jinja",
    "Qwen/Qwen3.6-35B-A3B": "Qwen3.5-4B.jinja",
    "Qwen/Qwen3.8-27B": "Qwen3.5-4B.jinja",
    "openai/gpt-oss-20b": "openai-gpt-oss-120b.jinja",
    "openai/gpt-oss-120b": "openai-gpt-oss-120b.jinja",
    "deepseek-ai/DeepSeek-V3-0324": "llama-cpp-deepseek-r1.jinja",
    "deepseek-ai/DeepSeek-V3.1": "deepseek-ai-DeepSeek-V3.1.jinja",
    "deepseek-ai/DeepSeek-V3.2": "deepseek-ai-DeepSeek-V3.2.jinja",
    "deepseek-ai/DeepSeek-V4-Flash": "deepseek-ai-DeepSeek-V4.jinja",
    "deepseek-ai/DeepSeek-V4.1-Flash": "deepseek-ai-DeepSeek-V4-Flash-0731.jinja",
    "moonshotai/Kimi-K2-Instruct-0905": "Kimi-K2-Instruct.jinja",
    "moonshotai/Kimi-K2.6": "Kimi-K2-Thinking.jinja",
    "moonshotai/Kimi-K3": "Kimi-K3.jinja",
    "zai-org/GLM-4.5": "GLM-4.6.jinja",
    "zai-org/GLM-4.7": "GLM-4.7-Flash.jinja",
    "zai-org/GLM-5.3": "GLM-4.7-Flash.jinja",
    "meta-llama/Llama-3.3-70B-Instruct": "meta-llama-Llama-3.3-70B-Instruct.jinja",
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": "meta-llama-Llama-3.3-70B-Instruct.jinja",
    "mistralai/Devstral-Small-2507": "unsloth-mistral-Devstral-Small-2507.jinja",
    "mistralai/Magistral-Small-2506": "mistralai-Ministral-3-14B-Reasoning-2512.jinja",
    "mistralai/Magistral-Small-2509": "mistralai-Ministral-3-14B-Reasoning-2512.jinja",
    "mistralai/Ministral-3-14B-Reasoning-2512": "mistralai-Ministral-3-14B-Reasoning-2512.jinja",
    "mistralai/Ministral-3-14B-Instruct-2512": "unsloth-mistral-Devstral-Small-2507.jinja",
    "mistralai/Mistral-Small-3.2-24B-Instruct-2506": "Mistral-Small-3.2-24B-Instruct-2506.jinja",
    "mistralai/Mistral-7B-Instruct-v0.3": "mistralai-Mistral-Nemo-Instruct-2407.jinja",
    "google/gemma-4-31B-it": "google-gemma-4-31B-it.jinja",
}

# fixture tokenizer repo -> the vocab llama.cpp ships for it (ids are used when they decode
# to the raw output), else the closest one to tokenize the text between markers with.
VOCABS: Mapping[str, str] = {
    "Qwen/Qwen3-0.6B": "ggml-vocab-qwen2.gguf",
    "Qwen/Qwen3-4B-Instruct-2507": "ggml-vocab-qwen2.gguf",
    "Qwen/Qwen3-4B-Thinking-2507": "ggml-vocab-qwen2.gguf",
    "Qwen/Qwen3-Coder-30B-A3B-Instruct": "ggml-vocab-qwen2.gguf",
    "Qwen/Qwen3-Coder-480B-A35B-Instruct": "ggml-vocab-qwen2.gguf",
    "Qwen/Qwen3-Coder-Next": "ggml-vocab-qwen35.gguf",
    "Qwen/Qwen3.5-9B": "ggml-vocab-qwen35.gguf",
    "Qwen/Qwen3.6-35B-A3B": "ggml-vocab-qwen35.gguf",
    "Qwen/Qwen3.8-27B": "ggml-vocab-qwen35.gguf",
    "unsloth/Llama-3.3-70B-Instruct": "ggml-vocab-llama-bpe.gguf",
    "unsloth/Llama-4-Scout-17B-16E-Instruct": "ggml-vocab-llama-bpe.gguf",
    "google/gemma-4-31B-it": "ggml-vocab-gemma-4.gguf",
    "deepseek-ai/DeepSeek-V3-0324": "ggml-vocab-deepseek-llm.gguf",
    "deepseek-ai/DeepSeek-V3.1": "ggml-vocab-deepseek-llm.gguf",
    "deepseek-ai/DeepSeek-V3.2": "ggml-vocab-deepseek-llm.gguf",
    "deepseek-ai/DeepSeek-V4-Flash": "ggml-vocab-deepseek-llm.gguf",
    "deepseek-ai/DeepSeek-V4.1-Flash": "ggml-vocab-deepseek-llm.gguf",
}
CLOSEST_VOCAB = "ggml-vocab-qwen2.gguf"  # byte-level BPE: tokenizes any text

# Models whose real template's generation prompt differs from the closest shipped one's:
# the fixture's generation prompt is appended the way the real template writes it.
# (text in the shipped template, what the model's own template writes instead)
GENERATION_PROMPTS: Mapping[str, tuple[str, str]] = {
    # Qwen3-4B-Thinking-2507's template is Qwen3's with the answer opened inside <think>.
    "Qwen/Qwen3-4B-Thinking-2507": ("'<|im_start|>assistant\\n'", "'<|im_start|>assistant\\n<think>\\n'"),
    # Kimi-K2.6 opens <think> in the prompt, or writes an empty block with thinking off.
    "moonshotai/Kimi-K2.6": (
        "<|im_assistant|>assistant<|im_middle|>\n{%- endif -%}",
        "<|im_assistant|>assistant<|im_middle|>{{- '<think></think>' if enable_thinking is defined and "
        "not enable_thinking else '<think>' -}}\n{%- endif -%}",
    ),
    # DeepSeek-V3-0324 writes the R1 call format without opening <think>.
    "deepseek-ai/DeepSeek-V3-0324": ("'<｜Assistant｜><think>\\n'", "'<｜Assistant｜>'"),
}

PROMPT_MESSAGES = ({"role": "user", "content": "canitoolcall replay"},)


def models_dir() -> Path:
    return llama_models_dir()


@functools.lru_cache(maxsize=None)
def template_model(model: str, vocab: str) -> pyllm.Model:
    models = models_dir()
    source = (models / "templates" / TEMPLATES[model]).read_text()
    if model in GENERATION_PROMPTS:
        old, new = GENERATION_PROMPTS[model]
        assert old in source, f"{TEMPLATES[model]} no longer writes {old}"
        source = source.replace(old, new)
    return pyllm.Model.from_template(source, models / vocab)


@dataclass(frozen=True)
class Replay:
    """One fixture made ready to feed: the request's parser inputs and the output as units
    (each one or more tokens that together are whole UTF-8), markers flagged."""

    output_format: Any  # pyllm._core.RenderedChat
    units: tuple[str, ...]
    special: frozenset[int]
    from_token_ids: bool
    template: str
    vocab: str

    def parser(self, force_reference: bool = False) -> StreamParser:
        return StreamParser.from_output_format(self.output_format, force_reference=force_reference)

    @property
    def text(self) -> str:
        return "".join(self.units)


def _merge_utf8(model: pyllm.Model, ids: Iterable[int]) -> list[str]:
    """Per-token text; a token ending inside a UTF-8 character joins the next (the engine
    holds such bytes back until the character is whole)."""
    pieces: list[str] = []
    pending: list[int] = []
    for t in ids:
        pending.append(t)
        piece = model.detokenize(pending, render_special=True)
        if "\ufffd" in piece:
            continue
        pieces.append(piece)
        pending = []
    if pending:
        pieces.append(model.detokenize(pending, render_special=True))
    return pieces


def _split_at_markers(text: str, markers: Sequence[str]) -> list[tuple[str, bool]]:
    """`text` as runs of plain text and whole markers (longest marker first at a position)."""
    ordered = sorted({m for m in markers if m}, key=len, reverse=True)
    out: list[tuple[str, bool]] = []
    i = start = 0
    while i < len(text):
        hit = next((m for m in ordered if text.startswith(m, i)), None)
        if hit is None:
            i += 1
            continue
        if start < i:
            out.append((text[start:i], False))
        out.append((hit, True))
        i += len(hit)
        start = i
    if start < len(text):
        out.append((text[start:], False))
    return out


def prepare(fixture: Any, family: Any) -> Replay:
    """The fixture's request rendered as pyllm renders one, and its output as units."""
    model_name = fixture.models[0]
    if model_name not in TEMPLATES:
        raise KeyError(f"no template mapped for {model_name}")
    tokenizer = fixture.tokenizer.repo if fixture.tokenizer is not None else model_name
    vocab = VOCABS.get(tokenizer, CLOSEST_VOCAB)
    model = template_model(model_name, vocab)
    kwargs = {} if fixture.thinking is None else {"thinking": fixture.thinking}
    output_format = StreamParser.render(
        model, PROMPT_MESSAGES, list(fixture.tools) or None, enable_thinking=fixture.thinking, template_kwargs=kwargs
    )
    markers = set(family.markers if family is not None else ())
    markers |= set(output_format.preserved_tokens)
    ids = fixture.output_token_ids
    if ids is not None and tokenizer in VOCABS and all(0 <= t < model.n_vocab for t in ids):
        units = _merge_utf8(model, ids)
        if "".join(units) == fixture.raw_output:
            special = frozenset(i for i, u in enumerate(units) if u in markers)
            return Replay(output_format, tuple(units), special, True, TEMPLATES[model_name], vocab)
    units = []
    special = set()
    for run, is_marker in _split_at_markers(fixture.raw_output, sorted(markers)):
        if is_marker:
            special.add(len(units))
            units.append(run)
        else:
            units += _merge_utf8(model, model.tokenize(run, add_special=False, parse_special=False))
    assert "".join(units) == fixture.raw_output
    return Replay(output_format, tuple(units), frozenset(special), False, TEMPLATES[model_name], vocab)


def to_result(events: Iterable[StreamEvent], ended_calls_only: bool) -> Any:
    """The parse a client assembles from `events` (canitoolcall's OpenAI-style accumulator).
    `ended_calls_only`: a non-streamed response, which holds only calls the parser ended."""
    from canitoolcall.results import StreamAccumulator

    events = list(events)
    ended = {e.index for e in events if e.kind == "tool_call_end"}
    acc = StreamAccumulator()
    kept: dict[int, int] = {}
    for e in events:
        if e.kind == "reasoning":
            acc.add_reasoning(e.text)
        elif e.kind == "content":
            acc.add_content(e.text)
        elif e.kind in ("tool_call_start", "tool_args"):
            if ended_calls_only and e.index not in ended:
                continue
            index = kept.setdefault(e.index, len(kept))
            acc.add_tool_call(index, e.name if e.kind == "tool_call_start" else None,
                              e.text if e.kind == "tool_args" else None)
            if e.kind == "tool_call_start":
                acc.add_tool_call(index, None, "")
    return acc.result()


def run_parser(replay: Replay, groups: Iterable[str], force_reference: bool = False) -> list[StreamEvent]:
    parser = replay.parser(force_reference)
    events: list[StreamEvent] = []
    for text in groups:
        events += parser.feed(text)
    return events + parser.finish()


def stream_groups(replay: Replay, strategy: Any) -> list[str]:
    from canitoolcall.chunking import split

    indices = list(range(len(replay.units)))
    return ["".join(replay.units[i] for i in g) for g in split(indices, strategy, special=replay.special)]


def nonstream(replay: Replay, force_reference: bool = False) -> Any:
    return to_result(run_parser(replay, [replay.text], force_reference), ended_calls_only=True)


def stream(replay: Replay, strategy: Any, force_reference: bool = False, ended_calls_only: bool = False) -> Any:
    events = run_parser(replay, stream_groups(replay, strategy), force_reference)
    return to_result(events, ended_calls_only=ended_calls_only)


def observe(fixture: Any, family: Any, strategies: Sequence[Any], force_reference: bool = False,
            ended_calls_only: bool = False) -> Any:
    """Every parse of the fixture. `ended_calls_only`: streams as a client that drops the
    calls the parser never ended (what a stream cut off inside a call leaves to run)."""
    from canitoolcall.results import Observation

    replay = prepare(fixture, family)
    return Observation(
        nonstream=nonstream(replay, force_reference),
        streams={s.id: stream(replay, s, force_reference, ended_calls_only) for s in strategies},
    )


def case_status(fixture: Any, family: Any, obs: Any) -> Any:
    from canitoolcall import checks

    return checks.case_status(checks.run_checks(fixture, family, obs))


def family_table(strategies: Sequence[Any], families: Sequence[str] | None = None) -> dict[str, dict[str, Counter]]:
    """driver ("native" / "reference") -> family -> Counter of case statuses."""
    from canitoolcall.fixtures import load_fixtures
    from canitoolcall.pytest_plugin import family_for

    table: dict[str, dict[str, Counter]] = {"native": {}, "reference": {}}
    for fixture in load_fixtures(families=families or None):
        family = family_for(fixture)
        for driver in table:
            obs = observe(fixture, family, strategies, force_reference=driver == "reference")
            status = case_status(fixture, family, obs)
            table[driver].setdefault(fixture.family, Counter())[status.value] += 1
    return table


def main(argv: list[str]) -> int:
    from canitoolcall.chunking import parse_strategies

    ap = argparse.ArgumentParser(prog="python -m pyllm.bench conformance", description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", action="append", default=[], help="only this family (repeatable)")
    ap.add_argument("--strategy", action="append", default=[],
                    help="chunking strategies (canitoolcall ids; default: its default set)")
    args = ap.parse_args(argv)
    strategies = parse_strategies(args.strategy)
    table = family_table(strategies, args.family)
    families = sorted({f for per in table.values() for f in per})
    print(f"strategies: {' '.join(s.id for s in strategies)}")
    print("| family | native pass / soft / fail | reference pass / soft / fail |")
    print("|---|---|---|")
    totals = {d: Counter() for d in table}
    for f in families:
        cells = []
        for d in table:
            c = table[d].get(f, Counter())
            totals[d] += c
            cells.append(f"{c['pass']} / {c['soft_pass']} / {c['fail'] + c['error']}")
        print(f"| {f} | {cells[0]} | {cells[1]} |")
    cells = [f"{totals[d]['pass']} / {totals[d]['soft_pass']} / {totals[d]['fail'] + totals[d]['error']}" for d in table]
    print(f"| all ({sum(totals['native'].values())}) | {cells[0]} | {cells[1]} |")
    return 0
