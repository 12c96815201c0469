"""The one place that maps between the domain (cluster/) and the dialer.v1 protobuf messages.

Servicers hand requests here and get plain dicts or domain values back, and hand domain values
here to get messages; nothing else in the project imports the generated message classes for
conversion. Validation stays in the pydantic models: this module only reshapes, and translates
the field paths of domain errors into paths of the request message (AIP-193), so a bad
`contactable_timings.windows.mon.0.start` is reported as
`campaign.contactable_timings.days[0].windows[0].start`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.abandon import AbandonBudget
from cluster.agents import Agent, AgentState
from cluster.contacts import ColumnMap, ImportReport
from cluster.dnc import DncAddResult
from cluster.errors import InvalidArgument
from cluster.leads import Progress
from cluster.listinfo import ListInfo
from cluster.models import (
    Campaign,
    CampaignStatus,
    ComplianceRegime,
    ContactableTimings,
    DialingMode,
    DialingOrder,
    MonthDayOverflow,
    RecurrenceFrequency,
    Schedule,
    Weekday,
)
from cluster.trunks import TrunkConfig
from gateway.gen.dialer.v1 import agent_service_pb2 as agent_pb
from gateway.gen.dialer.v1 import campaign_service_pb2 as campaign_pb
from gateway.gen.dialer.v1 import contact_list_service_pb2 as list_pb
from gateway.gen.dialer.v1 import dnc_list_service_pb2 as dnc_pb
from gateway.gen.dialer.v1 import trunk_service_pb2 as trunk_pb

# Resource names ------------------------------------------------------------------------------
CAMPAIGNS = "campaigns"
CONTACT_LISTS = "contactLists"
DNC_LISTS = "dncLists"
TRUNKS = "trunks"
_ID = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")


def resource_name(collection: str, resource_id: str) -> str:
    return f"{collection}/{resource_id}"


def parse_name(name: str, collection: str, field: str = "name") -> str:
    """The id in "collection/id"; InvalidArgument naming `field` otherwise."""
    prefix = f"{collection}/"
    resource_id = name[len(prefix) :] if name.startswith(prefix) else ""
    if not _ID.match(resource_id):
        raise InvalidArgument([(field, f"must be a resource name like {collection}/{{id}}")])
    return resource_id


def agent_name(queue_id: str, agent_id: str) -> str:
    return f"queues/{queue_id}/agents/{agent_id}"


def parse_agent_name(name: str, field: str = "name") -> tuple[str, str]:
    """(queue id, agent id) from "queues/{queue}/agents/{agent}"."""
    parts = name.split("/")
    if (
        len(parts) != 4
        or parts[0] != "queues"
        or parts[2] != "agents"
        or not all(_ID.match(p) for p in (parts[1], parts[3]))
    ):
        raise InvalidArgument([(field, "must be a resource name like queues/{queue}/agents/{id}")])
    return parts[1], parts[3]


def parse_queue_name(name: str, field: str = "parent") -> str:
    return parse_name(name, "queues", field)


# Error paths ---------------------------------------------------------------------------------
PathMap = Callable[[list[str]], list[str]]


def _segments(path: str) -> list[str]:
    """ "a.b[0].c" and "a.b.0.c" both become ["a", "b", "0", "c"]."""
    return [s for s in re.split(r"[.\[\]]+", path) if s]


def _join(segments: Sequence[str]) -> str:
    out = ""
    for seg in segments:
        if seg.isdigit() or seg.startswith("#"):
            out += f"[{seg.lstrip('#')}]"
        else:
            out += f".{seg}" if out else seg
    return out


@contextlib.contextmanager
def request_paths(prefix: str = "", remap: PathMap | None = None) -> Iterator[None]:
    """Re-raises InvalidArgument with field paths of the request message: domain names
    translated by `remap`, then put under `prefix` (the request field holding the resource)."""
    try:
        yield
    except InvalidArgument as exc:
        violations = []
        for path, why in exc.violations:
            segments = _segments(path)
            if remap is not None:
                segments = remap(segments)
            if prefix:
                segments = [prefix, *segments]
            violations.append((_join(segments), why))
        raise InvalidArgument(violations) from None


# Campaigns -----------------------------------------------------------------------------------
_STATUS = {
    CampaignStatus.READY: campaign_pb.CAMPAIGN_STATUS_READY,
    CampaignStatus.SCHEDULED: campaign_pb.CAMPAIGN_STATUS_SCHEDULED,
    CampaignStatus.ACTIVE: campaign_pb.CAMPAIGN_STATUS_ACTIVE,
    CampaignStatus.PAUSED: campaign_pb.CAMPAIGN_STATUS_PAUSED,
    CampaignStatus.COMPLETED: campaign_pb.CAMPAIGN_STATUS_COMPLETED,
    CampaignStatus.STOPPED: campaign_pb.CAMPAIGN_STATUS_STOPPED,
}
_MODE = {
    DialingMode.AGENTLESS: campaign_pb.DIALING_MODE_AGENTLESS,
    DialingMode.PROGRESSIVE: campaign_pb.DIALING_MODE_PROGRESSIVE,
    DialingMode.PREDICTIVE: campaign_pb.DIALING_MODE_PREDICTIVE,
    DialingMode.POWER: campaign_pb.DIALING_MODE_POWER,
    DialingMode.PREVIEW: campaign_pb.DIALING_MODE_PREVIEW,
}
_REGIME = {
    ComplianceRegime.US: campaign_pb.COMPLIANCE_REGIME_US,
    ComplianceRegime.UK: campaign_pb.COMPLIANCE_REGIME_UK,
}
_ORDER = {
    DialingOrder.LIST_ORDER: campaign_pb.DIALING_ORDER_LIST_ORDER,
    DialingOrder.RANDOM: campaign_pb.DIALING_ORDER_RANDOM,
    DialingOrder.NEWEST_FIRST: campaign_pb.DIALING_ORDER_NEWEST_FIRST,
}
_WEEKDAY = {
    Weekday.MON: campaign_pb.WEEKDAY_MONDAY,
    Weekday.TUE: campaign_pb.WEEKDAY_TUESDAY,
    Weekday.WED: campaign_pb.WEEKDAY_WEDNESDAY,
    Weekday.THU: campaign_pb.WEEKDAY_THURSDAY,
    Weekday.FRI: campaign_pb.WEEKDAY_FRIDAY,
    Weekday.SAT: campaign_pb.WEEKDAY_SATURDAY,
    Weekday.SUN: campaign_pb.WEEKDAY_SUNDAY,
}
_FREQUENCY = {
    RecurrenceFrequency.DAILY: campaign_pb.RECURRENCE_FREQUENCY_DAILY,
    RecurrenceFrequency.WEEKLY: campaign_pb.RECURRENCE_FREQUENCY_WEEKLY,
    RecurrenceFrequency.MONTHLY: campaign_pb.RECURRENCE_FREQUENCY_MONTHLY,
    RecurrenceFrequency.YEARLY: campaign_pb.RECURRENCE_FREQUENCY_YEARLY,
}
_OVERFLOW = {
    MonthDayOverflow.SKIP: campaign_pb.MONTH_DAY_OVERFLOW_SKIP,
    MonthDayOverflow.LAST_DAY: campaign_pb.MONTH_DAY_OVERFLOW_LAST_DAY,
}


def _inverse(table: Mapping[Any, int]) -> dict[int, Any]:
    return {v: k for k, v in table.items()}


_STATUS_IN = _inverse(_STATUS)
_MODE_IN = _inverse(_MODE)
_REGIME_IN = _inverse(_REGIME)
_ORDER_IN = _inverse(_ORDER)
_WEEKDAY_IN = _inverse(_WEEKDAY)
_FREQUENCY_IN = _inverse(_FREQUENCY)
_OVERFLOW_IN = _inverse(_OVERFLOW)

# proto field -> domain field, for the fields a client may set.
CAMPAIGN_FIELDS: dict[str, str] = {
    "display_name": "name",
    "description": "description",
    "contact_lists": "contact_list_ids",
    "dnc_list": "dnc_list_id",
    "priority": "priority",
    "dialing_mode": "dialing_mode",
    "start_flow_id": "start_flow_id",
    "queue_id": "queue_id",
    "pacing": "pacing",
    "amd_enabled": "amd_enabled",
    "caller_id": "caller_id",
    "dialing_order": "dialing_order",
    "max_attempts": "max_attempts",
    "retry_period_minutes": "retry_period_minutes",
    "max_ring_time_seconds": "max_ring_time_seconds",
    "contactable_timings": "contactable_timings",
    "schedule": "schedule",
    "abandon_target": "abandon_target",
    "power_ratio": "power_ratio",
    "preview_timeout_seconds": "preview_timeout_seconds",
    "safe_harbor_flow_id": "safe_harbor_flow_id",
    "compliance_regime": "compliance_regime",
    "amd_false_positive_rate": "amd_false_positive_rate",
}
CAMPAIGN_OUTPUT_ONLY = frozenset(
    {"name", "status", "run_instance", "occurrence", "create_time", "update_time"}
)
_CAMPAIGN_FIELDS_IN = {v: k for k, v in CAMPAIGN_FIELDS.items()} | {
    "id": "name",
    "status": "status",
    "run_instance": "run_instance",
    "created_at": "create_time",
    "updated_at": "update_time",
}
_TIMINGS_FIELDS_IN = {"windows": "days"}


def status_to_proto(status: CampaignStatus) -> int:
    return _STATUS[status]


def status_from_proto(value: int) -> CampaignStatus | None:
    """None for CAMPAIGN_STATUS_UNSPECIFIED (no filter)."""
    return _STATUS_IN.get(value)


def campaign_paths(pb: campaign_pb.Campaign) -> PathMap:
    """Maps a domain error path of a campaign onto the request's Campaign message."""
    day_index = {
        _WEEKDAY_IN[d.day].value: i
        for i, d in enumerate(pb.contactable_timings.days)
        if d.day in _WEEKDAY_IN
    }

    def remap(segments: list[str]) -> list[str]:
        if not segments:
            return segments
        head = [_CAMPAIGN_FIELDS_IN.get(segments[0], segments[0])]
        rest = segments[1:]
        if segments[0] == "contactable_timings" and rest:
            if rest[0] == "windows" and len(rest) > 1:
                index = day_index.get(rest[1])
                day = [f"#{index}"] if index is not None else []
                rest = ["days", *day, "windows", *rest[2:]]
            else:
                rest = [_TIMINGS_FIELDS_IN.get(rest[0], rest[0]), *rest[1:]]
        return head + rest

    return remap


def _timestamp(value: datetime | float | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    if isinstance(value, datetime):
        ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    else:
        ts.FromNanoseconds(int(value * 1e9))
    return ts


def _ms_timestamp(ms: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def timings_to_proto(timings: ContactableTimings) -> campaign_pb.ContactableTimings:
    return campaign_pb.ContactableTimings(
        timezone=timings.timezone,
        use_contact_timezone=timings.use_contact_timezone,
        days=[
            campaign_pb.DayWindows(
                day=_WEEKDAY[day],
                windows=[
                    campaign_pb.TimeWindow(
                        start=w.start.strftime("%H:%M"), end=w.end.strftime("%H:%M")
                    )
                    for w in windows
                ],
            )
            for day, windows in sorted(timings.windows.items(), key=lambda i: i[0].weekday_index)
        ],
    )


def _timings_from_proto(pb: campaign_pb.ContactableTimings) -> dict[str, Any]:
    windows: dict[str, list[dict[str, str]]] = {}
    violations = []
    for i, day in enumerate(pb.days):
        weekday = _WEEKDAY_IN.get(day.day)
        if weekday is None:
            violations.append((f"contactable_timings.days[{i}].day", "a weekday is required"))
        elif weekday.value in windows:
            violations.append((f"contactable_timings.days[{i}].day", f"{weekday} given twice"))
        else:
            windows[weekday.value] = [{"start": w.start, "end": w.end} for w in day.windows]
    if violations:
        raise InvalidArgument(violations)
    return {
        "timezone": pb.timezone,
        "windows": windows,
        "use_contact_timezone": pb.use_contact_timezone,
    }


def _schedule_to_proto(schedule: Schedule) -> campaign_pb.Schedule:
    out = campaign_pb.Schedule(
        start=schedule.start.isoformat(timespec="minutes"),
        end=schedule.end.isoformat(timespec="minutes") if schedule.end else "",
        timezone=schedule.timezone or "",
        allow_recurrence_precedence=schedule.allow_recurrence_precedence,
    )
    rec = schedule.recurrence
    if rec is not None:
        out.recurrence.CopyFrom(
            campaign_pb.Recurrence(
                frequency=_FREQUENCY[rec.frequency],
                interval=rec.interval,
                weekdays=[_WEEKDAY[d] for d in rec.weekdays],
                month_day=rec.month_day,
                month_day_overflow=_OVERFLOW[rec.month_day_overflow],
                start_time=rec.start_time.strftime("%H:%M"),
                end_time=rec.end_time.strftime("%H:%M"),
                until=rec.until.isoformat() if rec.until else "",
            )
        )
    return out


def _schedule_from_proto(pb: campaign_pb.Schedule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start": pb.start,
        "end": pb.end or None,
        "timezone": pb.timezone or None,
        "allow_recurrence_precedence": pb.allow_recurrence_precedence,
    }
    if pb.HasField("recurrence"):
        rec = pb.recurrence
        recurrence: dict[str, Any] = {
            "frequency": _FREQUENCY_IN[rec.frequency].value
            if rec.frequency in _FREQUENCY_IN
            else "",
            "interval": rec.interval or 1,
            "weekdays": [_WEEKDAY_IN[d].value if d in _WEEKDAY_IN else "" for d in rec.weekdays],
            "start_time": rec.start_time,
            "end_time": rec.end_time,
            "until": rec.until or None,
        }
        if rec.HasField("month_day"):
            recurrence["month_day"] = rec.month_day
        if rec.month_day_overflow in _OVERFLOW_IN:
            recurrence["month_day_overflow"] = _OVERFLOW_IN[rec.month_day_overflow].value
        out["recurrence"] = recurrence
    return out


def campaign_to_proto(c: Campaign) -> campaign_pb.Campaign:
    out = campaign_pb.Campaign(
        name=resource_name(CAMPAIGNS, c.id),
        display_name=c.name,
        description=c.description,
        contact_lists=[resource_name(CONTACT_LISTS, i) for i in c.contact_list_ids],
        dnc_list=resource_name(DNC_LISTS, c.dnc_list_id) if c.dnc_list_id else "",
        priority=c.priority,
        dialing_mode=_MODE[c.dialing_mode],
        start_flow_id=c.start_flow_id or "",
        queue_id=c.queue_id or "",
        pacing=c.pacing,
        amd_enabled=c.amd_enabled,
        caller_id=c.caller_id,
        dialing_order=_ORDER[c.dialing_order],
        max_attempts=c.max_attempts,
        retry_period_minutes=c.retry_period_minutes,
        max_ring_time_seconds=c.max_ring_time_seconds,
        contactable_timings=timings_to_proto(c.contactable_timings),
        abandon_target=c.abandon_target,
        power_ratio=c.power_ratio,
        preview_timeout_seconds=c.preview_timeout_seconds,
        safe_harbor_flow_id=c.safe_harbor_flow_id or "",
        compliance_regime=_REGIME[c.compliance_regime],
        amd_false_positive_rate=c.amd_false_positive_rate,
        status=_STATUS[c.status],
        run_instance=c.run_instance,
        create_time=_timestamp(c.created_at),
        update_time=_timestamp(c.updated_at),
    )
    if c.schedule is not None:
        out.schedule.CopyFrom(_schedule_to_proto(c.schedule))
    if c.occurrence is not None:
        out.occurrence.CopyFrom(
            campaign_pb.Occurrence(
                index=c.occurrence.index,
                start_time=_timestamp(c.occurrence.start),
                end_time=_timestamp(c.occurrence.end),
            )
        )
    return out


def _campaign_value(pb: campaign_pb.Campaign, field: str) -> Any:
    """The domain value of one settable proto field (zero values included)."""
    match field:
        case "contact_lists":
            return [
                parse_name(n, CONTACT_LISTS, f"contact_lists[{i}]")
                for i, n in enumerate(pb.contact_lists)
            ]
        case "dnc_list":
            return parse_name(pb.dnc_list, DNC_LISTS, "dnc_list") if pb.dnc_list else None
        case "dialing_mode":
            mode = _MODE_IN.get(pb.dialing_mode)
            return mode.value if mode else None
        case "dialing_order":
            order = _ORDER_IN.get(pb.dialing_order, DialingOrder.LIST_ORDER)
            return order.value
        case "compliance_regime":
            return _REGIME_IN.get(pb.compliance_regime, ComplianceRegime.US).value
        case "start_flow_id" | "queue_id" | "safe_harbor_flow_id":
            return getattr(pb, field) or None
        case "contactable_timings":
            return _timings_from_proto(pb.contactable_timings)
        case "schedule":
            return _schedule_from_proto(pb.schedule) if pb.HasField("schedule") else None
    return getattr(pb, field)


def campaign_spec(pb: campaign_pb.Campaign) -> dict[str, Any]:
    """A create request's campaign as domain input: fields left at their zero value take the
    domain default (so pacing 0 means the default pacing)."""
    refused = [f for f in sorted(CAMPAIGN_OUTPUT_ONLY) if _is_set(pb, f)]
    if refused:
        raise InvalidArgument([(f, "is output only") for f in refused])
    spec: dict[str, Any] = {}
    for proto_field, domain_field in CAMPAIGN_FIELDS.items():
        if _is_set(pb, proto_field):
            spec[domain_field] = _campaign_value(pb, proto_field)
    return spec


def check_campaign_mask(mask: Sequence[str]) -> None:
    """An update mask names settable Campaign fields (AIP-134), at least one."""
    if not mask:
        raise InvalidArgument([("update_mask", "name at least one field to change")])
    violations = []
    for path in mask:
        top = path.split(".", 1)[0]
        if top in CAMPAIGN_OUTPUT_ONLY:
            violations.append(("update_mask", f"{path} is output only"))
        elif top not in CAMPAIGN_FIELDS:
            violations.append(("update_mask", f"{path} is not a field of Campaign"))
    if violations:
        raise InvalidArgument(violations)


def campaign_changes(pb: campaign_pb.Campaign, mask: Sequence[str]) -> dict[str, Any]:
    """An update's changes as domain input: exactly the fields named in a checked mask, zero
    values included (a nested path such as "contactable_timings.timezone" replaces its whole
    top-level field)."""
    changes: dict[str, Any] = {}
    for path in mask:
        top = path.split(".", 1)[0]
        changes[CAMPAIGN_FIELDS[top]] = _campaign_value(pb, top)
    return changes


def _is_set(pb: Any, field: str) -> bool:
    descriptor = pb.DESCRIPTOR.fields_by_name[field]
    if descriptor.message_type is not None and not _is_repeated(descriptor):
        return bool(pb.HasField(field))
    return bool(getattr(pb, field))


def _is_repeated(descriptor: Any) -> bool:
    # protobuf >= 5 has `is_repeated`; older ones only `label`.
    repeated = getattr(descriptor, "is_repeated", None)
    return bool(repeated if repeated is not None else descriptor.label == descriptor.LABEL_REPEATED)


def progress_to_proto(
    progress: Progress,
    run_instance: int,
    abandon: AbandonBudget | None = None,
    regime: ComplianceRegime = ComplianceRegime.US,
) -> campaign_pb.CampaignProgress:
    """`abandon`: the campaign's compliance window (campaigns with agents), or None."""
    out = campaign_pb.CampaignProgress(
        run_instance=run_instance,
        total=progress.total,
        dialed=progress.dialed,
        in_progress=progress.in_progress,
        ready=progress.ready,
        waiting=progress.waiting,
        completed=progress.completed,
        remaining=progress.remaining,
        outcomes=dict(progress.outcomes),
        leases_unplaced=progress.leases_unplaced,
    )
    if abandon is not None:
        out.abandon_window.CopyFrom(
            campaign_pb.AbandonWindow(
                rate=abandon.rate,
                live_answers=abandon.live_answers,
                abandoned=abandon.abandoned,
                target_rate=abandon.target_rate,
                compliance_regime=_REGIME[regime],
            )
        )
    return out


# Contact lists and DNC lists -----------------------------------------------------------------
def contact_list_to_proto(info: ListInfo) -> list_pb.ContactList:
    return list_pb.ContactList(
        name=resource_name(CONTACT_LISTS, info.id),
        display_name=info.name,
        description=info.description,
        contact_count=info.count,
        create_time=_timestamp(info.created_at),
    )


def dnc_list_to_proto(info: ListInfo) -> dnc_pb.DncList:
    return dnc_pb.DncList(
        name=resource_name(DNC_LISTS, info.id),
        display_name=info.name,
        description=info.description,
        number_count=info.count,
        create_time=_timestamp(info.created_at),
    )


def list_paths(segments: list[str]) -> list[str]:
    """Domain list errors name "name"; the message calls it display_name."""
    return ["display_name", *segments[1:]] if segments[:1] == ["name"] else segments


def column_map(pb: list_pb.ColumnMap) -> ColumnMap:
    defaults = ColumnMap()
    return ColumnMap(
        phone=pb.phone or defaults.phone,
        id=pb.id or defaults.id,
        name=pb.name or defaults.name,
        timezone=pb.timezone or defaults.timezone,
    )


def import_report_to_proto(report: ImportReport, info: ListInfo) -> list_pb.ImportContactsResponse:
    return list_pb.ImportContactsResponse(
        contact_list=contact_list_to_proto(info),
        rows=report.rows,
        accepted=report.accepted,
        rejected=[
            list_pb.RejectedRow(row=r.row, field=r.field, reason=r.reason)
            for r in sorted(report.rejected, key=lambda r: r.row)
        ],
    )


def dnc_add_to_proto(result: DncAddResult) -> dnc_pb.AddDncNumbersResponse:
    return dnc_pb.AddDncNumbersResponse(
        added=result.added,
        already_listed=result.already_listed,
        rejected=[dnc_pb.RejectedNumber(phone_number=n, reason=r) for n, r in result.rejected],
    )


def dnc_checks_to_proto(
    checks: Sequence[tuple[str, str | None, bool]],
) -> dnc_pb.CheckDncNumbersResponse:
    return dnc_pb.CheckDncNumbersResponse(
        results=[
            dnc_pb.NumberCheck(phone_number=raw, e164=e164 or "", listed=listed)
            for raw, e164, listed in checks
        ]
    )


# Agents --------------------------------------------------------------------------------------
_AGENT_STATE = {
    AgentState.OFFLINE: agent_pb.AGENT_STATE_OFFLINE,
    AgentState.NOT_READY: agent_pb.AGENT_STATE_NOT_READY,
    AgentState.AVAILABLE: agent_pb.AGENT_STATE_AVAILABLE,
    AgentState.RESERVED: agent_pb.AGENT_STATE_RESERVED,
    AgentState.ON_CALL: agent_pb.AGENT_STATE_ON_CALL,
    AgentState.WRAP_UP: agent_pb.AGENT_STATE_WRAP_UP,
}


def agent_to_proto(queue_id: str, agent: Agent | Mapping[str, Any]) -> agent_pb.Agent:
    if not isinstance(agent, Agent):
        agent = Agent.from_record(dict(agent))
    call = agent.call
    offer = agent.offer
    return agent_pb.Agent(
        name=agent_name(queue_id, agent.id),
        state=_AGENT_STATE[agent.state],
        state_time=_ms_timestamp(agent.state_since_ms),
        call_id=call.call_id if call else "",
        campaign=resource_name(CAMPAIGNS, call.campaign_id) if call else "",
        offer_expire_time=_ms_timestamp(offer.expires_at_ms) if offer else None,
    )


def wanted_availability(state: int) -> bool:
    """SetAgentState's target: True for available, False for not ready."""
    if state == agent_pb.AGENT_STATE_AVAILABLE:
        return True
    if state == agent_pb.AGENT_STATE_NOT_READY:
        return False
    raise InvalidArgument(
        [
            (
                "state",
                "must be AGENT_STATE_AVAILABLE or AGENT_STATE_NOT_READY (log out to go offline)",
            )
        ]
    )


def callback_ms(pb: agent_pb.SubmitDispositionRequest) -> int:
    return int(pb.callback_time.ToMilliseconds()) if pb.HasField("callback_time") else 0


_ASSIGNMENT_EVENT = {
    "connected": agent_pb.ASSIGNMENT_EVENT_CONNECTED,
    "ended": agent_pb.ASSIGNMENT_EVENT_ENDED,
    "offered": agent_pb.ASSIGNMENT_EVENT_OFFERED,
    "offer_expired": agent_pb.ASSIGNMENT_EVENT_OFFER_EXPIRED,
    "offer_failed": agent_pb.ASSIGNMENT_EVENT_OFFER_FAILED,
}


def assignment_to_proto(
    event_id: str, record: Mapping[str, Any]
) -> agent_pb.WatchAssignmentsResponse:
    """From an entry of an agent's assignment stream (actors/pool.py writes them)."""
    contact = record.get("contact") or {}
    expires_at_ms = int(record.get("expires_at_ms", 0))
    return agent_pb.WatchAssignmentsResponse(
        event_id=event_id,
        event=_ASSIGNMENT_EVENT.get(
            str(record.get("event")), agent_pb.ASSIGNMENT_EVENT_UNSPECIFIED
        ),
        call_id=str(record.get("call_id", "")),
        campaign=resource_name(CAMPAIGNS, str(record.get("campaign_id", ""))),
        contact=agent_pb.Contact(
            id=str(contact.get("id", "")),
            phone_number=str(contact.get("phone") or record.get("phone", "")),
            display_name=str(contact.get("name") or ""),
            timezone=str(contact.get("timezone") or ""),
            fields={str(k): str(v) for k, v in (contact.get("fields") or {}).items()},
        ),
        event_time=_ms_timestamp(int(record.get("at_ms", 0))),
        expire_time=_ms_timestamp(expires_at_ms) if expires_at_ms else None,
    )


# Trunks --------------------------------------------------------------------------------------
def trunk_spec(pb: trunk_pb.Trunk) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": parse_name(pb.name, TRUNKS, "name"),
        "channels": pb.channels,
        "driver": pb.driver or "simulated",
    }
    if pb.cps:
        spec["cps"] = pb.cps
    if pb.draining:
        raise InvalidArgument([("draining", "is output only: use DrainTrunk")])
    return spec


def trunk_paths(segments: list[str]) -> list[str]:
    return ["name", *segments[1:]] if segments[:1] == ["id"] else segments


def trunk_to_proto(config: TrunkConfig, live_calls: int = 0) -> trunk_pb.Trunk:
    return trunk_pb.Trunk(
        name=resource_name(TRUNKS, config.id),
        channels=config.channels,
        cps=config.cps,
        draining=config.draining,
        driver=config.driver,
        live_calls=live_calls,
    )
