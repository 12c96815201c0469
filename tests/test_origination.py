"""The trunk's origination script in a real Redis: a duplicate is answered before anything
else, refusals and lost leases write nothing, a placed call is recorded, counted and renewed."""

from __future__ import annotations

import msgpack

from cluster.origination import OriginationRequest, Originations
from cluster.state import DialerState
from tests.engine_helpers import leased_run, originate


def test_origination_answers_in_order_duplicate_refusal_lease_then_places(
    state: DialerState,
) -> None:
    campaign, run, leased = leased_run(state)
    keys = state.keys.campaign(campaign.id)
    counters = keys.counters("agentless")
    originations = Originations(state.r)

    def record(refusal: str = "", token: str = leased.lease.token, call_id: str = "t-1"):  # type: ignore[no-untyped-def]
        request = OriginationRequest(
            run.keys, counters, idempotency_key="k1", refusal=refusal, lead=leased.lease.lead,
            token=token, lease_until_ms=9_999_999_999_999, call_id=call_id,
            record={"lead": leased.lease.lead, "start_ms": 5}, originated_field="originated:t",
            now_ms=5,
        )  # fmt: skip
        (answer,) = originations.record_many([request])
        return answer

    assert record(refusal="no_capacity").result == "no_capacity"
    assert record(token="someone-else").result == "lease_lost"
    assert not state.r.exists(run.keys.calls(), run.keys.idempotency())
    placed = record()
    assert (placed.result, placed.call_id) == ("placed", "t-1")
    assert msgpack.unpackb(state.r.hget(run.keys.calls(), "t-1")) == {
        "lead": leased.lease.lead,
        "start_ms": 5,
    }
    assert state.r.zscore(run.keys.lease_expiry(), leased.lease.lead) == 9_999_999_999_999
    assert state.r.hget(counters, "originated:t") == b"1"
    # A retried request is a duplicate even when the trunk would now refuse it.
    again = record(refusal="cps", call_id="t-2")
    assert (again.result, again.call_id) == ("duplicate", "t-1")
    assert state.r.hlen(run.keys.calls()) == 1 and state.r.hget(counters, "originated:t") == b"1"


def test_a_lease_lapsed_before_its_call_was_placed_is_taken_back_uncounted(
    state: DialerState,
) -> None:
    """A dialer that dies between leasing and originating: the lead is not an attempt, and an
    originate arriving after the reap cannot place a call."""
    campaign, run, leased = leased_run(state)
    now = state.clock.now_ms()
    assert run.reap(now + 60_001, campaign.max_attempts, retry_ms=3_600_000) == []
    progress = run.leads.progress()
    assert (progress.dialed, progress.leases_unplaced, progress.outcomes) == (0, 1, {})
    assert run.leads.snapshot()["attempts"] == {}
    assert originate(state, run, leased.lease, now + 60_001, "late") == "lease_lost"
    # Due at once, as the same attempt under a new lease (and a new idempotency key).
    (again,) = run.lease_contacts(now + 60_001, 1, 60_000, campaign.max_attempts)
    assert (again.lease.lead, again.lease.attempt) == (leased.lease.lead, 1)
    assert run.attempt_key(again.lease) != run.attempt_key(leased.lease)


def test_a_lease_lapsed_after_its_call_was_placed_counts_as_an_attempt(
    state: DialerState,
) -> None:
    campaign, run, leased = leased_run(state)
    now = state.clock.now_ms()
    assert originate(state, run, leased.lease, now, "lost-with-its-trunk") == "placed"
    assert run.reap(now + 60_001, campaign.max_attempts, retry_ms=3_600_000) == [0]
    progress = run.leads.progress()
    assert (progress.dialed, progress.leases_unplaced) == (1, 0)
    assert progress.outcomes == {"lease_expired": 1}
    assert run.lease_contacts(now + 60_001, 1, 60_000, campaign.max_attempts) == []  # retry wait
