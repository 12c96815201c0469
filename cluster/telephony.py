"""The trunk's view of the telephone network: originate requests, call events, and drivers.

A driver places calls and reports what happens to them. `SimulatedCarrier` is the one stand-in
for the real network (tests, benchmarks and demos); a SIP or vendor driver implements the same
`CarrierDriver` protocol.

Simulated carrier behaviour (documented because benchmarks and demos depend on it):
- The outcome of a call is drawn from `CarrierProfile` probabilities with a random generator
  seeded by (profile seed, number, attempt), so the same call has the same fate whatever the
  order or concurrency in which calls are placed.
- A number that is not a valid E.164 number, or whose last four digits are in
  `invalid_line_numbers`, fails at once (`FAILED`, cause "invalid number").
- busy: `BUSY` after `busy_s` seconds. failed: `FAILED` after `failed_s` seconds.
- no answer: rings until cancelled (the trunk's max ring time turns it into `NO_ANSWER`).
- human / machine: `RINGING`, then after a ring time drawn uniformly from `ring_s` the call is
  answered. With AMD on, the event says which (`ANSWERED_HUMAN` / `ANSWERED_MACHINE`, machine
  detection taking `amd_s` more seconds); with AMD off it is `ANSWERED` (unclassified). The
  far end hangs up after a talk time drawn from `talk_s` (humans) or `message_s` (machines),
  unless our side hangs up first.
- `play_message` (the safe-harbor message of an abandoned call) replaces the rest of the call:
  `HUNG_UP` ("message played") after `message_play_s`.
- All durations are virtual seconds on the driver's clock (see `ScaledClock`): at scale 600
  a 30-second ring takes 50 ms.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import phonenumbers

from cluster.clock import Clock


class CallEventKind(StrEnum):
    RINGING = "ringing"
    ANSWERED_HUMAN = "answered_human"
    ANSWERED_MACHINE = "answered_machine"
    ANSWERED = "answered"
    """Answered with AMD off: nobody classified who picked up."""
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    HUNG_UP = "hung_up"


TERMINAL_BEFORE_ANSWER = frozenset(
    {CallEventKind.BUSY, CallEventKind.NO_ANSWER, CallEventKind.FAILED}
)


@dataclass(frozen=True)
class OriginateRequest:
    idempotency_key: str
    """campaign:instance:lead:attempt; a retried request with the same key places no call."""
    campaign_id: str
    instance: int
    lead: int
    token: str
    attempt: int
    phone: str
    caller_id: str
    max_ring_s: float
    amd: bool
    agent_id: str | None = None
    reservation: str = ""
    """The agent pool's reservation this call is placed under (progressive, preview)."""
    paced: bool = False
    """Placed for no agent in particular (predictive, power): a live answer is connected to
    whichever agent of the queue is free within the grace, or gets the safe-harbor message."""
    safe_harbor_flow_id: str = ""
    """A paced call's safe-harbor message: the trunk plays it itself to a live answer nobody
    has claimed shortly after the grace (its dialer died)."""
    tenant: str = "default"
    dial_by_ms: int = 0
    """The call may not start at or after this instant (epoch ms on the system clock): the
    contact's window or the scheduled occurrence closes then. 0: no deadline. The trunk checks
    it where the call is placed, so a request delayed in flight cannot dial late."""


@dataclass(frozen=True)
class CallEvent:
    call_id: str
    kind: CallEventKind
    at_ms: int
    cause: str = ""


EventSink = Callable[[CallEvent], Awaitable[None]]


class CarrierDriver(Protocol):
    async def originate(self, call_id: str, request: OriginateRequest, emit: EventSink) -> None:
        """Starts a call; events for it go to `emit` until a terminal one (busy, no answer,
        failed, hung up). Returns once the call is under way, not when it ends."""
        ...

    async def cancel(self, call_id: str) -> None:
        """Stops a call that has not been answered; no further event is emitted."""
        ...

    async def hangup(self, call_id: str) -> None:
        """Ends an answered call from our side; emits HUNG_UP."""
        ...

    async def play_message(self, call_id: str, flow_id: str) -> None:
        """Plays a recorded message (a flow or audio id) on an answered call, then hangs up;
        emits HUNG_UP once it has played (the safe-harbor message of an abandoned call)."""
        ...


@dataclass(frozen=True)
class CarrierProfile:
    """Outcome probabilities (normalised) and durations in virtual seconds."""

    human: float = 0.30
    machine: float = 0.20
    busy: float = 0.10
    no_answer: float = 0.30
    failed: float = 0.10
    ring_s: tuple[float, float] = (3.0, 25.0)
    talk_s: tuple[float, float] = (30.0, 180.0)
    message_s: tuple[float, float] = (10.0, 30.0)
    amd_s: float = 2.5
    message_play_s: float = 6.0
    """How long a message we play (play_message) lasts."""
    busy_s: float = 2.0
    failed_s: float = 1.0
    invalid_line_numbers: frozenset[int] = frozenset()
    seed: int = 0

    def fate(self, phone: str, attempt: int) -> tuple[str, random.Random]:
        """The outcome of this call and the generator for its durations."""
        digest = hashlib.sha256(f"{self.seed}:{phone}:{attempt}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        if not _valid_number(phone) or int(phone[-4:]) in self.invalid_line_numbers:
            return "invalid", rng
        weights = {
            "human": self.human,
            "machine": self.machine,
            "busy": self.busy,
            "no_answer": self.no_answer,
            "failed": self.failed,
        }
        total = sum(weights.values())
        pick = rng.random() * total
        for name, weight in weights.items():
            pick -= weight
            if pick < 0:
                return name, rng
        return "failed", rng


@functools.lru_cache(maxsize=100_000)
def _valid_number(phone: str) -> bool:
    """A valid number written exactly in E.164 (no spaces, no extension). Cached: parsing
    costs more than the rest of a simulated call, and retries dial the same numbers."""
    try:
        parsed = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return False
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.is_valid_number(parsed) and e164 == phone


@dataclass
class _LiveCall:
    task: asyncio.Task[None]
    emit: EventSink
    answered: bool = False


@dataclass
class SimulatedCarrier:
    """A seeded, time-scalable telephone network in the current asyncio loop."""

    clock: Clock
    profile: CarrierProfile = field(default_factory=CarrierProfile)
    scale: float = 1.0
    """Virtual seconds per real second (match the clock's scale)."""
    calls: dict[str, _LiveCall] = field(default_factory=dict)

    async def originate(self, call_id: str, request: OriginateRequest, emit: EventSink) -> None:
        fate, rng = self.profile.fate(request.phone, request.attempt)
        task = asyncio.get_running_loop().create_task(self._play(call_id, request, fate, rng, emit))
        self.calls[call_id] = _LiveCall(task, emit)

    async def cancel(self, call_id: str) -> None:
        live = self.calls.pop(call_id, None)
        if live is not None:
            live.task.cancel()

    async def hangup(self, call_id: str) -> None:
        live = self.calls.pop(call_id, None)
        if live is not None:
            live.task.cancel()
            await live.emit(self._event(call_id, CallEventKind.HUNG_UP, "hung up by us"))

    async def play_message(self, call_id: str, flow_id: str) -> None:
        live = self.calls.get(call_id)
        if live is None:
            return
        live.task.cancel()  # the far end listens to the message instead of talking
        live.task = asyncio.get_running_loop().create_task(self._play_message(call_id, live))

    async def _play_message(self, call_id: str, live: _LiveCall) -> None:
        try:
            await self._sleep(self.profile.message_play_s)
        except asyncio.CancelledError:
            return
        if self.calls.pop(call_id, None) is not None:
            await live.emit(self._event(call_id, CallEventKind.HUNG_UP, "message played"))

    def _event(self, call_id: str, kind: CallEventKind, cause: str = "") -> CallEvent:
        return CallEvent(call_id, kind, self.clock.now_ms(), cause)

    async def _sleep(self, virtual_s: float) -> None:
        await asyncio.sleep(virtual_s / self.scale)

    async def _play(
        self, call_id: str, req: OriginateRequest, fate: str, rng: random.Random, emit: EventSink
    ) -> None:
        p = self.profile
        try:
            if fate == "invalid":
                return await self._end(call_id, emit, CallEventKind.FAILED, "invalid number")
            if fate == "failed":
                await self._sleep(p.failed_s)
                return await self._end(call_id, emit, CallEventKind.FAILED, "network failure")
            if fate == "busy":
                await self._sleep(p.busy_s)
                return await self._end(call_id, emit, CallEventKind.BUSY)
            await emit(self._event(call_id, CallEventKind.RINGING))
            if fate == "no_answer":
                await asyncio.Event().wait()  # rings until the trunk cancels it
            await self._sleep(rng.uniform(*p.ring_s))
            live = self.calls.get(call_id)
            if live is not None:
                live.answered = True
            if req.amd:
                await self._sleep(p.amd_s)
                kind = (
                    CallEventKind.ANSWERED_HUMAN
                    if fate == "human"
                    else CallEventKind.ANSWERED_MACHINE
                )
            else:
                kind = CallEventKind.ANSWERED
            await emit(self._event(call_id, kind))
            await self._sleep(rng.uniform(*(p.talk_s if fate == "human" else p.message_s)))
            await self._end(call_id, emit, CallEventKind.HUNG_UP, "far end hung up")
        except asyncio.CancelledError:
            pass

    async def _end(
        self, call_id: str, emit: EventSink, kind: CallEventKind, cause: str = ""
    ) -> None:
        self.calls.pop(call_id, None)
        await emit(self._event(call_id, kind, cause))
