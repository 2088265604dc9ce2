import importlib
import sys

BENCHMARKS = {
    "agent": "pyllm.bench.agent",
    "bridge": "pyllm.bench.bridge",
    "conformance": "pyllm.bench.conformance",
    "decode": "pyllm.bench.decode",
    "embed": "pyllm.bench.embed",
    "images": "pyllm.bench.images",
    "loop": "pyllm.bench.loop",
    "mixed": "pyllm.bench.mixed",
    "parser": "pyllm.bench.parser",
    "replay": "pyllm.bench.replay",
    "serve": "pyllm.bench.serve",
    "server": "pyllm.bench.server",
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print(f"usage: python -m pyllm.bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    return importlib.import_module(BENCHMARKS[sys.argv[1]]).main(sys.argv[2:])


sys.exit(main())
