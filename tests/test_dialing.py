"""Pure dialing decisions (cluster.dialing) and the trunk's calls-per-second bucket."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.dialing import (
    Outcome,
    Resolution,
    agentless_slots,
    attempt_key,
    attempt_key_prefix,
    is_live_answer,
    resolve_unanswered,
)
from cluster.telephony import CallEventKind
from cluster.trunks import TokenBucket


# resolve_unanswered ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "cause", "expected"),
    [
        (CallEventKind.BUSY, "", Resolution(Outcome.BUSY, retry=True)),
        (CallEventKind.NO_ANSWER, "", Resolution(Outcome.NO_ANSWER, retry=True)),
        (CallEventKind.ANSWERED_MACHINE, "", Resolution(Outcome.MACHINE, retry=True)),
        (CallEventKind.FAILED, "network failure", Resolution(Outcome.FAILED, retry=True)),
        (CallEventKind.FAILED, "", Resolution(Outcome.FAILED, retry=True)),
        (
            CallEventKind.FAILED,
            "invalid number",
            Resolution(Outcome.INVALID_NUMBER, retry=False),
        ),
        (CallEventKind.HUNG_UP, "far end hung up", Resolution(Outcome.NO_ANSWER, retry=True)),
    ],
)
def test_resolve_unanswered(kind: CallEventKind, cause: str, expected: Resolution) -> None:
    assert resolve_unanswered(kind, cause) == expected


def test_only_an_invalid_number_is_not_retried() -> None:
    retried = {
        kind: resolve_unanswered(kind, "invalid number").retry
        for kind in (
            CallEventKind.BUSY,
            CallEventKind.NO_ANSWER,
            CallEventKind.ANSWERED_MACHINE,
            CallEventKind.HUNG_UP,
        )
    }
    assert all(retried.values()), retried
    assert resolve_unanswered(CallEventKind.FAILED, "invalid number").retry is False


@pytest.mark.parametrize(
    "kind", [CallEventKind.ANSWERED_HUMAN, CallEventKind.ANSWERED, CallEventKind.RINGING]
)
def test_resolve_unanswered_refuses_events_that_do_not_end_an_unanswered_call(
    kind: CallEventKind,
) -> None:
    with pytest.raises(ValueError, match=str(kind)):
        resolve_unanswered(kind)


# is_live_answer --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "live"),
    [
        (CallEventKind.ANSWERED_HUMAN, True),
        (CallEventKind.ANSWERED, True),
        (CallEventKind.ANSWERED_MACHINE, False),
        (CallEventKind.RINGING, False),
        (CallEventKind.BUSY, False),
        (CallEventKind.NO_ANSWER, False),
        (CallEventKind.FAILED, False),
        (CallEventKind.HUNG_UP, False),
    ],
)
def test_is_live_answer(kind: CallEventKind, live: bool) -> None:
    assert is_live_answer(kind) is live


# agentless_slots and attempt_key ---------------------------------------------------------
@pytest.mark.parametrize(
    ("pacing", "in_flight", "slots"), [(10, 0, 10), (10, 3, 7), (10, 10, 0), (10, 14, 0)]
)
def test_agentless_slots(pacing: int, in_flight: int, slots: int) -> None:
    assert agentless_slots(pacing, in_flight) == slots


@given(st.integers(0, 1000), st.integers(0, 2000))
def test_agentless_slots_never_negative_and_never_exceed_pacing(
    pacing: int, in_flight: int
) -> None:
    slots = agentless_slots(pacing, in_flight)
    assert 0 <= slots <= pacing
    assert in_flight + slots == max(pacing, in_flight)


def test_attempt_key_format() -> None:
    assert attempt_key("camp-1", 2, 37, 3, "81") == "camp-1:2:37:3:81"
    assert attempt_key("camp-1", 2, 37, 3, "81").startswith(attempt_key_prefix("camp-1", 2))
    assert attempt_key("camp-1", 2, 37, 3, "81") != attempt_key("camp-1", 2, 37, 4, "81")
    assert attempt_key("camp-1", 2, 37, 3, "81") != attempt_key("camp-1", 3, 37, 3, "81")
    # One attempt number leased twice (the first lease lapsed unplaced): two keys.
    assert attempt_key("camp-1", 2, 37, 3, "81") != attempt_key("camp-1", 2, 37, 3, "90")


# TokenBucket -----------------------------------------------------------------------------
def test_token_bucket_two_per_second_burst_two() -> None:
    bucket = TokenBucket(rate_per_s=2, now_ms=0, burst=2)
    assert bucket.take(0)
    assert bucket.take(0)
    assert not bucket.take(0)
    assert not bucket.take(499)  # 0.998 tokens: not yet
    assert bucket.take(500)
    assert not bucket.take(500)


def test_token_bucket_refills_only_up_to_burst() -> None:
    bucket = TokenBucket(rate_per_s=2, now_ms=0, burst=2)
    assert bucket.take(0) and bucket.take(0)
    assert bucket.available(60_000) == pytest.approx(2)
    assert [bucket.take(60_000) for _ in range(3)] == [True, True, False]


def test_token_bucket_default_burst() -> None:
    assert TokenBucket(rate_per_s=5, now_ms=0).available(0) == 5
    assert TokenBucket(rate_per_s=0.5, now_ms=0).available(0) == 1


def test_token_bucket_clock_going_backwards_adds_nothing() -> None:
    bucket = TokenBucket(rate_per_s=2, now_ms=10_000, burst=2)
    assert bucket.take(10_000) and bucket.take(10_000)
    assert not bucket.take(9_000)
    assert not bucket.take(10_000)
    assert bucket.take(10_500)


@settings(max_examples=50)
@given(
    rate=st.floats(0.1, 100),
    burst=st.floats(1, 50),
    steps=st.lists(st.tuples(st.integers(-1_000, 5_000), st.booleans()), max_size=40),
)
def test_token_bucket_never_exceeds_burst(
    rate: float, burst: float, steps: list[tuple[int, bool]]
) -> None:
    bucket = TokenBucket(rate_per_s=rate, now_ms=0, burst=burst)
    now = 0
    for delta, take in steps:
        now += delta
        before = bucket.available(now)
        assert 0 <= before <= burst
        if take:
            assert bucket.take(now) is (before >= 1)
        assert 0 <= bucket.available(now) <= burst
