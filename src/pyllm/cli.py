"""The ``pyllm`` command. ``pyllm info`` loads a model and prints what pyllm knows about it."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from pyllm._core import PyllmError
from pyllm.default_model import DefaultModelMissingError, default_model_path
from pyllm.model import Model
from pyllm.runtime import build_info


def _info(args: argparse.Namespace) -> int:
    path = args.model or default_model_path()
    model = Model(path, n_gpu_layers=args.n_gpu_layers)
    info = {
        "build": build_info(),
        "model": {
            "path": str(path),
            "architecture": model.architecture,
            "description": model.description,
            "n_params": model.n_params,
            "n_ctx_train": model.n_ctx_train,
            "n_vocab": model.n_vocab,
            "size_bytes": model.size_bytes,
            "chat_template_chars": len(model.chat_template),
        },
        "example_prompt": model.apply_chat_template([{"role": "user", "content": "Hello!"}]),
    }
    json.dump(info, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def _api_keys(args: argparse.Namespace) -> list[str]:
    keys = list(args.api_key or [])
    if args.api_key_file:
        with open(args.api_key_file, encoding="utf-8") as f:
            keys += [line.strip() for line in f if line.strip() and not line.startswith("#")]
    if any(not key for key in keys):
        raise ValueError("--api-key must not be empty")
    return keys


def _serve(args: argparse.Namespace) -> int:
    from pyllm.server.app import ServerConfig, serve  # noqa: PLC0415 - keeps `pyllm info` light
    from pyllm.server.request_log import configure_logging  # noqa: PLC0415

    configure_logging(args.log_format)
    try:
        api_keys = _api_keys(args)
    except (OSError, ValueError) as e:
        print(f"pyllm: {e}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1") and not api_keys:
        logging.getLogger("pyllm.server").warning(
            "listening on %s (not loopback) without --api-key: anyone who can reach it can use it", args.host)
    config = ServerConfig(
        model=args.model, alias=args.alias, n_ctx=args.ctx_size, n_parallel=args.parallel,
        n_threads=args.threads, n_batch=args.batch_size, n_gpu_layers=args.n_gpu_layers,
        chat_template_file=args.chat_template_file, reasoning=args.reasoning,
        reasoning_field=args.reasoning_field, reasoning_format=args.reasoning_format,
        n_predict=args.n_predict, max_queued=args.max_queued, cache_ram_mib=args.cache_ram,
        rpc=[s.strip() for s in args.rpc.split(",")] if args.rpc else [], api_keys=api_keys,
        max_body_bytes=args.max_body_size, request_timeout=args.request_timeout, metrics=args.metrics,
        log_format=args.log_format, shutdown_grace=args.shutdown_grace,
        responses_store_entries=args.responses_store_entries,
        responses_store_bytes=args.responses_store_mib * 2**20, responses_store_ttl=args.responses_store_ttl,
    )
    try:
        serve(config, args.host, args.port)
    except ValueError as e:  # e.g. --rpc on a build without RPC: never serve locally instead
        print(f"pyllm: {e}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyllm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    srv = sub.add_parser("serve", help="serve the OpenAI and Anthropic APIs (default model: Gemma 3 270M)")
    srv.add_argument("-m", "--model", help="GGUF path (default: the packaged default model)")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument("-c", "--ctx-size", type=int, default=0, help="total context over all slots (0: 4096 per slot)")
    srv.add_argument("-np", "--parallel", type=int, default=4, help="slots: requests decoded together")
    srv.add_argument("-t", "--threads", type=int, default=0, help="CPU threads (0: physical cores)")
    srv.add_argument("-b", "--batch-size", type=int, default=512)
    srv.add_argument("-ngl", "--n-gpu-layers", type=int, default=0, help="layers to offload to the GPU (-1: all)")
    srv.add_argument("--alias", help="model name reported to clients (default: the file name)")
    srv.add_argument("--chat-template-file", help="jinja chat template overriding the model's own")
    srv.add_argument("--reasoning", choices=["on", "off", "auto"], default="auto",
                     help="thinking default for requests that do not say (auto: the template's default)")
    srv.add_argument("--reasoning-field", choices=["reasoning_content", "reasoning"], default="reasoning_content",
                     help="OpenAI field that carries reasoning (reasoning_content: llama.cpp/DeepSeek; reasoning: vLLM/Ollama)")
    srv.add_argument("--reasoning-format", choices=["auto", "deepseek", "none"], default="auto",
                     help="none: leave reasoning (tags included) in the content; auto/deepseek: split it out")
    srv.add_argument("-n", "--n-predict", type=int, default=-1, help="server-side cap on generated tokens (-1: none)")
    srv.add_argument("--max-queued", type=int, default=64, help="requests waiting for a slot before 429/529")
    srv.add_argument("--cache-ram", type=int, default=8192, metavar="MIB",
                     help="host memory for idle slots' KV cache (MiB; -1: no limit; 0: idle slots stay in the context)")
    srv.add_argument("--rpc", help="comma-separated llama.cpp rpc-server addresses (RPC builds)")
    ops = srv.add_argument_group("operations")
    ops.add_argument("--api-key", action="append", metavar="KEY",
                     help="require this key ('Authorization: Bearer KEY' or 'x-api-key: KEY') on every route "
                          "but /health and /; repeatable")
    ops.add_argument("--api-key-file", metavar="FILE", help="file with one API key per line")
    ops.add_argument("--max-body-size", type=int, default=32 * 1024 * 1024, metavar="BYTES",
                     help="largest request body; larger ones get 413 (default: 32 MiB)")
    ops.add_argument("--request-timeout", type=float, default=0, metavar="SECONDS",
                     help="end a request this long after it arrived with a timeout error (0: no limit)")
    ops.add_argument("--metrics", action="store_true", help="serve Prometheus metrics at GET /metrics")
    ops.add_argument("--log-format", choices=["text", "json"], default="text",
                     help="log lines (one per request) as text or JSON objects")
    ops.add_argument("--shutdown-grace", type=float, default=5.0, metavar="SECONDS",
                     help="on SIGINT/SIGTERM, time running requests get to finish before they are ended "
                          "with an error event")
    store = srv.add_argument_group("Responses API store (previous_response_id, GET /v1/responses/{id})")
    store.add_argument("--responses-store-entries", type=int, default=1000, metavar="N",
                       help="responses kept at most; the oldest go first (0: keep none)")
    store.add_argument("--responses-store-mib", type=int, default=256, metavar="MIB",
                       help="memory the kept responses may use")
    store.add_argument("--responses-store-ttl", type=float, default=3600, metavar="SECONDS",
                       help="how long a response is kept (0: until pushed out)")
    srv.set_defaults(run=_serve)

    info = sub.add_parser("info", help="load a model (default: the packaged Gemma 3 270M) and print its facts")
    info.add_argument("-m", "--model", help="GGUF path (default: the packaged default model)")
    info.add_argument("-ngl", "--n-gpu-layers", type=int, default=0, help="layers to offload to the GPU (-1: all)")
    info.set_defaults(run=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except DefaultModelMissingError as e:
        print(f"pyllm: {e}", file=sys.stderr)
        return 2
    except PyllmError as e:
        print(f"pyllm: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
