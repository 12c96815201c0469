import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CampaignStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMPAIGN_STATUS_UNSPECIFIED: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_READY: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_SCHEDULED: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_ACTIVE: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_PAUSED: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_COMPLETED: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_STOPPED: _ClassVar[CampaignStatus]

class DialingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIALING_MODE_UNSPECIFIED: _ClassVar[DialingMode]
    DIALING_MODE_AGENTLESS: _ClassVar[DialingMode]
    DIALING_MODE_PROGRESSIVE: _ClassVar[DialingMode]
    DIALING_MODE_PREDICTIVE: _ClassVar[DialingMode]
    DIALING_MODE_POWER: _ClassVar[DialingMode]
    DIALING_MODE_PREVIEW: _ClassVar[DialingMode]

class ComplianceRegime(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPLIANCE_REGIME_UNSPECIFIED: _ClassVar[ComplianceRegime]
    COMPLIANCE_REGIME_US: _ClassVar[ComplianceRegime]
    COMPLIANCE_REGIME_UK: _ClassVar[ComplianceRegime]

class DialingOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIALING_ORDER_UNSPECIFIED: _ClassVar[DialingOrder]
    DIALING_ORDER_LIST_ORDER: _ClassVar[DialingOrder]
    DIALING_ORDER_RANDOM: _ClassVar[DialingOrder]
    DIALING_ORDER_NEWEST_FIRST: _ClassVar[DialingOrder]

class Weekday(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WEEKDAY_UNSPECIFIED: _ClassVar[Weekday]
    WEEKDAY_MONDAY: _ClassVar[Weekday]
    WEEKDAY_TUESDAY: _ClassVar[Weekday]
    WEEKDAY_WEDNESDAY: _ClassVar[Weekday]
    WEEKDAY_THURSDAY: _ClassVar[Weekday]
    WEEKDAY_FRIDAY: _ClassVar[Weekday]
    WEEKDAY_SATURDAY: _ClassVar[Weekday]
    WEEKDAY_SUNDAY: _ClassVar[Weekday]

class RecurrenceFrequency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECURRENCE_FREQUENCY_UNSPECIFIED: _ClassVar[RecurrenceFrequency]
    RECURRENCE_FREQUENCY_DAILY: _ClassVar[RecurrenceFrequency]
    RECURRENCE_FREQUENCY_WEEKLY: _ClassVar[RecurrenceFrequency]
    RECURRENCE_FREQUENCY_MONTHLY: _ClassVar[RecurrenceFrequency]
    RECURRENCE_FREQUENCY_YEARLY: _ClassVar[RecurrenceFrequency]

class MonthDayOverflow(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MONTH_DAY_OVERFLOW_UNSPECIFIED: _ClassVar[MonthDayOverflow]
    MONTH_DAY_OVERFLOW_SKIP: _ClassVar[MonthDayOverflow]
    MONTH_DAY_OVERFLOW_LAST_DAY: _ClassVar[MonthDayOverflow]
CAMPAIGN_STATUS_UNSPECIFIED: CampaignStatus
CAMPAIGN_STATUS_READY: CampaignStatus
CAMPAIGN_STATUS_SCHEDULED: CampaignStatus
CAMPAIGN_STATUS_ACTIVE: CampaignStatus
CAMPAIGN_STATUS_PAUSED: CampaignStatus
CAMPAIGN_STATUS_COMPLETED: CampaignStatus
CAMPAIGN_STATUS_STOPPED: CampaignStatus
DIALING_MODE_UNSPECIFIED: DialingMode
DIALING_MODE_AGENTLESS: DialingMode
DIALING_MODE_PROGRESSIVE: DialingMode
DIALING_MODE_PREDICTIVE: DialingMode
DIALING_MODE_POWER: DialingMode
DIALING_MODE_PREVIEW: DialingMode
COMPLIANCE_REGIME_UNSPECIFIED: ComplianceRegime
COMPLIANCE_REGIME_US: ComplianceRegime
COMPLIANCE_REGIME_UK: ComplianceRegime
DIALING_ORDER_UNSPECIFIED: DialingOrder
DIALING_ORDER_LIST_ORDER: DialingOrder
DIALING_ORDER_RANDOM: DialingOrder
DIALING_ORDER_NEWEST_FIRST: DialingOrder
WEEKDAY_UNSPECIFIED: Weekday
WEEKDAY_MONDAY: Weekday
WEEKDAY_TUESDAY: Weekday
WEEKDAY_WEDNESDAY: Weekday
WEEKDAY_THURSDAY: Weekday
WEEKDAY_FRIDAY: Weekday
WEEKDAY_SATURDAY: Weekday
WEEKDAY_SUNDAY: Weekday
RECURRENCE_FREQUENCY_UNSPECIFIED: RecurrenceFrequency
RECURRENCE_FREQUENCY_DAILY: RecurrenceFrequency
RECURRENCE_FREQUENCY_WEEKLY: RecurrenceFrequency
RECURRENCE_FREQUENCY_MONTHLY: RecurrenceFrequency
RECURRENCE_FREQUENCY_YEARLY: RecurrenceFrequency
MONTH_DAY_OVERFLOW_UNSPECIFIED: MonthDayOverflow
MONTH_DAY_OVERFLOW_SKIP: MonthDayOverflow
MONTH_DAY_OVERFLOW_LAST_DAY: MonthDayOverflow

class TimeWindow(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class DayWindows(_message.Message):
    __slots__ = ("day", "windows")
    DAY_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    day: Weekday
    windows: _containers.RepeatedCompositeFieldContainer[TimeWindow]
    def __init__(self, day: _Optional[_Union[Weekday, str]] = ..., windows: _Optional[_Iterable[_Union[TimeWindow, _Mapping]]] = ...) -> None: ...

class ContactableTimings(_message.Message):
    __slots__ = ("timezone", "days", "use_contact_timezone")
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    USE_CONTACT_TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    timezone: str
    days: _containers.RepeatedCompositeFieldContainer[DayWindows]
    use_contact_timezone: bool
    def __init__(self, timezone: _Optional[str] = ..., days: _Optional[_Iterable[_Union[DayWindows, _Mapping]]] = ..., use_contact_timezone: _Optional[bool] = ...) -> None: ...

class Recurrence(_message.Message):
    __slots__ = ("frequency", "interval", "weekdays", "month_day", "month_day_overflow", "start_time", "end_time", "until")
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    WEEKDAYS_FIELD_NUMBER: _ClassVar[int]
    MONTH_DAY_FIELD_NUMBER: _ClassVar[int]
    MONTH_DAY_OVERFLOW_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    frequency: RecurrenceFrequency
    interval: int
    weekdays: _containers.RepeatedScalarFieldContainer[Weekday]
    month_day: int
    month_day_overflow: MonthDayOverflow
    start_time: str
    end_time: str
    until: str
    def __init__(self, frequency: _Optional[_Union[RecurrenceFrequency, str]] = ..., interval: _Optional[int] = ..., weekdays: _Optional[_Iterable[_Union[Weekday, str]]] = ..., month_day: _Optional[int] = ..., month_day_overflow: _Optional[_Union[MonthDayOverflow, str]] = ..., start_time: _Optional[str] = ..., end_time: _Optional[str] = ..., until: _Optional[str] = ...) -> None: ...

class Schedule(_message.Message):
    __slots__ = ("start", "end", "timezone", "recurrence", "allow_recurrence_precedence")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    RECURRENCE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_RECURRENCE_PRECEDENCE_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    timezone: str
    recurrence: Recurrence
    allow_recurrence_precedence: bool
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ..., timezone: _Optional[str] = ..., recurrence: _Optional[_Union[Recurrence, _Mapping]] = ..., allow_recurrence_precedence: _Optional[bool] = ...) -> None: ...

class Campaign(_message.Message):
    __slots__ = ("name", "display_name", "description", "contact_lists", "dnc_list", "priority", "dialing_mode", "start_flow_id", "queue_id", "pacing", "amd_enabled", "caller_id", "dialing_order", "max_attempts", "retry_period_minutes", "max_ring_time_seconds", "contactable_timings", "schedule", "status", "run_instance", "create_time", "update_time", "occurrence", "abandon_target", "power_ratio", "preview_timeout_seconds", "safe_harbor_flow_id", "compliance_regime", "amd_false_positive_rate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CONTACT_LISTS_FIELD_NUMBER: _ClassVar[int]
    DNC_LIST_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DIALING_MODE_FIELD_NUMBER: _ClassVar[int]
    START_FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    PACING_FIELD_NUMBER: _ClassVar[int]
    AMD_ENABLED_FIELD_NUMBER: _ClassVar[int]
    CALLER_ID_FIELD_NUMBER: _ClassVar[int]
    DIALING_ORDER_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RETRY_PERIOD_MINUTES_FIELD_NUMBER: _ClassVar[int]
    MAX_RING_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CONTACTABLE_TIMINGS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RUN_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_FIELD_NUMBER: _ClassVar[int]
    ABANDON_TARGET_FIELD_NUMBER: _ClassVar[int]
    POWER_RATIO_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SAFE_HARBOR_FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_REGIME_FIELD_NUMBER: _ClassVar[int]
    AMD_FALSE_POSITIVE_RATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    contact_lists: _containers.RepeatedScalarFieldContainer[str]
    dnc_list: str
    priority: int
    dialing_mode: DialingMode
    start_flow_id: str
    queue_id: str
    pacing: int
    amd_enabled: bool
    caller_id: str
    dialing_order: DialingOrder
    max_attempts: int
    retry_period_minutes: int
    max_ring_time_seconds: int
    contactable_timings: ContactableTimings
    schedule: Schedule
    status: CampaignStatus
    run_instance: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    occurrence: Occurrence
    abandon_target: float
    power_ratio: float
    preview_timeout_seconds: int
    safe_harbor_flow_id: str
    compliance_regime: ComplianceRegime
    amd_false_positive_rate: float
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., contact_lists: _Optional[_Iterable[str]] = ..., dnc_list: _Optional[str] = ..., priority: _Optional[int] = ..., dialing_mode: _Optional[_Union[DialingMode, str]] = ..., start_flow_id: _Optional[str] = ..., queue_id: _Optional[str] = ..., pacing: _Optional[int] = ..., amd_enabled: _Optional[bool] = ..., caller_id: _Optional[str] = ..., dialing_order: _Optional[_Union[DialingOrder, str]] = ..., max_attempts: _Optional[int] = ..., retry_period_minutes: _Optional[int] = ..., max_ring_time_seconds: _Optional[int] = ..., contactable_timings: _Optional[_Union[ContactableTimings, _Mapping]] = ..., schedule: _Optional[_Union[Schedule, _Mapping]] = ..., status: _Optional[_Union[CampaignStatus, str]] = ..., run_instance: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurrence: _Optional[_Union[Occurrence, _Mapping]] = ..., abandon_target: _Optional[float] = ..., power_ratio: _Optional[float] = ..., preview_timeout_seconds: _Optional[int] = ..., safe_harbor_flow_id: _Optional[str] = ..., compliance_regime: _Optional[_Union[ComplianceRegime, str]] = ..., amd_false_positive_rate: _Optional[float] = ...) -> None: ...

class Occurrence(_message.Message):
    __slots__ = ("index", "start_time", "end_time")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    index: int
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, index: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CampaignProgress(_message.Message):
    __slots__ = ("run_instance", "total", "dialed", "in_progress", "ready", "waiting", "completed", "remaining", "outcomes", "abandon_window", "leases_unplaced")
    class OutcomesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    RUN_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DIALED_FIELD_NUMBER: _ClassVar[int]
    IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    ABANDON_WINDOW_FIELD_NUMBER: _ClassVar[int]
    LEASES_UNPLACED_FIELD_NUMBER: _ClassVar[int]
    run_instance: int
    total: int
    dialed: int
    in_progress: int
    ready: int
    waiting: int
    completed: int
    remaining: int
    outcomes: _containers.ScalarMap[str, int]
    abandon_window: AbandonWindow
    leases_unplaced: int
    def __init__(self, run_instance: _Optional[int] = ..., total: _Optional[int] = ..., dialed: _Optional[int] = ..., in_progress: _Optional[int] = ..., ready: _Optional[int] = ..., waiting: _Optional[int] = ..., completed: _Optional[int] = ..., remaining: _Optional[int] = ..., outcomes: _Optional[_Mapping[str, int]] = ..., abandon_window: _Optional[_Union[AbandonWindow, _Mapping]] = ..., leases_unplaced: _Optional[int] = ...) -> None: ...

class AbandonWindow(_message.Message):
    __slots__ = ("rate", "live_answers", "abandoned", "target_rate", "compliance_regime")
    RATE_FIELD_NUMBER: _ClassVar[int]
    LIVE_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    ABANDONED_FIELD_NUMBER: _ClassVar[int]
    TARGET_RATE_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_REGIME_FIELD_NUMBER: _ClassVar[int]
    rate: float
    live_answers: float
    abandoned: float
    target_rate: float
    compliance_regime: ComplianceRegime
    def __init__(self, rate: _Optional[float] = ..., live_answers: _Optional[float] = ..., abandoned: _Optional[float] = ..., target_rate: _Optional[float] = ..., compliance_regime: _Optional[_Union[ComplianceRegime, str]] = ...) -> None: ...

class CreateCampaignRequest(_message.Message):
    __slots__ = ("campaign", "request_id")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    request_id: str
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class GetCampaignRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class ListCampaignsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "status")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    status: CampaignStatus
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[_Union[CampaignStatus, str]] = ...) -> None: ...

class ListCampaignsResponse(_message.Message):
    __slots__ = ("campaigns", "next_page_token")
    CAMPAIGNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    campaigns: _containers.RepeatedCompositeFieldContainer[Campaign]
    next_page_token: str
    def __init__(self, campaigns: _Optional[_Iterable[_Union[Campaign, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateCampaignRequest(_message.Message):
    __slots__ = ("campaign", "update_mask", "request_id")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    update_mask: _field_mask_pb2.FieldMask
    request_id: str
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpdateCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class DeleteCampaignRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteCampaignResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CloneCampaignRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CloneCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class RunCampaignRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RunCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class PauseCampaignRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class PauseCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class ResumeCampaignRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ResumeCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class StopCampaignRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class StopCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class RerunCampaignRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RerunCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class GetCampaignProgressRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetCampaignProgressResponse(_message.Message):
    __slots__ = ("progress",)
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    progress: CampaignProgress
    def __init__(self, progress: _Optional[_Union[CampaignProgress, _Mapping]] = ...) -> None: ...

class WatchCampaignRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class WatchCampaignResponse(_message.Message):
    __slots__ = ("campaign", "progress", "observe_time")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    OBSERVE_TIME_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    progress: CampaignProgress
    observe_time: _timestamp_pb2.Timestamp
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., progress: _Optional[_Union[CampaignProgress, _Mapping]] = ..., observe_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
