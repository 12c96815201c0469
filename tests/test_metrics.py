"""Metrics: the pure counting rules, the lead scripts' counters against progress, and the
exposition (prometheus_client's parser and promtool) of a snapshot, all without Ray."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import msgpack
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from cluster.abandon import AbandonCounts, LedgerEvent
from cluster.clock import FakeClock
from cluster.leads import LeadState
from cluster.lifecycle import Action
from cluster.metrics import (
    CampaignCounters,
    abandon_ratio,
    bucket_for,
    call_end_increments,
    occupancy_ratio,
)
from cluster.models import Campaign, ContactableTimings, DialingOrder
from cluster.state import DialerState
from gateway.metrics import CampaignSnapshot, DialerCollector, Snapshot, families, read_snapshot


def test_call_end_counts_ring_talk_and_live_answers() -> None:
    human = call_end_increments(0, 12_000, 72_000, "answered_human")
    assert human == {
        "ring:b:15.0": 1, "ring:sum_ms": 12_000, "ring:count": 1,
        "talk:b:60.0": 1, "talk:sum_ms": 60_000, "talk:count": 1, "live_answers": 1,
    }  # fmt: skip
    machine = call_end_increments(0, 5_000, 9_000, "answered_machine")
    assert "live_answers" not in machine and "talk:count" not in machine
    unanswered = call_end_increments(1_000, 0, 31_000, "")
    assert unanswered == {"ring:b:30.0": 1, "ring:sum_ms": 30_000, "ring:count": 1}
    assert bucket_for(500, (1, 2)) == "+Inf"


def test_counters_parse_into_cumulative_histograms_and_totals() -> None:
    raw = {
        b"call:connected": b"3", b"call:abandoned": b"1", b"skip:dnc_blocked": b"2",
        b"seed:dnc_blocked": b"4", b"skip:contact_missing": b"1", b"originated:t1": b"5",
        b"live_answers": b"4", b"ring:b:5.0": b"2", b"ring:b:+Inf": b"1",
        b"ring:sum_ms": b"200500", b"ring:count": b"3",
    }  # fmt: skip
    c = CampaignCounters.parse(raw)
    assert c.dnc_blocked() == {"seed": 4, "dial": 2}
    assert c.outcomes_total() == {
        "connected": 3, "abandoned": 1, "dnc_blocked": 6, "contact_missing": 1,
    }  # fmt: skip
    ring = c.histogram("ring")
    assert ring is not None and ring.count == 3 and ring.sum_s == 200.5
    assert ring.buckets[0] == ("1.0", 0.0) and ("5.0", 2.0) in ring.buckets
    assert ring.buckets[-1] == ("+Inf", 3.0)
    assert c.histogram("talk") is None
    assert abandon_ratio(c.abandoned, c.live_answers) == 0.25 and abandon_ratio(1, 0) == 0
    assert occupancy_ratio({"on_call": 1, "wrap_up": 1, "available": 1, "reserved": 1}) == 0.5
    assert occupancy_ratio({"offline": 3}) == 0


def test_lead_scripts_count_every_outcome_exactly_as_progress_does(
    state: DialerState, clock: FakeClock
) -> None:
    counters = state.keys.campaign("m").counters("agentless")
    leads = LeadState(
        state.r, state.keys.campaign("m").run(1), DialingOrder.LIST_ORDER, counters=counters
    )
    leads.seed_leads(list(range(10)), {10: "dnc_blocked", 11: "dnc_blocked"})
    now = clock.now_ms()
    got = leads.lease(now, 6, 1_000, max_attempts=2)
    leads.block(got[0], "dnc_blocked")
    leads.block(got[1], "contact_missing")
    leads.defer(got[2], now)  # no outcome: undialed, attempt taken back
    leads.complete(now, got[3], "busy", retry=True, max_attempts=2, min_retry_ms=0)
    leads.complete(now, got[4], "connected", retry=False, max_attempts=2, min_retry_ms=0)
    leads.reap(now + 5_000, max_attempts=2, retry_ms=0)  # got[5] lapsed
    parsed = CampaignCounters.parse(state.r.hgetall(counters))
    assert parsed.outcomes_total() == leads.progress().outcomes
    assert parsed.call_outcomes == {"busy": 1, "connected": 1, "lease_expired": 1}
    assert sum(parsed.call_outcomes.values()) == leads.progress().dialed
    assert parsed.dnc_blocked() == {"seed": 2, "dial": 1}


def _campaign(state: DialerState) -> Campaign:
    lst = state.lists.create("l")
    state.lists.import_csv(lst.id, ["phone\n+12125550100\n"])
    return state.campaigns.create(
        {
            "name": "Spring",
            "contact_list_ids": [lst.id],
            "dialing_mode": "agentless",
            "start_flow_id": "f",
            "caller_id": "+12125550199",
            "contactable_timings": ContactableTimings.default("UTC").model_dump(mode="json"),
        }
    )


class _Fixed(Collector):
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self):  # type: ignore[no-untyped-def]
        yield from families(self.snap)


def _exposition(state: DialerState) -> bytes:
    """A snapshot with every family populated, as text."""
    campaign = _campaign(state)
    counters = CampaignCounters.parse(
        {
            "call:connected": 3, "call:abandoned": 1, "seed:dnc_blocked": 2,
            "skip:contact_missing": 1, "originated:t1": 5, "live_answers": 4,
            "last_originated_ms": 1_700_000_000_000,
            **call_end_increments(0, 12_000, 72_000, "answered_human"),
        }
    )  # fmt: skip
    from cluster.trunks import TrunkConfig

    snap = Snapshot(
        now=datetime(2026, 1, 5, 15, tzinfo=UTC),
        campaigns=[
            CampaignSnapshot(
                campaign,
                {"agentless": counters, "progressive": CampaignCounters()},
                {"ready": 1, "waiting": 0, "leased": 2, "done": 3},
                AbandonCounts(live=4, abandoned=1, machine=2),
            )
        ],
        trunks=[TrunkConfig(id="t1", channels=10, cps=2.5)],
        trunk_calls={"t1": [campaign.id, campaign.id]},
        agents={"sales": {"available": 1, "on_call": 2, "wrap_up": 0}},
        tenant_counters={"import_rows:accepted": 7, "import_rows:rejected": 2, "imports": 1},
    )
    registry = CollectorRegistry()
    registry.register(_Fixed(snap))
    return generate_latest(registry)


def test_exposition_parses_with_dialer_names_base_units_and_bounded_labels(
    state: DialerState,
) -> None:
    text = _exposition(state).decode()
    names = {f.name: f for f in text_string_to_metric_families(text)}
    for name, family in names.items():
        assert name.startswith("dialer_"), name
        if family.type == "counter":
            assert f"{name}_total" in text, name
        for sample in family.samples:
            assert not any("+1212" in str(v) for v in sample.labels.values()), sample
            assert "call_id" not in sample.labels and "phone" not in sample.labels
    assert "dialer_call_ring_duration_seconds" in names
    assert names["dialer_call_ring_duration_seconds"].type == "histogram"
    rows = {s.labels["result"]: s.value for s in names["dialer_import_rows"].samples}
    assert rows == {"accepted": 7, "rejected": 2}


def test_promtool_accepts_the_exposition(state: DialerState, promtool: str) -> None:
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=_exposition(state), capture_output=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_scrape_reads_redis_and_says_when_it_cannot(state: DialerState) -> None:
    campaign = _campaign(state)
    state.trunks.put({"id": "t1", "channels": 4})
    state.r.hset(state.keys.trunk_calls("t1"), "call-1", campaign.id)
    agent = {"id": "ann", "state": "available", "state_since_ms": 0, "idle_since_ms": 0}
    state.r.hset(state.keys.queues(), "sales", "sales")
    state.r.hset(state.keys.queue_agents("sales"), "ann", msgpack.packb(agent))
    snap = read_snapshot(state)
    assert [c.campaign.id for c in snap.campaigns] == [campaign.id]
    assert snap.trunk_calls == {"t1": [campaign.id]}
    assert snap.agents["sales"]["available"] == 1
    text = generate_latest(_registry(DialerCollector(state))).decode()
    assert "dialer_redis_up 1.0" in text
    assert 'dialer_trunk_channels_in_use{trunk="t1"} 1.0' in text
    assert f'dialer_campaign_status{{campaign="{campaign.id}",status="ready"}} 1.0' in text

    class Broken:
        def __getattr__(self, name: str) -> object:
            return getattr(state, name)

        @property
        def r(self) -> object:
            import redis

            return redis.Redis(port=1, socket_connect_timeout=0.2)

    down = generate_latest(_registry(DialerCollector(Broken()))).decode()  # type: ignore[arg-type]
    assert "dialer_redis_up 0.0" in down and "dialer_campaign_status" not in down


def _registry(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def test_scrape_exports_the_compliance_window_of_campaigns_with_agents(
    state: DialerState, clock: FakeClock
) -> None:
    lst = state.lists.create("agents")
    state.lists.import_csv(lst.id, ["phone\n+12125550100\n"])
    base = {
        "contact_list_ids": [lst.id],
        "caller_id": "+12125550199",
        "queue_id": "sales",
        "contactable_timings": ContactableTimings.default("America/New_York").model_dump(
            mode="json"
        ),
    }
    us = state.campaigns.create({**base, "name": "us", "dialing_mode": "progressive"})
    uk = state.campaigns.create(
        {
            **base,
            "name": "uk",
            "dialing_mode": "predictive",
            "safe_harbor_flow_id": "safe-harbor",
            "compliance_regime": "uk",
            "amd_false_positive_rate": 0.1,
            "abandon_target": 0.02,
            "contactable_timings": ContactableTimings.default("Europe/London").model_dump(
                mode="json"
            ),
        }
    )
    agentless = _campaign(state)
    for campaign in (us, uk, agentless):
        state.campaigns.act(campaign.id, Action.RUN)
    # US: a live answer 31 days ago has left the rolling window; the lifetime ratio keeps it.
    old = state.abandon_ledger(us.id)
    old.record("old-1", LedgerEvent.LIVE, clock.now_ms(), clock.now_ms())
    clock.advance(31 * 24 * 3600)
    now = clock.now_ms()
    for i in range(4):
        old.record(f"us-{i}", LedgerEvent.LIVE, now, now)
    old.record("us-0", LedgerEvent.ABANDONED, now, now)
    # UK: today's counts plus the AMD estimate: (1 + 10 x 0.1) / (8 + 10 x 0.1).
    ledger = state.abandon_ledger(uk.id)
    for i in range(8):
        ledger.record(f"uk-{i}", LedgerEvent.LIVE, now, now)
    ledger.record("uk-0", LedgerEvent.ABANDONED, now, now)
    for i in range(10):
        ledger.record(f"machine-{i}", LedgerEvent.MACHINE, now, now)
    text = generate_latest(_registry(DialerCollector(state))).decode()
    samples = {
        (s.name, s.labels.get("campaign"), s.labels.get("event")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    ratio, target, calls = (
        "dialer_campaign_abandon_window_ratio",
        "dialer_campaign_abandon_target_ratio",
        "dialer_campaign_abandon_window_calls",
    )
    for campaign in (us, uk):
        budget = state.abandon_budget(campaign.id)
        assert samples[(ratio, campaign.id, None)] == pytest.approx(budget.rate)
        assert samples[(target, campaign.id, None)] == budget.target_rate
    assert samples[(ratio, us.id, None)] == 0.25
    assert samples[(ratio, uk.id, None)] == pytest.approx(2 / 9)
    assert samples[(target, uk.id, None)] == 0.02
    assert {e: samples[(calls, us.id, e)] for e in ("live", "abandoned", "machine")} == {
        "live": 4, "abandoned": 1, "machine": 0,
    }  # fmt: skip
    assert samples[(calls, uk.id, "machine")] == 10
    assert not any(key[1] == agentless.id for key in samples if key[0] in (ratio, target, calls))
