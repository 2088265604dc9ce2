"""A real `pyllm serve` on loopback, started as its own process, per set of flags."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..serving import PyllmServer

_servers: dict[tuple[str, ...], PyllmServer] = {}


@pytest.fixture(scope="session")
def start_server() -> Iterator:
    """start_server(*flags) -> PyllmServer; one process per distinct flag set, reused."""

    def start(*flags: str) -> PyllmServer:
        key = tuple(flags)
        if key not in _servers:
            _servers[key] = PyllmServer(list(flags))
        return _servers[key]

    yield start
    for server in _servers.values():
        server.stop()
    _servers.clear()


@pytest.fixture(scope="session")
def server(start_server) -> PyllmServer:
    """The default model with its own (ChatML fallback) template, 2 slots."""
    return start_server("-np", "2", "-c", "8192")


@pytest.fixture(scope="session")
def templates_dir(llama_cpp_dir: Path) -> Path:
    return llama_cpp_dir / "models" / "templates"
