"""`python -m bench [NAME ...] [--smoke]`: runs the named benchmarks (all by default)."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from bench.common import console, machine_line

# Name -> module. A new benchmark is one more line here (its module has main(argv) -> int).
BENCHMARKS: dict[str, str] = {
    "dnc": "bench.dnc",
    "import": "bench.import_scrub",
    "dispatch": "bench.dispatch",
    "progressive": "bench.progressive_latency",
    "memory": "bench.memory",
    "pacing_sim": "bench.pacing_sim",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks they run")
    args, rest = parser.parse_known_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}")
    console().print(machine_line())
    failed = 0
    for name in names:
        started = time.perf_counter()
        module = importlib.import_module(BENCHMARKS[name])
        code = module.main([*rest, *(["--smoke"] if args.smoke else [])])
        console().print(f"[dim]{name}: {time.perf_counter() - started:.1f} s[/dim]\n")
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
