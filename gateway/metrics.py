"""The metrics endpoint: Prometheus text format, served by the gateway process.

Two sources, one registry per gateway:

- `DialerCollector` reads Redis at scrape time: the counters the engine keeps in Redis (see
  cluster/metrics.py) and gauges computed from the state itself (campaign status, leads
  ready / leased / done, trunk channels in use, agents by state). Redis is the source of truth
  and is shared by every dialer node, so any one gateway exports the whole cluster's totals;
  a scrape makes three pipelined round trips, O(campaigns + trunks + queues) commands, and
  reads O(live calls + agents) data, never O(leads). Campaigns with agents also have their
  abandon ledger's compliance window read in the third round trip (31 small hashes for a US
  campaign, one for a UK one).
- `GrpcMetrics`: requests and latency of this gateway's own gRPC server, in process (the
  Guard interceptor records them). Every gateway exports its own; Prometheus sums them.

`read_snapshot` does the I/O, `families` turns a snapshot into metric families (pure).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgpack
import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from cluster.abandon import (
    AbandonCounts,
    budget_from_counts,
    hash_counts,
    local_day,
    us_window_counts,
    us_window_days,
)
from cluster.agents import AgentState
from cluster.codec import text
from cluster.metrics import CampaignCounters, abandon_ratio, occupancy_ratio
from cluster.models import Campaign, CampaignStatus, ComplianceRegime, DialingMode
from cluster.scheduler import may_dial_any
from cluster.state import DialerState
from cluster.trunks import TrunkConfig

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "127.0.0.1:9464"
GRPC_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass
class CampaignSnapshot:
    campaign: Campaign
    counters: dict[str, CampaignCounters]
    """By dialing mode."""
    leads: dict[str, int] = field(default_factory=dict)
    """ready, waiting, leased, done (the current run instance)."""
    abandon_window: AbandonCounts | None = None
    """The abandon ledger's counts in the campaign's compliance window (campaigns with agents
    that have run; None otherwise)."""


@dataclass
class Snapshot:
    now: datetime
    campaigns: list[CampaignSnapshot] = field(default_factory=list)
    trunks: list[TrunkConfig] = field(default_factory=list)
    trunk_calls: dict[str, list[str]] = field(default_factory=dict)
    """trunk id -> the campaign of each live call."""
    agents: dict[str, dict[str, int]] = field(default_factory=dict)
    """queue id -> agent state -> agents."""
    tenant_counters: dict[str, int] = field(default_factory=dict)


def read_snapshot(state: DialerState) -> Snapshot:
    """Everything a scrape needs, in three pipelined round trips."""
    r, keys = state.r, state.keys
    pipe = r.pipeline(transaction=False)
    pipe.hkeys(keys.campaign_index())
    pipe.hgetall(keys.trunks())
    pipe.hkeys(keys.queues())
    pipe.hgetall(keys.counters())
    campaign_ids, trunks_raw, queues_raw, tenant_raw = pipe.execute()
    campaign_ids = sorted(text(c) for c in campaign_ids)
    trunks = sorted(
        (TrunkConfig.model_validate(msgpack.unpackb(v)) for v in trunks_raw.values()),
        key=lambda t: t.id,
    )
    queues = sorted(text(q) for q in queues_raw)
    modes = [m.value for m in DialingMode]

    pipe = r.pipeline(transaction=False)
    for campaign_id in campaign_ids:
        ck = keys.campaign(campaign_id)
        pipe.get(ck.record())
        for mode in modes:
            pipe.hgetall(ck.counters(mode))
    for trunk in trunks:
        pipe.hvals(keys.trunk_calls(trunk.id))
    for queue in queues:
        pipe.hvals(keys.queue_agents(queue))
    replies = iter(pipe.execute())
    snap = Snapshot(now=state.clock.now())
    for _ in campaign_ids:
        raw = next(replies)
        counters = {mode: CampaignCounters.parse(next(replies)) for mode in modes}
        if raw is not None:  # deleted between the two reads
            campaign = Campaign.from_record(msgpack.unpackb(raw))
            snap.campaigns.append(CampaignSnapshot(campaign, counters))
    snap.trunks = trunks
    for trunk in trunks:
        snap.trunk_calls[trunk.id] = [text(c) for c in next(replies)]
    for queue in queues:
        by_state = {s.value: 0 for s in AgentState}
        for packed in next(replies):
            agent_state = str(msgpack.unpackb(packed).get("state", ""))
            by_state[agent_state] = by_state.get(agent_state, 0) + 1
        snap.agents[queue] = by_state
    snap.tenant_counters = {text(k): int(v) for k, v in tenant_raw.items()}

    running = [c for c in snap.campaigns if c.campaign.run_instance]
    with_agents = [c for c in running if c.campaign.dialing_mode.uses_agents]
    now_ms = state.clock.now_ms()
    us_days = us_window_days(now_ms)
    pipe = r.pipeline(transaction=False)
    for c in running:
        run = keys.campaign(c.campaign.id).run(c.campaign.run_instance)
        pipe.hget(run.progress(), "completed")
        pipe.zcard(run.ready())
        pipe.zcard(run.waiting())
        pipe.hlen(run.leases())
    for c in with_agents:
        ck = keys.campaign(c.campaign.id)
        if c.campaign.compliance_regime is ComplianceRegime.UK:
            zone = c.campaign.contactable_timings.timezone
            pipe.hgetall(ck.abandon_day(local_day(now_ms, zone)))
        else:
            for day in us_days:
                pipe.hgetall(ck.abandon_hours(day))
    replies = iter(pipe.execute())
    for c in running:
        done, ready, waiting, leased = (next(replies) for _ in range(4))
        c.leads = {
            "ready": int(ready),
            "waiting": int(waiting),
            "leased": int(leased),
            "done": int(done or 0),
        }
    for c in with_agents:
        if c.campaign.compliance_regime is ComplianceRegime.UK:
            c.abandon_window = hash_counts(next(replies))
        else:
            buckets = [next(replies) for _ in us_days]
            c.abandon_window = us_window_counts(now_ms, us_days, buckets)
    return snap


def families(snap: Snapshot) -> list[Metric]:
    """The Redis-backed metric families of one snapshot (pure)."""
    cm = ["campaign", "mode"]
    originated = CounterMetricFamily(
        "dialer_calls_originated", "Calls placed (one per call record).", labels=[*cm, "trunk"]
    )
    outcomes = CounterMetricFamily(
        "dialer_call_outcomes",
        "Outcomes of dialed attempts, as recorded on their leads (lease_expired: a dialer or "
        "trunk died with the call; its fate is unknown).",
        labels=[*cm, "outcome"],
    )
    dnc = CounterMetricFamily(
        "dialer_dnc_blocked",
        "Leads made final because their number is on the DNC list, at seeding or at dial time.",
        labels=[*cm, "stage"],
    )
    skipped = CounterMetricFamily(
        "dialer_leads_skipped",
        "Leads made final without a call for a reason other than DNC (contact_missing).",
        labels=[*cm, "reason"],
    )
    live = CounterMetricFamily(
        "dialer_live_answers",
        "Ended calls answered by a person (or answered with AMD off): the abandon rate's "
        "denominator.",
        labels=cm,
    )
    abandoned = CounterMetricFamily(
        "dialer_abandoned_calls",
        "Live answers no agent could take; the call was hung up (outcome abandoned).",
        labels=cm,
    )
    ring = HistogramMetricFamily(
        "dialer_call_ring_duration_seconds",
        "Time from origination to the answer, or to the end of an unanswered call.",
        labels=cm,
    )
    talk = HistogramMetricFamily(
        "dialer_call_talk_duration_seconds",
        "Time from a live answer to the hang-up.",
        labels=cm,
    )
    abandon_rate = GaugeMetricFamily(
        "dialer_campaign_abandon_ratio",
        "Abandoned calls over live answers since the campaign was created (every mode).",
        labels=["campaign"],
    )
    window_rate = GaugeMetricFamily(
        "dialer_campaign_abandon_window_ratio",
        "Abandon rate in the campaign's compliance window, from its abandon ledger (US: rolling "
        "30 days; UK: today in its time zone, with the AMD false-positive estimate).",
        labels=["campaign"],
    )
    target_rate = GaugeMetricFamily(
        "dialer_campaign_abandon_target_ratio",
        "The campaign's abandon_target: predictive pacing holds the window's rate under it.",
        labels=["campaign"],
    )
    window_calls = GaugeMetricFamily(
        "dialer_campaign_abandon_window_calls",
        "The abandon ledger's counts in the compliance window, by event: live (answers), "
        "abandoned, machine (AMD detections; UK: x amd_false_positive_rate is the estimate).",
        labels=["campaign", "event"],
    )
    info = GaugeMetricFamily(
        "dialer_campaign_info",
        "Always 1: a campaign's name, dialing mode and agent queue.",
        labels=["campaign", "name", "mode", "queue"],
    )
    status = GaugeMetricFamily(
        "dialer_campaign_status",
        "1 for the campaign's current status, 0 for the others.",
        labels=["campaign", "status"],
    )
    may_dial = GaugeMetricFamily(
        "dialer_campaign_may_dial",
        "1 when the campaign's contactable timings and schedule let it dial now.",
        labels=["campaign"],
    )
    leads = GaugeMetricFamily(
        "dialer_campaign_leads",
        "Leads of the current run instance by state (ready, waiting, leased, done).",
        labels=["campaign", "state"],
    )
    instance = GaugeMetricFamily(
        "dialer_campaign_run_instance",
        "The campaign's current run instance (0 before its first run).",
        labels=["campaign"],
    )
    last_dial = GaugeMetricFamily(
        "dialer_campaign_last_dial_timestamp_seconds",
        "When the campaign last placed a call (Unix time).",
        labels=["campaign"],
    )
    in_progress = GaugeMetricFamily(
        "dialer_calls_in_progress", "Calls live on the trunks now.", labels=["campaign"]
    )
    for c in snap.campaigns:
        cid = c.campaign.id
        total_abandoned = total_live = 0
        last_ms = 0
        for mode, k in c.counters.items():
            labels = [cid, mode]
            for trunk_id, n in sorted(k.originated.items()):
                originated.add_metric([*labels, trunk_id], n)
            for outcome, n in sorted(k.call_outcomes.items()):
                outcomes.add_metric([*labels, outcome], n)
            for reason in sorted((set(k.skipped) | set(k.seeded_final)) - {"dnc_blocked"}):
                n = k.skipped.get(reason, 0) + k.seeded_final.get(reason, 0)
                skipped.add_metric([*labels, reason], n)
            if k.call_outcomes or k.skipped or k.seeded_final or k.originated:
                for stage, n in k.dnc_blocked().items():
                    dnc.add_metric([*labels, stage], n)
                live.add_metric(labels, k.live_answers)
                abandoned.add_metric(labels, k.abandoned)
            for hist, family in (("ring", ring), ("talk", talk)):
                h = k.histogram(hist)
                if h is not None:
                    family.add_metric(labels, h.buckets, h.sum_s)
            total_abandoned += k.abandoned
            total_live += k.live_answers
            last_ms = max(last_ms, k.last_originated_ms)
        abandon_rate.add_metric([cid], abandon_ratio(total_abandoned, total_live))
        window = c.abandon_window
        if window is not None:
            budget = budget_from_counts(
                window,
                c.campaign.compliance_regime,
                c.campaign.abandon_target,
                c.campaign.amd_false_positive_rate,
            )
            window_rate.add_metric([cid], budget.rate)
            target_rate.add_metric([cid], budget.target_rate)
            for event in ("live", "abandoned", "machine"):
                window_calls.add_metric([cid, event], getattr(window, event))
        info.add_metric(
            [cid, c.campaign.name, c.campaign.dialing_mode.value, c.campaign.queue_id or ""], 1
        )
        for s in CampaignStatus:
            status.add_metric([cid, s.value], 1 if c.campaign.status is s else 0)
        may_dial.add_metric([cid], 1 if may_dial_any(c.campaign, snap.now) else 0)
        instance.add_metric([cid], c.campaign.run_instance)
        for lead_state, n in c.leads.items():
            leads.add_metric([cid, lead_state], n)
        if last_ms:
            last_dial.add_metric([cid], last_ms / 1000)
    per_campaign: dict[str, int] = {c.campaign.id: 0 for c in snap.campaigns}
    for calls in snap.trunk_calls.values():
        for cid in calls:
            per_campaign[cid] = per_campaign.get(cid, 0) + 1
    for cid, n in sorted(per_campaign.items()):
        in_progress.add_metric([cid], n)

    channels = GaugeMetricFamily(
        "dialer_trunk_channels", "Simultaneous calls a trunk may carry.", labels=["trunk"]
    )
    in_use = GaugeMetricFamily(
        "dialer_trunk_channels_in_use", "Calls live on a trunk now.", labels=["trunk"]
    )
    cps = GaugeMetricFamily(
        "dialer_trunk_calls_per_second_limit",
        "New calls per second a trunk may place (its CPS).",
        labels=["trunk"],
    )
    draining = GaugeMetricFamily(
        "dialer_trunk_draining",
        "1 while a trunk finishes its calls before removal.",
        labels=["trunk"],
    )
    for t in snap.trunks:
        channels.add_metric([t.id], t.channels)
        in_use.add_metric([t.id], len(snap.trunk_calls.get(t.id, [])))
        cps.add_metric([t.id], t.cps)
        draining.add_metric([t.id], 1 if t.draining else 0)

    agents = GaugeMetricFamily(
        "dialer_agents", "Agents of a queue by state.", labels=["queue", "state"]
    )
    occupancy = GaugeMetricFamily(
        "dialer_agent_occupancy_ratio",
        "Logged-in agents on a call or in wrap-up over all logged-in agents.",
        labels=["queue"],
    )
    for queue, by_state in sorted(snap.agents.items()):
        for agent_state, n in sorted(by_state.items()):
            agents.add_metric([queue, agent_state], n)
        occupancy.add_metric([queue], occupancy_ratio(by_state))

    rows = CounterMetricFamily(
        "dialer_import_rows", "Contact import rows by result.", labels=["result"]
    )
    for result in ("accepted", "rejected"):
        rows.add_metric([result], snap.tenant_counters.get(f"import_rows:{result}", 0))
    imports = CounterMetricFamily("dialer_imports", "Contact imports committed.")
    imports.add_metric([], snap.tenant_counters.get("imports", 0))
    return [
        originated, outcomes, dnc, skipped, live, abandoned, ring, talk, abandon_rate,
        window_rate, target_rate, window_calls, info, status, may_dial, leads, instance,
        last_dial, in_progress, channels, in_use, cps, draining, agents, occupancy, rows,
        imports,
    ]  # fmt: skip


class DialerCollector(Collector):
    """Reads Redis at each scrape. Redis unreachable: `dialer_redis_up 0` and nothing else
    from Redis (absent, not zero, so no counter seems to reset)."""

    def __init__(self, state: DialerState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("dialer_redis_up", "1 when the gateway could read Redis.")
        try:
            found = families(read_snapshot(self.state))
        except redis.RedisError as exc:
            log.warning("metrics: Redis unreachable: %s", exc)
            found = []
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
        yield up
        yield from found
        took = GaugeMetricFamily(
            "dialer_metrics_collect_duration_seconds", "Time this scrape spent reading Redis."
        )
        took.add_metric([], time.perf_counter() - started)
        yield took


class GrpcMetrics:
    """The gateway's own gRPC requests: count and latency by service, method and code."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["service", "method", "code"]
        self.requests = Counter(
            "dialer_grpc_requests",
            "gRPC requests handled by this gateway, by status code.",
            labels,
            registry=registry,
        )
        self.latency = Histogram(
            "dialer_grpc_request_duration_seconds",
            "Time to handle a gRPC request (a stream: until it ends).",
            labels,
            registry=registry,
            buckets=GRPC_LATENCY_BUCKETS_S,
        )

    def observe(self, full_method: str, code: str, seconds: float) -> None:
        """full_method: "/dialer.v1.CampaignService/GetCampaign"."""
        service, _, method = full_method.lstrip("/").rpartition("/")
        service = service.rpartition(".")[2]
        self.requests.labels(service, method, code).inc()
        self.latency.labels(service, method, code).observe(seconds)


def parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


class MetricsEndpoint:
    """An HTTP server for one registry (prometheus_client's, in a daemon thread)."""

    def __init__(self, registry: CollectorRegistry, address: str) -> None:
        self.registry = registry
        self.address = address
        self._server: Any = None
        self.port = 0

    def start(self) -> int:
        from prometheus_client import start_http_server

        host, port = parse_address(self.address)
        self._server, _ = start_http_server(port, host, registry=self.registry)
        self.port = int(self._server.server_port)
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def build_registry(state: DialerState) -> tuple[CollectorRegistry, GrpcMetrics]:
    registry = CollectorRegistry()
    registry.register(DialerCollector(state))
    ProcessCollector(registry=registry)
    return registry, GrpcMetrics(registry)
