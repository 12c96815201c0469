"""Benchmark 1: DNC lists at national-registry scale.

Loads N numbers into one DNC list through `DncStore.add_e164`, then checks a batch of numbers
(half listed, half not, shuffled) through `DncStore.contains_e164`, and reports bytes per number
(INFO used_memory delta), load rate and check rate; then checks one listed number from each
prefix, the worst case for a layout with one key per prefix. The ceiling is the server answering
pipelined SISMEMBER (redis-benchmark -P 16 when it is installed, otherwise the same load from an
in-process RESP client: 50 connections, 16 commands in flight on each). `--ab REF` measures
cluster/dnc.py as it was at git REF as well, on the same server in the same run.

Numbers are US numbers laid out like the registry: 253M numbers over about 630k NPA-NXX
prefixes is about 400 listed lines per prefix, so N numbers fill N/400 prefixes. A registry file
comes sorted by number; a shuffled load is reported too.
"""

from __future__ import annotations

import math
import random
import re
import selectors
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import redis

from bench.common import (
    Timer,
    bench_prefix,
    drop_prefix,
    load_average,
    parser,
    print_table,
    redis_benchmark,
    redis_server,
    used_memory,
)
from cluster.keys import TenantKeys
from cluster.state import DialerState

REGISTRY_SIZE = 253_000_000
DENSITY = 400
"""Listed lines per prefix (253M numbers / ~630k US NPA-NXX codes)."""
CHUNK = 1_000_000
REFERENCE_SIZE = 10_000_000
"""The size measured again with a shuffled load, and with the --ab commit's code."""
LINES = [f"{i:04d}" for i in range(10_000)]


def registry_numbers(count: int, seed: int, *, shuffled: bool) -> Iterator[list[str]]:
    """`count` distinct US numbers in chunks, DENSITY per prefix; sorted, or shuffled per chunk."""
    rng = random.Random(seed)
    prefixes = rng.sample(range(200_000, 1_000_000), max(1, -(-count // DENSITY)))
    prefixes.sort()
    chunk: list[str] = []
    left = count
    for prefix in prefixes:
        head = f"+1{prefix}"
        take = min(DENSITY, left)
        lines = sorted(rng.sample(range(10_000), take))
        chunk.extend(head + LINES[line] for line in lines)
        left -= take
        if len(chunk) >= CHUNK or left == 0:
            if shuffled:
                rng.shuffle(chunk)
            yield chunk
            chunk = []
        if left == 0:
            return


def probes(count: int, loaded: int) -> list[str]:
    """Half numbers that are listed (from the first chunk of the `loaded` ones), half unlisted
    numbers in the same prefixes; shuffled."""
    rng = random.Random(loaded + 1)
    chunk = next(registry_numbers(loaded, seed=loaded, shuffled=False))
    listed = rng.sample(chunk, min(len(chunk), count // 2))
    taken = set(chunk)
    misses: set[str] = set()
    while len(misses) < count - len(listed):
        number = rng.choice(listed)[:-4] + LINES[rng.randrange(10_000)]
        if number not in taken:
            misses.add(number)
    out = listed + sorted(misses)
    rng.shuffle(out)
    return out


# The ceiling --------------------------------------------------------------------------------
def resp(*parts: str) -> bytes:
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def ceiling_in_process(
    host: str, port: int, commands: list[bytes], total: int, clients: int = 50, depth: int = 16
) -> float:
    """SISMEMBER/s with `clients` connections, each keeping `depth` commands in flight, as
    redis-benchmark -P 16 does. Replies to SISMEMBER are 4 bytes (":0\\r\\n" / ":1\\r\\n")."""
    chunks = [b"".join(commands[i : i + depth]) for i in range(0, len(commands) - depth, depth)]
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(clients):
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, [0, i])
    sent = done = 0
    want = depth * 4
    started = time.perf_counter()
    for i, s in enumerate(socks):
        s.sendall(chunks[i % len(chunks)])
        sent += depth
    while done < total:
        for key, _ in sel.select():
            state = key.data
            state[0] += len(key.fileobj.recv(65536))  # type: ignore[union-attr]
            while state[0] >= want:
                state[0] -= want
                done += depth
                if sent < total:
                    state[1] += clients
                    key.fileobj.sendall(chunks[state[1] % len(chunks)])  # type: ignore[union-attr]
                    sent += depth
    elapsed = time.perf_counter() - started
    for s in socks:
        sel.unregister(s)
        s.close()
    return done / elapsed


def ceiling_redis_benchmark(
    host: str, port: int, key: str, member: str, total: int, fetch: bool
) -> float | None:
    tool = redis_benchmark(fetch)
    if tool is None:
        return None
    command, env = tool
    out = subprocess.run(
        [*command, "-h", host, "-p", str(port), "-P", "16", "-n", str(total), "-q",
         "SISMEMBER", key, member],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    ).stdout  # fmt: skip
    found = re.findall(r"([\d.]+) requests per second", out)
    return float(found[-1]) if found else None


# The benchmark ------------------------------------------------------------------------------
class Store(Protocol):
    """What the benchmark calls of a DncStore (the current one, or one from another commit)."""

    def create(self, name: str, description: str = "") -> Any: ...
    def add_e164(self, list_id: str, e164_numbers: Iterable[str]) -> int: ...
    def contains_e164(self, list_id: str, e164_numbers: Sequence[str]) -> list[bool]: ...
    def delete(self, list_id: str) -> None: ...


def store_at(ref: str) -> Callable[[redis.Redis, TenantKeys], Store]:
    """The DncStore class of cluster/dnc.py as it was at git `ref`, for an A/B on one server in
    one run (the module is loaded under another name; it imports today's cluster helpers)."""
    source = subprocess.run(
        ["git", "show", f"{ref}:cluster/dnc.py"],
        cwd=Path(__file__).resolve().parent, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    module = types.ModuleType(f"bench._dnc_at_{ref}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{ref}:cluster/dnc.py", "exec"), module.__dict__)
    store: Callable[[redis.Redis, TenantKeys], Store] = module.DncStore
    return store


def measure(
    client: redis.Redis,
    count: int,
    check_count: int,
    shuffled: bool,
    store: Callable[[redis.Redis, TenantKeys], Store] | None = None,
) -> dict[str, float]:
    prefix = bench_prefix("dnc")
    state = DialerState(client, prefix=prefix)
    dnc: Store = store(client, state.keys) if store else state.dnc
    listing = dnc.create(f"registry {count}")
    client.execute_command("MEMORY PURGE")
    before = used_memory(client)
    loaded = 0
    load_s = 0.0
    one_per_prefix: list[str] = []
    for chunk in registry_numbers(count, seed=count, shuffled=shuffled):
        if not shuffled:
            one_per_prefix.extend(chunk[::DENSITY])  # chunks end where a prefix ends
        with Timer() as t:
            loaded += dnc.add_e164(listing.id, chunk)
        load_s += t.elapsed
    client.execute_command("MEMORY PURGE")
    after = used_memory(client)
    assert loaded == count, (loaded, count)
    probe = probes(check_count, loaded=count)
    with Timer() as t:
        flags = dnc.contains_e164(listing.id, probe)
    hits = sum(flags)
    assert hits == min(check_count // 2, CHUNK), (hits, check_count)
    result = {
        "count": count,
        "bytes_per_number": (after - before) / count,
        "load_per_s": count / load_s,
        "check_per_s": check_count / t.elapsed,
        "spread_per_s": float("nan"),
        "load_average": load_average(),
    }
    if one_per_prefix:
        spread = random.Random(count).sample(one_per_prefix, min(check_count, len(one_per_prefix)))
        with Timer() as t:
            flags = dnc.contains_e164(listing.id, spread)
        assert all(flags)
        result["spread_per_s"] = len(spread) / t.elapsed
    dnc.delete(listing.id)
    drop_prefix(client, prefix)
    return result


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument(
        "--sizes", default="1000000,10000000,50000000", help="list sizes, comma-separated"
    )
    p.add_argument(
        "--no-fetch", action="store_true", help="do not fetch redis-benchmark (redis-tools)"
    )
    p.add_argument("--checks", type=int, default=1_000_000, help="numbers checked per size")
    p.add_argument(
        "--ab",
        metavar="REF",
        help="also measure cluster/dnc.py as it was at git REF (e.g. the previous layout), "
        "at the reference size, on the same server",
    )
    args = p.parse_args(argv)
    sizes = [20_000] if args.smoke else [int(s) for s in args.sizes.split(",")]
    checks = 20_000 if args.smoke else args.checks
    reference = REFERENCE_SIZE if REFERENCE_SIZE in sizes else sizes[0]
    runs: list[tuple[str, dict[str, float]]] = []
    with redis_server() as client:
        for size in sizes:
            runs.append((f"{size:,} numbers", measure(client, size, checks, shuffled=False)))
        runs.append(
            (
                f"{reference:,} numbers (shuffled load)",
                measure(client, reference, checks, shuffled=True),
            )
        )
        if args.ab:
            old = store_at(args.ab)
            runs.append(
                (
                    f"{reference:,} numbers, cluster/dnc.py at {args.ab}",
                    measure(client, reference, checks, shuffled=False, store=old),
                )
            )
        # The ceiling: the same server answering one SISMEMBER per number, pipelined.
        prefix = bench_prefix("dnc-ceiling")
        state = DialerState(client, prefix=prefix)
        dnc = state.dnc.create("ceiling")
        sample = next(registry_numbers(min(sizes[0], CHUNK), seed=1, shuffled=False))
        state.dnc.add_e164(dnc.id, sample)
        k = state.keys.dnc_list(dnc.id)
        rng = random.Random(2)
        commands = [
            resp("SISMEMBER", k.bucket(n[1:-4]), str(int(n[-4:])))
            for n in rng.sample(sample, min(len(sample), 20_000))
        ]
        kwargs = client.connection_pool.connection_kwargs
        host, port = kwargs.get("host", "127.0.0.1"), int(kwargs.get("port", 6379))
        total = 50_000 if args.smoke else 2_000_000
        in_process = ceiling_in_process(host, port, commands, total)
        tool = ceiling_redis_benchmark(
            host, port, k.bucket(sample[0][1:-4]), str(int(sample[0][-4:])), total,
            fetch=not args.no_fetch,
        )  # fmt: skip
        ceiling_load = load_average()
        drop_prefix(client, prefix)
    ceiling = tool or in_process
    rows = []
    for label, r in runs:
        spread = r["spread_per_s"]
        rows.append([
            label,
            f"{r['bytes_per_number']:.2f}",
            f"{r['bytes_per_number'] * REGISTRY_SIZE / 2**30:.2f} GiB",
            f"{r['load_per_s']:,.0f}/s",
            f"{r['check_per_s']:,.0f}/s",
            f"{r['check_per_s'] / ceiling:.2f}x",
            "-" if math.isnan(spread) else f"{spread:,.0f}/s",
            f"{r['load_average']:.1f}",
        ])  # fmt: skip
    source = "redis-benchmark" if tool else "in-process RESP client"
    rows.append([
        f"ceiling: SISMEMBER -P 16, 50 clients ({source})",
        "-", "-", "-", f"{ceiling:,.0f}/s", "1.00x", "-", f"{ceiling_load:.1f}",
    ])  # fmt: skip
    if tool:
        rows.append([
            "  in-process RESP client, same load",
            "-", "-", "-", f"{in_process:,.0f}/s", f"{in_process / tool:.2f}x", "-", "-",
        ])  # fmt: skip
    columns = [
        "run", "bytes/number", f"{REGISTRY_SIZE // 10**6}M extrapolated", "load", "check (batch)",
        "check / ceiling", "check, 1 per prefix", "load avg",
    ]  # fmt: skip
    print_table(
        "1. DNC at registry scale (one DNC list, DncStore.add_e164 / contains_e164)",
        columns,
        rows,
        [
            f"goals: ~1 GiB for {REGISTRY_SIZE // 10**6}M numbers (~4 B/number); "
            "load and check >= 1,000,000/s",
            f"{DENSITY} listed lines per prefix; checks: {checks:,} numbers, half listed, shuffled;"
            " '1 per prefix': one listed number from each prefix (up to the same count),"
            " shuffled: one command per number; load avg: 1-minute, at the end of the row",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
