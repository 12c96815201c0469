"""The dialer.v1 API over loopback, without the dialing engine: resources, every error class
with its status code and field, auth, idempotent retries, paging, health and reflection."""

from __future__ import annotations

import dataclasses
import filecmp
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cluster.abandon import LedgerEvent
from cluster.agents import Agent, AgentState, CallContext
from gateway import codegen, convert
from gateway.auth import METHOD_ROLES
from gateway.gen.dialer.v1 import agent_service_pb2 as agent_pb
from gateway.gen.dialer.v1 import campaign_service_pb2 as cpb
from gateway.gen.dialer.v1 import contact_list_service_pb2 as lpb
from gateway.gen.dialer.v1 import dnc_list_service_pb2 as dpb
from gateway.gen.dialer.v1 import trunk_service_pb2 as tpb
from gateway.server import SERVICE_NAMES
from tests.grpc_helpers import (
    TOKENS,
    Served,
    error_reason,
    plain_runtime,
    rpc_error,
    serve,
    violations,
)

Code = grpc.StatusCode
README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(scope="module")
def served(redis_url: str) -> Iterator[Served]:
    with serve(plain_runtime(redis_url)) as s:
        yield s


@pytest.fixture(scope="module")
def admin(served: Served) -> Any:
    return served.client("admin")


def timings() -> cpb.ContactableTimings:
    weekday = cpb.DayWindows(
        day=cpb.WEEKDAY_MONDAY, windows=[cpb.TimeWindow(start="09:00", end="18:00")]
    )
    return cpb.ContactableTimings(timezone="America/New_York", days=[weekday])


def new_list(client: Any, csv: bytes = b"phone,name\n2125550100,Ann\n") -> str:
    created = client.contact_lists.CreateContactList(
        lpb.CreateContactListRequest(contact_list=lpb.ContactList(display_name="leads"))
    ).contact_list
    client.contact_lists.ImportContacts(
        iter([lpb.ImportContactsRequest(name=created.name, chunk=csv)])
    )
    return str(created.name)


def campaign(lists: list[str], **extra: Any) -> cpb.Campaign:
    fields: dict[str, Any] = {
        "display_name": f"c-{uuid.uuid4().hex[:8]}",
        "contact_lists": lists,
        "dialing_mode": cpb.DIALING_MODE_AGENTLESS,
        "start_flow_id": "flow-1",
        "caller_id": "+12125550199",
        "contactable_timings": timings(),
        **extra,
    }
    return cpb.Campaign(**fields)


def create(client: Any, spec: cpb.Campaign, request_id: str = "") -> cpb.Campaign:
    request = cpb.CreateCampaignRequest(campaign=spec, request_id=request_id)
    return client.campaigns.CreateCampaign(request).campaign


# Generated code and the method table ----------------------------------------------------
def test_committed_generated_code_matches_the_protos(tmp_path: Path) -> None:
    codegen.generate(tmp_path / "gen")
    fresh = sorted(p.relative_to(tmp_path / "gen") for p in (tmp_path / "gen").rglob("*.py*"))
    committed = sorted(p.relative_to(codegen.GEN) for p in codegen.GEN.rglob("*.py*"))
    assert fresh == committed, "run `python -m gateway.codegen` and commit gateway/gen"
    _, mismatch, errors = filecmp.cmpfiles(
        tmp_path / "gen", codegen.GEN, [str(p) for p in fresh], shallow=False
    )
    assert not mismatch and not errors, f"stale generated files {mismatch}: run gateway.codegen"


def test_every_method_has_a_role_and_every_role_entry_a_method() -> None:
    from gateway.gen.dialer.v1 import (
        agent_service_pb2,
        campaign_service_pb2,
        contact_list_service_pb2,
        dnc_list_service_pb2,
        trunk_service_pb2,
    )

    methods = {
        f"/{service.full_name}/{method.name}"
        for module in (
            campaign_service_pb2,
            contact_list_service_pb2,
            dnc_list_service_pb2,
            agent_service_pb2,
            trunk_service_pb2,
        )
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert methods == set(METHOD_ROLES)
    assert {m.split("/")[1] for m in methods} == set(SERVICE_NAMES)


# Contact lists and DNC -------------------------------------------------------------------
def test_import_streams_chunks_and_reports_bad_rows(admin: Any) -> None:
    created = admin.contact_lists.CreateContactList(
        lpb.CreateContactListRequest(contact_list=lpb.ContactList(display_name="Spring"))
    ).contact_list
    csv = (
        "phone,name,timezone\n"
        "(212) 555-0100,Zoë,America/New_York\n"
        "not-a-number,Bob,\n"
        ",Cy,\n"
        "2125550100,Dup,\n"
        "2125550101,Ed,Mars/Base\n"
        "2125550102,Flo\n"
        "+442079460958,Gus,Europe/London\n"
    ).encode()
    # Chunks cut anywhere: mid-row and inside the two bytes of "ë".
    cut = csv.index("ë".encode()) + 1
    pieces = [csv[:cut], csv[cut : cut + 7], csv[cut + 7 :]]
    messages = [lpb.ImportContactsRequest(name=created.name, chunk=pieces[0])]
    messages += [lpb.ImportContactsRequest(chunk=p) for p in pieces[1:]]
    report = admin.contact_lists.ImportContacts(iter(messages))
    assert (report.rows, report.accepted) == (7, 2)
    rejected = {r.row: (r.field, r.reason) for r in report.rejected}
    assert sorted(rejected) == [3, 4, 5, 6, 7]
    assert rejected[3][0] == "phone" and "invalid number" in rejected[3][1]
    assert rejected[4] == ("phone", "missing phone")
    assert "duplicate" in rejected[5][1]
    assert rejected[6][0] == "timezone"
    assert rejected[7][0] == "row"
    assert report.contact_list.contact_count == 2
    got = admin.contact_lists.GetContactList(lpb.GetContactListRequest(name=created.name))
    assert got.contact_list.contact_count == 2


def test_import_errors(admin: Any) -> None:
    missing = rpc_error(
        admin.contact_lists.ImportContacts,
        iter([lpb.ImportContactsRequest(name="contactLists/nope", chunk=b"phone\n1\n")]),
    )
    assert missing.code() is Code.NOT_FOUND
    name = new_list(admin)
    no_phone = rpc_error(
        admin.contact_lists.ImportContacts,
        iter([lpb.ImportContactsRequest(name=name, chunk=b"tel,name\n1,2\n")]),
    )
    assert no_phone.code() is Code.INVALID_ARGUMENT and "phone_column" in violations(no_phone)
    bad_name = rpc_error(
        admin.contact_lists.GetContactList, lpb.GetContactListRequest(name="lists/x")
    )
    assert bad_name.code() is Code.INVALID_ARGUMENT and "name" in violations(bad_name)
    blank = rpc_error(
        admin.contact_lists.CreateContactList,
        lpb.CreateContactListRequest(contact_list=lpb.ContactList(display_name=" ")),
    )
    assert set(violations(blank)) == {"contact_list.display_name"}


def test_dnc_add_check_remove_and_delete_in_use(admin: Any) -> None:
    dnc = admin.dnc_lists.CreateDncList(
        dpb.CreateDncListRequest(dnc_list=dpb.DncList(display_name="internal"))
    ).dnc_list
    added = admin.dnc_lists.AddDncNumbers(
        dpb.AddDncNumbersRequest(name=dnc.name, phone_numbers=["(212) 555-0100", "junk"])
    )
    assert (added.added, [r.phone_number for r in added.rejected]) == (1, ["junk"])
    checked = admin.dnc_lists.CheckDncNumbers(
        dpb.CheckDncNumbersRequest(name=dnc.name, phone_numbers=["+12125550100", "2125550101"])
    )
    assert [(r.e164, r.listed) for r in checked.results] == [
        ("+12125550100", True),
        ("+12125550101", False),
    ]
    in_use = create(admin, campaign([new_list(admin)], dnc_list=dnc.name))
    refused = rpc_error(admin.dnc_lists.DeleteDncList, dpb.DeleteDncListRequest(name=dnc.name))
    assert refused.code() is Code.FAILED_PRECONDITION
    admin.campaigns.DeleteCampaign(cpb.DeleteCampaignRequest(name=in_use.name))
    removed = admin.dnc_lists.RemoveDncNumbers(
        dpb.RemoveDncNumbersRequest(name=dnc.name, phone_numbers=["2125550100"])
    )
    assert removed.removed == 1
    admin.dnc_lists.DeleteDncList(dpb.DeleteDncListRequest(name=dnc.name))
    gone = rpc_error(admin.dnc_lists.GetDncList, dpb.GetDncListRequest(name=dnc.name))
    assert gone.code() is Code.NOT_FOUND


# Campaigns -------------------------------------------------------------------------------
def test_invalid_campaign_names_every_bad_field_in_request_paths(admin: Any) -> None:
    spec = campaign(["contactLists/missing"], caller_id="12", pacing=5000)
    spec.contactable_timings.timezone = "Mars/Olympus"
    spec.contactable_timings.days.append(
        cpb.DayWindows(day=cpb.WEEKDAY_FRIDAY, windows=[cpb.TimeWindow(start="10:00", end="10:00")])
    )
    exc = rpc_error(create, admin, spec)
    assert exc.code() is Code.INVALID_ARGUMENT
    assert "Traceback" not in (exc.details() or "")
    fields = violations(exc)
    assert {
        "campaign.caller_id",
        "campaign.pacing",
        "campaign.contactable_timings.timezone",
        "campaign.contactable_timings.days[1].windows[0].end",
    } <= set(fields)
    # References are checked once the fields themselves are valid.
    exc = rpc_error(create, admin, campaign(["contactLists/missing"]))
    assert set(violations(exc)) == {"campaign.contact_lists[0]"}
    exc = rpc_error(create, admin, campaign([new_list(admin)], dialing_mode=0, status=3))
    assert set(violations(exc)) == {"campaign.status"}


def test_campaign_crud_paging_and_errors(admin: Any) -> None:
    lists = [new_list(admin)]
    first = create(admin, campaign(lists, display_name="Spring renewals"))
    assert first.status == cpb.CAMPAIGN_STATUS_READY and first.pacing == 10
    assert first.name.startswith("campaigns/") and first.contact_lists == lists
    dup = rpc_error(create, admin, campaign(lists, display_name="Spring renewals"))
    assert dup.code() is Code.ALREADY_EXISTS
    missing = rpc_error(admin.campaigns.GetCampaign, cpb.GetCampaignRequest(name="campaigns/nope"))
    assert missing.code() is Code.NOT_FOUND
    # Update by field mask: only the named fields change.
    updated = admin.campaigns.UpdateCampaign(
        cpb.UpdateCampaignRequest(
            campaign=cpb.Campaign(name=first.name, pacing=3, description="ignored"),
            update_mask=field_mask_pb2.FieldMask(paths=["pacing"]),
        )
    ).campaign
    assert (updated.pacing, updated.description) == (3, "")
    bad_mask = rpc_error(
        admin.campaigns.UpdateCampaign,
        cpb.UpdateCampaignRequest(
            campaign=cpb.Campaign(name=first.name),
            update_mask=field_mask_pb2.FieldMask(paths=["status", "nope"]),
        ),
    )
    assert bad_mask.code() is Code.INVALID_ARGUMENT and set(violations(bad_mask)) == {"update_mask"}
    clone = admin.campaigns.CloneCampaign(cpb.CloneCampaignRequest(name=first.name)).campaign
    assert clone.display_name == "Spring renewals (copy)" and clone.pacing == 3
    # Paging by an opaque token, filtered by status.
    for _ in range(3):
        create(admin, campaign(lists))
    seen: list[str] = []
    token = ""
    while True:
        page = admin.campaigns.ListCampaigns(
            cpb.ListCampaignsRequest(
                page_size=2, page_token=token, status=cpb.CAMPAIGN_STATUS_READY
            )
        )
        assert len(page.campaigns) <= 2
        seen += [c.name for c in page.campaigns]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) and {first.name, clone.name} <= set(seen)
    bad_token = rpc_error(
        admin.campaigns.ListCampaigns, cpb.ListCampaignsRequest(page_token="garbage")
    )
    assert set(violations(bad_token)) == {"page_token"}


def test_predictive_power_and_preview_campaigns_keep_their_pacing_fields(admin: Any) -> None:
    lists = [new_list(admin)]
    predictive = create(
        admin,
        campaign(
            lists,
            dialing_mode=cpb.DIALING_MODE_PREDICTIVE,
            queue_id="sales",
            safe_harbor_flow_id="safe-harbor",
            compliance_regime=cpb.COMPLIANCE_REGIME_UK,
            amd_false_positive_rate=0.1,
            abandon_target=0.02,
        ),
    )
    got = admin.campaigns.GetCampaign(cpb.GetCampaignRequest(name=predictive.name)).campaign
    assert got == predictive
    assert (got.dialing_mode, got.safe_harbor_flow_id, got.compliance_regime) == (
        cpb.DIALING_MODE_PREDICTIVE, "safe-harbor", cpb.COMPLIANCE_REGIME_UK,
    )  # fmt: skip
    assert (got.abandon_target, got.amd_false_positive_rate) == (0.02, 0.1)
    assert (got.power_ratio, got.preview_timeout_seconds) == (2.0, 30)  # zero: the defaults
    # A power campaign may abandon: it needs its safe-harbor message.
    power = campaign(lists, dialing_mode=cpb.DIALING_MODE_POWER, queue_id="sales")
    missing = rpc_error(create, admin, power)
    assert set(violations(missing)) == {"campaign.safe_harbor_flow_id"}
    preview = create(
        admin,
        campaign(lists, dialing_mode=cpb.DIALING_MODE_PREVIEW, queue_id="sales",
                 preview_timeout_seconds=90),
    )  # fmt: skip
    assert preview.preview_timeout_seconds == 90 and preview.compliance_regime == (
        cpb.COMPLIANCE_REGIME_US
    )
    updated = admin.campaigns.UpdateCampaign(
        cpb.UpdateCampaignRequest(
            campaign=cpb.Campaign(name=preview.name, preview_timeout_seconds=120),
            update_mask=field_mask_pb2.FieldMask(paths=["preview_timeout_seconds"]),
        )
    ).campaign
    assert updated.preview_timeout_seconds == 120
    too_long = rpc_error(
        admin.campaigns.UpdateCampaign,
        cpb.UpdateCampaignRequest(
            campaign=cpb.Campaign(name=preview.name, preview_timeout_seconds=601),
            update_mask=field_mask_pb2.FieldMask(paths=["preview_timeout_seconds"]),
        ),
    )
    assert set(violations(too_long)) == {"campaign.preview_timeout_seconds"}


def test_progress_shows_the_abandon_window_of_campaigns_with_agents(
    admin: Any, served: Served
) -> None:
    lists = [new_list(admin)]
    with_agents = create(
        admin, campaign(lists, dialing_mode=cpb.DIALING_MODE_PROGRESSIVE, queue_id="sales")
    )
    agentless = create(admin, campaign(lists))
    for created in (with_agents, agentless):  # no engine here: the runs are only seeded
        admin.campaigns.RunCampaign(cpb.RunCampaignRequest(name=created.name))
    campaign_id = with_agents.name.split("/")[1]
    ledger = served.state.abandon_ledger(campaign_id)
    now = served.state.clock.now_ms()
    for i in range(40):
        ledger.record(f"call-{i}", LedgerEvent.LIVE, now, now)
    ledger.record("call-7", LedgerEvent.ABANDONED, now, now)
    budget = served.state.abandon_budget(campaign_id)
    progress = admin.campaigns.GetCampaignProgress(
        cpb.GetCampaignProgressRequest(name=with_agents.name)
    ).progress
    window = progress.abandon_window
    assert window.rate == pytest.approx(budget.rate) == 1 / 40
    assert (window.live_answers, window.abandoned, window.target_rate) == (40, 1, 0.03)
    assert window.compliance_regime == cpb.COMPLIANCE_REGIME_US
    watch = admin.campaigns.WatchCampaign(cpb.WatchCampaignRequest(name=with_agents.name))
    first = next(watch)
    watch.cancel()
    assert first.progress.abandon_window == window
    # Agentless campaigns never abandon: no window.
    plain = admin.campaigns.GetCampaignProgress(
        cpb.GetCampaignProgressRequest(name=agentless.name)
    ).progress
    assert plain.total == 1 and not plain.HasField("abandon_window")


def test_preview_offers_convert_with_their_deadline() -> None:
    at = 1_767_625_200_000
    contact = {"id": "c-1", "phone": "+12125550100", "name": "Ann", "fields": {"plan": "gold"}}
    # As actors/pool.py writes them to the agent's stream.
    record = {"at_ms": at, "campaign_id": "c1", "call_id": "", "phone": "+12125550100"}
    offered = convert.assignment_to_proto(
        "7-0", {**record, "event": "offered", "contact": contact, "expires_at_ms": at + 30_000}
    )
    assert offered.event == agent_pb.ASSIGNMENT_EVENT_OFFERED and offered.call_id == ""
    assert offered.expire_time.ToMilliseconds() == at + 30_000
    assert offered.event_time.ToMilliseconds() == at and offered.campaign == "campaigns/c1"
    assert (offered.contact.display_name, dict(offered.contact.fields)) == ("Ann", {"plan": "gold"})
    for event, kind in (
        ("offer_expired", agent_pb.ASSIGNMENT_EVENT_OFFER_EXPIRED),
        ("offer_failed", agent_pb.ASSIGNMENT_EVENT_OFFER_FAILED),
    ):
        later = convert.assignment_to_proto("8-0", {**record, "event": event, "contact": {}})
        assert later.event == kind and later.contact.phone_number == "+12125550100"
        assert not later.HasField("expire_time")
    # The agent deciding on an offer shows its deadline; one on a call does not.
    call = CallContext("c1", 1, 4, "tok", 1, phone="+12125550100", reservation="r-1")
    deciding = Agent("ann", AgentState.RESERVED, at, at, call, 0, at, 30_000)
    shown = convert.agent_to_proto("sales", deciding)
    assert shown.state == agent_pb.AGENT_STATE_RESERVED and shown.call_id == ""
    assert shown.offer_expire_time.ToMilliseconds() == at + 30_000
    on_call = Agent("ann", AgentState.ON_CALL, at, at, dataclasses.replace(call, call_id="k"))
    assert not convert.agent_to_proto("sales", on_call).HasField("offer_expire_time")


def test_refused_lifecycle_actions_are_failed_precondition(admin: Any) -> None:
    lists = [new_list(admin)]
    scheduled = create(
        admin,
        campaign(lists, schedule=cpb.Schedule(start="2030-01-07T09:00")),
    )
    assert scheduled.status == cpb.CAMPAIGN_STATUS_SCHEDULED
    refused = rpc_error(admin.campaigns.RunCampaign, cpb.RunCampaignRequest(name=scheduled.name))
    assert refused.code() is Code.FAILED_PRECONDITION
    assert error_reason(refused) == "CAMPAIGN_SCHEDULED"
    ready = create(admin, campaign(lists))
    pause = rpc_error(admin.campaigns.PauseCampaign, cpb.PauseCampaignRequest(name=ready.name))
    assert pause.code() is Code.FAILED_PRECONDITION and error_reason(pause) == "ILLEGAL_TRANSITION"
    # No engine runs in this module: the campaign stays Active, which is all this needs.
    active = admin.campaigns.RunCampaign(cpb.RunCampaignRequest(name=ready.name)).campaign
    assert active.status == cpb.CAMPAIGN_STATUS_ACTIVE and active.run_instance == 1
    edit = rpc_error(
        admin.campaigns.UpdateCampaign,
        cpb.UpdateCampaignRequest(
            campaign=cpb.Campaign(name=ready.name, pacing=2),
            update_mask=field_mask_pb2.FieldMask(paths=["pacing"]),
        ),
    )
    assert edit.code() is Code.FAILED_PRECONDITION
    delete = rpc_error(admin.campaigns.DeleteCampaign, cpb.DeleteCampaignRequest(name=ready.name))
    assert delete.code() is Code.FAILED_PRECONDITION
    admin.campaigns.PauseCampaign(cpb.PauseCampaignRequest(name=ready.name))
    lists_edit = rpc_error(
        admin.campaigns.UpdateCampaign,
        cpb.UpdateCampaignRequest(
            campaign=cpb.Campaign(name=ready.name, contact_lists=lists + lists),
            update_mask=field_mask_pb2.FieldMask(paths=["contact_lists"]),
        ),
    )
    assert lists_edit.code() in (Code.FAILED_PRECONDITION, Code.INVALID_ARGUMENT)
    progress = admin.campaigns.GetCampaignProgress(
        cpb.GetCampaignProgressRequest(name=ready.name)
    ).progress
    assert (progress.total, progress.ready, progress.run_instance) == (1, 1, 1)
    stopped = admin.campaigns.StopCampaign(cpb.StopCampaignRequest(name=ready.name)).campaign
    assert stopped.status == cpb.CAMPAIGN_STATUS_STOPPED


# Idempotency ------------------------------------------------------------------------------
def test_a_retried_request_acts_once(admin: Any, served: Served) -> None:
    lists = [new_list(admin)]
    spec = campaign(lists)
    rid = str(uuid.uuid4())
    first = create(admin, spec, rid)
    again = create(admin, spec, rid)
    assert again == first
    assert served.state.campaigns.id_for_name(spec.display_name) == first.name.split("/")[1]
    other = rpc_error(create, admin, campaign(lists), rid)
    assert set(violations(other)) == {"request_id"}
    # Run is not run twice: the retry gets the first answer, not FAILED_PRECONDITION.
    run_id = str(uuid.uuid4())
    run = admin.campaigns.RunCampaign(cpb.RunCampaignRequest(name=first.name, request_id=run_id))
    rerun = admin.campaigns.RunCampaign(cpb.RunCampaignRequest(name=first.name, request_id=run_id))
    assert rerun == run and rerun.campaign.run_instance == 1
    # Concurrent duplicates: exactly one acts.
    dnc = admin.dnc_lists.CreateDncList(
        dpb.CreateDncListRequest(dnc_list=dpb.DncList(display_name="d"))
    ).dnc_list
    request = dpb.AddDncNumbersRequest(
        name=dnc.name, phone_numbers=["2125550100"], request_id="add-once"
    )
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(admin.dnc_lists.AddDncNumbers(request).added)
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1, 1, 1, 1]
    # A failed call leaves the request_id free for the retry.
    delete = cpb.DeleteCampaignRequest(name="campaigns/nope", request_id="del-1")
    assert rpc_error(admin.campaigns.DeleteCampaign, delete).code() is Code.NOT_FOUND
    assert rpc_error(admin.campaigns.DeleteCampaign, delete).code() is Code.NOT_FOUND


def test_a_retried_import_does_not_import_twice(admin: Any) -> None:
    name = admin.contact_lists.CreateContactList(
        lpb.CreateContactListRequest(contact_list=lpb.ContactList(display_name="once"))
    ).contact_list.name

    def stream(csv: bytes) -> Iterator[lpb.ImportContactsRequest]:
        yield lpb.ImportContactsRequest(name=name, request_id="imp-1")
        yield lpb.ImportContactsRequest(chunk=csv)

    csv = b"phone\n2125550100\n2125550101\n"
    first = admin.contact_lists.ImportContacts(stream(csv))
    again = admin.contact_lists.ImportContacts(stream(csv))
    assert again.accepted == first.accepted == 2 and again.contact_list.contact_count == 2
    other = rpc_error(admin.contact_lists.ImportContacts, stream(b"phone\n2125550199\n"))
    assert set(violations(other)) == {"request_id"}


# Auth -------------------------------------------------------------------------------------
def test_auth_refusals(served: Served, admin: Any) -> None:
    request = cpb.ListCampaignsRequest()
    for token in ("", "not-a-known-token"):
        refused = rpc_error(served.client(token=token).campaigns.ListCampaigns, request)
        assert refused.code() is Code.UNAUTHENTICATED
    viewer = served.client("viewer")
    viewer.campaigns.ListCampaigns(request)
    denied = rpc_error(viewer.campaigns.CreateCampaign, cpb.CreateCampaignRequest())
    assert denied.code() is Code.PERMISSION_DENIED
    supervisor = served.client("supervisor")
    supervisor.campaigns.ListCampaigns(request)
    trunk = rpc_error(
        supervisor.trunks.RegisterTrunk,
        tpb.RegisterTrunkRequest(trunk=tpb.Trunk(name="trunks/t", channels=1)),
    )
    assert trunk.code() is Code.PERMISSION_DENIED
    ann = served.client("ann")
    other = rpc_error(
        ann.agents.LoginAgent, agent_pb.LoginAgentRequest(name="queues/sales/agents/bob")
    )
    assert other.code() is Code.PERMISSION_DENIED
    watch = rpc_error(
        lambda: list(
            ann.agents.WatchAssignments(
                agent_pb.WatchAssignmentsRequest(name="queues/sales/agents/bob")
            )
        )
    )
    assert watch.code() is Code.PERMISSION_DENIED
    for decide, request_type in (
        (ann.agents.AcceptPreviewOffer, agent_pb.AcceptPreviewOfferRequest),
        (ann.agents.SkipPreviewOffer, agent_pb.SkipPreviewOfferRequest),
        (viewer.agents.AcceptPreviewOffer, agent_pb.AcceptPreviewOfferRequest),
    ):
        offer = rpc_error(decide, request_type(name="queues/sales/agents/bob"))
        assert offer.code() is Code.PERMISSION_DENIED
    assert rpc_error(ann.campaigns.RunCampaign, cpb.RunCampaignRequest()).code() is (
        Code.PERMISSION_DENIED
    )


def test_health_and_reflection_are_open(served: Served) -> None:
    channel = grpc.insecure_channel(served.address)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "dialer.v1.CampaignService"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = {s.name for r in replies for s in r.list_services_response.service}
        assert set(SERVICE_NAMES) <= names
    finally:
        channel.close()


def test_an_unexpected_failure_is_internal_without_a_traceback(
    served: Served, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(served.state.campaigns, "get", boom)
    exc = rpc_error(admin.campaigns.GetCampaign, cpb.GetCampaignRequest(name="campaigns/x"))
    assert exc.code() is Code.INTERNAL
    assert "secret" not in (exc.details() or "") and "Traceback" not in (exc.details() or "")
    assert "ref" in (exc.details() or "")


# Trunks (registry side; the engine tests drive live calls) ---------------------------------
def test_trunk_register_scale_drain_remove(admin: Any) -> None:
    name = f"trunks/t-{uuid.uuid4().hex[:6]}"
    trunks = admin.trunks
    registered = trunks.RegisterTrunk(
        tpb.RegisterTrunkRequest(trunk=tpb.Trunk(name=name, channels=10, cps=5))
    ).trunk
    assert (registered.channels, registered.cps, registered.draining) == (10, 5, False)
    again = rpc_error(
        trunks.RegisterTrunk, tpb.RegisterTrunkRequest(trunk=tpb.Trunk(name=name, channels=1))
    )
    assert again.code() is Code.ALREADY_EXISTS
    bad = rpc_error(
        trunks.RegisterTrunk,
        tpb.RegisterTrunkRequest(trunk=tpb.Trunk(name="trunks/x y", channels=1)),
    )
    assert bad.code() is Code.INVALID_ARGUMENT
    negative = rpc_error(trunks.ScaleTrunk, tpb.ScaleTrunkRequest(name=name, channels=-1))
    assert set(violations(negative)) == {"channels"}
    assert trunks.ScaleTrunk(tpb.ScaleTrunkRequest(name=name, channels=30)).trunk.channels == 30
    not_drained = rpc_error(trunks.RemoveTrunk, tpb.RemoveTrunkRequest(name=name))
    assert not_drained.code() is Code.FAILED_PRECONDITION
    assert trunks.DrainTrunk(tpb.DrainTrunkRequest(name=name)).trunk.draining
    trunks.RemoveTrunk(tpb.RemoveTrunkRequest(name=name))
    assert name not in [t.name for t in trunks.ListTrunks(tpb.ListTrunksRequest()).trunks]
    gone = rpc_error(trunks.DrainTrunk, tpb.DrainTrunkRequest(name=name))
    assert gone.code() is Code.NOT_FOUND


def test_readme_client_example_runs(served: Served) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    source = next(b for b in blocks if "gateway.client" in b)
    source = source.replace('"127.0.0.1:50051"', repr(served.address))
    # Other tests of this module's server already have a campaign of that name.
    source = source.replace('"Spring renewals"', repr(f"Spring {uuid.uuid4().hex[:6]}"))
    scope: dict[str, object] = {"token": TOKENS["supervisor"]}
    exec(compile(source, "README.md", "exec"), scope)
    assert getattr(scope["report"], "accepted", None) == 2
    update = scope["update"]
    assert update.campaign.status == cpb.CAMPAIGN_STATUS_ACTIVE  # type: ignore[attr-defined]
