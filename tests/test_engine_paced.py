"""Predictive, power and preview dialing through real actors on the simulated carrier.

Paced calls (predictive, power) are placed for no agent in particular; a live answer gets the
most idle free agent within 2 s or the safe-harbor message, and every one of them is counted
in the abandon ledger exactly once, across a dialer restart too. Preview calls are placed only
after the agent has accepted the contact offered. Virtual time runs at 120x here (not 600x):
the 2-second grace must be longer than an actor call.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import ray

from actors.runtime import campaign_actor_name, find_actor
from cluster.abandon import AbandonCounts, LedgerEvent
from cluster.agents import AgentStore
from cluster.lifecycle import Action
from cluster.models import CampaignStatus, ContactableTimings
from cluster.pacing import PredictiveSettings
from cluster.state import DialerState
from tests.engine_helpers import (
    AgentDesks,
    CallRecord,
    Cluster,
    call_records,
    campaign_spec,
    check_run_invariants,
    make_list,
    max_concurrency,
    phones,
    runtime,
    start,
)

pytestmark = pytest.mark.usefixtures("ray_cluster")
SCALE = 120.0
QUICK_WARMUP = PredictiveSettings(min_resolved=30, min_live=8, warmup_s=60.0)
TRUNK = {"id": "t1", "channels": 12, "cps": 50}
"""Fewer channels than predictive would use with 6 agents (3 lines each): capacity binds."""


@pytest.fixture
def cluster(redis_url: str) -> Iterator[Cluster]:
    # Leases live an hour (30 s real): a trunk busy on a loaded machine still renews in time.
    cfg = runtime(
        redis_url, time_scale=SCALE, tick_s=0.01, predictive=QUICK_WARMUP, lease_ttl_s=3600.0
    )
    with start(cfg, [TRUNK]) as c:
        yield c


def paced_spec(list_id: str, mode: str, **extra: Any) -> dict[str, Any]:
    fields = {
        "dialing_mode": mode,
        "queue_id": f"q-{mode}",
        "safe_harbor_flow_id": "flow-safe-harbor",
        "max_attempts": 2,
    }
    return campaign_spec([list_id], **{**fields, **extra})


def login(pool: Any, agents: list[str]) -> None:
    for agent in agents:
        ray.get(pool.login.remote(agent))


def finished_calls(
    state: DialerState, campaign_id: str, numbers: list[str], max_in_flight: int | None = None
) -> list[CallRecord]:
    """The finished run's calls, once its compliance and accounting invariants hold."""
    return check_run_invariants(
        state, state.campaigns.get(campaign_id), phone_of=dict(enumerate(numbers)),
        dnc_since_ms={}, trunk_channels={"t1": TRUNK["channels"]}, max_in_flight=max_in_flight,
    )  # fmt: skip


def assert_ledger_matches_calls(
    state: DialerState,
    campaign_id: str,
    queue_id: str,
    calls: list[CallRecord],
) -> AbandonCounts:
    """The ledger counted each live answer, abandon and machine once: exactly what the call
    records and the agents' assignment streams show. An abandoned call is a live answer that
    reached no agent; each got the safe-harbor message."""
    totals = state.abandon_ledger(campaign_id).totals()
    live = {c.call_id for c in calls if c.answer == "answered_human"}
    connected = {
        e["call_id"] for e in assignment_events(state, queue_id) if e["event"] == "connected"
    }
    abandoned = live - connected
    messaged = {c.call_id for c in calls if c.flow}
    assert totals.live == len(live) > 0
    assert totals.abandoned == len(abandoned)
    assert totals.machine == sum(c.answer == "answered_machine" for c in calls)
    assert messaged == abandoned
    assert all(c.flow == "flow-safe-harbor" and c.end == "hung_up" for c in calls if c.flow)
    budget = state.abandon_budget(campaign_id)
    assert budget.rate == pytest.approx(len(abandoned) / len(live))
    return totals


def assignment_events(state: DialerState, queue_id: str) -> list[dict[str, Any]]:
    """Every event on the assignment streams of the queue's agents."""
    out = []
    for agent in AgentStore(state.r, state.keys.queue_agents(queue_id)).load():
        stream: Any = state.r.xrange(state.keys.agent_assignments(queue_id, agent.id))
        out.extend(msgpack.unpackb(fields[b"event"]) for _, fields in stream)
    return out


def test_predictive_places_more_calls_than_agents_and_counts_every_abandon(
    cluster: Cluster,
) -> None:
    state = cluster.state
    numbers = phones(160)
    agents = [f"agent-{i}" for i in range(6)]
    campaign = state.campaigns.create(paced_spec(make_list(state, numbers), "predictive"))
    pool = ray.get(cluster.controller.pool.remote("q-predictive"))
    login(pool, agents)
    with AgentDesks(pool):
        cluster.run(campaign.id)
        cluster.wait_status(campaign.id, CampaignStatus.COMPLETED, timeout_s=150)
    calls = finished_calls(state, campaign.id, numbers)
    # Predictive: more calls at once than agents (progressive never does).
    assert max_concurrency([(c.start_ms, c.end_ms or c.start_ms) for c in calls]) > len(agents)
    totals = assert_ledger_matches_calls(state, campaign.id, "q-predictive", calls)
    # Every live answer not abandoned reached an agent.
    assert ray.get(pool.stats.remote())["connects"] == totals.live - totals.abandoned
    assert {a["state"] for a in ray.get(pool.agents.remote())} == {"available"}


def test_power_dials_its_ratio_and_the_ledger_survives_dialer_and_pool_restarts(
    cluster: Cluster,
) -> None:
    state = cluster.state
    numbers = phones(120, 3000)
    agents = ["ann", "bob", "cy"]
    campaign = state.campaigns.create(
        paced_spec(make_list(state, numbers), "power", power_ratio=2.5)
    )
    pool = ray.get(cluster.controller.pool.remote("q-power"))
    login(pool, agents)
    with AgentDesks(pool):
        cluster.run(campaign.id)
        cluster.wait_for(
            lambda: state.abandon_ledger(campaign.id).totals().live >= 5, what="live answers"
        )
        dialer = find_actor(campaign_actor_name(cluster.cfg, campaign.id))
        ray.kill(dialer, no_restart=False)  # it restarts, and resumes from Redis
        cluster.wait_for(
            lambda: state.abandon_ledger(campaign.id).totals().live >= 15, what="more answers"
        )
        ray.kill(pool, no_restart=False)  # answers waiting for an agent are abandoned
        cluster.wait_status(campaign.id, CampaignStatus.COMPLETED, timeout_s=150)
    calls = finished_calls(state, campaign.id, numbers)
    spans = [(c.start_ms, c.end_ms or c.start_ms) for c in calls]
    ringing = [(c.start_ms, c.answer_ms or c.end_ms or c.start_ms) for c in calls]
    # 2.5 calls per free agent: more calls up at once than agents, and never more ringing than
    # the ratio allows for all three agents free (answered calls talk to an agent or hear the
    # safe-harbor message; those are not paced).
    assert max_concurrency(spans) > len(agents)
    assert max_concurrency(ringing) <= int(2.5 * len(agents))
    # Even an answer that came while the dialer was down got the message (from its trunk).
    assert_ledger_matches_calls(state, campaign.id, "q-power", calls)


class PreviewDesks(threading.Thread):
    """Plays preview agents: skips each lead in `skip_once` the first time it is offered,
    lets each lead in `ignore_once` time out once, accepts everything else, and disposes."""

    def __init__(self, pool: Any, skip_once: set[int], ignore_once: set[int]) -> None:
        super().__init__(daemon=True)
        self.pool = pool
        self.skip_once, self.ignore_once = set(skip_once), set(ignore_once)
        self.stopped = threading.Event()
        self.accepted: list[tuple[str, int, int]] = []  # (agent, lead, attempt)
        self.skipped: list[int] = []
        self.ignored: dict[tuple[str, int], int] = {}  # (agent, lead) -> offered at

    def run(self) -> None:
        while not self.stopped.wait(0.005):
            for agent in ray.get(self.pool.agents.remote()):
                call = agent["call"]
                if agent["state"] == "wrap_up":
                    with contextlib.suppress(Exception):  # the wrap-up timed out first
                        ray.get(self.pool.dispose.remote(agent["id"], "sale"))
                    continue
                if agent["state"] != "reserved" or not agent["offered_at_ms"]:
                    continue
                lead = call["lead"]
                try:
                    if lead in self.ignore_once:
                        self.ignore_once.discard(lead)
                        self.ignored[(agent["id"], lead)] = agent["offered_at_ms"]
                    elif self.ignored.get((agent["id"], lead)) == agent["offered_at_ms"]:
                        pass  # still ignoring this offer
                    elif lead in self.skip_once:
                        ray.get(self.pool.skip_offer.remote(agent["id"]))
                        self.skip_once.discard(lead)
                        self.skipped.append(lead)
                    else:
                        ray.get(self.pool.accept_offer.remote(agent["id"]))
                        self.accepted.append((agent["id"], lead, call["attempt"]))
                except Exception:
                    pass  # the offer timed out meanwhile


def test_preview_dials_only_what_the_agent_accepted(cluster: Cluster) -> None:
    state = cluster.state
    numbers = phones(12, 5000)
    agents = ["ann", "bob"]
    campaign = state.campaigns.create(
        paced_spec(make_list(state, numbers), "preview", preview_timeout_seconds=30)
    )
    pool = ray.get(cluster.controller.pool.remote("q-preview"))
    login(pool, agents)
    desks = PreviewDesks(pool, skip_once={2, 5}, ignore_once={7})
    desks.start()
    try:
        cluster.run(campaign.id)
        cluster.wait_status(campaign.id, CampaignStatus.COMPLETED, timeout_s=120)
    finally:
        desks.stopped.set()
        desks.join()
    calls = finished_calls(state, campaign.id, numbers, max_in_flight=len(agents))
    # Each call is one the agent accepted: same agent, lead and attempt, and nothing else.
    dialed = Counter((c.agent, c.lead, c.attempt) for c in calls)
    assert dialed == Counter(desks.accepted)
    # Skipped and timed-out offers went back undialed and were offered (and dialed) later.
    assert set(desks.skipped) == {2, 5}
    assert {7, 2, 5} <= {c.lead for c in calls}
    first_attempt = {lead: min(c.attempt for c in calls if c.lead == lead) for lead in (2, 5, 7)}
    assert set(first_attempt.values()) == {1}  # a skip or a timeout is not an attempt
    events = ray.get(pool.stats.remote())
    assert events["connects"] == sum(c.answer == "answered_human" for c in calls)
    # One agent, one call at a time.
    for agent in agents:
        spans = [(c.start_ms, c.end_ms or c.start_ms) for c in calls if c.agent == agent]
        assert max_concurrency(spans) <= 1
    # The offer the desk let time out was announced as expired (another may have, if this
    # machine was too busy for the desk to decide within the timeout).
    expired = [e for e in assignment_events(state, "q-preview") if e["event"] == "offer_expired"]
    assert numbers[7] in {e["phone"] for e in expired}


def test_uk_predictive_never_calls_a_number_abandoned_in_the_last_72_hours(
    cluster: Cluster,
) -> None:
    state = cluster.state
    numbers = phones(30, 7000)
    campaign = state.campaigns.create(
        paced_spec(
            make_list(state, numbers),
            "predictive",
            compliance_regime="uk",
            contactable_timings=ContactableTimings.default("Europe/London").model_dump(mode="json"),
        )
    )
    ledger = state.abandon_ledger(campaign.id)
    now = state.clock.now_ms()
    hour = 3_600_000
    # Abandoned an hour ago (held for 71 more hours), and 73 hours ago (free again).
    for i, ago in ((0, hour), (1, hour), (2, 73 * hour)):
        ledger.record(f"earlier-{i}", LedgerEvent.LIVE, now - ago, now - ago)
        ledger.record(f"earlier-{i}", LedgerEvent.ABANDONED, now - ago, now - ago, numbers[i])
    pool = ray.get(cluster.controller.pool.remote("q-predictive"))
    login(pool, ["ann", "bob", "cy"])
    held = {0, 1}
    day = 24 * hour

    def settled() -> bool:
        """Every lead final, or held for days (abandoned: in this run too)."""
        snap = run.leads.snapshot()
        soon = state.clock.now_ms() + day
        return (
            not snap["ready"]
            and not snap["leases"]
            and min(snap["waiting"].values(), default=soon + 1) > soon
        )

    with AgentDesks(pool):
        cluster.run(campaign.id)
        run = state.campaigns.run_instance(state.campaigns.get(campaign.id))
        assert run is not None
        cluster.wait_for(settled, 120, "every lead final or held")
        state.campaigns.act(campaign.id, Action.STOP)
    calls = call_records(state, state.campaigns.get(campaign.id))
    assert not [c for c in calls if c.lead in held], "called within 72 h of an abandon"
    assert 2 in {c.lead for c in calls}
    # A lead abandoned in this run was not called again, and waits out its 72 hours too.
    abandoned_at = {c.lead: c.end_ms for c in calls if c.flow}
    for lead, at in abandoned_at.items():
        assert at is not None and max(c.start_ms for c in calls if c.lead == lead) < at
    # The held leads wait (no attempt counted) until their 72 hours are over.
    waiting = run.leads.snapshot()["waiting"]
    for lead in held:
        assert waiting[lead] >= now - hour + 72 * hour


def test_a_predictive_campaign_of_higher_priority_takes_the_shared_agents_first(
    cluster: Cluster,
) -> None:
    state = cluster.state
    high_numbers, low_numbers = phones(40, 8000), phones(10, 9000)
    high = state.campaigns.create(
        paced_spec(
            make_list(state, high_numbers),
            "predictive",
            queue_id="shared",
            priority=5,
            max_attempts=1,  # no lull waiting for retries, when lower campaigns may dial
        )
    )
    low = state.campaigns.create(
        campaign_spec(
            [make_list(state, low_numbers)],
            dialing_mode="progressive",
            queue_id="shared",
            priority=3,
            max_attempts=1,
        )
    )
    pool = ray.get(cluster.controller.pool.remote("shared"))
    with AgentDesks(pool):
        cluster.run(low.id)
        cluster.run(high.id)
        # Agents log in once both campaigns are asking for them.
        cluster.wait_for(lambda: ray.get(pool.stats.remote())["paced"], what="the paced campaign")
        login(pool, ["ann", "bob", "cy"])
        cluster.wait_status(high.id, CampaignStatus.COMPLETED, timeout_s=150)
        cluster.wait_status(low.id, CampaignStatus.COMPLETED, timeout_s=90)
    high_calls = call_records(state, state.campaigns.get(high.id))
    low_calls = call_records(state, state.campaigns.get(low.id))
    # The progressive campaign got no agent while the predictive one still had leads to dial.
    assert min(c.start_ms for c in low_calls) >= max(c.start_ms for c in high_calls)
