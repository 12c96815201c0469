"""What a call's events mean for its lead: pure decisions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cluster.telephony import CallEventKind


class Outcome(StrEnum):
    """Outcomes recorded on leads and counted in progress."""

    CONNECTED = "connected"
    """A live answer (or any answer with AMD off) reached the flow or an agent."""
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    INVALID_NUMBER = "invalid_number"
    DNC_BLOCKED = "dnc_blocked"
    CONTACT_MISSING = "contact_missing"
    LEASE_EXPIRED = "lease_expired"
    ABANDONED = "abandoned"
    """A live answer that no agent could take; the call was hung up and the lead retried."""


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    retry: bool
    """True: the lead is dialed again after the retry period while it has attempts left."""


def resolve_unanswered(kind: CallEventKind, cause: str = "") -> Resolution:
    """The lead's fate after a call that ended before anyone was connected."""
    if kind is CallEventKind.BUSY:
        return Resolution(Outcome.BUSY, retry=True)
    if kind is CallEventKind.NO_ANSWER:
        return Resolution(Outcome.NO_ANSWER, retry=True)
    if kind is CallEventKind.ANSWERED_MACHINE:
        return Resolution(Outcome.MACHINE, retry=True)
    if kind is CallEventKind.FAILED:
        if cause == "invalid number":
            return Resolution(Outcome.INVALID_NUMBER, retry=False)  # dialing again cannot help
        return Resolution(Outcome.FAILED, retry=True)
    if kind is CallEventKind.HUNG_UP:
        # Hung up before an answer reached anyone: treat as no answer.
        return Resolution(Outcome.NO_ANSWER, retry=True)
    raise ValueError(f"{kind} does not end an unanswered call")


def is_live_answer(kind: CallEventKind) -> bool:
    """An answer that goes to the flow or an agent (with AMD on, only a human)."""
    return kind in (CallEventKind.ANSWERED_HUMAN, CallEventKind.ANSWERED)


def agentless_slots(pacing: int, in_flight: int) -> int:
    """How many more calls an agentless campaign may place now."""
    return max(0, pacing - in_flight)


def attempt_key_prefix(campaign_id: str, instance: int) -> str:
    """What every attempt key of one run instance starts with (the reaper looks them up)."""
    return f"{campaign_id}:{instance}:"


def attempt_key(campaign_id: str, instance: int, lead: int, attempt: int, token: str) -> str:
    """Names one attempt on one lead under one lease: the originate idempotency key. The lease
    token is part of it because an attempt number can be leased again when its first lease
    lapsed with no call placed (leads.py REAP_LUA)."""
    return f"{attempt_key_prefix(campaign_id, instance)}{lead}:{attempt}:{token}"
