"""AgentPoolActor: the agents of one queue, handed to the campaigns that share them.

Campaigns announce whether they have leads to dial (`want`); whenever an agent is available
the pool picks the campaign (highest priority, random among equals), reserves the most idle
agent and asks that campaign to place one call for it. Agent records are written to Redis on
every change, so a restarted pool resumes with the same states and idle times.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import time
import uuid
from typing import Any, cast

import msgpack
import ray

from actors.campaign import RESERVATION_CANCELLED
from actors.runtime import RuntimeConfig, call_reliably, find_actor, trunk_actor_name
from cluster.agents import (
    Agent,
    AgentPool,
    AgentState,
    AgentStore,
    CallContext,
    Disposed,
    pick_campaign,
    redial_at,
)
from cluster.codec import text
from cluster.dialing import attempt_key
from cluster.errors import NotFound
from cluster.leads import LeadState
from cluster.telephony import CallEventKind

log = logging.getLogger(__name__)

ASSIGNMENT_HISTORY = 1000
"""Events kept per agent in its assignment stream (a reconnecting desk resumes from them)."""

RESERVATION_TIMEOUT_MS = 300_000
"""Virtual ms after which a reserved agent is freed: longer than max ring time (120 s) plus
answering machine detection, so only a call whose events were lost can hit it."""


DIALS_IN_FLIGHT = 32
"""Agents a pool reserves and has dialed for at once."""


@dataclasses.dataclass(frozen=True)
class _Reserved:
    """An agent reserved for a campaign that is asked to dial for her."""

    agent_id: str
    campaign: str
    """The campaign actor's name."""
    handle: Any
    placeholder: CallContext
    """What the agent holds until the campaign's call is bound (or the reservation undone)."""
    at_ms: int


class PoolDispatcher:
    def __init__(self, cfg: RuntimeConfig, queue_id: str, seed: int | None = None) -> None:
        self.cfg = cfg
        self.queue_id = queue_id
        self.state = cfg.state()
        self.clock = self.state.clock
        self.store = AgentStore(self.state.r, self.state.keys.queue_agents(queue_id))
        self.pool = AgentPool(self.store.load(), int(cfg.wrap_up_timeout_s * 1000))
        self.wanting: dict[str, int] = {}  # campaign actor name -> priority
        self.rng = random.Random(seed)
        self.grants: list[tuple[int, str, str]] = []  # (at_ms, agent, campaign actor), for tests
        self.connects = 0
        self._checked: dict[str, int] = {}  # agent -> when its call was last checked (ms)
        # cfg.trace_latency: (agent, time.time_ns()) of each move to available, for benchmarks.
        self.available_trace: list[tuple[str, int]] = []
        self._traced_available: set[str] = set()

    def _save(self, agent: Agent) -> Agent:
        if self.cfg.trace_latency:
            self._trace(agent)
        self.store.save(agent)
        return agent

    def _trace(self, agent: Agent) -> None:
        """Every agent change is saved, so this sees each move to available once."""
        if agent.state is not AgentState.AVAILABLE:
            self._traced_available.discard(agent.id)
        elif agent.id not in self._traced_available:
            self._traced_available.add(agent.id)
            self.available_trace.append((agent.id, time.time_ns()))

    # Agents -------------------------------------------------------------------------------
    def login(self, agent_id: str) -> Agent:
        return self._save(self.pool.login(agent_id, self.clock.now_ms()))

    def logout(self, agent_id: str) -> Agent:
        return self._save(self.pool.logout(agent_id, self.clock.now_ms()))

    def set_available(self, agent_id: str, available: bool) -> Agent:
        return self._save(self.pool.set_available(agent_id, available, self.clock.now_ms()))

    async def dispose(self, agent_id: str, code: str, callback_at_ms: int = 0) -> Disposed:
        """Settles the lead with its campaign first, then frees the agent (see disposition)."""
        disposed = self.pool.disposition(agent_id, code, self.clock.now_ms(), callback_at_ms)
        await self.notify(disposed)
        self._save(self.pool.finish_wrap_up(disposed, self.clock.now_ms()))
        return disposed

    # Campaigns ----------------------------------------------------------------------------
    def want(self, campaign_actor: str, priority: int, wanting: bool) -> None:
        if wanting:
            self.wanting[campaign_actor] = priority
        else:
            self.wanting.pop(campaign_actor, None)

    def connect(self, agent_id: str, call: CallContext) -> Agent:
        before = self.pool.agents.get(agent_id)
        was = (before.state, before.call) if before else (None, None)
        agent = self._save(self.pool.connect(agent_id, call, self.clock.now_ms()))
        if was[0] is not AgentState.ON_CALL:  # not a retried request
            self.connects += 1
            bound = was[1]
            contact = bound.contact if bound and bound.lead == call.lead else call.contact
            self._announce(agent_id, "connected", call, contact)
        return agent

    def end_call(self, agent_id: str, call: CallContext) -> Agent:
        before = self.pool.agents.get(agent_id)
        was = before.state if before else None
        agent = self._save(self.pool.end_call(agent_id, self.clock.now_ms(), call))
        if agent.state is AgentState.WRAP_UP and was is not AgentState.WRAP_UP:
            self._announce(agent_id, "ended", call, {})
        return agent

    def _announce(
        self, agent_id: str, event: str, call: CallContext, contact: dict[str, Any]
    ) -> None:
        """Appends to the agent's assignment stream (the gateway's WatchAssignments)."""
        record = {
            "event": event,
            "at_ms": self.clock.now_ms(),
            "campaign_id": call.campaign_id,
            "call_id": call.call_id,
            "phone": call.phone,
            "contact": contact,
        }
        key = self.state.keys.agent_assignments(self.queue_id, agent_id)
        try:
            self.state.r.xadd(
                key, {"event": msgpack.packb(record)}, maxlen=ASSIGNMENT_HISTORY, approximate=True
            )
        except Exception:  # a desk missing one event beats a call that never reaches an agent
            log.exception("could not record %s for agent %s", event, agent_id)

    def unreserve(self, agent_id: str, call: CallContext) -> Agent:
        return self._save(self.pool.unreserve(agent_id, self.clock.now_ms(), call))

    async def dispatch(self) -> int:
        """Offers available agents to wanting campaigns; returns calls placed. Up to
        DIALS_IN_FLIGHT agents are reserved at once (most idle first, each for a campaign
        picked by priority) and their campaigns asked to dial concurrently: one at a time,
        a pool served about 16 agents a second and the rest waited in line."""
        placed = 0
        while self.wanting:
            batch = self._reserve_batch()
            if not batch:
                break
            calls = await asyncio.gather(*(self._dial_for(r) for r in batch))
            for reserved, call in zip(batch, calls, strict=True):
                if call is None:
                    self.wanting.pop(reserved.campaign, None)
                    now = self.clock.now_ms()
                    self._save(self.pool.unreserve(reserved.agent_id, now, reserved.placeholder))
                    continue
                self._save(self.pool.bind(reserved.agent_id, call))
                self.grants.append((reserved.at_ms, reserved.agent_id, reserved.campaign))
                placed += 1
        return placed

    def _reserve_batch(self) -> list[_Reserved]:
        batch: list[_Reserved] = []
        while self.wanting and len(batch) < DIALS_IN_FLIGHT:
            agent = self.pool.most_idle_available()
            if agent is None:
                break
            chosen = pick_campaign(list(self.wanting.items()), self.rng)
            assert chosen is not None
            handle = find_actor(chosen)
            if handle is None:
                self.wanting.pop(chosen, None)
                continue
            campaign_id = chosen.rsplit(":", 1)[-1].split("#", 1)[0]
            now = self.clock.now_ms()
            reservation = f"{agent.id}:{uuid.uuid4().hex[:12]}"
            placeholder = CallContext(campaign_id, 0, -1, "", 0, reservation=reservation)
            self._save(self.pool.reserve(agent.id, placeholder, now))
            batch.append(_Reserved(agent.id, chosen, handle, placeholder, now))
        return batch

    async def _dial_for(self, reserved: _Reserved) -> CallContext | None:
        try:
            return cast(
                CallContext | None,
                await call_reliably(
                    reserved.handle.dial_for_agent,
                    reserved.agent_id,
                    reserved.placeholder.reservation,
                ),
            )
        except Exception:
            log.exception(
                "campaign %s failed to dial for agent %s", reserved.campaign, reserved.agent_id
            )
            return None

    async def expire_wrap_ups(self) -> None:
        """Also settles stale reservations. After a restart the pool keeps every agent's state
        (a reserved agent may have a call ringing); that call's events normally free, connect
        or end it, but they may be late (its dialer restarting) or lost (its trunk died), so an
        agent held past the timeout is checked against the call itself."""
        now = self.clock.now_ms()
        for agent in self.pool.stale_reservations(now, RESERVATION_TIMEOUT_MS):
            if now - self._checked.get(agent.id, 0) < RESERVATION_TIMEOUT_MS // 2:
                continue
            self._checked[agent.id] = now
            if agent.call is None:
                continue
            state, call = await self._call_state(agent.call)
            if state == "live":
                continue
            if state == "talked" or agent.state is AgentState.ON_CALL:
                # Someone talked (or may have): the lead needs this agent's disposition.
                self._save(self.pool.end_call(agent.id, now, call))
            else:
                self._save(self.pool.unreserve(agent.id, now))
        for disposed in self.pool.due_wrap_ups(now):
            await self.notify(disposed)
            self._save(self.pool.finish_wrap_up(disposed, self.clock.now_ms()))

    async def _call_state(self, call: CallContext) -> tuple[str, CallContext]:
        """What became of the call an agent is held for: "live" (still on its trunk),
        "talked" (ended after a live answer), "ended" (ended otherwise) or "lost" (never
        placed, or gone with its trunk). Found through Redis: reservation -> lease ->
        idempotency key -> call id -> call record -> trunk. Also returns the call's context
        with its lead filled in (a placeholder reservation does not know it)."""
        r = self.state.r
        try:
            instance = call.instance or self.state.campaigns.get(call.campaign_id).run_instance
        except NotFound:
            return "lost", call
        run = self.state.keys.campaign(call.campaign_id).run(instance)
        if call.placeholder:
            if r.hsetnx(run.reservations(), call.reservation, RESERVATION_CANCELLED):
                return "lost", call  # the campaign never took a lead for it, and now never will
            recorded = r.hget(run.reservations(), call.reservation)
            if recorded is None or recorded == RESERVATION_CANCELLED:
                return "lost", call
            lead, token, attempt = msgpack.unpackb(recorded)
            call = dataclasses.replace(
                call, instance=instance, lead=lead, token=token, attempt=attempt
            )
        key = attempt_key(call.campaign_id, instance, call.lead, call.attempt)
        call_id = r.hget(run.idempotency(), key)
        record = r.hget(run.calls(), call_id) if call_id is not None else None
        if call_id is None or record is None:
            return "lost", call
        call = dataclasses.replace(call, call_id=text(call_id))
        details = msgpack.unpackb(record)
        if "end" in details:
            talked = details.get("answer") in (
                CallEventKind.ANSWERED_HUMAN,
                CallEventKind.ANSWERED,
            )
            return ("talked" if talked else "ended"), call
        trunk = find_actor(trunk_actor_name(self.cfg, details["trunk"]))
        if trunk is not None and await call_reliably(trunk.has_call, call.call_id):
            return "live", call
        return "lost", call

    async def notify(self, disposed: Disposed) -> int:
        """Settles the lead a disposition is for, in Redis (the campaign's dialer need not be
        running: a stopped run's last calls are still disposed)."""
        call = disposed.call
        try:
            campaign = self.state.campaigns.get(call.campaign_id)
        except NotFound:
            return 0
        run = self.state.keys.campaign(call.campaign_id).run(call.instance)
        leads = LeadState(self.state.r, run, campaign.dialing_order)
        at = redial_at(disposed, self.clock.now_ms(), campaign.retry_period_minutes * 60_000)
        return leads.dispose(call.lead, at, campaign.max_attempts)

    def agents(self) -> list[dict[str, Any]]:
        return [a.to_record() for a in sorted(self.pool.agents.values(), key=lambda a: a.id)]


@ray.remote
class AgentPoolActor:
    def __init__(self, cfg: RuntimeConfig, queue_id: str, seed: int | None = None) -> None:
        cfg.configure_logging()
        self.pool = PoolDispatcher(cfg, queue_id, seed)
        self._wake = asyncio.Event()
        self._loop = asyncio.get_event_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self.pool.expire_wrap_ups()
                await self.pool.dispatch()
            except Exception:
                log.exception("pool %s dispatch failed", self.pool.queue_id)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.pool.cfg.tick_s)

    def _changed(self, agent: Agent) -> dict[str, Any]:
        self._wake.set()
        return agent.to_record()

    async def login(self, agent_id: str) -> dict[str, Any]:
        return self._changed(self.pool.login(agent_id))

    async def logout(self, agent_id: str) -> dict[str, Any]:
        return self._changed(self.pool.logout(agent_id))

    async def set_available(self, agent_id: str, available: bool) -> dict[str, Any]:
        return self._changed(self.pool.set_available(agent_id, available))

    async def dispose(self, agent_id: str, code: str, callback_at_ms: int = 0) -> Disposed:
        disposed = await self.pool.dispose(agent_id, code, callback_at_ms)
        self._wake.set()
        return disposed

    async def want(self, campaign_actor: str, priority: int, wanting: bool) -> None:
        before = campaign_actor in self.pool.wanting
        self.pool.want(campaign_actor, priority, wanting)
        if wanting and not before:
            self._wake.set()

    async def connect(self, agent_id: str, call: CallContext) -> dict[str, Any]:
        return self.pool.connect(agent_id, call).to_record()

    async def end_call(self, agent_id: str, call: CallContext) -> dict[str, Any]:
        return self.pool.end_call(agent_id, call).to_record()

    async def unreserve(self, agent_id: str, call: CallContext) -> dict[str, Any]:
        return self._changed(self.pool.unreserve(agent_id, call))

    async def agents(self) -> list[dict[str, Any]]:
        return self.pool.agents()

    async def stats(self) -> dict[str, Any]:
        return {
            "grants": list(self.pool.grants),
            "connects": self.pool.connects,
            "wanting": dict(self.pool.wanting),
        }

    async def available_trace(self) -> list[tuple[str, int]]:
        """When each agent became available (cfg.trace_latency; empty otherwise)."""
        return list(self.pool.available_trace)

    async def pid(self) -> int:
        return os.getpid()
