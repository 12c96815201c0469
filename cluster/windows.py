"""Contactable windows: may this contact be called now, and if not, from when?

Pure functions of (timings, contact, instant). Windows are wall-clock times in a time zone, per
weekday; they are turned into UTC intervals day by day with zoneinfo, so DST changes move
them correctly. With `use_contact_timezone`, the windows apply in the contact's own zone: the
contact's timezone field when given, else the zones phonenumbers maps its number to; a number
that maps to several zones may be called only when the window is open in all of them. A
non-geographic number (toll-free, premium rate, shared cost, VoIP, personal, UAN) says nothing
about where its owner is: phonenumbers maps +1 800 to every zone of the NANP, from Guam to
Newfoundland, whose windows never all open at once. Those use the campaign's zone instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as number_timezones

from cluster.models import Contact, ContactableTimings, Weekday

HORIZON_DAYS = 8

_NON_GEOGRAPHIC = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.VOIP,
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
        phonenumbers.PhoneNumberType.UAN,
    }
)


@lru_cache(maxsize=4096)
def _zones_for_number(phone: str) -> tuple[str, ...]:
    try:
        parsed = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return ()
    if phonenumbers.number_type(parsed) in _NON_GEOGRAPHIC:
        return ()
    zones = number_timezones.time_zones_for_number(parsed)
    return tuple(z for z in zones if z != "Etc/Unknown")


def contact_zones(timings: ContactableTimings, contact: Contact | None) -> tuple[str, ...]:
    """The zones whose clocks decide whether this contact may be called."""
    if timings.use_contact_timezone and contact is not None:
        if contact.timezone:
            return (contact.timezone,)
        zones = _zones_for_number(contact.phone)
        if zones:
            return zones
    return (timings.timezone,)


def _intervals(
    timings: ContactableTimings, zone: str, around: datetime, days: int
) -> list[tuple[datetime, datetime]]:
    """Open intervals in UTC for local days from the day before `around` for `days` days."""
    tz = ZoneInfo(zone)
    first: date = around.astimezone(tz).date() - timedelta(days=1)
    out = []
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        for window in timings.windows.get(Weekday.of(day), []):
            start = datetime.combine(day, window.start, tzinfo=tz)
            end_day = day + timedelta(days=1) if window.crosses_midnight else day
            end = datetime.combine(end_day, window.end, tzinfo=tz)
            out.append((start.astimezone(UTC), end.astimezone(UTC)))
    return sorted(out)


def _open_in(intervals: list[tuple[datetime, datetime]], when: datetime) -> bool:
    return any(start <= when < end for start, end in intervals)


def is_contactable(timings: ContactableTimings, contact: Contact | None, when: datetime) -> bool:
    return all(
        _open_in(_intervals(timings, zone, when, 2), when)
        for zone in contact_zones(timings, contact)
    )


def window_closes(
    timings: ContactableTimings, contact: Contact | None, when: datetime
) -> datetime | None:
    """When the window open at `when` closes for this contact (the earliest close among its
    zones); None if it is not open. Back-to-back windows count as closing at the seam, which
    errs on the early side."""
    closes = []
    for zone in contact_zones(timings, contact):
        ends = [end for start, end in _intervals(timings, zone, when, 2) if start <= when < end]
        if not ends:
            return None
        closes.append(min(ends))
    return min(closes)


def next_contactable(
    timings: ContactableTimings, contact: Contact | None, when: datetime
) -> datetime | None:
    """The earliest instant >= when at which the contact may be called (None if the windows
    never open within a week, which validation makes impossible for a single zone)."""
    zones = contact_zones(timings, contact)
    per_zone = [_intervals(timings, zone, when, HORIZON_DAYS) for zone in zones]
    if all(_open_in(iv, when) for iv in per_zone):
        return when
    # The intersection opens either now or at some zone's window start.
    starts = sorted({start for iv in per_zone for start, _ in iv if start > when})
    for candidate in starts:
        if all(_open_in(iv, candidate) for iv in per_zone):
            return candidate
    return None
