"""Benchmarks: each module has `main(argv) -> int`, accepts `--smoke`, and prints a table.

`python -m bench` runs them all (`make bench`); `python -m bench dnc` runs one. Figures that
matter on a shared machine are ratios against a baseline measured in the same process.
"""
