"""Benchmark 4: progressive latency, from an agent becoming available to the originate reaching
the trunk's driver.

200 agents log into one queue served by a progressive campaign, through the real controller,
pool, campaign and trunk actors on a local Ray. The simulated carrier answers every call at once
(no ring, AMD off) and the far end hangs up after a short talk time; the bench plays the desks,
filing a disposition as soon as a call ends (it reads the agents' assignment streams, as the
gateway does), so agents become available again and again.

Timestamps (RuntimeConfig.trace_latency): the pool notes time.time_ns() when an agent moves to
available (login, or after its disposition), the trunk puts time.time_ns() in the call record it
writes just before handing the call to its driver; a call's latency is the one minus the latest
of the other for its agent. Calls whose agent had just logged in (all 200 at once) are reported
apart: they measure a burst, the others steady state. The baselines are measured in the same
process: an awaited no-op call between two actors, a named-actor lookup, a Redis PING.
"""

from __future__ import annotations

import bisect
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack
import ray
import redis

from bench.common import (
    bench_prefix,
    drop_prefix,
    load_average,
    parser,
    percentile,
    print_table,
    redis_server,
)
from bench.dispatch import MONDAY_10AM_NY_MS, url_of
from bench.probes import BareActor, Prober, local_ray
from cluster.codec import text
from cluster.models import ContactableTimings
from cluster.state import DialerState
from cluster.telephony import CarrierProfile

QUEUE = "bench"
TRUNK = {"id": "trunk-0", "channels": 1000, "cps": 10_000}


def carrier(talk_s: tuple[float, float]) -> CarrierProfile:
    """Every call answered at once by a person who hangs up after talk_s (real seconds)."""
    return CarrierProfile(
        human=1, machine=0, busy=0, no_answer=0, failed=0, ring_s=(0.0, 0.0), talk_s=talk_s, seed=1
    )


def make_campaign(state: DialerState, leads: int, offset: int) -> str:
    lst = state.lists.create(f"list {offset}")
    numbers = "\n".join(
        f"+1212{200 + (offset + i) // 10_000:03d}{(offset + i) % 10_000:04d}" for i in range(leads)
    )
    report = state.lists.import_csv(lst.id, [f"phone\n{numbers}\n"])
    assert report.accepted == leads, report.rejected[:3]
    timings = ContactableTimings.default("America/New_York").model_dump(mode="json")
    campaign = state.campaigns.create(
        {
            "name": f"bench-{uuid.uuid4().hex[:6]}",
            "contact_list_ids": [lst.id],
            "dialing_mode": "progressive",
            "queue_id": QUEUE,
            "start_flow_id": "flow",
            "caller_id": "+12125550199",
            "contactable_timings": timings,
            "max_attempts": 1,
            "max_ring_time_seconds": 30,
            "amd_enabled": False,
        }
    )
    return campaign.id


class Desks(threading.Thread):
    """Files 'sale' for every call as soon as it ends, from the agents' assignment streams."""

    def __init__(self, client: redis.Redis, state: DialerState, pool: Any, agents: list[str]):
        super().__init__(daemon=True)
        self.r = client
        self.pool = pool
        self.streams = {state.keys.agent_assignments(QUEUE, a): a for a in agents}
        self.stopped = threading.Event()
        self.filed = 0
        self.refused = 0

    def run(self) -> None:
        last: dict[str, str] = dict.fromkeys(self.streams, "0")
        pending: list[Any] = []
        while not self.stopped.is_set():
            replies: Any = self.r.xread(last, block=50) or []  # type: ignore[arg-type]
            for raw_key, messages in replies:
                key = text(raw_key)
                for msg_id, fields in messages:
                    last[key] = text(msg_id)
                    if msgpack.unpackb(fields[b"event"])["event"] == "ended":
                        pending.append(self.pool.dispose.remote(self.streams[key], "sale"))
            if pending:
                done, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
                for ref in done:
                    try:
                        ray.get(ref)
                        self.filed += 1
                    except Exception:
                        self.refused += 1


@dataclass
class Sample:
    latency_ns: int
    pool_ns: int | None
    """Of which: available -> the pool reserving the agent (ms resolution, from its grants)."""
    login: bool


@dataclass
class RunResult:
    label: str
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)
    dispositions: int = 0
    leads_left: int = 0


def join(
    trace: list[tuple[str, int]],
    records: list[dict[str, Any]],
    grants: list[tuple[int, str, str]],
    grant_ms_to_ns: Callable[[int], int],
) -> list[Sample]:
    """Pairs each call with the latest time its agent became available before it started."""
    available: dict[str, list[int]] = defaultdict(list)
    for agent, at_ns in trace:
        available[agent].append(at_ns)
    granted: dict[str, list[int]] = defaultdict(list)
    for at_ms, agent, _ in grants:
        granted[agent].append(grant_ms_to_ns(at_ms))
    for times in (*available.values(), *granted.values()):
        times.sort()
    out = []
    for rec in records:
        who, start_ns = rec.get("agent"), rec.get("start_ns")
        if not isinstance(who, str) or start_ns is None:
            continue
        times = available[who]
        i = bisect.bisect_right(times, start_ns) - 1
        if i < 0:
            continue
        grants_of = granted[who]
        g = bisect.bisect_right(grants_of, start_ns) - 1
        pool_ns = grants_of[g] - times[i] if g >= 0 and grants_of[g] >= times[i] - 1e6 else None
        out.append(Sample(start_ns - times[i], pool_ns, login=i == 0))
    return out


def run_once(
    url: str, label: str, agents: int, talk_s: tuple[float, float], seconds: float, leads: int
) -> RunResult:
    from actors.controller import start_controller, stop_controller
    from actors.runtime import RuntimeConfig
    from cluster.lifecycle import Action

    cfg = RuntimeConfig(
        redis_url=url,
        prefix=bench_prefix("progressive"),
        time_scale=1.0,
        clock_origin_real_s=time.time(),
        clock_origin_virtual_ms=MONDAY_10AM_NY_MS,
        carrier=carrier(talk_s),
        trace_latency=True,
    )
    assert cfg.clock_origin_real_s is not None
    origin_real_ns = int(cfg.clock_origin_real_s * 1e9)

    def grant_ms_to_ns(at_ms: int) -> int:
        # ScaledClock at scale 1 truncates to the ms: the instant lies within the next ms.
        return origin_real_ns + (at_ms - MONDAY_10AM_NY_MS) * 1_000_000 + 500_000

    state = cfg.state()
    state.trunks.put(TRUNK)
    campaign_id = make_campaign(state, leads, 0)
    names = [f"agent-{i:03d}" for i in range(agents)]
    result = RunResult(label)
    controller = start_controller(cfg)
    try:
        pool = ray.get(controller.pool.remote(QUEUE))
        state.campaigns.act(campaign_id, Action.RUN)
        ray.get(controller.campaign_changed.remote(campaign_id))
        deadline = time.monotonic() + 60
        while not ray.get(pool.stats.remote())["wanting"]:
            assert time.monotonic() < deadline, "the campaign never asked for agents"
            time.sleep(0.05)
        desks = Desks(state.r, state, pool, names)
        desks.start()
        load_before = load_average()
        started = time.perf_counter()
        ray.get([pool.login.remote(name) for name in names])  # all at once: a burst
        time.sleep(max(0.0, seconds - (time.perf_counter() - started)))
        result.seconds = time.perf_counter() - started
        result.load = (load_before, load_average())
        desks.stopped.set()
        desks.join()
        result.dispositions = desks.filed
        trace = ray.get(pool.available_trace.remote())
        grants = ray.get(pool.stats.remote())["grants"]
        campaign = state.campaigns.get(campaign_id)
        run = state.campaigns.run_instance(campaign)
        assert run is not None
        progress = run.leads.progress()
        result.leads_left = progress.total - progress.completed - progress.in_progress
        raw: dict[bytes, bytes] = state.r.hgetall(run.keys.calls())  # type: ignore[assignment]
        records = [msgpack.unpackb(v) for v in raw.values()]
        result.samples = join(trace, records, grants, grant_ms_to_ns)
    finally:
        stop_controller(cfg)
        drop_prefix(state.r, cfg.prefix)
    return result


@dataclass
class Baseline:
    label: str
    samples_ns: list[int]


def baselines(client: redis.Redis, n: int) -> list[Baseline]:
    from actors.runtime import NAMESPACE

    name = f"{bench_prefix('probe')}:bare"
    target = BareActor.options(name=name, namespace=NAMESPACE).remote()  # type: ignore[attr-defined]
    prober = Prober.remote()  # type: ignore[attr-defined]
    try:
        ray.get(target.noop.remote())
        ray.get(prober.actor_calls.remote(target, 20))  # warm both workers
        calls = ray.get(prober.actor_calls.remote(target, n))
        lookups = ray.get(prober.lookups.remote(name, n))
    finally:
        ray.kill(target)
        ray.kill(prober)
    pings = []
    for _ in range(n):
        started = time.perf_counter_ns()
        client.ping()
        pings.append(time.perf_counter_ns() - started)
    return [
        Baseline("baseline: no-op call actor -> actor (awaited)", calls),
        Baseline("baseline: named actor lookup (find_actor)", lookups),
        Baseline("baseline: Redis PING round trip", pings),
    ]


def ms(ns: float) -> str:
    return f"{ns / 1e6:.2f}" if ns == ns else "-"  # nan: no samples


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--agents", type=int, default=200)
    p.add_argument("--seconds", type=float, default=90.0, help="per run, from the logins")
    p.add_argument("--leads", type=int, default=12_000, help="per run (more than it can dial)")
    p.add_argument("--probes", type=int, default=1000, help="samples per baseline")
    args = p.parse_args(argv)
    if args.smoke:
        agents, seconds, leads, probes = 20, 3.0, 300, 100
        runs = [("short calls", (0.2, 0.4))]
    else:
        agents, seconds, leads, probes = args.agents, args.seconds, args.leads, args.probes
        # Agents come back every ~2 s (busy dispatch) and every ~30 s (a light load).
        runs = [("talk 1-3 s", (1.0, 3.0)), ("talk 20-40 s", (20.0, 40.0))]
    rows: list[list[str]] = []
    notes: list[str] = []
    joined = 0
    with redis_server() as client, local_ray():
        base = baselines(client, probes)
        ray_p50 = percentile(base[0].samples_ns, 50)
        for label, talk in runs:
            res = run_once(url_of(client), label, agents, talk, seconds, leads)
            for phase, login in (("steady", False), ("login burst", True)):
                picked = [s for s in res.samples if s.login is login]
                lat = [s.latency_ns for s in picked]
                pool = [s.pool_ns for s in picked if s.pool_ns is not None]
                p50 = percentile(lat, 50)
                rows.append([
                    f"{agents} agents, {label}: {phase}", f"{len(lat):,}", ms(p50),
                    ms(percentile(lat, 99)), ms(max(lat, default=float("nan"))),
                    ms(percentile(pool, 50)), f"{p50 / ray_p50:.1f}x" if lat else "-",
                    f"{res.load[0]:.1f} -> {res.load[1]:.1f}",
                ])  # fmt: skip
            calls = len(res.samples)
            joined += calls
            notes.append(
                f"{label}: {calls:,} calls in {res.seconds:.0f} s ({calls / res.seconds:.0f}/s), "
                f"{res.dispositions:,} dispositions filed, {res.leads_left:,} leads left"
            )
        for b in base:
            p50 = percentile(b.samples_ns, 50)
            rows.append([
                b.label, f"{len(b.samples_ns):,}", ms(p50), ms(percentile(b.samples_ns, 99)),
                ms(max(b.samples_ns)), "", f"{p50 / ray_p50:.1f}x", f"{load_average():.1f}",
            ])  # fmt: skip
    print_table(
        f"4. Progressive latency: agent available -> originate at the trunk's driver, "
        f"{agents} agents",
        ["run", "calls", "p50 ms", "p99 ms", "max ms", "pool part p50", "p50 vs Ray call", "load"],
        rows,
        [
            "goal: p99 < 10 ms",
            "pool part: available -> the pool reserving the agent (the rest is the campaign "
            "leasing a lead and the trunk's checks); ms resolution",
            "the trunk's timestamp is taken as it writes the call record, one Redis HSET before "
            "its driver gets the call",
            *notes,
        ],
    )
    if not joined:
        print("no call could be paired with its agent's availability: is the trace on?")
    return 0 if joined else 1


if __name__ == "__main__":
    raise SystemExit(main())
