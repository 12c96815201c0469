#!/usr/bin/env bash
# The test command: lint, format check, type check, then the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k leads).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/venv.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== promtool"
scripts/promtool.sh >/dev/null
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
