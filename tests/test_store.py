"""Campaigns stored in a real Redis: validation, uniqueness, lifecycle actions, run instances."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from cluster.clock import FakeClock
from cluster.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from cluster.lifecycle import (
    Action,
    EditNotAllowed,
    IllegalTransition,
    ScheduledCampaignError,
    Trigger,
)
from cluster.models import CampaignStatus, ContactableTimings
from cluster.scheduler import StepKind, due_step
from cluster.state import DialerState
from cluster.store import FINISHED_RUN_RETENTION_S


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
    # The old instance's data stays readable for a retention period; the new one dials the
    # lists afresh.
    old = state.keys.campaign(c.id).run(1)
    assert state.r.exists(old.final()) or state.r.exists(old.ready())
    assert 0 < state.r.ttl(old.meta()) <= FINISHED_RUN_RETENTION_S
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


DAILY_10_TO_12 = {
    "start": "2026-01-05T00:00:00",
    "recurrence": {"frequency": "daily", "start_time": "10:00", "end_time": "12:00"},
}


def test_scheduled_occurrences_through_the_store(  # type: ignore[no-untyped-def]
    state: DialerState, lists, clock: FakeClock
) -> None:
    a, _, dnc = lists
    c = state.campaigns.create(spec([a], dnc, schedule=DAILY_10_TO_12))
    clock.set(datetime(2026, 1, 5, 14, 45, tzinfo=UTC))  # 09:45 New York
    step = due_step(c, clock.now(), state.campaigns.rescrubbed_for(c.id))
    assert step is not None and step.kind is StepKind.RESCRUB and step.occurrence is not None
    state.campaigns.rescrub(c.id, step.occurrence)
    assert state.campaigns.rescrubbed_for(c.id) == step.occurrence.start
    assert due_step(c, clock.now(), state.campaigns.rescrubbed_for(c.id)) is None

    clock.set(step.occurrence.start)
    first = state.campaigns.trigger(c.id, Trigger.SCHEDULE_START, step.occurrence)
    assert (first.status, first.run_instance, first.occurrence) == (
        CampaignStatus.ACTIVE,
        1,
        step.occurrence,
    )
    with pytest.raises(IllegalTransition):  # a second scheduler pass, racing: refused
        state.campaigns.trigger(c.id, Trigger.SCHEDULE_START, step.occurrence)
    # Stop ends this occurrence's instance; the series goes on.
    stopped = state.campaigns.act(c.id, Action.STOP)
    assert (stopped.status, stopped.run_instance) == (CampaignStatus.SCHEDULED, 1)
    with pytest.raises(IllegalTransition):  # the stopped occurrence does not start again
        state.campaigns.trigger(c.id, Trigger.SCHEDULE_START, step.occurrence)

    clock.set(datetime(2026, 1, 6, 15, tzinfo=UTC))
    second = due_step(stopped, clock.now(), state.campaigns.rescrubbed_for(c.id))
    assert second is not None and second.kind is StepKind.START and second.occurrence is not None
    assert second.occurrence.index == 1
    started = state.campaigns.trigger(c.id, Trigger.SCHEDULE_START, second.occurrence)
    assert started.run_instance == 2
    # Its leads run out: it waits for the next occurrence rather than completing.
    exhausted = state.campaigns.trigger(c.id, Trigger.RUN_EXHAUSTED)
    assert exhausted.status is CampaignStatus.SCHEDULED
    # The schedule is cut to end today: nothing is left, so the campaign is over.
    cut = state.campaigns.update(
        c.id, {"schedule": {**DAILY_10_TO_12, "end": "2026-01-06T12:00:00"}}
    )
    over = due_step(cut, clock.now(), None)
    assert over is not None and over.kind is StepKind.OVER
    done = state.campaigns.trigger(c.id, Trigger.SCHEDULE_OVER)
    assert done.status is CampaignStatus.COMPLETED
    # Extending the schedule again re-plans it: it waits for its next occurrence.
    again = state.campaigns.update(c.id, {"schedule": DAILY_10_TO_12})
    assert again.status is CampaignStatus.SCHEDULED


def test_stopping_the_last_occurrence_completes_the_campaign(  # type: ignore[no-untyped-def]
    state: DialerState, lists, clock: FakeClock
) -> None:
    a, _, _ = lists
    once = {"start": "2026-01-05T10:00:00", "end": "2026-01-05T12:00:00"}
    c = state.campaigns.create(spec([a], schedule=once))
    clock.set(datetime(2026, 1, 5, 15, tzinfo=UTC))
    step = due_step(c, clock.now(), None)
    assert step is not None and step.occurrence is not None
    state.campaigns.trigger(c.id, Trigger.SCHEDULE_START, step.occurrence)
    assert state.campaigns.act(c.id, Action.STOP).status is CampaignStatus.COMPLETED
    with pytest.raises(ScheduledCampaignError):
        state.campaigns.act(c.id, Action.RERUN)


@pytest.mark.parametrize("mode", ["predictive", "power", "preview"])
def test_agent_modes_run_and_schedule(  # type: ignore[no-untyped-def]
    state: DialerState, lists, mode: str
) -> None:
    a, _, _ = lists
    c = state.campaigns.create(spec([a], dialing_mode=mode, queue_id="q", safe_harbor_flow_id="sh"))
    assert state.campaigns.act(c.id, Action.RUN).status is CampaignStatus.ACTIVE
    state.campaigns.act(c.id, Action.STOP)
    scheduled = state.campaigns.update(c.id, {"schedule": {"start": "2026-03-02T09:00:00"}})
    assert scheduled.status is CampaignStatus.SCHEDULED


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
