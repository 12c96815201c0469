"""TrunkActor: one gateway trunk. Enforces channels and CPS, places calls through a driver,
enforces max ring time, renews the leases of its live calls, and reports every call event to
the campaign dialer that asked for the call."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgpack
import ray
import redis

from actors.runtime import RuntimeConfig, find_actor
from cluster.answers import ABANDONED, AnswerClaims
from cluster.codec import text
from cluster.dialing import is_live_answer
from cluster.errors import NotFound
from cluster.leads import LeadState, Lease
from cluster.logs import call_fields
from cluster.metrics import call_end_increments, originated_field
from cluster.models import DialingOrder
from cluster.origination import OriginationRequest, Originations
from cluster.pacing import CONNECT_GRACE_S
from cluster.telephony import (
    CallEvent,
    CallEventKind,
    EventSink,
    OriginateRequest,
    SimulatedCarrier,
)
from cluster.trunks import TokenBucket

log = logging.getLogger(__name__)

EVENT_DELIVERY_TIMEOUT_S = 300.0
"""Real seconds a call event waits for its dialer to come back before it is dropped (the
lead's lease then expires and the reaper settles it)."""

GRACE_GUARD_SLACK_S = 1.0
"""Virtual seconds past the grace the trunk leaves the dialer to settle an answer itself."""

TERMINAL = frozenset(
    {CallEventKind.BUSY, CallEventKind.NO_ANSWER, CallEventKind.FAILED, CallEventKind.HUNG_UP}
)


@dataclass
class LiveCall:
    request: OriginateRequest
    reply_to: str
    answered: bool = False
    answer: str = ""
    """How the call was answered (answered_human, answered_machine, answered)."""
    answer_ms: int = 0
    start_ms: int = 0
    start_ns: int = 0
    """Wall clock, only with RuntimeConfig.trace_latency (benchmarks)."""
    ring_timer: asyncio.Task[None] | None = None
    grace_guard: asyncio.Task[None] | None = None
    """Paced calls: abandons a live answer nobody claimed in time (see _guard_grace)."""
    events: list[str] = field(default_factory=list)
    flow: str = ""
    """The message played to the far end instead of an agent (an abandoned call's safe
    harbor), recorded with the call."""


@dataclass(frozen=True)
class CallReport:
    """One call event as the campaign dialer receives it."""

    call_id: str
    trunk_id: str
    request: OriginateRequest
    kind: CallEventKind
    at_ms: int
    cause: str
    answered: bool
    """Whether the call had been answered (a HUNG_UP after an answer is a finished call)."""
    answer: str
    """How it was answered: answered_human, answered_machine or answered (AMD off)."""


class Trunk:
    """The trunk's logic, apart from Ray so it can be driven directly in tests."""

    def __init__(self, cfg: RuntimeConfig, trunk_id: str) -> None:
        self.cfg = cfg
        self.trunk_id = trunk_id
        self.state = cfg.state()
        self.clock = self.state.clock
        self.config = self.state.trunks.get(trunk_id)
        self.driver = SimulatedCarrier(self.clock, cfg.carrier, cfg.time_scale)
        self.live: dict[str, LiveCall] = {}
        self.bucket = TokenBucket(self.config.cps, self.clock.now_ms())
        self.counters = {
            "placed": 0,
            "duplicate": 0,
            "no_capacity": 0,
            "cps": 0,
            "lease_lost": 0,
            "too_late": 0,
            "max_live": 0,
            "grace_abandons": 0,
        }
        self._handles: dict[str, Any] = {}
        self._deliveries: set[asyncio.Task[None]] = set()
        self._outbox: dict[str, list[CallReport]] = {}
        """Call events waiting to be delivered, per dialer, in the order they happened."""
        self._flushing: set[str] = set()
        self._ends: list[tuple[str, LiveCall, CallEvent]] = []
        """Ended calls whose records are not yet written: written together, before the
        events that report them are delivered."""
        self._runs: dict[tuple[str, int], LeadState] = {}
        self._modes: dict[tuple[str, int], str] = {}
        self.originations = Originations(self.state.r)
        self.claims = AnswerClaims(self.state.r)
        # Channels in use, as the metrics exporter sees them; the calls of an earlier life of
        # this trunk died with it.
        self.calls_key = self.state.keys.trunk_calls(trunk_id)
        self.state.r.delete(self.calls_key)

    def reload(self) -> dict[str, Any]:
        self.config = self.state.trunks.get(self.trunk_id)
        self.bucket.rate = self.config.cps
        self.bucket.burst = max(1.0, self.config.cps)
        return self.status()

    def status(self) -> dict[str, Any]:
        tokens = self.bucket.available(self.clock.now_ms())
        free = 0 if self.config.draining else max(0, self.config.channels - len(self.live))
        return {
            "trunk_id": self.trunk_id,
            "channels": self.config.channels,
            "live": len(self.live),
            "free": free,
            "cps_tokens": int(tokens),
            "draining": self.config.draining,
            **self.counters,
        }

    async def originate(self, request: OriginateRequest, reply_to: str) -> dict[str, str]:
        (answer,) = await self.originate_many([request], reply_to)
        return answer

    async def originate_many(
        self, requests: list[OriginateRequest], reply_to: str
    ) -> list[dict[str, str]]:
        """Places each call unless: it was placed before under the same idempotency key
        (duplicate), its dial-by instant has passed (too_late: the contact's window or the
        occurrence closed while the request was in flight), the trunk is full or over its
        CPS, or the lead's lease is no longer held (lease_lost: it lapsed while the request
        was in flight, and the lead may already be someone else's). Answers in order; the
        whole batch is recorded in one Redis round trip."""
        now = self.clock.now_ms()
        lease_until = now + int(self.cfg.lease_ttl_s * 1000)
        planned: list[OriginationRequest] = []
        taking = 0
        # Benchmarks only: a wall-clock start, finer than the ms clock (RuntimeConfig).
        start_ns = time.time_ns() if self.cfg.trace_latency else 0
        for request in requests:
            refusal = self._refusal(request, now, taking)
            taking += not refusal
            planned.append(
                OriginationRequest(
                    run=self.state.keys.campaign(request.campaign_id).run(request.instance),
                    counters_key=self._counters(request.campaign_id, request.instance),
                    idempotency_key=request.idempotency_key,
                    refusal=refusal,
                    lead=request.lead,
                    token=request.token,
                    lease_until_ms=lease_until,
                    call_id=f"{self.trunk_id}-{uuid.uuid4().hex[:12]}",
                    record=self._call_record(request, now, start_ns),
                    originated_field=originated_field(self.trunk_id),
                    now_ms=now,
                )
            )
        outcomes = self.originations.record_many(planned)
        placed = [
            (request, plan.call_id)
            for request, plan, outcome in zip(requests, planned, outcomes, strict=True)
            if outcome.result == "placed"
        ]
        if placed:
            self.state.r.hset(
                self.calls_key, mapping={call_id: req.campaign_id for req, call_id in placed}
            )
        answers = []
        for request, plan, outcome in zip(requests, planned, outcomes, strict=True):
            if outcome.result != "placed":
                if not plan.refusal:
                    self.bucket.tokens += 1  # a CPS token was taken, but no call placed
                self.counters[outcome.result] += 1
                answers.append(
                    {"result": "duplicate", "call_id": outcome.call_id}
                    if outcome.result == "duplicate"
                    else {"result": outcome.result}
                )
                continue
            await self._dial(request, plan.call_id, reply_to, now, start_ns)
            answers.append({"result": "placed", "call_id": plan.call_id})
        return answers

    def _call_record(
        self, request: OriginateRequest, start_ms: int, start_ns: int
    ) -> dict[str, object]:
        """A call's record as placed; its end adds the end and the answer."""
        record: dict[str, object] = {
            "lead": request.lead,
            "attempt": request.attempt,
            "trunk": self.trunk_id,
            "agent": request.agent_id,
            "start_ms": start_ms,
        }
        if start_ns:
            record["start_ns"] = start_ns
        return record

    async def _dial(
        self, request: OriginateRequest, call_id: str, reply_to: str, now: int, start_ns: int
    ) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("call placed", extra=call_fields(request, call_id, "placed"))
        live = LiveCall(request, reply_to, start_ms=now, start_ns=start_ns)
        self.live[call_id] = live
        self.counters["placed"] += 1
        self.counters["max_live"] = max(self.counters["max_live"], len(self.live))
        live.ring_timer = asyncio.get_running_loop().create_task(
            self._ring_limit(call_id, request.max_ring_s)
        )
        await self.driver.originate(call_id, request, self._event_sink(call_id))

    def _refusal(self, request: OriginateRequest, now: int, taking: int) -> str:
        """Why this trunk will not place the call now ('' if it will: a CPS token is taken).
        `taking`: calls of the same batch already let through. Decided before the
        idempotency check, which the origination script makes first."""
        if request.dial_by_ms and now >= request.dial_by_ms:
            return "too_late"
        if self.config.draining or len(self.live) + taking >= self.config.channels:
            return "no_capacity"
        if not self.bucket.take(now):
            return "cps"
        return ""

    async def hangup(self, call_id: str) -> bool:
        if call_id not in self.live:
            return False
        await self.driver.hangup(call_id)
        return True

    async def play_message(self, call_id: str, flow_id: str) -> bool:
        """Plays `flow_id` to an answered call and ends it (the driver reports HUNG_UP when the
        message has played); the call's record names the flow."""
        live = self.live.get(call_id)
        if live is None:
            return False
        if not live.flow:  # a retried request plays it once
            live.flow = flow_id
            await self.driver.play_message(call_id, flow_id)
        return True

    async def _guard_grace(self, call_id: str, answered_ms: int) -> None:
        """A paced call's live answer must reach an agent within CONNECT_GRACE_S or hear the
        safe-harbor message. The dialer and the pool decide which; if nobody has claimed the
        answer shortly after the grace (the dialer died), the trunk claims it as abandoned,
        counts it in the ledger and plays the message itself. The claim (cluster/answers.py)
        keeps the pool from connecting an agent after that, and the dialer from counting it
        twice."""
        await asyncio.sleep((CONNECT_GRACE_S + GRACE_GUARD_SLACK_S) / self.cfg.time_scale)
        live = self.live.get(call_id)
        if live is None or live.flow:
            return
        req = live.request
        run = self.state.keys.campaign(req.campaign_id).run(req.instance)
        try:
            if self.claims.claim(run, call_id, ABANDONED) != ABANDONED:
                return  # an agent took it
            self.state.abandon_ledger(req.campaign_id).record_abandoned_answer(
                call_id, answered_ms, self.clock.now_ms(), req.phone
            )
        except (redis.RedisError, NotFound):
            log.exception("call %s: could not settle an unclaimed answer", call_id)
            return
        self.counters["grace_abandons"] += 1
        log.warning("call %s: answer unclaimed after the grace; safe-harbor message", call_id)
        if req.safe_harbor_flow_id:
            await self.play_message(call_id, req.safe_harbor_flow_id)
        else:
            await self.hangup(call_id)

    def _event_sink(self, call_id: str) -> EventSink:
        async def sink(event: CallEvent) -> None:
            await self._on_event(call_id, event)

        return sink

    async def _ring_limit(self, call_id: str, max_ring_s: float) -> None:
        await asyncio.sleep(max_ring_s / self.cfg.time_scale)
        live = self.live.get(call_id)
        if live is not None and not live.answered:
            await self.driver.cancel(call_id)
            await self._on_event(
                call_id,
                CallEvent(call_id, CallEventKind.NO_ANSWER, self.clock.now_ms(), "max ring time"),
            )

    async def _on_event(self, call_id: str, event: CallEvent) -> None:
        live = self.live.get(call_id)
        if live is None:
            return  # the call already ended (e.g. cancelled at max ring time)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("call %s", event.kind, extra=call_fields(live.request, call_id, event.kind))
        if is_live_answer(event.kind) or event.kind is CallEventKind.ANSWERED_MACHINE:
            live.answered = True
            live.answer = event.kind.value
            live.answer_ms = event.at_ms
            if live.ring_timer is not None:
                live.ring_timer.cancel()
            if live.request.paced and is_live_answer(event.kind):
                live.grace_guard = asyncio.get_running_loop().create_task(
                    self._guard_grace(call_id, event.at_ms)
                )
        if event.kind in TERMINAL:
            self.live.pop(call_id, None)
            if live.ring_timer is not None and event.kind is not CallEventKind.NO_ANSWER:
                live.ring_timer.cancel()
            if live.grace_guard is not None:
                live.grace_guard.cancel()
            self._ends.append((call_id, live, event))
        report = CallReport(
            call_id,
            self.trunk_id,
            live.request,
            event.kind,
            event.at_ms,
            event.cause,
            live.answered,
            live.answer,
        )
        if event.kind is CallEventKind.RINGING:
            return  # nothing for the dialer to do
        self._outbox.setdefault(live.reply_to, []).append(report)
        if live.reply_to not in self._flushing:
            self._flushing.add(live.reply_to)
            task = asyncio.get_running_loop().create_task(self._flush(live.reply_to))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def _flush(self, dialer: str) -> None:
        """Delivers a dialer's events in order, as many per call as have queued meanwhile: one
        Ray call per batch instead of one per event."""
        try:
            while self._outbox.get(dialer):
                self._record_ends()
                await self._deliver(dialer, self._outbox.pop(dialer))
        finally:
            self._flushing.discard(dialer)

    async def _deliver(self, dialer: str, reports: list[CallReport]) -> None:
        """Hands call events to their dialer by name, waiting out a dialer restart. The dialer
        may also have been stopped and created anew under its name (a campaign stopped and run
        again, a scheduled campaign's next occurrence): a dead handle is looked up again."""
        deadline = time.monotonic() + EVENT_DELIVERY_TIMEOUT_S
        delay_s = 0.05
        try:
            while True:
                handle = self._handle(dialer)
                if handle is not None:
                    try:
                        await handle.on_call_events.remote(reports)
                        return
                    except ray.exceptions.RayActorError:
                        self._handles.pop(dialer, None)
                if time.monotonic() > deadline:
                    log.error("%d call events: no dialer %s", len(reports), dialer)
                    return
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 1.0)
        except Exception:
            log.exception("%d call events for %s were not delivered", len(reports), dialer)

    def _record_ends(self) -> None:
        """Writes the records of the calls ended since the last write, with their counts, in
        one round trip (a pipeline, not a transaction: the keys span campaigns' hash slots)."""
        if not self._ends:
            return
        ends, self._ends = self._ends, []
        pipe = self.state.r.pipeline(transaction=False)
        for call_id, live, event in ends:
            req = live.request
            run = self.state.keys.campaign(req.campaign_id).run(req.instance)
            record = {
                **self._call_record(req, live.start_ms, live.start_ns),
                "end_ms": event.at_ms,
                "end": event.kind.value,
                "answer": live.answer,
                "answer_ms": live.answer_ms,
            }
            if live.flow:
                record["flow"] = live.flow
            counters = self._counters(req.campaign_id, req.instance)
            increments = call_end_increments(
                live.start_ms, live.answer_ms, event.at_ms, live.answer
            )
            pipe.hset(run.calls(), call_id, msgpack.packb(record))
            for name, amount in increments.items():
                pipe.hincrby(counters, name, amount)
        pipe.hdel(self.calls_key, *(call_id for call_id, _, _ in ends))
        try:
            pipe.execute()
        except redis.RedisError:
            log.exception("%d call records not written; retried with the next", len(ends))
            self._ends[:0] = ends

    def _handle(self, name: str) -> Any | None:
        handle = self._handles.get(name)
        if handle is None:
            handle = find_actor(name)
            if handle is not None:
                self._handles[name] = handle
        return handle

    def renew_leases(self) -> int:
        """Keeps the leases of live calls from lapsing while the calls last."""
        by_run: dict[tuple[str, int], list[Lease]] = {}
        for live in self.live.values():
            req = live.request
            by_run.setdefault((req.campaign_id, req.instance), []).append(
                Lease(req.lead, req.token, req.attempt)
            )
        until = self.clock.now_ms() + int(self.cfg.lease_ttl_s * 1000)
        renewed = 0
        for (campaign_id, instance), leases in by_run.items():
            renewed += self._lead_state(campaign_id, instance).renew(leases, until)
        return renewed

    def _counters(self, campaign_id: str, instance: int) -> str:
        """The counters hash of the run's campaign and mode (the mode is fixed per run)."""
        mode = self._modes.get((campaign_id, instance))
        if mode is None:
            run = self.state.keys.campaign(campaign_id).run(instance)
            raw = self.state.r.hget(run.meta(), "mode")
            if raw:
                mode = text(raw)
            else:  # a run seeded before modes were recorded
                try:
                    mode = self.state.campaigns.get(campaign_id).dialing_mode.value
                except NotFound:
                    mode = "unknown"  # counted nowhere the exporter reads
            self._modes[(campaign_id, instance)] = mode
        return self.state.keys.campaign(campaign_id).counters(mode)

    def _lead_state(self, campaign_id: str, instance: int) -> LeadState:
        """One LeadState per run, kept: building one registers seven scripts, and originate
        and the renewal loop both need it for every call."""
        leads = self._runs.get((campaign_id, instance))
        if leads is None:
            keys = self.state.keys.campaign(campaign_id).run(instance)
            # The order only ranks leads on lease; the trunk only renews, so any will do.
            leads = LeadState(self.state.r, keys, DialingOrder.LIST_ORDER)
            self._runs[(campaign_id, instance)] = leads
        return leads


@ray.remote
class TrunkActor:
    def __init__(self, cfg: RuntimeConfig, trunk_id: str) -> None:
        cfg.configure_logging()
        self.trunk = Trunk(cfg, trunk_id)
        self._renewer = asyncio.get_event_loop().create_task(self._renew_loop())

    async def _renew_loop(self) -> None:
        cfg = self.trunk.cfg
        period_s = cfg.lease_ttl_s / 4 / cfg.time_scale
        while True:
            await asyncio.sleep(period_s)
            try:
                self.trunk.renew_leases()
            except Exception:  # Redis blip: the next pass renews; leases have 4 periods of slack
                continue

    async def originate(self, request: OriginateRequest, reply_to: str) -> dict[str, str]:
        return await self.trunk.originate(request, reply_to)

    async def originate_many(
        self, requests: list[OriginateRequest], reply_to: str
    ) -> list[dict[str, str]]:
        """Several originates in one call, answered in order (each as `originate` would)."""
        return await self.trunk.originate_many(requests, reply_to)

    async def hangup(self, call_id: str) -> bool:
        return await self.trunk.hangup(call_id)

    async def play_message(self, call_id: str, flow_id: str) -> bool:
        return await self.trunk.play_message(call_id, flow_id)

    async def status(self) -> dict[str, Any]:
        return self.trunk.status()

    async def has_call(self, call_id: str) -> bool:
        return call_id in self.trunk.live

    async def reload(self) -> dict[str, Any]:
        return self.trunk.reload()

    async def pid(self) -> int:
        return os.getpid()
