"""The serving engine: continuous batching over a loaded model, with sync and async iteration.

Generation runs on a native scheduler thread that never takes the GIL. Each task's output
goes to a native queue; for asyncio consumers the engine writes one byte to a pipe when a
watched queue becomes non-empty, and the event loop's reader drains every ready task in
one native call. Plain ``for`` iteration blocks in native code with the GIL released.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyllm import _core
from pyllm.chat import ChatEvents, chat_request, sampling_params
from pyllm.model import Model

# How long a blocking wait sleeps in native code before Python may handle signals (Ctrl-C).
_WAIT_SLICE_MS = 100


EngineError = _core.EngineError  # a task failed inside the engine; other tasks are unaffected


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Timings:
    queue_ms: float
    prefill_ms: float
    decode_ms: float


@dataclass(frozen=True)
class TaskResult:
    finish_reason: str  # stop | length | context_full | stop_sequence | cancelled | error
    stop_sequence: str | None
    usage: Usage
    timings: Timings


@dataclass(frozen=True)
class Completion:
    text: str
    result: TaskResult


class Task:
    """One generation request. Iterate it (``for`` or ``async for``) for its output pieces.

    Leaving the iteration early (``break``, an exception, a cancelled coroutine) cancels the
    task, so a disconnected client frees its slot within one decode step.
    """

    def __init__(self, bridge: AsyncBridge, native: _core.Task, watcher: _AsyncWatcher | None = None) -> None:
        self._bridge = bridge
        self._native = native
        self._watcher = watcher  # set when asyncio already watches it (Engine.asubmit)

    @property
    def id(self) -> int:
        return self._native.id

    @property
    def done(self) -> bool:
        return self._native.done

    def cancel(self) -> None:
        self._native.cancel()

    def __iter__(self) -> Iterator[str]:
        finished = False
        try:
            while True:
                items, finished = self._native.wait(_WAIT_SLICE_MS)
                yield from items
                if finished:
                    break
        finally:
            if not finished:
                self.cancel()
        self._raise_if_failed()

    def _watch(self) -> _AsyncWatcher:
        watcher, self._watcher = self._watcher, None
        return watcher or self._bridge.watch(self._native)

    async def __aiter__(self) -> AsyncIterator[str]:
        watcher = self._watch()
        finished = False
        try:
            while True:
                items, finished = await watcher.next_batch()
                for item in items:
                    yield item
                if finished:
                    break
        finally:
            self._bridge.unwatch(self.id)
            if not finished:
                self.cancel()
        self._raise_if_failed()

    @contextlib.contextmanager
    def batches(self) -> Iterator[_AsyncWatcher]:
        """Lower-level asyncio access for servers: ``await w.next_batch()`` gives every
        payload ready in one list (no per-item step), ``w.wake()`` ends a wait early (pings,
        interruptions). Leaving the block unfinished cancels the task; call
        :meth:`raise_if_failed` after the last batch."""
        watcher = self._watch()  # the one Engine.asubmit made holds what arrived meanwhile
        try:
            yield watcher
        finally:
            self._bridge.unwatch(self.id)
            self.cancel()  # no-op when finished

    def raise_if_failed(self) -> None:
        """Raises :class:`EngineError` when the task ended in an engine failure."""
        self._raise_if_failed()

    def wait(self, timeout: float | None = None) -> TaskResult:
        """Block until the task is done (output not consumed stays unread); return its result."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._native.wait_done(_WAIT_SLICE_MS):  # slices: Ctrl-C is handled between them
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"task {self.id} not done after {timeout} s")
        return self.result()

    def result(self) -> TaskResult:
        """The outcome; complete once the task is done."""
        n = self._native
        return TaskResult(
            finish_reason=n.finish_reason,
            stop_sequence=n.stop_sequence or None,
            usage=Usage(**n.usage()),
            timings=Timings(**n.timings()),
        )

    def logprobs(self, start: int = 0) -> list[dict[str, Any]]:
        """Per generated token from ``start`` on (when submitted with ``n_probs``): token,
        logprob, top alternatives."""
        return self._native.logprobs(start)

    def _raise_if_failed(self) -> None:
        self._native.raise_if_failed()


class _AsyncWatcher:
    """Output handed over by the loop's reader, awaited by one ``async for``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._items: list[str] = []
        self._done = False
        self._woken = False
        # A bare future per wait: the one consumer needs no Event's waiter bookkeeping,
        # and this runs once per token of a paced stream.
        self._waiter: asyncio.Future[None] | None = None

    def deliver(self, items: list[str], done: bool) -> None:
        self._items.extend(items)
        self._done = self._done or done
        self.wake()

    def wake(self) -> None:
        """Ends the current (or next) ``next_batch`` wait, with no new items if none came."""
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def news(self) -> None:
        """Waits until there is output, the task is done, or ``wake()``; takes nothing."""
        if not self._items and not self._done and not self._woken:
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._woken = False

    async def next_batch(self) -> tuple[list[str], bool]:
        """Every payload ready and whether the task is done; waits until there is one, or
        until ``wake()``."""
        if not self._items and not self._done and not self._woken:
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._woken = False
        items, self._items = self._items, []
        return items, self._done


class AsyncBridge:
    """Delivers native task output to coroutines: one reader per event loop on the native
    wake-up fd, draining every ready task in one native call.

    ``source`` is the native side (an engine, or a synthetic producer in benchmarks) with
    ``wakeup_fd``, ``watch(task)`` and ``drain()``.
    """

    def __init__(self, source: Any) -> None:
        self._source = source
        self._watchers: dict[int, _AsyncWatcher] = {}
        self._loops: set[asyncio.AbstractEventLoop] = set()
        self._lock = threading.Lock()

    def watch(self, native_task: Any) -> _AsyncWatcher:
        loop = asyncio.get_running_loop()
        with self._lock:
            self._loops = {known for known in self._loops if not known.is_closed()}
            if loop not in self._loops:
                loop.add_reader(self._source.wakeup_fd, self._on_wakeup)
                self._loops.add(loop)
            watcher = _AsyncWatcher(loop)
            self._watchers[native_task.id] = watcher
        self._source.watch(native_task)
        return watcher

    def unwatch(self, task_id: int) -> None:
        with self._lock:
            self._watchers.pop(task_id, None)

    def close(self) -> None:
        for loop in self._loops:
            if not loop.is_closed():
                loop.call_soon_threadsafe(loop.remove_reader, self._source.wakeup_fd)
        self._loops.clear()

    def _on_wakeup(self) -> None:
        current = asyncio.get_running_loop()
        for task_id, items, done in self._source.drain():
            watcher = self._watchers.get(task_id)
            if watcher is None:
                continue  # its consumer has gone; the task is being cancelled
            if watcher.loop is current:
                watcher.deliver(items, done)
            else:
                watcher.loop.call_soon_threadsafe(watcher.deliver, items, done)


class Engine:
    """Continuous-batching generation over ``model`` with ``n_parallel`` slots.

    ``n_ctx`` is the total context (0: the model's training context), split evenly over
    the slots. ``max_queued`` bounds the tasks waiting for a slot; past it, ``submit``
    raises :class:`pyllm.EngineOverloadedError`. ``cache_ram_mib`` is host memory for the
    KV of idle slots: when a task starts, idle slots are copied out of the context (every
    decode attends over all the cells in use) and a later prompt that continues one is
    copied back; 0 keeps idle slots in the context, -1 sets no limit. It also holds the context
    checkpoints taken while prompts are decoded, for memory that cannot simply be cut back to a
    shared prefix: recurrent and hybrid models, and sliding-window models (Gemma 3), whose
    window layers keep only the last window. ``swa_full=True`` (llama-server's ``--swa-full``)
    keeps a sliding-window model's whole context in its window layers instead: any prefix can
    be reused without checkpoints, but the KV cache is the full size in every layer, and idle
    slots are not saved (the most recently used one stays in the context). ``ctx_checkpoints``
    (llama-server's ``--ctx-checkpoints``) bounds the checkpoints kept per slot, oldest dropped
    first; 0 takes none (a hybrid model then decodes every prompt whole, a sliding-window model
    gets the full-size window cache). ``max_stall_ms``: while
    tasks generate, another prompt's prefill goes in chunks sized so that a step takes about
    this long, so running streams keep getting tokens (0, the default: chunks of ``n_batch``;
    on a CPU small chunks cost prefill speed). An option left out (or None) takes the native
    engine's default (``pyllm._core.ENGINE_DEFAULTS``).

    ``mmproj`` loads a multimodal projector GGUF for ``model`` (llama-server's ``--mmproj``)
    through llama.cpp's mtmd library: chat messages can then carry images.
    ``image_max_pixels`` bounds an input image's width x height (0: no limit);
    ``mmproj_offload=False`` keeps the projector on the CPU.

    ``grammar`` (GBNF, llama-server's ``--grammar``) constrains every request that brings no
    grammar, JSON schema or forced tool call of its own; for such a request it also takes the
    place of the lazy tool-call grammar of ``tool_choice`` auto (a grammar can spell a tool call
    in the template's syntax, which is then parsed as usual). A grammar that does not parse
    raises :class:`pyllm.InvalidRequestError` here.
    """

    def __init__(
        self,
        model: Model,
        *,
        n_parallel: int | None = None,
        n_ctx: int | None = None,
        n_batch: int | None = None,
        n_threads: int | None = None,
        flash_attn: bool | None = None,
        max_queued: int | None = None,
        cache_ram_mib: int | None = None,
        swa_full: bool | None = None,
        ctx_checkpoints: int | None = None,
        max_stall_ms: int | None = None,
        mmproj: str | os.PathLike[str] | None = None,
        image_max_pixels: int | None = None,
        mmproj_offload: bool | None = None,
        grammar: str | None = None,
    ) -> None:
        self.model = model
        options = {"n_parallel": n_parallel, "n_ctx": n_ctx, "n_batch": n_batch, "n_threads": n_threads,
                   "max_queued": max_queued, "cache_ram_mib": cache_ram_mib, "swa_full": swa_full,
                   "ctx_checkpoints": ctx_checkpoints, "max_stall_ms": max_stall_ms,
                   "mmproj": None if mmproj is None else os.fspath(mmproj), "image_max_pixels": image_max_pixels,
                   "mmproj_offload": mmproj_offload, "grammar": grammar}
        self._native = _core.Engine(
            model._native,
            flash_attn=-1 if flash_attn is None else int(flash_attn),
            **{name: value for name, value in options.items() if value is not None},
        )
        self._bridge = AsyncBridge(self._native)
        self._embedder: Any = None  # made on the first embed(): a context of its own
        self._embedder_lock = threading.Lock()

    @property
    def vision(self) -> bool:
        """Whether chat messages may carry images (a multimodal projector is loaded)."""
        return self._native.vision

    @property
    def n_ctx_slot(self) -> int:
        """Context available to one task: prompt plus generated tokens."""
        return self._native.n_ctx_slot

    def stats(self) -> dict[str, int]:
        """Slots, busy slots, queued tasks, per-slot context, decode calls so far, idle slots'
        prompts saved in host memory and their bytes."""
        return self._native.stats()

    def tokenize_prompt(self, prompt: str | Sequence[int]) -> list[int]:
        """Token ids of a prompt; text is tokenized with BOS and special tokens parsed."""
        if isinstance(prompt, str):
            return self.model.tokenize(prompt, add_special=True, parse_special=True)
        return list(prompt)

    def submit(self, prompt: str | Sequence[int], **params: Any) -> Task:
        """Queue a generation from a raw prompt (text, tokenized with BOS and special tokens
        parsed, or token ids). Raises ContextOverflowError, EngineOverloadedError or
        InvalidRequestError.

        Keywords are :class:`pyllm._core.SamplingParams` fields: ``max_tokens``,
        ``temperature`` (``<= 0`` samples greedily), ``top_p``, ``top_k``, ``min_p``, ``seed``,
        penalties, ``logit_bias``, ``stop``, ``ignore_eos``, ``grammar`` (GBNF),
        ``json_schema`` (compiled to one), ``grammar_lazy`` with ``grammar_triggers``
        (``("word"|"pattern"|"pattern_full"|"token", value)``), ``n_probs``,
        ``preserved_tokens`` (special tokens rendered as text).
        """
        if isinstance(prompt, str):
            request = _core.ChatRequest(prompt_text=prompt)
        else:
            request = _core.ChatRequest(prompt_tokens=list(prompt))
        request.sampling = sampling_params(**params)
        return self.submit_request(request)

    def submit_request(self, request: _core.ChatRequest) -> Task:
        """Queue a native request, blocking (GIL released) until it is prepared; raises what
        refused it."""
        native = self._native.submit(request)
        while not native.wait_prepared(_WAIT_SLICE_MS):  # slices: Ctrl-C is handled between them
            pass
        native.raise_if_refused()
        return Task(self._bridge, native)

    async def asubmit(self, request: _core.ChatRequest) -> Task:
        """Queue a native request from a coroutine: it is rendered and tokenized on a native
        worker while the event loop goes on; raises what refused it."""
        native = self._native.submit(request)
        watcher = self._bridge.watch(native)
        try:
            while not native.prepared and not native.done:
                await watcher.news()
            native.raise_if_refused()
        except BaseException:
            self._bridge.unwatch(native.id)
            native.cancel()
            raise
        return Task(self._bridge, native, watcher)

    async def count_tokens(self, request: _core.ChatRequest) -> int:
        """Prompt tokens of a request as it would be submitted, counted off the event loop."""
        return await asyncio.to_thread(self._native.count_tokens, request)

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        *,
        enable_thinking: bool | None = None,
        tool_choice: str = "auto",
        parallel_tool_calls: bool = True,
        **params: Any,
    ) -> ChatEvents:
        """Run a conversation through the model's chat template; iterate the parsed events.

        Reasoning, content and tool calls are split by the native parser as tokens arrive.
        ``tool_choice="required"`` forces a tool call by grammar. Sampling keywords are those
        of :meth:`submit`; ``reasoning_budget_tokens`` bounds a reasoning template's thinking.
        """
        request = chat_request(
            messages, tools, enable_thinking=enable_thinking, tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls, sampling=sampling_params(**params),
            output=_core.OutputSpec(protocol=_core.Protocol.events),
        )
        return ChatEvents(self.submit_request(request))

    def generate(self, prompt: str | Sequence[int], **params: Any) -> Completion:
        """Submit and wait: the whole text and the result."""
        task = self.submit(prompt, **params)
        text = "".join(task)
        return Completion(text=text, result=task.result())

    async def agenerate(self, prompt: str | Sequence[int], **params: Any) -> Completion:
        task = self.submit(prompt, **params)
        text = "".join([piece async for piece in task])
        return Completion(text=text, result=task.result())

    @property
    def embedder(self) -> Any:
        """The :class:`pyllm.Embedder` over this engine's model (its defaults: the model's
        pooling, or mean), made on first use."""
        with self._embedder_lock:
            if self._embedder is None:
                from pyllm.embedder import Embedder  # noqa: PLC0415 - it builds on this module

                self._embedder = Embedder(self.model)
            return self._embedder

    def embed(self, texts: Any, normalize: bool = True, **params: Any) -> Any:
        """Pooled embeddings of ``texts`` as a float32 numpy array [n_inputs, n_dims]; see
        :meth:`pyllm.Embedder.embed`."""
        return self.embedder.embed(texts, normalize=normalize, **params)

    async def aembed(self, texts: Any, normalize: bool = True, **params: Any) -> Any:
        return await self.embedder.aembed(texts, normalize=normalize, **params)

    def close(self) -> None:
        """Stop the scheduler (and the embedder's); unfinished tasks end as cancelled."""
        self._bridge.close()
        self._native.shutdown()
        if self._embedder is not None:
            self._embedder.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
