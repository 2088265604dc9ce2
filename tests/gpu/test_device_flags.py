"""Device flags (-ngl, -mg, -sm, -ts, --device) where there is no device to offload to:
a clear error and exit status 2, never a run on the CPU. And what a build says it is."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import pyllm

HAS_OFFLOAD_DEVICE = any(d["type"] in ("gpu", "igpu") for d in pyllm.devices())
no_device = pytest.mark.skipif(HAS_OFFLOAD_DEVICE, reason="this build and machine have an offload device")


def pyllm_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyllm", *args], capture_output=True, text=True, timeout=120)


@no_device
@pytest.mark.parametrize(("flags", "said"), [
    (["-ngl", "99"], "-ngl 99 asks for a GPU"),
    (["-ngl", "all"], "-ngl -1 asks for a GPU"),
    (["-mg", "0"], "-mg 0 asks for a GPU"),
    (["-sm", "row"], "-sm row asks for a GPU"),
    (["-ts", "3,1"], "-ts asks for a GPU"),
    (["--device", "CUDA0"], "--device CUDA0: no such offload device"),
    (["--device", "none", "-ngl", "99"], "with --device none: nothing to offload to"),
])
def test_info_refuses_device_flags_without_a_device(flags: list[str], said: str):
    result = pyllm_cli("info", *flags)
    assert result.returncode == 2, result.stdout[-500:]
    assert said in result.stderr
    if "--device" not in flags or "none" not in flags:
        assert "no GPU backend" in result.stderr or "found no device" in result.stderr
    assert result.stdout == ""


@no_device
def test_serve_refuses_ngl_without_a_device_and_exits():
    result = pyllm_cli("serve", "-ngl", "99", "--port", "1")
    assert result.returncode == 2
    assert "-ngl 99 asks for a GPU" in result.stderr


@no_device
def test_a_model_asking_for_offload_without_a_device_is_a_value_error(default_model_path):
    with pytest.raises(ValueError, match="asks for a GPU"):
        pyllm.Model(default_model_path, n_gpu_layers=1)


def test_device_none_loads_on_the_cpu(default_model_path):
    model = pyllm.Model(default_model_path, devices=["none"])
    assert model.offloaded_layers in (-1, 0)
    assert all(name.startswith("CPU") for name in model.weight_buffers), model.weight_buffers


def test_bad_flag_values_are_usage_errors():
    assert pyllm_cli("info", "-ngl", "many").returncode == 2
    assert pyllm_cli("info", "-ts", "1,,2").returncode == 2
    assert pyllm_cli("info", "-sm", "diagonal").returncode == 2


def test_info_devices_lists_the_build_and_devices_without_a_model():
    result = pyllm_cli("info", "--devices")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert "model" not in info
    assert any(d["type"] == "cpu" and d["name"] == "CPU" for d in info["devices"])
    assert info["build"]["backends"] == pyllm.build_info()["backends"]
    assert "RPC" in info["build"]["backends"], "the default build includes RPC"


def test_build_info_says_what_the_build_is_for():
    info = pyllm.build_info()
    assert isinstance(info["cpu_native"], bool)
    if not info["gpu_backends"]:
        assert info["gpu_archs"] == ""
    if "CUDA" in info["gpu_backends"]:
        assert info["gpu_archs"], "a CUDA build names its architectures"


def test_info_says_whether_the_cpu_code_is_tied_to_this_cpu():
    build = json.loads(pyllm_cli("info", "--devices").stdout)["build"]
    assert build["cpu_code"].startswith("native: tied to the CPU" if build["cpu_native"] else "portable")
