"""The abandon ledger: live answers and abandoned calls per campaign, in the windows the rules
measure them over (docs/PACING.md), exact across restarts and across several dialer nodes.

Pure part: the windows (US: rolling 30 days to the hour, which is the campaign's life while it
is younger; UK: the calendar day in the campaign's time zone, with an estimate of AMD false
positives), the budget they leave, and the UK 72-hour rule for numbers whose call was abandoned.

Redis part (`AbandonLedger`): one Lua call per event counts it into an hourly bucket (UTC) and a
daily bucket (the campaign's local day) at once, and only if that call's event was not counted
before: a retried event never counts twice, whichever node sends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import redis

from cluster.errors import FailedPrecondition
from cluster.keys import CampaignKeys
from cluster.models import Campaign, ComplianceRegime

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
US_WINDOW_HOURS = 30 * 24
"""47 CFR 64.1200(a)(7)(i): measured over a 30-day period for a single calling campaign."""
UK_REDIAL_HOLD_MS = 72 * HOUR_MS
"""Ofcom: no repeat call within 72 h to a number whose call was abandoned, unless an agent is
guaranteed to be there."""
DEDUPE_HORIZON_MS = 2 * DAY_MS
"""How long a counted event's id is remembered; older events are refused, not guessed at."""
HOUR_BUCKET_TTL_MS = (US_WINDOW_HOURS + 48) * HOUR_MS
DAY_BUCKET_TTL_MS = 3 * DAY_MS


class LedgerEvent(StrEnum):
    LIVE = "live"
    """A person answered (with AMD on: classified human). The rate's denominator."""
    ABANDONED = "abandoned"
    """That live answer was not connected to an agent within 2 s (it got the safe-harbor
    message). Sent in addition to LIVE, never instead of it."""
    MACHINE = "machine"
    """AMD classified a machine; under the UK regime a share of these were people."""


@dataclass(frozen=True)
class AbandonCounts:
    live: int = 0
    abandoned: int = 0
    machine: int = 0

    def __add__(self, other: AbandonCounts) -> AbandonCounts:
        return AbandonCounts(
            self.live + other.live,
            self.abandoned + other.abandoned,
            self.machine + other.machine,
        )


@dataclass(frozen=True)
class AbandonBudget:
    """What the current window leaves to spend; the pacing policy's input."""

    live_answers: float
    abandoned: float
    target_rate: float

    @property
    def rate(self) -> float:
        """Abandoned / live answers in the window (0 with no live answer yet)."""
        return self.abandoned / self.live_answers if self.live_answers > 0 else 0.0

    @property
    def allowance(self) -> float:
        """Abandons the window could take now and still be at the target (negative: over)."""
        return self.target_rate * self.live_answers - self.abandoned


def budget_from_counts(
    counts: AbandonCounts,
    regime: ComplianceRegime,
    target_rate: float,
    amd_false_positive_rate: float = 0.0,
) -> AbandonBudget:
    """The budget of a window's counts. UK: the estimated AMD false positives (machine
    detections that were people, who were hung up on) count as live answers that were
    abandoned: (abandoned + fp) / (live + fp), Ofcom's formula."""
    if regime is ComplianceRegime.UK:
        false_positives = counts.machine * amd_false_positive_rate
        return AbandonBudget(
            counts.live + false_positives, counts.abandoned + false_positives, target_rate
        )
    return AbandonBudget(float(counts.live), float(counts.abandoned), target_rate)


# Window arithmetic -----------------------------------------------------------------------
def utc_hour(at_ms: int) -> int:
    """Hours since the epoch: the hourly bucket an event at `at_ms` falls in."""
    return at_ms // HOUR_MS


def us_window_hours(now_ms: int) -> range:
    """The hourly buckets of the US window: the current hour and the 719 before it (30 days
    to the hour). A younger campaign has no earlier buckets, so this is also "the campaign's
    life if shorter"."""
    current = utc_hour(now_ms)
    return range(current - US_WINDOW_HOURS + 1, current + 1)


def utc_day_of_hour(hour: int) -> str:
    """The UTC date (YYYYMMDD) holding an hourly bucket: hourly buckets are stored by day."""
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y%m%d")


def local_day(at_ms: int, timezone: str) -> str:
    """The calendar day (YYYY-MM-DD) in `timezone` that `at_ms` falls in: the UK window."""
    return datetime.fromtimestamp(at_ms / 1000, ZoneInfo(timezone)).date().isoformat()


def local_day_span(at_ms: int, timezone: str) -> tuple[int, int]:
    """[midnight, next midnight) of the local day holding `at_ms`, in epoch ms (23 or 25 hours
    long on the days the clocks change)."""
    zone = ZoneInfo(timezone)
    day = datetime.fromtimestamp(at_ms / 1000, zone).date()
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def redial_allowed_from(abandoned_at_ms: int) -> int:
    """UK: the first time a number whose call was abandoned may be called again by a dialer
    that cannot guarantee an agent."""
    return abandoned_at_ms + UK_REDIAL_HOLD_MS


def may_redial(
    regime: ComplianceRegime,
    last_abandoned_ms: int | None,
    now_ms: int,
    agent_guaranteed: bool,
) -> bool:
    """Whether a number may be dialed now. Under the UK regime a number abandoned in the last
    72 h may only be called with an agent guaranteed (progressive or preview: an agent is
    reserved before the call is placed)."""
    if regime is not ComplianceRegime.UK or last_abandoned_ms is None or agent_guaranteed:
        return True
    return now_ms >= redial_allowed_from(last_abandoned_ms)


# Redis -----------------------------------------------------------------------------------
# KEYS: seen (ZSET), hour bucket (HASH), day bucket (HASH), recent abandons (ZSET), totals
# ARGV: member, at_ms, event, hour_field, hour_ttl_s, day_ttl_s, phone,
#       seen_prune_before_ms, recent_prune_before_ms
# TTLs are relative (EXPIRE, not EXPIREAT): times come from the caller's clock, not Redis'.
# Counts one event of one call once: the call's event id joins `seen` (NX) or nothing
# happens. Returns 1 counted, 0 already counted.
RECORD_LUA = """
if redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[8])
redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('HINCRBY', KEYS[5], ARGV[3], 1)
if ARGV[3] == 'abandoned' and ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[4], 'GT', ARGV[2], ARGV[7])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[9])
end
return 1
"""


def us_window_days(now_ms: int) -> list[str]:
    """The UTC days (YYYYMMDD) whose hourly buckets (`abandon_hours`) hold the US window
    ending at `now_ms`: 31 of them, as the window rarely starts at midnight."""
    hours = us_window_hours(now_ms)
    days = sorted({utc_day_of_hour(h) for h in (hours.start, hours.stop - 1)})
    first_day = datetime.strptime(days[0], "%Y%m%d").replace(tzinfo=UTC)
    last_day = datetime.strptime(days[-1], "%Y%m%d").replace(tzinfo=UTC)
    return [
        (first_day + timedelta(days=i)).strftime("%Y%m%d")
        for i in range((last_day - first_day).days + 1)
    ]


def us_window_counts(
    now_ms: int, day_names: Sequence[str], buckets: Sequence[dict[bytes, bytes]]
) -> AbandonCounts:
    """Counts of the US window ending at `now_ms` from the hourly buckets of `day_names`
    (us_window_days), as HGETALL returns them: callers may read them in their own pipeline."""
    hours = us_window_hours(now_ms)
    totals: dict[str, int] = {}
    for name, raw in zip(day_names, buckets, strict=True):
        day_hour = int(datetime.strptime(name, "%Y%m%d").replace(tzinfo=UTC).timestamp())
        day_hour //= 3600
        for field, value in _decoded(raw).items():
            hh, event = field.split(":", 1)
            if day_hour + int(hh) in hours:
                totals[event] = totals.get(event, 0) + value
    return _counts(totals)


def hash_counts(raw: dict[bytes, bytes]) -> AbandonCounts:
    """The counts of one ledger hash as HGETALL returns it: a UK day bucket (`abandon_day`)
    or the totals."""
    return _counts(_decoded(raw))


def _counts(fields: dict[str, int]) -> AbandonCounts:
    return AbandonCounts(
        fields.get(LedgerEvent.LIVE, 0),
        fields.get(LedgerEvent.ABANDONED, 0),
        fields.get(LedgerEvent.MACHINE, 0),
    )


def _decoded(raw: dict[bytes, bytes]) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in raw.items()}


class AbandonLedger:
    """One campaign's ledger. Every method takes the time; nothing reads a clock.

    Events are idempotent per (call id, event): record each with the time it happened (the
    answer time, not the time of recording), so a retry lands in the same buckets.
    """

    def __init__(
        self, client: redis.Redis, keys: CampaignKeys, timezone: str, held_numbers: str = ""
    ) -> None:
        self.r = client
        self.k = keys
        self.timezone = timezone
        self.held_numbers = held_numbers
        """The tenant's ZSET of numbers abandoned in the last 72 h by any of its campaigns
        (TenantKeys.abandoned_numbers); '' keeps the hold to this campaign."""
        self._record = client.register_script(RECORD_LUA)

    @classmethod
    def for_campaign(
        cls, client: redis.Redis, keys: CampaignKeys, campaign: Campaign, held_numbers: str = ""
    ) -> AbandonLedger:
        return cls(client, keys, campaign.contactable_timings.timezone, held_numbers)

    def record(
        self, call_id: str, event: LedgerEvent, at_ms: int, now_ms: int, phone: str = ""
    ) -> bool:
        """Counts `event` of call `call_id` unless it was counted before. `phone` (E.164) of an
        abandoned call starts its 72-hour hold. Returns whether it was counted now."""
        if at_ms < now_ms - DEDUPE_HORIZON_MS:
            raise FailedPrecondition(
                f"event {call_id}:{event} at {at_ms} is older than the ledger's dedupe horizon"
                f" ({DEDUPE_HORIZON_MS // HOUR_MS} h): it cannot be counted exactly once"
            )
        hour = utc_hour(at_ms)
        day = local_day(at_ms, self.timezone)
        counted = self._record(
            keys=[
                self.k.abandon_seen(),
                self.k.abandon_hours(utc_day_of_hour(hour)),
                self.k.abandon_day(day),
                self.k.abandon_recent(),
                self.k.abandon_totals(),
            ],
            args=[
                f"{call_id}:{event}",
                at_ms,
                event.value,
                f"{hour % 24:02d}:{event}",
                max(1, (at_ms + HOUR_BUCKET_TTL_MS - now_ms) // 1000),
                max(1, (at_ms + DAY_BUCKET_TTL_MS - now_ms) // 1000),
                phone,
                now_ms - DEDUPE_HORIZON_MS,
                now_ms - UK_REDIAL_HOLD_MS,
            ],
        )
        if event is LedgerEvent.ABANDONED and phone and self.held_numbers:
            # Outside the campaign's hash slot, so not in the script; idempotent (GT), so it is
            # written again by a retry even when the script had counted the event already.
            pipe = self.r.pipeline(transaction=False)
            pipe.zadd(self.held_numbers, {phone: at_ms}, gt=True)
            pipe.zremrangebyscore(self.held_numbers, "-inf", f"({now_ms - UK_REDIAL_HOLD_MS}")
            pipe.execute()
        return bool(counted)

    def record_abandoned_answer(
        self, call_id: str, answered_ms: int, now_ms: int, phone: str
    ) -> None:
        """Counts a live answer and its abandon, each once whatever was counted before (for
        whoever settles an answer its dialer may not have counted: a restarted dialer, the
        trunk covering for a dead one)."""
        self.record(call_id, LedgerEvent.LIVE, answered_ms, now_ms)
        self.record(call_id, LedgerEvent.ABANDONED, answered_ms, now_ms, phone)

    # Reading -----------------------------------------------------------------------------
    def us_counts(self, now_ms: int) -> AbandonCounts:
        """Counts of the rolling 30 days (to the hour) ending now."""
        day_names = us_window_days(now_ms)
        pipe = self.r.pipeline(transaction=True)
        for name in day_names:
            pipe.hgetall(self.k.abandon_hours(name))
        return us_window_counts(now_ms, day_names, pipe.execute())

    def uk_counts(self, now_ms: int) -> AbandonCounts:
        """Counts of the calendar day (campaign time zone) holding `now_ms`."""
        raw = self.r.hgetall(self.k.abandon_day(local_day(now_ms, self.timezone)))
        return _counts(_decoded(raw))  # type: ignore[arg-type]

    def counts(self, regime: ComplianceRegime, now_ms: int) -> AbandonCounts:
        return self.uk_counts(now_ms) if regime is ComplianceRegime.UK else self.us_counts(now_ms)

    def budget(self, campaign: Campaign, now_ms: int) -> AbandonBudget:
        """The campaign's current window, as the pacing policy reads it (also its abandon rate
        for progress and metrics: `.rate`)."""
        return budget_from_counts(
            self.counts(campaign.compliance_regime, now_ms),
            campaign.compliance_regime,
            campaign.abandon_target,
            campaign.amd_false_positive_rate,
        )

    def totals(self) -> AbandonCounts:
        """Everything counted over the campaign's life (for metrics counters)."""
        return _counts(_decoded(self.r.hgetall(self.k.abandon_totals())))  # type: ignore[arg-type]

    def recently_abandoned(self, phones: Iterable[str], now_ms: int) -> dict[str, int]:
        """Numbers among `phones` abandoned in the last 72 h -> when (epoch ms), by this
        campaign or (with `held_numbers`) any campaign of the tenant."""
        wanted = list(phones)
        if not wanted:
            return {}
        keys = [self.k.abandon_recent(), *([self.held_numbers] if self.held_numbers else [])]
        latest: dict[str, int] = {}
        for key in keys:
            for phone, score in zip(wanted, self.r.zmscore(key, wanted), strict=True):
                if score is not None:
                    latest[phone] = max(latest.get(phone, 0), int(score))
        return {phone: at for phone, at in latest.items() if now_ms < redial_allowed_from(at)}
