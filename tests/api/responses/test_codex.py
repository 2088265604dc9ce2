"""Codex's own apply_patch Lark grammar, read from the installed Codex CLI (npm @openai/codex,
installed by the suite: the root conftest's ``npm_client``), constrains a freeform custom
tool call. Codex itself runs end to end in tests/clients/test_codex.py."""
from __future__ import annotations

import re
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def codex_dir(npm_client) -> Path:
    return npm_client("codex").parent.parent.parent  # <prefix>/node_modules/.bin/codex


def _apply_patch_grammar(codex_dir: Path) -> str:
    """The apply_patch Lark grammar as the installed Codex sends it (it is compiled in)."""
    binaries = [p for p in (codex_dir / "node_modules").rglob("codex") if p.is_file() and p.stat().st_size > 10**7]
    assert binaries, "no Codex binary in the npm package"
    data = binaries[0].read_bytes()
    found = re.search(rb"start: begin_patch hunk\+ end_patch\n.*?%import common\.LF", data, re.S)
    assert found, "apply_patch grammar not found in the Codex binary"
    return found.group().decode()


def test_codex_apply_patch_grammar_constrains_the_custom_tool(codex_dir, gemma):
    grammar = _apply_patch_grammar(codex_dir)
    tool = {"type": "custom", "name": "apply_patch", "description": "Use the `apply_patch` tool to edit files.",
            "format": {"type": "grammar", "syntax": "lark", "definition": grammar}}
    body = {"model": "m", "input": "Create the file hello.txt containing the line Hi", "tools": [tool],
            "tool_choice": {"type": "custom", "name": "apply_patch"}, "max_output_tokens": 120, "temperature": 0}
    for r in (gemma.create(body), gemma.stream(body)):
        [call] = [item for item in r["output"] if item["type"] == "custom_tool_call"]
        patch = call["input"]
        if call["status"] == "completed":
            assert patch.startswith("*** Begin Patch\n") and re.search(r"\*\*\* End Patch\n?$", patch), patch
        hunks = re.findall(r"^\*\*\* (Add|Delete|Update) File: .+$", patch, re.M)
        assert hunks, patch
        assert all(re.fullmatch(r"\*\*\* .*|[+\- ].*|@@.*|", line) for line in patch.split("\n")), patch
