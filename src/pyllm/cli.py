"""The ``pyllm`` command. ``pyllm info`` loads a model and prints what pyllm knows about it."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyllm import _core
from pyllm._core import PyllmError
from pyllm.default_model import DefaultModelMissingError, default_model_path
from pyllm.model import Model
from pyllm.runtime import add_rpc_servers, build_info, devices


def _device_options(args: argparse.Namespace) -> dict[str, Any]:
    """Model keyword arguments from the device flags; the unset ones are left out, so only
    what was asked for is checked against the devices there are."""
    options: dict[str, Any] = {"n_gpu_layers": args.n_gpu_layers}
    if args.main_gpu is not None:
        options["main_gpu"] = args.main_gpu
    if args.split_mode is not None:
        options["split_mode"] = args.split_mode
    if args.tensor_split:
        options["tensor_split"] = args.tensor_split
    if args.device is not None:
        options["devices"] = args.device
    if args.no_repack:
        options["repack"] = False
    return options


def _build_facts() -> dict[str, Any]:
    info = build_info()
    info["cpu_code"] = ("native: tied to the CPU it was built on (GGML_NATIVE=ON, -march=native); "
                        "it may not run on another CPU" if info["cpu_native"] else
                        "portable: built for the instruction sets in cpu_features (GGML_NATIVE=OFF)")
    return info


def _info(args: argparse.Namespace) -> int:
    if args.rpc:
        add_rpc_servers(args.rpc)
    if args.devices:
        json.dump({"build": _build_facts(), "devices": devices()}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    path = args.model or default_model_path()
    model = Model(path, **_device_options(args))
    info = {
        "build": _build_facts(),
        "model": {
            "path": str(path),
            "architecture": model.architecture,
            "description": model.description,
            "n_params": model.n_params,
            "n_ctx_train": model.n_ctx_train,
            "n_vocab": model.n_vocab,
            "size_bytes": model.size_bytes,
            "chat_template_chars": len(model.chat_template),
            "offloaded_layers": model.offloaded_layers,
            "weight_buffers": model.weight_buffers,
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
    from pyllm.server.images import ImageOptions  # noqa: PLC0415
    from pyllm.server.request_log import configure_logging  # noqa: PLC0415

    configure_logging(args.log_format)
    try:
        api_keys = _api_keys(args)
    except (OSError, ValueError) as e:
        print(f"pyllm: {e}", file=sys.stderr)
        return 2
    grammar = args.grammar
    if args.grammar_file:
        try:
            grammar = Path(args.grammar_file).read_text(encoding="utf-8")
        except OSError as e:
            print(f"pyllm: --grammar-file: {e}", file=sys.stderr)
            return 2
    if args.host not in ("127.0.0.1", "localhost", "::1") and not api_keys:
        logging.getLogger("pyllm.server").warning(
            "listening on %s (not loopback) without --api-key: anyone who can reach it can use it", args.host)
    config = ServerConfig(
        model=args.model, alias=args.alias, n_ctx=args.ctx_size, n_parallel=args.parallel,
        n_threads=args.threads, n_batch=args.batch_size, device_options=_device_options(args),
        chat_template_file=args.chat_template_file, reasoning=args.reasoning,
        reasoning_field=args.reasoning_field, reasoning_format=args.reasoning_format,
        n_predict=args.n_predict, grammar=grammar, max_queued=args.max_queued, cache_ram_mib=args.cache_ram,
        max_stall_ms=args.max_stall, swa_full=args.swa_full, ctx_checkpoints=args.ctx_checkpoints,
        rpc=args.rpc or [], api_keys=api_keys,
        max_body_bytes=args.max_body_size, request_timeout=args.request_timeout, metrics=args.metrics,
        log_format=args.log_format, shutdown_grace=args.shutdown_grace,
        embeddings=args.embeddings, pooling=args.pooling,
        responses_store_entries=args.responses_store_entries,
        responses_store_bytes=args.responses_store_mib * 2**20, responses_store_ttl=args.responses_store_ttl,
        mmproj=args.mmproj, mmproj_offload=not args.no_mmproj_offload, image_max_pixels=args.image_max_pixels,
        images=ImageOptions(max_bytes=args.image_max_bytes, url_timeout=args.image_url_timeout,
                            allow_private_urls=args.allow_private_image_urls),
    )
    try:
        serve(config, args.host, args.port)
    except ValueError as e:  # e.g. --rpc on a build without RPC, -ngl without a GPU: never serve on the CPU instead
        print(f"pyllm: {e}", file=sys.stderr)
        return 2
    except (_core.ModelLoadError, _core.InvalidRequestError) as e:  # a refused -m / --mmproj file, a bad --grammar
        print(f"pyllm: {e}", file=sys.stderr)
        return 2
    return 0


def _launch(args: argparse.Namespace) -> int:
    from pyllm.launch import run  # noqa: PLC0415

    return run(args)


def _list_of(kind: Callable[[str], Any], name: str) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        try:
            items = [kind(item.strip()) for item in text.replace("/", ",").split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: {text!r} is not a comma-separated list") from None
        if not items or any(item == "" for item in items):
            raise argparse.ArgumentTypeError(f"{name}: {text!r} has an empty entry")
        return items
    return parse


def _gpu_layers(text: str) -> int:
    if text in ("all", "auto"):
        return -1
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"-ngl: {text!r} is not a number, 'all' or 'auto'") from None


def _add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """The device flags, as llama-server's. Any of them where there is no device to offload
    to is an error, never a run on the CPU."""
    dev = parser.add_argument_group("devices")
    dev.add_argument("-ngl", "--n-gpu-layers", "--gpu-layers", type=_gpu_layers, default=0, metavar="N",
                     help="layers to offload to the GPU or RPC devices (-1, all: every layer; default 0)")
    dev.add_argument("-mg", "--main-gpu", type=int, metavar="INDEX",
                     help="the device for the whole model with -sm none (index into the offload devices)")
    dev.add_argument("-sm", "--split-mode", choices=["none", "layer", "row"],
                     help="how a model is split over several devices (llama.cpp's default: layer)")
    dev.add_argument("-ts", "--tensor-split", type=_list_of(float, "-ts"), metavar="N0,N1,...",
                     help="proportion of the model for each offload device, e.g. 3,1")
    dev.add_argument("-dev", "--device", type=_list_of(str, "--device"), metavar="DEV,...",
                     help="offload devices by name (`pyllm info --devices`), or 'none'")
    dev.add_argument("-nr", "--no-repack", action="store_true",
                     help="keep CPU weights in their GGUF layout (repacked ones are faster; the order of "
                          "their sums differs, so greedy outputs can differ from an RPC or GPU run)")
    dev.add_argument("--rpc", type=_list_of(str, "--rpc"), metavar="HOST:PORT,...",
                     help="llama.cpp rpc-server addresses: the model is split over them (with -ngl)")


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
    srv.add_argument("--alias", help="model name reported to clients (default: the file name)")
    srv.add_argument("--chat-template-file", help="jinja chat template overriding the model's own")
    srv.add_argument("--reasoning", choices=["on", "off", "auto"], default="auto",
                     help="thinking default for requests that do not say (auto: the template's default)")
    srv.add_argument("--reasoning-field", choices=["reasoning_content", "reasoning"], default="reasoning_content",
                     help="OpenAI field that carries reasoning (reasoning_content: llama.cpp/DeepSeek; reasoning: vLLM/Ollama)")
    srv.add_argument("--reasoning-format", choices=["auto", "deepseek", "none"], default="auto",
                     help="none: leave reasoning (tags included) in the content; auto/deepseek: split it out")
    srv.add_argument("-n", "--n-predict", type=int, default=-1, help="server-side cap on generated tokens (-1: none)")
    constraint = srv.add_mutually_exclusive_group()
    constraint.add_argument("--grammar", metavar="GBNF",
                            help="constrain every request that brings no grammar, JSON schema or forced tool call of "
                                 "its own with this GBNF grammar (it then also decides whether tool calls can come)")
    constraint.add_argument("--grammar-file", metavar="FILE", help="--grammar, read from a file")
    srv.add_argument("--max-queued", type=int, default=64, help="requests waiting for a slot before 429/529")
    srv.add_argument("--cache-ram", type=int, metavar="MIB",
                     help="host memory for idle slots' KV cache and context checkpoints (MiB; -1: no limit; 0: idle slots "
                          "stay in the context and there are no checkpoints, so a sliding-window model (Gemma 3) "
                          "keeps a full-size window cache, about 1.2x slower prefill at 16k+ tokens; "
                          f"default {_core.ENGINE_DEFAULTS['cache_ram_mib']})")
    srv.add_argument("--max-stall", type=int, metavar="MS",
                     help="while requests generate, another prompt's prefill goes in chunks that keep each "
                          "decode step near this many ms, so running streams keep getting tokens; on a CPU small "
                          "chunks cost prefill speed (0: chunks of -b tokens, as llama-server; default "
                          f"{_core.ENGINE_DEFAULTS['max_stall_ms']})")
    srv.add_argument("--swa-full", action="store_true",
                     help="sliding-window models (Gemma 3): keep the whole context in the window layers, so any "
                          "prefix is reused without context checkpoints, at the cost of a full-size KV cache in "
                          "every layer and idle slots that stay in the context")
    srv.add_argument("--ctx-checkpoints", "-ctxcp", "--swa-checkpoints", type=int, metavar="N",
                     help="context checkpoints kept per slot for hybrid/recurrent and sliding-window models, so a "
                          "conversation's next turn resumes instead of decoding its whole prompt again (0: none; "
                          f"default {_core.ENGINE_DEFAULTS['ctx_checkpoints']})")
    _add_device_arguments(srv)
    srv.add_argument("--embeddings", action="store_true",
                     help="serve POST /v1/embeddings (inputs up to -b tokens; a second context over the model)")
    srv.add_argument("--pooling", choices=["mean", "cls", "last", "rank"],
                     help="how embeddings pool token vectors (default: the model's own, else mean)")
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
    vision = srv.add_argument_group("image input")
    vision.add_argument("--mmproj", metavar="FILE",
                        help="multimodal projector GGUF for the model (llama.cpp's mtmd): chat messages may carry images")
    vision.add_argument("--no-mmproj-offload", action="store_true",
                        help="keep the projector on the CPU when the model is offloaded")
    vision.add_argument("--image-max-bytes", type=int, default=20 * 2**20, metavar="BYTES",
                        help="largest image file accepted, base64 or fetched (default 20 MiB)")
    vision.add_argument("--image-max-pixels", type=int, default=8192 * 8192, metavar="N",
                        help="largest image accepted, width x height (default 8192x8192)")
    vision.add_argument("--image-url-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="time to fetch one image URL, redirects included")
    vision.add_argument("--allow-private-image-urls", action="store_true",
                        help="fetch image URLs on loopback and private addresses too (refused by default)")
    srv.set_defaults(run=_serve)

    launch = sub.add_parser(
        "launch", help="run Claude Code, opencode or Codex on a local model (starts or reuses the server)",
        description="Start (or reuse) `pyllm serve` on the model and run the client configured for it: "
                    "base URL, key, model name and context window. Client arguments go after `--`.")
    launch.add_argument("client", choices=["claude", "opencode", "codex"])
    launch.add_argument("client_args", nargs="*", help="passed to the client (after --)")
    launch.add_argument("-m", "--model", help="GGUF path (default: the packaged default model)")
    launch.add_argument("-c", "--ctx-size", type=int, default=0,
                        help="context per slot (0: the model's training context, at most 131072)")
    launch.add_argument("-np", "--parallel", type=int, default=2, help="slots of a server started here")
    launch.add_argument("--host", default="127.0.0.1")
    launch.add_argument("--port", type=int, default=8080, help="where the server is, or is started")
    launch.add_argument("--alias", help="model name the client sends (a started server's --alias)")
    launch.add_argument("--chat-template-file", help="jinja chat template for a started server")
    launch.add_argument("--api-key", help="the server's key (a started server requires it)")
    launch.set_defaults(run=_launch)

    info = sub.add_parser("info", help="load a model (default: the packaged Gemma 3 270M) and print its facts")
    info.add_argument("-m", "--model", help="GGUF path (default: the packaged default model)")
    info.add_argument("--devices", action="store_true", help="list the build and the devices found; load no model")
    _add_device_arguments(info)
    info.set_defaults(run=_info)
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    # `pyllm launch CLIENT [flags] -- CLIENT_ARGS`: argparse gives a positional list that comes
    # before the options nothing after a `--`, so the client's arguments are cut off here.
    client_args: list[str] = []
    if argv[:1] == ["launch"] and "--" in argv:
        cut = argv.index("--")
        argv, client_args = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    if client_args:
        args.client_args = [*args.client_args, *client_args]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return args.run(args)
    except DefaultModelMissingError as e:
        print(f"pyllm: {e}", file=sys.stderr)
        return 2
    except PyllmError as e:
        print(f"pyllm: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # a device flag that this build or machine cannot meet
        print(f"pyllm: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
