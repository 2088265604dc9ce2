"""Side by side: ``pyllm serve`` against llama-server, same GGUF, context, threads and slots.

llama-server is built from the same vendor/llama.cpp source by ``bash
bench/build_llama_tools.sh`` (opt-in, not part of the install); without it the harness runs
pyllm alone and says so. Both servers run for the whole benchmark; every scenario
alternates between them (A B, then B A, ...) so that load from other processes on the
machine hits both, and reports medians. Everything is measured on the client side by one
httpx client streaming over loopback, with greedy sampling and a fixed ``max_tokens`` on
prompts that do not stop early (the generated counts of both servers are checked).

Scenarios: time to first token (short and long prompts, p50/p95); single-stream decode
tokens/s; aggregate tokens/s with concurrent streams; a prompt-cache hit (a second request
sharing a long prefix) against the cold request; an agent-session replay (turns of a
growing conversation under a long system prompt whose first block, like Claude Code's
``x-anthropic-billing-header``, changes every turn), total wall time. Streaming goes through
the OpenAI and the Anthropic endpoint.

``--gpu`` runs the same scenarios with every layer offloaded when both pyllm and
llama-server are CUDA (or other GPU) builds; otherwise it says why and exits.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.util
import json
import os
import platform
import random
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import pyllm
from pyllm.bench.http import (REPO, Server, Stream, add_llama_server_argument, llama_server_or_none, pyllm_serve_command,
                              quantile, running, stream_anthropic, stream_openai)

PYLLM, LLAMA = "pyllm", "llama-server"
BILLING_HEADER = "x-anthropic-billing-header: cc_version=2.0.14.{}; cc_entrypoint=cli; cch={};"
TEMPLATE_SHOWN = "<pyllm's chat template>"  # written to a temporary file for llama-server
DOCS_BEGIN, DOCS_END = "<!-- serve-bench:begin -->", "<!-- serve-bench:end -->"

_WORDS = ("keeper lamp storm tide harbour ship signal fog beam rock gull wave logbook lens oil "
          "north south wind rain night dawn coast bell rope cliff anchor current reef mast chart").split()


@dataclass
class Settings:
    repeats: int = 5              # samples per server for each scenario
    short_samples: int = 20       # samples per server for the short-prompt TTFT
    tokens: int = 256             # generated tokens, single-stream decode
    stream_tokens: int = 256      # generated tokens per concurrent stream
    long_prompt: int = 4096       # tokens of the long-prompt TTFT and the prompt-cache prefix
    streams: tuple[int, ...] = (4, 8)
    agent_system: int = 6144      # tokens of the agent session's system prompt
    agent_turns: int = 5
    agent_tokens: int = 64        # generated per agent turn
    agent_step: int = 384         # tokens of "tool output" the user adds per turn
    agent_repeats: int = 3
    agent_openai: bool = True     # also replay the session through the OpenAI endpoint

    @classmethod
    def quick(cls) -> Settings:
        return cls(repeats=1, short_samples=2, tokens=16, stream_tokens=16, long_prompt=256, streams=(2,),
                   agent_system=256, agent_turns=2, agent_tokens=8, agent_step=32, agent_repeats=1, agent_openai=False)

    def n_ctx_slot(self) -> int:
        agent = self.agent_system + self.agent_turns * (self.agent_step + 2 * self.agent_tokens + 128)
        need = max(self.long_prompt + self.tokens, agent) + 512
        return -(-need // 1024) * 1024


@dataclass
class Row:
    """One line of the table: a value per server; ``ratio`` is pyllm / llama-server."""

    scenario: str
    unit: str
    values: dict[str, float]
    target: str = ""
    check: Callable[[Row], bool | None] | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.values.get(LLAMA) and PYLLM in self.values:
            return self.values[PYLLM] / self.values[LLAMA]
        return None

    def met(self) -> str:
        if self.check is None:
            return ""
        ok = self.check(self)
        return "" if ok is None else ("yes" if ok else "**no**")


def ratio_at_least(limit: float) -> Callable[[Row], bool | None]:
    return lambda row: None if row.ratio is None else row.ratio >= limit


def ratio_at_most(limit: float) -> Callable[[Row], bool | None]:
    return lambda row: None if row.ratio is None else row.ratio <= limit


# -- prompts ---------------------------------------------------------------------------------

class Texts:
    """Deterministic filler text cut to a token count with the model's own tokenizer."""

    def __init__(self, model_path: Path) -> None:
        self.vocab = pyllm.Model(model_path, vocab_only=True)

    def filler(self, n_tokens: int, seed: int) -> str:
        rng = random.Random(seed)
        entries, text = [], ""
        while len(self.vocab.tokenize(text, add_special=False)) < n_tokens:
            for _ in range(16):
                words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 16)))
                entries.append(f"Entry {len(entries) + 1}: at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} the {words}.")
            text = "\n".join(entries)
        tokens = self.vocab.tokenize(text, add_special=False)[:n_tokens]
        return self.vocab.detokenize(tokens)


def unique(tag: str) -> str:
    """A first line that no earlier request shares, so a measurement never starts from a cache hit."""
    return f"[{tag} {uuid.uuid4().hex[:12]}]\n"


STORY = "Write a long story about a lighthouse keeper."
# Every request ends with this assistant prefill, which both servers continue: asked plainly,
# the default model soon writes ChatML's "<|im_end|>" (a stop for pyllm's ChatML fallback)
# and would not reach max_tokens.
PREFILL = {"role": "assistant", "content": "Chapter 1\n\nThe keeper"}


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}, PREFILL]


def short_messages(tag: str) -> list[dict[str, Any]]:
    return ask(unique(tag) + STORY)


# -- scenarios -------------------------------------------------------------------------------

Targets = list[Server]


class Bench:
    def __init__(self, targets: Targets, settings: Settings, texts: Texts) -> None:
        self.targets = targets
        self.s = settings
        self.texts = texts
        self.client: httpx.AsyncClient
        self.generated: dict[str, list[tuple[str, int | None]]] = {t.name: [] for t in targets}
        self.cpu: dict[str, dict[str, list[float]]] = {}  # scenario -> server -> CPU seconds per run
        self.log = lambda msg: print(msg, file=sys.stderr, flush=True)

    async def alternate(self, label: str, repeats: int,
                        once: Callable[[str, str, int], Awaitable[Any]]) -> dict[str, list[Any]]:
        """``once(name, url, i)`` for every server, ``repeats`` times, the order flipping each round;
        the server's CPU time per call is kept under ``label``."""
        out: dict[str, list[Any]] = {t.name: [] for t in self.targets}
        cpu = self.cpu.setdefault(label, {t.name: [] for t in self.targets})
        for i in range(repeats):
            for server in (self.targets if i % 2 == 0 else self.targets[::-1]):
                before = server.cpu_seconds()
                out[server.name].append(await once(server.name, server.base_url, i))
                cpu[server.name].append(server.cpu_seconds() - before)
        return out

    def counted(self, scenario: str, name: str, stream: Stream) -> Stream:
        self.generated[name].append((scenario, stream.completion_tokens))
        return stream

    async def openai(self, scenario: str, name: str, url: str, messages: list[dict[str, Any]], n: int) -> Stream:
        return self.counted(scenario, name, await stream_openai(self.client, url, messages, n))

    async def anthropic(self, scenario: str, name: str, url: str, system: Any, messages: list[dict[str, Any]],
                        n: int) -> Stream:
        return self.counted(scenario, name, await stream_anthropic(self.client, url, system, messages, n))

    def ttft_rows(self, label: str, ttfts: dict[str, list[float]]) -> list[Row]:
        ms = {name: [t * 1000 for t in v] for name, v in ttfts.items()}
        return [
            Row(f"TTFT, {label}, p50", "ms", {n: statistics.median(v) for n, v in ms.items()}, "ratio <= 1.0",
                ratio_at_most(1.0), ms),
            Row(f"TTFT, {label}, p95", "ms", {n: quantile(v, 0.95) for n, v in ms.items()}, "ratio <= 1.0",
                ratio_at_most(1.0)),
        ]

    async def ttft_short(self) -> list[Row]:
        rows = []
        for endpoint in ("OpenAI", "Anthropic"):
            async def once(name: str, url: str, i: int, endpoint: str = endpoint) -> float:
                if endpoint == "OpenAI":
                    s = await self.openai("ttft-short", name, url, short_messages("ttft"), 4)
                else:
                    s = await self.anthropic("ttft-short", name, url, "You are a storyteller.",
                                             short_messages("ttft"), 4)
                return s.ttft

            label = f"short prompt ({endpoint})"
            rows += self.ttft_rows(label, await self.alternate(f"TTFT, {label}", self.s.short_samples, once))
        return rows

    async def ttft_long(self) -> list[Row]:
        body = self.texts.filler(self.s.long_prompt, seed=1)

        async def once(name: str, url: str, i: int) -> float:
            messages = ask(unique("long") + body + "\n\nWrite a story about the entry that mentions fog first.")
            return (await self.openai("ttft-long", name, url, messages, 4)).ttft

        label = f"{self.s.long_prompt}-token prompt (OpenAI)"
        return self.ttft_rows(label, await self.alternate(f"TTFT, {label}", self.s.repeats, once))

    async def decode(self) -> list[Row]:
        rows = []
        for endpoint in ("OpenAI", "Anthropic"):
            async def once(name: str, url: str, i: int, endpoint: str = endpoint) -> float:
                if endpoint == "OpenAI":
                    s = await self.openai("decode", name, url, short_messages("decode"), self.s.tokens)
                else:
                    s = await self.anthropic("decode", name, url, "You are a storyteller.", short_messages("decode"),
                                             self.s.tokens)
                return s.decode_tps

            label = f"decode, 1 stream, {self.s.tokens} tokens ({endpoint})"
            tps = await self.alternate(label, self.s.repeats, once)
            rows.append(Row(label, "tok/s",
                            {n: statistics.median(v) for n, v in tps.items()}, "ratio >= 1.0", ratio_at_least(1.0),
                            tps))
        return rows

    async def concurrent(self) -> list[Row]:
        rows = []
        for n_streams in self.s.streams:
            async def once(name: str, url: str, i: int, n_streams: int = n_streams) -> float:
                streams = await asyncio.gather(*(
                    self.openai(f"aggregate-{n_streams}", name, url, short_messages(f"agg{k}"), self.s.stream_tokens)
                    for k in range(n_streams)))
                total = sum(s.completion_tokens or len(s.stamps) for s in streams)
                return total / (max(s.end for s in streams) - min(s.sent for s in streams))

            label = f"aggregate, {n_streams} streams x {self.s.stream_tokens} tokens (OpenAI)"
            tps = await self.alternate(label, self.s.repeats, once)
            rows.append(Row(label, "tok/s",
                            {n: statistics.median(v) for n, v in tps.items()}, "ratio >= 1.0", ratio_at_least(1.0),
                            tps))
        return rows

    async def prompt_cache(self) -> list[Row]:
        body = self.texts.filler(self.s.long_prompt, seed=2)

        async def once(name: str, url: str, i: int) -> tuple[float, float]:
            prefix = unique("cache") + body
            cold = await self.openai("cache", name, url, ask(prefix + "\n\nWrite a story about the first entry."), 4)
            hit = await self.openai("cache", name, url, ask(prefix + "\n\nWrite a story about the last entry."), 4)
            return cold.ttft, hit.ttft

        label = f"{self.s.long_prompt}-token shared prefix (OpenAI)"
        pairs = await self.alternate(f"prompt cache, {label}: cold + hit", self.s.repeats, once)
        cold = {n: [c * 1000 for c, _ in v] for n, v in pairs.items()}
        hit = {n: [h * 1000 for _, h in v] for n, v in pairs.items()}
        hit_over_cold = {n: statistics.median(hit[n]) / statistics.median(cold[n]) for n in pairs}
        return [
            Row(f"prompt cache, {label}: cold TTFT p50", "ms", {n: statistics.median(v) for n, v in cold.items()},
                samples=cold),
            Row(f"prompt cache, {label}: hit TTFT p50", "ms", {n: statistics.median(v) for n, v in hit.items()},
                "ratio <= 1.0", ratio_at_most(1.0), hit),
            Row("prompt cache: hit TTFT / cold TTFT", "x", hit_over_cold, "pyllm <= 0.2",
                lambda row: row.values[PYLLM] <= 0.2),
        ]

    @staticmethod
    def agent_conversation(system_body: str, step_texts: list[str], turn: int) -> list[dict[str, Any]]:
        """The conversation at ``turn``: the task, then (scripted reply, tool output) pairs; the prefill."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": "Fix the failing test in the lighthouse log parser."}]
        for k in range(turn):
            messages.append({"role": "assistant", "content": f"Step {k + 1}: I will read the next part of the log "
                                                              f"and check the entries that mention the storm."})
            messages.append({"role": "user", "content": f"Output of step {k + 1}:\n{step_texts[k]}"})
        return [*messages, PREFILL]

    async def agent(self) -> list[Row]:
        steps = [self.texts.filler(self.s.agent_step, seed=100 + k) for k in range(self.s.agent_turns)]
        system_text = self.texts.filler(self.s.agent_system, seed=3)
        endpoints = ["Anthropic"] + (["OpenAI"] if self.s.agent_openai else [])
        rows = []
        for endpoint in endpoints:
            async def once(name: str, url: str, i: int, endpoint: str = endpoint) -> float:
                # The system prompt is new for every session (no help from an earlier replay);
                # within a session only the billing header changes between turns.
                system_body = unique("session") + system_text
                session = uuid.uuid4().hex[:8]
                wall = 0.0
                for turn in range(self.s.agent_turns):
                    header = BILLING_HEADER.format(session, uuid.uuid4().hex[:5])
                    messages = self.agent_conversation(system_body, steps, turn)
                    if endpoint == "Anthropic":
                        system = [{"type": "text", "text": header}, {"type": "text", "text": system_body}]
                        s = await self.anthropic("agent", name, url, system, messages, self.s.agent_tokens)
                    else:
                        system_msg = {"role": "system", "content": header + "\n" + system_body}
                        s = await self.openai("agent", name, url, [system_msg, *messages], self.s.agent_tokens)
                    wall += s.wall
                return wall

            label = (f"agent replay, {self.s.agent_turns} turns, {self.s.agent_system}-token system prompt, "
                     f"billing header ({endpoint})")
            walls = await self.alternate(label, self.s.agent_repeats, once)
            target, check = ("ratio <= 0.8", ratio_at_most(0.8)) if endpoint == "Anthropic" else ("", None)
            rows.append(Row(label, "s", {n: statistics.median(v) for n, v in walls.items()}, target, check, walls))
        return rows

    async def run(self) -> list[Row]:
        # A new connection per request: a kept-alive one can be closed by the server's idle
        # timeout (uvicorn: 5 s) just as the next request goes out, while the other server runs.
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(900, connect=10),
                                        limits=httpx.Limits(max_keepalive_connections=0))
        rows: list[Row] = []
        for scenario in (self.ttft_short, self.ttft_long, self.decode, self.concurrent, self.prompt_cache, self.agent):
            self.log(f"-- {scenario.__name__}")
            new = await scenario()
            for row in new:
                self.log(f"   {row.scenario}: " + ", ".join(f"{n} {v:.4g}" for n, v in row.values.items()))
            rows += new
        await self.client.aclose()
        return rows


# -- servers and checks ----------------------------------------------------------------------

def gpu_problem(llama_server: Path | None) -> str | None:
    """Why a GPU run cannot happen here, or None."""
    backends = [b for b in pyllm.build_info()["backends"] if b != "CPU"]
    if not backends:
        return "pyllm is a CPU-only build (build it with: pip install . -C cmake.define.GGML_CUDA=ON)"
    if llama_server is not None:
        out = subprocess.run([str(llama_server), "--list-devices"], capture_output=True, text=True).stdout
        if "(none)" in out or not out.strip():
            return ("llama-server has no GPU device (rebuild it with "
                    "EXTRA_CMAKE_ARGS=-DGGML_CUDA=ON bash bench/build_llama_tools.sh)")
    return None


def server_commands(model: Path, llama_server: Path | None, template: Path, threads: int, n_parallel: int,
                    n_ctx: int, gpu: bool) -> dict[str, list[str]]:
    """``template``: the chat template pyllm uses (the GGUF's own, or pyllm's ChatML fallback for a
    GGUF without one), handed to llama-server so that both render the same prompts."""
    common = ["-m", str(model), "-c", str(n_ctx), "-np", str(n_parallel), "-t", str(threads), "-b", "512"]
    commands = {PYLLM: pyllm_serve_command(*common, "-ngl", "-1" if gpu else "0")}
    if llama_server is not None:
        # -ub, -tb and -kvu make llama-server's batch, prompt threads and KV layout pyllm's;
        # -ngl 0 keeps a GPU build of llama-server on the CPU in CPU mode.
        llama = [str(llama_server), *common, "-ub", "512", "-tb", str(threads), "-kvu",
                 "-ngl", "all" if gpu else "0", "--no-webui", "--jinja", "--chat-template-file", str(template)]
        commands[LLAMA] = llama
    return commands


def check_same_prompts(targets: Targets) -> None:
    """Both servers must render the same conversation to the same prompt text."""
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
                {"role": "assistant", "content": "A"}, *ask("V")]
    prompts = {t.name: httpx.post(t.base_url + "/apply-template", json={"messages": messages}, timeout=30)
               .json()["prompt"] for t in targets}
    if len(set(prompts.values())) > 1:
        raise SystemExit(f"the servers render different prompts, the comparison would be unfair: {prompts}")


def warm_up(targets: Targets) -> dict[str, str]:
    """One greedy request per server (first-request costs out of the way); the texts compared.
    llama-server streams the prefill back with the first token; pyllm streams only new text."""
    async def go() -> dict[str, str]:
        async with httpx.AsyncClient(timeout=300) as client:
            texts = {t.name: (await stream_openai(client, t.base_url, ask(STORY), 32)).text for t in targets}
        return {name: text.removeprefix(PREFILL["content"]) for name, text in texts.items()}
    return asyncio.run(go())


def machine() -> str:
    cpu = platform.processor()
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)  # type: ignore[union-attr]
        mem_kb = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        cpu += f", {mem_kb / 2**20:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


# -- output ----------------------------------------------------------------------------------

def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def table(rows: list[Row]) -> str:
    lines = ["| scenario | unit | pyllm | llama-server | pyllm / llama-server | target | met |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = None if r.unit == "x" else r.ratio
        lines.append(f"| {r.scenario} | {r.unit} | {fmt(r.values.get(PYLLM), r.unit)} | "
                     f"{fmt(r.values.get(LLAMA), r.unit)} | {fmt(ratio, 'x') if ratio else 'n/a'} | {r.target} | {r.met()} |")
    return "\n".join(lines)


def cpu_table(cpu: dict[str, dict[str, list[float]]]) -> str:
    lines = ["| scenario | pyllm CPU s per run | llama-server CPU s per run | pyllm / llama-server |", "|---|---|---|---|"]
    for label, per_server in cpu.items():
        med = {name: statistics.median(v) for name, v in per_server.items() if v}
        ratio = med[PYLLM] / med[LLAMA] if med.get(LLAMA) and PYLLM in med else None
        lines.append(f"| {label} | {fmt(med.get(PYLLM))} | {fmt(med.get(LLAMA))} | {fmt(ratio, 'x') if ratio else 'n/a'} |")
    return "\n".join(lines)


def chart(rows: list[Row], path: Path, title: str) -> None:
    import matplotlib  # noqa: PLC0415 - only this output needs it (pip install 'pyllm[bench]')

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    panels = [("tokens/s (higher is better)", [r for r in rows if r.unit == "tok/s"], False),
              ("time to first token, ms (lower is better, log scale)", [r for r in rows if r.unit == "ms"], True),
              ("agent replay wall time, s (lower is better)", [r for r in rows if r.unit == "s"], False)]
    panels = [p for p in panels if p[1]]
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 4 * len(panels) + 1))
    for ax, (label, selected, log) in zip(list(axes) if len(panels) > 1 else [axes], panels):
        names = [textwrap.fill(r.scenario, 22) for r in selected]
        xs = range(len(selected))
        for k, server in enumerate((PYLLM, LLAMA)):
            values = [r.values.get(server, 0.0) for r in selected]
            if any(values):
                ax.bar([x + (k - 0.5) * 0.38 for x in xs], values, width=0.38, label=server)
        ax.set_xticks(list(xs), names, fontsize=7)
        ax.set_title(label, fontsize=10)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(rows: list[Row], cpu: dict[str, dict[str, list[float]]], info: dict[str, Any], chart_path: Path | None) -> str:
    lines = [f"Command: `{info['command']}`  ",
             f"Date: {info['date']}  ",
             f"Machine: {info['machine']}; load average (1/5/15 min) at start {info['load_start']}, "
             f"at end {info['load_end']}  ",
             f"Model: `{info['model']}`; mode: {info['mode']}  ",
             "", table(rows), ""]
    if chart_path is not None:
        lines += [f"![serve benchmark]({chart_path.name})", ""]
    lines += ["CPU time the server process used per run (user + system, medians; a run is one request, "
              "or one set of concurrent streams, or one cold + hit pair, or one agent session). It includes "
              "ggml's threads spinning while they wait, and moves much less than wall time when other "
              "processes share the cores:", "", cpu_table(cpu), ""]
    lines += ["Servers as started:", ""]
    lines += [f"- {name}: `{shlex.join(cmd)}`" for name, cmd in info["commands"].items()]
    lines += ["", info["generated_note"], info["greedy_note"]]
    return "\n".join(lines)


def replace_block(path: Path, block: str) -> None:
    text = path.read_text()
    start, end = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if start < 0 or end < start:
        raise SystemExit(f"{path} has no {DOCS_BEGIN} ... {DOCS_END} block")
    path.write_text(text[:start + len(DOCS_BEGIN)] + "\n" + block + "\n" + text[end:])


def generated_note(generated: dict[str, list[tuple[str, int | None]]], settings: Settings) -> str:
    counts = {name: [n for _, n in v] for name, v in generated.items()}
    if len(counts) == 2 and counts[PYLLM] != counts[LLAMA]:
        diff = [(a, b) for a, b in zip(counts[PYLLM], counts[LLAMA]) if a != b]
        return f"Generated token counts differ between the servers in {len(diff)} requests: {diff[:5]}"
    expected = {settings.tokens, settings.stream_tokens, 4, settings.agent_tokens}
    short = [(s, n) for v in generated.values() for s, n in v if n not in expected]
    if short:
        return f"Requests that stopped before max_tokens: {short[:5]}"
    return (f"Generated tokens: every request of both servers ran to its max_tokens "
            f"({sum(len(v) for v in counts.values())} requests checked).")


# -- main ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", type=Path, default=None, help="GGUF (default: the packaged model)")
    parser.add_argument("-t", "--threads", type=int, default=os.cpu_count() or 1)
    add_llama_server_argument(parser)
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke run of every scenario")
    parser.add_argument("--repeats", type=int, help="samples per server and scenario")
    parser.add_argument("--short-samples", type=int, help="samples per server of the short-prompt TTFT")
    parser.add_argument("--tokens", type=int, help="generated tokens of the single-stream decode")
    parser.add_argument("--stream-tokens", type=int, help="generated tokens per concurrent stream")
    parser.add_argument("--agent-repeats", type=int, help="agent sessions replayed per server and endpoint")
    parser.add_argument("--agent-openai", action=argparse.BooleanOptionalAction, default=None,
                        help="also replay the agent session through the OpenAI endpoint")
    parser.add_argument("--llama-server-args", default="",
                        help="extra llama-server flags, e.g. '--swa-full' (shown in the report)")
    parser.add_argument("--gpu", action="store_true", help="offload all layers (needs GPU builds of both)")
    parser.add_argument("--json", type=Path, help="write every sample as JSON here")
    parser.add_argument("--chart", type=Path, help="write the PNG chart here (matplotlib)")
    parser.add_argument("--write-docs", action="store_true",
                        help="put the report into bench/RESULTS.md and README.md and the chart into bench/")
    args = parser.parse_args(argv)

    settings = Settings.quick() if args.quick else Settings()
    for name in ("repeats", "short_samples", "tokens", "stream_tokens", "agent_repeats", "agent_openai"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    model = (args.model or pyllm.default_model_path()).resolve()
    llama_server = llama_server_or_none(args.llama_server)
    if args.gpu and (problem := gpu_problem(llama_server)):
        print(f"GPU mode skipped: {problem}", file=sys.stderr)
        return 0

    chart_path = args.chart or (REPO / "bench" / "serve_bench.png" if args.write_docs else None)
    if chart_path is not None and importlib.util.find_spec("matplotlib") is None:
        # Found out before the run, not after half an hour of it.
        print("the chart needs matplotlib: pip install 'pyllm[bench]'", file=sys.stderr)
        return 2

    texts = Texts(model)
    n_parallel = max(settings.streams)
    n_ctx = n_parallel * settings.n_ctx_slot()
    load_start = load_average()
    with tempfile.TemporaryDirectory(prefix="pyllm-bench-") as tmp:
        template = Path(tmp) / "chat_template.jinja"
        template.write_text(texts.vocab.chat_template)
        commands = server_commands(model, llama_server, template, args.threads, n_parallel, n_ctx, args.gpu)
        if LLAMA in commands:
            commands[LLAMA] += shlex.split(args.llama_server_args)
        with running(commands) as targets:
            check_same_prompts(targets)
            first = warm_up(targets)
            rows = asyncio.run((bench := Bench(targets, settings, texts)).run())
        shown = {name: [TEMPLATE_SHOWN if arg == str(template) else arg for arg in cmd] for name, cmd in commands.items()}
    greedy = ("Greedy outputs of the two servers for the warm-up request: identical." if len(set(first.values())) == 1
              else "Greedy outputs of the two servers for the warm-up request differ (numerics): "
              + "; ".join(f"{n}: {t[:60]!r}" for n, t in first.items()))
    if len(first) < 2:
        greedy = ""
    info = {
        "command": shlex.join(["python", "-m", "pyllm.bench", "serve", *(argv if argv is not None else sys.argv[1:])]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "load_start": load_start, "load_end": load_average(),
        "model": model.name, "mode": "GPU, all layers offloaded" if args.gpu else f"CPU, {args.threads} threads",
        "commands": shown, "generated_note": generated_note(bench.generated, settings), "greedy_note": greedy,
    }
    if chart_path is not None:
        chart(rows, chart_path, f"pyllm vs llama-server, {model.name}, {info['mode']} ({info['date']})")
    text = report(rows, bench.cpu, info, chart_path)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({
            "info": info, "settings": settings.__dict__, "generated": bench.generated, "cpu": bench.cpu,
            "rows": [{"scenario": r.scenario, "unit": r.unit, "values": r.values, "ratio": r.ratio,
                      "target": r.target, "met": r.met(), "samples": r.samples} for r in rows],
        }, indent=2))
    if args.write_docs:
        replace_block(REPO / "bench" / "RESULTS.md", text)
        replace_block(REPO / "README.md", table(rows) + f"\n\n({info['date']}, {info['mode']}; details and "
                      "commands: [bench/RESULTS.md](bench/RESULTS.md))")
    return 0
