"""Campaigns stored in a real Redis: validation, uniqueness, lifecycle actions, run instances."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cluster.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from cluster.lifecycle import Action, EditNotAllowed, IllegalTransition, ScheduledCampaignError
from cluster.models import CampaignStatus, ContactableTimings
from cluster.state import DialerState


@pytest.fixture
def lists(state: DialerState) -> tuple[str, str, str]:
    a = state.lists.create("a")
    state.lists.import_csv(a.id, ["phone\n2125550100\n2125550101\n2125550102\n"])
    b = state.lists.create("b")
    # 0101 is in both lists: a run dials it once.
    state.lists.import_csv(b.id, ["phone\n2125550101\n2125550103\n"])
    dnc = state.dnc.create("dnc")
    state.dnc.add(dnc.id, ["212-555-0102"])
    return a.id, b.id, dnc.id


def spec(list_ids: list[str], dnc_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Spring renewals",
        "contact_list_ids": list_ids,
        "dnc_list_id": dnc_id,
        "dialing_mode": "agentless",
        "start_flow_id": "flow-renewals",
        "caller_id": "(212) 555-0199",
        "contactable_timings": ContactableTimings.default().model_dump(mode="json"),
        **extra,
    }


def test_create_stores_a_ready_campaign_and_scrubs_it(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, b, dnc = lists
    created = state.campaigns.create(spec([a, b], dnc, status="active", id="forged"))
    assert created.id.startswith("camp_") and created.status is CampaignStatus.READY
    assert created.caller_id == "+12125550199"
    assert state.campaigns.get(created.id) == created
    assert state.campaigns.last_scrub(created.id)["blocked"] == 1
    assert [c.id for c in state.campaigns.all()] == [created.id]


def test_bad_input_names_the_field_and_stores_nothing(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = lists
    with pytest.raises(InvalidArgument) as err:
        state.campaigns.create(spec([a], priority=9, max_ring_time_seconds=10))
    assert {f for f, _ in err.value.violations} == {"priority", "max_ring_time_seconds"}
    with pytest.raises(InvalidArgument) as err:
        state.campaigns.create(spec([a, "list_missing"], "dnc_missing"))
    assert [f for f, _ in err.value.violations] == ["contact_list_ids[1]", "dnc_list_id"]
    assert state.campaigns.all() == []
    assert state.campaigns.id_for_name("Spring renewals") is None


def test_names_are_unique_per_tenant(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = lists
    state.campaigns.create(spec([a]))
    with pytest.raises(AlreadyExists):
        state.campaigns.create(spec([a]))
    other = DialerState(state.r, prefix=state.keys.prefix, tenant="acme")
    with pytest.raises(InvalidArgument):  # another tenant's list is invisible here
        other.campaigns.create(spec([a]))
    own = other.lists.create("acme list")
    assert other.campaigns.create(spec([own.id])).tenant == "acme"


def test_run_seeds_an_instance_once_per_number_with_dnc_final(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, b, dnc = lists
    c = state.campaigns.create(spec([a, b], dnc))
    active = state.campaigns.act(c.id, Action.RUN)
    assert (active.status, active.run_instance) == (CampaignStatus.ACTIVE, 1)
    progress = state.campaigns.progress(c.id)
    assert progress is not None
    assert (progress.total, progress.ready, progress.completed) == (4, 3, 1)
    assert progress.outcomes == {"dnc_blocked": 1}


def test_lifecycle_through_the_store(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = lists
    c = state.campaigns.create(spec([a]))
    with pytest.raises(IllegalTransition):
        state.campaigns.act(c.id, Action.PAUSE)
    state.campaigns.act(c.id, Action.RUN)
    with pytest.raises(IllegalTransition):
        state.campaigns.update(c.id, {"description": "no edits while active"})
    with pytest.raises(IllegalTransition):
        state.campaigns.delete(c.id)
    assert state.campaigns.act(c.id, Action.PAUSE).status is CampaignStatus.PAUSED
    with pytest.raises(EditNotAllowed) as err:
        state.campaigns.update(c.id, {"contact_list_ids": [a, a + "x"], "pacing": 5})
    assert err.value.fields == ["contact_list_ids"]
    assert state.campaigns.update(c.id, {"pacing": 5}).pacing == 5
    assert state.campaigns.act(c.id, Action.RESUME).status is CampaignStatus.ACTIVE
    stopped = state.campaigns.act(c.id, Action.STOP)
    assert stopped.status is CampaignStatus.STOPPED
    rerun = state.campaigns.act(c.id, Action.RERUN)
    assert (rerun.status, rerun.run_instance) == (CampaignStatus.ACTIVE, 2)
    # The old instance's data is gone; the new one dials the lists afresh.
    assert not state.r.exists(state.keys.campaign(c.id).run(1).ready())
    progress = state.campaigns.progress(c.id)
    assert progress is not None and progress.ready == 3


def test_scheduled_campaign_refuses_run_and_edit_moves_it(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = lists
    schedule = {"start": "2026-03-02T09:00:00"}
    c = state.campaigns.create(spec([a], schedule=schedule))
    assert c.status is CampaignStatus.SCHEDULED
    assert c.schedule is not None and c.schedule.timezone == "America/New_York"
    with pytest.raises(ScheduledCampaignError):
        state.campaigns.act(c.id, Action.RUN)
    unscheduled = state.campaigns.update(c.id, {"schedule": None})
    assert unscheduled.status is CampaignStatus.READY


def test_clone_is_ready_unscheduled_and_uniquely_named(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = lists
    c = state.campaigns.create(spec([a], schedule={"start": "2026-03-02T09:00:00"}))
    first = state.campaigns.clone(c.id)
    second = state.campaigns.clone(c.id)
    assert (first.name, second.name) == ("Spring renewals (copy)", "Spring renewals (copy 2)")
    assert first.schedule is None and first.status is CampaignStatus.READY
    assert first.contact_list_ids == c.contact_list_ids and first.id != c.id


def test_rename_frees_the_old_name(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = lists
    c = state.campaigns.create(spec([a]))
    state.campaigns.update(c.id, {"name": "Summer"})
    assert state.campaigns.id_for_name("Summer") == c.id
    assert state.campaigns.create(spec([a])).name == "Spring renewals"
    with pytest.raises(AlreadyExists):
        state.campaigns.update(c.id, {"name": "Spring renewals"})
    assert state.campaigns.get(c.id).name == "Summer"


def test_failed_update_keeps_the_stored_record(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = lists
    c = state.campaigns.create(spec([a]))
    with pytest.raises(InvalidArgument) as err:
        state.campaigns.update(c.id, {"caller_id": "12", "name": "New name"})
    assert [f for f, _ in err.value.violations] == ["caller_id"]
    assert state.campaigns.get(c.id) == c
    assert state.campaigns.id_for_name("New name") is None
    with pytest.raises(InvalidArgument):
        state.campaigns.update(c.id, {"status": "active"})


def test_delete_removes_run_data_but_never_the_lists(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, b, dnc = lists
    c = state.campaigns.create(spec([a, b], dnc))
    state.campaigns.act(c.id, Action.RUN)
    state.campaigns.act(c.id, Action.STOP)
    with pytest.raises(FailedPrecondition):
        state.delete_contact_list(a)
    state.campaigns.delete(c.id)
    with pytest.raises(NotFound):
        state.campaigns.get(c.id)
    assert list(state.r.scan_iter(match=f"{state.keys.root}:{{c:{c.id}}}*")) == []
    assert state.lists.get(a).count == 3 and state.dnc.get(dnc).count == 1
    state.delete_contact_list(a)
    state.delete_dnc_list(dnc)


def test_concurrent_runs_start_one_instance(state: DialerState, lists) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = lists
    c = state.campaigns.create(spec([a]))
    results: list[object] = []

    def run() -> None:
        try:
            results.append(state.campaigns.act(c.id, Action.RUN).run_instance)
        except (IllegalTransition, FailedPrecondition) as exc:
            results.append(type(exc))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(1) == 1, results
    assert state.campaigns.get(c.id).run_instance == 1
    instances = state.r.smembers(state.keys.campaign(c.id).instances())
    assert instances == {b"1"}
