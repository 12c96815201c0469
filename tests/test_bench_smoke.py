"""Each benchmark runs at smoke size and prints its table (how fast is not checked here)."""

from __future__ import annotations

import importlib

import pytest

from bench.__main__ import BENCHMARKS

# What each benchmark's table must contain: its title and the baseline row.
EXPECTED = {
    "dnc": ["1. DNC at registry scale", "ceiling: SISMEMBER -P 16", "bytes/number"],
    "import": ["2. Contact import and scrub", "end to end", "baseline: Redis writes alone"],
    "dispatch": ["3. Dial dispatch", "1 campaign", "ceiling: the same loop on Redis alone"],
    "progressive": [
        "4. Progressive latency",
        "short calls: steady",
        "login burst",
        "baseline: no-op call actor -> actor",
        "baseline: Redis PING",
    ],
    "memory": [
        "5a. Memory per campaign actor",
        "baseline: bare Ray actor",
        "CampaignActor dialing",
        "5b. Redis memory per lead",
        "run lead state",
        "baseline: SADD",
        "5c. Whole cluster at rest",
        "our actor: controller",
        "baseline: Ray alone",
    ],
}
NEEDS_RAY = {"dispatch", "progressive", "memory"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_benchmark_runs_and_reports(
    name: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    if name in NEEDS_RAY:
        request.getfixturevalue("ray_cluster")  # the session's Ray: no second start-up
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("BENCH_WIDTH", "200")
    module = importlib.import_module(BENCHMARKS[name])
    argv = ["--smoke", "--no-fetch"] if name == "dnc" else ["--smoke"]
    assert module.main(argv) == 0
    out = capsys.readouterr().out
    for text in EXPECTED[name]:
        assert text in out, out


def test_runner_rejects_an_unknown_name() -> None:
    from bench.__main__ import main

    with pytest.raises(SystemExit):
        main(["no-such-benchmark"])
