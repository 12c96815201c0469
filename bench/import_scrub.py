"""Benchmark 2: contact list import and scrub.

A CSV of N rows (phone, name, account; 5% bad: invalid number, missing phone, wrong column
count, duplicate phone) is imported with `ContactListStore.import_csv`, then scrubbed against a
DNC list of 10M numbers by saving a campaign that uses both (`CampaignStore.create` scrubs).
Reports rows/s for import, scrub and end to end, and Redis bytes per contact (used_memory
delta). Phones come in three spellings: "(212) 555-0100", "212-555-0100" and E.164.

Baselines from the same process: reading the CSV alone (csv.reader) and writing the same
records to Redis alone (pipelined HSET of msgpack), the floors an import cannot beat.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator

import msgpack
import phonenumbers
import redis

from bench.common import (
    Timer,
    bench_prefix,
    drop_prefix,
    parser,
    print_table,
    redis_server,
    used_memory,
)
from bench.dnc import registry_numbers
from cluster.models import ContactableTimings
from cluster.state import DialerState

BAD_SHARE = 0.05
DNC_SHARE = 0.10
"""Share of the list's numbers that are also on the DNC list."""


def valid_prefixes(count: int, rng: random.Random) -> list[str]:
    """US NPA-NXX codes phonenumbers accepts (so generated numbers are valid)."""
    out: list[str] = []
    while len(out) < count:
        prefix = f"{rng.randrange(201, 990)}{rng.randrange(200, 1000)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(f"+1{prefix}0100")):
            out.append(prefix)
    return out


def make_csv(rows: int, seed: int) -> tuple[str, list[str], int]:
    """(CSV text, the E.164 numbers of the good rows, number of bad rows)."""
    rng = random.Random(seed)
    prefixes = valid_prefixes(2000, rng)
    out = io.StringIO()
    out.write("phone,name,account\n")
    good: list[str] = []
    seen: set[str] = set()
    bad = 0
    for i in range(rows):
        if rng.random() < BAD_SHARE and good:
            bad += 1
            kind = i % 4
            if kind == 0:
                out.write(f"555-01{i % 10},Bad {i},acct-{i}\n")
            elif kind == 1:
                out.write(f",Missing {i},acct-{i}\n")
            elif kind == 2:
                out.write(f"212-555-0100,Extra {i},acct-{i},surplus\n")
            else:
                out.write(f"{rng.choice(good)},Duplicate {i},acct-{i}\n")
            continue
        while True:
            p = rng.choice(prefixes)
            line = f"{rng.randrange(10000):04d}"
            e164 = f"+1{p}{line}"
            if e164 not in seen:
                break
        seen.add(e164)
        good.append(e164)
        style = i % 4
        if style < 2:
            phone = f"({p[:3]}) {p[3:]}-{line}"
        elif style == 2:
            phone = f"{p[:3]}-{p[3:]}-{line}"
        else:
            phone = e164
        out.write(f"{phone},Name {i},acct-{i}\n")
    return out.getvalue(), good, bad


def chunks(text: str, size: int = 1 << 16) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


def redis_alone(client: redis.Redis, prefix: str, numbers: list[str]) -> float:
    """Seconds to write the same contact records with pipelined HSETs and nothing else."""
    records = [
        msgpack.packb({"id": f"c{i}", "phone": n, "name": f"Name {i}", "timezone": None,
                       "fields": {"account": f"acct-{i}"}})
        for i, n in enumerate(numbers)
    ]  # fmt: skip
    with Timer() as t:
        for start in range(0, len(records), 1000):
            pipe = client.pipeline(transaction=False)
            pipe.hset(
                f"{prefix}:alone:contacts",
                mapping=dict(
                    zip(range(start, start + 1000), records[start : start + 1000], strict=False)
                ),
            )
            pipe.hset(
                f"{prefix}:alone:phones",
                mapping=dict(
                    zip(numbers[start : start + 1000], range(start, start + 1000), strict=False)
                ),
            )
            pipe.execute()
    return t.elapsed


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--dnc", type=int, default=10_000_000, help="DNC list size")
    args = p.parse_args(argv)
    rows, dnc_size = (5_000, 50_000) if args.smoke else (args.rows, args.dnc)
    text, good, bad = make_csv(rows, seed=rows)
    with redis_server() as client:
        prefix = bench_prefix("import")
        state = DialerState(client, prefix=prefix)
        dnc = state.dnc.create("registry")
        listed = good[: int(len(good) * DNC_SHARE)]
        state.dnc.add_e164(dnc.id, listed)
        for chunk in registry_numbers(dnc_size - len(listed), seed=7, shuffled=False):
            state.dnc.add_e164(dnc.id, chunk)
        with Timer() as t_csv:
            parsed = sum(1 for _ in csv.reader(io.StringIO(text)))
        lst = state.lists.create("bench list")
        client.execute_command("MEMORY PURGE")
        before = used_memory(client)
        with Timer() as t_import:
            report = state.lists.import_csv(lst.id, chunks(text))
        after = used_memory(client)
        assert report.rows == rows and report.accepted == len(good), (report.rows, report.accepted)
        assert len(report.rejected) == bad and all(r.row > 1 and r.reason for r in report.rejected)
        spec = {
            "name": "bench scrub",
            "contact_list_ids": [lst.id],
            "dnc_list_id": dnc.id,
            "dialing_mode": "agentless",
            "start_flow_id": "flow",
            "caller_id": "+12125550199",
            "contactable_timings": ContactableTimings.default("America/New_York").model_dump(
                mode="json"
            ),
        }
        with Timer() as t_scrub:
            campaign = state.campaigns.create(spec)
        blocked = int(client.hget(state.keys.campaign(campaign.id).scrub(), "blocked") or 0)
        assert blocked >= len(listed), (blocked, len(listed))  # the registry may hold more
        alone_s = redis_alone(client, prefix, good)
        drop_prefix(client, prefix)
    end_to_end = t_import.elapsed + t_scrub.elapsed
    print_table(
        f"2. Contact import and scrub: {rows:,} rows ({bad:,} bad), DNC list of {dnc_size:,}",
        ["step", "seconds", "rows/s", "vs end to end", "note"],
        [
            [
                "import (parse, validate, write)",
                f"{t_import.elapsed:.1f}",
                f"{rows / t_import.elapsed:,.0f}/s",
                "",
                f"{report.accepted:,} accepted, "
                f"{len(report.rejected):,} rejected with row and reason",
            ],
            [
                "scrub (campaign save)",
                f"{t_scrub.elapsed:.1f}",
                f"{report.accepted / t_scrub.elapsed:,.0f}/s",
                "",
                f"{blocked:,} on the DNC list",
            ],
            [
                "end to end",
                f"{end_to_end:.1f}",
                f"{rows / end_to_end:,.0f}/s",
                "1.00x",
                f"{(after - before) / report.accepted:.0f} bytes/contact in Redis",
            ],
            [
                "baseline: csv.reader alone",
                f"{t_csv.elapsed:.1f}",
                f"{parsed / t_csv.elapsed:,.0f}/s",
                f"{t_csv.elapsed / end_to_end:.2f}x",
                "",
            ],
            [
                "baseline: Redis writes alone",
                f"{alone_s:.1f}",
                f"{len(good) / alone_s:,.0f}/s",
                f"{alone_s / end_to_end:.2f}x",
                "pipelined HSET of the same records",
            ],
        ],
        ["'vs end to end': the baseline's time as a share of the end-to-end time"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
