#!/usr/bin/env bash
# Prints the path of a promtool, fetching it on first use into .venv/tools/ (a cache that
# `make clean` removes). Nothing is installed system-wide: the Debian `prometheus` package is
# downloaded with `apt-get download` and only its promtool is unpacked (dpkg -x).
# DIALER_PROMTOOL=/path/to/promtool uses that one instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${DIALER_PROMTOOL:-}" ]; then
  echo "$DIALER_PROMTOOL"
  exit 0
fi
tools="${DIALER_VENV:-$root/.venv}/tools"
bin="$tools/promtool"
if [ ! -x "$bin" ]; then
  command -v apt-get >/dev/null && command -v dpkg >/dev/null || {
    echo "promtool: needs apt-get and dpkg (Debian/Ubuntu), or DIALER_PROMTOOL" >&2
    exit 1
  }
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  fetch() { (cd "$tmp" && apt-get download -q prometheus >&2 2>/dev/null); }
  if ! fetch; then
    # No package lists yet (a fresh container): refresh them when we may.
    [ "$(id -u)" = 0 ] && apt-get update -qq >&2 && fetch || {
      echo "promtool: apt-get download prometheus failed" >&2
      exit 1
    }
  fi
  dpkg -x "$tmp"/prometheus_*.deb "$tmp/x"
  mkdir -p "$tools"
  cp "$tmp/x/usr/bin/promtool" "$bin.partial"
  mv "$bin.partial" "$bin"
  echo "promtool: $("$bin" --version 2>&1 | head -1) in $bin" >&2
fi
echo "$bin"
