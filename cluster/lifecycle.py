"""The campaign lifecycle as a pure state machine: which user action or internal trigger moves
a campaign from one status to the next, and which fields may be edited in each status.

A "run instance" is one pass over the campaign's leads. A transition with `new_instance` seeds
the leads afresh; one with `end_instance` closes the current pass (its results become final).
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from cluster.models import Campaign, CampaignStatus

Status = CampaignStatus


class Action(StrEnum):
    """What a user can ask of a campaign."""

    RUN = "run"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    RERUN = "rerun"
    EDIT = "edit"
    CLONE = "clone"
    DELETE = "delete"


class Trigger(StrEnum):
    """Internal events; never sent by a user."""

    SCHEDULE_START = "schedule_start"
    """A scheduled occurrence begins."""
    RUN_EXHAUSTED = "run_exhausted"
    """No lead can ever be dialed again in this run instance."""
    SCHEDULE_END = "schedule_end"
    """The occurrence's end time passed."""
    SCHEDULE_OVER = "schedule_over"
    """A scheduled campaign waits for an occurrence, but its series has none left."""


@dataclass(frozen=True)
class Transition:
    from_status: CampaignStatus
    to_status: CampaignStatus
    new_instance: bool = False
    """A fresh run instance starts: leads are seeded afresh."""
    end_instance: bool = False
    """The current run instance ends: its data is final (or reset, on delete)."""


class LifecycleError(Exception):
    def __init__(self, status: CampaignStatus, action: Action | Trigger, reason: str) -> None:
        super().__init__(f"cannot {action} a campaign that is {status}: {reason}")
        self.status = status
        self.action = action
        self.reason = reason


class IllegalTransition(LifecycleError):
    """The action or trigger does not apply in the campaign's current status."""


class ScheduledCampaignError(IllegalTransition):
    """run/rerun on a scheduled campaign, which only ever starts at its scheduled time."""

    def __init__(self, status: CampaignStatus, action: Action | Trigger) -> None:
        super().__init__(status, action, "campaign is scheduled; it starts at its scheduled time")


class EditNotAllowed(LifecycleError):
    """Some of the changed fields may not be edited in the campaign's current status."""

    def __init__(self, status: CampaignStatus, fields: Iterable[str]) -> None:
        self.fields = sorted(fields)
        super().__init__(
            status, Action.EDIT, f"fields not editable while {status}: {', '.join(self.fields)}"
        )


_ALL_EDITABLE = frozenset(Campaign.model_fields) - Campaign.OUTPUT_ONLY_FIELDS

# Output-only fields are never editable. While paused, only fields that leave the paused run
# instance's leads as they are may change; anything that would change what it dials (lists,
# DNC list, mode, flow, queue, order, schedule) waits until the instance has ended. Pacing
# knobs may change; the safe-harbor flow and the abandon ledger's regime and AMD estimate
# wait, so one run's ledger is read one way.
EDITABLE_FIELDS: dict[CampaignStatus, frozenset[str]] = {
    Status.READY: _ALL_EDITABLE,
    Status.SCHEDULED: _ALL_EDITABLE,
    Status.STOPPED: _ALL_EDITABLE,
    Status.COMPLETED: _ALL_EDITABLE,
    Status.PAUSED: frozenset(
        {
            "name",
            "description",
            "priority",
            "pacing",
            "caller_id",
            "amd_enabled",
            "max_attempts",
            "retry_period_minutes",
            "max_ring_time_seconds",
            "contactable_timings",
            "abandon_target",
            "power_ratio",
            "preview_timeout_seconds",
        }
    ),
    Status.ACTIVE: frozenset(),
}


def initial_status(scheduled: bool) -> CampaignStatus:
    """The status of a newly created campaign."""
    return Status.SCHEDULED if scheduled else Status.READY


def apply_action(
    status: CampaignStatus,
    action: Action,
    *,
    scheduled: bool,
    has_next_occurrence: bool = False,
) -> Transition:
    """The transition a user action causes, or raise IllegalTransition (or a subclass)."""
    if action in (Action.RUN, Action.RERUN) and scheduled:
        raise ScheduledCampaignError(status, action)
    match action, status:
        case Action.RUN, Status.READY | Status.STOPPED:
            return Transition(status, Status.ACTIVE, new_instance=True)
        case Action.RERUN, Status.COMPLETED | Status.STOPPED:
            return Transition(status, Status.ACTIVE, new_instance=True)
        case Action.PAUSE, Status.ACTIVE:
            return Transition(status, Status.PAUSED)
        case Action.RESUME, Status.PAUSED:
            return Transition(status, Status.ACTIVE)
        case Action.STOP, Status.ACTIVE | Status.PAUSED:
            if scheduled:
                return _end_occurrence(status, has_next_occurrence)
            return Transition(status, Status.STOPPED, end_instance=True)
        case Action.EDIT, _ if status is not Status.ACTIVE:
            return Transition(status, status)
        case Action.CLONE, _:
            return Transition(status, status)
        case Action.DELETE, _ if status is not Status.ACTIVE:
            return Transition(status, status, end_instance=True)
    raise IllegalTransition(status, action, _refusal_reason(status, action))


def apply_trigger(
    status: CampaignStatus,
    trigger: Trigger,
    *,
    scheduled: bool,
    has_next_occurrence: bool,
) -> Transition:
    """The transition an internal trigger causes, or raise IllegalTransition."""
    match trigger, status:
        case Trigger.SCHEDULE_START, Status.SCHEDULED:
            return Transition(status, Status.ACTIVE, new_instance=True)
        case Trigger.RUN_EXHAUSTED | Trigger.SCHEDULE_END, Status.ACTIVE | Status.PAUSED:
            return _end_occurrence(status, scheduled and has_next_occurrence)
        case Trigger.SCHEDULE_OVER, Status.SCHEDULED if scheduled and not has_next_occurrence:
            return Transition(status, Status.COMPLETED)
    raise IllegalTransition(status, trigger, f"{trigger} does not apply while {status}")


def check_edit(status: CampaignStatus, changed_fields: Iterable[str]) -> None:
    """Raise EditNotAllowed naming every changed field that may not change in `status`.

    Purely field-level: changing nothing is always fine; whether an edit may happen at all
    is apply_action(..., Action.EDIT)'s call.
    """
    refused = set(changed_fields) - EDITABLE_FIELDS[status]
    if refused:
        raise EditNotAllowed(status, refused)


def clone_campaign(campaign: Campaign, existing_names: Collection[str]) -> Campaign:
    """A new, unstored, unscheduled Ready copy of `campaign` with a name not in existing_names."""
    return campaign.model_copy(
        deep=True,
        update={
            "id": "",
            "name": _copy_name(campaign.name, existing_names),
            "status": Status.READY,
            "run_instance": 0,
            "occurrence": None,
            "schedule": None,
            "created_at": None,
            "updated_at": None,
        },
    )


_MAX_NAME_LENGTH = 128


def _copy_name(name: str, existing_names: Collection[str]) -> str:
    """The first of "<name> (copy)", "<name> (copy 2)", "(copy 3)"... not already taken."""
    taken = set(existing_names)
    number = 1
    while True:
        suffix = " (copy)" if number == 1 else f" (copy {number})"
        candidate = name[: _MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix
        if candidate not in taken:
            return candidate
        number += 1


def _end_occurrence(status: CampaignStatus, has_next_occurrence: bool) -> Transition:
    """End the current run instance; a schedule with more occurrences waits for the next."""
    to_status = Status.SCHEDULED if has_next_occurrence else Status.COMPLETED
    return Transition(status, to_status, end_instance=True)


def _refusal_reason(status: CampaignStatus, action: Action) -> str:
    if status is Status.ACTIVE and action in (Action.EDIT, Action.DELETE):
        return "pause or stop it first"
    return f"{action} does not apply while {status}"
