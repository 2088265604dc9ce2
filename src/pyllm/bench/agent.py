"""Agent replay side by side: ``python -m pyllm.bench serve``'s agent session alone, through the
Anthropic endpoint of pyllm, of pyllm with ``--swa-full`` (a sliding-window model's whole
context kept in its window layers, no checkpoints: pyllm before sliding-window checkpoints) and
of llama-server built from the same source (its defaults: context checkpoints on, a small
window cache), in one run.

    python -m pyllm.bench agent [-m MODEL] [--sessions 2] [-np 4]

A session is a 6k-token system prompt behind a billing header that changes every turn (both
servers ignore it), then turns of a scripted reply and ~400 tokens of tool output, each
answered with 64 greedy tokens; every session has a new system prompt, so its first turn is
cold, and the slot of the session before is idle beside it. Per turn: prompt tokens, the
prompt tokens each server decoded (``usage.input_tokens``: the part not read from its prompt
cache) and wall time (median over sessions; the order of the servers alternates). Per
server: the KV cache llama.cpp allocated (from pyllm's log; llama-server does not log it) and
the process's resident memory after start and after the sessions.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

import pyllm
from pyllm.bench.http import TOOLS, Server, free_port, stream_anthropic
from pyllm.bench.serve import (BILLING_HEADER, LLAMA, PYLLM, TEMPLATE_SHOWN, Bench, Settings, Texts, check_same_prompts,
                               load_average, machine, server_commands)

PYLLM_SWA_FULL = "pyllm --swa-full"
_KV_SIZE = re.compile(r"llama_kv_cache: size = +([\d.]+) MiB")


def kv_cache_mib(log: str) -> float:
    """The KV caches' sizes as llama.cpp logs them when a context is made (a sliding-window
    model has two: the full-attention layers' and the window layers')."""
    return sum(float(m) for m in _KV_SIZE.findall(log))


async def session(server: Server, settings: Settings, system_text: str, steps: list[str]) -> list[dict[str, float]]:
    system_body = f"[session {uuid.uuid4().hex[:12]}]\n" + system_text
    tag = uuid.uuid4().hex[:8]
    turns = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(900, connect=10),
                                 limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for turn in range(settings.agent_turns):
            system = [{"type": "text", "text": BILLING_HEADER.format(tag, uuid.uuid4().hex[:5])},
                      {"type": "text", "text": system_body}]
            messages = Bench.agent_conversation(system_body, steps, turn)
            s = await stream_anthropic(client, server.base_url, system, messages, settings.agent_tokens)
            decoded = s.prompt_tokens or 0
            turns.append({"prompt": decoded + (s.cached_tokens or 0), "decoded": decoded, "wall": s.wall,
                          "generated": s.completion_tokens or 0})
    return turns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench agent", description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", type=Path, default=None, help="GGUF (default: the packaged model)")
    parser.add_argument("-t", "--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("-np", "--parallel", type=int, default=4, help="slots of every server")
    parser.add_argument("--sessions", type=int, default=2, help="sessions per server")
    parser.add_argument("--llama-server", type=Path, default=TOOLS / "llama-server")
    args = parser.parse_args(argv)

    settings = Settings()
    model = (args.model or pyllm.default_model_path()).resolve()
    texts = Texts(model)
    steps = [texts.filler(settings.agent_step, seed=100 + k) for k in range(settings.agent_turns)]
    system_text = texts.filler(settings.agent_system, seed=3)
    n_ctx = args.parallel * settings.n_ctx_slot()
    llama_server = args.llama_server if args.llama_server.exists() else None
    if llama_server is None:
        print(f"{args.llama_server} not found: pyllm only (bash bench/build_llama_tools.sh builds it)", file=sys.stderr)
    load_start = load_average()
    with tempfile.TemporaryDirectory(prefix="pyllm-bench-") as tmp:
        template = Path(tmp) / "chat_template.jinja"
        template.write_text(texts.vocab.chat_template)
        commands = server_commands(model, llama_server, template, args.threads, args.parallel, n_ctx, gpu=False)
        commands = {PYLLM: commands[PYLLM], PYLLM_SWA_FULL: [*commands[PYLLM], "--swa-full"],
                    **({LLAMA: commands[LLAMA]} if LLAMA in commands else {})}
        results: dict[str, list[list[dict[str, float]]]] = {name: [] for name in commands}
        memory: dict[str, dict[str, float]] = {}
        with contextlib.ExitStack() as stack:
            # pyllm logs llama.cpp's KV cache sizes at info level (llama-server always does).
            servers = []
            for name, cmd in commands.items():
                port = free_port()
                servers.append(stack.enter_context(
                    Server(name, [*cmd, "--port", str(port)], port, env={"PYLLM_LOG_LEVEL": "info"})))
            check_same_prompts(servers)
            for server in servers:
                memory[server.name] = {"kv": kv_cache_mib(server.output()), "rss_start": server.rss_mib()}
            # All servers run throughout, each session going to one after the other (the order
            # alternating), so that load from elsewhere hits all of them.
            for k in range(args.sessions):
                for server in (servers if k % 2 == 0 else servers[::-1]):
                    print(f"-- {server.name}, session {k + 1}", file=sys.stderr, flush=True)
                    results[server.name].append(asyncio.run(session(server, settings, system_text, steps)))
            for server in servers:
                memory[server.name]["rss_end"] = server.rss_mib()
        shown = {name: [TEMPLATE_SHOWN if arg == str(template) else arg for arg in cmd] for name, cmd in commands.items()}
    print(report(results, memory, shown, args, argv, model, load_start, settings))
    return 0


def report(results: dict[str, list[list[dict[str, float]]]], memory: dict[str, dict[str, float]],
           commands: dict[str, list[str]], args: argparse.Namespace, argv: list[str] | None, model: Path,
           load_start: str, settings: Settings) -> str:
    names = list(results)
    lines = [f"Command: `{shlex.join(['python', '-m', 'pyllm.bench', 'agent', *(argv if argv is not None else sys.argv[1:])])}`  ",
             f"Machine: {machine()}; load average at start {load_start}, at end {load_average()}  ",
             f"Model: `{model.name}`; {args.parallel} slots of {settings.n_ctx_slot()} tokens; "
             f"{args.sessions} sessions per server", "",
             "| turn | " + " | ".join(f"decoded of prompt tokens, {n}" for n in names) + " | "
             + " | ".join(f"wall s, {n}" for n in names) + " |",
             "|---:|" + "---:|" * (2 * len(names))]
    for t in range(len(results[names[0]][0])):
        cells = []
        for n in names:
            decoded = sorted({int(s[t]["decoded"]) for s in results[n]})  # one value when the sessions agree
            cells.append(", ".join(map(str, decoded)) + f" of {int(results[n][0][t]['prompt'])}")
        walls = [statistics.median(s[t]["wall"] for s in results[n]) for n in names]
        lines.append(f"| {t + 1} | " + " | ".join(cells) + " | " + " | ".join(f"{w:.2f}" for w in walls) + " |")
    totals = [statistics.median(sum(turn["wall"] for turn in s) for s in results[n]) for n in names]
    lines.append("| all | " + " | ".join("" for _ in names) + " | " + " | ".join(f"**{w:.2f}**" for w in totals) + " |")
    lines += ["", f"Session wall time, {PYLLM} / {PYLLM_SWA_FULL}: "
              f"{totals[names.index(PYLLM)] / totals[names.index(PYLLM_SWA_FULL)]:.2f}x  "]
    base = totals[names.index(LLAMA)] if LLAMA in names else None
    if base:
        lines += ["Session wall time / llama-server's: " + ", ".join(f"{n} {w / base:.2f}x" for n, w in zip(names, totals))]
    lines += ["", "| server | KV cache MiB | per slot | resident MiB after start | after the sessions |",
              "|---|---:|---:|---:|---:|"]
    for n in names:
        m = memory[n]
        kv = f"{m['kv']:.1f} | {m['kv'] / args.parallel:.1f}" if m["kv"] else "not logged | "
        lines.append(f"| {n} | {kv} | {m['rss_start']:.0f} | {m['rss_end']:.0f} |")
    generated = {n: sorted({turn["generated"] for s in results[n] for turn in s}) for n in names}
    lines += ["", "Generated tokens per turn: " + "; ".join(f"{n} {g}" for n, g in generated.items()), "",
              "Servers as started:", ""]
    lines += [f"- {n}: `{shlex.join(cmd)}`" for n, cmd in commands.items()]
    return "\n".join(lines)
