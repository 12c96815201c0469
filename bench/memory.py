"""Benchmark 5: memory per campaign actor, per 1M leads, and for the whole cluster at rest.

(a) A CampaignActor's worker process (RSS, and USS: the pages no other process shares) while its
campaign is paused, while it dials an agentless campaign through a zero-latency carrier (the
peak of samples every 0.1 s), and after; the baseline is a bare Ray actor's worker.
(b) Redis used_memory after importing a contact list of 1M rows, then after `run` seeds the run
instance's lead state; the baseline is a plain Redis set of 1M 12-byte strings (an E.164 US
number is 12 bytes).
(c) Ray's processes (found as children of this process, which started Ray) and Redis, with the
controller, one trunk, one pool and one paused campaign running; the baseline is the same Ray
before any actor of ours. PSS splits shared pages among the processes sharing them, so PSS
sums to what the cluster really holds; RSS counts shared libraries once per process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import ray
import redis

from bench.common import (
    Timer,
    bench_prefix,
    drop_prefix,
    load_average,
    parser,
    print_table,
    redis_server,
    server_pid,
    used_memory,
)
from bench.dispatch import MONDAY_10AM_NY_MS, TRUNKS, ZERO_LATENCY, spec, url_of
from bench.probes import BareActor, actor_pid, local_ray
from cluster.lifecycle import Action
from cluster.state import DialerState

MIB = 1024 * 1024
QUEUE = "bench"


@dataclass
class Mem:
    rss: int
    uss: int
    pss: int


def mem(pid: int) -> Mem:
    info = psutil.Process(pid).memory_full_info()
    return Mem(int(info.rss), int(info.uss), int(getattr(info, "pss", 0)))


def mib(n: float) -> str:
    return f"{n / MIB:,.1f}"


def phone_rows(n: int, chunk: int = 20_000) -> Iterator[str]:
    """A CSV of n distinct valid numbers, in chunks (never the whole file in memory)."""
    yield "phone,first_name,last_name\n"
    for start in range(0, n, chunk):
        yield "".join(
            f"+1{212 + i // 8_000_000:03d}{200 + i // 10_000 % 800:03d}{i % 10_000:04d},"
            f"Ann{i},Smith{i}\n"
            for i in range(start, min(start + chunk, n))
        )


# (a) and (c) ------------------------------------------------------------------------------


def ray_processes() -> list[psutil.Process]:
    """Ray's processes on this node: descendants of this process when it started Ray. Walking
    the tree races with processes that exit meanwhile (Ray's workers come and go): retried."""
    for _ in range(5):
        try:
            return psutil.Process().children(recursive=True)
        except psutil.Error:
            time.sleep(0.05)
    return []


SERVICES = "Ray services (dashboard, monitors, agents)"


def kind_of(proc: psutil.Process, ours: dict[int, str]) -> str:
    if proc.pid in ours:
        return ours[proc.pid]
    try:
        name, title = proc.name(), " ".join(proc.cmdline()[:1])
    except psutil.Error:
        return "gone"
    if name in ("gcs_server", "raylet"):
        return name
    if name.startswith("redis-server"):
        return "gone"  # the embedded Redis is our child too: counted apart
    if title.startswith("ray::IDLE"):
        return "idle Ray workers (prestarted)"
    if title.startswith("ray::") and not title.endswith("Agent"):
        return "other actors' workers"
    return SERVICES


def cluster_rows(ours: dict[int, str]) -> tuple[dict[str, list[Mem]], bool]:
    """Memory of Ray's processes by kind; False when this process did not start Ray."""
    by_kind: dict[str, list[Mem]] = {}
    for proc in ray_processes():
        kind = kind_of(proc, ours)
        try:
            by_kind.setdefault(kind, []).append(mem(proc.pid))
        except psutil.Error:
            continue
    by_kind.pop("gone", None)
    return by_kind, "gcs_server" in by_kind


@dataclass
class ActorRun:
    bare: Mem
    idle: Mem
    dialing_peak: Mem
    after: Mem
    leads: int
    dial_s: float
    ray_before: dict[str, list[Mem]]
    ray_at_rest: dict[str, list[Mem]]
    local_ray: bool
    redis_at_rest: int
    redis_rss: int | None
    load: tuple[float, float]


def actors_and_cluster(client: redis.Redis, leads: int, settle_s: float) -> ActorRun:
    from actors.controller import start_controller, stop_controller
    from actors.runtime import RuntimeConfig, campaign_actor_name, find_actor, trunk_actor_name

    load_before = load_average()
    ray_before, _ = cluster_rows({})
    bare_actor = BareActor.remote()  # type: ignore[attr-defined]
    try:
        bare = mem(ray.get(bare_actor.pid.remote()))
    finally:
        ray.kill(bare_actor)
    cfg = RuntimeConfig(
        redis_url=url_of(client),
        prefix=bench_prefix("memory"),
        time_scale=1.0,
        clock_origin_real_s=time.time(),
        clock_origin_virtual_ms=MONDAY_10AM_NY_MS,
        carrier=ZERO_LATENCY,
    )
    state = cfg.state()
    state.trunks.put(TRUNKS[0])
    lst = state.lists.create("memory")
    report = state.lists.import_csv(lst.id, phone_rows(leads))
    assert report.accepted == leads, report.rejected[:3]
    campaign = state.campaigns.create(spec(lst.id, pacing=1000))
    controller = start_controller(cfg)
    try:
        pool = ray.get(controller.pool.remote(QUEUE))
        state.campaigns.act(campaign.id, Action.RUN)
        state.campaigns.act(campaign.id, Action.PAUSE)
        ray.get(controller.campaign_changed.remote(campaign.id))
        dialer = find_actor(campaign_actor_name(cfg, campaign.id))
        trunk = find_actor(trunk_actor_name(cfg, str(TRUNKS[0]["id"])))
        assert dialer is not None and trunk is not None
        ours = {
            actor_pid(controller): "our actor: controller",
            ray.get(trunk.pid.remote()): "our actor: trunk",
            ray.get(pool.pid.remote()): "our actor: agent pool",
            ray.get(dialer.pid.remote()): "our actor: campaign (paused)",
        }
        time.sleep(settle_s)  # a few passes of every loop: at rest, not starting up
        ray_at_rest, started_here = cluster_rows(ours)
        redis_at_rest = used_memory(client)
        try:
            redis_rss: int | None = mem(server_pid(client)).rss
        except psutil.Error:
            redis_rss = None  # REDIS_URL on another host
        dialer_pid = ray.get(dialer.pid.remote())
        idle = mem(dialer_pid)
        state.campaigns.act(campaign.id, Action.RESUME)
        ray.get(controller.campaign_changed.remote(campaign.id))
        run = state.campaigns.run_instance(state.campaigns.get(campaign.id))
        assert run is not None
        peak = idle
        with Timer() as t:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                now = mem(dialer_pid)
                if now.rss > peak.rss:
                    peak = now
                progress = run.leads.progress()
                if progress.completed == progress.total:
                    break
                time.sleep(0.1)
        after = mem(dialer_pid)
    finally:
        stop_controller(cfg)
        drop_prefix(state.r, cfg.prefix)
    return ActorRun(
        bare, idle, peak, after, leads, t.elapsed, ray_before, ray_at_rest, started_here,
        redis_at_rest, redis_rss, (load_before, load_average()),
    )  # fmt: skip


# (b) --------------------------------------------------------------------------------------


@dataclass
class LeadsRun:
    leads: int
    contacts_bytes: int
    run_bytes: int
    baseline_bytes: int
    by_key: list[tuple[str, int]]
    import_s: float
    seed_s: float
    load: tuple[float, float]


def key_usage(client: redis.Redis, prefix: str) -> list[tuple[str, int]]:
    """MEMORY USAGE of every key under prefix (exact: SAMPLES 0), largest first."""
    out = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        usage = client.memory_usage(key, samples=0)
        out.append((key.decode() if isinstance(key, bytes) else str(key), int(usage or 0)))
    return sorted(out, key=lambda kv: -kv[1])


def settled_memory(client: redis.Redis) -> int:
    """used_memory once keys unlinked earlier have been freed (UNLINK frees big ones later)."""
    deadline = time.monotonic() + 30
    while int(client.info("memory").get("lazyfree_pending_objects", 0)) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    return used_memory(client)


def per_million_leads(client: redis.Redis, leads: int) -> LeadsRun:
    load_before = load_average()
    key = f"{bench_prefix('memory-set')}:numbers"
    m_before_set = settled_memory(client)
    for start in range(0, leads, 10_000):
        client.sadd(key, *(f"+1212{i:07d}" for i in range(start, min(start + 10_000, leads))))
    baseline = used_memory(client) - m_before_set
    client.delete(key)
    prefix = bench_prefix("memory-leads")
    state = DialerState(client, prefix=prefix)
    try:
        m0 = settled_memory(client)
        with Timer() as imported:
            lst = state.lists.create("one million")
            report = state.lists.import_csv(lst.id, phone_rows(leads))
        assert report.accepted == leads, report.rejected[:3]
        m1 = used_memory(client)
        with Timer() as seeded:
            campaign = state.campaigns.create(spec(lst.id, pacing=100))
            state.campaigns.act(campaign.id, Action.RUN)  # seeds the run instance
        m2 = used_memory(client)
        by_key = key_usage(client, prefix)
    finally:
        drop_prefix(client, prefix)
    return LeadsRun(
        leads, m1 - m0, m2 - m1, baseline, by_key, imported.elapsed, seeded.elapsed,
        (load_before, load_average()),
    )  # fmt: skip


def short_key(key: str, prefix_parts: int = 3) -> str:
    """The key without its bench prefix and ids, e.g. c:<id>:run:1:ready -> run:ready."""
    parts = key.split(":")[prefix_parts:]
    return ":".join(p for p in parts if not any(ch.isdigit() for ch in p) or len(p) < 3)


# Report -----------------------------------------------------------------------------------


def print_actor_table(r: ActorRun) -> None:
    rows = [
        ["baseline: bare Ray actor (async, no-op)", mib(r.bare.rss), mib(r.bare.uss), "1.00x", ""],
        ["CampaignActor, campaign paused", mib(r.idle.rss), mib(r.idle.uss),
         f"{r.idle.rss / r.bare.rss:.2f}x", mib(r.idle.uss - r.bare.uss)],
        [f"CampaignActor dialing {r.leads:,} leads (peak)", mib(r.dialing_peak.rss),
         mib(r.dialing_peak.uss), f"{r.dialing_peak.rss / r.bare.rss:.2f}x",
         mib(r.dialing_peak.uss - r.bare.uss)],
        ["CampaignActor after dialing", mib(r.after.rss), mib(r.after.uss),
         f"{r.after.rss / r.bare.rss:.2f}x", mib(r.after.uss - r.bare.uss)],
    ]  # fmt: skip
    print_table(
        "5a. Memory per campaign actor (its worker process)",
        ["process", "RSS MiB", "USS MiB", "RSS vs bare actor", "USS over bare MiB"],
        rows,
        [
            f"agentless, zero-latency busy carrier, {r.leads:,} leads dialed in {r.dial_s:.1f} s; "
            f"load {r.load[0]:.1f} -> {r.load[1]:.1f}",
        ],
    )


def print_leads_table(r: LeadsRun) -> None:
    per = 1_000_000 / r.leads
    rows = [
        ["contact list (import)", f"{r.contacts_bytes / r.leads:,.0f}",
         f"{r.contacts_bytes * per / MIB:,.0f}", f"{r.contacts_bytes / r.baseline_bytes:.2f}x",
         f"{r.import_s:.0f}"],
        ["run lead state (run: seed)", f"{r.run_bytes / r.leads:,.0f}",
         f"{r.run_bytes * per / MIB:,.0f}", f"{r.run_bytes / r.baseline_bytes:.2f}x",
         f"{r.seed_s:.0f}"],
        ["baseline: SADD of 12-byte numbers", f"{r.baseline_bytes / r.leads:,.0f}",
         f"{r.baseline_bytes * per / MIB:,.0f}", "1.00x", ""],
    ]  # fmt: skip
    top = ", ".join(f"{short_key(k)} {v / r.leads:,.0f}" for k, v in r.by_key[:5] if v > 0)
    print_table(
        f"5b. Redis memory per lead ({r.leads:,} leads)",
        ["what", "bytes/lead", "MiB per 1M leads", "vs baseline", "seconds"],
        rows,
        [
            f"used_memory deltas; by key (MEMORY USAGE, bytes/lead): {top}",
            f"load {r.load[0]:.1f} -> {r.load[1]:.1f}",
        ],
    )


def print_cluster_table(r: ActorRun) -> None:
    if not r.local_ray:
        print_table("5c. Whole cluster at rest", ["component"], [["not measured: Ray was not "
                    "started by this process (RAY_ADDRESS?)"]])  # fmt: skip
        return
    rows = []
    total = Mem(0, 0, 0)
    for kind in sorted(r.ray_at_rest):
        mems = r.ray_at_rest[kind]
        rss, pss = sum(m.rss for m in mems), sum(m.pss for m in mems)
        total = Mem(total.rss + rss, 0, total.pss + pss)
        rows.append([kind, str(len(mems)), mib(rss), mib(pss)])
    redis_rss = r.redis_rss or 0
    rows.append(["Redis used_memory (RSS)", "1", f"{mib(r.redis_at_rest)} ({mib(redis_rss)})", ""])
    rows.append(["total (Ray RSS/PSS + Redis used_memory)", "",
                 mib(total.rss + r.redis_at_rest), mib(total.pss + r.redis_at_rest)])  # fmt: skip
    before = [m for mems in r.ray_before.values() for m in mems]
    b_rss, b_pss = sum(m.rss for m in before), sum(m.pss for m in before)
    rows.append(["baseline: Ray alone, before our actors", str(len(before)), mib(b_rss),
                 mib(b_pss)])  # fmt: skip
    print_table(
        "5c. Whole cluster at rest: controller, 1 trunk, 1 pool, 1 paused campaign",
        ["component", "processes", "RSS MiB", "PSS MiB"],
        rows,
        [f"the paused campaign has {r.leads:,} leads; load {r.load[0]:.1f}"],
    )


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--leads", type=int, default=1_000_000, help="for (b)")
    p.add_argument("--dial-leads", type=int, default=20_000, help="for (a)")
    args = p.parse_args(argv)
    leads, dial_leads = (2_000, 200) if args.smoke else (args.leads, args.dial_leads)
    with redis_server() as client:
        with local_ray():
            actor_run = actors_and_cluster(client, dial_leads, 1.0 if args.smoke else 5.0)
        leads_run = per_million_leads(client, leads)
    print_actor_table(actor_run)
    print_leads_table(leads_run)
    print_cluster_table(actor_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
