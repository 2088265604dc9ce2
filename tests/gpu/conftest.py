"""GPU tests: offload to the device this build has (Vulkan on lavapipe, CUDA, ...), selected
by PYLLM_TEST_NGL (the -ngl they use, e.g. 99); without it they are skipped, as on a CPU
build. scripts/test_vulkan.sh and scripts/gpu_check.sh run them."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

import pyllm

NGL = int(os.environ.get("PYLLM_TEST_NGL", "0"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if NGL:
        return
    skip = pytest.mark.skip(reason="GPU test: set PYLLM_TEST_NGL (e.g. 99) on a GPU build")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ngl() -> int:
    return NGL


@pytest.fixture(scope="session")
def gpu_model(default_model_path: Path) -> pyllm.Model:
    return pyllm.Model(default_model_path, n_gpu_layers=NGL)


@pytest.fixture(scope="session")
def cpu_model(default_model_path: Path) -> pyllm.Model:
    """The same build with no offload device at all (--device none)."""
    return pyllm.Model(default_model_path, devices=["none"])


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    """tests/gpu/reference.py: the prompts and the greedy run both builds make."""
    spec = importlib.util.spec_from_file_location("gpu_reference", Path(__file__).parent / "reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
