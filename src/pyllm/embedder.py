"""Pooled embeddings: a native embedder with its own llama context over a loaded model.

Every input is its own sequence; a native scheduler thread packs the inputs of all pending
requests into each ``llama_decode`` (one input from each request in turn). Vectors come
back as one float32 numpy array that owns the native buffer: no Python object per element.
A request completes through the same native task and wake-up fd as a generation, so it is
awaited, cancelled and interrupted the same way.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pyllm import _core
from pyllm.engine import AsyncBridge, Task
from pyllm.model import Model

Inputs = str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]] | np.ndarray


class EmbeddingJob:
    """One submitted request. ``task`` is its completion (wait on it, ``async for`` it, cancel
    it); :meth:`vectors` then gives the [n_inputs, n_dims] float32 array."""

    def __init__(self, bridge: AsyncBridge, native: Any) -> None:
        self._native = native
        self.task = Task(bridge, native.completion)
        self._vectors: np.ndarray | None = None

    @property
    def n_inputs(self) -> int:
        return self._native.n_inputs

    @property
    def n_tokens(self) -> int:
        """Tokens of all inputs (after truncation): the request's ``prompt_tokens``."""
        return self._native.n_tokens

    def input_lengths(self) -> list[int]:
        return self._native.input_lengths()

    def cancel(self) -> None:
        self.task.cancel()

    def vectors(self) -> np.ndarray:
        """The vectors of a finished job. Raises EngineError when it failed, and
        :class:`pyllm.PyllmError` when it was cancelled."""
        if self._vectors is None:
            self.task.raise_if_failed()
            reason = self.task.result().finish_reason
            if reason != "stop":
                raise _core.PyllmError(f"embedding request {self.task.id} ended: {reason}")
            self._vectors = self._native.take_vectors()
        return self._vectors

    def wait(self, timeout: float | None = None) -> np.ndarray:
        """Block until done (Ctrl-C is handled); the vectors."""
        self.task.wait(timeout)
        return self.vectors()

    async def wait_async(self) -> np.ndarray:
        """Await completion on the event loop's wake-up fd; the vectors. Cancelling the
        awaiting coroutine cancels the request."""
        async for _ in self.task:
            pass
        return self.vectors()


class Embedder:
    """Embeddings of ``model`` through llama.cpp's pooling (``llama_set_embeddings``).

    ``pooling``: ``"mean"``, ``"cls"``, ``"last"`` or ``"rank"`` (a reranker's scores); None
    takes the model's own, or mean for a model that names none (a generative model such as
    Gemma 3). ``n_batch`` is the most tokens decoded at once and the longest input (capped at
    the model's training context); ``n_seq_max`` the most inputs decoded together (0: 256).
    ``max_queued`` bounds unfinished requests; past it, ``submit`` raises
    :class:`pyllm.EngineOverloadedError`. ``flash_attn`` is off by default (None: llama.cpp
    decides): llama.cpp's CPU flash-attention kernel makes a vector depend on what it is
    batched with (cosine 0.998 to the vector alone); without it, cosine 0.99997.
    """

    def __init__(
        self,
        model: Model,
        *,
        pooling: str | None = None,
        n_batch: int = 512,
        n_seq_max: int = 0,
        n_threads: int = 0,
        flash_attn: bool | None = False,
        max_queued: int = 64,
    ) -> None:
        self.model = model
        self._native = _core.Embedder(
            model._native, n_batch=n_batch, n_seq_max=n_seq_max, n_threads=n_threads,
            flash_attn=-1 if flash_attn is None else int(flash_attn), pooling=pooling or "", max_queued=max_queued)
        self._bridge = AsyncBridge(self._native)

    @property
    def n_dims(self) -> int:
        """Floats per vector: the model's embedding size (its classifier outputs for rank)."""
        return self._native.n_dims

    @property
    def pooling(self) -> str:
        return self._native.pooling

    @property
    def max_input_tokens(self) -> int:
        """The longest input in tokens; longer ones are refused or, with ``truncate``, cut."""
        return self._native.max_input_tokens

    def stats(self) -> dict[str, int]:
        """Unfinished requests (``queued``), and requests, inputs, tokens and decode calls so far."""
        return self._native.stats()

    def submit(self, inputs: Inputs, *, normalize: bool = True, truncate: bool = False) -> EmbeddingJob:
        """Queue ``inputs``: a text, texts, a list of token ids, or lists (or int arrays) of
        them. Texts get the model's special tokens (BOS, or BERT's CLS/SEP) as llama-server
        adds them. ``normalize`` scales every vector to unit L2 norm.

        Raises ContextOverflowError (an input over :attr:`max_input_tokens` without
        ``truncate``), InvalidRequestError (nothing to embed, an empty input, a token outside
        the vocabulary) or EngineOverloadedError.
        """
        if isinstance(inputs, str):
            native = self._native.submit_texts([inputs], normalize, truncate)
        elif isinstance(inputs, np.ndarray) and inputs.ndim == 1:
            native = self._native.submit([inputs.tolist()], normalize, truncate)
        elif len(inputs) and all(isinstance(x, str) for x in inputs):
            native = self._native.submit_texts(list(inputs), normalize, truncate)  # type: ignore[arg-type]
        elif len(inputs) and all(isinstance(x, (int, np.integer)) for x in inputs):
            native = self._native.submit([list(inputs)], normalize, truncate)  # type: ignore[arg-type]
        else:
            rows = [x.tolist() if isinstance(x, np.ndarray) else list(x) for x in inputs]  # type: ignore[union-attr]
            native = self._native.submit(rows, normalize, truncate)
        return EmbeddingJob(self._bridge, native)

    def embed(self, inputs: Inputs, *, normalize: bool = True, truncate: bool = False) -> np.ndarray:
        """Submit and wait: float32 array [n_inputs, n_dims]."""
        job = self.submit(inputs, normalize=normalize, truncate=truncate)
        try:
            return job.wait()
        finally:
            job.cancel()  # no-op when finished; an interrupted wait (Ctrl-C) frees the batch slots

    async def aembed(self, inputs: Inputs, *, normalize: bool = True, truncate: bool = False) -> np.ndarray:
        return await self.submit(inputs, normalize=normalize, truncate=truncate).wait_async()

    def close(self) -> None:
        """Stop the scheduler; unfinished requests end as cancelled."""
        self._bridge.close()
        self._native.shutdown()

    def __enter__(self) -> Embedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
