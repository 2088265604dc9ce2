"""llama.cpp's own rpc-server processes on loopback, and `pyllm serve --rpc` over them.

The rpc-server binary is built from the same llama.cpp source by scripts/build_rpc_server.sh
into a cache directory the first time (ccache makes that about a minute), then reused.
RPC devices are registered for the whole process, so every server with --rpc is its own
process, never the test process."""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..serving import PyllmServer, free_port

REPO = Path(__file__).resolve().parents[2]


def _cache_dir(llama_cpp_dir: Path) -> Path:
    stamp = llama_cpp_dir / "PYLLM_SOURCE.json"
    commit = json.loads(stamp.read_text())["llama_cpp_commit"] if stamp.is_file() else "checkout"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pyllm"
    return base / f"rpc-server-{commit}"


@pytest.fixture(scope="session")
def rpc_server_binary(llama_cpp_dir: Path) -> Path:
    """llama.cpp's rpc-server: $PYLLM_RPC_SERVER, or built into the cache on first use."""
    if given := os.environ.get("PYLLM_RPC_SERVER"):
        return Path(given)
    out = _cache_dir(llama_cpp_dir)
    binary = out / "bin" / "ggml-rpc-server"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the others wait and reuse it
        if not binary.is_file():
            env = {**os.environ, "PYLLM_LLAMA_CPP_DIR": str(llama_cpp_dir)} if llama_cpp_dir != REPO / "vendor" / "llama.cpp" else None
            result = subprocess.run(["bash", str(REPO / "scripts" / "build_rpc_server.sh"), str(out)],
                                    capture_output=True, text=True, env=env, timeout=1800)
            if result.returncode != 0 or not binary.is_file():
                pytest.fail(f"building rpc-server failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return binary


class RpcWorker:
    """One rpc-server on 127.0.0.1 with one CPU thread."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([str(self.binary), "-H", "127.0.0.1", "-p", str(self.port), "-t", "1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rpc-server exited {self.proc.returncode}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("rpc-server did not listen in 30 s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


class Cluster:
    """Two fresh rpc-servers and `pyllm serve --rpc A,B -ngl 99 <flags>` over them."""

    def __init__(self, binary: Path, flags: list[str]) -> None:
        self.workers = [RpcWorker(binary), RpcWorker(binary)]
        try:
            self.server = PyllmServer(["--rpc", ",".join(w.endpoint for w in self.workers), "-ngl", "99", *flags])
        except Exception:
            for w in self.workers:
                w.kill()
            raise

    def stop(self) -> None:
        self.server.stop()
        for w in self.workers:
            w.kill()


CLUSTER_FLAGS = ["-np", "2", "-c", "2048", "-t", "1"]


@pytest.fixture(scope="module")
def cluster(rpc_server_binary: Path) -> Iterator[Cluster]:
    """A cluster the tests of a module share; none of them may break it."""
    c = Cluster(rpc_server_binary, CLUSTER_FLAGS)
    yield c
    c.stop()


@pytest.fixture
def doomed_cluster(rpc_server_binary: Path) -> Iterator[Cluster]:
    """A cluster of the test's own, for killing workers."""
    c = Cluster(rpc_server_binary, CLUSTER_FLAGS)
    yield c
    c.stop()
