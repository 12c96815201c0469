"""Pacing: how many calls an agent campaign places now. Pure code, fed observed data.

The campaign dialer calls a policy every tick with what it observes (`PacingInputs`: learned
call statistics, the agents' states, the calls ringing, live answers waiting for an agent, and
the abandon budget from the ledger) and places the number of calls it returns. Nothing here
reads a clock, Redis or Ray, so the simulator in bench/pacing_sim.py drives the very same code.

Policies (docs/PACING.md has the model and its parameters):

- progressive: one call per available agent, minus calls already ringing;
- power: `power_ratio` calls per available agent, minus calls ringing;
- predictive: the largest number of calls whose expected abandons, under a model of when the
  calls in flight answer and when busy agents free up, stay within the rate the budget allows;
  progressive on a cold start and once the budget is spent;
- `AdaptHardLimit`: VICIdial's ADAPT_HARD_LIMIT, ported as a baseline for the simulator.

`CallStatsTracker` learns `ObservedStats` online from call events; `PreviewOffer` is preview
dialing's offer state machine.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Protocol

from cluster.abandon import AbandonBudget
from cluster.errors import FailedPrecondition
from cluster.models import MAX_ABANDON_RATE, Campaign, DialingMode

CONNECT_GRACE_S = 2.0
"""A live answer not connected to an agent within 2 s of the greeting is abandoned."""
QUANTILE_LEVELS: tuple[float, ...] = tuple(i / 20 for i in range(21))
"""The levels `Durations.quantiles_s` are given at: min, 5%, 10%, ..., 95%, max."""


# Inputs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Durations:
    """An observed duration distribution: sample count, mean, and quantiles at
    QUANTILE_LEVELS (empty when there are no samples). Its CDF interpolates the quantiles."""

    count: int = 0
    mean_s: float = 0.0
    quantiles_s: tuple[float, ...] = ()

    @classmethod
    def of(cls, samples: Iterable[float]) -> Durations:
        ordered = sorted(samples)
        if not ordered:
            return cls()
        last = len(ordered) - 1
        quantiles = tuple(ordered[round(level * last)] for level in QUANTILE_LEVELS)
        return cls(len(ordered), sum(ordered) / len(ordered), quantiles)

    @cached_property
    def _hash(self) -> int:
        return hash((self.count, self.mean_s, self.quantiles_s))

    def __hash__(self) -> int:  # cached: distributions key the model's memo tables
        return self._hash

    def cdf(self, x: float) -> float:
        """P(T <= x)."""
        q = self.quantiles_s
        if not q:
            return 0.0
        i = bisect_right(q, x)
        if i == 0:
            return 0.0
        if i == len(q):
            return 1.0
        lo, hi = q[i - 1], q[i]
        frac = (x - lo) / (hi - lo) if hi > lo else 0.0
        return QUANTILE_LEVELS[i - 1] + (QUANTILE_LEVELS[i] - QUANTILE_LEVELS[i - 1]) * frac

    def quantile(self, level: float) -> float:
        q = self.quantiles_s
        if not q:
            return self.mean_s
        pos = level * (len(q) - 1)
        i = min(int(pos), len(q) - 2)
        return q[i] + (q[i + 1] - q[i]) * (pos - i)

    def ends_within(self, elapsed: float, horizon: float) -> float:
        """P(T <= elapsed + horizon | T > elapsed). Past the longest sample the remaining time
        is taken as exponential with the mean (a long call is not about to end)."""
        if horizon <= 0:
            return 0.0
        if not self.quantiles_s:
            return 0.0
        survive = 1.0 - self.cdf(elapsed)
        if survive <= 1e-9:
            return 1.0 - math.exp(-horizon / max(self.mean_s, 1e-9))
        return (self.cdf(elapsed + horizon) - self.cdf(elapsed)) / survive


@dataclass(frozen=True)
class ObservedStats:
    """What the dialer has learned from recent calls (see CallStatsTracker)."""

    live_rate: float = 0.0
    """Live answers / calls with a known outcome, over the recent calls."""
    resolved: int = 0
    """How many calls `live_rate` is estimated from."""
    ring_to_answer: Durations = Durations()
    """From placing a call to its live answer (AMD classification included)."""
    ring_to_fail: Durations = Durations()
    """From placing a call to its end, for calls that were not a live answer."""
    talk: Durations = Durations()
    wrap_up: Durations = Durations()
    observed_s: float = 0.0
    """How long the tracker has been observing: early samples are biased to short calls
    (long talks and unanswered rings have not ended yet), so the model waits this out."""
    recent_answers: int = 0
    """Live answers among the recent ones whose fate is known (connected or abandoned)..."""
    recent_abandoned: int = 0
    """...and how many of them were abandoned: the policy's short-term feedback."""
    placed_total: int = 0
    """Counters since the tracker started (the ADAPT baseline reads per-minute deltas)."""
    live_total: int = 0
    abandoned_total: int = 0


@dataclass(frozen=True)
class AgentSnapshot:
    """The campaign's agents now. Offline agents are left out."""

    available: int
    """Free: a live answer would connect to one of them at once."""
    on_call_elapsed_s: tuple[float, ...] = ()
    """Seconds each agent on a call has talked so far."""
    wrap_up_elapsed_s: tuple[float, ...] = ()
    """Seconds each agent in wrap-up has spent in it so far."""
    reserved: int = 0
    """Held for a call being placed or a preview offer: not free, not about to be."""

    @property
    def logged_in(self) -> int:
        busy = len(self.on_call_elapsed_s) + len(self.wrap_up_elapsed_s)
        return self.available + busy + self.reserved


@dataclass(frozen=True)
class PacingInputs:
    stats: ObservedStats
    agents: AgentSnapshot
    ringing_elapsed_s: tuple[float, ...] = ()
    """Seconds since each call still in flight (placed, not yet live nor ended) was placed."""
    waiting_live: int = 0
    """Live answers waiting for an agent now (within their 2 s)."""
    budget: AbandonBudget = field(default_factory=lambda: AbandonBudget(0, 0, MAX_ABANDON_RATE))
    """The ledger's current window (AbandonLedger.budget)."""


@dataclass(frozen=True)
class PredictiveSettings:
    """Tunables of the predictive model (defaults are what docs/PACING.md's table used)."""

    min_resolved: int = 200
    """Cold start: progressive until this many calls have an outcome..."""
    min_live: int = 30
    """...and this many of them were live answers (talk and wrap-up have samples by then)..."""
    warmup_s: float = 300.0
    """...and the tracker has observed for this long (about three handle times)."""
    planned_share: float = 0.5
    """The abandon rate the model plans for, as a share of the target, while the window's
    rate is low (below `ease_share`). Below 1 because the model, re-run every tick at the
    edge of what it allows, realizes more abandons than it expects (docs/PACING.md)."""
    ease_share: float = 0.5
    budget_share: float = 0.95
    """Between `ease_share` and `budget_share` of the target (the ledger window's rate) the
    planned rate falls linearly to zero; at zero the campaign dials progressive."""
    prior_share: float = 0.75
    prior_answers: int = 100
    """The window's rate starts from `prior_share` of the target, weighted as this many
    live answers: a young window starts cautious and is not swung by its first abandons."""
    grace_s: float = CONNECT_GRACE_S
    max_lines_per_agent: float = 3.0
    """Never more calls in flight than this per agent not offline."""
    excess_factor: float = 2.0
    """Expected abandons = this x the worst horizon's E[max(D - S, 0)]: the reflection
    principle (the running maximum of a driftless random walk exceeds a level twice as often
    as its end point), checked against Monte Carlo from simulated states (docs/PACING.md)."""


@dataclass(frozen=True)
class PacingSettings:
    mode: DialingMode
    abandon_target: float = MAX_ABANDON_RATE
    power_ratio: float = 2.0
    predictive: PredictiveSettings = field(default_factory=PredictiveSettings)

    @classmethod
    def of(cls, campaign: Campaign) -> PacingSettings:
        return cls(campaign.dialing_mode, campaign.abandon_target, campaign.power_ratio)


@dataclass(frozen=True)
class PacingDecision:
    calls: int
    """How many calls to place now."""
    reason: str
    """Why, for logs and metrics (bounded vocabulary: the part before ':')."""
    expected_abandon_rate: float = 0.0
    """The model's expected abandons / live answers of the calls in flight after placing."""


class PacingPolicy(Protocol):
    name: str

    def decide(self, now_s: float, inputs: PacingInputs) -> PacingDecision: ...


# Fixed-ratio policies --------------------------------------------------------------------
def progressive_calls(inputs: PacingInputs) -> int:
    """One call per available agent, minus calls ringing and answers already waiting: every
    live answer then finds an agent, so progressive never abandons."""
    return max(0, inputs.agents.available - len(inputs.ringing_elapsed_s) - inputs.waiting_live)


def power_calls(inputs: PacingInputs, ratio: float) -> int:
    """`ratio` calls per available agent, minus calls ringing."""
    return max(0, math.floor(ratio * inputs.agents.available) - len(inputs.ringing_elapsed_s))


# Predictive ------------------------------------------------------------------------------
_BINS = 128
"""Elapsed times are binned: 1 s bins under a minute, eighth-octave bins above, the last
bin holding everything past about six hours. The model's probabilities are tabulated per
bin, once per distinct statistics snapshot, so a tick costs a few list lookups per agent."""
_BIN_LIMIT_S = 60 * 2 ** ((_BINS - 1 - 60) / 8)


def _bin_start(b: int) -> float:
    return float(b) if b < 60 else 60 * 2 ** ((b - 60) / 8)


def _bin_of(elapsed_s: float) -> int:
    if elapsed_s < 60:
        return max(0, int(elapsed_s))
    return min(_BINS - 1, 60 + int(8 * math.log2(elapsed_s / 60)))


_BIN_OF_SECOND = [_bin_of(float(s)) for s in range(int(_BIN_LIMIT_S) + 1)]


def _bin_counts(elapsed: Iterable[float]) -> Counter[int]:
    """How many of `elapsed` fall in each bin (binned at the bin's start: conservative for the
    calls ringing and the agents close to freeing up)."""
    table, last, top = _BIN_OF_SECOND, _BINS - 1, len(_BIN_OF_SECOND)
    return Counter(table[int(e)] if 0 <= e < top else (last if e > 0 else 0) for e in elapsed)


@lru_cache(maxsize=4096)
def _ends_table(d: Durations, horizon: float) -> list[float]:
    """Per bin: P(T ends within `horizon` | T has lasted the bin's start)."""
    return [d.ends_within(_bin_start(b), horizon) for b in range(_BINS)]


@lru_cache(maxsize=4096)
def _live_table(
    live: Durations, fail: Durations, p: float, horizon: float
) -> list[tuple[float, float]]:
    """Per bin of a call still ringing: P(live answer within `horizon`), P(live answer)."""
    out = []
    for b in range(_BINS):
        e = _bin_start(b)
        live_left = p * (1.0 - live.cdf(e))
        fail_left = (1.0 - p) * (1.0 - fail.cdf(e))
        total = live_left + fail_left
        if total <= 1e-12:
            out.append((0.0, 0.0))
            continue
        soon = p * (live.cdf(e + horizon) - live.cdf(e)) if horizon > 0 else 0.0
        out.append((soon / total, live_left / total))
    return out


def expected_excess(mean: float, variance: float) -> float:
    """E[max(X, 0)] for X ~ Normal(mean, variance)."""
    if variance <= 1e-12:
        return max(mean, 0.0)
    sd = math.sqrt(variance)
    z = mean / sd
    pdf = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    return sd * pdf + mean * cdf


def observed_rate(budget: AbandonBudget, target: float, cfg: PredictiveSettings) -> float:
    """The ledger window's abandon rate, started from a prior of `prior_share` x target
    weighted as `prior_answers` answers (so a young window does not swing the plan)."""
    prior_rate = cfg.prior_share * target
    prior = prior_rate * cfg.prior_answers
    return (budget.abandoned + prior) / (budget.live_answers + cfg.prior_answers)


def allowed_rate(budget: AbandonBudget, target: float, cfg: PredictiveSettings) -> float:
    """The abandon rate the model may plan for now: `planned_share` of the target while the
    window's rate is under `ease_share` of it, falling linearly to zero at `budget_share`.

    The window rate integrates every abandon, so this is integral feedback: whatever the
    model's error, the window settles where the realized rate equals it, between the two
    shares, and a window over `budget_share` dials progressive (which never abandons).
    """
    low, high = cfg.ease_share * target, cfg.budget_share * target
    rate = observed_rate(budget, target, cfg)
    scale = min(1.0, max(0.0, (high - rate) / (high - low)))
    return cfg.planned_share * target * scale


def _horizons(ring_to_answer: Durations) -> list[float]:
    """Times ahead at which answers and free agents are compared: now, and when a call placed
    now answers early, typically and late (10%, 50%, 90% of ring-to-answer)."""
    marks = {round(2 * ring_to_answer.quantile(level)) / 2 for level in (0.1, 0.5, 0.9)}
    return [0.0, *sorted(marks)]


@dataclass(frozen=True)
class AbandonModel:
    """The predictive model's view of the calls in flight, for any number of new calls.

    `points` holds, per horizon t: the mean and variance of D(t) - S(t + grace) with no new
    call, and the probability that a new call is a live answer by t. `eventual` is the
    expected live answers of everything in flight; `live_rate` what a new call adds to it.
    """

    points: tuple[tuple[float, float, float], ...]
    eventual: float
    live_rate: float
    excess_factor: float

    @classmethod
    def of(cls, inputs: PacingInputs, cfg: PredictiveSettings) -> AbandonModel:
        stats = inputs.stats
        agents = inputs.agents
        p = stats.live_rate
        live_d, fail_d = stats.ring_to_answer, stats.ring_to_fail
        ringing = _bin_counts(inputs.ringing_elapsed_s).items()
        talking = _bin_counts(agents.on_call_elapsed_s).items()
        wrapping = _bin_counts(agents.wrap_up_elapsed_s).items()
        wrap_mean = round(stats.wrap_up.mean_s, 1)

        ever = _live_table(live_d, fail_d, p, 0.0)
        eventual = inputs.waiting_live + sum(k * ever[b][1] for b, k in ringing)
        points: list[tuple[float, float, float]] = []
        for t in _horizons(live_d):
            h = t + cfg.grace_s
            mean, var = float(inputs.waiting_live - agents.available), 0.0
            soon = _live_table(live_d, fail_d, p, t)
            for b, k in ringing:
                a = soon[b][0]
                mean += k * a
                var += k * a * (1 - a)
            # A talking agent frees up if the talk ends in time to leave the mean wrap-up.
            for table, counts in (
                (_ends_table(stats.talk, round(h - wrap_mean, 1)), talking),
                (_ends_table(stats.wrap_up, h), wrapping),
            ):
                for b, k in counts:
                    q = table[b]
                    mean -= k * q
                    var += k * q * (1 - q)
            points.append((mean, var, p * live_d.cdf(t)))
        return cls(tuple(points), eventual, p, cfg.excess_factor)

    def expected_abandons(self, new_calls: int) -> float:
        n = new_calls
        return self.excess_factor * max(
            expected_excess(m + n * f, v + n * f * (1 - f)) for m, v, f in self.points
        )

    def abandon_rate(self, new_calls: int) -> float:
        return self.expected_abandons(new_calls) / max(
            self.eventual + new_calls * self.live_rate, 1e-9
        )


def predictive_decision(
    inputs: PacingInputs, target: float, cfg: PredictiveSettings | None = None
) -> PacingDecision:
    """The largest number of calls (at least progressive's) whose expected abandons per live
    answer, over the calls in flight, stay within `allowed_rate`.

    At each horizon t (now, and the 10/50/90% ring-to-answer times) it compares D(t), the
    live answers by t (answers waiting, calls ringing, the new calls), with S(t + 2 s), the
    agents free by then (available ones, plus each busy agent with the probability it frees
    up, from its elapsed talk or wrap-up time). With D - S taken as normal, E[max(D - S, 0)]
    counts answers no agent takes in time; the worst horizon's, times `excess_factor`, over
    the expected live answers of everything in flight is the expected abandon rate.
    """
    cfg = cfg or PredictiveSettings()
    base = progressive_calls(inputs)
    stats = inputs.stats
    live_seen = round(stats.live_rate * stats.resolved)
    if (
        stats.resolved < cfg.min_resolved
        or live_seen < cfg.min_live
        or stats.observed_s < cfg.warmup_s
        or not stats.talk.count
        or not stats.ring_to_answer.count
    ):
        return PacingDecision(base, "cold start: progressive until enough calls are seen")
    plan = allowed_rate(inputs.budget, target, cfg)
    if plan <= 0:
        return PacingDecision(base, "budget spent: progressive until the window recovers")

    rate = AbandonModel.of(inputs, cfg).abandon_rate
    agents = inputs.agents
    active = agents.available + len(agents.on_call_elapsed_s) + len(agents.wrap_up_elapsed_s)
    cap = max(base, math.floor(cfg.max_lines_per_agent * active) - len(inputs.ringing_elapsed_s))
    n = base
    while n < cap and rate(n + 1) <= plan:
        n += 1
    reason = "predictive" if n > base else "predictive: no room beyond progressive"
    return PacingDecision(n, reason, rate(n))


def decide(inputs: PacingInputs, settings: PacingSettings) -> PacingDecision:
    """The campaign's policy by its dialing mode."""
    mode = settings.mode
    if mode is DialingMode.PROGRESSIVE:
        return PacingDecision(progressive_calls(inputs), "progressive")
    if mode is DialingMode.POWER:
        return PacingDecision(power_calls(inputs, settings.power_ratio), "power")
    if mode is DialingMode.PREDICTIVE:
        return predictive_decision(inputs, settings.abandon_target, settings.predictive)
    if mode is DialingMode.PREVIEW:
        # Preview places a call per accepted offer (PreviewOffer), never on its own.
        return PacingDecision(0, "preview: calls follow accepted offers")
    raise ValueError(f"{mode} dialing is not paced by agents (see dialing.agentless_slots)")


@dataclass
class FixedPolicy:
    """A stateless policy under the PacingPolicy protocol (progressive, power, predictive)."""

    settings: PacingSettings
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.settings.mode.value

    def decide(self, now_s: float, inputs: PacingInputs) -> PacingDecision:
        return decide(inputs, self.settings)


# VICIdial's ADAPT_HARD_LIMIT, the baseline ------------------------------------------------
@dataclass
class AdaptHardLimit:
    """A port of VICIdial's adaptive dial level with the hard drop limit, for comparison.

    From bin/AST_VDadapt.pl (VICIdial 2.4, e.g. github.com/inktel/Vicidial): every second it
    samples ready agents, live calls waiting and agents; every 15 s the dial level becomes
    level x (1 + (avg ready - avg waiting) / avg agents) over the last 15 samples (intensity 0,
    dl_diff_target 0), capped at adaptive_maximum_level (3.0) and floored at 1.0; with more
    than 20 calls in the last minute and over 50% of them dropped it is halved; with more
    than 50 calls today and drops over `drop_limit` of today's answers it is set to 1.0.
    Dialing follows AST_VDauto_dial.pl: goal = round(level x agents not paused (ready or on
    a call)) minus the calls that exist (ringing, waiting, with an agent).
    """

    drop_limit: float = MAX_ABANDON_RATE
    max_level: float = 3.0
    name: str = "adapt"
    level: float = 1.0
    _samples: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=15))
    _next_sample_s: float = 0.0
    _next_level_s: float = 15.0
    _next_drops_s: float = 0.0
    _minute_marks: tuple[int, int] = (0, 0)
    _minute: tuple[int, int] = (0, 0)
    _today: tuple[float, float] = (0.0, 0.0)

    def decide(self, now_s: float, inputs: PacingInputs) -> PacingDecision:
        agents = inputs.agents
        on_call = len(agents.on_call_elapsed_s)
        if now_s >= self._next_sample_s:
            total = agents.logged_in
            self._samples.append((agents.available, inputs.waiting_live, total))
            self._next_sample_s = now_s + 1.0
        if now_s >= self._next_drops_s:  # calculate_drops: once a minute
            stats = inputs.stats
            placed, dropped = stats.placed_total, stats.abandoned_total
            self._minute = (placed - self._minute_marks[0], dropped - self._minute_marks[1])
            self._minute_marks = (placed, dropped)
            self._today = (inputs.budget.live_answers, inputs.budget.abandoned)
            self._next_drops_s = now_s + 60.0
        if now_s >= self._next_level_s:
            self._recalculate()
            self._next_level_s = now_s + 15.0
        goal = round(self.level * (agents.available + on_call))
        exist = len(inputs.ringing_elapsed_s) + inputs.waiting_live + on_call
        return PacingDecision(max(0, goal - exist), f"adapt: level {self.level:.3f}")

    def _recalculate(self) -> None:
        n = len(self._samples)
        ready = sum(s[0] for s in self._samples) / n
        waiting = sum(s[1] for s in self._samples) / n
        total = sum(s[2] for s in self._samples) / n
        level = self.level
        if total > 0 and ready != waiting:
            level = level * (1 + (ready - waiting) / total)
        level = max(1.0, min(self.max_level, level))
        calls_one, drops_one = self._minute
        if calls_one > 20 and drops_one / calls_one > 0.5:
            level /= 2
        answers_today, drops_today = self._today
        calls_today = self._minute_marks[0]
        if calls_today > 50 and drops_today / max(answers_today, 1.0) > self.drop_limit:
            level = 1.0
        self.level = max(1.0, level)


# Learning the statistics -----------------------------------------------------------------
class CallStatsTracker:
    """Learns ObservedStats from call events over a sliding window of recent calls.

    The dialer (and the simulator) reports: a call placed; a call resolved (live answer, or
    ended without one) with the seconds since it was placed; a live answer connected to an
    agent or abandoned; a talk and a wrap-up with their lengths. `snapshot` rebuilds the
    distributions at most every `refresh_s`, so the model's memo tables stay warm between.
    """

    def __init__(
        self,
        calls: int = 2000,
        durations: int = 500,
        answers: int = 300,
        refresh_s: float = 30.0,
    ) -> None:
        self._outcomes: deque[bool] = deque(maxlen=calls)
        self._live_after: deque[float] = deque(maxlen=durations)
        self._fail_after: deque[float] = deque(maxlen=calls)
        self._talk: deque[float] = deque(maxlen=durations)
        self._wrap: deque[float] = deque(maxlen=durations)
        self._answers: deque[bool] = deque(maxlen=answers)
        self.placed_total = 0
        self.live_total = 0
        self.abandoned_total = 0
        self.refresh_s = refresh_s
        self._snapshot: ObservedStats | None = None
        self._snapshot_at = -math.inf
        self._first_snapshot_at: float | None = None

    def placed(self, n: int = 1) -> None:
        self.placed_total += n

    def resolved(self, live: bool, after_s: float) -> None:
        self._outcomes.append(live)
        (self._live_after if live else self._fail_after).append(after_s)
        if live:
            self.live_total += 1

    def connected(self) -> None:
        """A live answer reached an agent."""
        self._answers.append(False)

    def abandoned(self) -> None:
        """A live answer reached no agent within the grace: the safe-harbor message."""
        self.abandoned_total += 1
        self._answers.append(True)

    def talked(self, seconds: float) -> None:
        self._talk.append(seconds)

    def wrapped(self, seconds: float) -> None:
        self._wrap.append(seconds)

    def snapshot(self, now_s: float) -> ObservedStats:
        """The statistics now. The dialer asks every tick from its start; the first call
        marks when observing began."""
        if self._first_snapshot_at is None:
            self._first_snapshot_at = now_s
        if self._snapshot is None or now_s - self._snapshot_at >= self.refresh_s:
            outcomes = self._outcomes
            self._snapshot = ObservedStats(
                live_rate=sum(outcomes) / len(outcomes) if outcomes else 0.0,
                resolved=len(outcomes),
                ring_to_answer=Durations.of(self._live_after),
                ring_to_fail=Durations.of(self._fail_after),
                talk=Durations.of(self._talk),
                wrap_up=Durations.of(self._wrap),
            )
            self._snapshot_at = now_s
        return replace(
            self._snapshot,
            placed_total=self.placed_total,
            live_total=self.live_total,
            abandoned_total=self.abandoned_total,
            observed_s=now_s - self._first_snapshot_at,
            recent_answers=len(self._answers),
            recent_abandoned=sum(self._answers),
        )


# Preview dialing -------------------------------------------------------------------------
class OfferState(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    """The agent took it: place the call (the agent stays reserved for it)."""
    SKIPPED = "skipped"
    """The agent passed: the lead goes back undialed (no attempt counted)."""
    TIMED_OUT = "timed_out"
    """No answer within the timeout: as skipped, and the agent is offered the next one."""


@dataclass(frozen=True)
class PreviewOffer:
    """One contact shown to one agent before any call is placed. Transitions return a new
    record; a repeated accept or skip (a retried request) returns the same one."""

    agent_id: str
    lead: int
    offered_at_ms: int
    timeout_ms: int
    state: OfferState = OfferState.OFFERED
    decided_at_ms: int = 0

    @property
    def expires_at_ms(self) -> int:
        return self.offered_at_ms + self.timeout_ms

    def _decide(self, state: OfferState, now_ms: int) -> PreviewOffer:
        if self.state is state:
            return self
        if self.state is not OfferState.OFFERED:
            raise FailedPrecondition(f"offer of lead {self.lead} is already {self.state}")
        if now_ms >= self.expires_at_ms and state is not OfferState.TIMED_OUT:
            raise FailedPrecondition(f"offer of lead {self.lead} timed out")
        return PreviewOffer(
            self.agent_id, self.lead, self.offered_at_ms, self.timeout_ms, state, now_ms
        )

    def accept(self, now_ms: int) -> PreviewOffer:
        return self._decide(OfferState.ACCEPTED, now_ms)

    def skip(self, now_ms: int) -> PreviewOffer:
        return self._decide(OfferState.SKIPPED, now_ms)

    def expire(self, now_ms: int) -> PreviewOffer:
        """TIMED_OUT once the timeout has passed on an undecided offer; otherwise unchanged."""
        if self.state is OfferState.OFFERED and now_ms >= self.expires_at_ms:
            return self._decide(OfferState.TIMED_OUT, now_ms)
        return self

    @property
    def places_call(self) -> bool:
        return self.state is OfferState.ACCEPTED


def preview_offers_to_make(available_without_offer: int, leads_ready: int) -> int:
    """Preview pacing: one offer per available agent who holds none, as far as leads go."""
    return max(0, min(available_without_offer, leads_ready))


# Analytic baseline -----------------------------------------------------------------------
def progressive_occupancy(
    live_rate: float,
    live_ring_s: float,
    fail_s: float,
    talk_s: float,
    wrap_s: float,
) -> float:
    """Agent occupancy under progressive dialing, from means alone.

    An agent's cycle is: attempts until a live answer (geometric, 1 / live_rate of them on
    average), each failed one lasting `fail_s` and the live one ringing `live_ring_s`, during
    all of which the agent waits; then talk and wrap-up. Occupancy is busy time over cycle
    time (renewal-reward): (talk + wrap) / (talk + wrap + live_ring + (1/p - 1) fail).
    """
    busy = talk_s + wrap_s
    idle = live_ring_s + (1 / live_rate - 1) * fail_s
    return busy / (busy + idle)
