"""Campaign/contact validation: each rule reports exactly the offending field."""

from datetime import date, time
from typing import Any

import msgpack
import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from cluster.models import (
    Campaign,
    CampaignStatus,
    Contact,
    ContactableTimings,
    DialingMode,
    DialingOrder,
    MonthDayOverflow,
    Recurrence,
    RecurrenceFrequency,
    Schedule,
    TimeWindow,
    Weekday,
    field_violations,
)
from cluster.phone import InvalidPhoneNumber, default_region, normalize_e164


def window(start: str, end: str) -> dict[str, str]:
    return {"start": start, "end": end}


def timings(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "timezone": "America/New_York",
        "windows": {
            "mon": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}],
            "fri": [{"start": "09:00", "end": "17:00"}],
        },
    }
    return {**data, **overrides}


def campaign_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Spring renewals",
        "description": "Renewal reminders",
        "contact_list_ids": ["list-1", "list-2"],
        "dnc_list_id": "dnc-1",
        "priority": 3,
        "dialing_mode": "agentless",
        "start_flow_id": "flow-1",
        "pacing": 25,
        "amd_enabled": True,
        "caller_id": "(212) 555-0100",
        "dialing_order": "newest_first",
        "max_attempts": 5,
        "retry_period_minutes": 120,
        "max_ring_time_seconds": 25,
        "contactable_timings": timings(),
        "schedule": {
            "start": "2030-03-01T09:00",
            "end": "2030-06-01T18:00",
            "recurrence": {
                "frequency": "weekly",
                "interval": 2,
                "weekdays": ["mon", "fri"],
                "start_time": "10:00",
                "end_time": "16:00",
                "until": "2030-05-31",
            },
        },
    }
    return {**data, **overrides}


def violations(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as raised:
        Campaign.model_validate(data)
    return field_violations(raised.value)


def violated_paths(data: dict[str, Any]) -> list[str]:
    return [path for path, _ in violations(data)]


# Valid campaigns --------------------------------------------------------------------------


def test_valid_campaign_round_trips_through_a_record() -> None:
    campaign = Campaign.model_validate(campaign_data())
    record = campaign.to_record()
    assert Campaign.from_record(record) == campaign
    unpacked = msgpack.unpackb(msgpack.packb(record))
    assert Campaign.from_record(unpacked) == campaign


def test_valid_campaign_is_normalised() -> None:
    campaign = Campaign.model_validate(campaign_data(name="  Spring renewals  "))
    assert campaign.name == "Spring renewals"
    assert campaign.caller_id == "+12125550100"
    assert campaign.dialing_mode is DialingMode.AGENTLESS
    assert campaign.dialing_order is DialingOrder.NEWEST_FIRST
    assert campaign.contactable_timings.windows[Weekday.MON][1].start == time(13)
    assert campaign.is_scheduled


def test_defaults() -> None:
    minimal = Campaign(
        name="Minimal",
        contact_list_ids=["list-1"],
        dialing_mode=DialingMode.PROGRESSIVE,
        queue_id="queue-1",
        caller_id="+12125550100",
        contactable_timings=ContactableTimings.default(),
    )
    assert minimal.id == ""
    assert minimal.tenant == "default"
    assert minimal.priority == 5
    assert minimal.pacing == 10
    assert minimal.max_attempts == 3
    assert minimal.retry_period_minutes == 60
    assert minimal.max_ring_time_seconds == 30
    assert minimal.dialing_order is DialingOrder.LIST_ORDER
    assert minimal.status is CampaignStatus.READY
    assert minimal.run_instance == 0
    assert minimal.schedule is None and not minimal.is_scheduled


def test_record_is_plain_json_types() -> None:
    record = Campaign.model_validate(campaign_data()).to_record()
    assert record["contactable_timings"]["windows"]["mon"][0] == {"start": "09:00", "end": "12:00"}
    assert record["schedule"]["start"] == "2030-03-01T09:00:00"
    assert record["schedule"]["recurrence"]["until"] == "2030-05-31"
    assert record["status"] == "ready"


def test_schedule_timezone_defaults_to_contactable_timings_timezone() -> None:
    campaign = Campaign.model_validate(campaign_data())
    assert campaign.schedule is not None
    assert campaign.schedule.timezone == "America/New_York"


def test_explicit_schedule_timezone_is_kept() -> None:
    data = campaign_data()
    data["schedule"] = {**data["schedule"], "timezone": "Europe/London"}
    campaign = Campaign.model_validate(data)
    assert campaign.schedule is not None
    assert campaign.schedule.timezone == "Europe/London"


def test_caller_id_uses_the_validation_context_region() -> None:
    campaign = Campaign.model_validate(
        campaign_data(caller_id="020 7946 0958"), context={"default_region": "GB"}
    )
    assert campaign.caller_id == "+442079460958"


def test_caller_id_region_defaults_to_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("DIALER_DEFAULT_REGION", "gb")
    assert default_region() == "GB"
    campaign = Campaign.model_validate(campaign_data(caller_id="020 7946 0958"))
    assert campaign.caller_id == "+442079460958"


def test_default_region_without_environment(monkeypatch) -> None:
    monkeypatch.delenv("DIALER_DEFAULT_REGION", raising=False)
    assert default_region() == "US"


# Each rule names exactly its field ---------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"caller_id": "12345"}, "caller_id"),
        ({"priority": 0}, "priority"),
        ({"priority": 6}, "priority"),
        ({"start_flow_id": None}, "start_flow_id"),
        ({"start_flow_id": "   "}, "start_flow_id"),
        ({"dialing_mode": "progressive"}, "queue_id"),
        ({"dialing_mode": "progressive", "queue_id": ""}, "queue_id"),
        ({"dialing_mode": "robocall"}, "dialing_mode"),
        ({"dialing_mode": "predictive", "safe_harbor_flow_id": "sh"}, "queue_id"),
        ({"dialing_mode": "predictive", "queue_id": "q"}, "safe_harbor_flow_id"),
        ({"dialing_mode": "power", "queue_id": "q"}, "safe_harbor_flow_id"),
        ({"abandon_target": 0.031}, "abandon_target"),
        ({"abandon_target": 0}, "abandon_target"),
        ({"power_ratio": 0.5}, "power_ratio"),
        ({"preview_timeout_seconds": 2}, "preview_timeout_seconds"),
        ({"compliance_regime": "fr"}, "compliance_regime"),
        ({"amd_false_positive_rate": 1.5}, "amd_false_positive_rate"),
        ({"max_ring_time_seconds": 14}, "max_ring_time_seconds"),
        ({"max_ring_time_seconds": 121}, "max_ring_time_seconds"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 21}, "max_attempts"),
        ({"pacing": 0}, "pacing"),
        ({"retry_period_minutes": 10081}, "retry_period_minutes"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"description": "x" * 2001}, "description"),
        (
            {"contactable_timings": timings(timezone="Mars/Base")},
            "contactable_timings.timezone",
        ),
        (
            {
                "contactable_timings": timings(
                    windows={
                        "mon": [
                            {"start": "09:00", "end": "12:00"},
                            {"start": "11:30", "end": "14:00"},
                        ]
                    }
                )
            },
            "contactable_timings.windows.mon",
        ),
        (
            {"contactable_timings": timings(windows={"tue": [window("09:00", "09:00")]})},
            "contactable_timings.windows.tue.0.end",
        ),
        (
            {
                "contactable_timings": timings(
                    windows={"wed": [{"start": "09:00:30", "end": "10:00"}]}
                )
            },
            "contactable_timings.windows.wed.0.start",
        ),
        ({"contactable_timings": timings(windows={"mon": []})}, "contactable_timings.windows"),
        ({"contactable_timings": timings(windows={})}, "contactable_timings.windows"),
        (
            {"schedule": {"start": "2030-03-01T09:00", "end": "2030-02-01T09:00"}},
            "schedule.end",
        ),
        (
            {"schedule": {"start": "2030-03-01T09:00", "end": "2030-03-01T09:00"}},
            "schedule.end",
        ),
        ({"schedule": {"start": "2030-03-01T09:00+01:00"}}, "schedule.start"),
        ({"schedule": {"start": "2030-03-01T09:00", "timezone": "Nowhere"}}, "schedule.timezone"),
        (
            {
                "schedule": {
                    "start": "2030-03-01T09:00",
                    "recurrence": {
                        "frequency": "weekly",
                        "start_time": "09:00",
                        "end_time": "17:00",
                    },
                }
            },
            "schedule.recurrence.weekdays",
        ),
        ({"bogus": 1}, "bogus"),
        ({"contact_list_ids": []}, "contact_list_ids"),
        ({"contact_list_ids": ["list-1", "list-2", "list-1"]}, "contact_list_ids"),
    ],
)
def test_each_rule_names_exactly_the_offending_field(overrides, path) -> None:
    assert violated_paths(campaign_data(**overrides)) == [path]


def test_unknown_nested_field_is_named() -> None:
    data = campaign_data(contactable_timings=timings(holidays=[]))
    assert violated_paths(data) == ["contactable_timings.holidays"]


def test_messages_say_what_is_wrong() -> None:
    [(_, zone)] = violations(campaign_data(contactable_timings=timings(timezone="Mars/Base")))
    assert "Mars/Base" in zone
    [(_, ring)] = violations(campaign_data(max_ring_time_seconds=14))
    assert "15" in ring and "US" in ring and "UK" in ring
    [(_, caller)] = violations(campaign_data(caller_id="12345"))
    assert caller == "not a valid phone number for region US: '12345'"
    [(_, duplicate)] = violations(campaign_data(contact_list_ids=["a", "b", "a"]))
    assert "a" in duplicate


def test_several_violations_are_all_reported() -> None:
    paths = violated_paths(campaign_data(priority=0, max_attempts=0, caller_id="1"))
    assert sorted(paths) == ["caller_id", "max_attempts", "priority"]


# Time windows, timings and recurrences ------------------------------------------------------


def test_window_may_cross_midnight() -> None:
    window = TimeWindow.model_validate({"start": "22:00", "end": "02:00"})
    assert window.crosses_midnight
    assert not TimeWindow(start=time(9), end=time(17)).crosses_midnight


def test_a_midnight_crossing_window_overlaps_a_later_one_the_same_day() -> None:
    with pytest.raises(ValidationError):
        ContactableTimings.model_validate(
            timings(windows={"mon": [window("20:00", "02:00"), window("23:00", "23:30")]})
        )
    ContactableTimings.model_validate(
        timings(windows={"mon": [window("22:00", "02:00"), window("01:00", "03:00")]})
    )


def test_adjacent_windows_do_not_overlap() -> None:
    ContactableTimings.model_validate(
        timings(windows={"mon": [window("12:00", "18:00"), window("09:00", "12:00")]})
    )


def test_default_contactable_timings_are_weekday_office_hours() -> None:
    default = ContactableTimings.default("Europe/London")
    assert default.timezone == "Europe/London"
    assert set(default.windows) == {Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI}
    assert all(w == [TimeWindow(start=time(9), end=time(18))] for w in default.windows.values())
    assert not default.use_contact_timezone


def test_weekday_maps_to_python_weekday_index() -> None:
    assert [day.weekday_index for day in Weekday] == list(range(7))
    assert Weekday.from_index(6) is Weekday.SUN
    assert Weekday.of(date(2030, 3, 1)) is Weekday.FRI


def test_recurrence_rules() -> None:
    monthly = Recurrence.model_validate(
        {"frequency": "monthly", "month_day": 31, "start_time": "22:00", "end_time": "01:00"}
    )
    assert monthly.month_day_overflow is MonthDayOverflow.LAST_DAY
    assert monthly.interval == 1
    daily = Recurrence(frequency=RecurrenceFrequency.DAILY, start_time=time(9), end_time=time(17))
    assert daily.weekdays == []

    def paths(data: dict[str, Any]) -> list[str]:
        with pytest.raises(ValidationError) as raised:
            Recurrence.model_validate({"start_time": "09:00", "end_time": "17:00", **data})
        return [path for path, _ in field_violations(raised.value)]

    assert paths({"frequency": "daily", "weekdays": ["mon"]}) == ["weekdays"]
    assert paths({"frequency": "weekly", "weekdays": ["mon", "mon"]}) == ["weekdays"]
    assert paths({"frequency": "weekly", "weekdays": ["mon"], "month_day": 3}) == ["month_day"]
    assert paths({"frequency": "monthly", "month_day": 32}) == ["month_day"]
    assert paths({"frequency": "daily", "interval": 0}) == ["interval"]
    assert paths({"frequency": "daily", "end_time": "09:00"}) == ["end_time"]


def test_schedule_rejects_offset_aware_times_with_a_clear_message() -> None:
    with pytest.raises(ValidationError) as raised:
        Schedule.model_validate({"start": "2030-03-01T09:00:00Z"})
    [(path, message)] = field_violations(raised.value)
    assert path == "start"
    assert "naive" in message


# Contacts and phone numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(212) 555-0100", "US", "+12125550100"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("00 44 20 7946 0958", "US", "+442079460958"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("  +1 212 555 0100  ", "GB", "+12125550100"),
    ],
)
def test_contact_phone_is_normalised(raw, region, expected) -> None:
    contact = Contact.parse({"id": "c1", "phone": raw}, default_region=region)
    assert contact.phone == expected


def test_invalid_contact_phone_names_the_field() -> None:
    with pytest.raises(ValidationError) as raised:
        Contact.parse({"id": "c1", "phone": "12345"}, default_region="US")
    assert field_violations(raised.value) == [
        ("phone", "not a valid phone number for region US: '12345'")
    ]


def test_contact_rules() -> None:
    with pytest.raises(ValidationError) as raised:
        Contact.parse(
            {"id": " ", "phone": "+12125550100", "timezone": "Atlantis/City", "age": 3}, "US"
        )
    assert sorted(path for path, _ in field_violations(raised.value)) == ["age", "id", "timezone"]


def test_contact_round_trips_through_a_record() -> None:
    contact = Contact.parse(
        {
            "id": "c1",
            "phone": "(212) 555-0100",
            "name": "Ada",
            "timezone": "America/Chicago",
            "fields": {"plan": "gold"},
        },
        "US",
    )
    assert Contact.from_record(contact.to_record()) == contact
    assert contact.to_record()["phone"] == "+12125550100"


def test_normalize_rejects_missing_and_invalid_numbers() -> None:
    with pytest.raises(InvalidPhoneNumber, match="missing phone number"):
        normalize_e164("   ")
    with pytest.raises(InvalidPhoneNumber, match="region GB"):
        normalize_e164("(212) 555-0100", "GB")
    with pytest.raises(InvalidPhoneNumber):
        normalize_e164("2125550100", "ZZ")
    assert issubclass(InvalidPhoneNumber, ValueError)


us_numbers = st.builds(
    lambda npa, exchange, line, style: style.format(npa=npa, exchange=exchange, line=line),
    st.integers(201, 989).filter(lambda npa: npa % 100 != 11),
    st.integers(200, 999),
    st.integers(0, 9999).map(lambda line: f"{line:04d}"),
    st.sampled_from(
        ["({npa}) {exchange}-{line}", "{npa}.{exchange}.{line}", "+1 {npa} {exchange} {line}"]
    ),
)


@given(us_numbers)
def test_normalize_is_idempotent_on_its_own_output(raw: str) -> None:
    assume(phonenumbers.is_valid_number(phonenumbers.parse(raw, "US")))
    e164 = normalize_e164(raw, "US")
    assert e164.startswith("+1") and len(e164) == 12
    assert normalize_e164(e164, "US") == e164
    assert normalize_e164(e164, "GB") == e164
