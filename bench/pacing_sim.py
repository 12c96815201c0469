"""Pacing simulator: a day of agent dialing in simulated time, driving cluster/pacing.py.

Discrete-event (heapq), seeded, no wall clock: 8 hours of calling run in seconds. The dialer
in here does what the campaign dialer does in production: it reports every call event to a
`CallStatsTracker` (so the live-answer rate, ring, talk and wrap-up times are learned online,
never given), builds `PacingInputs` from the agents' states and the calls in flight each
tick, and places the number of calls the policy returns. A live answer goes to the most idle
free agent, or waits up to 2 s for one; after that it is abandoned (the safe-harbor message).

    python -m bench.pacing_sim             # the table in docs/PACING.md
    python -m bench.pacing_sim --smoke     # a small, quick run

Windows: the abandon rate is reported for the whole simulated day (the UK window; the US
30-day window contains it) and per simulated hour; "hours over" is the share of (seed, hour)
windows whose abandon rate is above the target, a stricter test than the law's.

`python -m bench pacing_sim` runs it with the other benchmarks' runner.
"""

from __future__ import annotations

import argparse
import heapq
import io
import itertools
import math
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from cluster.abandon import AbandonBudget
from cluster.models import MAX_ABANDON_RATE, DialingMode
from cluster.pacing import (
    CONNECT_GRACE_S,
    AdaptHardLimit,
    AgentSnapshot,
    CallStatsTracker,
    FixedPolicy,
    PacingInputs,
    PacingPolicy,
    PacingSettings,
    progressive_occupancy,
)


@dataclass(frozen=True)
class Outcome:
    """A kind of call that is not a live answer, with its share of those calls."""

    name: str
    share: float
    mean_s: float
    sigma: float = 0.0
    """Lognormal shape; 0 for a fixed duration."""


NON_LIVE = (
    Outcome("machine", 0.40, 15.0, 0.3),  # rings, then AMD classifies it
    Outcome("no_answer", 0.35, 30.0),  # rings to the max ring time
    Outcome("busy", 0.15, 4.0, 0.3),
    Outcome("failed", 0.10, 4.0, 0.3),
)
"""The mix of calls that are not live answers: mean 17.5 s, the issue's example."""


@dataclass(frozen=True)
class Scenario:
    agents: int
    live_rate: float
    live_ring_mean_s: float = 12.0
    live_ring_sigma: float = 0.35
    talk_mean_s: float = 90.0
    talk_sigma: float = 0.8
    """Lognormal shape of talk times (0.8: about as spread as exponential's)."""
    wrap_mean_s: float = 10.0
    wrap_sigma: float = 0.3
    non_live: tuple[Outcome, ...] = NON_LIVE
    hours: float = 8.0
    tick_s: float = 0.5
    """The dialer evaluates its policy whenever an agent frees up, and at each tick if any
    call or agent changed since it last did (every 2 s regardless)."""
    target: float = MAX_ABANDON_RATE

    @property
    def fail_mean_s(self) -> float:
        total = sum(o.share for o in self.non_live)
        return sum(o.share * o.mean_s for o in self.non_live) / total

    def analytic_progressive(self) -> float:
        return progressive_occupancy(
            self.live_rate,
            self.live_ring_mean_s,
            self.fail_mean_s,
            self.talk_mean_s,
            self.wrap_mean_s,
        )


@dataclass
class Result:
    policy: str
    scenario: Scenario
    seed: int
    utilisation: float
    talk_min_per_agent_hour: float
    live: int
    abandoned: int
    placed: int
    hourly: list[tuple[int, int]] = field(default_factory=list)
    """(live, abandoned) per simulated hour."""
    seconds: float = 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0

    def hours_over(self, target: float) -> int:
        return sum(1 for live, ab in self.hourly if live and ab / live > target)

    @property
    def max_hourly_rate(self) -> float:
        return max((ab / live for live, ab in self.hourly if live), default=0.0)


def _lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    if sigma <= 0:
        return mean
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


# Event kinds, in tie-break order at equal times.
_RESOLVE, _TALK_END, _WRAP_END, _GIVE_UP, _TICK = range(5)


def simulate(scenario: Scenario, policy: PacingPolicy, seed: int) -> Result:
    """One simulated day of one policy. Deterministic for (scenario, policy, seed)."""
    started = time.perf_counter()
    rng = random.Random(f"{seed}:{scenario.agents}:{scenario.live_rate}")
    end = scenario.hours * 3600
    tracker = CallStatsTracker()
    events: list[tuple[float, int, int, int]] = []  # (time, kind, seq, subject)
    seq = itertools.count()

    def schedule(at: float, kind: int, subject: int) -> None:
        heapq.heappush(events, (at, kind, next(seq), subject))

    n = scenario.agents
    free: deque[int] = deque(range(n))  # most idle first
    on_call: dict[int, float] = {}  # agent -> talk start
    wrapping: dict[int, float] = {}  # agent -> wrap-up start
    ringing: dict[int, float] = {}  # call -> placed at
    live_calls: dict[int, bool] = {}  # call -> will be a live answer
    waiting: deque[tuple[int, float]] = deque()  # live answers waiting: (call, answered at)
    call_ids = itertools.count()
    busy_s = 0.0
    talk_s = 0.0
    live = abandoned = placed = 0
    hours = max(1, math.ceil(scenario.hours))
    hourly = [[0, 0] for _ in range(hours)]
    shares = [o.share for o in scenario.non_live]

    def place(now: float, count: int) -> None:
        nonlocal placed
        for _ in range(count):
            call = next(call_ids)
            ringing[call] = now
            if rng.random() < scenario.live_rate:
                live_calls[call] = True
                after = _lognormal(rng, scenario.live_ring_mean_s, scenario.live_ring_sigma)
            else:
                live_calls[call] = False
                kind = rng.choices(scenario.non_live, weights=shares)[0]
                after = _lognormal(rng, kind.mean_s, kind.sigma)
            schedule(now + after, _RESOLVE, call)
        placed += count
        tracker.placed(count)

    def connect(agent: int, now: float) -> None:
        talk = _lognormal(rng, scenario.talk_mean_s, scenario.talk_sigma)
        tracker.connected()
        on_call[agent] = now
        schedule(now + talk, _TALK_END, agent)

    last_evaluation = -math.inf
    dirty = True

    def evaluate(now: float) -> None:
        nonlocal last_evaluation, dirty
        last_evaluation, dirty = now, False
        agents = AgentSnapshot(
            available=len(free),
            on_call_elapsed_s=tuple(now - t for t in on_call.values()),
            wrap_up_elapsed_s=tuple(now - t for t in wrapping.values()),
        )
        inputs = PacingInputs(
            stats=tracker.snapshot(now),
            agents=agents,
            ringing_elapsed_s=tuple(now - t for t in ringing.values()),
            waiting_live=len(waiting),
            budget=AbandonBudget(live, abandoned, scenario.target),
        )
        count = policy.decide(now, inputs).calls
        if count > 0:
            place(now, count)

    schedule(0.0, _TICK, 0)
    while events:
        now, kind, _, subject = heapq.heappop(events)
        if now >= end:
            break
        if kind == _TICK:
            if dirty or now - last_evaluation >= 2.0:
                evaluate(now)
            schedule(now + scenario.tick_s, _TICK, 0)
            continue
        dirty = True
        if kind == _RESOLVE:
            placed_at = ringing.pop(subject)
            is_live = live_calls.pop(subject)
            tracker.resolved(is_live, now - placed_at)
            if is_live:
                live += 1
                hourly[int(now // 3600)][0] += 1
                if free:
                    connect(free.popleft(), now)
                else:
                    waiting.append((subject, now))
                    schedule(now + CONNECT_GRACE_S, _GIVE_UP, subject)
        elif kind == _GIVE_UP:
            if waiting and waiting[0][0] == subject:
                _, answered_at = waiting.popleft()
                abandoned += 1
                hourly[int(answered_at // 3600)][1] += 1
                tracker.abandoned()
        elif kind == _TALK_END:
            started_at = on_call.pop(subject)
            tracker.talked(now - started_at)
            talk_s += now - started_at
            busy_s += now - started_at
            wrapping[subject] = now
            schedule(
                now + _lognormal(rng, scenario.wrap_mean_s, scenario.wrap_sigma), _WRAP_END, subject
            )
        elif kind == _WRAP_END:
            started_at = wrapping.pop(subject)
            tracker.wrapped(now - started_at)
            busy_s += now - started_at
            if waiting:
                waiting.popleft()
                connect(subject, now)
            else:
                free.append(subject)
                evaluate(now)
    # Agents still busy at the end count up to the end.
    for started_at in on_call.values():
        busy_s += end - started_at
        talk_s += end - started_at
    for started_at in wrapping.values():
        busy_s += end - started_at
    agent_hours = n * scenario.hours
    return Result(
        policy=policy.name,
        scenario=scenario,
        seed=seed,
        utilisation=busy_s / (agent_hours * 3600),
        talk_min_per_agent_hour=talk_s / 60 / agent_hours,
        live=live,
        abandoned=abandoned,
        placed=placed,
        hourly=[(a, b) for a, b in hourly],
        seconds=time.perf_counter() - started,
    )


# Policies --------------------------------------------------------------------------------
def _progressive(target: float) -> PacingPolicy:
    return FixedPolicy(PacingSettings(DialingMode.PROGRESSIVE, target), "progressive")


def _adapt(target: float) -> PacingPolicy:
    return AdaptHardLimit(drop_limit=target)


def _predictive(target: float) -> PacingPolicy:
    return FixedPolicy(PacingSettings(DialingMode.PREDICTIVE, target), "predictive")


def _power3(target: float) -> PacingPolicy:
    """Deliberately over-dials (3 calls per free agent): shows the abandon check can fail."""
    return FixedPolicy(PacingSettings(DialingMode.POWER, target, power_ratio=3.0), "power3")


POLICIES: dict[str, Callable[[float], PacingPolicy]] = {
    "progressive": _progressive,
    "adapt": _adapt,
    "predictive": _predictive,
    "power3": _power3,
}


def _run(job: tuple[Scenario, str, int]) -> Result:
    scenario, name, seed = job
    return simulate(scenario, POLICIES[name](scenario.target), seed)


def run_all(
    scenarios: Sequence[Scenario], policies: Sequence[str], seeds: Sequence[int], jobs: int = 1
) -> list[Result]:
    work = [(s, p, seed) for s in scenarios for p in policies for seed in seeds]
    # Longest runs first so the pool ends together.
    work.sort(key=lambda job: -job[0].agents * job[0].hours)
    if jobs <= 1:
        results = [_run(job) for job in work]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_run, work))
    order = {
        (id(s), p, seed): i
        for i, (s, p, seed) in enumerate(
            (s, p, seed) for s in scenarios for p in policies for seed in seeds
        )
    }
    return sorted(results, key=lambda r: order.get((id(r.scenario), r.policy, r.seed), 0))


# Report ----------------------------------------------------------------------------------
COLUMNS = (
    "agents",
    "live rate",
    "policy",
    "utilisation % (min)",
    "analytic %",
    "talk min/agent-h",
    "abandon % day (worst)",
    "worst hour %",
    "hours over",
)


@dataclass(frozen=True)
class Row:
    agents: int
    live_rate: float
    policy: str
    utilisation: float
    utilisation_min: float
    talk_min_per_agent_hour: float
    abandon_rate_max: float
    worst_hour: float
    hours_over: int
    hours_total: int
    analytic: float | None

    def cells(self) -> list[str]:
        util = f"{100 * self.utilisation:.1f} ({100 * self.utilisation_min:.1f})"
        analytic = f"{100 * self.analytic:.1f}" if self.analytic is not None else ""
        return [
            str(self.agents),
            f"{self.live_rate:.2f}",
            self.policy,
            util,
            analytic,
            f"{self.talk_min_per_agent_hour:.1f}",
            f"{100 * self.abandon_rate_max:.2f}",
            f"{100 * self.worst_hour:.2f}",
            f"{self.hours_over}/{self.hours_total}",
        ]


def summarize(results: Sequence[Result]) -> list[Row]:
    groups: dict[tuple[int, float, float, str], list[Result]] = {}
    for r in results:
        groups.setdefault(
            (r.scenario.agents, r.scenario.live_rate, r.scenario.hours, r.policy), []
        ).append(r)
    rows = []
    for (agents, rate, _, policy), rs in groups.items():
        scenario = rs[0].scenario
        rows.append(
            Row(
                agents=agents,
                live_rate=rate,
                policy=policy,
                utilisation=statistics.fmean(r.utilisation for r in rs),
                utilisation_min=min(r.utilisation for r in rs),
                talk_min_per_agent_hour=statistics.fmean(r.talk_min_per_agent_hour for r in rs),
                abandon_rate_max=max(r.abandon_rate for r in rs),
                worst_hour=max(r.max_hourly_rate for r in rs),
                hours_over=sum(r.hours_over(scenario.target) for r in rs),
                hours_total=sum(len(r.hourly) for r in rs),
                analytic=scenario.analytic_progressive() if policy == "progressive" else None,
            )
        )
    return rows


def render(rows: Sequence[Row], title: str) -> str:
    """The table as text (rich, no colour), also for docs/PACING.md."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "policy" else "right")
    for row in rows:
        table.add_row(*row.cells())
    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(table)
    return console.export_text()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pacing_sim", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny run: 20 agents, 1 hour, 1 seed"
    )
    parser.add_argument("--agents", default="10,50,200")
    parser.add_argument("--live-rates", default="0.15,0.30")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--policies", default="progressive,adapt,predictive")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.smoke:
        agents, rates, seeds, hours = [20], [0.30], [1], 1.0
    else:
        agents = [int(a) for a in args.agents.split(",")]
        rates = [float(r) for r in args.live_rates.split(",")]
        seeds, hours = list(range(1, args.seeds + 1)), args.hours
    policies = args.policies.split(",")
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        print(f"unknown policies {unknown}; known: {sorted(POLICIES)}", file=sys.stderr)
        return 2
    scenarios = [Scenario(agents=a, live_rate=r, hours=hours) for a in agents for r in rates]
    started = time.perf_counter()
    results = run_all(scenarios, policies, seeds, args.jobs)
    title = (
        f"{hours:g} simulated hours x {len(seeds)} seed(s); ring 12 s, non-live 17.5 s,"
        f" talk 90 s, wrap 10 s; target {100 * scenarios[0].target:.0f}%"
    )
    print(render(summarize(results), title))
    print(f"{len(results)} runs in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
