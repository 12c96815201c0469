"""Occurrences of a campaign schedule: a pure function of (schedule, instant), no I/O.

Recurrence dates come from python-dateutil's rrule over local dates in the schedule's time
zone; each occurrence then runs from the recurrence's start_time to its end_time on that date
(into the next day when end_time is earlier), converted to UTC with zoneinfo so DST moves it
correctly. A wall time that does not exist (the spring-forward gap) is read with the offset in
force before the change, i.e. it lands an hour later in the new offset; an ambiguous one (the
fall-back hour) is its first occurrence. The series is bounded by the schedule's end and the
recurrence's until date. Without a recurrence there is one occurrence: start to end.

Each occurrence dials the whole list afresh; its DNC re-scrub is due RESCRUB_LEAD before it
starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule

from cluster.models import MonthDayOverflow, Recurrence, RecurrenceFrequency, Schedule, Weekday

RESCRUB_LEAD = timedelta(minutes=15)

_FREQUENCIES = {
    RecurrenceFrequency.DAILY: rrule.DAILY,
    RecurrenceFrequency.WEEKLY: rrule.WEEKLY,
    RecurrenceFrequency.MONTHLY: rrule.MONTHLY,
    RecurrenceFrequency.YEARLY: rrule.YEARLY,
}
_WEEKDAYS = {
    Weekday.MON: rrule.MO,
    Weekday.TUE: rrule.TU,
    Weekday.WED: rrule.WE,
    Weekday.THU: rrule.TH,
    Weekday.FRI: rrule.FR,
    Weekday.SAT: rrule.SA,
    Weekday.SUN: rrule.SU,
}


@dataclass(frozen=True)
class Occurrence:
    index: int
    """0 for the first occurrence of the series."""
    start: datetime
    """Timezone-aware UTC."""
    end: datetime | None
    """Timezone-aware UTC; None: until the lists are exhausted."""

    @property
    def rescrub_at(self) -> datetime:
        return self.start - RESCRUB_LEAD

    def contains(self, when: datetime) -> bool:
        return self.start <= when and (self.end is None or when < self.end)


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _month_days(day: int, overflow: MonthDayOverflow) -> dict[str, object]:
    """rrule arguments for 'day N of the month'. With LAST_DAY, a month without day N uses
    its last day: among days min(N, 28)..N that exist, take the last (bysetpos=-1)."""
    if day <= 28 or overflow is MonthDayOverflow.SKIP:
        return {"bymonthday": day}
    return {"bymonthday": tuple(range(28, day + 1)), "bysetpos": -1}


def _dates(schedule: Schedule, recurrence: Recurrence) -> Iterator[date]:
    first = schedule.start.date()
    kwargs: dict[str, object] = {"interval": recurrence.interval}
    if recurrence.frequency is RecurrenceFrequency.WEEKLY:
        kwargs["byweekday"] = [_WEEKDAYS[d] for d in recurrence.weekdays]
    elif recurrence.frequency is RecurrenceFrequency.MONTHLY:
        kwargs.update(_month_days(recurrence.month_day or first.day, recurrence.month_day_overflow))
    elif recurrence.frequency is RecurrenceFrequency.YEARLY:
        kwargs["bymonth"] = first.month
        kwargs.update(_month_days(first.day, recurrence.month_day_overflow))
    until = recurrence.until
    if schedule.end is not None:
        until = min(until, schedule.end.date()) if until else schedule.end.date()
    if until is not None:
        kwargs["until"] = datetime.combine(until, time.max)
    start = datetime.combine(first, time.min)
    for moment in rrule.rrule(_FREQUENCIES[recurrence.frequency], dtstart=start, **kwargs):  # type: ignore[arg-type]
        yield moment.date()


def occurrences(schedule: Schedule, after: datetime | None = None) -> Iterator[Occurrence]:
    """Occurrences in order; with `after`, only those that end after it (the current one
    included). Infinite for an unbounded recurrence: take what you need."""
    tz = ZoneInfo(schedule.timezone or "UTC")
    series_start = schedule.start.replace(tzinfo=tz).astimezone(UTC)
    series_end = schedule.end.replace(tzinfo=tz).astimezone(UTC) if schedule.end else None
    recurrence = schedule.recurrence
    if recurrence is None:
        single = Occurrence(0, series_start, series_end)
        if after is None or single.end is None or single.end > after:
            yield single
        return
    index = 0
    for day in _dates(schedule, recurrence):
        start = _local(day, recurrence.start_time, tz)
        end_day = day + timedelta(days=1) if recurrence.end_time <= recurrence.start_time else day
        end = _local(end_day, recurrence.end_time, tz)
        if start < series_start:
            continue  # the first date's occurrence began before the schedule did
        if series_end is not None:
            if start >= series_end:
                return
            end = min(end, series_end)
        occurrence = Occurrence(index, start, end)
        index += 1
        if after is None or occurrence.end is None or occurrence.end > after:
            yield occurrence


def current_or_next(schedule: Schedule, now: datetime) -> Occurrence | None:
    """The occurrence running at `now`, else the next one, else None (the series is over)."""
    return next(occurrences(schedule, after=now), None)
