from pathlib import Path

import pytest

import pyllm


def test_default_model_loads_with_metadata(model: pyllm.Model):
    assert model.architecture == "gemma3"
    assert model.n_ctx_train == 32768
    assert 200_000_000 < model.n_params < 300_000_000
    assert model.n_vocab > 200_000
    assert model.metadata()["general.architecture"] == "gemma3"


def test_model_without_embedded_template_falls_back_to_chatml(model: pyllm.Model):
    # This GGUF embeds no tokenizer.chat_template; like llama-server, pyllm renders ChatML.
    assert "tokenizer.chat_template" not in model.metadata()
    assert "<|im_start|>" in model.chat_template
    prompt = model.apply_chat_template([{"role": "user", "content": "Hi"}])
    assert prompt == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert not model.vocab_only


def test_default_model_path_is_cached_and_verified(default_model_path: Path):
    again = pyllm.default_model_path()
    assert again == default_model_path
    assert default_model_path.stat().st_size > 100_000_000
    assert default_model_path.with_name(default_model_path.name + ".verified").exists()


def test_missing_file_raises_model_load_error_with_path(tmp_path: Path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(pyllm.ModelLoadError, match="nope.gguf.*No such file"):
        pyllm.Model(missing)


def test_directory_raises_model_load_error(tmp_path: Path):
    with pytest.raises(pyllm.ModelLoadError, match="not a regular file"):
        pyllm.Model(tmp_path)


def test_garbage_file_raises_model_load_error(tmp_path: Path):
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"this is not a model" * 1000)
    with pytest.raises(pyllm.ModelLoadError, match="garbage.gguf.*not a GGUF file"):
        pyllm.Model(garbage)


def test_empty_file_raises_model_load_error(tmp_path: Path):
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(pyllm.ModelLoadError, match="not a GGUF file"):
        pyllm.Model(empty)


@pytest.mark.parametrize("keep", [4, 64, 4096, 1_000_000, 100_000_000])
def test_truncated_gguf_raises_model_load_error(tmp_path: Path, default_model_path: Path, keep: int):
    truncated = tmp_path / f"truncated-{keep}.gguf"
    with default_model_path.open("rb") as src:
        truncated.write_bytes(src.read(keep))
    with pytest.raises(pyllm.ModelLoadError, match=f"truncated-{keep}.gguf: .+"):
        pyllm.Model(truncated)


def test_load_and_template_failures_are_caught_as_pyllm_error(tmp_path: Path, llama_cpp_dir: Path):
    # What a caller of the package relies on: one base class catches every native failure.
    with pytest.raises(pyllm.PyllmError, match="missing.gguf"):
        pyllm.Model(tmp_path / "missing.gguf")
    with pytest.raises(pyllm.PyllmError):
        pyllm.Model.from_template("{% for %}", llama_cpp_dir / "models/ggml-vocab-qwen2.gguf")


def test_vocab_only_model_from_template(llama_cpp_dir: Path):
    source = (llama_cpp_dir / "models/templates/Qwen-Qwen3-0.6B.jinja").read_text()
    m = pyllm.Model.from_template(source, llama_cpp_dir / "models/ggml-vocab-qwen2.gguf")
    assert m.vocab_only
    assert m.chat_template == source
    assert m.tokenize("<|im_start|>") == [151644]


def test_bad_template_raises_chat_template_error(llama_cpp_dir: Path):
    with pytest.raises(pyllm.ChatTemplateError):
        pyllm.Model.from_template("{% for %}", llama_cpp_dir / "models/ggml-vocab-qwen2.gguf")
