"""The pacing simulator (bench/pacing_sim.py): it runs, it agrees with the analytic progressive
occupancy, and its abandon check can tell a compliant policy from an over-dialing one."""

from __future__ import annotations

import pytest

from bench.pacing_sim import (
    COLUMNS,
    POLICIES,
    Scenario,
    main,
    simulate,
    summarize,
)
from cluster.pacing import progressive_occupancy


def test_smoke_run_reports_every_column(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke"]) == 0
    out = capsys.readouterr().out
    for column in COLUMNS:
        assert column in out
    for policy in ("progressive", "adapt", "predictive"):
        assert policy in out


def test_unknown_policy_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke", "--policies", "clairvoyant"]) == 2


def test_progressive_matches_the_analytic_occupancy() -> None:
    """The issue's example: live rate 0.30, ring 12 s, failed attempts 17.5 s, talk 90 s,
    wrap-up 10 s: 65.4%. The formula needs means only, so a narrower talk time (less noise)
    and a fine tick (less delay re-dialing after a failed call) test the simulator itself."""
    scenario = Scenario(agents=40, live_rate=0.30, hours=4, tick_s=0.25, talk_sigma=0.3)
    assert scenario.fail_mean_s == pytest.approx(17.5)
    expected = progressive_occupancy(0.30, 12, 17.5, 90, 10)
    assert expected == pytest.approx(0.654, abs=5e-4)
    result = simulate(scenario, POLICIES["progressive"](scenario.target), seed=1)
    assert result.abandoned == 0
    assert abs(result.utilisation - expected) < 0.01


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_predictive_holds_the_target_where_over_dialing_does_not(seed: int) -> None:
    scenario = Scenario(agents=20, live_rate=0.30, hours=1.5)
    results = {
        name: simulate(scenario, POLICIES[name](scenario.target), seed)
        for name in ("progressive", "predictive", "power3")
    }
    predictive, over = results["predictive"], results["power3"]
    assert predictive.live > 300
    assert predictive.abandon_rate <= scenario.target
    assert predictive.hours_over(scenario.target) == 0
    # It does so while dialing ahead, not by being progressive...
    assert predictive.utilisation > results["progressive"].utilisation + 0.05
    # ...and the same check does catch a policy that dials too far ahead.
    assert over.abandon_rate > scenario.target


def test_summary_rows_carry_the_analytic_baseline() -> None:
    scenario = Scenario(agents=5, live_rate=0.30, hours=0.25)
    results = [
        simulate(scenario, POLICIES[name](scenario.target), seed=1)
        for name in ("progressive", "adapt")
    ]
    rows = {row.policy: row for row in summarize(results)}
    assert rows["progressive"].analytic == pytest.approx(scenario.analytic_progressive())
    assert rows["adapt"].analytic is None
    assert len(rows["adapt"].cells()) == len(COLUMNS)
