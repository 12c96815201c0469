"""The simulated carrier: seeded call fates and the events a call emits (asyncio, no Ray)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

from cluster.clock import ScaledClock
from cluster.telephony import (
    CallEvent,
    CallEventKind,
    CarrierProfile,
    OriginateRequest,
    SimulatedCarrier,
)

SCALE = 1000.0
"""Virtual seconds per real second: a 25 s ring takes 25 ms."""
OUTCOMES = ("human", "machine", "busy", "no_answer", "failed")
PHONE = "+12125550100"
NUMBERS = [f"+1212555{n:04d}" for n in range(5000)]


def only(outcome: str, **settings: Any) -> CarrierProfile:
    """A profile whose every (valid) call has `outcome`."""
    weights = {name: 1.0 if name == outcome else 0.0 for name in OUTCOMES}
    return CarrierProfile(**weights, **settings)


def request(phone: str = PHONE, amd: bool = True, attempt: int = 1) -> OriginateRequest:
    return OriginateRequest(
        idempotency_key=f"camp:1:7:{attempt}",
        campaign_id="camp",
        instance=1,
        lead=7,
        token="tok",
        attempt=attempt,
        phone=phone,
        caller_id="+12125550199",
        max_ring_s=30.0,
        amd=amd,
    )


@dataclass
class Recorder:
    """Collects a call's events; `ended` is set on a terminal one."""

    events: list[CallEvent] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, event: CallEvent) -> None:
        self.events.append(event)
        if event.kind not in (
            CallEventKind.RINGING,
            CallEventKind.ANSWERED,
            CallEventKind.ANSWERED_HUMAN,
            CallEventKind.ANSWERED_MACHINE,
        ):
            self.ended.set()

    @property
    def kinds(self) -> list[CallEventKind]:
        return [e.kind for e in self.events]

    async def wait_for(self, kind: CallEventKind, timeout_s: float = 2.0) -> None:
        async def seen() -> None:
            while kind not in self.kinds:
                await asyncio.sleep(0.001)

        await asyncio.wait_for(seen(), timeout_s)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def carrier(profile: CarrierProfile) -> SimulatedCarrier:
    return SimulatedCarrier(clock=ScaledClock(scale=SCALE), profile=profile, scale=SCALE)


# Fates -------------------------------------------------------------------------------------
def test_fate_is_deterministic_for_seed_phone_and_attempt() -> None:
    profile = CarrierProfile(seed=42)
    again = CarrierProfile(seed=42)
    for phone in NUMBERS[:100]:
        for attempt in (1, 2, 3):
            fate, rng = profile.fate(phone, attempt)
            fate_again, rng_again = again.fate(phone, attempt)
            assert fate == fate_again
            assert [rng.random() for _ in range(3)] == [rng_again.random() for _ in range(3)]


def test_fate_differs_across_seeds_and_attempts() -> None:
    seed_0 = [CarrierProfile(seed=0).fate(p, 1)[0] for p in NUMBERS[:300]]
    seed_1 = [CarrierProfile(seed=1).fate(p, 1)[0] for p in NUMBERS[:300]]
    attempt_2 = [CarrierProfile(seed=0).fate(p, 2)[0] for p in NUMBERS[:300]]
    differing_seed = sum(a != b for a, b in zip(seed_0, seed_1, strict=True))
    differing_attempt = sum(a != b for a, b in zip(seed_0, attempt_2, strict=True))
    # Independent draws with these weights differ about 76% of the time.
    assert differing_seed > 150
    assert differing_attempt > 150


def test_fate_frequencies_match_the_profile() -> None:
    profile = CarrierProfile(seed=7)
    counts = Counter(profile.fate(phone, 1)[0] for phone in NUMBERS)
    assert set(counts) <= set(OUTCOMES)
    total = profile.human + profile.machine + profile.busy + profile.no_answer + profile.failed
    for name in OUTCOMES:
        expected = getattr(profile, name) / total
        assert counts[name] / len(NUMBERS) == pytest.approx(expected, abs=0.03), name


def test_fate_weights_are_normalised() -> None:
    profile = CarrierProfile(human=3.0, machine=0.0, busy=1.0, no_answer=0.0, failed=0.0)
    numbers = NUMBERS[:2000]
    counts = Counter(profile.fate(phone, 1)[0] for phone in numbers)
    assert set(counts) == {"human", "busy"}
    assert counts["human"] / len(numbers) == pytest.approx(0.75, abs=0.03)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_a_certain_profile_forces_the_fate(outcome: str) -> None:
    profile = only(outcome)
    assert {profile.fate(phone, 1)[0] for phone in NUMBERS[:300]} == {outcome}


@pytest.mark.parametrize(
    "phone", ["12125550100", "+1555", "+1212555010", "", "not a number", "+99912345678"]
)
def test_invalid_numbers_are_always_invalid(phone: str) -> None:
    for seed in range(5):
        for attempt in range(1, 4):
            assert only("human", seed=seed).fate(phone, attempt)[0] == "invalid"


def test_invalid_line_numbers_are_invalid() -> None:
    profile = only("human", invalid_line_numbers=frozenset({100, 4242}))
    for attempt in range(1, 6):
        assert profile.fate("+12125550100", attempt)[0] == "invalid"
        assert profile.fate("+13125554242", attempt)[0] == "invalid"
        assert profile.fate("+12125550101", attempt)[0] == "human"
        assert profile.fate("+12125551100", attempt)[0] == "human"


def test_number_with_an_extension_is_invalid_rather_than_a_crash() -> None:
    assert CarrierProfile().fate("+12125550100 ext. 5", 1)[0] == "invalid"


# Events ------------------------------------------------------------------------------------
def test_busy_call_emits_busy() -> None:
    async def scenario() -> None:
        sim = carrier(only("busy"))
        rec = Recorder()
        await sim.originate("call-1", request(), rec)
        await asyncio.wait_for(rec.ended.wait(), 2)
        await asyncio.sleep(0.01)
        assert rec.kinds == [CallEventKind.BUSY]
        assert rec.events[0].call_id == "call-1"
        assert "call-1" not in sim.calls

    run(scenario)


def test_failed_call_emits_failed_network_failure() -> None:
    async def scenario() -> None:
        sim = carrier(only("failed"))
        rec = Recorder()
        await sim.originate("call-1", request(), rec)
        await asyncio.wait_for(rec.ended.wait(), 2)
        assert [(e.kind, e.cause) for e in rec.events] == [
            (CallEventKind.FAILED, "network failure")
        ]

    run(scenario)


@pytest.mark.parametrize("phone", ["+1555", "+12125550100"])
def test_invalid_number_emits_failed_invalid_number(phone: str) -> None:
    async def scenario() -> None:
        sim = carrier(only("human", invalid_line_numbers=frozenset({100})))
        rec = Recorder()
        await sim.originate("call-1", request(phone=phone), rec)
        await asyncio.wait_for(rec.ended.wait(), 2)
        await asyncio.sleep(0.01)
        assert [(e.kind, e.cause) for e in rec.events] == [(CallEventKind.FAILED, "invalid number")]
        assert "call-1" not in sim.calls

    run(scenario)


def test_human_with_amd_rings_answers_human_then_far_end_hangs_up() -> None:
    async def scenario() -> None:
        sim = carrier(only("human", talk_s=(20.0, 25.0), message_s=(1.0, 2.0)))
        rec = Recorder()
        await sim.originate("call-1", request(amd=True), rec)
        await asyncio.wait_for(rec.ended.wait(), 2)
        await asyncio.sleep(0.01)
        assert rec.kinds == [
            CallEventKind.RINGING,
            CallEventKind.ANSWERED_HUMAN,
            CallEventKind.HUNG_UP,
        ]
        assert rec.events[-1].cause == "far end hung up"
        stamps = [e.at_ms for e in rec.events]
        assert stamps == sorted(stamps)
        # Ring (>= 3 s) plus AMD (2.5 s) of virtual time pass before the answer.
        assert stamps[1] - stamps[0] >= 5_000
        # Then a human talks for talk_s (20-25 s; 1 s of slack for the clocks).
        assert stamps[2] - stamps[1] >= 19_000
        assert "call-1" not in sim.calls

    run(scenario)


def test_machine_with_amd_answers_machine() -> None:
    async def scenario() -> None:
        sim = carrier(only("machine", talk_s=(1.0, 2.0), message_s=(20.0, 25.0)))
        rec = Recorder()
        await sim.originate("call-1", request(amd=True), rec)
        await asyncio.wait_for(rec.ended.wait(), 2)
        assert rec.kinds == [
            CallEventKind.RINGING,
            CallEventKind.ANSWERED_MACHINE,
            CallEventKind.HUNG_UP,
        ]
        assert rec.events[-1].cause == "far end hung up"
        # A machine's message lasts message_s (20-25 s; 1 s of slack for the clocks).
        assert rec.events[2].at_ms - rec.events[1].at_ms >= 19_000

    run(scenario)


@pytest.mark.parametrize("outcome", ["human", "machine"])
def test_without_amd_an_answer_is_unclassified(outcome: str) -> None:
    async def scenario() -> None:
        sim = carrier(only(outcome, talk_s=(5.0, 10.0)))
        rec = Recorder()
        await sim.originate("call-1", request(amd=False), rec)
        await asyncio.wait_for(rec.ended.wait(), 2)
        assert rec.kinds == [CallEventKind.RINGING, CallEventKind.ANSWERED, CallEventKind.HUNG_UP]

    run(scenario)


def test_no_answer_rings_until_cancelled_then_is_silent() -> None:
    async def scenario() -> None:
        sim = carrier(only("no_answer"))
        rec = Recorder()
        await sim.originate("call-1", request(), rec)
        await asyncio.sleep(0.06)  # 60 virtual seconds: longer than any ring time
        assert rec.kinds == [CallEventKind.RINGING]
        assert "call-1" in sim.calls
        task = sim.calls["call-1"].task
        await sim.cancel("call-1")
        await asyncio.sleep(0.05)
        assert rec.kinds == [CallEventKind.RINGING]
        assert "call-1" not in sim.calls
        assert task.done()
        await sim.cancel("call-1")  # a second cancel is harmless
        await sim.hangup("call-1")  # and so is hanging up a call that is gone
        assert rec.kinds == [CallEventKind.RINGING]

    run(scenario)


def test_hangup_on_an_answered_call_emits_hung_up_by_us() -> None:
    async def scenario() -> None:
        # Left alone, the far end would hang up 60 virtual seconds (60 ms) after answering.
        sim = carrier(only("human", talk_s=(60.0, 60.0)))
        rec = Recorder()
        await sim.originate("call-1", request(amd=True), rec)
        await rec.wait_for(CallEventKind.ANSWERED_HUMAN)
        assert sim.calls["call-1"].answered
        await sim.hangup("call-1")
        await asyncio.sleep(0.1)  # past the far end's hang-up time: it must not come
        assert [(e.kind, e.cause) for e in rec.events] == [
            (CallEventKind.RINGING, ""),
            (CallEventKind.ANSWERED_HUMAN, ""),
            (CallEventKind.HUNG_UP, "hung up by us"),
        ]
        assert "call-1" not in sim.calls

    run(scenario)


def test_concurrent_calls_keep_their_own_events() -> None:
    async def scenario() -> None:
        profile = CarrierProfile(ring_s=(1.0, 3.0), talk_s=(1.0, 3.0), seed=3)
        sim = carrier(profile)
        phones = NUMBERS[:40]
        recs = {phone: Recorder() for phone in phones}
        for i, phone in enumerate(phones):
            await sim.originate(f"call-{i}", request(phone=phone), recs[phone])
        expected = {
            phone: {
                "human": [CallEventKind.RINGING, CallEventKind.ANSWERED_HUMAN],
                "machine": [CallEventKind.RINGING, CallEventKind.ANSWERED_MACHINE],
                "busy": [CallEventKind.BUSY],
                "failed": [CallEventKind.FAILED],
                "no_answer": [CallEventKind.RINGING],
            }[profile.fate(phone, 1)[0]]
            for phone in phones
        }
        assert len({tuple(kinds) for kinds in expected.values()}) == 5  # every fate occurs

        async def all_started() -> None:
            while any(
                recs[phone].kinds[: len(kinds)] != kinds for phone, kinds in expected.items()
            ):
                await asyncio.sleep(0.002)

        await asyncio.wait_for(all_started(), 2)
        for i, phone in enumerate(phones):
            assert {e.call_id for e in recs[phone].events} == {f"call-{i}"}
        for i in range(len(phones)):
            await sim.cancel(f"call-{i}")

    run(scenario)
