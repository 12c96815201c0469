"""Progressive dialing through real actors: three agents shared by two campaigns of different
priority; one call per available agent, only live answers reach agents, dispositions count."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest
import ray

from cluster.models import CampaignStatus
from tests.engine_helpers import (
    AgentDesks,
    Cluster,
    campaign_spec,
    check_run_invariants,
    make_list,
    max_concurrency,
    phones,
    runtime,
    start,
)

pytestmark = pytest.mark.usefixtures("ray_cluster")
AGENTS = ["ann", "bob", "cy"]


@pytest.fixture
def cluster(redis_url: str) -> Iterator[Cluster]:
    with start(runtime(redis_url), [{"id": "t1", "channels": 10, "cps": 20}]) as c:
        yield c


def test_two_campaigns_share_three_agents_by_priority(cluster: Cluster) -> None:
    state = cluster.state
    high_numbers, low_numbers = phones(12, 1000), phones(12, 2000)
    high = state.campaigns.create(
        campaign_spec(
            [make_list(state, high_numbers)],
            dialing_mode="progressive",
            queue_id="sales",
            priority=5,
            max_attempts=1,
        )
    )
    low = state.campaigns.create(
        campaign_spec(
            [make_list(state, low_numbers)],
            dialing_mode="progressive",
            queue_id="sales",
            priority=3,
            max_attempts=2,
        )
    )
    pool = ray.get(cluster.controller.pool.remote("sales"))
    desks = AgentDesks(pool, retry_campaign=low.id)
    desks.start()
    try:
        cluster.run(low.id)
        cluster.run(high.id)
        # Agents log in once both campaigns are asking for them.
        cluster.wait_for(lambda: len(ray.get(pool.stats.remote())["wanting"]) == 2)
        for agent in AGENTS:
            ray.get(pool.login.remote(agent))
        cluster.wait_status(high.id, CampaignStatus.COMPLETED)
        cluster.wait_status(low.id, CampaignStatus.COMPLETED)
    finally:
        desks.stopped.set()
        desks.join()
    high_done, low_done = state.campaigns.get(high.id), state.campaigns.get(low.id)
    high_calls = check_run_invariants(
        state, high_done, phone_of=dict(enumerate(high_numbers)), dnc_since_ms={},
        trunk_channels={"t1": 10}, max_in_flight=len(AGENTS),
    )  # fmt: skip
    low_calls = check_run_invariants(
        state, low_done, phone_of=dict(enumerate(low_numbers)), dnc_since_ms={},
        trunk_channels={"t1": 10}, max_in_flight=len(AGENTS),
    )  # fmt: skip
    every_call = high_calls + low_calls
    # One call per agent: never more calls than agents, and never one agent on two calls.
    spans = [(r.start_ms, r.end_ms or r.start_ms) for r in every_call]
    assert max_concurrency(spans) <= len(AGENTS)
    by_agent = defaultdict(list)
    for rec in every_call:
        assert rec.agent in AGENTS
        by_agent[rec.agent].append((rec.start_ms, rec.end_ms or rec.start_ms))
    for agent, calls in by_agent.items():
        assert max_concurrency(calls) == 1, f"agent {agent} on two calls at once"
    # Priority: the lower campaign waited while the higher one still had leads to dial.
    last_high_start = max(r.start_ms for r in high_calls)
    assert min(r.start_ms for r in low_calls) >= last_high_start
    # Only live answers reached an agent (AMD on: machines never did).
    stats = ray.get(pool.stats.remote())
    live_answers = [r for r in every_call if r.answer == "answered_human"]
    assert stats["connects"] == len(live_answers) > 0
    # A "no_decision" disposition reopened the lead for a second attempt.
    reopened = [r for r in low_calls if r.attempt == 2]
    if any(code == "no_decision" for _, code in desks.filed):
        assert reopened
    # The agents end free.
    assert {a["state"] for a in ray.get(pool.agents.remote())} == {"available"}
