"""Pause, resume and stop act on a running campaign; the controller survives a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import ray

from actors.controller import trunk_placement
from actors.runtime import controller_name, find_actor
from cluster.lifecycle import Action
from cluster.models import CampaignStatus
from tests.engine_helpers import (
    Cluster,
    call_records,
    campaign_spec,
    make_list,
    phones,
    runtime,
    start,
)

pytestmark = pytest.mark.usefixtures("ray_cluster")
GRACE_MS = 300_000  # virtual: half a real second at the tests' 600x


@pytest.fixture
def cluster(redis_url: str) -> Iterator[Cluster]:
    with start(runtime(redis_url), [{"id": "t1", "channels": 4, "cps": 10}]) as c:
        yield c


def act(cluster: Cluster, campaign_id: str, action: Action) -> None:
    cluster.state.campaigns.act(campaign_id, action)
    ray.get(cluster.controller.campaign_changed.remote(campaign_id))


def test_pause_holds_new_dials_resume_continues_stop_ends(cluster: Cluster) -> None:
    state = cluster.state
    campaign = state.campaigns.create(campaign_spec([make_list(state, phones(60))], pacing=3))
    campaign = cluster.run(campaign.id)
    cluster.wait_for(lambda: len(call_records(state, campaign)) >= 6)
    act(cluster, campaign.id, Action.PAUSE)
    paused_at = state.clock.now_ms()
    run = state.campaigns.run_instance(state.campaigns.get(campaign.id))
    assert run is not None
    # Calls in progress finish; no new call starts while paused.
    cluster.wait_for(lambda: run.leads.leased_count() == 0, what="calls in progress to end")
    time.sleep(1.0)  # ten virtual minutes: a dialer that ignored the pause would have dialed
    # A tick already past its status check may still place the calls it had leased (allow
    # half a real second of scheduling delay).
    late = [r for r in call_records(state, campaign) if r.start_ms > paused_at + GRACE_MS]
    assert late == [], "a call started while paused"
    assert state.campaigns.get(campaign.id).status is CampaignStatus.PAUSED
    before_resume = len(call_records(state, campaign))
    act(cluster, campaign.id, Action.RESUME)
    cluster.wait_for(lambda: len(call_records(state, campaign)) > before_resume + 3)
    act(cluster, campaign.id, Action.STOP)
    stopped_at = state.clock.now_ms()
    assert state.campaigns.get(campaign.id).status is CampaignStatus.STOPPED
    # The dialer stays until its last calls end and records them; then nothing dials.
    cluster.wait_for(lambda: run.leads.leased_count() == 0, what="stopped run to drain")
    time.sleep(1.0)
    records = call_records(state, campaign)
    assert all(r.end_ms is not None for r in records), "a call of the stopped run was not recorded"
    assert not [r for r in records if r.start_ms > stopped_at + GRACE_MS]
    progress = run.leads.progress()
    assert progress.remaining > 0 and progress.in_progress == 0


def test_controller_restart_rebuilds_its_registry(cluster: Cluster) -> None:
    state = cluster.state
    campaign = state.campaigns.create(campaign_spec([make_list(state, phones(20))]))
    cluster.run(campaign.id)
    act(cluster, campaign.id, Action.PAUSE)  # a paused run keeps its dialer; it cannot finish
    before = ray.get(cluster.controller.reconcile.remote())["actors"]
    ray.kill(find_actor(controller_name(cluster.cfg)), no_restart=False)
    after = ray.get(cluster.controller.reconcile.remote())["actors"]
    assert after == before and any(":campaign:" in n for n in after)
    act(cluster, campaign.id, Action.RESUME)  # the rebuilt registry drives the run to its end
    cluster.wait_status(campaign.id, CampaignStatus.COMPLETED)


def test_trunks_pin_to_trunk_nodes_only_when_the_cluster_has_them() -> None:
    assert trunk_placement({"CPU": 2.0}) == {}
    assert trunk_placement({"CPU": 2.0, "trunk": 4.0}) == {"resources": {"trunk": 0.001}}
