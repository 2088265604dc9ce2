"""The ``pyllm`` command. ``pyllm info`` loads a model and prints what pyllm knows about it."""
from __future__ import annotations

import argparse
import json
import sys

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyllm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
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


if __name__ == "__main__":
    sys.exit(main())
