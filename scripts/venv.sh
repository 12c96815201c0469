#!/usr/bin/env bash
# Creates .venv on first use and installs the locked dependencies; later calls only reinstall
# when requirements.lock or pyproject.toml changed. Sourced by the Makefile's targets.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DIALER_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.installed"
want="$(cat "$root/requirements.lock" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements.lock"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$root"
  echo "$want" > "$stamp"
fi
