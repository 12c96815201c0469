"""What the scheduler does for a campaign at an instant, and the dial gate (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.models import (
    Campaign,
    CampaignStatus,
    Contact,
    ContactableTimings,
    OccurrenceWindow,
)
from cluster.scheduler import (
    ScheduleStep,
    StepKind,
    dial_deadline,
    due_step,
    effective_timings,
    has_next_occurrence,
    may_dial,
    may_dial_any,
    next_dial_time,
    next_occurrence,
    starts_soon,
)

NEW_YORK = "America/New_York"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def campaign(
    schedule: dict[str, Any] | None,
    status: CampaignStatus = CampaignStatus.SCHEDULED,
    timezone: str = NEW_YORK,
    **extra: Any,
) -> Campaign:
    return Campaign.model_validate(
        {
            "name": "c",
            "contact_list_ids": ["l1"],
            "dialing_mode": "agentless",
            "start_flow_id": "flow",
            "caller_id": "+12125550199",
            "contactable_timings": ContactableTimings.default(timezone).model_dump(mode="json"),
            "schedule": schedule,
            "status": status,
            **extra,
        }
    )


# Every weekday (Mon-Fri) 10:00-12:00 New York, from Monday 2026-01-05.
WEEKDAYS_10_TO_12 = {
    "start": "2026-01-05T00:00:00",
    "recurrence": {
        "frequency": "weekly",
        "weekdays": ["mon", "tue", "wed", "thu", "fri"],
        "start_time": "10:00",
        "end_time": "12:00",
    },
}
MON_10AM = utc(2026, 1, 5, 15)  # EST is UTC-5
TUE_10AM = utc(2026, 1, 6, 15)


def started(c: Campaign, step: ScheduleStep, status: CampaignStatus) -> Campaign:
    """The record after the store applied `step` (what the store's transition writes)."""
    return c.model_copy(update={"status": status, "occurrence": step.occurrence})


def test_rescrub_15_minutes_before_then_start_at_the_occurrence() -> None:
    c = campaign(WEEKDAYS_10_TO_12)
    assert due_step(c, MON_10AM - timedelta(minutes=16), None) is None
    step = due_step(c, MON_10AM - timedelta(minutes=15), None)
    assert step is not None and step.kind is StepKind.RESCRUB
    assert step.occurrence is not None and step.occurrence.start == MON_10AM
    # Once re-scrubbed for this occurrence, nothing until it starts.
    assert due_step(c, MON_10AM - timedelta(minutes=1), MON_10AM) is None
    start = due_step(c, MON_10AM, MON_10AM)
    assert start is not None and start.kind is StepKind.START
    assert start.occurrence is not None
    assert (start.occurrence.index, start.occurrence.end) == (0, utc(2026, 1, 5, 17))


def test_starts_soon_is_true_only_while_waiting_for_an_occurrence_close_enough() -> None:
    c = campaign(WEEKDAYS_10_TO_12)
    lead = timedelta(minutes=15)
    assert not starts_soon(c, MON_10AM - timedelta(minutes=16), lead)
    assert starts_soon(c, MON_10AM - timedelta(minutes=15), lead)
    assert starts_soon(c, MON_10AM, lead)
    assert not starts_soon(campaign(WEEKDAYS_10_TO_12, CampaignStatus.ACTIVE), MON_10AM, lead)


def test_a_late_scheduler_still_starts_the_running_occurrence() -> None:
    c = campaign(WEEKDAYS_10_TO_12)
    step = due_step(c, MON_10AM + timedelta(minutes=30), None)
    assert step is not None and step.kind is StepKind.START and step.occurrence is not None
    assert step.occurrence.start == MON_10AM


def test_the_running_occurrence_ends_at_its_end_time_active_or_paused() -> None:
    c = campaign(WEEKDAYS_10_TO_12)
    step = due_step(c, MON_10AM, MON_10AM)
    assert step is not None
    for status in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
        running = started(c, step, status)
        assert due_step(running, utc(2026, 1, 5, 16, 59, 59), MON_10AM) is None
        end = due_step(running, utc(2026, 1, 5, 17), MON_10AM)
        assert end == ScheduleStep(StepKind.END, step.occurrence)
        assert has_next_occurrence(running, utc(2026, 1, 5, 17))


def test_an_occurrence_runs_at_most_once_even_when_ended_early() -> None:
    # Its leads ran out (or the user stopped it) at 10:30: back to Scheduled, inside the window.
    c = campaign(WEEKDAYS_10_TO_12)
    step = due_step(c, MON_10AM, None)
    assert step is not None
    waiting = started(c, step, CampaignStatus.SCHEDULED)
    now = MON_10AM + timedelta(minutes=30)
    assert due_step(waiting, now, MON_10AM) is None
    upcoming = next_occurrence(waiting, now)
    assert upcoming is not None and (upcoming.index, upcoming.start) == (1, TUE_10AM)
    rescrub = due_step(waiting, TUE_10AM - timedelta(minutes=15), MON_10AM)
    assert rescrub is not None and rescrub.kind is StepKind.RESCRUB
    start = due_step(waiting, TUE_10AM, TUE_10AM)
    assert start is not None and start.kind is StepKind.START
    assert start.occurrence == upcoming


def test_a_missed_occurrence_is_skipped_not_made_up() -> None:
    # The cluster was down all Monday: on Tuesday morning Monday's occurrence is not run late.
    c = campaign(WEEKDAYS_10_TO_12)
    upcoming = next_occurrence(c, utc(2026, 1, 6, 3))
    assert upcoming is not None and upcoming.start == TUE_10AM


def test_a_series_with_nothing_left_is_over() -> None:
    once = {"start": "2026-01-05T10:00:00", "end": "2026-01-05T12:00:00"}
    c = campaign(once)
    assert due_step(c, utc(2026, 1, 5, 17), None) == ScheduleStep(StepKind.OVER)
    step = due_step(c, MON_10AM, None)
    assert step is not None and step.kind is StepKind.START
    running = started(c, step, CampaignStatus.ACTIVE)
    assert not has_next_occurrence(running, MON_10AM)
    # Ended early, e.g. stopped: nothing is left, so the campaign is over.
    assert due_step(started(c, step, CampaignStatus.SCHEDULED), MON_10AM, None) == ScheduleStep(
        StepKind.OVER
    )


def test_the_schedule_end_cuts_the_last_occurrence_short() -> None:
    # A schedule ending at 11:00 on Tuesday: Tuesday's occurrence ends there, mid-window.
    c = campaign({**WEEKDAYS_10_TO_12, "end": "2026-01-06T11:00:00"})
    step = due_step(c, TUE_10AM, TUE_10AM)
    assert step is not None and step.occurrence is not None
    assert step.occurrence.end == utc(2026, 1, 6, 16)
    running = started(c, step, CampaignStatus.ACTIVE)
    assert not has_next_occurrence(running, TUE_10AM)
    assert due_step(running, utc(2026, 1, 6, 16), TUE_10AM) == ScheduleStep(
        StepKind.END, step.occurrence
    )


@pytest.mark.parametrize(
    ("status"), [CampaignStatus.READY, CampaignStatus.COMPLETED, CampaignStatus.STOPPED]
)
def test_idle_statuses_have_nothing_due(status: CampaignStatus) -> None:
    assert due_step(campaign(WEEKDAYS_10_TO_12, status=status), MON_10AM, None) is None


def test_an_unscheduled_campaign_has_nothing_due_and_dials_by_its_timings() -> None:
    c = campaign(None, status=CampaignStatus.ACTIVE)
    assert due_step(c, MON_10AM, None) is None
    assert may_dial(c, None, MON_10AM)
    assert not may_dial(c, None, utc(2026, 1, 5, 13))  # 08:00 New York


def test_starts_follow_local_time_across_the_march_dst_change() -> None:
    c = campaign({**WEEKDAYS_10_TO_12, "start": "2026-03-06T00:00:00"})
    friday = due_step(c, utc(2026, 3, 6, 15), None)  # 10:00 EST
    assert friday is not None and friday.kind is StepKind.START
    waiting = started(c, friday, CampaignStatus.SCHEDULED)
    upcoming = next_occurrence(waiting, utc(2026, 3, 6, 18))
    assert upcoming is not None and upcoming.start == utc(2026, 3, 9, 14)  # 10:00 EDT
    assert due_step(waiting, utc(2026, 3, 9, 13, 59), utc(2026, 3, 9, 14)) is None


def test_kathmandu_quarter_hour_offset() -> None:
    c = campaign(
        {
            "start": "2026-01-05T00:00:00",
            "recurrence": {"frequency": "daily", "start_time": "09:00", "end_time": "17:00"},
        },
        timezone="Asia/Kathmandu",
    )
    step = due_step(c, utc(2026, 1, 5, 3, 15), None)  # 09:00 at UTC+5:45
    assert step is not None and step.kind is StepKind.START
    assert due_step(c, utc(2026, 1, 5, 3, 14), utc(2026, 1, 5, 3, 15)) is None


# Dial gate --------------------------------------------------------------------------------------
EARLY_RECURRENCE = {
    "start": "2026-01-05T00:00:00",
    "recurrence": {
        "frequency": "daily",
        "start_time": "08:00",
        "end_time": "12:00",
    },
}
MON_8AM = utc(2026, 1, 5, 13)


def running_at(schedule: dict[str, Any], now: datetime) -> Campaign:
    c = campaign(schedule)
    step = due_step(c, now, now)
    assert step is not None and step.kind is StepKind.START
    return started(c, step, CampaignStatus.ACTIVE)


def test_without_precedence_contactable_timings_still_rule_inside_an_occurrence() -> None:
    c = running_at(EARLY_RECURRENCE, MON_8AM)
    assert not may_dial(c, None, MON_8AM)  # timings open at 09:00
    assert next_dial_time(c, None, MON_8AM) == utc(2026, 1, 5, 14)
    assert may_dial(c, None, utc(2026, 1, 5, 14))


def test_recurrence_precedence_dials_from_the_recurrence_start() -> None:
    """The seed's example: timings 09:00-18:00, recurrence from 08:00, dialing starts at 08:00."""
    c = running_at({**EARLY_RECURRENCE, "allow_recurrence_precedence": True}, MON_8AM)
    assert may_dial(c, None, MON_8AM)
    assert may_dial(c, None, utc(2026, 1, 5, 16, 59))
    assert not may_dial(c, None, utc(2026, 1, 5, 17))  # 12:00: the occurrence is over
    timings = effective_timings(c)
    assert timings.timezone == NEW_YORK and len(timings.windows) == 7


def test_precedence_still_applies_the_window_in_the_contacts_own_zone() -> None:
    schedule = {**EARLY_RECURRENCE, "allow_recurrence_precedence": True}
    c = running_at(schedule, MON_8AM)
    c = c.model_copy(
        update={
            "contactable_timings": c.contactable_timings.model_copy(
                update={"use_contact_timezone": True}
            )
        }
    )
    los_angeles = Contact(id="x", phone="+13105550100")
    assert not may_dial(c, los_angeles, MON_8AM)  # 05:00 in Los Angeles
    assert may_dial(c, los_angeles, utc(2026, 1, 5, 16))  # 08:00 in Los Angeles


def test_no_dial_outside_the_running_occurrence() -> None:
    c = running_at(WEEKDAYS_10_TO_12, MON_10AM)
    assert may_dial(c, None, MON_10AM)
    assert not may_dial(c, None, MON_10AM - timedelta(seconds=1))
    assert not may_dial(c, None, utc(2026, 1, 5, 17))
    assert not may_dial_any(c, utc(2026, 1, 5, 17))
    # Scheduled but no occurrence started yet: never.
    assert not may_dial(campaign(WEEKDAYS_10_TO_12), None, MON_10AM)
    assert not may_dial_any(campaign(WEEKDAYS_10_TO_12), MON_10AM)


def test_a_lead_whose_window_opens_after_the_occurrence_waits_for_the_next_run() -> None:
    c = running_at(WEEKDAYS_10_TO_12, MON_10AM)
    c = c.model_copy(
        update={
            "contactable_timings": c.contactable_timings.model_copy(
                update={"use_contact_timezone": True}
            )
        }
    )
    honolulu = Contact(id="h", phone="+18085550100")  # 09:00 HST is 14:00 New York
    assert not may_dial(c, honolulu, MON_10AM)
    assert may_dial_any(c, MON_10AM)  # other leads may be callable: lease and check each
    assert next_dial_time(c, honolulu, MON_10AM) is None
    assert not may_dial_any(c, utc(2026, 1, 5, 17))


def test_the_dial_deadline_is_the_earlier_of_window_close_and_occurrence_end() -> None:
    c = running_at(WEEKDAYS_10_TO_12, MON_10AM)
    assert dial_deadline(c, None, MON_10AM) == utc(2026, 1, 5, 17)  # occurrence ends 12:00
    late = running_at({**WEEKDAYS_10_TO_12, "end": "2026-01-09T20:00:00"}, MON_10AM)
    late = late.model_copy(
        update={"occurrence": late.occurrence.model_copy(update={"end": utc(2026, 1, 6)})}  # type: ignore[union-attr]
    )
    assert dial_deadline(late, None, MON_10AM) == utc(2026, 1, 5, 23)  # 18:00 window close
    assert dial_deadline(late, None, utc(2026, 1, 5, 23)) is None  # closed
    unscheduled = campaign(None, status=CampaignStatus.ACTIVE)
    assert dial_deadline(unscheduled, None, MON_10AM) == utc(2026, 1, 5, 23)


def test_precedence_needs_a_recurrence() -> None:
    with pytest.raises(ValueError, match="allow_recurrence_precedence"):
        campaign({"start": "2026-01-05T10:00:00", "allow_recurrence_precedence": True})


# Property: a scheduler stepping through time in random strides ------------------------------
ZONES = ["America/New_York", "Europe/London", "Pacific/Kiritimati", "Asia/Kathmandu", "UTC"]


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, Any]:
    frequency = draw(st.sampled_from(["daily", "weekly", "monthly"]))
    start_minute = draw(st.integers(0, 24 * 60 - 1))
    length = draw(st.integers(15, 20 * 60))
    end_minute = (start_minute + length) % (24 * 60)
    recurrence: dict[str, Any] = {
        "frequency": frequency,
        "interval": draw(st.integers(1, 3)),
        "start_time": f"{start_minute // 60:02d}:{start_minute % 60:02d}",
        "end_time": f"{end_minute // 60:02d}:{end_minute % 60:02d}",
    }
    if frequency == "weekly":
        days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        recurrence["weekdays"] = draw(st.lists(st.sampled_from(days), min_size=1, unique=True))
    if frequency == "monthly":
        recurrence["month_day"] = draw(st.integers(1, 31))
    day = draw(st.integers(0, 300))
    start = datetime(2026, 1, 1) + timedelta(days=day)
    schedule: dict[str, Any] = {"start": start.isoformat(), "recurrence": recurrence}
    if draw(st.booleans()):
        schedule["end"] = (start + timedelta(days=draw(st.integers(1, 90)))).isoformat()
    return schedule


@settings(max_examples=60, deadline=None)
@given(
    schedule=schedules(),
    zone=st.sampled_from(ZONES),
    strides=st.lists(
        st.one_of(st.integers(1, 30), st.integers(1, 3 * 24 * 60)), min_size=20, max_size=80
    ),
    stops=st.sets(st.integers(0, 79)),
)
def test_stepping_through_time_runs_each_occurrence_at_most_once_and_only_inside_it(
    schedule: dict[str, Any], zone: str, strides: list[int], stops: set[int]
) -> None:
    c = campaign(schedule, timezone=zone)
    assert c.schedule is not None
    now = c.schedule.start.replace(tzinfo=UTC) - timedelta(days=1)
    rescrubbed: datetime | None = None
    started: list[OccurrenceWindow] = []
    for i, minutes in enumerate(strides):
        now += timedelta(minutes=minutes)
        step = due_step(c, now, rescrubbed)
        if step is None:
            if i in stops and c.status is CampaignStatus.ACTIVE:  # the user stops it
                status = (
                    CampaignStatus.SCHEDULED if has_next_occurrence(c, now) else
                    CampaignStatus.COMPLETED
                )  # fmt: skip
                c = c.model_copy(update={"status": status})
            continue
        if step.kind is StepKind.RESCRUB:
            assert step.occurrence is not None
            assert step.occurrence.start - timedelta(minutes=15) <= now < step.occurrence.start
            rescrubbed = step.occurrence.start
        elif step.kind is StepKind.START:
            assert step.occurrence is not None and step.occurrence.contains(now)
            assert not started or step.occurrence.start > started[-1].start
            assert not started or step.occurrence.index > started[-1].index
            started.append(step.occurrence)
            c = c.model_copy(
                update={"status": CampaignStatus.ACTIVE, "occurrence": step.occurrence}
            )
        elif step.kind is StepKind.END:
            assert c.occurrence is not None and c.occurrence.end is not None
            assert now >= c.occurrence.end
            status = (
                CampaignStatus.SCHEDULED
                if has_next_occurrence(c, now)
                else CampaignStatus.COMPLETED
            )
            c = c.model_copy(update={"status": status})
        else:
            assert step.kind is StepKind.OVER and next_occurrence(c, now) is None
            c = c.model_copy(update={"status": CampaignStatus.COMPLETED})
        # The dial gate agrees with the record: open only inside the running occurrence.
        if c.status is CampaignStatus.ACTIVE and may_dial_any(c, now):
            assert c.occurrence is not None and c.occurrence.contains(now)
    assert len({o.start for o in started}) == len(started)
