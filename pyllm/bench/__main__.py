"""``python -m pyllm.bench parser [--json]``"""
from __future__ import annotations

import argparse
import json

from pyllm.bench import parser as parser_bench


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m pyllm.bench")
    ap.add_argument("suite", choices=["parser"])
    ap.add_argument("--json", action="store_true", help="print {'results': [...]} instead of a table")
    args = ap.parse_args()
    results = parser_bench.run()
    if args.json:
        print(json.dumps({"results": results}))
    else:
        print(parser_bench.table(results))


if __name__ == "__main__":
    main()
