"""Campaign and contact models: the validated shape of everything the dialer stores.

Every model forbids unknown fields, and every rule reports the exact field it is about, so
`field_violations` can hand the gRPC layer paths like "contactable_timings.timezone".
"""

import itertools
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cluster import phone

MIN_RING_TIME_SECONDS = 15
MAX_RING_TIME_SECONDS = 120
MAX_ABANDON_RATE = 0.03
"""The legal ceiling on abandoned / live-answered calls (US 47 CFR 64.1200(a)(7), UK Ofcom)."""
MINUTES_PER_DAY = 24 * 60


class CampaignStatus(StrEnum):
    READY = "ready"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"


class DialingMode(StrEnum):
    AGENTLESS = "agentless"
    """Calls are handed to a flow (start_flow_id); no agents involved."""
    PROGRESSIVE = "progressive"
    """One call per available agent in the queue (queue_id)."""
    PREDICTIVE = "predictive"
    """More calls than free agents, paced to hold the abandon rate under abandon_target."""
    POWER = "power"
    """A fixed number of calls (power_ratio) per free agent."""
    PREVIEW = "preview"
    """The agent sees the contact first and accepts (then the call is placed) or skips."""

    @property
    def uses_agents(self) -> bool:
        return self is not DialingMode.AGENTLESS

    @property
    def may_abandon(self) -> bool:
        """Modes that can connect a live answer to no agent (and so need a safe-harbor flow)."""
        return self in (DialingMode.PREDICTIVE, DialingMode.POWER)


class ComplianceRegime(StrEnum):
    """Whose abandoned-call rules the campaign's abandon ledger follows (docs/PACING.md)."""

    US = "us"
    """At most 3% of live answers over a rolling 30 days (or the campaign's life if shorter)."""
    UK = "uk"
    """At most 3% per calendar day in the campaign's time zone, counting an estimate of AMD
    false positives; a number whose call was abandoned waits 72 h unless an agent is
    guaranteed."""


class DialingOrder(StrEnum):
    """The order in which a run instance dials its leads."""

    LIST_ORDER = "list_order"
    """As the contacts appear in their lists."""
    RANDOM = "random"
    """Shuffled once when the run instance is seeded."""
    NEWEST_FIRST = "newest_first"
    """Most recently added contacts first ("speed to lead": fresh leads convert best)."""


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def weekday_index(self) -> int:
        """The matching `date.weekday()` value: mon=0 ... sun=6."""
        return list(Weekday).index(self)

    @classmethod
    def from_index(cls, index: int) -> "Weekday":
        """The Weekday for a `date.weekday()` value (0..6)."""
        return list(cls)[index]

    @classmethod
    def of(cls, day: date) -> "Weekday":
        return cls.from_index(day.weekday())


class RecurrenceFrequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


class MonthDayOverflow(StrEnum):
    """What a monthly occurrence on a day the month lacks (e.g. the 31st in April) does."""

    SKIP = "skip"
    """No occurrence that month."""
    LAST_DAY = "last_day"
    """Occur on the month's last day instead."""


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone: {name!r}") from None
    return name


def _check_whole_minute(value: time) -> time:
    if value.second or value.microsecond:
        raise ValueError(f"time must be a whole minute (HH:MM), got {value.isoformat()}")
    if value.tzinfo is not None:
        raise ValueError("time must not carry a time zone; zones come from the timezone field")
    return value


def _check_naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        raise ValueError(
            "must be a naive local wall time (no offset); its zone is the schedule's timezone"
        )
    return value


def _check_unique(values: list[Any]) -> list[Any]:
    duplicates = sorted({str(v) for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"duplicate entries: {', '.join(duplicates)}")
    return values


IanaTimezone = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(_check_timezone)
]
NonBlankStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
MinuteTime = Annotated[
    time,
    AfterValidator(_check_whole_minute),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
]
NaiveDatetime = Annotated[datetime, AfterValidator(_check_naive)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class TimeWindow(_Model):
    """A daily span of wall-clock time, e.g. 09:00-18:00.

    An end earlier than the start means the window crosses midnight: 22:00-02:00 on Monday
    runs from Monday 22:00 to Tuesday 02:00.
    """

    start: MinuteTime
    end: MinuteTime

    @field_validator("end")
    @classmethod
    def _end_differs_from_start(cls, end: time, info: ValidationInfo) -> time:
        if info.data.get("start") == end:
            raise ValueError("end must differ from start (an empty window)")
        return end

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def minute_span(self) -> tuple[int, int]:
        """[start, end) in minutes from the start of its day; end > 1440 when crossing midnight."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return start, end + MINUTES_PER_DAY if self.crosses_midnight else end


def _check_no_overlap(windows: list[TimeWindow]) -> list[TimeWindow]:
    spans = sorted(w.minute_span() for w in windows)
    for (_, previous_end), (next_start, _) in itertools.pairwise(spans):
        if next_start < previous_end:
            raise ValueError("time windows within a day must not overlap")
    return windows


DayWindows = Annotated[list[TimeWindow], AfterValidator(_check_no_overlap)]


class ContactableTimings(_Model):
    """When contacts may be called: per-weekday windows in a time zone."""

    timezone: IanaTimezone
    windows: dict[Weekday, DayWindows]
    use_contact_timezone: bool = False
    """Apply the windows in each contact's own time zone (Contact.timezone) where it is known,
    falling back to `timezone`; so 09:00 means 09:00 where the contact lives."""

    @field_validator("windows")
    @classmethod
    def _at_least_one_window(
        cls, windows: dict[Weekday, list[TimeWindow]]
    ) -> dict[Weekday, list[TimeWindow]]:
        if not any(windows.values()):
            raise ValueError("at least one weekday needs at least one time window")
        return windows

    @classmethod
    def default(cls, tz: str = "America/New_York") -> "ContactableTimings":
        """Business hours: Monday to Friday, 09:00-18:00 in `tz`."""
        office_hours = [TimeWindow(start=time(9), end=time(18))]
        weekdays = [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI]
        return cls(timezone=tz, windows={day: list(office_hours) for day in weekdays})


class Recurrence(_Model):
    """How a scheduled campaign repeats; each occurrence runs start_time..end_time."""

    frequency: RecurrenceFrequency
    interval: int = Field(default=1, ge=1)
    """Every N days/weeks/months/years."""
    weekdays: list[Weekday] = Field(default_factory=list, validate_default=True)
    """Weekly only, and required there: the days of the week it occurs on."""
    month_day: int | None = Field(default=None, ge=1, le=31, validate_default=True)
    """Monthly only: day of the month; None means the schedule start date's day."""
    month_day_overflow: MonthDayOverflow = MonthDayOverflow.LAST_DAY
    start_time: MinuteTime
    end_time: MinuteTime
    """End of each occurrence; earlier than start_time means it crosses midnight."""
    until: date | None = None
    """Last date an occurrence may start on (inclusive)."""

    @field_validator("weekdays")
    @classmethod
    def _weekdays_match_frequency(
        cls, weekdays: list[Weekday], info: ValidationInfo
    ) -> list[Weekday]:
        frequency = info.data.get("frequency")
        if frequency is RecurrenceFrequency.WEEKLY and not weekdays:
            raise ValueError("a weekly recurrence needs at least one weekday")
        if frequency is not None and frequency is not RecurrenceFrequency.WEEKLY and weekdays:
            raise ValueError(f"weekdays only apply to a weekly recurrence, not {frequency}")
        return _check_unique(weekdays)

    @field_validator("month_day")
    @classmethod
    def _month_day_only_monthly(cls, month_day: int | None, info: ValidationInfo) -> int | None:
        frequency = info.data.get("frequency")
        if month_day is not None and frequency not in (None, RecurrenceFrequency.MONTHLY):
            raise ValueError(f"month_day only applies to a monthly recurrence, not {frequency}")
        return month_day

    @field_validator("end_time")
    @classmethod
    def _end_differs_from_start(cls, end_time: time, info: ValidationInfo) -> time:
        if info.data.get("start_time") == end_time:
            raise ValueError("end_time must differ from start_time (an empty occurrence)")
        return end_time


class Schedule(_Model):
    """When a campaign runs on its own, instead of being started by hand.

    `start` and `end` are naive wall-clock times in `timezone`; values with an offset are
    rejected rather than converted, so a schedule always reads the way it was written.
    """

    start: NaiveDatetime
    end: NaiveDatetime | None = None
    timezone: IanaTimezone | None = None
    """None means the campaign's contactable_timings.timezone (filled in by Campaign)."""
    recurrence: Recurrence | None = None
    allow_recurrence_precedence: bool = False
    """Let the recurrence's start/end time of day override the contactable timings."""

    @field_validator("allow_recurrence_precedence")
    @classmethod
    def _precedence_needs_recurrence(cls, allow: bool, info: ValidationInfo) -> bool:
        if allow and info.data.get("recurrence") is None:
            raise ValueError("needs a recurrence (its start and end time take precedence)")
        return allow

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start")
        if end is not None and start is not None and end <= start:
            raise ValueError("end must be after start")
        return end


def _is_blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _region_from(info: ValidationInfo) -> str:
    context = info.context or {}
    return str(context.get("default_region") or phone.default_region())


class OccurrenceWindow(_Model):
    """The scheduled occurrence a run instance belongs to (UTC instants)."""

    index: int = Field(ge=0)
    start: AwareDatetime
    end: AwareDatetime | None = None
    """None: the occurrence runs until its leads are exhausted."""

    def contains(self, when: datetime) -> bool:
        return self.start <= when and (self.end is None or when < self.end)


class Campaign(_Model):
    """An outbound campaign: whom to call, how, and when."""

    OUTPUT_ONLY_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"id", "tenant", "status", "run_instance", "occurrence", "created_at", "updated_at"}
    )

    id: str = ""
    """Empty until the campaign is stored."""
    tenant: str = "default"
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    description: str = Field(default="", max_length=2000)
    contact_list_ids: Annotated[list[NonBlankStr], AfterValidator(_check_unique)] = Field(
        min_length=1
    )
    dnc_list_id: str | None = None
    priority: int = Field(default=5, ge=1, le=5)
    """1..5; campaigns with a higher priority dial first."""
    dialing_mode: DialingMode
    start_flow_id: str | None = Field(default=None, validate_default=True)
    """The flow each answered call enters; required for agentless dialing."""
    queue_id: str | None = Field(default=None, validate_default=True)
    """The agent queue; required for every mode but agentless."""
    pacing: int = Field(default=10, ge=1, le=1000)
    """Simultaneous calls (agentless)."""
    amd_enabled: bool = False
    """Answering machine detection."""
    caller_id: str
    """E.164; national formats are read in the default region and stored normalised."""
    dialing_order: DialingOrder = DialingOrder.LIST_ORDER
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_period_minutes: int = Field(default=60, ge=1, le=10080)
    max_ring_time_seconds: int = Field(default=30, le=MAX_RING_TIME_SECONDS)
    contactable_timings: ContactableTimings
    schedule: Schedule | None = None
    abandon_target: float = Field(default=MAX_ABANDON_RATE, gt=0, le=MAX_ABANDON_RATE)
    """Predictive pacing holds abandoned / live-answered calls at or under this rate."""
    power_ratio: float = Field(default=2.0, ge=1.0, le=10.0)
    """Power dialing: calls placed per free agent."""
    preview_timeout_seconds: int = Field(default=30, ge=5, le=600)
    """Preview dialing: how long an agent has to accept or skip an offered contact."""
    safe_harbor_flow_id: str | None = Field(default=None, validate_default=True)
    """The flow (or recorded audio id) a live answer gets when no agent is free within 2 s;
    required for predictive and power dialing."""
    compliance_regime: ComplianceRegime = ComplianceRegime.US
    amd_false_positive_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of machine-detected answers that were really people (UK: counted as abandoned)."""
    status: CampaignStatus = CampaignStatus.READY
    run_instance: int = Field(default=0, ge=0)
    occurrence: OccurrenceWindow | None = None
    """The last scheduled occurrence that started (scheduled campaigns only)."""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_validator("start_flow_id")
    @classmethod
    def _flow_for_agentless(cls, start_flow_id: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("dialing_mode") is DialingMode.AGENTLESS and _is_blank(start_flow_id):
            raise ValueError("required for agentless dialing")
        return start_flow_id

    @field_validator("queue_id")
    @classmethod
    def _queue_for_progressive(cls, queue_id: str | None, info: ValidationInfo) -> str | None:
        mode = info.data.get("dialing_mode")
        if isinstance(mode, DialingMode) and mode.uses_agents and _is_blank(queue_id):
            raise ValueError(f"required for {mode} dialing")
        return queue_id

    @field_validator("safe_harbor_flow_id")
    @classmethod
    def _safe_harbor_when_abandoning(cls, flow_id: str | None, info: ValidationInfo) -> str | None:
        mode = info.data.get("dialing_mode")
        if isinstance(mode, DialingMode) and mode.may_abandon and _is_blank(flow_id):
            raise ValueError(
                f"required for {mode} dialing: a live answer no agent takes within 2 s"
                " must hear the recorded safe-harbor message"
            )
        return flow_id

    @field_validator("caller_id")
    @classmethod
    def _normalise_caller_id(cls, caller_id: str, info: ValidationInfo) -> str:
        return phone.normalize_e164(caller_id, _region_from(info))

    @field_validator("max_ring_time_seconds")
    @classmethod
    def _ring_time_floor(cls, seconds: int) -> int:
        if seconds < MIN_RING_TIME_SECONDS:
            raise ValueError(
                f"must be at least {MIN_RING_TIME_SECONDS} seconds"
                " (the US and UK minimum before abandoning an unanswered call)"
            )
        return seconds

    @model_validator(mode="after")
    def _schedule_timezone_defaults_to_timings(self) -> Self:
        if self.schedule is not None and self.schedule.timezone is None:
            self.schedule = self.schedule.model_copy(
                update={"timezone": self.contactable_timings.timezone}
            )
        return self

    @property
    def is_scheduled(self) -> bool:
        return self.schedule is not None

    def to_record(self) -> dict[str, Any]:
        """A plain, msgpack-friendly dict (JSON types only)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Campaign":
        return cls.model_validate(record)


class Contact(_Model):
    """One person to call. Validate with `Contact.parse` to choose the phone region."""

    id: NonBlankStr
    phone: str
    """E.164; national formats are read in the context's default_region."""
    name: str | None = None
    timezone: IanaTimezone | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    """Free-form custom fields (e.g. for flow variables)."""

    @field_validator("phone")
    @classmethod
    def _normalise_phone(cls, value: str, info: ValidationInfo) -> str:
        return phone.normalize_e164(value, _region_from(info))

    @classmethod
    def parse(cls, data: dict[str, Any], default_region: str) -> "Contact":
        return cls.model_validate(data, context={"default_region": default_region})

    def to_record(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Contact":
        """A contact as stored: it was validated when written, so it is not parsed again (the
        dialer reads one per lead; re-parsing its phone cost more than the rest of a lease)."""
        return cls.model_construct(**record)


def field_violations(exc: ValidationError) -> list[tuple[str, str]]:
    """(dotted field path, message) for each error, e.g. ("contactable_timings.timezone", ...)."""
    violations = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"])
        cause = error.get("ctx", {}).get("error")
        message = str(cause) if error["type"] == "value_error" and cause else error["msg"]
        violations.append((path, message))
    return violations
