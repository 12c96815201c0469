"""Who takes a paced call's live answer: claimed once in Redis by the pool (an agent), the
dialer or the trunk (abandoned); each acts only on a claim it won, and every retry reads it.
Driven without Ray: the pool's and the trunk's logic on real Redis in one asyncio loop."""

from __future__ import annotations

import asyncio
import time

import msgpack
import pytest

import actors.trunk
from actors.pool import PoolDispatcher
from actors.runtime import RuntimeConfig
from actors.trunk import Trunk
from cluster.agents import AgentState, CallContext
from cluster.answers import ABANDONED, AnswerClaims
from cluster.leads import Lease
from cluster.pacing import CONNECT_GRACE_S
from cluster.runs import RunInstance
from cluster.telephony import CarrierProfile, OriginateRequest
from tests.engine_helpers import leased_run, originate

SCALE = 100.0  # the 2-second grace is 20 ms here
ALWAYS_HUMAN = CarrierProfile(
    human=1, machine=0, busy=0, no_answer=0, failed=0, ring_s=(1.0, 1.0), talk_s=(60.0, 60.0)
)


def config(redis_url: str, key_prefix: str, scale: float = SCALE) -> RuntimeConfig:
    return RuntimeConfig(
        redis_url=redis_url,
        prefix=key_prefix,
        time_scale=scale,
        clock_origin_real_s=time.time(),
        clock_origin_virtual_ms=1_767_625_200_000,  # Monday 2026-01-05 10:00 New York
        carrier=ALWAYS_HUMAN,
    )


def answer(call_id: str = "t1-call") -> CallContext:
    return CallContext("camp", 1, 7, "tok", 1, call_id, "+12125550100")


def test_the_first_claim_wins_and_every_later_one_reads_it(state) -> None:  # type: ignore[no-untyped-def]
    claims = AnswerClaims(state.r)
    run = state.keys.campaign("camp").run(1)
    assert claims.holder(run, "c1") is None
    assert claims.claim(run, "c1", ABANDONED) == ABANDONED
    assert claims.claim(run, "c1", "ann") == ABANDONED
    assert claims.claim(run, "c2", "ann") == "ann"
    assert claims.claim(run, "c2", ABANDONED) == "ann"
    assert claims.holder(run, "c2") == "ann"


def test_pool_connects_a_free_agent_and_a_retry_answers_the_same(
    redis_url: str, key_prefix: str
) -> None:
    pool = PoolDispatcher(config(redis_url, key_prefix), "q")
    pool.login("ann")

    async def scenario() -> tuple[str, str]:
        now = pool.clock.now_ms()
        return await pool.connect_any(answer(), now), await pool.connect_any(answer(), now)

    assert asyncio.run(scenario()) == ("ann", "ann")
    assert pool.pool.agents["ann"].state is AgentState.ON_CALL
    # The call ends; she files her disposition; a retried end still names her.
    assert pool.end_paced_call(answer()) == "ann"
    pool.pool.agents["ann"].call = None
    pool.pool.agents["ann"].state = AgentState.AVAILABLE
    assert pool.end_paced_call(answer()) == "ann"


def test_an_answer_waits_for_an_agent_freed_within_the_grace(
    redis_url: str, key_prefix: str
) -> None:
    pool = PoolDispatcher(config(redis_url, key_prefix, scale=2.0), "q")  # a 1 s grace

    async def scenario() -> str:
        waiting = asyncio.ensure_future(pool.connect_any(answer(), pool.clock.now_ms()))
        await asyncio.sleep(0.002)
        pool.login("bob")  # the actor serves waiting answers on every agent change
        pool.serve_waiting()
        return await waiting

    assert asyncio.run(scenario()) == "bob"


def test_no_agent_within_the_grace_and_none_connected_after_it(
    redis_url: str, key_prefix: str
) -> None:
    pool = PoolDispatcher(config(redis_url, key_prefix), "q")

    async def scenario() -> str:
        answered = pool.clock.now_ms()
        return await pool.connect_any(answer(), answered)

    assert asyncio.run(scenario()) == ""
    pool.login("cy")
    # A retried request after the grace (a pool restart) connects nobody either.
    late = asyncio.run(pool.connect_any(answer(), pool.clock.now_ms() - 10_000))
    assert late == "" and pool.pool.agents["cy"].state is AgentState.AVAILABLE


def test_an_answer_the_trunk_abandoned_is_never_connected(redis_url: str, key_prefix: str) -> None:
    pool = PoolDispatcher(config(redis_url, key_prefix), "q")
    pool.login("ann")
    run = pool.state.keys.campaign("camp").run(1)
    AnswerClaims(pool.state.r).claim(run, answer().call_id, ABANDONED)
    assert asyncio.run(pool.connect_any(answer(), pool.clock.now_ms())) == ""
    agent = pool.pool.agents["ann"]
    assert agent.state is AgentState.AVAILABLE and agent.call is None
    assert pool.end_paced_call(answer()) == ""


def test_trunk_abandons_an_answer_nobody_claimed_and_plays_the_message(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dialer that placed the call is gone: the trunk counts the abandon and plays the
    safe-harbor message itself once the grace has passed."""
    monkeypatch.setattr(actors.trunk, "find_actor", lambda name: None)  # no dialer to be found
    cfg = config(redis_url, key_prefix)
    state = cfg.state()
    state.trunks.put({"id": "t1", "channels": 5, "cps": 50})
    campaign, run, leased = leased_run(
        state, dialing_mode="predictive", queue_id="q", safe_harbor_flow_id="flow-safe-harbor"
    )
    request = OriginateRequest(
        idempotency_key="k1", campaign_id=campaign.id, instance=run.instance,
        lead=leased.lease.lead, token=leased.lease.token, attempt=leased.lease.attempt,
        phone=leased.contact.phone, caller_id=campaign.caller_id, max_ring_s=30, amd=True,
        paced=True, safe_harbor_flow_id="flow-safe-harbor",
    )  # fmt: skip
    trunk = Trunk(cfg, "t1")

    async def scenario() -> str:
        (placed,) = await trunk.originate_many([request], "no-such-dialer")
        # Ring 1 s, AMD 2.5 s, grace 2 s, slack 1 s, message 6 s: about 13 virtual seconds;
        # waited for as long as a busy machine needs.
        deadline = time.monotonic() + 10
        while placed["call_id"] in trunk.live and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        trunk._record_ends()
        for task in trunk._deliveries:
            task.cancel()
        return placed["call_id"]

    call_id = asyncio.run(scenario())
    claims = AnswerClaims(state.r)
    assert claims.holder(state.keys.campaign(campaign.id).run(run.instance), call_id) == ABANDONED
    totals = state.abandon_ledger(campaign.id).totals()
    assert (totals.live, totals.abandoned) == (1, 1)
    record = state.r.hget(state.keys.campaign(campaign.id).run(run.instance).calls(), call_id)
    details = msgpack.unpackb(record)
    assert details["flow"] == "flow-safe-harbor" and details["end"] == "hung_up"
    assert trunk.counters["grace_abandons"] == 1


@pytest.mark.parametrize("claimant", ["ann", ABANDONED])
def test_trunk_leaves_an_answer_someone_claimed(  # type: ignore[no-untyped-def]
    state, claimant: str
) -> None:
    claims = AnswerClaims(state.r)
    run = state.keys.campaign("camp").run(1)
    claims.claim(run, "c3", claimant)
    assert claims.claim(run, "c3", ABANDONED) == claimant


def test_an_answer_past_its_grace_is_not_served_to_an_agent_freed_late(
    redis_url: str, key_prefix: str
) -> None:
    """The pool's loop may be busy when an answer's grace runs out: an agent freed after
    that must not take it (it would be counted connected, not abandoned)."""
    pool = PoolDispatcher(config(redis_url, key_prefix), "q")

    async def scenario() -> str:
        waiting = asyncio.ensure_future(pool.connect_any(answer(), pool.clock.now_ms()))
        await asyncio.sleep(0)  # it is waiting now
        time.sleep((CONNECT_GRACE_S + 1) / SCALE)  # the loop is blocked past the grace
        pool.login("dee")
        pool.serve_waiting()
        return await waiting

    assert asyncio.run(scenario()) == ""
    assert pool.pool.agents["dee"].state is AgentState.AVAILABLE


def test_paced_campaigns_of_equal_priority_never_count_the_same_agent(
    redis_url: str, key_prefix: str
) -> None:
    pool = PoolDispatcher(config(redis_url, key_prefix), "q")
    for agent in ("ann", "bob", "cy"):
        pool.login(agent)
    pool.pace("campaign:a#0", "a", 5, True)  # (alone, it may count on all three)
    pool.pace("campaign:b#0", "b", 5, True)
    for _ in range(20):
        views = [pool.pace(f"campaign:{c}#0", c, 5, True) for c in ("a", "b")]
        assert sum(v.agents.available for v in views) == 3
    # A campaign whose mode became progressive leaves the paced ones.
    pool.want("campaign:b#0", 5, True)
    assert "campaign:b#0" not in pool.paced and "campaign:b#0" in pool.wanting


# A reservation held past any ring: settled from Redis, never guessed ---------------------------
def reserved_call(pool: PoolDispatcher) -> tuple[RunInstance, CallContext]:
    """A progressive campaign's lead leased for an agent's reservation, as a dialer does
    before it originates."""
    campaign, run, lc = leased_run(pool.state, dialing_mode="progressive", queue_id="q")
    call = CallContext(
        campaign.id, run.instance, lc.lease.lead, lc.lease.token, lc.lease.attempt, "",
        lc.contact.phone, reservation="r1",
    )  # fmt: skip
    return run, call


def lease_of(call: CallContext) -> Lease:
    return Lease(call.lead, call.token, call.attempt)


def test_a_stale_reservation_whose_call_was_never_placed_gives_its_lease_back_for_good(
    redis_url: str, key_prefix: str
) -> None:
    """Its dialer stalled past any ring: the agent is freed, and the originate that arrives
    later finds no lease, so no call can ring for an agent who is no longer waiting for it."""
    pool = PoolDispatcher(config(redis_url, key_prefix), "q")
    run, call = reserved_call(pool)
    state, _ = asyncio.run(pool._call_state(call))
    assert state == "lost"
    assert not run.leads.snapshot()["leases"] and run.leads.snapshot()["attempts"] == {}
    assert originate(pool.state, run, lease_of(call), pool.clock.now_ms(), "late") == "lease_lost"


def test_a_stale_reservation_whose_call_was_placed_keeps_its_lease(
    redis_url: str, key_prefix: str
) -> None:
    pool = PoolDispatcher(config(redis_url, key_prefix), "q")
    run, call = reserved_call(pool)
    now = pool.clock.now_ms()
    ended = {"lead": call.lead, "end": "busy", "end_ms": now}
    assert originate(pool.state, run, lease_of(call), now, "t1-x", ended) == "placed"
    state, settled = asyncio.run(pool._call_state(call))
    assert (state, settled.call_id) == ("ended", "t1-x")
    assert list(run.leads.snapshot()["leases"]) == [call.lead]  # its dialer settles the lead
