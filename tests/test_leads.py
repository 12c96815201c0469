"""Lead state invariants against a real Redis, with hypothesis driving random interleavings.

The machine plays one or more dialers: it leases, places calls (the trunk's origination script),
completes (final or retry), defers, lets leases lapse and reaps them (an attempt counts only if
its call was placed, when the reaper is told where to look), and adds numbers to the DNC list
mid-run. After every step the
invariants must hold in Redis itself, not just in the model.
"""

from __future__ import annotations

import uuid

import pytest
import redis
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cluster.clock import FakeClock
from cluster.leads import Completion, LeadState, Lease, lead_rank
from cluster.models import Campaign, ContactableTimings, DialingOrder
from cluster.origination import OriginationRequest, Originations
from cluster.runs import DNC_BLOCKED, LeasedContact, RunInstance
from cluster.state import DialerState

TTL_MS = 60_000
RETRY_MS = 5 * 60_000

_client: redis.Redis | None = None


def make_campaign(state: DialerState, list_ids: list[str], dnc_id: str | None, **extra) -> Campaign:  # type: ignore[no-untyped-def]
    spec = {
        "name": f"c-{uuid.uuid4().hex[:6]}",
        "contact_list_ids": list_ids,
        "dnc_list_id": dnc_id,
        "dialing_mode": "agentless",
        "start_flow_id": "flow-1",
        "caller_id": "+12125550199",
        "contactable_timings": ContactableTimings.default().model_dump(mode="json"),
        "retry_period_minutes": RETRY_MS // 60_000,
        **extra,
    }
    return state.campaigns.create(spec)


class LeadMachine(RuleBasedStateMachine):
    held = Bundle("held")

    def __init__(self) -> None:
        super().__init__()
        assert _client is not None
        self.clock = FakeClock()
        self.state = DialerState(_client, prefix=f"hyp-{uuid.uuid4().hex[:10]}", clock=self.clock)

    @initialize(
        n=st.integers(1, 12),
        dnc_at_start=st.sets(st.integers(0, 11), max_size=4),
        max_attempts=st.integers(1, 3),
    )
    def seed(self, n: int, dnc_at_start: set[int], max_attempts: int) -> None:
        self.max_attempts = max_attempts
        self.phones = [f"+1212555{1000 + i:04d}" for i in range(n)]
        lst = self.state.lists.create("l")
        self.state.lists.import_csv(lst.id, ["phone\n" + "\n".join(self.phones) + "\n"])
        self.dnc = self.state.dnc.create("d")
        self.dnc_phones = {self.phones[i] for i in dnc_at_start if i < n}
        self.state.dnc.add_e164(self.dnc.id, sorted(self.dnc_phones))
        campaign = make_campaign(self.state, [lst.id], self.dnc.id, max_attempts=max_attempts)
        self.run, report = RunInstance.seed(
            self.state.r, self.state.keys, self.state.lists, self.state.dnc, campaign, 1
        )
        assert report.dnc_blocked == len(self.dnc_phones)
        self.leads = set(range(n))
        self.holding: dict[int, LeasedContact] = {}
        self.not_before: dict[int, int] = {}  # lead -> earliest ms it may be dialed again
        self.dialed: dict[int, int] = {}  # lead -> attempts the model saw leased
        self.awaiting: set[int] = set()  # leads held for an agent's disposition
        self.pending: dict[int, bool] = {}  # lead -> retry, disposed while still leased
        self.placed: set[str] = set()  # tokens of leases a trunk placed a call on

    def teardown(self) -> None:
        keys = list(self.state.r.scan_iter(match=f"{self.state.keys.prefix}:*"))
        if keys:
            self.state.r.delete(*keys)

    @rule(target=held, n=st.integers(1, 4))
    def lease(self, n: int):  # type: ignore[no-untyped-def]
        now = self.clock.now_ms()
        got = self.run.lease_contacts(now, n, TTL_MS, self.max_attempts)
        for lc in got:
            lead = lc.lease.lead
            assert lead not in self.holding, f"lead {lead} leased twice at once"
            assert lc.contact.phone not in self.dnc_phones, "a DNC number was leased"
            assert now >= self.not_before.get(lead, 0), "leased before its retry time"
            assert lc.lease.attempt <= self.max_attempts
            self.holding[lead] = lc
            self.dialed[lead] = lc.lease.attempt
        return multiple(*got)

    @rule(lc=held)
    def place_a_call(self, lc: LeasedContact) -> None:
        now = self.clock.now_ms()
        request = OriginationRequest(
            self.run.keys, "hyp-counters", idempotency_key=self.run.attempt_key(lc.lease),
            refusal="", lead=lc.lease.lead, token=lc.lease.token, lease_until_ms=now + TTL_MS,
            call_id=f"call-{lc.lease.token}", record={"lead": lc.lease.lead}, originated_field="o",
            now_ms=now,
        )  # fmt: skip
        (answer,) = Originations(self.state.r).record_many([request])
        current = self.holding.get(lc.lease.lead)
        if lc.lease.token in self.placed:
            assert answer.result == "duplicate" and answer.call_id == f"call-{lc.lease.token}"
        elif current is None or current.lease.token != lc.lease.token:
            assert answer.result == "lease_lost", "a call was placed on a lease no longer held"
        else:
            assert answer.result == "placed"
            self.placed.add(lc.lease.token)

    @rule(lc=consumes(held), outcome=st.sampled_from(["connected", "busy", "no_answer"]))
    def complete(self, lc: LeasedContact, outcome: str) -> None:
        now = self.clock.now_ms()
        retry = outcome != "connected"
        result = self.run.leads.complete(
            now,
            lc.lease,
            outcome,
            retry=retry,
            max_attempts=self.max_attempts,
            min_retry_ms=RETRY_MS,
        )
        current = self.holding.get(lc.lease.lead)
        if current is None or current.lease.token != lc.lease.token:
            assert result == 0, "a stale lease changed lead state"
            return
        assert result in (1, 2)
        del self.holding[lc.lease.lead]
        self.pending.pop(lc.lease.lead, None)
        if result == 2:
            self.not_before[lc.lease.lead] = now + RETRY_MS

    @rule(lc=held, retry=st.booleans())
    def disposition_before_the_call_end_is_recorded(self, lc: LeasedContact, retry: bool) -> None:
        current = self.holding.get(lc.lease.lead)
        if current is None or current.lease.token != lc.lease.token:
            return
        at = self.clock.now_ms() + RETRY_MS if retry else None
        assert self.run.leads.dispose(lc.lease.lead, at, self.max_attempts) == 3
        self.pending[lc.lease.lead] = retry

    @rule(lc=consumes(held))
    def hold_for_disposition(self, lc: LeasedContact) -> None:
        now = self.clock.now_ms()
        result = self.run.leads.complete(
            now, lc.lease, "connected", retry=False, hold=True,
            max_attempts=self.max_attempts, min_retry_ms=RETRY_MS,
        )  # fmt: skip
        current = self.holding.get(lc.lease.lead)
        if current is None or current.lease.token != lc.lease.token:
            assert result == 0
            return
        del self.holding[lc.lease.lead]
        if lc.lease.lead in self.pending:
            retry = self.pending.pop(lc.lease.lead)
            assert result == (2 if retry and lc.lease.attempt < self.max_attempts else 1)
            return
        assert result == 3
        self.awaiting.add(lc.lease.lead)
        assert not self.run.leads.exhausted(), "a run waiting for a disposition is not done"

    @precondition(lambda self: bool(getattr(self, "awaiting", None)))
    @rule(data=st.data(), retry=st.booleans())
    def dispose(self, data: st.DataObject, retry: bool) -> None:
        lead = data.draw(st.sampled_from(sorted(self.awaiting)))
        now = self.clock.now_ms()
        at = now + RETRY_MS if retry else None
        result = self.run.leads.dispose(lead, at, self.max_attempts)
        self.awaiting.discard(lead)
        attempts = self.run.leads.snapshot()["attempts"].get(lead, 0)
        assert result == (2 if retry and attempts < self.max_attempts else 1)
        if result == 2:
            self.not_before[lead] = now + RETRY_MS
        assert self.run.leads.dispose(lead, at, self.max_attempts) == 0  # settled once

    @rule(lc=consumes(held), minutes=st.integers(1, 30))
    def defer(self, lc: LeasedContact, minutes: int) -> None:
        ok = self.run.leads.defer(lc.lease, self.clock.now_ms() + minutes * 60_000)
        current = self.holding.get(lc.lease.lead)
        assert ok == (current is not None and current.lease.token == lc.lease.token)
        if ok:
            del self.holding[lc.lease.lead]
            self.pending.pop(lc.lease.lead, None)  # giving the lease back drops it too

    @rule(i=st.integers(0, 11))
    def add_to_dnc_mid_run(self, i: int) -> None:
        if i < len(self.phones):
            self.state.dnc.add_e164(self.dnc.id, [self.phones[i]])
            self.dnc_phones.add(self.phones[i])

    @rule(seconds=st.sampled_from([1, 30, 61, 300, 301, 3600]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def reap_without_knowing_which_calls_were_placed(self) -> None:
        now = self.clock.now_ms()
        reaped = self.run.leads.reap(now, self.max_attempts, RETRY_MS)
        for lead in reaped:
            self.holding.pop(lead)
            self.pending.pop(lead, None)
            self.not_before[lead] = now + RETRY_MS

    @rule(lapse=st.booleans())
    def reap(self, lapse: bool) -> None:
        if lapse:  # as a dialer that died holding leases: they all lapse
            self.clock.advance(TTL_MS / 1000 + 1)
        now = self.clock.now_ms()
        counted = self.run.reap(now, self.max_attempts, RETRY_MS)
        still_leased = set(self.run.leads.snapshot()["leases"])
        for lead in set(self.holding) - still_leased:
            lapsed = self.holding.pop(lead)
            self.pending.pop(lead, None)
            attempts = self.run.leads.snapshot()["attempts"].get(lead, 0)
            if lapsed.lease.token in self.placed:
                event("reaped: a placed attempt counts")
                assert lead in counted, "an attempt whose call was placed was not counted"
                self.not_before[lead] = now + RETRY_MS
            else:
                event("reaped: an unplaced attempt is taken back")
                assert lead not in counted, "an attempt never placed was counted"
                assert attempts == lapsed.lease.attempt - 1

    @precondition(lambda self: bool(getattr(self, "holding", None)))
    @rule()
    def renew_all(self) -> None:
        until = self.clock.now_ms() + TTL_MS
        held = [lc.lease for lc in self.holding.values()]
        assert self.run.leads.renew(held, until) == len(held)

    @invariant()
    def every_lead_is_in_exactly_one_place(self) -> None:
        if not hasattr(self, "run"):
            return
        snap = self.run.leads.snapshot()
        places = [set(snap["ready"]), set(snap["waiting"]), set(snap["leases"]), set(snap["final"])]
        assert sum(len(p) for p in places) == len(self.leads), "a lead is lost or duplicated"
        assert set().union(*places) == self.leads
        assert set(snap["leases"]) == set(self.holding)
        assert all(a <= self.max_attempts for a in snap["attempts"].values())
        for lead, outcome in snap["final"].items():
            if self.phones[lead] in self.dnc_phones and outcome == DNC_BLOCKED:
                continue
        progress = self.run.leads.progress()
        assert progress.total == len(self.leads)
        assert progress.completed == len(snap["final"])
        assert progress.in_progress == len(self.holding)
        # Every attempt is either in flight or has an outcome counted in dialed.
        assert sum(snap["attempts"].values()) == progress.dialed + progress.in_progress


@pytest.mark.timeout(600)
def test_lead_state_invariants_hold_under_random_interleavings(redis_client: redis.Redis) -> None:
    global _client
    _client = redis_client
    run_state_machine_as_test(
        LeadMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_dialing_order_ranks(state: DialerState) -> None:
    assert [lead_rank(i, DialingOrder.LIST_ORDER, "s") for i in range(3)] == [0, 1, 2]
    assert [lead_rank(i, DialingOrder.NEWEST_FIRST, "s") for i in range(3)] == [0, -1, -2]
    shuffled = sorted(range(50), key=lambda i: lead_rank(i, DialingOrder.RANDOM, "seed"))
    assert sorted(shuffled) == list(range(50)) and shuffled != list(range(50))
    again = sorted(range(50), key=lambda i: lead_rank(i, DialingOrder.RANDOM, "other"))
    assert again != shuffled


@pytest.mark.parametrize("order", list(DialingOrder))
def test_retries_rejoin_the_queue_in_dialing_order(state: DialerState, order: DialingOrder) -> None:
    """A due retry is ranked by the same rule in Lua as fresh leads are in Python."""
    keys = state.keys.campaign("x").run(1)
    leads = LeadState(state.r, keys, order, seed="x:1")
    leads.seed_leads(list(range(20)))
    now = 1_000_000
    first = leads.lease(now, 20, TTL_MS, 3)
    assert [lease.lead for lease in first] == sorted(
        range(20), key=lambda i: lead_rank(i, order, "x:1")
    )
    for lease in first:
        assert leads.complete(now, lease, "busy", retry=True, max_attempts=3, min_retry_ms=1) == 2
    again = leads.lease(now + 10, 20, TTL_MS, 3)
    assert [lease.lead for lease in again] == [lease.lead for lease in first]
    assert {lease.attempt for lease in again} == {2}


def test_max_attempts_makes_a_lead_final(state: DialerState) -> None:
    leads = LeadState(state.r, state.keys.campaign("y").run(1), DialingOrder.LIST_ORDER)
    leads.seed_leads([7])
    now = 0
    for attempt in (1, 2):
        (lease,) = leads.lease(now, 1, TTL_MS, 2)
        assert lease.attempt == attempt
        result = leads.complete(
            now, lease, "no_answer", retry=True, max_attempts=2, min_retry_ms=RETRY_MS
        )
        now += RETRY_MS
    assert result == 1
    assert leads.lease(now + 10 * RETRY_MS, 1, TTL_MS, 2) == []
    assert leads.snapshot()["final"] == {7: "no_answer"}
    assert leads.exhausted()


def test_a_retry_waits_at_least_the_retry_period(state: DialerState) -> None:
    leads = LeadState(state.r, state.keys.campaign("z").run(1), DialingOrder.LIST_ORDER)
    leads.seed_leads([1])
    (lease,) = leads.lease(0, 1, TTL_MS, 3)
    # A callback asked for sooner than the retry period still waits the full period.
    leads.complete(
        0, lease, "busy", retry=True, max_attempts=3, min_retry_ms=RETRY_MS, retry_at_ms=10
    )
    assert leads.lease(RETRY_MS - 1, 1, TTL_MS, 3) == []
    assert len(leads.lease(RETRY_MS, 1, TTL_MS, 3)) == 1


def test_complete_many_records_each_outcome_as_complete_would(state: DialerState) -> None:
    leads = LeadState(state.r, state.keys.campaign("w").run(1), DialingOrder.LIST_ORDER)
    leads.seed_leads([1, 2, 3])
    a, b, c = leads.lease(0, 3, TTL_MS, 2)
    stale = Lease(c.lead, "not-the-token", c.attempt)
    results = leads.complete_many(
        [
            Completion(5, a, "connected", retry=False, max_attempts=2, min_retry_ms=RETRY_MS),
            Completion(5, b, "busy", retry=True, max_attempts=2, min_retry_ms=RETRY_MS),
            Completion(5, stale, "busy", retry=True, max_attempts=2, min_retry_ms=RETRY_MS),
        ]
    )
    assert results == [1, 2, 0]  # final, retry, lease not held
    snap = leads.snapshot()
    assert snap["final"] == {1: "connected"}
    assert snap["waiting"] == {2: 5 + RETRY_MS}
    assert set(snap["leases"]) == {3}
