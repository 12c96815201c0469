"""Faults: actors killed mid-run (ray.kill with restart, and a killed worker process), a second
dialer working the same campaign, and originate retried with the same idempotency key. The
runs still finish with every lead accounted for and no attempt dialed twice."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import ray

from actors.campaign import CampaignActor
from actors.runtime import (
    ACTOR_OPTIONS,
    campaign_actor_name,
    find_actor,
    pool_actor_name,
    trunk_actor_name,
)
from cluster.lifecycle import Action
from cluster.models import CampaignStatus
from cluster.telephony import OriginateRequest
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


@pytest.fixture
def cluster(redis_url: str) -> Iterator[Cluster]:
    with start(
        runtime(redis_url, lease_ttl_s=900.0),
        [{"id": "t1", "channels": 3, "cps": 10}, {"id": "t2", "channels": 3, "cps": 10}],
    ) as c:
        yield c


def wait_calls(cluster: Cluster, campaign_id: str, at_least: int) -> None:
    def placed() -> int:
        campaign = cluster.state.campaigns.get(campaign_id)
        run = cluster.state.keys.campaign(campaign_id).run(campaign.run_instance)
        return int(cluster.state.r.hlen(run.calls()))

    cluster.wait_for(lambda: placed() >= at_least, what=f"{at_least} calls")


def test_agentless_run_survives_kills_and_a_second_dialer(cluster: Cluster) -> None:
    state = cluster.state
    numbers = phones(40)
    campaign = state.campaigns.create(campaign_spec([make_list(state, numbers)], pacing=5))
    second = CampaignActor.options(
        name=campaign_actor_name(cluster.cfg, campaign.id, 1), **ACTOR_OPTIONS
    ).remote(cluster.cfg, campaign.id, 1)
    try:
        cluster.run(campaign.id)
        wait_calls(cluster, campaign.id, 5)
        first = find_actor(campaign_actor_name(cluster.cfg, campaign.id))
        ray.kill(first, no_restart=False)  # the dialer restarts and resumes from Redis
        wait_calls(cluster, campaign.id, 15)
        trunk = find_actor(trunk_actor_name(cluster.cfg, "t1"))
        os.kill(ray.get(trunk.pid.remote()), signal.SIGKILL)  # its live calls are lost
        killed_at = state.clock.now_ms()
        cluster.wait_status(campaign.id, CampaignStatus.COMPLETED)
        done = state.campaigns.get(campaign.id)
        records = check_run_invariants(
            state, done, phone_of=dict(enumerate(numbers)), dnc_since_ms={},
            trunk_channels={"t1": 3, "t2": 3}, max_in_flight=done.pacing,
            calls_lost_at_ms=killed_at,
        )  # fmt: skip
        assert ray.get(second.stats.remote())["placed"] > 0, "the second dialer never dialed"
        assert len(records) >= len(numbers)
    finally:
        ray.kill(second, no_restart=True)


def test_progressive_run_survives_pool_and_dialer_kills(cluster: Cluster) -> None:
    state = cluster.state
    numbers = phones(20)
    campaign = state.campaigns.create(
        campaign_spec([make_list(state, numbers)], dialing_mode="progressive", queue_id="care")
    )
    pool = ray.get(cluster.controller.pool.remote("care"))
    for agent in ("ann", "bob"):
        ray.get(pool.login.remote(agent))
    stop = threading.Event()

    def desks() -> None:
        while not stop.wait(0.02):
            handle = find_actor(pool_actor_name(cluster.cfg, "care"))
            try:
                for agent in ray.get(handle.agents.remote()):
                    if agent["state"] == "wrap_up":
                        ray.get(handle.dispose.remote(agent["id"], "sale"))
            except Exception:
                continue  # the pool is restarting, or the wrap-up timed out first

    desk = threading.Thread(target=desks, daemon=True)
    desk.start()
    try:
        cluster.run(campaign.id)
        wait_calls(cluster, campaign.id, 4)
        ray.kill(pool, no_restart=False)
        wait_calls(cluster, campaign.id, 8)
        dialer = find_actor(campaign_actor_name(cluster.cfg, campaign.id))
        os.kill(ray.get(dialer.pid.remote()), signal.SIGKILL)
        cluster.wait_status(campaign.id, CampaignStatus.COMPLETED)
    finally:
        stop.set()
        desk.join()
    done = state.campaigns.get(campaign.id)
    check_run_invariants(
        state, done, phone_of=dict(enumerate(numbers)), dnc_since_ms={},
        trunk_channels={"t1": 3, "t2": 3}, max_in_flight=2,
    )  # fmt: skip
    agents = ray.get(find_actor(pool_actor_name(cluster.cfg, "care")).agents.remote())
    assert {a["id"] for a in agents} == {"ann", "bob"}  # the pool came back with its agents


def test_a_retried_originate_places_one_call(cluster: Cluster) -> None:
    state = cluster.state
    campaign = state.campaigns.create(campaign_spec([make_list(state, phones(1))]))
    state.campaigns.act(campaign.id, Action.RUN)
    # Hold the campaign so its own dialer does not take the lead while we dial it by hand.
    state.campaigns.act(campaign.id, Action.PAUSE)
    run = state.campaigns.run_instance(state.campaigns.get(campaign.id))
    assert run is not None
    (leased,) = run.lease_contacts(state.clock.now_ms(), 1, 600_000, 3)
    request = OriginateRequest(
        idempotency_key=f"{campaign.id}:1:{leased.lease.lead}:{leased.lease.attempt}",
        campaign_id=campaign.id, instance=1, lead=leased.lease.lead, token=leased.lease.token,
        attempt=leased.lease.attempt, phone=leased.contact.phone, caller_id="+12125550199",
        max_ring_s=30, amd=False,
    )  # fmt: skip
    trunk = find_actor(trunk_actor_name(cluster.cfg, "t1"))
    first = ray.get(trunk.originate.remote(request, "nobody"))
    again = ray.get(trunk.originate.remote(request, "nobody"))
    assert first["result"] == "placed"
    assert again == {"result": "duplicate", "call_id": first["call_id"]}
    # Past its dial-by instant (the window closed while it was in flight) a request places
    # nothing, but a resend of a placed call is still answered as the duplicate it is.
    closed = state.clock.now_ms() - 1
    late = dataclasses.replace(request, idempotency_key=f"{campaign.id}:1:x:1", dial_by_ms=closed)
    assert ray.get(trunk.originate.remote(late, "nobody")) == {"result": "too_late"}
    resent = dataclasses.replace(request, dial_by_ms=closed)
    assert ray.get(trunk.originate.remote(resent, "nobody"))["result"] == "duplicate"
    assert state.r.hlen(state.keys.campaign(campaign.id).run(1).calls()) == 1
    time.sleep(0.2)
    assert ray.get(trunk.status.remote())["placed"] == 1
