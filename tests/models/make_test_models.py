"""Tiny random-weight GGUFs of real llama.cpp architectures, for tests.

    python tests/models/make_test_models.py OUT_DIR

writes one GGUF per model into OUT_DIR and prints their paths. The weights are random
(fixed seed, so every run writes the same bytes); the architectures, tokenizers and chat
templates are real, so llama.cpp builds the same graph and memory (recurrent, sliding
window, MoE) as for the released models and the tokenizer produces the same special-token
boundaries. Random weights produce noise: tests force exact outputs with grammars.

Models written (file name: what it stands for):

- ``qwen35-tiny.gguf``: ``qwen35`` hybrid, gated-delta-net recurrent layers plus gated
  full attention (Qwen3.5 / Qwen3.6), Qwen3.5 chat template.
- ``qwen3-tiny.gguf``: ``qwen3`` dense GQA (Qwen3, the common full-attention layout),
  Qwen3 chat template.
  Both use llama.cpp's ``ggml-vocab-qwen35.gguf``. That vocab-only file keeps the byte-level
  BPE but leaves the added tokens as ``[PAD...]`` placeholders; they are filled with the
  Qwen3 added tokens at their real ids (``<tool_call>`` 151657, ``<think>`` 151667, ...),
  so ``<think>`` and ``<tool_call>`` are single tokens as in the released models.
- ``gemma4-moe-tiny.gguf``: ``gemma4`` with sliding-window attention interleaved with full
  attention and a routed-expert FFN beside the dense one (Gemma 4 26B-A4B layout), with
  llama.cpp's ``ggml-vocab-gemma-4.gguf`` and the Gemma 4 chat template. (gpt-oss is the
  other SWA + MoE family, but llama.cpp ships no vocab for its o200k tokenizer.)
- ``bert-tiny.gguf``: ``bert`` encoder with CLS pooling and ``ggml-vocab-bert-bge.gguf``
  (bge-small layout), for embeddings.
- ``mmproj-gemma3-tiny.gguf``: a Gemma 3 vision projector (``clip`` arch, projector type
  ``gemma3``) whose output width matches the default Gemma 3 270M model, for image input.
- ``mmproj-qwen3vl-tiny.gguf``: a Qwen3-VL / Qwen3.5 vision projector (projector type
  ``qwen3vl_merger``) whose output width matches ``qwen35-tiny``; its images take M-RoPE
  positions.

Only llama.cpp's own ``gguf`` package writes the files (tensor names and shapes follow
llama.cpp's src/models/*.cpp loaders and tools/mtmd/clip.cpp).
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT

SEED = 20260513
# The token embeddings (also the output projection) dominate the size with a 150k-262k vocab,
# hence a small n_embd. F16 rather than a quantized type: no quantization pass when writing,
# and no CPU-specific quantized kernels (AMX, repacked layouts) between the tests and the engine.
EMBEDDING_TYPE = QT.F16
REPO = Path(__file__).resolve().parents[2]

# Qwen3's added tokens, from id 151646 on, as the released tokenizer numbers them.
# llama.cpp's converter types the ``<|...|>`` ones as control tokens and the rest
# (``<think>``, ``<tool_call>``, ...) as user-defined: plain text, but never split.
QWEN3_ADDED_TOKENS = [
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>",
    "<think>", "</think>",
]
QWEN3_FIRST_ADDED_TOKEN = 151646
QWEN_IM_END = 151645


def llama_cpp_dir() -> Path:
    return Path(os.environ.get("PYLLM_LLAMA_CPP_DIR") or REPO / "vendor" / "llama.cpp")


def llama_cpp_commit(source: Path) -> str:
    stamp = source / "PYLLM_SOURCE.json"
    if stamp.is_file():
        return json.loads(stamp.read_text())["llama_cpp_commit"]
    head = source / ".git" / "HEAD"
    return head.read_text().strip() if head.is_file() else "unknown"


class _Tensors:
    """Deterministic random tensors: each one seeded by its name, so adding a tensor to one
    model leaves every other tensor's bytes unchanged."""

    def __init__(self, writer: gguf.GGUFWriter, stdev: float = 0.1):
        self.writer = writer
        self.stdev = stdev

    def _rng(self, name: str) -> np.random.Generator:
        return np.random.default_rng([SEED, zlib.crc32(name.encode())])

    def random(self, name: str, ne: tuple[int, ...], qtype: QT = QT.F32, stdev: float | None = None) -> None:
        """``ne`` is in ggml order (fastest dimension first), as llama.cpp's loaders write it."""
        data = self._rng(name).normal(0.0, self.stdev if stdev is None else stdev, size=ne[::-1]).astype(np.float32)
        self.put(name, data, qtype)

    def const(self, name: str, ne: tuple[int, ...], value: float) -> None:
        self.put(name, np.full(ne[::-1], value, dtype=np.float32), QT.F32)

    def negative(self, name: str, ne: tuple[int, ...]) -> None:
        """State decay (Mamba / delta-net A) must be negative or the recurrence blows up."""
        self.put(name, -np.abs(self._rng(name).normal(0.0, 1.0, size=ne[::-1])).astype(np.float32), QT.F32)

    def put(self, name: str, data: np.ndarray, qtype: QT) -> None:
        if qtype == QT.F32:
            self.writer.add_tensor(name, data)
        elif qtype == QT.F16:
            self.writer.add_tensor(name, data.astype(np.float16))
        else:
            self.writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)


_SCALAR_FORMATS = {VT.UINT8: "B", VT.INT8: "b", VT.UINT16: "H", VT.INT16: "h", VT.UINT32: "I", VT.INT32: "i",
                   VT.FLOAT32: "f", VT.BOOL: "?", VT.UINT64: "Q", VT.INT64: "q", VT.FLOAT64: "d"}


def _read_metadata(path: Path) -> list[tuple[str, VT, VT | None, object]]:
    """The key/value section of a GGUF: [(key, type, array element type, value)].

    gguf.GGUFReader builds numpy views for every array element, which takes most of a minute
    for a 150k-token vocab on a loaded 2-core machine; the vocab-only files hold nothing but
    this section, and one pass over it with struct takes a fraction of a second."""
    data = path.read_bytes()
    magic, _version, _n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    assert magic == b"GGUF", path
    off = 24

    def string(off: int) -> tuple[bytes, int]:
        (n,) = struct.unpack_from("<Q", data, off)
        return data[off + 8:off + 8 + n], off + 8 + n

    def scalar(vtype: VT, off: int) -> tuple[object, int]:
        fmt = "<" + _SCALAR_FORMATS[vtype]
        return struct.unpack_from(fmt, data, off)[0], off + struct.calcsize(fmt)

    out = []
    for _ in range(n_kv):
        key, off = string(off)
        (vtype,) = struct.unpack_from("<I", data, off)
        vtype, sub_type = VT(vtype), None
        off += 4
        if vtype == VT.STRING:
            value, off = string(off)
        elif vtype == VT.ARRAY:
            sub_type, count = VT(struct.unpack_from("<I", data, off)[0]), struct.unpack_from("<Q", data, off + 4)[0]
            off += 12
            value = []
            if sub_type == VT.STRING:
                for _ in range(count):
                    item, off = string(off)
                    value.append(item)
            else:
                fmt = "<%d%s" % (count, _SCALAR_FORMATS[sub_type])
                value = list(struct.unpack_from(fmt, data, off))
                off += struct.calcsize(fmt)
        else:
            value, off = scalar(vtype, off)
        out.append((key.decode(), vtype, sub_type, value))
    return out


def _copy_tokenizer(writer: gguf.GGUFWriter, vocab_path: Path, edit_tokens=None, overrides=None) -> int:
    """Every ``tokenizer.*`` key of a llama.cpp vocab-only GGUF, as it is there (except the
    chat template, which each model sets from models/templates, and ``overrides``:
    {key: (type, value)}); returns the vocab size."""
    fields = {key: (vtype, sub_type, value) for key, vtype, sub_type, value in _read_metadata(vocab_path)
              if key.startswith("tokenizer.") and key != "tokenizer.chat_template"}
    for key, (vtype, value) in (overrides or {}).items():
        fields[key] = (vtype, None, value)
    if edit_tokens is not None:
        edit_tokens(fields["tokenizer.ggml.tokens"][2], fields["tokenizer.ggml.token_type"][2])
    for key, (vtype, sub_type, value) in fields.items():
        writer.add_key_value(key, value, vtype, sub_type=sub_type)
    return len(fields["tokenizer.ggml.tokens"][2])


def _qwen3_added_tokens(tokens: list[bytes], types: list[int]) -> None:
    for token_id, text in enumerate(QWEN3_ADDED_TOKENS, QWEN3_FIRST_ADDED_TOKEN):
        assert tokens[token_id].startswith(b"[PAD"), (token_id, tokens[token_id])
        tokens[token_id] = text.encode()
        control = text.startswith("<|") and text.endswith("|>")
        types[token_id] = int(gguf.TokenType.CONTROL if control else gguf.TokenType.USER_DEFINED)


def _template(source: Path, name: str) -> str:
    return (source / "models" / "templates" / name).read_text()


def _qwen_vocab(writer: gguf.GGUFWriter, source: Path) -> int:
    # As in the released Qwen3 / Qwen3.5 GGUFs: a turn ends at <|im_end|>, no BOS is added.
    return _copy_tokenizer(writer, source / "models" / "ggml-vocab-qwen35.gguf", _qwen3_added_tokens,
                           {"tokenizer.ggml.eos_token_id": (VT.UINT32, QWEN_IM_END),
                            "tokenizer.ggml.add_bos_token": (VT.BOOL, False)})


def write_qwen35(path: Path, source: Path) -> None:
    """Qwen3.5 dense: 3 gated-delta-net layers, then one gated full-attention layer
    (full_attention_interval 4, as released)."""
    arch = "qwen35"
    w = gguf.GGUFWriter(path, arch)
    n_vocab = _qwen_vocab(w, source)
    n_embd, n_layer, n_ff = 32, 4, 64
    n_head, n_head_kv, head_dim, n_rot = 4, 2, 32, 16
    d_state, n_k_heads, n_v_heads, d_conv = 32, 2, 4, 4
    value_dim = d_state * n_v_heads
    key_dim = d_state * n_k_heads
    w.add_name("qwen35-tiny (random weights)")
    w.add_context_length(32768)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(n_rot)
    w.add_rope_dimension_sections([3, 3, 2, 0])
    w.add_rope_freq_base(10_000_000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_full_attention_interval(4)
    w.add_ssm_conv_kernel(d_conv)
    w.add_ssm_inner_size(value_dim)
    w.add_ssm_state_size(d_state)
    w.add_ssm_time_step_rank(n_v_heads)
    w.add_ssm_group_count(n_k_heads)
    w.add_chat_template(_template(source, "Qwen3.5-4B.jinja"))

    t = _Tensors(w)
    t.random("token_embd.weight", (n_embd, n_vocab), EMBEDDING_TYPE)
    t.const("output_norm.weight", (n_embd,), 1.0)
    for il in range(n_layer):
        b = f"blk.{il}."
        t.const(b + "attn_norm.weight", (n_embd,), 1.0)
        t.const(b + "post_attention_norm.weight", (n_embd,), 1.0)
        if (il + 1) % 4 != 0:
            t.random(b + "attn_qkv.weight", (n_embd, key_dim * 2 + value_dim))
            t.random(b + "attn_gate.weight", (n_embd, value_dim))
            t.random(b + "ssm_conv1d.weight", (d_conv, key_dim * 2 + value_dim))
            t.random(b + "ssm_dt.bias", (n_v_heads,))
            t.negative(b + "ssm_a", (n_v_heads,))
            t.random(b + "ssm_beta.weight", (n_embd, n_v_heads))
            t.random(b + "ssm_alpha.weight", (n_embd, n_v_heads))
            t.const(b + "ssm_norm.weight", (d_state,), 1.0)
            t.random(b + "ssm_out.weight", (value_dim, n_embd))
        else:
            t.random(b + "attn_q.weight", (n_embd, head_dim * n_head * 2))
            t.random(b + "attn_k.weight", (n_embd, head_dim * n_head_kv))
            t.random(b + "attn_v.weight", (n_embd, head_dim * n_head_kv))
            t.random(b + "attn_output.weight", (head_dim * n_head, n_embd))
            t.const(b + "attn_q_norm.weight", (head_dim,), 1.0)
            t.const(b + "attn_k_norm.weight", (head_dim,), 1.0)
        t.random(b + "ffn_gate.weight", (n_embd, n_ff))
        t.random(b + "ffn_up.weight", (n_embd, n_ff))
        t.random(b + "ffn_down.weight", (n_ff, n_embd))
    _finish(w)


def write_qwen3(path: Path, source: Path) -> None:
    """Qwen3 dense: grouped-query attention with q/k norms, every layer full attention."""
    arch = "qwen3"
    w = gguf.GGUFWriter(path, arch)
    n_vocab = _qwen_vocab(w, source)
    n_embd, n_layer, n_ff = 32, 2, 64
    n_head, n_head_kv, head_dim = 4, 2, 32
    w.add_name("qwen3-tiny (random weights)")
    w.add_context_length(40960)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_freq_base(1_000_000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_chat_template(_template(source, "Qwen-Qwen3-0.6B.jinja"))

    t = _Tensors(w)
    t.random("token_embd.weight", (n_embd, n_vocab), EMBEDDING_TYPE)
    t.const("output_norm.weight", (n_embd,), 1.0)
    for il in range(n_layer):
        b = f"blk.{il}."
        t.const(b + "attn_norm.weight", (n_embd,), 1.0)
        t.random(b + "attn_q.weight", (n_embd, head_dim * n_head))
        t.random(b + "attn_k.weight", (n_embd, head_dim * n_head_kv))
        t.random(b + "attn_v.weight", (n_embd, head_dim * n_head_kv))
        t.random(b + "attn_output.weight", (head_dim * n_head, n_embd))
        t.const(b + "attn_q_norm.weight", (head_dim,), 1.0)
        t.const(b + "attn_k_norm.weight", (head_dim,), 1.0)
        t.const(b + "ffn_norm.weight", (n_embd,), 1.0)
        t.random(b + "ffn_gate.weight", (n_embd, n_ff))
        t.random(b + "ffn_up.weight", (n_embd, n_ff))
        t.random(b + "ffn_down.weight", (n_ff, n_embd))
    _finish(w)


# Sliding window of the tiny Gemma 4: small, so short test prompts already slide past it.
GEMMA4_SLIDING_WINDOW = 64


def write_gemma4_moe(path: Path, source: Path) -> None:
    """Gemma 4 MoE: three sliding-window layers then one full-attention layer, each with a
    dense FFN plus a routed-expert FFN (the 26B-A4B layout, scaled down)."""
    arch = "gemma4"
    w = gguf.GGUFWriter(path, arch)
    n_vocab = _copy_tokenizer(w, source / "models" / "ggml-vocab-gemma-4.gguf")
    n_embd, n_layer, n_ff, n_ff_exp = 32, 4, 64, 32
    n_head, head_dim, head_dim_swa = 2, 32, 32
    n_expert, n_expert_used = 4, 2
    is_swa = [(il + 1) % 4 != 0 for il in range(n_layer)]
    w.add_name("gemma4-moe-tiny (random weights)")
    w.add_context_length(262144)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_expert_feed_forward_length(n_ff_exp)
    w.add_expert_count(n_expert)
    w.add_expert_used_count(n_expert_used)
    w.add_head_count(n_head)
    w.add_head_count_kv([2 if swa else 1 for swa in is_swa])
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_key_length_swa(head_dim_swa)
    w.add_value_length_swa(head_dim_swa)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_dimension_count_swa(head_dim_swa)
    w.add_rope_freq_base(1_000_000.0)
    w.add_rope_freq_base_swa(10_000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_sliding_window(GEMMA4_SLIDING_WINDOW)
    w.add_sliding_window_pattern(is_swa)
    w.add_shared_kv_layers(0)
    w.add_embedding_length_per_layer_input(0)
    w.add_final_logit_softcapping(30.0)
    w.add_chat_template(_template(source, "google-gemma-4-31B-it.jinja"))

    t = _Tensors(w)
    t.random("token_embd.weight", (n_embd, n_vocab), EMBEDDING_TYPE)
    t.const("output_norm.weight", (n_embd,), 1.0)
    t.const("rope_freqs.weight", (head_dim // 2,), 1.0)
    for il in range(n_layer):
        b = f"blk.{il}."
        n_kv = 2 if is_swa[il] else 1
        hd = head_dim_swa if is_swa[il] else head_dim
        t.const(b + "attn_norm.weight", (n_embd,), 1.0)
        t.random(b + "attn_q.weight", (n_embd, hd * n_head))
        t.random(b + "attn_k.weight", (n_embd, hd * n_kv))
        t.random(b + "attn_v.weight", (n_embd, hd * n_kv))
        t.random(b + "attn_output.weight", (hd * n_head, n_embd))
        t.const(b + "attn_q_norm.weight", (hd,), 1.0)
        t.const(b + "attn_k_norm.weight", (hd,), 1.0)
        t.const(b + "post_attention_norm.weight", (n_embd,), 1.0)
        t.const(b + "ffn_norm.weight", (n_embd,), 1.0)
        t.random(b + "ffn_gate.weight", (n_embd, n_ff))
        t.random(b + "ffn_up.weight", (n_embd, n_ff))
        t.random(b + "ffn_down.weight", (n_ff, n_embd))
        t.const(b + "post_ffw_norm.weight", (n_embd,), 1.0)
        t.random(b + "ffn_gate_inp.weight", (n_embd, n_expert))
        t.const(b + "ffn_gate_inp.scale", (n_embd,), 1.0)
        t.const(b + "pre_ffw_norm_2.weight", (n_embd,), 1.0)
        t.const(b + "post_ffw_norm_1.weight", (n_embd,), 1.0)
        t.const(b + "post_ffw_norm_2.weight", (n_embd,), 1.0)
        t.random(b + "ffn_gate_exps.weight", (n_embd, n_ff_exp, n_expert))
        t.random(b + "ffn_up_exps.weight", (n_embd, n_ff_exp, n_expert))
        t.random(b + "ffn_down_exps.weight", (n_ff_exp, n_embd, n_expert))
    _finish(w)


def write_bert(path: Path, source: Path) -> None:
    """BERT encoder (bge-small layout): learned positions, post-norm blocks, CLS pooling."""
    arch = "bert"
    w = gguf.GGUFWriter(path, arch)
    n_vocab = _copy_tokenizer(w, source / "models" / "ggml-vocab-bert-bge.gguf")
    n_embd, n_layer, n_ff, n_head, n_ctx, n_token_types = 64, 2, 128, 2, 512, 2
    w.add_name("bert-tiny (random weights)")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_layer_norm_eps(1e-12)
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.CLS)

    t = _Tensors(w)
    t.random("token_embd.weight", (n_embd, n_vocab), QT.F16)
    t.random("token_types.weight", (n_embd, n_token_types))
    t.random("position_embd.weight", (n_embd, n_ctx))
    t.const("token_embd_norm.weight", (n_embd,), 1.0)
    t.const("token_embd_norm.bias", (n_embd,), 0.0)
    for il in range(n_layer):
        b = f"blk.{il}."
        for proj in ("attn_q", "attn_k", "attn_v"):
            t.random(b + proj + ".weight", (n_embd, n_embd))
            t.random(b + proj + ".bias", (n_embd,))
        t.random(b + "attn_output.weight", (n_embd, n_embd))
        t.random(b + "attn_output.bias", (n_embd,))
        t.const(b + "attn_output_norm.weight", (n_embd,), 1.0)
        t.const(b + "attn_output_norm.bias", (n_embd,), 0.0)
        t.random(b + "ffn_up.weight", (n_embd, n_ff))
        t.random(b + "ffn_up.bias", (n_ff,))
        t.random(b + "ffn_down.weight", (n_ff, n_embd))
        t.random(b + "ffn_down.bias", (n_embd,))
        t.const(b + "layer_output_norm.weight", (n_embd,), 1.0)
        t.const(b + "layer_output_norm.bias", (n_embd,), 0.0)
    _finish(w)


# The default model (Gemma 3 270M) embeds tokens in 640 dimensions; the projector must match.
GEMMA3_270M_N_EMBD = 640


# The tiny projectors' vision encoders: one shape, only the projector type and its keys differ.
VISION = {"n_embd": 32, "n_layer": 2, "n_ff": 64, "n_head": 2}


def _vision_header(path: Path, name: str, projector: str, projection_dim: int, image_size: int,
                   patch_size: int) -> gguf.GGUFWriter:
    """A clip GGUF's writer with the keys every tiny vision projector has."""
    w = gguf.GGUFWriter(path, "clip")
    w.add_name(f"{name} (random weights)")
    w.add_string("clip.projector_type", projector)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.use_gelu", True)
    w.add_uint32("clip.vision.embedding_length", VISION["n_embd"])
    w.add_uint32("clip.vision.feed_forward_length", VISION["n_ff"])
    w.add_uint32("clip.vision.block_count", VISION["n_layer"])
    w.add_uint32("clip.vision.projection_dim", projection_dim)
    w.add_uint32("clip.vision.attention.head_count", VISION["n_head"])
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    w.add_uint32("clip.vision.image_size", image_size)
    w.add_uint32("clip.vision.patch_size", patch_size)
    w.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    w.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    return w


def write_mmproj_gemma3(path: Path, source: Path) -> None:
    """Gemma 3 vision projector: a SigLIP ViT over 8x8-pixel patches of a 64x64 image,
    2x2 average pooling, RMS norm and a projection into the text model's 640-dim embedding:
    16 image tokens, where the released projector gives 256."""
    n_embd, n_layer, n_ff = VISION["n_embd"], VISION["n_layer"], VISION["n_ff"]
    image_size, patch_size, pooling = 64, 8, 2
    n_patches = (image_size // patch_size) ** 2
    w = _vision_header(path, "mmproj-gemma3-tiny", "gemma3", GEMMA3_270M_N_EMBD, image_size, patch_size)
    w.add_uint32("clip.vision.projector.scale_factor", pooling)

    t = _Tensors(w)
    t.random("v.patch_embd.weight", (patch_size, patch_size, 3, n_embd), QT.F16)
    t.random("v.patch_embd.bias", (n_embd,))
    t.random("v.position_embd.weight", (n_embd, n_patches))
    for il in range(n_layer):
        b = f"v.blk.{il}."
        for proj in ("attn_q", "attn_k", "attn_v", "attn_out"):
            t.random(b + proj + ".weight", (n_embd, n_embd))
            t.random(b + proj + ".bias", (n_embd,))
        for norm in ("ln1", "ln2"):
            t.const(b + norm + ".weight", (n_embd,), 1.0)
            t.const(b + norm + ".bias", (n_embd,), 0.0)
        t.random(b + "ffn_up.weight", (n_embd, n_ff))
        t.random(b + "ffn_up.bias", (n_ff,))
        t.random(b + "ffn_down.weight", (n_ff, n_embd))
        t.random(b + "ffn_down.bias", (n_embd,))
    t.const("v.post_ln.weight", (n_embd,), 1.0)
    t.const("v.post_ln.bias", (n_embd,), 0.0)
    t.const("mm.soft_emb_norm.weight", (n_embd,), 1.0)
    t.random("mm.input_projection.weight", (GEMMA3_270M_N_EMBD, n_embd))
    _finish(w)


# The tiny Qwen3.5 embeds tokens in 32 dimensions; its projector must match.
QWEN35_TINY_N_EMBD = 32


def write_mmproj_qwen3vl(path: Path, source: Path) -> None:
    """Qwen3-VL / Qwen3.5 vision projector (projector type ``qwen3vl_merger``, what llama.cpp's
    converter writes for Qwen3.5): a ViT over 4x4-pixel patches (two temporal conv kernels, as
    the converter splits the released Conv3D), fused QKV with 2-D M-RoPE, 2x2 spatial merge
    and a two-layer MLP into qwen35-tiny's 32-dim embedding; no deepstack layers. A 32x32
    image gives 16 tokens on a 4x4 grid, which take 4 M-RoPE positions in the text model."""
    n_embd, n_layer, n_ff, n_hidden = VISION["n_embd"], VISION["n_layer"], VISION["n_ff"], 64
    image_size, patch_size, merge = 32, 4, 2
    n_patches = (image_size // patch_size) ** 2
    w = _vision_header(path, "mmproj-qwen3vl-tiny", "qwen3vl_merger", QWEN35_TINY_N_EMBD, image_size, patch_size)
    w.add_uint32("clip.vision.spatial_merge_size", merge)

    t = _Tensors(w)
    t.random("v.patch_embd.weight", (patch_size, patch_size, 3, n_embd), QT.F16)
    t.random("v.patch_embd.weight.1", (patch_size, patch_size, 3, n_embd), QT.F16)
    t.random("v.patch_embd.bias", (n_embd,))
    t.random("v.position_embd.weight", (n_embd, n_patches))
    for il in range(n_layer):
        b = f"v.blk.{il}."
        t.random(b + "attn_qkv.weight", (n_embd, 3 * n_embd))
        t.random(b + "attn_qkv.bias", (3 * n_embd,))
        t.random(b + "attn_out.weight", (n_embd, n_embd))
        t.random(b + "attn_out.bias", (n_embd,))
        for norm in ("ln1", "ln2"):
            t.const(b + norm + ".weight", (n_embd,), 1.0)
            t.const(b + norm + ".bias", (n_embd,), 0.0)
        t.random(b + "ffn_up.weight", (n_embd, n_ff))
        t.random(b + "ffn_up.bias", (n_ff,))
        t.random(b + "ffn_down.weight", (n_ff, n_embd))
        t.random(b + "ffn_down.bias", (n_embd,))
    t.const("v.post_ln.weight", (n_embd,), 1.0)
    t.const("v.post_ln.bias", (n_embd,), 0.0)
    t.random("mm.0.weight", (n_embd * merge * merge, n_hidden))
    t.random("mm.0.bias", (n_hidden,))
    t.random("mm.2.weight", (n_hidden, QWEN35_TINY_N_EMBD))
    t.random("mm.2.bias", (QWEN35_TINY_N_EMBD,))
    _finish(w)


def _finish(w: gguf.GGUFWriter) -> None:
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


MODELS = {
    "qwen35-tiny.gguf": write_qwen35,
    "qwen3-tiny.gguf": write_qwen3,
    "gemma4-moe-tiny.gguf": write_gemma4_moe,
    "bert-tiny.gguf": write_bert,
    "mmproj-gemma3-tiny.gguf": write_mmproj_gemma3,
    "mmproj-qwen3vl-tiny.gguf": write_mmproj_qwen3vl,
}


def build(out_dir: Path, source: Path | None = None) -> dict[str, Path]:
    """Write every model into ``out_dir``; returns {file name: path}."""
    source = source or llama_cpp_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, write in MODELS.items():
        path = out_dir / name
        write(path, source)
        paths[name] = path
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--llama-cpp", type=Path, default=None,
                        help="llama.cpp source tree (default: $PYLLM_LLAMA_CPP_DIR or vendor/llama.cpp)")
    args = parser.parse_args(argv)
    for path in build(args.out_dir, args.llama_cpp).values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
