"""Shared fixtures: the real default model, the real llama.cpp source tree, the tiny
random-weight models of other architectures generated from it, and the agent clients
installed from npm."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import pyllm

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def llama_cpp_dir() -> Path:
    """The llama.cpp source the package was built from (templates and vocab-only GGUFs live there)."""
    path = Path(os.environ.get("PYLLM_LLAMA_CPP_DIR") or REPO / "vendor" / "llama.cpp")
    if not (path / "models" / "templates").is_dir():
        pytest.fail(f"llama.cpp source not found at {path}; build the package first (it fills vendor/llama.cpp)")
    return path


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    return pyllm.default_model_path()


@pytest.fixture(scope="session")
def model(default_model_path: Path) -> pyllm.Model:
    return pyllm.Model(default_model_path)


def _load_test_model_generator():
    spec = importlib.util.spec_from_file_location("make_test_models", REPO / "tests" / "models" / "make_test_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_models(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                llama_cpp_dir: Path) -> dict[str, Path]:
    """Tiny random-weight GGUFs of real architectures (tests/models/make_test_models.py),
    {"qwen35": path, "qwen3": ..., "gemma4-moe": ..., "bert": ...}. Built once per version
    of the generator and of llama.cpp, then reused from pytest's cache directory."""
    generator = _load_test_model_generator()
    key = hashlib.sha256(Path(generator.__file__).read_bytes())
    key.update(generator.llama_cpp_commit(llama_cpp_dir).encode())
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    root = cache.mkdir("test-models") if cache is not None else tmp_path_factory.mktemp("test-models")
    out = root / key.hexdigest()[:16]
    if not out.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="building-", dir=out.parent))
        generator.build(staging, llama_cpp_dir)
        try:
            staging.rename(out)
        except OSError:  # another session finished the same build first
            shutil.rmtree(staging)
    return {name.removesuffix(".gguf").removesuffix("-tiny"): out / name for name in generator.MODELS}


# The agent clients the suite runs (tests/clients), pinned so that a run is reproducible and
# the install cache stays valid; raise them together with the tests.
NPM_CLIENTS = {
    "claude": ("@anthropic-ai/claude-code", "2.1.332"),
    "opencode": ("opencode-ai", "1.18.33"),
    "codex": ("@openai/codex", "0.169.0"),
}


@pytest.fixture(scope="session")
def npm_client():
    """npm_client(binary) -> the executable of a pinned agent client (NPM_CLIENTS), installed
    by npm on first use into ``~/.cache/pyllm-clients/<package>-<version>`` (or under
    ``$PYLLM_CLIENTS_CACHE``), which later runs reuse. Without npm the test fails: these
    clients are part of the suite, never skipped."""

    def installed(binary: str) -> Path:
        package, version = NPM_CLIENTS[binary]
        cache = Path(os.environ.get("PYLLM_CLIENTS_CACHE") or Path.home() / ".cache" / "pyllm-clients")
        prefix = cache / f"{package.replace('/', '+')}-{version}"
        exe = prefix / "node_modules" / ".bin" / binary
        if exe.exists():
            return exe
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"npm (Node.js 18 or newer) is needed to install {package}@{version}: "
                        "install Node.js, e.g. `apt-get install nodejs npm`")
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=prefix.name + ".", dir=cache))
        r = subprocess.run([npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund", "--loglevel=error",
                            f"{package}@{version}"], capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.fail(f"npm install {package}@{version} failed:\n{r.stdout}\n{r.stderr}")
        # Renamed into place whole, so that an interrupted install never looks installed.
        try:
            staging.rename(prefix)
        except OSError:  # another run installed it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
        return exe

    return installed
