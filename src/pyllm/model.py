"""A loaded GGUF model: tokenizer, metadata and chat templates."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np

from pyllm import _core


class Model:
    """A GGUF model loaded through llama.cpp.

    Loading a missing, truncated or non-GGUF file raises :class:`pyllm.ModelLoadError`
    naming the path and the reason. ``n_gpu_layers=-1`` offloads every layer to the GPU or
    RPC devices. The device options follow llama-server: ``main_gpu`` (``-mg``),
    ``split_mode`` (``-sm``: none, layer, row), ``tensor_split`` (``-ts``: proportions per
    device), ``devices`` (``--device``: names as :func:`pyllm.devices` lists them;
    ``["none"]`` for none). Asking for offload (any of them, or ``n_gpu_layers != 0``) where
    there is no device to offload to raises ValueError saying why, never runs on the CPU.
    ``progress`` is called with the loaded fraction (0..1) while the weights load; an
    exception it raises (Ctrl-C included) aborts the load. ``repack=False`` (``-nr``) keeps
    CPU weights in their GGUF layout: repacked ones are faster, but their kernels sum in
    another order, so a greedy output can differ from a run on RPC or GPU devices.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_gpu_layers: int = 0,
        main_gpu: int | None = None,
        use_mmap: bool = True,
        use_mlock: bool = False,
        vocab_only: bool = False,
        chat_template: str | None = None,
        progress: Callable[[float], None] | None = None,
        split_mode: str | None = None,
        tensor_split: Sequence[float] = (),
        devices: Sequence[str] | None = None,
        repack: bool = True,
    ) -> None:
        self._native = _core.Model(
            os.fspath(path),
            n_gpu_layers=n_gpu_layers,
            main_gpu=main_gpu,
            split_mode=split_mode,
            tensor_split=list(tensor_split),
            devices=list(devices) if devices is not None else None,
            use_mmap=use_mmap,
            use_mlock=use_mlock,
            vocab_only=vocab_only,
            chat_template=chat_template or "",
            progress=progress,
            repack=repack,
        )

    @classmethod
    def from_template(cls, template_source: str, vocab_path: str | os.PathLike[str]) -> Model:
        """A tokenizer-only model (no weights) that renders ``template_source``.

        Pairs a chat template with a real tokenizer, e.g. the templates and
        ``ggml-vocab-*.gguf`` files under ``vendor/llama.cpp/models/``.
        """
        return cls(vocab_path, vocab_only=True, chat_template=template_source)

    @property
    def path(self) -> str:
        return self._native.path

    @property
    def vocab_only(self) -> bool:
        return self._native.vocab_only

    @property
    def offloaded_layers(self) -> int:
        """Layers llama.cpp offloaded (of ``n_layer + 1``: the output layer counts), or -1
        when this build cannot offload."""
        return self._native.offloaded_layers

    @property
    def weight_buffers(self) -> dict[str, int]:
        """Bytes of weights per buffer, e.g. ``{"RPC0[127.0.0.1:50052]": ..., "CPU_Mapped": ...}``:
        where the model went."""
        return dict(self._native.weight_buffers)

    @property
    def architecture(self) -> str:
        """``general.architecture`` from the GGUF, e.g. ``"gemma3"``."""
        return self._native.architecture

    @property
    def description(self) -> str:
        return self._native.description

    @property
    def n_ctx_train(self) -> int:
        """The context length the model was trained with."""
        return self._native.n_ctx_train

    @property
    def n_params(self) -> int:
        return self._native.n_params

    @property
    def n_vocab(self) -> int:
        return self._native.n_vocab

    @property
    def n_embd(self) -> int:
        return self._native.n_embd

    @property
    def n_layer(self) -> int:
        return self._native.n_layer

    @property
    def size_bytes(self) -> int:
        return self._native.size_bytes

    @property
    def chat_template(self) -> str:
        """The jinja source of the chat template in use (the override, or the model's own)."""
        return self._native.chat_template

    @property
    def bos_token(self) -> str:
        """Text of the beginning-of-sequence token, as templates receive it (``""`` if none)."""
        return self._native.bos_token

    @property
    def eos_token(self) -> str:
        """Text of the end-of-sequence token, as templates receive it (``""`` if none)."""
        return self._native.eos_token

    @property
    def add_bos(self) -> bool:
        """Whether tokenizing with ``add_special=True`` prepends BOS (templates' own BOS is then dropped)."""
        return self._native.add_bos

    def chat_template_caps(self) -> dict[str, bool]:
        """What llama.cpp detected the chat template can do (``supports_tool_calls``, ...)."""
        return self._native.chat_template_caps()

    def metadata(self) -> dict[str, str]:
        """Every GGUF key/value pair, values rendered as strings (long arrays are elided by llama.cpp)."""
        return self._native.metadata()

    @overload
    def tokenize(self, text: str, add_special: bool = ..., parse_special: bool = ...,
                 as_array: Literal[False] = ...) -> list[int]: ...
    @overload
    def tokenize(self, text: str, add_special: bool = ..., parse_special: bool = ..., *,
                 as_array: Literal[True]) -> np.ndarray: ...

    def tokenize(self, text: str, add_special: bool = False, parse_special: bool = True,
                 as_array: bool = False) -> list[int] | np.ndarray:
        """Token ids for ``text``. ``parse_special`` turns text such as ``<start_of_turn>`` into its special token.
        ``as_array``: an int32 numpy array holding the native buffer, no Python int per token."""
        if as_array:
            return _core.tokenize_array(self._native, text, add_special, parse_special)
        return self._native.tokenize(text, add_special, parse_special)

    def detokenize(self, tokens: Sequence[int], render_special: bool = True) -> str:
        """The text of ``tokens``; special tokens are rendered as their text unless ``render_special`` is false."""
        return self._native.detokenize(list(tokens), render_special)

    def render_chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        enable_thinking: bool | None = None,
        add_generation_prompt: bool = True,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Render ``messages`` and return the prompt with what llama.cpp derived from the template.

        Keys: ``prompt``, ``format``, ``generation_prompt``, ``supports_thinking``,
        ``thinking_start_tag``, ``thinking_end_tags``, ``grammar``, ``grammar_lazy``,
        ``preserved_tokens``, ``additional_stops``.
        """
        return self._native.render_chat(
            json.dumps(list(messages)),
            json.dumps(list(tools)) if tools else "",
            enable_thinking,
            add_generation_prompt,
            {key: json.dumps(value) for key, value in kwargs.items()},
        )

    def apply_chat_template(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        enable_thinking: bool | None = None,
        add_generation_prompt: bool = True,
        **kwargs: Any,
    ) -> str:
        """The prompt for OpenAI-style ``messages`` rendered by llama.cpp's jinja chat templates.

        ``enable_thinking=None`` keeps the template's default (thinking on where the template
        has a switch). Extra keyword arguments become template variables, as
        ``chat_template_kwargs`` do in llama-server.
        """
        return self.render_chat(messages, tools, enable_thinking, add_generation_prompt, **kwargs)["prompt"]

    def __repr__(self) -> str:
        kind = "vocab-only " if self.vocab_only else ""
        return f"<pyllm.Model {kind}{self.architecture} {self.path!r}>"
