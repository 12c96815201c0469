"""Shared set-up and invariant checks for the engine tests (real Ray, real Redis)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgpack
import ray

from actors.controller import start_controller, stop_controller
from actors.runtime import RuntimeConfig
from cluster.leads import Lease
from cluster.lifecycle import Action
from cluster.models import Campaign, CampaignStatus, ContactableTimings
from cluster.origination import OriginationRequest, Originations
from cluster.runs import LeasedContact, RunInstance
from cluster.scheduler import effective_timings
from cluster.state import DialerState
from cluster.telephony import CarrierProfile
from cluster.windows import is_contactable

# Monday 2026-01-05 10:00 in New York.
MONDAY_10AM_NY_MS = int(datetime(2026, 1, 5, 15, 0, tzinfo=UTC).timestamp() * 1000)
SCALE = 600.0  # one real second is ten virtual minutes

PROFILE = CarrierProfile(
    human=0.35,
    machine=0.2,
    busy=0.15,
    no_answer=0.15,
    failed=0.15,
    ring_s=(3.0, 40.0),
    talk_s=(30.0, 120.0),
    message_s=(10.0, 30.0),
    invalid_line_numbers=frozenset({1013}),
    seed=7,
)


def runtime(redis_url: str, **extra: Any) -> RuntimeConfig:
    """A test cluster's configuration: 600x virtual time from Monday 10:00 in New York, the
    test carrier profile; `extra` overrides or adds fields."""
    fields: dict[str, Any] = {
        "redis_url": redis_url,
        "prefix": f"e2e-{uuid.uuid4().hex[:8]}",
        "time_scale": SCALE,
        "clock_origin_real_s": time.time(),
        "clock_origin_virtual_ms": MONDAY_10AM_NY_MS,
        "carrier": PROFILE,
        "tick_s": 0.02,
    }
    return RuntimeConfig(**{**fields, **extra})


def phones(n: int, start: int = 1000) -> list[str]:
    return [f"+1212555{start + i:04d}" for i in range(n)]


def make_list(state: DialerState, numbers: list[str]) -> str:
    lst = state.lists.create(f"list-{uuid.uuid4().hex[:6]}")
    report = state.lists.import_csv(lst.id, ["phone\n" + "\n".join(numbers) + "\n"])
    assert report.accepted == len(numbers), report.rejected
    return lst.id


def campaign_spec(list_ids: list[str], **extra: Any) -> dict[str, Any]:
    timings = ContactableTimings.default("America/New_York").model_dump(mode="json")
    return {
        "name": f"campaign-{uuid.uuid4().hex[:6]}",
        "contact_list_ids": list_ids,
        "dialing_mode": "agentless",
        "start_flow_id": "flow-survey",
        "caller_id": "+12125550199",
        "contactable_timings": timings,
        "max_attempts": 3,
        "retry_period_minutes": 2,
        "max_ring_time_seconds": 30,
        "amd_enabled": True,
        "pacing": 4,
        **extra,
    }


def leased_run(state: DialerState, **spec: Any) -> tuple[Campaign, RunInstance, LeasedContact]:
    """A one-number campaign (`campaign_spec` with `spec`) run and its lead leased, as a dialer
    leases it before originating; no engine."""
    campaign = state.campaigns.create(campaign_spec([make_list(state, ["+12125550100"])], **spec))
    campaign = state.campaigns.act(campaign.id, Action.RUN)
    run = state.campaigns.run_instance(campaign)
    assert run is not None
    (leased,) = run.lease_contacts(state.clock.now_ms(), 1, 60_000, campaign.max_attempts)
    return campaign, run, leased


def originate(
    state: DialerState,
    run: RunInstance,
    lease: Lease,
    now_ms: int,
    call_id: str,
    record: dict[str, Any] | None = None,
) -> str:
    """What the trunk's origination script answers to placing `lease`'s call now."""
    request = OriginationRequest(
        run.keys, "c", idempotency_key=run.attempt_key(lease), refusal="", lead=lease.lead,
        token=lease.token, lease_until_ms=now_ms + 60_000, call_id=call_id, record=record or {},
        originated_field="o", now_ms=now_ms,
    )  # fmt: skip
    return Originations(state.r).record_many([request])[0].result


@dataclass
class Cluster:
    cfg: RuntimeConfig
    state: DialerState
    controller: Any

    def run(self, campaign_id: str) -> Campaign:
        from cluster.lifecycle import Action

        campaign = self.state.campaigns.act(campaign_id, Action.RUN)
        ray.get(self.controller.campaign_changed.remote(campaign_id))
        return campaign

    def wait_for(
        self, predicate: Callable[[], bool], timeout_s: float = 90, what: str = "condition"
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def wait_status(self, campaign_id: str, status: CampaignStatus, timeout_s: float = 60) -> None:
        try:
            self.wait_for(
                lambda: self.state.campaigns.get(campaign_id).status is status,
                timeout_s,
                f"campaign {campaign_id} to be {status}",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.describe(campaign_id)}") from None

    def describe(self, campaign_id: str) -> str:
        """What a stuck run looks like, for failure messages."""
        campaign = self.state.campaigns.get(campaign_id)
        lines = [f"status {campaign.status}, instance {campaign.run_instance}"]
        run = self.state.campaigns.run_instance(campaign)
        if run is not None:
            snap = run.leads.snapshot()
            lines.append(f"progress {run.leads.progress()}")
            lines.append(f"ready {snap['ready']} waiting {snap['waiting']} leases {snap['leases']}")
            stuck = {lead for lead, at in snap["waiting"].items() if at == float("inf")}
            for rec in call_records(self.state, campaign):
                if rec.lead in stuck:
                    lines.append(f"held lead's call {rec}")
        if campaign.queue_id:
            from actors.runtime import find_actor, pool_actor_name

            pool = find_actor(pool_actor_name(self.cfg, campaign.queue_id))
            if pool is not None:
                lines.append(f"agents {ray.get(pool.agents.remote())}")
        return "\n".join(lines)

    def stop(self) -> None:
        stop_controller(self.cfg)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(cfg: RuntimeConfig, trunks: list[dict[str, Any]]) -> Cluster:
    state = cfg.state()
    for trunk in trunks:
        state.trunks.put(trunk)
    return Cluster(cfg, state, start_controller(cfg))


@dataclass
class CallRecord:
    call_id: str
    lead: int
    attempt: int
    trunk: str
    start_ms: int
    end_ms: int | None
    end: str | None
    agent: str | None
    answer: str
    flow: str = ""
    """The message played instead of an agent (an abandoned call's safe harbor)."""
    answer_ms: int = 0
    """When it was answered (and classified, with AMD); 0 if never."""


def call_records(state: DialerState, campaign: Campaign) -> list[CallRecord]:
    run = state.keys.campaign(campaign.id).run(campaign.run_instance)
    raw: dict[bytes, bytes] = state.r.hgetall(run.calls())  # type: ignore[assignment]
    out = []
    for call_id, packed in raw.items():
        rec = msgpack.unpackb(packed)
        out.append(
            CallRecord(
                call_id.decode(),
                rec["lead"],
                rec["attempt"],
                rec["trunk"],
                rec["start_ms"],
                rec.get("end_ms"),
                rec.get("end"),
                rec.get("agent"),
                rec.get("answer", ""),
                rec.get("flow", ""),
                rec.get("answer_ms", 0),
            )
        )
    return sorted(out, key=lambda r: r.start_ms)


def max_concurrency(intervals: list[tuple[int, int]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    live = peak = 0
    for _, delta in points:
        live += delta
        peak = max(peak, live)
    return peak


def overlaps(records: list[CallRecord]) -> list[tuple[CallRecord, CallRecord]]:
    """Pairs of calls that were live at the same time (for failure messages)."""
    out = []
    for a, b in itertools.combinations(records, 2):
        if a.start_ms < (b.end_ms or 2**62) and b.start_ms < (a.end_ms or 2**62):
            out.append((a, b))
    return out


def check_run_invariants(
    state: DialerState,
    campaign: Campaign,
    *,
    phone_of: dict[int, str],
    dnc_since_ms: dict[str, int],
    trunk_channels: dict[str, int],
    max_in_flight: int | None,
    calls_lost_at_ms: int | None = None,
    trunk_cps: dict[str, float] | None = None,
) -> list[CallRecord]:
    """Checks the compliance and accounting invariants of a finished run from Redis records.

    The run checked is `campaign.run_instance` (with `campaign.occurrence`, if scheduled): pass
    a copy naming an earlier instance to check that one.

    calls_lost_at_ms: a trunk died then; its calls have no end record and count as ended then.
    """
    allow_lost_calls = calls_lost_at_ms is not None
    run = state.campaigns.run_instance(campaign)
    assert run is not None
    snap = run.leads.snapshot()
    progress = run.leads.progress()
    records = call_records(state, campaign)
    # Every lead accounted for: all final, none left ready, waiting or leased.
    assert set(snap["final"]) == set(phone_of), "a lead was lost"
    assert not snap["ready"] and not snap["waiting"] and not snap["leases"]
    assert progress.completed == progress.total == len(phone_of)
    # None dialed twice for one attempt; never past max attempts.
    per_attempt = defaultdict(list)
    for rec in records:
        per_attempt[(rec.lead, rec.attempt)].append(rec)
        assert rec.attempt <= campaign.max_attempts
    duplicates = {k: v for k, v in per_attempt.items() if len(v) > 1}
    assert not duplicates, f"attempts dialed twice: {duplicates}"
    # Accounting: attempts made == dialed outcomes (plus none in flight).
    assert sum(snap["attempts"].values()) == progress.dialed
    ended = [r for r in records if r.end_ms is not None]
    if not allow_lost_calls:
        assert len(ended) == len(records) == progress.dialed
    # Never a DNC number (blocked from the moment it was listed).
    for rec in records:
        phone = phone_of[rec.lead]
        if phone in dnc_since_ms:
            assert rec.start_ms < dnc_since_ms[phone], f"dialed DNC number {phone}"
    # Never before the retry time; never two calls on one lead at once.
    by_lead = defaultdict(list)
    for rec in records:
        by_lead[rec.lead].append(rec)
    retry_ms = campaign.retry_period_minutes * 60_000
    for lead, calls in by_lead.items():
        calls.sort(key=lambda r: r.attempt)
        for before, after in itertools.pairwise(calls):
            assert before.end_ms is not None or allow_lost_calls
            if before.end_ms is not None:
                assert after.start_ms >= before.end_ms, f"lead {lead} on two calls at once"
                assert after.start_ms - before.end_ms >= retry_ms - 1, f"lead {lead} retried early"
    # Never outside the contactable window (as recurrence precedence makes it), nor outside
    # the scheduled occurrence the instance ran in.
    timings = effective_timings(campaign)
    for rec in records:
        when = datetime.fromtimestamp(rec.start_ms / 1000, UTC)
        assert is_contactable(timings, None, when), f"call at {when} outside the window"
        if campaign.is_scheduled:
            assert campaign.occurrence is not None and campaign.occurrence.contains(when), (
                f"call at {when} outside occurrence {campaign.occurrence}"
            )
    # Never above trunk capacity or pacing (from the call intervals themselves).
    horizon = calls_lost_at_ms or max((r.end_ms or r.start_ms for r in records), default=0) + 1
    for trunk_id, channels in trunk_channels.items():
        spans = [(r.start_ms, r.end_ms or horizon) for r in records if r.trunk == trunk_id]
        assert max_concurrency(spans) <= channels, f"trunk {trunk_id} over capacity"
    # Never above a trunk's calls per second: a token bucket with burst max(1, cps) allows at
    # most burst + cps * T call starts in any span of T seconds.
    for trunk_id, cps in (trunk_cps or {}).items():
        starts = sorted(r.start_ms for r in records if r.trunk == trunk_id)
        burst = max(1.0, cps)
        for i, j in itertools.combinations(range(len(starts)), 2):
            span_s = (starts[j] - starts[i]) / 1000
            assert j - i + 1 <= burst + cps * span_s + 1e-6, f"trunk {trunk_id} over its CPS"
    if max_in_flight is not None:
        spans = [(r.start_ms, r.end_ms or horizon) for r in records]
        assert max_concurrency(spans) <= max_in_flight, f"pacing exceeded: {overlaps(records)}"
    # Progress counters equal the per-lead records.
    final_counts: dict[str, int] = defaultdict(int)
    for outcome in snap["final"].values():
        final_counts[str(outcome)] += 1
    for outcome in ("dnc_blocked", "invalid_number"):
        assert progress.outcomes.get(outcome, 0) >= final_counts.get(outcome, 0)
    return records


class AgentDesks(threading.Thread):
    """Plays a queue's agents: files a disposition for every call that reaches wrap-up
    ("no_decision", a retry, for `retry_campaign`'s calls; "sale" otherwise)."""

    def __init__(self, pool: Any, retry_campaign: str = "") -> None:
        super().__init__(daemon=True)
        self.pool = pool
        self.retry_campaign = retry_campaign
        self.stopped = threading.Event()
        self.filed: list[tuple[str, str]] = []

    def run(self) -> None:
        while not self.stopped.wait(0.01):
            for agent in ray.get(self.pool.agents.remote()):
                if agent["state"] != "wrap_up" or not agent["call"]:
                    continue
                campaign = agent["call"]["campaign_id"]
                code = "no_decision" if campaign == self.retry_campaign else "sale"
                try:
                    ray.get(self.pool.dispose.remote(agent["id"], code))
                    self.filed.append((campaign, code))
                except Exception:
                    pass  # the wrap-up timed out first

    def __enter__(self) -> AgentDesks:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()
