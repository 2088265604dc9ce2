"""Shared fixtures: the real default model and the real llama.cpp source tree."""
from __future__ import annotations

import os
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
