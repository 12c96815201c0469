"""What a scheduled campaign needs now: a pure function of (campaign, instant), no I/O.

The controller asks `due_step` about every scheduled campaign on each pass and applies the
answer through the campaign store; the dialer asks `may_dial` before every call. Both are safe
to repeat: the store applies a step by compare-and-set, and a step that is no longer due
(another pass applied it first) is refused as an illegal transition.

Which occurrence comes next is decided from the record alone: the campaign remembers the last
occurrence that started (`Campaign.occurrence`), and the next one is the first occurrence of
the schedule that starts after it and has not ended yet. So an occurrence runs at most once,
whether its leads ran out early, the user stopped it, or the controller restarted mid-way; an
occurrence missed entirely (the cluster was down for all of it) is skipped, not made up late.
Editing the schedule re-plans from the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cluster.models import (
    Campaign,
    CampaignStatus,
    Contact,
    ContactableTimings,
    OccurrenceWindow,
    TimeWindow,
    Weekday,
)
from cluster.schedule import RESCRUB_LEAD, Occurrence, occurrences
from cluster.windows import is_contactable, next_contactable, window_closes


class StepKind(StrEnum):
    RESCRUB = "rescrub"
    """Re-scrub the contact lists against the DNC list before the occurrence starts."""
    START = "start"
    """The occurrence has begun: a fresh run instance dials the whole list."""
    END = "end"
    """The running occurrence's end has passed: end its run instance."""
    OVER = "over"
    """No occurrence is left: the campaign is completed."""


@dataclass(frozen=True)
class ScheduleStep:
    kind: StepKind
    occurrence: OccurrenceWindow | None = None
    """RESCRUB and START: the occurrence concerned; END: the one ending."""


def _window(occurrence: Occurrence) -> OccurrenceWindow:
    return OccurrenceWindow(index=occurrence.index, start=occurrence.start, end=occurrence.end)


def next_occurrence(campaign: Campaign, now: datetime) -> OccurrenceWindow | None:
    """The occurrence to run next: running now or later, and after the last one started."""
    if campaign.schedule is None:
        return None
    last = campaign.occurrence
    for occurrence in occurrences(campaign.schedule, after=now):
        if last is None or occurrence.start > last.start:
            return _window(occurrence)
    return None


def has_next_occurrence(campaign: Campaign, now: datetime) -> bool:
    return next_occurrence(campaign, now) is not None


def starts_soon(campaign: Campaign, now: datetime, within: timedelta) -> bool:
    """A scheduled campaign waiting for an occurrence that starts within `within`."""
    if campaign.status is not CampaignStatus.SCHEDULED:
        return False
    upcoming = next_occurrence(campaign, now)
    return upcoming is not None and upcoming.start - now <= within


def due_step(
    campaign: Campaign, now: datetime, rescrubbed_for: datetime | None
) -> ScheduleStep | None:
    """What the scheduler must do for `campaign` at `now`, if anything.

    `rescrubbed_for` is the start of the occurrence the last DNC re-scrub was made for.
    """
    if campaign.schedule is None:
        return None
    if campaign.status in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
        if occurrence_over(campaign, now):
            return ScheduleStep(StepKind.END, campaign.occurrence)
        return None
    if campaign.status is not CampaignStatus.SCHEDULED:
        return None
    upcoming = next_occurrence(campaign, now)
    if upcoming is None:
        return ScheduleStep(StepKind.OVER)
    if upcoming.start <= now:
        return ScheduleStep(StepKind.START, upcoming)
    rescrub_at = upcoming.start - RESCRUB_LEAD
    if now >= rescrub_at and rescrubbed_for != upcoming.start:
        return ScheduleStep(StepKind.RESCRUB, upcoming)
    return None


def occurrence_end(campaign: Campaign) -> datetime | None:
    """When a scheduled campaign's running (or last) occurrence ends; None when the campaign
    is not scheduled, no occurrence has started, or it runs until its leads are done."""
    if campaign.schedule is None or campaign.occurrence is None:
        return None
    return campaign.occurrence.end


def occurrence_over(campaign: Campaign, now: datetime) -> bool:
    ends = occurrence_end(campaign)
    return ends is not None and now >= ends


def _in_occurrence(campaign: Campaign, now: datetime) -> bool:
    """An unscheduled campaign is never held by a schedule; a scheduled one only dials inside
    the occurrence that started."""
    if campaign.schedule is None:
        return True
    return campaign.occurrence is not None and campaign.occurrence.contains(now)


def effective_timings(campaign: Campaign) -> ContactableTimings:
    """The contactable timings calls are held to. With recurrence precedence, the recurrence's
    start and end time of day replace the per-weekday windows (in the schedule's time zone):
    the seed's example is timings 09:00-18:00 and a recurrence from 08:00, which dials from
    08:00. The run only exists inside an occurrence, so every weekday gets that window."""
    timings = campaign.contactable_timings
    schedule = campaign.schedule
    if schedule is None or schedule.recurrence is None or not schedule.allow_recurrence_precedence:
        return timings
    recurrence = schedule.recurrence
    window = TimeWindow(start=recurrence.start_time, end=recurrence.end_time)
    return timings.model_copy(
        update={
            "timezone": schedule.timezone or timings.timezone,
            "windows": {day: [window] for day in Weekday},
        }
    )


def may_dial(campaign: Campaign, contact: Contact | None, now: datetime) -> bool:
    """May a new call to `contact` start now? Inside the contactable timings (as modified by
    recurrence precedence) and, for a scheduled campaign, before its occurrence ends. A call
    already ringing when a window closes is left to finish; this only gates new ones."""
    return _in_occurrence(campaign, now) and is_contactable(
        effective_timings(campaign), contact, now
    )


def dial_deadline(campaign: Campaign, contact: Contact | None, now: datetime) -> datetime | None:
    """The instant from which a call allowed now may no longer start: its window closes or the
    occurrence ends. The trunk refuses the call from then on (a request can be delayed in
    flight). None when no call may start now."""
    closes = window_closes(effective_timings(campaign), contact, now)
    if closes is None:
        return None
    ends = occurrence_end(campaign)
    return closes if ends is None else min(closes, ends)


def may_dial_any(campaign: Campaign, now: datetime) -> bool:
    """Could any lead be dialed now? False lets the dialer skip leasing altogether. With
    windows in each contact's zone, only the occurrence bounds are known without the lead."""
    if campaign.contactable_timings.use_contact_timezone:
        return _in_occurrence(campaign, now)
    return may_dial(campaign, None, now)


def next_dial_time(campaign: Campaign, contact: Contact | None, now: datetime) -> datetime | None:
    """When a lead refused by `may_dial` should be tried again: when its window opens, if that
    is inside the running occurrence; None if not before this occurrence ends."""
    opens = next_contactable(effective_timings(campaign), contact, now)
    ends = occurrence_end(campaign)
    if ends is not None and (opens is None or opens >= ends):
        return None
    return opens
