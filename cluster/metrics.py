"""Metrics kept as counters in Redis: what the writers add, and how the exporter reads it back.

Pure code. Writers (the lead scripts in leads.py, the trunk, the contact importer) add to
counters hashes in the same atomic step as the state change they count; the gateway's exporter
(gateway/metrics.py) reads the hashes at scrape time and turns them into Prometheus samples
here. Counters in Redis, rather than in each actor's memory, survive actor restarts, never
double-count across dialer replicas, and add up across nodes in one scrape target.

A campaign's counters hash (`{c:<id>}:counters:<mode>`, one per dialing mode) holds fields:

    call:<outcome>         one per dialed attempt, by the outcome recorded on its lead
    skip:<outcome>         a lead made final at dial time without a call (dnc_blocked, ...)
    seed:<outcome>         a lead made final when the run was seeded (dnc_blocked)
    originated:<trunk>     calls placed on a trunk (one per call record)
    live_answers           ended calls answered by a person (or answered with AMD off)
    ring:b:<le>, ring:sum_ms, ring:count    ring time histogram (non-cumulative buckets)
    talk:b:<le>, talk:sum_ms, talk:count    talk time histogram of live-answered calls
    last_originated_ms     when the campaign last placed a call (a gauge, not a counter)

Histogram buckets are stored non-cumulative (each observation increments one bucket) and sums
in integer milliseconds, so HINCRBY keeps them exact across processes; the exporter makes the
buckets cumulative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from cluster.telephony import CallEventKind

RING_BUCKETS_S: tuple[float, ...] = (1, 2, 5, 10, 15, 20, 25, 30, 45, 60, 90, 120)
"""Ring time: up to the answer, or to the end of an unanswered call (max ring time <= 120)."""
TALK_BUCKETS_S: tuple[float, ...] = (5, 10, 30, 60, 120, 180, 300, 600, 1200, 1800, 3600)
"""Talk time of live-answered calls, from the answer to the hang-up."""

LIVE_ANSWERS = frozenset({CallEventKind.ANSWERED_HUMAN.value, CallEventKind.ANSWERED.value})
"""Answers that reach a flow or an agent (the abandon rate's denominator)."""

ABANDONED = "abandoned"
DNC_BLOCKED = "dnc_blocked"


def bucket_label(bound: float) -> str:
    """The `le` label of a bucket bound, as Prometheus writes it ("30.0", "+Inf")."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def bucket_for(value_s: float, bounds: tuple[float, ...]) -> str:
    """The label of the one (non-cumulative) bucket an observation falls in."""
    for bound in bounds:
        if value_s <= bound:
            return bucket_label(bound)
    return "+Inf"


def _observe(out: dict[str, int], name: str, value_ms: int, bounds: tuple[float, ...]) -> None:
    value_ms = max(0, value_ms)
    out[f"{name}:b:{bucket_for(value_ms / 1000, bounds)}"] = 1
    out[f"{name}:sum_ms"] = value_ms
    out[f"{name}:count"] = 1


def call_end_increments(start_ms: int, answer_ms: int, end_ms: int, answer: str) -> dict[str, int]:
    """What one ended call adds to its campaign's counters: its ring time (to the answer, or
    to the end if never answered), its talk time if a person answered, and a live answer."""
    out: dict[str, int] = {}
    answered = bool(answer) and answer_ms > 0
    _observe(out, "ring", (answer_ms if answered else end_ms) - start_ms, RING_BUCKETS_S)
    if answered and answer in LIVE_ANSWERS:
        _observe(out, "talk", end_ms - answer_ms, TALK_BUCKETS_S)
        out["live_answers"] = 1
    return out


def originated_field(trunk_id: str) -> str:
    return f"originated:{trunk_id}"


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[str, float]]
    """Cumulative (le, count), ending with +Inf."""
    sum_s: float
    count: int


@dataclass
class CampaignCounters:
    """One campaign-and-mode counters hash, parsed."""

    call_outcomes: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    """Leads made final without a call, at dial time, by outcome."""
    seeded_final: dict[str, int] = field(default_factory=dict)
    """Leads made final at seeding, by outcome."""
    originated: dict[str, int] = field(default_factory=dict)
    """Calls placed, by trunk."""
    live_answers: int = 0
    last_originated_ms: int = 0
    raw_histograms: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[bytes | str, bytes | str | int]) -> CampaignCounters:
        out = cls()
        for k, v in raw.items():
            name = k.decode() if isinstance(k, bytes) else k
            value = int(v)
            kind, _, rest = name.partition(":")
            if kind == "call":
                out.call_outcomes[rest] = value
            elif kind == "skip":
                out.skipped[rest] = value
            elif kind == "seed":
                out.seeded_final[rest] = value
            elif kind == "originated":
                out.originated[rest] = value
            elif kind in ("ring", "talk"):
                out.raw_histograms.setdefault(kind, {})[rest] = value
            elif name == "live_answers":
                out.live_answers = value
            elif name == "last_originated_ms":
                out.last_originated_ms = value
        return out

    @property
    def abandoned(self) -> int:
        return self.call_outcomes.get(ABANDONED, 0)

    def dnc_blocked(self) -> dict[str, int]:
        """DNC blocks by stage: at seeding (save-time scrub) or at dial time."""
        return {
            "seed": self.seeded_final.get(DNC_BLOCKED, 0),
            "dial": self.skipped.get(DNC_BLOCKED, 0),
        }

    def outcomes_total(self) -> dict[str, int]:
        """Every outcome recorded on a lead (dialed or not): equal to the sum of the run
        instances' progress counters."""
        total: dict[str, int] = {}
        for part in (self.call_outcomes, self.skipped, self.seeded_final):
            for outcome, n in part.items():
                total[outcome] = total.get(outcome, 0) + n
        return total

    def histogram(self, name: str) -> Histogram | None:
        raw = self.raw_histograms.get(name)
        if not raw:
            return None
        bounds = RING_BUCKETS_S if name == "ring" else TALK_BUCKETS_S
        running = 0
        buckets: list[tuple[str, float]] = []
        for bound in (*bounds, math.inf):
            label = bucket_label(bound)
            running += raw.get(f"b:{label}", 0)
            buckets.append((label, float(running)))
        return Histogram(buckets, raw.get("sum_ms", 0) / 1000, raw.get("count", 0))


def abandon_ratio(abandoned: int, live_answers: int) -> float:
    """Abandoned calls over live answers (0 before any answer)."""
    return abandoned / live_answers if live_answers else 0.0


def occupancy_ratio(by_state: Mapping[str, int]) -> float:
    """Share of logged-in agents handling a call (on it or wrapping up) rather than waiting
    for one (available, or reserved while a call is placed for them): the occupancy now;
    avg_over_time of it is the occupancy over a period."""
    busy = by_state.get("on_call", 0) + by_state.get("wrap_up", 0)
    logged_in = busy + by_state.get("available", 0) + by_state.get("reserved", 0)
    return busy / logged_in if logged_in else 0.0
