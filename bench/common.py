"""What every benchmark shares: a Redis to run against, memory readings, timing, tables."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from rich.console import Console
from rich.table import Table

from cluster.redis_server import EmbeddedRedis
from cluster.state import connect

_CONSOLE: Console | None = None


def console() -> Console:
    global _CONSOLE
    if _CONSOLE is None:
        _CONSOLE = Console(width=int(os.environ.get("BENCH_WIDTH", "130")), highlight=False)
    return _CONSOLE


def parser(description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs and reports")
    return p


def cpu_model() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_line() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cores, {cpu_model()}; load average {load}; "
        f"Python {platform.python_version()}"
    )


@contextlib.contextmanager
def redis_server() -> Iterator[redis.Redis]:
    """REDIS_URL if set, else a fresh embedded redis-server (no persistence) for this run."""
    url = os.environ.get("REDIS_URL")
    if url:
        client = connect(url)
        try:
            yield client
        finally:
            client.close()
        return
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        server = EmbeddedRedis(Path(tmp), persist=False).start()
        client = connect(server.url)
        try:
            yield client
        finally:
            client.close()
            server.stop()


def used_memory(client: redis.Redis) -> int:
    """Bytes the server has allocated for data (INFO memory used_memory)."""
    return int(client.info("memory")["used_memory"])


def server_pid(client: redis.Redis) -> int:
    return int(client.info("server")["process_id"])


def bench_prefix(name: str) -> str:
    return f"bench-{name}-{os.getpid()}-{int(time.time())}"


def drop_prefix(client: redis.Redis, prefix: str) -> None:
    batch: list[Any] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)


@dataclass
class Timer:
    started: float = 0.0
    elapsed: float = 0.0

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.started


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; nan when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def load_average() -> float:
    """The 1-minute load average (quoted with every figure: the machine is shared)."""
    return os.getloadavg()[0]


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], notes: Sequence[str] = ()
) -> None:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console().print(table)
    for note in notes:
        console().print(f"  {note}")


def rss_bytes(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


TOOLS_DIR = Path(os.environ.get("BENCH_TOOLS_DIR", Path.home() / ".cache" / "dialer-bench"))
DEBIAN_PACKAGES = ("redis-tools", "liblzf1", "libjemalloc2")


def redis_benchmark(fetch: bool = True) -> tuple[list[str], dict[str, str]] | None:
    """The redis-benchmark command (and its environment): from PATH, else Debian's redis-tools
    unpacked (not installed) under TOOLS_DIR with `apt-get download` + `dpkg -x`. None when
    neither works; callers then fall back to the in-process RESP client."""
    import shutil

    found = shutil.which("redis-benchmark")
    if found:
        return [found], dict(os.environ)
    root = TOOLS_DIR / "redis-tools"
    binary = root / "usr" / "bin" / "redis-benchmark"
    env = {**os.environ, "LD_LIBRARY_PATH": str(root / "usr" / "lib" / "x86_64-linux-gnu")}
    if not binary.exists() and fetch and shutil.which("apt-get") and shutil.which("dpkg"):
        with tempfile.TemporaryDirectory() as tmp, contextlib.suppress(Exception):
            subprocess.run(
                ["apt-get", "download", *DEBIAN_PACKAGES],
                cwd=tmp, capture_output=True, timeout=120, check=True,
            )  # fmt: skip
            root.mkdir(parents=True, exist_ok=True)
            for deb in Path(tmp).glob("*.deb"):
                subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, timeout=60)
    if not binary.exists():
        return None
    probe = subprocess.run(
        [str(binary), "--version"], env=env, capture_output=True, timeout=10, check=False
    )
    return ([str(binary)], env) if probe.returncode == 0 else None
