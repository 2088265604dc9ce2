"""Native->asyncio delivery cost: our queue + wake-up fd + batched drain against a
per-item ``loop.run_in_executor`` hop, over the same native tasks, in the same run.

A native thread (no model) emits payloads into tasks exactly as the scheduler does.
``burst``: payloads as fast as the producer can, wall time per delivered item.
``paced``: one payload per task every ``interval`` us (a token stream), so every item
is its own wake-up; process CPU time per delivered item, the producer thread's own CPU
time left out. For paced streams the floor is measured too: the least any fd-based
hand-over can cost, a bare ``loop.add_reader`` callback on a pipe that a Python thread
writes, waking one future per item (no native code, no payload).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
from collections import deque
from typing import Any

from pyllm import _bench
from pyllm.engine import AsyncBridge, Task


async def _ours(n_tasks: int, n_items: int, payload: int, interval_us: int) -> tuple[int, float]:
    producer = _bench.SyntheticProducer(n_tasks)
    bridge = AsyncBridge(producer)

    async def consume(task: Task) -> int:
        return sum([1 async for _ in task])

    consumers = [asyncio.ensure_future(consume(Task(bridge, t))) for t in producer.tasks]
    await asyncio.sleep(0)
    producer.start(n_items, payload, interval_us)
    counts = await asyncio.gather(*consumers)
    producer.join()
    bridge.close()
    return sum(counts), producer.producer_cpu_seconds


async def _executor_hop(n_tasks: int, n_items: int, payload: int, interval_us: int) -> tuple[int, float]:
    producer = _bench.SyntheticProducer(n_tasks)
    loop = asyncio.get_running_loop()

    async def consume(native: Any) -> int:
        buffered: deque[str] = deque()

        def next_item() -> str | None:
            while not buffered:
                items, done = native.wait(-1)
                buffered.extend(items)
                if done and not buffered:
                    return None
            return buffered.popleft()

        count = 0
        while await loop.run_in_executor(None, next_item) is not None:
            count += 1
        return count

    consumers = [asyncio.ensure_future(consume(t)) for t in producer.tasks]
    await asyncio.sleep(0)
    producer.start(n_items, payload, interval_us)
    counts = await asyncio.gather(*consumers)
    producer.join()
    return sum(counts), producer.producer_cpu_seconds


async def _wakeup_floor(n_tasks: int, n_items: int, payload: int, interval_us: int) -> tuple[int, float]:
    """One stream's items as bytes on a pipe written by a Python thread; the loop's reader
    wakes the consumer's future (``n_tasks`` and ``payload`` are not used)."""
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    received = 0
    waiter: asyncio.Future[None] | None = None
    producer_cpu = 0.0

    def on_readable() -> None:
        nonlocal received
        received += len(os.read(read_fd, 4096))
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def produce() -> None:
        nonlocal producer_cpu
        start = time.thread_time()
        for _ in range(n_items):
            os.write(write_fd, b"x")
            time.sleep(interval_us / 1e6)
        producer_cpu = time.thread_time() - start

    loop.add_reader(read_fd, on_readable)
    thread = threading.Thread(target=produce)
    thread.start()
    while received < n_items:
        waiter = loop.create_future()
        await waiter
    waiter = None
    thread.join()
    loop.remove_reader(read_fd)
    os.close(read_fd)
    os.close(write_fd)
    return received, producer_cpu


def _measure(fn: Any, n_tasks: int, n_items: int, payload: int, interval_us: int) -> dict[str, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    delivered, producer_cpu = asyncio.run(fn(n_tasks, n_items, payload, interval_us))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0 - producer_cpu
    assert delivered == (n_items if fn is _wakeup_floor else n_tasks * n_items), delivered
    return {"wall_us_per_item": wall / delivered * 1e6, "cpu_us_per_item": cpu / delivered * 1e6}


def run(n_items: int = 20000, repeats: int = 3) -> list[dict[str, Any]]:
    results = []
    scenarios = [("burst", 1, 0), ("burst", 8, 0), ("paced", 1, 200), ("paced", 8, 200)]
    for mode, n_tasks, interval in scenarios:
        items = n_items if mode == "burst" else max(1, n_items // 10)
        metric = "wall_us_per_item" if mode == "burst" else "cpu_us_per_item"
        ours, hop, floor = [], [], []
        for _ in range(repeats):  # alternate, keep the best of each
            ours.append(_measure(_ours, n_tasks, items, 16, interval)[metric])
            hop.append(_measure(_executor_hop, n_tasks, items, 16, interval)[metric])
            if mode == "paced" and n_tasks == 1:
                floor.append(_measure(_wakeup_floor, n_tasks, items, 16, interval)[metric])
        results.append({
            "mode": mode, "tasks": n_tasks, "items_per_task": items, "metric": metric,
            "ours_us": min(ours), "executor_hop_us": min(hop), "ratio": min(hop) / min(ours),
            "wakeup_floor_us": min(floor) if floor else None,
        })
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyllm.bench bridge", description=__doc__)
    parser.add_argument("--items", type=int, default=20000, help="payloads per task in burst mode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.items, args.repeats)
    if args.json:
        print(json.dumps({"results": results}, indent=2))
        return 0
    print("| mode | tasks | metric | ours (us/item) | run_in_executor hop (us/item) | hop / ours "
          "| bare reader wake-up (us/item) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        floor = "" if r["wakeup_floor_us"] is None else f"{r['wakeup_floor_us']:.2f}"
        print(f"| {r['mode']} | {r['tasks']} | {r['metric']} | {r['ours_us']:.2f} | {r['executor_hop_us']:.2f} "
              f"| {r['ratio']:.1f}x | {floor} |")
    return 0
