"""An agentless campaign runs to completion through real Ray actors on the simulated carrier,
and every compliance invariant holds in the records it leaves in Redis."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
import ray

from actors.runtime import find_actor, trunk_actor_name
from cluster.models import CampaignStatus
from tests.engine_helpers import (
    Cluster,
    campaign_spec,
    check_run_invariants,
    make_list,
    phones,
    runtime,
    start,
)

pytestmark = pytest.mark.usefixtures("ray_cluster")

TRUNKS = [{"id": "t1", "channels": 3, "cps": 4}, {"id": "t2", "channels": 2, "cps": 4}]


@pytest.fixture
def cluster(redis_url: str) -> Iterator[Cluster]:
    with start(runtime(redis_url), TRUNKS) as c:
        yield c


def test_agentless_campaign_runs_to_completion_within_every_limit(cluster: Cluster) -> None:
    state = cluster.state
    numbers = phones(40)
    list_id = make_list(state, numbers)
    dnc = state.dnc.create("dnc")
    state.dnc.add(dnc.id, [numbers[0], numbers[5]])
    campaign = state.campaigns.create(campaign_spec([list_id], dnc_list_id=dnc.id))
    started = cluster.run(campaign.id)
    # A number put on the DNC list mid-run is never dialed from then on.
    time.sleep(0.3)
    late = numbers[20]
    state.dnc.add(dnc.id, [late])
    late_at = state.clock.now_ms()
    cluster.wait_status(campaign.id, CampaignStatus.COMPLETED)
    done = state.campaigns.get(campaign.id)
    assert done.run_instance == started.run_instance
    records = check_run_invariants(
        state,
        done,
        phone_of=dict(enumerate(numbers)),
        dnc_since_ms={numbers[0]: 0, numbers[5]: 0, late: late_at},
        trunk_channels={"t1": 3, "t2": 2},
        trunk_cps={"t1": 4, "t2": 4},
        max_in_flight=done.pacing,
    )
    progress = state.campaigns.progress(campaign.id)
    assert progress is not None
    assert progress.outcomes.get("dnc_blocked", 0) >= 2
    assert progress.outcomes.get("connected", 0) > 0
    assert progress.outcomes.get("machine", 0) > 0  # AMD on: machines hung up and retried
    # The invalid number (line 1013) failed once and was not retried.
    invalid_lead = numbers.index("+12125551013")
    assert [r.attempt for r in records if r.lead == invalid_lead] == [1]
    assert len({r.trunk for r in records}) == 2  # both trunks carried calls
    for trunk in TRUNKS:
        handle = find_actor(trunk_actor_name(cluster.cfg, str(trunk["id"])))
        assert handle is not None
        assert ray.get(handle.status.remote())["max_live"] <= int(trunk["channels"])


def test_a_slow_trunk_holds_its_calls_per_second(redis_url: str) -> None:
    """One call every 20 virtual seconds, however many channels and however high the pacing."""
    with start(runtime(redis_url), [{"id": "slow", "channels": 20, "cps": 0.05}]) as cluster:
        state = cluster.state
        numbers = phones(12)
        campaign = state.campaigns.create(
            campaign_spec([make_list(state, numbers)], pacing=20, max_attempts=1)
        )
        cluster.run(campaign.id)
        cluster.wait_status(campaign.id, CampaignStatus.COMPLETED)
        done = state.campaigns.get(campaign.id)
        records = check_run_invariants(
            state, done, phone_of=dict(enumerate(numbers)), dnc_since_ms={},
            trunk_channels={"slow": 20}, trunk_cps={"slow": 0.05}, max_in_flight=20,
        )  # fmt: skip
        starts = sorted(r.start_ms for r in records)
        assert len(starts) == len(numbers)
        assert min(b - a for a, b in itertools.pairwise(starts)) >= 20_000 - 50
