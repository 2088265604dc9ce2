"""Soak: the in-suite load test (tests/api/test_load.py), longer. Starts a real `pyllm serve`,
warms it up, runs N streaming requests from C concurrent clients (a share of them leaving
mid-stream), then checks every completed stream, that all slots are free, and resident
memory against the warmed-up figure.

    python tests/soak/soak.py --requests 3000 --clients 32 --max-tokens 16

Not collected by pytest (no test_ prefix); exits 1 on any failure.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.serving import PyllmServer  # noqa: E402
from tests.api.load import rss_kib, run_load, wait_idle  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--disconnect-share", type=float, default=1 / 3)
    parser.add_argument("--rss-growth", type=float, default=0.10, help="allowed growth over the warmed-up RSS")
    parser.add_argument("serve_args", nargs="*", default=["-np", "8", "-c", "4096"],
                        help="flags for pyllm serve (after --)")
    args = parser.parse_args()

    # Room for twice the clients: see tests/api/test_load.py.
    server = PyllmServer([*args.serve_args, "--max-queued", str(2 * args.clients), "--metrics"])
    try:
        warm = asyncio.run(run_load(server.base_url, n_requests=2 * args.clients, n_clients=args.clients,
                                    max_tokens=args.max_tokens, disconnect_share=args.disconnect_share, seed=1))
        wait_idle(server.base_url)
        rss_warm = rss_kib(server.proc.pid)
        cache_warm = server.metric("pyllm_prompt_cache_bytes")
        started = time.monotonic()
        report = asyncio.run(run_load(server.base_url, n_requests=args.requests, n_clients=args.clients,
                                      max_tokens=args.max_tokens, disconnect_share=args.disconnect_share, seed=2))
        elapsed = time.monotonic() - started
        health = wait_idle(server.base_url, timeout=30)
        rss_after = rss_kib(server.proc.pid)
        # Idle slots' prompts held in host memory (--cache-ram) are memory in use by design.
        cache_grew = int(server.metric("pyllm_prompt_cache_bytes") - cache_warm) // 1024
    finally:
        server.stop()
    failures = warm.failures + report.failures
    print(f"{args.requests} requests, {args.clients} clients, {elapsed:.1f} s "
          f"({args.requests / elapsed:.1f} req/s): {report.completed} completed, {report.cancelled} abandoned, "
          f"{len(failures)} failed")
    print(f"idle after the run: {health}")
    print(f"RSS after warm-up {rss_warm} KiB, after the run {rss_after} KiB ({(rss_after / rss_warm - 1) * 100:+.1f}%); "
          f"the prompt cache grew by {cache_grew} KiB")
    for failure in failures[:10]:
        print(failure, file=sys.stderr)
    return 1 if failures or rss_after > rss_warm * (1 + args.rss_growth) + cache_grew else 0


if __name__ == "__main__":
    sys.exit(main())
