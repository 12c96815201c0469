"""Pacing policies, the statistics tracker and preview offers: pure, no Redis, no Ray."""

from __future__ import annotations

import random

import pytest

from cluster.abandon import AbandonBudget
from cluster.errors import FailedPrecondition
from cluster.models import Campaign, DialingMode
from cluster.pacing import (
    AdaptHardLimit,
    AgentSnapshot,
    CallStatsTracker,
    Durations,
    ObservedStats,
    OfferState,
    PacingInputs,
    PacingSettings,
    PredictiveSettings,
    PreviewOffer,
    allowed_rate,
    decide,
    expected_excess,
    power_calls,
    predictive_decision,
    preview_offers_to_make,
    progressive_calls,
    progressive_occupancy,
)

TARGET = 0.03


def lognormal_samples(mean: float, sigma: float, n: int = 500, seed: int = 1) -> list[float]:
    import math

    rng = random.Random(seed)
    mu = math.log(mean) - sigma * sigma / 2
    return [rng.lognormvariate(mu, sigma) for _ in range(n)]


def warm_stats(live_rate: float = 0.3, **overrides: object) -> ObservedStats:
    """Statistics as a dialer has them after a while: 12 s to a live answer, 17.5 s to a
    failure, talk 90 s, wrap-up 10 s."""
    fields: dict[str, object] = {
        "live_rate": live_rate,
        "resolved": 2000,
        "ring_to_answer": Durations.of(lognormal_samples(12, 0.35)),
        "ring_to_fail": Durations.of(lognormal_samples(17.5, 0.5, seed=2)),
        "talk": Durations.of(lognormal_samples(90, 0.8, seed=3)),
        "wrap_up": Durations.of(lognormal_samples(10, 0.3, seed=4)),
        "observed_s": 3600.0,
    }
    fields.update(overrides)
    return ObservedStats(**fields)  # type: ignore[arg-type]


WARM = warm_stats()


def busy_floor(
    available: int = 2,
    on_call: tuple[float, ...] = (),
    wrap_up: tuple[float, ...] = (),
    ringing: tuple[float, ...] = (),
    waiting: int = 0,
    budget: AbandonBudget | None = None,
    stats: ObservedStats | None = None,
) -> PacingInputs:
    return PacingInputs(
        stats=stats or WARM,
        agents=AgentSnapshot(available, on_call, wrap_up),
        ringing_elapsed_s=ringing,
        waiting_live=waiting,
        budget=budget or AbandonBudget(1000, 10, TARGET),
    )


# Durations -------------------------------------------------------------------------------
def test_durations_interpolate_their_quantiles() -> None:
    d = Durations.of(range(0, 101))
    assert d.count == 101 and d.mean_s == 50
    assert d.cdf(-1) == 0 and d.cdf(100) == 1
    assert d.cdf(50) == pytest.approx(0.5)
    assert d.quantile(0.9) == pytest.approx(90)
    # Given 50 s have passed, 10 more cover 10 of the remaining 50.
    assert d.ends_within(50, 10) == pytest.approx(0.2)
    assert Durations().cdf(5) == 0 and Durations().ends_within(1, 1) == 0


def test_past_the_longest_sample_the_rest_is_exponential() -> None:
    d = Durations.of([10.0, 20.0, 30.0])
    assert 0 < d.ends_within(100, 5) < 0.5


def test_a_point_mass_is_kept() -> None:
    """No-answer calls all end at the max ring time."""
    d = Durations.of([30.0] * 50 + [5.0] * 50)
    assert d.cdf(29.9) == pytest.approx(0.5, abs=0.06)
    assert d.cdf(30) == 1


def test_expected_excess_of_a_normal() -> None:
    assert expected_excess(0, 1) == pytest.approx(0.398942, rel=1e-5)
    assert expected_excess(-10, 1) == pytest.approx(0, abs=1e-12)
    assert expected_excess(3, 0) == 3


# Fixed ratios ----------------------------------------------------------------------------
def test_progressive_is_one_call_per_free_agent_minus_ringing() -> None:
    assert progressive_calls(busy_floor(available=5, ringing=(1.0, 2.0))) == 3
    assert progressive_calls(busy_floor(available=1, ringing=(1.0, 2.0))) == 0


def test_power_is_a_ratio_per_free_agent_minus_ringing() -> None:
    assert power_calls(busy_floor(available=5, ringing=(1.0,) * 4), 2.0) == 6
    assert power_calls(busy_floor(available=1, ringing=(1.0,) * 4), 2.0) == 0


def test_decide_by_mode() -> None:
    inputs = busy_floor(available=3)
    assert decide(inputs, PacingSettings(DialingMode.PROGRESSIVE)).calls == 3
    assert decide(inputs, PacingSettings(DialingMode.POWER, power_ratio=3)).calls == 9
    assert decide(inputs, PacingSettings(DialingMode.PREVIEW)).calls == 0
    with pytest.raises(ValueError):
        decide(inputs, PacingSettings(DialingMode.AGENTLESS))


def test_settings_come_from_the_campaign() -> None:
    campaign = Campaign.model_validate(
        {
            "name": "c",
            "contact_list_ids": ["l"],
            "dialing_mode": "predictive",
            "queue_id": "q",
            "safe_harbor_flow_id": "safe-harbor",
            "caller_id": "+12125550199",
            "abandon_target": 0.02,
            "contactable_timings": {
                "timezone": "UTC",
                "windows": {"mon": [{"start": "09:00", "end": "17:00"}]},
            },
        }
    )
    settings = PacingSettings.of(campaign)
    assert settings.mode is DialingMode.PREDICTIVE
    assert settings.abandon_target == 0.02


# Predictive ------------------------------------------------------------------------------
def floor(
    ringing: tuple[float, ...] = tuple(float(i) for i in range(10)),
    budget: AbandonBudget | None = None,
    stats: ObservedStats | None = None,
) -> PacingInputs:
    """40 agents mid-talk, 6 in wrap-up, 2 free: a floor about to need calls."""
    return busy_floor(
        available=2,
        on_call=tuple(float(5 * i % 300) for i in range(40)),
        wrap_up=(1.0, 3.0, 5.0, 7.0, 8.0, 9.0),
        ringing=ringing,
        budget=budget,
        stats=stats,
    )


def test_predictive_places_more_than_progressive_on_a_busy_floor() -> None:
    inputs = floor()
    decision = predictive_decision(inputs, TARGET)
    assert decision.calls > progressive_calls(inputs)
    assert decision.reason == "predictive"
    assert 0 < decision.expected_abandon_rate <= TARGET


def test_predictive_places_fewer_calls_the_more_are_ringing() -> None:
    few = predictive_decision(floor(ringing=(1.0,) * 5), TARGET)
    many = predictive_decision(floor(ringing=(1.0,) * 25), TARGET)
    assert few.calls > many.calls


def test_predictive_waits_for_enough_observations() -> None:
    for stats in (
        warm_stats(resolved=150),
        warm_stats(live_rate=0.01),  # 20 live answers seen
        warm_stats(observed_s=120.0),
        warm_stats(talk=Durations()),
    ):
        decision = predictive_decision(floor(stats=stats), TARGET)
        assert decision.reason.startswith("cold start")
        assert decision.calls == progressive_calls(floor())


def test_predictive_falls_back_to_progressive_once_the_budget_is_spent() -> None:
    spent = AbandonBudget(live_answers=2000, abandoned=58, target_rate=TARGET)  # 2.9%
    inputs = floor(budget=spent)
    decision = predictive_decision(inputs, TARGET)
    assert decision.reason.startswith("budget spent")
    assert decision.calls == progressive_calls(inputs)


def test_the_planned_rate_falls_as_the_window_fills() -> None:
    cfg = PredictiveSettings()
    rates = [allowed_rate(AbandonBudget(5000, ab, TARGET), TARGET, cfg) for ab in (0, 90, 120)]
    assert rates[0] == pytest.approx(cfg.planned_share * TARGET)
    assert rates[0] > rates[1] > rates[2]
    assert allowed_rate(AbandonBudget(5000, 150, TARGET), TARGET, cfg) == 0
    # A young window starts cautious: the prior sits between the two shares.
    assert 0 < allowed_rate(AbandonBudget(0, 0, TARGET), TARGET, cfg) < rates[0]


def test_predictive_never_places_fewer_than_progressive() -> None:
    rng = random.Random(7)
    for _ in range(30):
        inputs = busy_floor(
            available=rng.randint(0, 10),
            on_call=tuple(rng.uniform(0, 300) for _ in range(rng.randint(0, 40))),
            wrap_up=tuple(rng.uniform(0, 12) for _ in range(rng.randint(0, 8))),
            ringing=tuple(rng.uniform(0, 30) for _ in range(rng.randint(0, 40))),
            waiting=rng.randint(0, 2),
        )
        decision = predictive_decision(inputs, TARGET)
        assert decision.calls >= progressive_calls(inputs)
        # Beyond progressive, never more than 3 calls in flight per agent.
        in_flight = decision.calls + len(inputs.ringing_elapsed_s)
        assert decision.calls == progressive_calls(inputs) or in_flight <= 3 * (
            inputs.agents.logged_in
        )


# ADAPT baseline --------------------------------------------------------------------------
def adapt_inputs(
    available: int, on_call: int, ringing: int = 0, placed: int = 0, dropped: int = 0
) -> PacingInputs:
    return PacingInputs(
        stats=ObservedStats(placed_total=placed, abandoned_total=dropped),
        agents=AgentSnapshot(available, (10.0,) * on_call),
        ringing_elapsed_s=(1.0,) * ringing,
        budget=AbandonBudget(max(1, placed // 3), dropped, TARGET),
    )


def test_adapt_raises_its_level_while_agents_wait_and_caps_it() -> None:
    adapt = AdaptHardLimit()
    assert adapt.decide(0, adapt_inputs(5, 5)).calls == 5  # level 1: one per free agent
    for second in range(1, 200):
        adapt.decide(second, adapt_inputs(5, 5))
    assert adapt.level == 3.0
    # goal = 3 x (5 ready + 5 on call) = 30, minus 5 calls with agents and 8 ringing.
    assert adapt.decide(200, adapt_inputs(5, 5, ringing=8)).calls == 17


def test_adapt_drops_to_one_past_the_days_limit() -> None:
    adapt = AdaptHardLimit()
    for second in range(0, 61):
        adapt.decide(second, adapt_inputs(5, 5))
    assert adapt.level > 1
    # More than 50 calls today and drops over 3% of answers: hard limit, level 1.0.
    for second in range(61, 200):
        adapt.decide(second, adapt_inputs(5, 5, placed=300, dropped=10))
    assert adapt.level == 1.0


def test_adapt_halves_on_a_minute_of_mostly_drops() -> None:
    adapt = AdaptHardLimit(drop_limit=1.0)  # keep the daily limit out of the way
    for second in range(0, 100):
        adapt.decide(second, adapt_inputs(5, 5))
    before = adapt.level
    adapt.decide(120, adapt_inputs(0, 10, placed=40, dropped=30))  # the minute's drops
    adapt.decide(135, adapt_inputs(0, 10, placed=40, dropped=30))  # the next level update
    assert adapt.level <= max(1.0, before / 2)


# The tracker -----------------------------------------------------------------------------
def test_tracker_learns_rates_and_durations() -> None:
    tracker = CallStatsTracker(refresh_s=10)
    assert tracker.snapshot(0).resolved == 0
    for i in range(100):
        tracker.placed()
        live = i % 4 == 0
        tracker.resolved(live, 12.0 if live else 20.0)
        if live:
            tracker.connected()
            tracker.talked(90.0)
            tracker.wrapped(10.0)
    tracker.abandoned()
    stale = tracker.snapshot(5)  # within refresh_s: distributions not rebuilt yet
    assert stale.resolved == 0 and stale.placed_total == 100 and stale.abandoned_total == 1
    stats = tracker.snapshot(10)
    assert stats.resolved == 100 and stats.live_rate == 0.25
    assert stats.ring_to_answer.mean_s == 12 and stats.ring_to_fail.mean_s == 20
    assert stats.talk.mean_s == 90 and stats.wrap_up.mean_s == 10
    assert stats.recent_answers == 26 and stats.recent_abandoned == 1
    assert stats.observed_s == 10


# Preview ---------------------------------------------------------------------------------
def test_preview_offer_is_accepted_skipped_or_times_out() -> None:
    offer = PreviewOffer("ann", lead=7, offered_at_ms=1000, timeout_ms=30_000)
    accepted = offer.accept(5000)
    assert accepted.state is OfferState.ACCEPTED and accepted.places_call
    assert accepted.accept(6000) is accepted  # a retried accept
    with pytest.raises(FailedPrecondition):
        accepted.skip(6000)
    assert offer.skip(2000).state is OfferState.SKIPPED
    assert offer.expire(30_999) is offer
    timed_out = offer.expire(31_000)
    assert timed_out.state is OfferState.TIMED_OUT and not timed_out.places_call
    with pytest.raises(FailedPrecondition):
        offer.accept(31_000)  # too late: the lead has gone back


def test_preview_offers_one_per_free_agent_as_far_as_leads_go() -> None:
    assert preview_offers_to_make(4, 10) == 4
    assert preview_offers_to_make(4, 1) == 1
    assert preview_offers_to_make(0, 10) == 0


# Analytic --------------------------------------------------------------------------------
def test_progressive_occupancy_reproduces_the_issue_example() -> None:
    assert progressive_occupancy(0.30, 12, 17.5, 90, 10) == pytest.approx(0.654, abs=5e-4)
    assert progressive_occupancy(0.15, 12, 17.5, 90, 10) < 0.50
