"""AgentPoolActor: the agents of one queue, handed to the campaigns that share them.

Campaigns announce whether they have leads to dial (`want`); whenever an agent is available
the pool picks the campaign (highest priority, random among equals), reserves the most idle
agent and asks that campaign to place one call for it. Agent records are written to Redis on
every change, so a restarted pool resumes with the same states and idle times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import uuid
from typing import Any

import msgpack
import ray

from actors.runtime import RuntimeConfig, campaign_actor_name, find_actor, trunk_actor_name
from cluster.agents import (
    Agent,
    AgentPool,
    AgentState,
    AgentStore,
    CallContext,
    Disposed,
    pick_campaign,
)
from cluster.codec import text
from cluster.dialing import attempt_key
from cluster.errors import NotFound

log = logging.getLogger(__name__)

RESERVATION_TIMEOUT_MS = 300_000
"""Virtual ms after which a reserved agent is freed: longer than max ring time (120 s) plus
answering machine detection, so only a call whose events were lost can hit it."""


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

    def _save(self, agent: Agent) -> Agent:
        self.store.save(agent)
        return agent

    # Agents -------------------------------------------------------------------------------
    def login(self, agent_id: str) -> Agent:
        return self._save(self.pool.login(agent_id, self.clock.now_ms()))

    def logout(self, agent_id: str) -> Agent:
        return self._save(self.pool.logout(agent_id, self.clock.now_ms()))

    def set_available(self, agent_id: str, available: bool) -> Agent:
        return self._save(self.pool.set_available(agent_id, available, self.clock.now_ms()))

    def dispose(self, agent_id: str, code: str, callback_at_ms: int = 0) -> Disposed:
        disposed = self.pool.dispose(agent_id, code, self.clock.now_ms(), callback_at_ms)
        self._save(self.pool.get(agent_id))
        return disposed

    # Campaigns ----------------------------------------------------------------------------
    def want(self, campaign_actor: str, priority: int, wanting: bool) -> None:
        if wanting:
            self.wanting[campaign_actor] = priority
        else:
            self.wanting.pop(campaign_actor, None)

    def connect(self, agent_id: str, call: CallContext) -> Agent:
        agent = self._save(self.pool.connect(agent_id, call, self.clock.now_ms()))
        self.connects += 1
        return agent

    def end_call(self, agent_id: str, call: CallContext) -> Agent:
        return self._save(self.pool.end_call(agent_id, self.clock.now_ms(), call))

    def unreserve(self, agent_id: str, call: CallContext) -> Agent:
        return self._save(self.pool.unreserve(agent_id, self.clock.now_ms(), call))

    async def dispatch(self) -> int:
        """Offers available agents to wanting campaigns; returns calls placed."""
        placed = 0
        while self.wanting:
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
            placeholder = CallContext(campaign_id, 0, -1, reservation, 0)
            self._save(self.pool.reserve(agent.id, placeholder, now))
            try:
                call = await handle.dial_for_agent.remote(agent.id, reservation)
            except Exception:
                log.exception("campaign %s failed to dial for agent %s", chosen, agent.id)
                call = None
            if call is None:
                self.wanting.pop(chosen, None)
                self._save(self.pool.unreserve(agent.id, self.clock.now_ms(), placeholder))
                continue
            self._save(self.pool.bind(agent.id, call))
            self.grants.append((now, agent.id, chosen))
            placed += 1
        return placed

    async def expire_wrap_ups(self) -> None:
        """Also frees stale reservations. After a restart the pool keeps every agent's state
        (a reserved agent may have a call ringing); the events of that call free or connect it,
        and if they never come this timeout does."""
        now = self.clock.now_ms()
        for agent in self.pool.stale_reservations(now, RESERVATION_TIMEOUT_MS):
            if now - self._checked.get(agent.id, 0) < RESERVATION_TIMEOUT_MS // 2:
                continue
            self._checked[agent.id] = now
            if agent.call is not None and await self._call_is_live(agent.call):
                continue
            if agent.state is AgentState.ON_CALL:
                self._save(self.pool.end_call(agent.id, now))  # the call was lost: wrap up
            else:
                self._save(self.pool.unreserve(agent.id, now))
        for disposed in self.pool.expire_wrap_ups(now):
            self._save(self.pool.get(disposed.agent_id))
            await self.notify(disposed)

    async def _call_is_live(self, call: CallContext) -> bool:
        """Whether the call an agent is reserved for still exists on its trunk. Found through
        Redis: reservation -> lease -> idempotency key -> call id -> call record -> trunk."""
        r = self.state.r
        try:
            instance = call.instance or self.state.campaigns.get(call.campaign_id).run_instance
        except NotFound:
            return False
        run = self.state.keys.campaign(call.campaign_id).run(instance)
        lead, attempt = call.lead, call.attempt
        if call.placeholder:
            recorded = r.hget(run.reservations(), call.token)
            if recorded is None:
                return False  # the campaign never took a lead for it
            lead, _, attempt = msgpack.unpackb(recorded)
        call_id = r.hget(run.idempotency(), attempt_key(call.campaign_id, instance, lead, attempt))
        if call_id is None:
            return False
        record = r.hget(run.calls(), call_id)
        if record is None:
            return False
        details = msgpack.unpackb(record)
        if "end" in details:
            return False
        trunk = find_actor(trunk_actor_name(self.cfg, details["trunk"]))
        if trunk is None:
            return False
        return bool(await trunk.has_call.remote(text(call_id)))

    async def notify(self, disposed: Disposed) -> None:
        handle = find_actor(campaign_actor_name(self.cfg, disposed.call.campaign_id))
        if handle is not None:
            await handle.on_disposition.remote(disposed)

    def agents(self) -> list[dict[str, Any]]:
        return [a.to_record() for a in sorted(self.pool.agents.values(), key=lambda a: a.id)]


@ray.remote
class AgentPoolActor:
    def __init__(self, cfg: RuntimeConfig, queue_id: str, seed: int | None = None) -> None:
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
        disposed = self.pool.dispose(agent_id, code, callback_at_ms)
        self._wake.set()
        await self.pool.notify(disposed)
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

    async def pid(self) -> int:
        return os.getpid()
