"""The abandon ledger: window arithmetic (pure) and the Redis store (real Redis, FakeClock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from cluster.abandon import (
    DEDUPE_HORIZON_MS,
    HOUR_MS,
    UK_REDIAL_HOLD_MS,
    AbandonBudget,
    AbandonCounts,
    AbandonLedger,
    LedgerEvent,
    budget_from_counts,
    local_day,
    local_day_span,
    may_redial,
    us_window_hours,
)
from cluster.clock import FakeClock
from cluster.errors import FailedPrecondition
from cluster.keys import TenantKeys
from cluster.models import Campaign, ComplianceRegime
from cluster.state import DialerState

LIVE, ABANDONED, MACHINE = LedgerEvent.LIVE, LedgerEvent.ABANDONED, LedgerEvent.MACHINE
US, UK = ComplianceRegime.US, ComplianceRegime.UK


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


# Pure ------------------------------------------------------------------------------------
def test_us_window_is_thirty_days_to_the_hour() -> None:
    now = ms(datetime(2026, 3, 31, 10, 30, tzinfo=UTC))
    hours = us_window_hours(now)
    assert len(hours) == 30 * 24
    assert hours[-1] * HOUR_MS <= now < (hours[-1] + 1) * HOUR_MS
    assert hours[0] * HOUR_MS == ms(datetime(2026, 3, 1, 11, tzinfo=UTC))


def test_uk_day_is_local_midnight_to_midnight_across_dst() -> None:
    # 2026-03-29 is the day the UK clocks go forward: 23 hours long.
    noon = ms(datetime(2026, 3, 29, 12, tzinfo=UTC))
    start, end = local_day_span(noon, "Europe/London")
    assert (end - start) == 23 * HOUR_MS
    assert start == ms(datetime(2026, 3, 29, 0, tzinfo=UTC))
    # 23:30 UTC on the 29th is already the 30th in London (BST), still the 29th in UTC.
    late = ms(datetime(2026, 3, 29, 23, 30, tzinfo=UTC))
    assert local_day(late, "Europe/London") == "2026-03-30"
    assert local_day(late, "UTC") == "2026-03-29"


def test_uk_budget_counts_amd_false_positives_as_abandoned_live_answers() -> None:
    counts = AbandonCounts(live=1000, abandoned=20, machine=500)
    us = budget_from_counts(counts, US, 0.03, amd_false_positive_rate=0.02)
    uk = budget_from_counts(counts, UK, 0.03, amd_false_positive_rate=0.02)
    assert us.rate == pytest.approx(0.02)
    assert uk.rate == pytest.approx((20 + 10) / (1000 + 10))
    assert uk.allowance == pytest.approx(0.03 * 1010 - 30)


def test_budget_of_an_empty_window() -> None:
    budget = AbandonBudget(0, 0, 0.03)
    assert budget.rate == 0
    assert budget.allowance == 0


def test_72_hour_rule_is_uk_only_and_yields_to_a_guaranteed_agent() -> None:
    at = 1_000_000_000
    soon, later = at + UK_REDIAL_HOLD_MS - 1, at + UK_REDIAL_HOLD_MS
    assert not may_redial(UK, at, soon, agent_guaranteed=False)
    assert may_redial(UK, at, soon, agent_guaranteed=True)
    assert may_redial(UK, at, later, agent_guaranteed=False)
    assert may_redial(US, at, soon, agent_guaranteed=False)
    assert may_redial(UK, None, soon, agent_guaranteed=False)


# Redis -----------------------------------------------------------------------------------
@pytest.fixture
def ledger(redis_client: redis.Redis, key_prefix: str) -> AbandonLedger:
    return AbandonLedger(
        redis_client, TenantKeys(key_prefix).campaign("c1"), timezone="Europe/London"
    )


def test_an_event_counts_once_however_often_it_is_sent(
    ledger: AbandonLedger, clock: FakeClock
) -> None:
    now = clock.now_ms()
    assert ledger.record("call-1", LIVE, now, now)
    assert ledger.record("call-1", ABANDONED, now, now, phone="+442079460958")
    # A retried event (same call, same event) from this node or another does not count again.
    assert not ledger.record("call-1", LIVE, now, now + 500)
    assert not ledger.record("call-1", ABANDONED, now, now + 500, phone="+442079460958")
    for i in range(2, 12):
        ledger.record(f"call-{i}", LIVE, now, now)
    ledger.record("call-m", MACHINE, now, now)
    expected = AbandonCounts(live=11, abandoned=1, machine=1)
    assert ledger.us_counts(now) == expected
    assert ledger.uk_counts(now) == expected
    assert ledger.totals() == expected


def test_a_second_ledger_object_sees_the_same_counts(
    ledger: AbandonLedger, redis_client: redis.Redis, key_prefix: str, clock: FakeClock
) -> None:
    """Several dialer nodes (or a restarted one) share the counts through Redis."""
    now = clock.now_ms()
    other = AbandonLedger(redis_client, TenantKeys(key_prefix).campaign("c1"), "Europe/London")
    ledger.record("a", LIVE, now, now)
    assert not other.record("a", LIVE, now, now)
    other.record("b", LIVE, now, now)
    assert ledger.us_counts(now) == other.us_counts(now) == AbandonCounts(live=2)


def test_an_event_too_old_to_deduplicate_is_refused(
    ledger: AbandonLedger, clock: FakeClock
) -> None:
    now = clock.now_ms()
    with pytest.raises(FailedPrecondition):
        ledger.record("old", LIVE, now - DEDUPE_HORIZON_MS - 1, now)


def test_uk_window_rolls_over_at_local_midnight(ledger: AbandonLedger, clock: FakeClock) -> None:
    clock.set(datetime(2026, 6, 1, 22, 50, tzinfo=UTC))  # 23:50 in London (BST)
    before = clock.now_ms()
    ledger.record("x", LIVE, before, before)
    ledger.record("x", ABANDONED, before, before)
    assert ledger.uk_counts(before) == AbandonCounts(live=1, abandoned=1)
    clock.advance(minutes=15)  # 00:05 on 2 June in London, still 1 June in UTC
    after = clock.now_ms()
    assert ledger.uk_counts(after) == AbandonCounts()
    assert ledger.us_counts(after) == AbandonCounts(live=1, abandoned=1)


def test_us_window_drops_an_hour_once_it_is_thirty_days_old(
    ledger: AbandonLedger, clock: FakeClock
) -> None:
    start = datetime(2026, 1, 5, 9, 10, tzinfo=UTC)
    clock.set(start)
    t0 = clock.now_ms()
    ledger.record("first", LIVE, t0, t0)
    clock.set(start + timedelta(days=10))
    ledger.record("second", LIVE, clock.now_ms(), clock.now_ms())
    ledger.record("second", ABANDONED, clock.now_ms(), clock.now_ms())
    clock.set(start + timedelta(days=29, hours=23, minutes=45))  # still the 720th hour
    assert ledger.us_counts(clock.now_ms()) == AbandonCounts(live=2, abandoned=1)
    clock.set(start + timedelta(days=30, minutes=55))  # the first hour has left the window
    assert ledger.us_counts(clock.now_ms()) == AbandonCounts(live=1, abandoned=1)
    clock.set(start + timedelta(days=41))
    assert ledger.us_counts(clock.now_ms()) == AbandonCounts()


def test_buckets_expire_on_their_own(
    ledger: AbandonLedger, redis_client: redis.Redis, clock: FakeClock
) -> None:
    now = clock.now_ms()
    ledger.record("a", LIVE, now, now)
    keys = [ledger.k.abandon_day(local_day(now, "Europe/London"))]
    keys += [k.decode() for k in redis_client.scan_iter(match=ledger.k.abandon_hours("*"))]
    assert len(keys) == 2
    assert all(redis_client.ttl(k) > 0 for k in keys)


def test_recently_abandoned_numbers_hold_for_72_hours(
    ledger: AbandonLedger, clock: FakeClock
) -> None:
    now = clock.now_ms()
    ledger.record("a", LIVE, now, now, phone="+442079460001")
    ledger.record("a", ABANDONED, now, now, phone="+442079460001")
    phones = ["+442079460001", "+442079460002"]
    assert ledger.recently_abandoned(phones, now + HOUR_MS) == {"+442079460001": now}
    assert ledger.recently_abandoned(phones, now + UK_REDIAL_HOLD_MS) == {}
    assert ledger.recently_abandoned([], now) == {}


def uk_predictive(state: DialerState, name: str, **extra: object) -> Campaign:
    leads = state.lists.create(f"{name} leads")
    return state.campaigns.create(
        {
            "name": name,
            "contact_list_ids": [leads.id],
            "dialing_mode": "predictive",
            "queue_id": "sales",
            "safe_harbor_flow_id": "safe-harbor-message",
            "caller_id": "+442079460000",
            "compliance_regime": "uk",
            "contactable_timings": {
                "timezone": "Europe/London",
                "windows": {"mon": [{"start": "09:00", "end": "18:00"}]},
            },
            **extra,
        }
    )


def test_a_uk_campaigns_budget_counts_amd_false_positives(
    state: DialerState, clock: FakeClock
) -> None:
    campaign = uk_predictive(state, "uk predictive", amd_false_positive_rate=0.1)
    ledger = state.abandon_ledger(campaign.id)
    now = clock.now_ms()
    for i in range(97):
        ledger.record(f"live-{i}", LIVE, now, now)
    ledger.record("live-0", ABANDONED, now, now, phone="+442079460001")
    for i in range(20):
        ledger.record(f"machine-{i}", MACHINE, now, now)
    budget = state.abandon_budget(campaign.id)
    assert budget.live_answers == pytest.approx(99)  # 97 + 2 estimated false positives
    assert budget.abandoned == pytest.approx(3)
    assert budget.rate == pytest.approx(3 / 99)
    assert budget.target_rate == 0.03


def test_the_uk_hold_keeps_a_number_from_every_campaign_of_the_tenant(
    state: DialerState, clock: FakeClock
) -> None:
    """A number one campaign abandoned is held 72 h for the tenant's other campaigns too."""
    first = uk_predictive(state, "uk first")
    second = uk_predictive(state, "uk second")
    now = clock.now_ms()
    abandoning = state.abandon_ledger(first.id)
    abandoning.record("call-1", LIVE, now, now)
    abandoning.record("call-1", ABANDONED, now, now, phone="+442079460001")
    other = state.abandon_ledger(second.id)
    phones = ["+442079460001", "+442079460002"]
    assert other.recently_abandoned(phones, now + HOUR_MS) == {"+442079460001": now}
    assert other.recently_abandoned(phones, now + UK_REDIAL_HOLD_MS) == {}
    # The second campaign's own window is untouched: the hold is per number, the rate per
    # campaign.
    assert state.abandon_budget(second.id).abandoned == 0
