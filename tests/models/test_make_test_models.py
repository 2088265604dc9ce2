"""The generated tiny models load in llama.cpp as the architectures they stand for, with
real tokenizers (single-token <think> / <tool_call>) and real chat templates."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

import pyllm

HERE = Path(__file__).resolve().parent


def _generator():
    spec = importlib.util.spec_from_file_location("make_test_models", HERE / "make_test_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, arch", [("qwen35", "qwen35"), ("qwen3", "qwen3"),
                                        ("gemma4-moe", "gemma4"), ("bert", "bert")])
def test_each_model_loads_as_its_architecture(tiny_models: dict[str, Path], name: str, arch: str):
    model = pyllm.Model(tiny_models[name])
    assert model.architecture == arch
    assert model.size_bytes < 40 << 20


@pytest.mark.parametrize("name", ["qwen35", "qwen3"])
def test_qwen_reasoning_and_tool_markers_are_single_tokens(tiny_models: dict[str, Path], name: str):
    model = pyllm.Model(tiny_models[name], vocab_only=True)
    for marker, token_id in [("<think>", 151667), ("</think>", 151668),
                             ("<tool_call>", 151657), ("</tool_call>", 151658)]:
        assert model.tokenize(marker) == [token_id], marker
    assert model.eos_token == "<|im_end|>"


@pytest.mark.parametrize("name, template", [("qwen35", "Qwen3.5-4B.jinja"), ("qwen3", "Qwen-Qwen3-0.6B.jinja"),
                                            ("gemma4-moe", "google-gemma-4-31B-it.jinja")])
def test_chat_template_is_the_real_one(tiny_models: dict[str, Path], llama_cpp_dir: Path, name: str, template: str):
    model = pyllm.Model(tiny_models[name], vocab_only=True)
    assert model.chat_template.strip() == (llama_cpp_dir / "models" / "templates" / template).read_text().strip()


def test_gemma4_is_sliding_window_with_experts(tiny_models: dict[str, Path]):
    metadata = pyllm.Model(tiny_models["gemma4-moe"], vocab_only=True).metadata()
    assert int(metadata["gemma4.attention.sliding_window"]) == _generator().GEMMA4_SLIDING_WINDOW
    assert int(metadata["gemma4.expert_count"]) > int(metadata["gemma4.expert_used_count"]) > 0


def test_generator_is_deterministic(tiny_models: dict[str, Path], tmp_path: Path, llama_cpp_dir: Path):
    path = tmp_path / "bert-tiny.gguf"
    _generator().write_bert(path, llama_cpp_dir)
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(tiny_models["bert"].read_bytes()).digest()
