"""Campaign lifecycle: exhaustive (status, action) and (status, trigger) tables, edit policy,
and cloning."""

from itertools import product

import pytest

from cluster.lifecycle import (
    EDITABLE_FIELDS,
    Action,
    EditNotAllowed,
    IllegalTransition,
    LifecycleError,
    ScheduledCampaignError,
    Transition,
    Trigger,
    apply_action,
    apply_trigger,
    check_edit,
    clone_campaign,
    initial_status,
)
from cluster.models import Campaign, CampaignStatus, ContactableTimings

READY = CampaignStatus.READY
SCHEDULED = CampaignStatus.SCHEDULED
ACTIVE = CampaignStatus.ACTIVE
PAUSED = CampaignStatus.PAUSED
COMPLETED = CampaignStatus.COMPLETED
STOPPED = CampaignStatus.STOPPED

ILLEGAL = IllegalTransition
SCHEDULED_ONLY = ScheduledCampaignError

# An expected outcome: (to_status, new_instance, end_instance), or the exact exception type.
Outcome = tuple[CampaignStatus, bool, bool] | type[LifecycleError]


def stays(status: CampaignStatus) -> Outcome:
    return (status, False, False)


def moves(status: CampaignStatus) -> Outcome:
    return (status, False, False)


def starts(status: CampaignStatus) -> Outcome:
    """Moves to `status` with a fresh run instance."""
    return (status, True, False)


def ends(status: CampaignStatus) -> Outcome:
    """Moves to `status`, ending the current run instance."""
    return (status, False, True)


A = Action

UNSCHEDULED_ACTIONS: dict[tuple[CampaignStatus, Action], Outcome] = {
    (READY, A.RUN): starts(ACTIVE),
    (READY, A.PAUSE): ILLEGAL,
    (READY, A.RESUME): ILLEGAL,
    (READY, A.STOP): ILLEGAL,
    (READY, A.RERUN): ILLEGAL,
    (READY, A.EDIT): stays(READY),
    (READY, A.CLONE): stays(READY),
    (READY, A.DELETE): ends(READY),
    (SCHEDULED, A.RUN): ILLEGAL,
    (SCHEDULED, A.PAUSE): ILLEGAL,
    (SCHEDULED, A.RESUME): ILLEGAL,
    (SCHEDULED, A.STOP): ILLEGAL,
    (SCHEDULED, A.RERUN): ILLEGAL,
    (SCHEDULED, A.EDIT): stays(SCHEDULED),
    (SCHEDULED, A.CLONE): stays(SCHEDULED),
    (SCHEDULED, A.DELETE): ends(SCHEDULED),
    (ACTIVE, A.RUN): ILLEGAL,
    (ACTIVE, A.PAUSE): moves(PAUSED),
    (ACTIVE, A.RESUME): ILLEGAL,
    (ACTIVE, A.STOP): ends(STOPPED),
    (ACTIVE, A.RERUN): ILLEGAL,
    (ACTIVE, A.EDIT): ILLEGAL,
    (ACTIVE, A.CLONE): stays(ACTIVE),
    (ACTIVE, A.DELETE): ILLEGAL,
    (PAUSED, A.RUN): ILLEGAL,
    (PAUSED, A.PAUSE): ILLEGAL,
    (PAUSED, A.RESUME): moves(ACTIVE),
    (PAUSED, A.STOP): ends(STOPPED),
    (PAUSED, A.RERUN): ILLEGAL,
    (PAUSED, A.EDIT): stays(PAUSED),
    (PAUSED, A.CLONE): stays(PAUSED),
    (PAUSED, A.DELETE): ends(PAUSED),
    (COMPLETED, A.RUN): ILLEGAL,
    (COMPLETED, A.PAUSE): ILLEGAL,
    (COMPLETED, A.RESUME): ILLEGAL,
    (COMPLETED, A.STOP): ILLEGAL,
    (COMPLETED, A.RERUN): starts(ACTIVE),
    (COMPLETED, A.EDIT): stays(COMPLETED),
    (COMPLETED, A.CLONE): stays(COMPLETED),
    (COMPLETED, A.DELETE): ends(COMPLETED),
    (STOPPED, A.RUN): starts(ACTIVE),
    (STOPPED, A.PAUSE): ILLEGAL,
    (STOPPED, A.RESUME): ILLEGAL,
    (STOPPED, A.STOP): ILLEGAL,
    (STOPPED, A.RERUN): starts(ACTIVE),
    (STOPPED, A.EDIT): stays(STOPPED),
    (STOPPED, A.CLONE): stays(STOPPED),
    (STOPPED, A.DELETE): ends(STOPPED),
}

# A scheduled campaign with another occurrence still to come.
SCHEDULED_ACTIONS: dict[tuple[CampaignStatus, Action], Outcome] = {
    (READY, A.RUN): SCHEDULED_ONLY,
    (READY, A.PAUSE): ILLEGAL,
    (READY, A.RESUME): ILLEGAL,
    (READY, A.STOP): ILLEGAL,
    (READY, A.RERUN): SCHEDULED_ONLY,
    (READY, A.EDIT): stays(READY),
    (READY, A.CLONE): stays(READY),
    (READY, A.DELETE): ends(READY),
    (SCHEDULED, A.RUN): SCHEDULED_ONLY,
    (SCHEDULED, A.PAUSE): ILLEGAL,
    (SCHEDULED, A.RESUME): ILLEGAL,
    (SCHEDULED, A.STOP): ILLEGAL,
    (SCHEDULED, A.RERUN): SCHEDULED_ONLY,
    (SCHEDULED, A.EDIT): stays(SCHEDULED),
    (SCHEDULED, A.CLONE): stays(SCHEDULED),
    (SCHEDULED, A.DELETE): ends(SCHEDULED),
    (ACTIVE, A.RUN): SCHEDULED_ONLY,
    (ACTIVE, A.PAUSE): moves(PAUSED),
    (ACTIVE, A.RESUME): ILLEGAL,
    (ACTIVE, A.STOP): ends(SCHEDULED),
    (ACTIVE, A.RERUN): SCHEDULED_ONLY,
    (ACTIVE, A.EDIT): ILLEGAL,
    (ACTIVE, A.CLONE): stays(ACTIVE),
    (ACTIVE, A.DELETE): ILLEGAL,
    (PAUSED, A.RUN): SCHEDULED_ONLY,
    (PAUSED, A.PAUSE): ILLEGAL,
    (PAUSED, A.RESUME): moves(ACTIVE),
    (PAUSED, A.STOP): ends(SCHEDULED),
    (PAUSED, A.RERUN): SCHEDULED_ONLY,
    (PAUSED, A.EDIT): stays(PAUSED),
    (PAUSED, A.CLONE): stays(PAUSED),
    (PAUSED, A.DELETE): ends(PAUSED),
    (COMPLETED, A.RUN): SCHEDULED_ONLY,
    (COMPLETED, A.PAUSE): ILLEGAL,
    (COMPLETED, A.RESUME): ILLEGAL,
    (COMPLETED, A.STOP): ILLEGAL,
    (COMPLETED, A.RERUN): SCHEDULED_ONLY,
    (COMPLETED, A.EDIT): stays(COMPLETED),
    (COMPLETED, A.CLONE): stays(COMPLETED),
    (COMPLETED, A.DELETE): ends(COMPLETED),
    (STOPPED, A.RUN): SCHEDULED_ONLY,
    (STOPPED, A.PAUSE): ILLEGAL,
    (STOPPED, A.RESUME): ILLEGAL,
    (STOPPED, A.STOP): ILLEGAL,
    (STOPPED, A.RERUN): SCHEDULED_ONLY,
    (STOPPED, A.EDIT): stays(STOPPED),
    (STOPPED, A.CLONE): stays(STOPPED),
    (STOPPED, A.DELETE): ends(STOPPED),
}

# A scheduled campaign in its last occurrence: stopping it completes it.
SCHEDULED_LAST_ACTIONS: dict[tuple[CampaignStatus, Action], Outcome] = {
    **SCHEDULED_ACTIONS,
    (ACTIVE, A.STOP): ends(COMPLETED),
    (PAUSED, A.STOP): ends(COMPLETED),
}

T = Trigger

UNSCHEDULED_TRIGGERS: dict[tuple[CampaignStatus, Trigger], Outcome] = {
    (READY, T.SCHEDULE_START): ILLEGAL,
    (READY, T.RUN_EXHAUSTED): ILLEGAL,
    (READY, T.SCHEDULE_END): ILLEGAL,
    (SCHEDULED, T.SCHEDULE_START): starts(ACTIVE),
    (SCHEDULED, T.RUN_EXHAUSTED): ILLEGAL,
    (SCHEDULED, T.SCHEDULE_END): ILLEGAL,
    (ACTIVE, T.SCHEDULE_START): ILLEGAL,
    (ACTIVE, T.RUN_EXHAUSTED): ends(COMPLETED),
    (ACTIVE, T.SCHEDULE_END): ends(COMPLETED),
    (PAUSED, T.SCHEDULE_START): ILLEGAL,
    (PAUSED, T.RUN_EXHAUSTED): ends(COMPLETED),
    (PAUSED, T.SCHEDULE_END): ends(COMPLETED),
    (COMPLETED, T.SCHEDULE_START): ILLEGAL,
    (COMPLETED, T.RUN_EXHAUSTED): ILLEGAL,
    (COMPLETED, T.SCHEDULE_END): ILLEGAL,
    (STOPPED, T.SCHEDULE_START): ILLEGAL,
    (STOPPED, T.RUN_EXHAUSTED): ILLEGAL,
    (STOPPED, T.SCHEDULE_END): ILLEGAL,
    **{(status, T.SCHEDULE_OVER): ILLEGAL for status in CampaignStatus},
}

SCHEDULED_TRIGGERS: dict[tuple[CampaignStatus, Trigger], Outcome] = {
    **UNSCHEDULED_TRIGGERS,
    (ACTIVE, T.RUN_EXHAUSTED): ends(SCHEDULED),
    (ACTIVE, T.SCHEDULE_END): ends(SCHEDULED),
    (PAUSED, T.RUN_EXHAUSTED): ends(SCHEDULED),
    (PAUSED, T.SCHEDULE_END): ends(SCHEDULED),
}

# With no next occurrence a scheduled campaign ends exactly like an unscheduled one, and one
# waiting for an occurrence that will never come completes.
SCHEDULED_LAST_TRIGGERS = {
    **UNSCHEDULED_TRIGGERS,
    (SCHEDULED, T.SCHEDULE_OVER): moves(COMPLETED),
}

ACTION_CASES = [
    (status, action, scheduled, has_next, table[status, action])
    for scheduled, has_next, table in [
        (False, False, UNSCHEDULED_ACTIONS),
        (True, True, SCHEDULED_ACTIONS),
        (True, False, SCHEDULED_LAST_ACTIONS),
    ]
    for status, action in product(CampaignStatus, Action)
]

TRIGGER_CASES = [
    (status, trigger, scheduled, has_next, table[status, trigger])
    for scheduled, has_next, table in [
        (False, False, UNSCHEDULED_TRIGGERS),
        (True, True, SCHEDULED_TRIGGERS),
        (True, False, SCHEDULED_LAST_TRIGGERS),
    ]
    for status, trigger in product(CampaignStatus, Trigger)
]


def assert_outcome(expected: Outcome, status: CampaignStatus, call) -> None:
    if isinstance(expected, type):
        with pytest.raises(LifecycleError) as raised:
            call()
        assert type(raised.value) is expected
        assert raised.value.status is status
    else:
        to_status, new_instance, end_instance = expected
        assert call() == Transition(status, to_status, new_instance, end_instance)


@pytest.mark.parametrize("table", [UNSCHEDULED_ACTIONS, SCHEDULED_ACTIONS, SCHEDULED_LAST_ACTIONS])
def test_action_tables_cover_every_status_and_action(table) -> None:
    assert set(table) == set(product(CampaignStatus, Action))


@pytest.mark.parametrize(
    "table", [UNSCHEDULED_TRIGGERS, SCHEDULED_TRIGGERS, SCHEDULED_LAST_TRIGGERS]
)
def test_trigger_tables_cover_every_status_and_trigger(table) -> None:
    assert set(table) == set(product(CampaignStatus, Trigger))


@pytest.mark.parametrize(("status", "action", "scheduled", "has_next", "expected"), ACTION_CASES)
def test_apply_action(status, action, scheduled, has_next, expected) -> None:
    assert_outcome(
        expected,
        status,
        lambda: apply_action(status, action, scheduled=scheduled, has_next_occurrence=has_next),
    )


@pytest.mark.parametrize(("status", "trigger", "scheduled", "has_next", "expected"), TRIGGER_CASES)
def test_apply_trigger(status, trigger, scheduled, has_next, expected) -> None:
    assert_outcome(
        expected,
        status,
        lambda: apply_trigger(status, trigger, scheduled=scheduled, has_next_occurrence=has_next),
    )


def test_lifecycle_error_carries_status_action_and_reason() -> None:
    with pytest.raises(IllegalTransition) as raised:
        apply_action(READY, Action.PAUSE, scheduled=False)
    assert raised.value.status is READY
    assert raised.value.action is Action.PAUSE
    assert raised.value.reason
    assert "pause" in str(raised.value) and "ready" in str(raised.value)


def test_run_on_scheduled_campaign_explains_why() -> None:
    with pytest.raises(ScheduledCampaignError) as raised:
        apply_action(READY, Action.RUN, scheduled=True)
    assert raised.value.reason == "campaign is scheduled; it starts at its scheduled time"


def test_initial_status() -> None:
    assert initial_status(scheduled=False) is READY
    assert initial_status(scheduled=True) is SCHEDULED


# Edit policy ------------------------------------------------------------------------------

ALL_EDITABLE = set(Campaign.model_fields) - Campaign.OUTPUT_ONLY_FIELDS
PAUSED_EDITABLE = {
    "name",
    "description",
    "priority",
    "pacing",
    "caller_id",
    "amd_enabled",
    "max_attempts",
    "retry_period_minutes",
    "max_ring_time_seconds",
    "contactable_timings",
    "abandon_target",
    "power_ratio",
    "preview_timeout_seconds",
}
PAUSED_REFUSED = {
    "contact_list_ids",
    "dnc_list_id",
    "dialing_mode",
    "start_flow_id",
    "queue_id",
    "dialing_order",
    "schedule",
    "safe_harbor_flow_id",
    "compliance_regime",
    "amd_false_positive_rate",
}


def test_editable_fields_has_every_status_and_only_real_fields() -> None:
    assert set(EDITABLE_FIELDS) == set(CampaignStatus)
    for fields in EDITABLE_FIELDS.values():
        assert fields <= set(Campaign.model_fields)
        assert not fields & Campaign.OUTPUT_ONLY_FIELDS


def test_paused_policy_splits_every_editable_field() -> None:
    assert PAUSED_EDITABLE | PAUSED_REFUSED == ALL_EDITABLE
    assert EDITABLE_FIELDS[PAUSED] == PAUSED_EDITABLE


@pytest.mark.parametrize("status", [READY, SCHEDULED, STOPPED, COMPLETED])
def test_idle_statuses_allow_every_editable_field(status) -> None:
    check_edit(status, ALL_EDITABLE)


@pytest.mark.parametrize("status", list(CampaignStatus))
def test_output_only_fields_are_never_editable(status) -> None:
    with pytest.raises(EditNotAllowed) as raised:
        check_edit(status, ["name", *Campaign.OUTPUT_ONLY_FIELDS])
    refused = set(raised.value.fields)
    assert refused >= Campaign.OUTPUT_ONLY_FIELDS
    assert ("name" in refused) is (status is ACTIVE)


def test_paused_allows_fields_that_leave_the_instance_alone() -> None:
    check_edit(PAUSED, PAUSED_EDITABLE)


def test_paused_refuses_fields_that_change_what_is_dialed() -> None:
    with pytest.raises(EditNotAllowed) as raised:
        check_edit(PAUSED, ["priority", "schedule", "contact_list_ids"])
    assert raised.value.fields == ["contact_list_ids", "schedule"]
    assert raised.value.status is PAUSED
    assert raised.value.action is Action.EDIT
    assert "contact_list_ids, schedule" in str(raised.value)
    assert "paused" in str(raised.value)


def test_active_refuses_every_field() -> None:
    with pytest.raises(EditNotAllowed) as raised:
        check_edit(ACTIVE, ["description", "priority"])
    assert raised.value.fields == ["description", "priority"]
    assert "active" in str(raised.value)


def test_changing_nothing_is_always_fine() -> None:
    for status in CampaignStatus:
        check_edit(status, [])


# Cloning ----------------------------------------------------------------------------------


def make_campaign(**overrides) -> Campaign:
    data = {
        "id": "c-1",
        "name": "Spring renewals",
        "contact_list_ids": ["list-1"],
        "dialing_mode": "agentless",
        "start_flow_id": "flow-1",
        "caller_id": "+12125550100",
        "contactable_timings": ContactableTimings.default().model_dump(),
        "schedule": {"start": "2030-03-01T09:00:00"},
        "status": "paused",
        "run_instance": 4,
        "created_at": "2030-01-01T00:00:00Z",
        "updated_at": "2030-01-02T00:00:00Z",
    }
    return Campaign.model_validate({**data, **overrides})


def test_clone_is_a_fresh_unscheduled_ready_campaign() -> None:
    source = make_campaign()
    clone = clone_campaign(source, existing_names=[source.name])
    assert clone.id == ""
    assert clone.status is READY
    assert clone.run_instance == 0
    assert clone.schedule is None
    assert not clone.is_scheduled
    assert clone.created_at is None and clone.updated_at is None
    assert clone.contact_list_ids == source.contact_list_ids
    assert clone.contactable_timings == source.contactable_timings
    assert clone.caller_id == source.caller_id


def test_clone_leaves_the_source_untouched() -> None:
    source = make_campaign()
    clone = clone_campaign(source, existing_names=[])
    clone.contact_list_ids.append("list-2")
    assert source.contact_list_ids == ["list-1"]
    assert source.status is PAUSED
    assert source.schedule is not None


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], "Spring renewals (copy)"),
        (["Spring renewals"], "Spring renewals (copy)"),
        (["Spring renewals", "Spring renewals (copy)"], "Spring renewals (copy 2)"),
        (
            ["Spring renewals (copy)", "Spring renewals (copy 2)", "Spring renewals (copy 4)"],
            "Spring renewals (copy 3)",
        ),
    ],
)
def test_clone_name_is_unique(existing, expected) -> None:
    assert clone_campaign(make_campaign(), existing).name == expected


def test_clone_name_fits_the_name_limit() -> None:
    source = make_campaign(name="x" * 128)
    first = clone_campaign(source, existing_names=[])
    second = clone_campaign(source, existing_names=[first.name])
    assert first.name.endswith(" (copy)") and len(first.name) == 128
    assert second.name.endswith(" (copy 2)") and len(second.name) == 128
    Campaign.from_record(second.to_record())
