"""The API drives the real engine: a watched campaign runs to Completed, agents receive their
calls on WatchAssignments and file dispositions, trunks drain with the engine honouring it."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest

from gateway.gen.dialer.v1 import agent_service_pb2 as apb
from gateway.gen.dialer.v1 import campaign_service_pb2 as cpb
from gateway.gen.dialer.v1 import contact_list_service_pb2 as lpb
from gateway.gen.dialer.v1 import dnc_list_service_pb2 as dpb
from gateway.gen.dialer.v1 import trunk_service_pb2 as tpb
from tests.engine_helpers import PROFILE, Cluster, phones, runtime, start
from tests.grpc_helpers import Served, serve
from tests.test_cli import ctl
from tests.test_grpc_api import timings

pytestmark = pytest.mark.usefixtures("ray_cluster")

# Everyone answers, briefly: runs are short and every progressive call reaches an agent.
HUMANS = dataclasses.replace(
    PROFILE,
    human=1.0,
    machine=0,
    busy=0,
    no_answer=0,
    failed=0,
    ring_s=(3.0, 10.0),
    talk_s=(20.0, 40.0),
)


@pytest.fixture(scope="module")
def engine(redis_url: str) -> Iterator[tuple[Cluster, Served]]:
    cfg = dataclasses.replace(runtime(redis_url), carrier=HUMANS)
    with start(cfg, []) as cluster, serve(cfg, state=cluster.state) as served:
        yield cluster, served


def import_list(client: Any, numbers: list[str]) -> str:
    name = client.contact_lists.CreateContactList(
        lpb.CreateContactListRequest(contact_list=lpb.ContactList(display_name="l"))
    ).contact_list.name
    rows = "".join(f"{n},Person {i},c-{i}\n" for i, n in enumerate(numbers))
    report = client.contact_lists.ImportContacts(
        iter([lpb.ImportContactsRequest(name=name, chunk=f"phone,name,id\n{rows}".encode())])
    )
    assert report.accepted == len(numbers)
    return str(name)


def test_a_watched_campaign_runs_to_completed(engine: tuple[Cluster, Served]) -> None:
    _, served = engine
    admin = served.client("admin")
    admin.trunks.RegisterTrunk(
        tpb.RegisterTrunkRequest(trunk=tpb.Trunk(name="trunks/t1", channels=4, cps=10))
    )
    numbers = phones(8)
    dnc = admin.dnc_lists.CreateDncList(
        dpb.CreateDncListRequest(dnc_list=dpb.DncList(display_name="dnc"))
    ).dnc_list
    admin.dnc_lists.AddDncNumbers(
        dpb.AddDncNumbersRequest(name=dnc.name, phone_numbers=numbers[:1])
    )
    spec = cpb.Campaign(
        display_name=f"watched-{uuid.uuid4().hex[:6]}",
        contact_lists=[import_list(admin, numbers)],
        dnc_list=dnc.name,
        dialing_mode=cpb.DIALING_MODE_AGENTLESS,
        start_flow_id="flow",
        caller_id="+12125550199",
        pacing=3,
        contactable_timings=timings(),
    )
    created = admin.campaigns.CreateCampaign(cpb.CreateCampaignRequest(campaign=spec)).campaign
    viewer = served.client("viewer")
    updates: list[cpb.WatchCampaignResponse] = []
    watch = viewer.campaigns.WatchCampaign(cpb.WatchCampaignRequest(name=created.name))
    watcher = threading.Thread(target=lambda: updates.extend(watch))
    watcher.start()
    admin.campaigns.RunCampaign(cpb.RunCampaignRequest(name=created.name))
    admin.campaigns.PauseCampaign(cpb.PauseCampaignRequest(name=created.name))
    admin.campaigns.ResumeCampaign(cpb.ResumeCampaignRequest(name=created.name))
    watcher.join(timeout=60)
    assert not watcher.is_alive(), "the watch did not end with the campaign"
    statuses = [u.campaign.status for u in updates]
    assert statuses[0] == cpb.CAMPAIGN_STATUS_READY
    assert statuses[-1] == cpb.CAMPAIGN_STATUS_COMPLETED
    assert cpb.CAMPAIGN_STATUS_ACTIVE in statuses
    final = updates[-1].progress
    assert (final.total, final.completed, final.remaining) == (8, 8, 0)
    assert final.outcomes["dnc_blocked"] == 1 and final.outcomes["connected"] == 7
    # Rerun starts a fresh instance; stop ends it; then it may be deleted.
    rerun = admin.campaigns.RerunCampaign(cpb.RerunCampaignRequest(name=created.name)).campaign
    assert (rerun.status, rerun.run_instance) == (cpb.CAMPAIGN_STATUS_ACTIVE, 2)
    stopped = admin.campaigns.StopCampaign(cpb.StopCampaignRequest(name=created.name)).campaign
    assert stopped.status == cpb.CAMPAIGN_STATUS_STOPPED
    admin.campaigns.DeleteCampaign(cpb.DeleteCampaignRequest(name=created.name))


def test_agents_get_their_calls_and_file_dispositions(engine: tuple[Cluster, Served]) -> None:
    _, served = engine
    admin, ann = served.client("admin"), served.client("ann")
    queue = f"q-{uuid.uuid4().hex[:6]}"
    agent = f"queues/{queue}/agents/ann"
    if not admin.trunks.ListTrunks(tpb.ListTrunksRequest()).trunks:
        admin.trunks.RegisterTrunk(
            tpb.RegisterTrunkRequest(trunk=tpb.Trunk(name="trunks/t1", channels=4, cps=10))
        )
    numbers = phones(3, 3000)
    login = ann.agents.LoginAgent(apb.LoginAgentRequest(name=agent, request_id="login-1"))
    assert login.agent.state == apb.AGENT_STATE_AVAILABLE
    # From the start of the agent's stream: nothing is missed while the watch connects.
    assignments = ann.agents.WatchAssignments(
        apb.WatchAssignmentsRequest(name=agent, after_event_id="0")
    )
    seen: list[apb.WatchAssignmentsResponse] = []

    def desk() -> None:
        try:
            for event in assignments:
                seen.append(event)
                if event.event == apb.ASSIGNMENT_EVENT_ENDED:
                    ann.agents.SubmitDisposition(
                        apb.SubmitDispositionRequest(name=agent, code="sale")
                    )
        except grpc.RpcError as exc:
            assert exc.code() is grpc.StatusCode.CANCELLED

    thread = threading.Thread(target=desk)
    thread.start()
    spec = cpb.Campaign(
        display_name=f"progressive-{uuid.uuid4().hex[:6]}",
        contact_lists=[import_list(admin, numbers)],
        dialing_mode=cpb.DIALING_MODE_PROGRESSIVE,
        queue_id=queue,
        caller_id="+12125550199",
        max_attempts=1,
        contactable_timings=timings(),
    )
    created = admin.campaigns.CreateCampaign(cpb.CreateCampaignRequest(campaign=spec)).campaign
    admin.campaigns.RunCampaign(cpb.RunCampaignRequest(name=created.name))
    for update in admin.campaigns.WatchCampaign(cpb.WatchCampaignRequest(name=created.name)):
        last = update
    assignments.cancel()
    thread.join(timeout=10)
    assert last.campaign.status == cpb.CAMPAIGN_STATUS_COMPLETED
    connected = [e for e in seen if e.event == apb.ASSIGNMENT_EVENT_CONNECTED]
    assert sorted(e.contact.phone_number for e in connected) == numbers
    assert {e.contact.display_name for e in connected} == {"Person 0", "Person 1", "Person 2"}
    assert all(e.campaign == created.name and e.call_id for e in connected)
    listed = admin.agents.ListAgents(apb.ListAgentsRequest(parent=f"queues/{queue}")).agents
    assert [(a.name, a.state) for a in listed] == [(agent, apb.AGENT_STATE_AVAILABLE)]
    # A break: logged in, taking no calls; going offline is a logout.
    set_state = ann.agents.SetAgentState
    on_break = set_state(apb.SetAgentStateRequest(name=agent, state=apb.AGENT_STATE_NOT_READY))
    assert on_break.agent.state == apb.AGENT_STATE_NOT_READY
    with pytest.raises(grpc.RpcError) as refused:
        set_state(apb.SetAgentStateRequest(name=agent, state=apb.AGENT_STATE_OFFLINE))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert ann.agents.LogoutAgent(apb.LogoutAgentRequest(name=agent)).agent.state == (
        apb.AGENT_STATE_OFFLINE
    )


def test_a_draining_trunk_takes_no_new_calls(engine: tuple[Cluster, Served]) -> None:
    cluster, served = engine
    admin = served.client("admin")
    name = f"trunks/d-{uuid.uuid4().hex[:6]}"
    admin.trunks.RegisterTrunk(tpb.RegisterTrunkRequest(trunk=tpb.Trunk(name=name, channels=2)))
    drained = admin.trunks.DrainTrunk(tpb.DrainTrunkRequest(name=name)).trunk
    assert drained.draining and drained.live_calls == 0
    from actors.runtime import find_actor, trunk_actor_name

    handle = find_actor(trunk_actor_name(cluster.cfg, name.split("/")[1]))
    assert handle is not None
    import ray

    status = ray.get(handle.status.remote())
    assert status["draining"] and status["free"] == 0
    admin.trunks.RemoveTrunk(tpb.RemoveTrunkRequest(name=name))


def test_a_scheduled_campaign_starts_by_itself_and_stop_ends_its_occurrence(
    engine: tuple[Cluster, Served],
) -> None:
    cluster, served = engine
    admin = served.client("admin")
    admin.trunks.RegisterTrunk(
        tpb.RegisterTrunkRequest(trunk=tpb.Trunk(name="trunks/t-sched", channels=2, cps=10))
    )
    local = cluster.state.clock.now().astimezone(ZoneInfo("America/New_York"))
    begin = local + timedelta(minutes=2)
    schedule = cpb.Schedule(
        start=local.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0).isoformat(),
        recurrence=cpb.Recurrence(
            frequency=cpb.RECURRENCE_FREQUENCY_DAILY,
            start_time=begin.strftime("%H:%M"),
            end_time=(begin + timedelta(hours=1)).strftime("%H:%M"),
        ),
    )
    spec = cpb.Campaign(
        display_name=f"scheduled-{uuid.uuid4().hex[:6]}",
        contact_lists=[import_list(admin, phones(200, start=3000))],
        dialing_mode=cpb.DIALING_MODE_AGENTLESS,
        start_flow_id="flow",
        caller_id="+12125550199",
        pacing=2,
        contactable_timings=timings(),
        schedule=schedule,
    )
    created = admin.campaigns.CreateCampaign(cpb.CreateCampaignRequest(campaign=spec)).campaign
    assert created.status == cpb.CAMPAIGN_STATUS_SCHEDULED
    get = cpb.GetCampaignRequest(name=created.name)
    cluster.wait_for(
        lambda: admin.campaigns.GetCampaign(get).campaign.status == cpb.CAMPAIGN_STATUS_ACTIVE,
        30,
        "the scheduled start",
    )
    active = admin.campaigns.GetCampaign(get).campaign
    assert active.occurrence.index == 0 and active.run_instance == 1
    assert active.occurrence.end_time.ToSeconds() - active.occurrence.start_time.ToSeconds() == 3600
    stopped = admin.campaigns.StopCampaign(cpb.StopCampaignRequest(name=created.name)).campaign
    # The occurrence's instance ends; the series goes on (tomorrow's occurrence).
    assert stopped.status == cpb.CAMPAIGN_STATUS_SCHEDULED and stopped.run_instance == 1
    with pytest.raises(grpc.RpcError) as refused:
        admin.campaigns.RunCampaign(cpb.RunCampaignRequest(name=created.name))
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION


def test_dialerctl_drives_an_agent_through_her_states(
    engine: tuple[Cluster, Served], capsys: pytest.CaptureFixture[str]
) -> None:
    _, served = engine
    queue = f"q-{uuid.uuid4().hex[:6]}"
    for command, shown in (
        ("login", "ann: available"),
        ("not-ready", "ann: not_ready"),
        ("ready", "ann: available"),
    ):
        code, out = ctl(served, capsys, "agents", command, queue, "ann")
        assert (code, shown in out) == (0, True), out
    code, out = ctl(served, capsys, "agents", "dispose", queue, "ann", "sale")
    assert code == 1 and "FAILED_PRECONDITION" in out  # no call to dispose of
    code, out = ctl(served, capsys, "agents", "logout", queue, "ann", who="ann")
    assert code == 0 and "ann: offline" in out
    code, out = ctl(served, capsys, "agents", "list", queue)
    assert code == 0 and "offline" in out
