"""Schedule occurrences across time zones, DST, month ends and leap days (pure, no I/O)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from cluster.models import Schedule
from cluster.schedule import current_or_next, occurrences


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def schedule(start: str, tz: str = "America/New_York", **extra: Any) -> Schedule:
    return Schedule.model_validate({"start": start, "timezone": tz, **extra})


def starts(s: Schedule, n: int) -> list[datetime]:
    return [o.start for o in itertools.islice(occurrences(s), n)]


def recurring(frequency: str, **extra: Any) -> dict[str, Any]:
    return {"frequency": frequency, "start_time": "09:00", "end_time": "17:00", **extra}


def test_a_one_off_schedule_is_one_occurrence_with_its_rescrub_15_minutes_before() -> None:
    s = schedule("2026-03-02T09:30:00", end="2026-03-02T18:00:00")
    (only,) = list(occurrences(s))
    assert (only.start, only.end) == (utc(2026, 3, 2, 14, 30), utc(2026, 3, 2, 23, 0))
    assert only.rescrub_at == utc(2026, 3, 2, 14, 15)


def test_daily_follows_new_york_across_both_dst_changes() -> None:
    s = schedule("2026-03-07T00:00:00", recurrence=recurring("daily"))
    assert starts(s, 3) == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]
    autumn = schedule("2026-10-31T00:00:00", recurrence=recurring("daily"))
    assert starts(autumn, 3) == [utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)]


def test_london_spring_gap_and_autumn_overlap() -> None:
    gap = schedule(
        "2026-03-29T00:00:00",
        tz="Europe/London",
        recurrence={"frequency": "daily", "start_time": "01:30", "end_time": "03:00"},
    )
    # 01:30 does not exist on 29 March: read with the old offset, it is 01:30 UTC (02:30 BST).
    assert starts(gap, 1) == [utc(2026, 3, 29, 1, 30)]
    overlap = schedule(
        "2026-10-25T00:00:00",
        tz="Europe/London",
        recurrence={"frequency": "daily", "start_time": "01:30", "end_time": "03:00"},
    )
    # 01:30 happens twice on 25 October: the first (BST) is taken.
    assert starts(overlap, 1) == [utc(2026, 10, 25, 0, 30)]


def test_every_other_week_on_chosen_weekdays() -> None:
    s = schedule(
        "2026-01-05T00:00:00", recurrence=recurring("weekly", interval=2, weekdays=["mon", "wed"])
    )
    days = [o.start.date().isoformat() for o in itertools.islice(occurrences(s), 4)]
    assert days == ["2026-01-05", "2026-01-07", "2026-01-19", "2026-01-21"]


def test_monthly_on_the_31st_uses_the_last_day_or_skips() -> None:
    last = schedule("2026-01-31T00:00:00", recurrence=recurring("monthly", month_day=31))
    assert [o.start.day for o in itertools.islice(occurrences(last), 4)] == [31, 28, 31, 30]
    skip = schedule(
        "2026-01-31T00:00:00",
        recurrence=recurring("monthly", month_day=31, month_day_overflow="skip"),
    )
    assert [o.start.month for o in itertools.islice(occurrences(skip), 3)] == [1, 3, 5]


def test_yearly_on_a_leap_day() -> None:
    last = schedule("2028-02-29T00:00:00", tz="UTC", recurrence=recurring("yearly"))
    assert [o.start.date().isoformat() for o in itertools.islice(occurrences(last), 2)] == [
        "2028-02-29",
        "2029-02-28",
    ]
    skip = schedule(
        "2028-02-29T00:00:00", tz="UTC", recurrence=recurring("yearly", month_day_overflow="skip")
    )
    assert [o.start.year for o in itertools.islice(occurrences(skip), 2)] == [2028, 2032]


def test_an_occurrence_crossing_midnight_ends_the_next_day() -> None:
    s = schedule(
        "2026-01-05T00:00:00",
        tz="UTC",
        recurrence={"frequency": "daily", "start_time": "22:00", "end_time": "02:00"},
    )
    first = next(occurrences(s))
    assert (first.start, first.end) == (utc(2026, 1, 5, 22), utc(2026, 1, 6, 2))


def test_zones_far_from_utc() -> None:
    kiritimati = schedule(
        "2026-01-05T00:00:00", tz="Pacific/Kiritimati", recurrence=recurring("daily")
    )
    assert starts(kiritimati, 1) == [utc(2026, 1, 4, 19)]  # UTC+14: the day before in UTC
    kathmandu = schedule("2026-01-05T00:00:00", tz="Asia/Kathmandu", recurrence=recurring("daily"))
    assert starts(kathmandu, 1) == [utc(2026, 1, 5, 3, 15)]  # UTC+05:45


def test_series_end_and_until_bound_the_occurrences() -> None:
    s = schedule(
        "2026-01-05T00:00:00", end="2026-01-07T12:00:00", tz="UTC", recurrence=recurring("daily")
    )
    got = list(occurrences(s))
    assert [o.start.day for o in got] == [5, 6, 7]
    assert got[-1].end == utc(2026, 1, 7, 12)  # the schedule's end cuts the last one short
    until = schedule(
        "2026-01-05T00:00:00", tz="UTC", recurrence=recurring("daily", until="2026-01-06")
    )
    assert [o.start.day for o in occurrences(until)] == [5, 6]


def test_an_occurrence_before_the_schedule_start_is_skipped() -> None:
    s = schedule("2026-01-05T10:00:00", tz="UTC", recurrence=recurring("daily"))
    assert starts(s, 1) == [utc(2026, 1, 6, 9)]


def test_current_or_next() -> None:
    s = schedule(
        "2026-01-05T00:00:00", end="2026-01-06T23:00:00", tz="UTC", recurrence=recurring("daily")
    )
    running = current_or_next(s, utc(2026, 1, 5, 12))
    assert running is not None and running.index == 0 and running.contains(utc(2026, 1, 5, 12))
    upcoming = current_or_next(s, utc(2026, 1, 5, 18))
    assert upcoming is not None and upcoming.start == utc(2026, 1, 6, 9)
    assert current_or_next(s, utc(2026, 1, 7)) is None
