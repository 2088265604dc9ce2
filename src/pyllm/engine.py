"""The serving engine: continuous batching over a loaded model, with sync and async iteration.

Generation runs on a native scheduler thread that never takes the GIL. Each task's output
goes to a native queue; for asyncio consumers the engine writes one byte to a pipe when a
watched queue becomes non-empty, and the event loop's reader drains every ready task in
one native call. Plain ``for`` iteration blocks in native code with the GIL released.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyllm import _core
from pyllm.chat import ChatEvents, render_chat_format
from pyllm.model import Model

# How long a blocking wait sleeps in native code before Python may handle signals (Ctrl-C).
_WAIT_SLICE_MS = 100


class EngineError(_core.PyllmError):
    """A task failed inside the engine (e.g. a decode error); other tasks are unaffected."""


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

    def __init__(self, bridge: AsyncBridge, native: _core.Task) -> None:
        self._bridge = bridge
        self._native = native

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

    async def __aiter__(self) -> AsyncIterator[str]:
        watcher = self._bridge.watch(self._native)
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
        watcher = self._bridge.watch(self._native)
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
        if self._native.finish_reason == "error":
            raise EngineError(self._native.error)


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
    copied back; 0 keeps idle slots in the context, -1 sets no limit.
    """

    def __init__(
        self,
        model: Model,
        *,
        n_parallel: int = 4,
        n_ctx: int = 0,
        n_batch: int = 512,
        n_threads: int = 0,
        flash_attn: bool | None = None,
        max_queued: int = 64,
        cache_ram_mib: int = 8192,
    ) -> None:
        self.model = model
        self._native = _core.Engine(
            model._native,
            n_parallel=n_parallel,
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_threads=n_threads,
            flash_attn=-1 if flash_attn is None else int(flash_attn),
            max_queued=max_queued,
            cache_ram_mib=cache_ram_mib,
        )
        self._bridge = AsyncBridge(self._native)

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

    def submit(
        self,
        prompt: str | Sequence[int],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.8,
        top_p: float = 0.95,
        top_k: int = 40,
        min_p: float = 0.05,
        seed: int | None = None,
        repeat_penalty: float = 1.0,
        repeat_last_n: int = 64,
        presence_penalty: float = 0.0,
        frequency_penalty: float = 0.0,
        logit_bias: Mapping[int, float] | None = None,
        stop: Sequence[str] | None = None,
        ignore_eos: bool = False,
        grammar: str | None = None,
        grammar_lazy: bool = False,
        grammar_triggers: Sequence[tuple[str, str]] | None = None,
        json_schema: Mapping[str, Any] | str | None = None,
        n_probs: int = 0,
        preserved_tokens: Sequence[int] | None = None,
        processor: Any = None,
        chat: Any = None,
        reasoning_budget_tokens: int | None = None,
    ) -> Task:
        """Queue a generation. Raises ContextOverflowError, EngineOverloadedError or InvalidRequestError.

        ``temperature <= 0`` samples greedily. ``grammar`` is GBNF; ``json_schema`` is
        compiled to one. ``grammar_lazy`` applies the grammar only after one of
        ``grammar_triggers`` (``("word"|"pattern"|"pattern_full"|"token", value)``) appears.
        ``preserved_tokens`` are special tokens rendered as text in the output.
        ``chat`` (a rendered chat request) supplies the prompt when ``prompt`` is empty, and
        its tool-call grammar, stops and markers; ``processor`` turns the output into payloads.
        ``reasoning_budget_tokens`` (with ``chat``) bounds the thinking of a reasoning template.
        """
        if isinstance(json_schema, Mapping):
            json_schema = json.dumps(json_schema)
        native = self._native.submit(
            self.tokenize_prompt(prompt),
            max_tokens=-1 if max_tokens is None else max_tokens,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            min_p=min_p,
            seed=seed,
            repeat_penalty=repeat_penalty,
            repeat_last_n=repeat_last_n,
            presence_penalty=presence_penalty,
            frequency_penalty=frequency_penalty,
            logit_bias=dict(logit_bias or {}),
            stop=list(stop or []),
            ignore_eos=ignore_eos,
            grammar=grammar or "",
            grammar_lazy=grammar_lazy,
            grammar_triggers=list(grammar_triggers or []),
            json_schema=json_schema or "",
            n_probs=n_probs,
            preserved_tokens=list(preserved_tokens or []),
            processor=processor,
            chat=chat,
            reasoning_budget_tokens=-1 if reasoning_budget_tokens is None else reasoning_budget_tokens,
        )
        return Task(self._bridge, native)

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
        of :meth:`submit`.
        """
        output_format = render_chat_format(
            self.model, messages, tools, enable_thinking=enable_thinking, tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
        )
        return ChatEvents(self.submit_chat(output_format, _core.events_processor(output_format), **params))

    def submit_chat(self, output_format: Any, processor: Any, **params: Any) -> Task:
        """Queue a rendered chat request whose output goes through ``processor`` (a native
        parser + protocol encoder); the task's payloads are what the processor produces."""
        return self.submit([], chat=output_format, processor=processor, **params)

    def generate(self, prompt: str | Sequence[int], **params: Any) -> Completion:
        """Submit and wait: the whole text and the result."""
        task = self.submit(prompt, **params)
        text = "".join(task)
        return Completion(text=text, result=task.result())

    async def agenerate(self, prompt: str | Sequence[int], **params: Any) -> Completion:
        task = self.submit(prompt, **params)
        text = "".join([piece async for piece in task])
        return Completion(text=text, result=task.result())

    def close(self) -> None:
        """Stop the scheduler; unfinished tasks end as cancelled."""
        self._bridge.close()
        self._native.shutdown()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
