"""Benchmark 3: dial dispatch throughput through the real actors.

Agentless campaigns on a local Ray lease leads, check compliance (DNC at lease, contactable
window) and hand them to trunk actors whose carrier answers every call busy at once (zero
latency), one attempt per lead. Reports originations per second for 1, 4 and 16 campaigns from
`run` until every lead is final. The ceiling is the same lease -> originate record -> complete
loop against Redis alone, with no Ray (one process, the same RunInstance and LeadState code).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import msgpack
import redis

from bench.common import Timer, bench_prefix, drop_prefix, parser, print_table, redis_server
from cluster.dialing import Outcome
from cluster.models import Campaign, ContactableTimings
from cluster.state import DialerState
from cluster.telephony import CarrierProfile

ZERO_LATENCY = CarrierProfile(
    human=0, machine=0, busy=1, no_answer=0, failed=0, busy_s=0.0, failed_s=0.0, seed=1
)
"""Every call is busy at once: the trunk reports its end as soon as it is placed."""
MONDAY_10AM_NY_MS = int(datetime(2026, 1, 5, 15, 0, tzinfo=UTC).timestamp() * 1000)
TRUNKS = [{"id": f"trunk-{i}", "channels": 5000, "cps": 10_000} for i in range(4)]


def url_of(client: redis.Redis) -> str:
    kw = client.connection_pool.connection_kwargs
    return f"redis://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


def spec(list_id: str, pacing: int) -> dict[str, Any]:
    return {
        "name": f"bench-{uuid.uuid4().hex[:6]}",
        "contact_list_ids": [list_id],
        "dialing_mode": "agentless",
        "start_flow_id": "flow",
        "caller_id": "+12125550199",
        "contactable_timings": ContactableTimings.default("America/New_York").model_dump(
            mode="json"
        ),
        "max_attempts": 1,
        "pacing": pacing,
        "amd_enabled": False,
    }


def make_campaigns(state: DialerState, count: int, leads: int, pacing: int) -> list[Campaign]:
    out = []
    for c in range(count):
        lst = state.lists.create(f"list {c}")
        numbers = "\n".join(f"+1212{c % 800 + 200:03d}{i:04d}" for i in range(leads))
        report = state.lists.import_csv(lst.id, [f"phone\n{numbers}\n"])
        assert report.accepted == leads, report.rejected[:3]
        out.append(state.campaigns.create(spec(lst.id, pacing)))
    return out


def redis_alone(state: DialerState, campaign: Campaign) -> tuple[int, float]:
    """Originations/s of lease -> call record -> complete with no actors in between."""
    from cluster.lifecycle import Action

    campaign = state.campaigns.act(campaign.id, Action.RUN)
    run = state.campaigns.run_instance(campaign)
    assert run is not None
    calls = 0
    with Timer() as t:
        while True:
            now = state.clock.now_ms()
            leased = run.lease_contacts(now, 200, 600_000, 1, max_leased=campaign.pacing)
            if not leased:
                break
            pipe = state.r.pipeline(transaction=False)
            for lc in leased:
                key = run.attempt_key(lc.lease)
                call_id = uuid.uuid4().hex[:12]
                pipe.hsetnx(run.keys.idempotency(), key, call_id)
                pipe.hset(run.keys.calls(), call_id, msgpack.packb({"lead": lc.lease.lead}))
            pipe.execute()
            for lc in leased:
                run.leads.complete(
                    now, lc.lease, Outcome.BUSY, retry=True, max_attempts=1, min_retry_ms=0
                )
            calls += len(leased)
    return calls, t.elapsed


def through_actors(url: str, campaigns_n: int, leads: int, pacing: int) -> tuple[int, float]:
    import ray

    from actors.controller import start_controller, stop_controller
    from actors.runtime import RuntimeConfig
    from cluster.lifecycle import Action

    cfg = RuntimeConfig(
        redis_url=url,
        prefix=bench_prefix("dispatch"),
        time_scale=1.0,
        clock_origin_real_s=time.time(),
        clock_origin_virtual_ms=MONDAY_10AM_NY_MS,
        carrier=ZERO_LATENCY,
    )
    state = cfg.state()
    for trunk in TRUNKS:
        state.trunks.put(trunk)
    campaigns = make_campaigns(state, campaigns_n, leads, pacing)
    controller = start_controller(cfg)
    try:
        for c in campaigns:
            state.campaigns.act(c.id, Action.RUN)
        ray.get([controller.campaign_changed.remote(c.id) for c in campaigns])
        runs = [state.campaigns.run_instance(state.campaigns.get(c.id)) for c in campaigns]
        # Timed from the first origination seen, so actor start-up is not counted.
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            progress = [r.leads.progress() for r in runs if r is not None]
            dialed = sum(p.dialed + p.in_progress for p in progress)
            if first is None and dialed:
                first = (time.perf_counter(), dialed)
            if all(p.completed == p.total for p in progress):
                break
            time.sleep(0.01)
        assert first is not None
        elapsed = time.perf_counter() - first[0]
        dialed = sum(p.dialed for p in progress) - first[1]
    finally:
        stop_controller(cfg)
        drop_prefix(state.r, cfg.prefix)
    return dialed, elapsed


def main(argv: list[str] | None = None) -> int:
    import ray

    p = parser(__doc__)
    p.add_argument("--leads", type=int, default=6_000, help="leads in all, split over campaigns")
    p.add_argument("--pacing", type=int, default=1000, help="calls up at once per campaign")
    args = p.parse_args(argv)
    total = 200 if args.smoke else args.leads
    counts = [1] if args.smoke else [1, 4, 16]
    rows = []
    with redis_server() as client:
        prefix = bench_prefix("dispatch-alone")
        state = DialerState(client, prefix=prefix)
        (campaign,) = make_campaigns(state, 1, total, args.pacing)
        calls, alone_s = redis_alone(state, campaign)
        drop_prefix(client, prefix)
        ceiling = calls / alone_s
        started_ray = not ray.is_initialized()
        if started_ray:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            for n in counts:
                dialed, seconds = through_actors(url_of(client), n, total // n, args.pacing)
                rows.append([f"{n} campaign{'s' if n > 1 else ''} ({total // n:,} leads each)",
                             f"{dialed:,}", f"{seconds:.1f}", f"{dialed / seconds:,.0f}/s",
                             f"{dialed / seconds / ceiling:.2f}x"])  # fmt: skip
        finally:
            if started_ray:
                ray.shutdown()
    rows.append(["ceiling: the same loop on Redis alone", f"{calls:,}", f"{alone_s:.1f}",
                 f"{ceiling:,.0f}/s", "1.00x"])  # fmt: skip
    print_table(
        "3. Dial dispatch: originations/s, zero-latency carrier, 4 trunks",
        ["campaigns", "calls timed", "seconds", "originations/s", "vs ceiling"],
        rows,
        [
            "goal: >= 5,000 originations/s end to end",
            f"pacing {args.pacing} per campaign; timed from the first call placed to the last "
            "lead final (actor start-up excluded)",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
