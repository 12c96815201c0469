"""Contactable windows: pure functions of (timings, contact, instant); no Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cluster.models import Contact, ContactableTimings
from cluster.windows import contact_zones, is_contactable, next_contactable, window_closes

NEW_YORK = "America/New_York"
# 2026-01-05 is a Monday; New York is on EST (UTC-5) then, London on GMT (UTC+0).
MONDAY = datetime(2026, 1, 5, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def timings(
    windows: dict[str, list[dict[str, str]]],
    timezone: str = NEW_YORK,
    use_contact_timezone: bool = False,
) -> ContactableTimings:
    data: dict[str, Any] = {
        "timezone": timezone,
        "windows": windows,
        "use_contact_timezone": use_contact_timezone,
    }
    return ContactableTimings.model_validate(data)


def contact(phone: str = "+12125550100", timezone: str | None = None) -> Contact:
    return Contact(id="c1", phone=phone, timezone=timezone)


MON_9_TO_18 = {"mon": [{"start": "09:00", "end": "18:00"}]}


# Inside / outside a plain window ---------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (utc(2026, 1, 5, 13, 59), False),  # 08:59 EST
        (utc(2026, 1, 5, 14, 0), True),  # 09:00 EST: the start is included
        (utc(2026, 1, 5, 18, 30), True),  # 13:30 EST
        (utc(2026, 1, 5, 22, 59), True),  # 17:59 EST
        (utc(2026, 1, 5, 23, 0), False),  # 18:00 EST: the end is excluded
        (utc(2026, 1, 6, 15, 0), False),  # Tuesday 10:00 EST: no Tuesday window
        (utc(2026, 1, 4, 15, 0), False),  # Sunday 10:00 EST
    ],
)
def test_monday_window_in_new_york(when: datetime, expected: bool) -> None:
    assert is_contactable(timings(MON_9_TO_18), None, when) is expected


def test_next_contactable_from_sunday_is_monday_nine_local() -> None:
    sunday_noon = utc(2026, 1, 4, 12, 0)
    assert next_contactable(timings(MON_9_TO_18), None, sunday_noon) == utc(2026, 1, 5, 14, 0)


def test_next_contactable_inside_a_window_is_now() -> None:
    inside = utc(2026, 1, 5, 15, 17, 3)
    assert next_contactable(timings(MON_9_TO_18), None, inside) == inside


def test_next_contactable_after_the_last_window_of_the_week_is_next_week() -> None:
    monday_evening = utc(2026, 1, 5, 23, 30)  # 18:30 EST, just closed
    assert next_contactable(timings(MON_9_TO_18), None, monday_evening) == utc(2026, 1, 12, 14)


def test_next_contactable_picks_the_earliest_of_several_windows() -> None:
    t = timings(
        {
            "mon": [{"start": "09:00", "end": "12:00"}, {"start": "14:00", "end": "18:00"}],
            "wed": [{"start": "10:00", "end": "11:00"}],
        }
    )
    lunch = utc(2026, 1, 5, 18, 0)  # 13:00 EST, between the two Monday windows
    assert next_contactable(t, None, lunch) == utc(2026, 1, 5, 19, 0)
    after = utc(2026, 1, 5, 23, 0)  # 18:00 EST Monday
    assert next_contactable(t, None, after) == utc(2026, 1, 7, 15, 0)  # Wednesday 10:00 EST


# A window crossing midnight --------------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (utc(2026, 1, 6, 2, 59), False),  # Monday 21:59 EST
        (utc(2026, 1, 6, 3, 0), True),  # Monday 22:00 EST
        (utc(2026, 1, 6, 6, 0), True),  # Tuesday 01:00 EST
        (utc(2026, 1, 6, 7, 0), False),  # Tuesday 02:00 EST: the end is excluded
        (utc(2026, 1, 6, 8, 0), False),  # Tuesday 03:00 EST
        (utc(2026, 1, 5, 6, 0), False),  # Monday 01:00 EST: Sunday has no window
    ],
)
def test_window_crossing_midnight(when: datetime, expected: bool) -> None:
    t = timings({"mon": [{"start": "22:00", "end": "02:00"}]})
    assert is_contactable(t, None, when) is expected


def test_next_contactable_for_a_window_crossing_midnight() -> None:
    t = timings({"mon": [{"start": "22:00", "end": "02:00"}]})
    assert next_contactable(t, None, utc(2026, 1, 5, 20)) == utc(2026, 1, 6, 3)
    inside_on_tuesday = utc(2026, 1, 6, 6, 30)
    assert next_contactable(t, None, inside_on_tuesday) == inside_on_tuesday
    assert next_contactable(t, None, utc(2026, 1, 6, 8)) == utc(2026, 1, 13, 3)


def test_window_closes_at_the_end_of_the_open_window_across_midnight() -> None:
    t = timings({"mon": [{"start": "22:00", "end": "02:00"}]})
    assert window_closes(t, None, utc(2026, 1, 6, 6, 30)) == utc(2026, 1, 6, 7)
    assert window_closes(t, None, utc(2026, 1, 6, 7)) is None


def test_window_closes_first_in_the_zone_that_closes_first() -> None:
    t = timings(MON_9_TO_18, use_contact_timezone=True)
    idaho = contact(phone="+12085550123")  # Mountain (Boise) and Pacific time
    # 18:00 MST is 01:00 UTC; 18:00 PST is 02:00 UTC: Boise closes first.
    assert window_closes(t, idaho, utc(2026, 1, 5, 20)) == utc(2026, 1, 6, 1)


# Daylight saving time --------------------------------------------------------------------
def test_spring_forward_moves_the_window_to_edt() -> None:
    t = timings(MON_9_TO_18)
    # Clocks went forward on Sunday 2026-03-08: Monday 09:00 EDT is 13:00 UTC.
    assert not is_contactable(t, None, utc(2026, 3, 9, 12, 59))
    assert is_contactable(t, None, utc(2026, 3, 9, 13, 0))
    assert is_contactable(t, None, utc(2026, 3, 9, 21, 59))
    assert not is_contactable(t, None, utc(2026, 3, 9, 22, 0))
    # Computed from the Friday before the change, too.
    assert next_contactable(t, None, utc(2026, 3, 6, 23)) == utc(2026, 3, 9, 13, 0)


def test_fall_back_moves_the_window_to_est() -> None:
    t = timings(MON_9_TO_18)
    # Clocks went back on Sunday 2026-11-01: Monday 09:00 EST is 14:00 UTC.
    assert not is_contactable(t, None, utc(2026, 11, 2, 13, 30))
    assert is_contactable(t, None, utc(2026, 11, 2, 14, 0))
    assert not is_contactable(t, None, utc(2026, 11, 2, 23, 0))
    assert next_contactable(t, None, utc(2026, 11, 1, 12)) == utc(2026, 11, 2, 14, 0)


# The contact's own time zone -------------------------------------------------------------
def test_contact_timezone_field_is_used_when_asked() -> None:
    in_london = timings(MON_9_TO_18, use_contact_timezone=True)
    londoner = contact(timezone="Europe/London")
    nine_thirty_london = utc(2026, 1, 5, 9, 30)  # 04:30 in New York
    assert contact_zones(in_london, londoner) == ("Europe/London",)
    assert is_contactable(in_london, londoner, nine_thirty_london)
    assert not is_contactable(in_london, londoner, utc(2026, 1, 5, 19, 0))  # 19:00 London
    assert next_contactable(in_london, londoner, utc(2026, 1, 4, 12)) == utc(2026, 1, 5, 9)
    # Without use_contact_timezone the campaign's zone decides.
    in_new_york = timings(MON_9_TO_18)
    assert contact_zones(in_new_york, londoner) == (NEW_YORK,)
    assert not is_contactable(in_new_york, londoner, nine_thirty_london)


def test_uk_number_without_a_timezone_maps_to_london() -> None:
    t = timings(MON_9_TO_18, use_contact_timezone=True)
    uk = contact(phone="+442079460000")
    assert contact_zones(t, uk) == ("Europe/London",)
    assert is_contactable(t, uk, utc(2026, 1, 5, 9, 0))
    assert not is_contactable(t, uk, utc(2026, 1, 5, 18, 0))
    assert next_contactable(t, uk, utc(2026, 1, 5, 8, 0)) == utc(2026, 1, 5, 9, 0)


def test_new_york_number_maps_to_new_york_even_for_a_london_campaign() -> None:
    t = timings(MON_9_TO_18, timezone="Europe/London", use_contact_timezone=True)
    nyc = contact(phone="+12125550100")
    assert contact_zones(t, nyc) == (NEW_YORK,)
    assert not is_contactable(t, nyc, utc(2026, 1, 5, 10, 0))  # 10:00 London, 05:00 NY
    assert is_contactable(t, nyc, utc(2026, 1, 5, 15, 0))


def test_number_in_several_zones_needs_the_window_open_in_all() -> None:
    t = timings(MON_9_TO_18, use_contact_timezone=True)
    idaho = contact(phone="+12085550123")  # area code 208 spans Mountain and Pacific time
    assert set(contact_zones(t, idaho)) == {"America/Boise", "America/Los_Angeles"}
    # 09:00 MST is 16:00 UTC; 09:00 PST is 17:00 UTC. 18:00 MST is 01:00 UTC Tuesday.
    assert not is_contactable(t, idaho, utc(2026, 1, 5, 16, 30))  # open in Boise only
    assert is_contactable(t, idaho, utc(2026, 1, 5, 17, 0))
    assert is_contactable(t, idaho, utc(2026, 1, 6, 0, 59))
    assert not is_contactable(t, idaho, utc(2026, 1, 6, 1, 30))  # open in Los Angeles only
    assert next_contactable(t, idaho, utc(2026, 1, 5, 16, 0)) == utc(2026, 1, 5, 17, 0)
    assert next_contactable(t, idaho, utc(2026, 1, 6, 1, 30)) == utc(2026, 1, 12, 17, 0)


def test_zones_fall_back_to_the_campaign_zone() -> None:
    t = timings(MON_9_TO_18, use_contact_timezone=True)
    assert contact_zones(t, None) == (NEW_YORK,)
    unmappable = Contact.model_construct(id="c2", phone="not a number", timezone=None)
    assert contact_zones(t, unmappable) == (NEW_YORK,)
    assert is_contactable(t, unmappable, utc(2026, 1, 5, 14, 0))


@pytest.mark.parametrize(
    "phone",
    ["+18002752273", "+18885550100", "+448001234567"],  # US and UK toll-free
)
def test_a_non_geographic_number_uses_the_campaign_zone(phone: str) -> None:
    # phonenumbers maps +1 800 to every NANP zone (Guam to Newfoundland), whose windows never
    # all open at once: the number would never be callable.
    t = timings(MON_9_TO_18, use_contact_timezone=True)
    assert contact_zones(t, contact(phone=phone)) == (NEW_YORK,)
    assert is_contactable(t, contact(phone=phone), utc(2026, 1, 5, 15, 0))


def test_next_contactable_is_never_before_when_and_always_contactable() -> None:
    t = timings(
        {
            "mon": [{"start": "09:00", "end": "12:00"}],
            "thu": [{"start": "22:00", "end": "01:30"}],
            "sat": [{"start": "10:15", "end": "10:45"}],
        }
    )
    when = MONDAY
    for _ in range(70):
        found = next_contactable(t, None, when)
        assert found is not None
        assert found >= when
        assert is_contactable(t, None, found)
        # Nothing earlier in between is open (checked on a 30 minute grid).
        probe = when
        while probe < found:
            assert not is_contactable(t, None, probe)
            probe += timedelta(minutes=30)
        when += timedelta(minutes=167)
