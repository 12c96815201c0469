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
from collections.abc import Callable
from typing import Any, cast

import msgpack
import ray

from actors.campaign import RESERVATION_CANCELLED
from actors.runtime import (
    RuntimeConfig,
    call_reliably,
    campaign_actor_name,
    find_actor,
    trunk_actor_name,
)
from cluster.agents import (
    Agent,
    AgentPool,
    AgentState,
    AgentStore,
    CallContext,
    Disposed,
    PoolView,
    pick_campaign,
    redial_at,
    share_for,
)
from cluster.answers import ABANDONED, AnswerClaims
from cluster.codec import text
from cluster.dialing import attempt_key
from cluster.errors import FailedPrecondition, NotFound
from cluster.keys import RunKeys
from cluster.leads import LeadState, Lease
from cluster.models import DialingOrder
from cluster.pacing import CONNECT_GRACE_S
from cluster.telephony import CallEventKind

log = logging.getLogger(__name__)

ASSIGNMENT_HISTORY = 1000
"""Events kept per agent in its assignment stream (a reconnecting desk resumes from them)."""

RESERVATION_TIMEOUT_MS = 300_000
"""Virtual ms after which a reserved agent is freed: longer than max ring time (120 s) plus
answering machine detection, so only a call whose events were lost can hit it."""


DIALS_IN_FLIGHT = 32
"""Agents a pool reserves and has dialed for at once."""

PACED_STALE_S = 5.0
"""Real seconds after which a paced campaign that stopped asking (its dialer gone) no longer
holds agents back from the queue's other campaigns."""

SHARE_TURN_MS = 60_000
"""How long equal-priority paced campaigns keep one split of the remainder agents."""

WRAP_SAMPLES = 500
"""Wrap-up lengths kept per campaign until its dialer collects them (pace)."""


@dataclasses.dataclass
class _WaitingAnswer:
    """A live answer of a paced campaign waiting for an agent until its grace runs out."""

    call: CallContext
    deadline_ms: int
    agent: asyncio.Future[str]


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
        self.offer_timeouts: dict[str, int] = {}
        """Preview campaigns among `wanting` (actor name -> offer timeout, ms)."""
        self.paced: dict[str, int] = {}
        """Predictive and power campaigns with leads or calls in flight (name -> priority):
        they place calls for no agent in particular and need agents when calls answer."""
        self._paced_at: dict[str, float] = {}  # name -> when it last asked (monotonic)
        self.waiting: list[_WaitingAnswer] = []
        self.wrap_ups: dict[str, list[float]] = {}  # campaign id -> wrap-up seconds, unread
        self.offered_by: dict[str, str] = {}  # agent -> the campaign actor that offered
        self._dialing: set[asyncio.Task[None]] = set()
        self.claims = AnswerClaims(self.state.r)
        self.changed: Callable[[], None] = lambda: None
        """Called when a dial for an agent has finished (the actor wakes its loop)."""
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
        self._finish_wrap_up(disposed)
        return disposed

    def _finish_wrap_up(self, disposed: Disposed) -> None:
        now = self.clock.now_ms()
        agent = self.pool.get(disposed.agent_id)
        if agent.state is AgentState.WRAP_UP:
            samples = self.wrap_ups.setdefault(disposed.call.campaign_id, [])
            samples.append((now - agent.state_since_ms) / 1000)
            del samples[:-WRAP_SAMPLES]
        self._save(self.pool.finish_wrap_up(disposed, now))
        self.serve_waiting()

    # Campaigns ----------------------------------------------------------------------------
    def want(
        self, campaign_actor: str, priority: int, wanting: bool, offer_timeout_ms: int = 0
    ) -> None:
        """A progressive (or, with an offer timeout, preview) campaign says whether it has
        leads to dial: agents are reserved for it and it is asked to dial (or offer)."""
        self.paced.pop(campaign_actor, None)  # its mode changed, if it was paced before
        if offer_timeout_ms:
            self.offer_timeouts[campaign_actor] = offer_timeout_ms
        else:
            self.offer_timeouts.pop(campaign_actor, None)
        if wanting:
            self.wanting[campaign_actor] = priority
        else:
            self.wanting.pop(campaign_actor, None)

    def pace(self, campaign_actor: str, campaign_id: str, priority: int, wanting: bool) -> PoolView:
        """A paced campaign (predictive, power) says whether it has leads or calls in flight,
        and learns the agents it may count on (see share_for), its answers waiting for an
        agent, and the wrap-ups finished since it last asked."""
        self.wanting.pop(campaign_actor, None)  # its mode changed, if it was reserving before
        if wanting:
            self.paced[campaign_actor] = priority
            self._paced_at[campaign_actor] = time.monotonic()
        else:
            self.paced.pop(campaign_actor, None)
        self._forget_silent_paced()
        priorities = {**self.wanting, **self.paced}
        now = self.clock.now_ms()
        snapshot = self.pool.snapshot(now)
        # One offset for all peers at a time (it turns every minute, so equals take turns at
        # the remainder): peers asking with different offsets would count the same agents.
        offset = (now // SHARE_TURN_MS) % max(1, len(priorities))
        return PoolView(
            agents=share_for(snapshot, campaign_actor, priorities, offset),
            waiting_live=sum(1 for w in self.waiting if w.call.campaign_id == campaign_id),
            wrap_ups_s=self.wrap_ups.pop(campaign_id, []),
        )

    def _forget_silent_paced(self) -> None:
        oldest = time.monotonic() - PACED_STALE_S
        for name in [n for n in self.paced if self._paced_at.get(n, 0.0) < oldest]:
            self.paced.pop(name, None)

    async def connect_any(self, call: CallContext, answered_at_ms: int) -> str:
        """Connects a paced campaign's live answer to the most idle available agent, waiting
        for one until CONNECT_GRACE_S after the answer. Returns the agent, or "" if none came
        in time (the caller abandons the call to its safe-harbor flow). Answers waiting are
        served before any new reservation (see serve_waiting). The answer is claimed in Redis
        (cluster/answers.py), so a retried request answers what the first one did, and an
        answer the trunk or dialer already abandoned is never connected."""
        decided = self._decided(call)
        if decided is not None:
            return decided
        deadline = answered_at_ms + int(CONNECT_GRACE_S * 1000)
        left_s = (deadline - self.clock.now_ms()) / 1000 / self.cfg.time_scale
        if left_s <= 0:
            return ""
        taken = self._take_for(call)
        if taken:
            return taken
        waiting = _WaitingAnswer(call, deadline, asyncio.get_running_loop().create_future())
        self.waiting.append(waiting)
        await asyncio.wait({waiting.agent}, timeout=left_s)
        if waiting.agent.done():
            return waiting.agent.result()
        if waiting in self.waiting:
            self.waiting.remove(waiting)
        return ""

    def _decided(self, call: CallContext) -> str | None:
        """What became of an answer already settled: its agent, "" (abandoned), or None.
        An agent put on the call by a pool that died before claiming it claims it now (or,
        if it was abandoned meanwhile, is freed)."""
        claim = self.claims.holder(self._run_keys(call), call.call_id)
        if claim is None:
            held = self.pool.holder(call)
            if held is None or held.state is not AgentState.ON_CALL:
                return None
            claim = self._claim_for(held, call)
        return "" if claim == ABANDONED else claim

    def _take_for(self, call: CallContext) -> str:
        """Connects the most idle available agent to `call` if the answer is still unclaimed;
        returns her id ("" if none, or if the answer was abandoned meanwhile). The agent is
        saved on the call before the claim: a pool dying in between leaves her on it,
        found by the retried request (_decided) or by the call's end (end_paced_call)."""
        agent = self.pool.most_idle_available()
        if agent is None:
            return ""
        idle_since = agent.idle_since_ms
        self._save(self.pool.take(agent.id, call, self.clock.now_ms()))
        try:
            claimed = self._claim_for(agent, call, idle_since)
        except Exception:
            self._save(self.pool.release(agent.id, call, self.clock.now_ms(), idle_since))
            raise
        if claimed != agent.id:
            return ""
        self.connects += 1
        self._announce(agent.id, "connected", call, call.contact)
        return agent.id

    def _claim_for(self, agent: Agent, call: CallContext, idle_since: int | None = None) -> str:
        """Claims the answer for an agent already put on the call; if someone else holds the
        claim, she goes back to available, first in line (she talked to nobody)."""
        claim = self.claims.claim(self._run_keys(call), call.call_id, agent.id)
        if claim != agent.id:
            now = self.clock.now_ms()
            freed = self.pool.release(agent.id, call, now, idle_since)
            self._save(freed)
        return claim

    def _run_keys(self, call: CallContext) -> RunKeys:
        return self.state.keys.campaign(call.campaign_id).run(call.instance)

    def serve_waiting(self) -> None:
        """Gives agents just freed to live answers waiting for one, oldest first. An answer
        whose grace has passed gets nobody (its connect_any may not have woken up yet)."""
        while self.waiting:
            waiting = self.waiting[0]
            if waiting.agent.done():
                self.waiting.pop(0)
                continue
            if self.clock.now_ms() >= waiting.deadline_ms:
                self.waiting.pop(0)
                waiting.agent.set_result("")
                continue
            if self.pool.most_idle_available() is None:
                return
            self.waiting.pop(0)
            try:
                taken = self._take_for(waiting.call)
            except Exception:
                log.exception("call %s: could not connect an agent", waiting.call.call_id)
                taken = ""
            waiting.agent.set_result(taken)  # "": abandoned meanwhile

    def end_paced_call(self, call: CallContext) -> str:
        """A paced campaign's answered call ended: its agent (if one took it) goes to wrap-up.
        Returns that agent, or "" if none took it (it was abandoned); a retry answers the
        same, even once the agent has filed her disposition."""
        claim = self.claims.holder(self._run_keys(call), call.call_id)
        agent = self.pool.holder(call)
        if agent is not None:
            if claim is None or claim == agent.id:
                self.end_call(agent.id, call)
                return agent.id
            # Put on the call by a pool that died before claiming it, while the call was
            # abandoned: she talked to nobody.
            self._save(self.pool.release(agent.id, call, self.clock.now_ms()))
        return "" if claim is None or claim == ABANDONED else claim

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
        self,
        agent_id: str,
        event: str,
        call: CallContext,
        contact: dict[str, Any],
        expires_at_ms: int = 0,
        at_ms: int = 0,
    ) -> None:
        """Appends to the agent's assignment stream (the gateway's WatchAssignments)."""
        record = {
            "event": event,
            "at_ms": at_ms or self.clock.now_ms(),
            "campaign_id": call.campaign_id,
            "call_id": call.call_id,
            "phone": call.phone,
            "contact": contact,
        }
        if expires_at_ms:
            record["expires_at_ms"] = expires_at_ms
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
        """Offers available agents to wanting campaigns; returns the dials (or preview offers)
        started. Each reserved agent (most idle first, for a campaign picked by priority) is
        dialed for in a task of its own, up to DIALS_IN_FLIGHT at once: an agent freed while
        others are being dialed for is served at once rather than after the slowest of them.
        Live answers waiting for an agent are served first."""
        self.serve_waiting()
        started = 0
        while self.wanting and len(self._dialing) < DIALS_IN_FLIGHT:
            batch = self._reserve_batch(DIALS_IN_FLIGHT - len(self._dialing))
            if not batch:
                break
            for reserved in batch:
                task = asyncio.get_running_loop().create_task(self._dial_and_bind(reserved))
                self._dialing.add(task)
                task.add_done_callback(self._dialing.discard)
            started += len(batch)
        return started

    async def _dial_and_bind(self, reserved: _Reserved) -> None:
        call = await self._dial_for(reserved)
        if call is None:
            self.wanting.pop(reserved.campaign, None)
            now = self.clock.now_ms()
            self._save(self.pool.unreserve(reserved.agent_id, now, reserved.placeholder))
        else:
            timeout_ms = self.offer_timeouts.get(reserved.campaign, 0)
            if timeout_ms:
                self._offer(reserved, call, timeout_ms)
            else:
                self._save(self.pool.bind(reserved.agent_id, call))
            self.grants.append((reserved.at_ms, reserved.agent_id, reserved.campaign))
        self.serve_waiting()
        self.changed()

    def _offer(self, reserved: _Reserved, call: CallContext, timeout_ms: int) -> None:
        now = self.clock.now_ms()
        agent = self._save(self.pool.offer(reserved.agent_id, call, now, timeout_ms))
        if agent.offer is not None:
            self.offered_by[agent.id] = reserved.campaign
            self._announce(
                agent.id, "offered", call, call.contact, expires_at_ms=now + timeout_ms, at_ms=now
            )

    def _reserve_batch(self, limit: int) -> list[_Reserved]:
        self._forget_silent_paced()
        batch: list[_Reserved] = []
        while self.wanting and len(batch) < limit:
            agent = self.pool.most_idle_available()
            if agent is None:
                break
            chosen = pick_campaign([*self.wanting.items(), *self.paced.items()], self.rng)
            assert chosen is not None
            if chosen in self.paced:
                break  # agents stay available for the paced campaign's answers
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
        """Asks the campaign to place a call for the agent (progressive) or to pick the lead to
        offer her (preview)."""
        preview = reserved.campaign in self.offer_timeouts
        method = reserved.handle.offer_for_agent if preview else reserved.handle.dial_for_agent
        try:
            return cast(
                CallContext | None,
                await call_reliably(method, reserved.agent_id, reserved.placeholder.reservation),
            )
        except Exception:
            log.exception(
                "campaign %s failed to dial for agent %s", reserved.campaign, reserved.agent_id
            )
            return None

    # Preview ------------------------------------------------------------------------------
    async def accept_offer(self, agent_id: str) -> Agent:
        """The agent takes the contact offered: its campaign places the call, the agent stays
        reserved for it (and is connected on a live answer, as in progressive). If the call
        cannot be placed now (window closed, trunks full) the agent is freed."""
        agent = self.pool.get(agent_id)
        call = agent.call
        self._save(self.pool.accept_offer(agent_id, self.clock.now_ms()))
        assert call is not None
        name = self.offered_by.pop(agent_id, campaign_actor_name(self.cfg, call.campaign_id))
        handle = find_actor(name)
        placed = None
        if handle is not None:
            try:
                placed = await call_reliably(handle.dial_offer, agent_id, call.reservation)
            except Exception:
                # The call may have been placed: the agent stays reserved for it, and the
                # stale-reservation check settles her from the call's record.
                log.exception("campaign %s failed to dial an accepted offer", name)
                return self.pool.get(agent_id)
        if placed is None:
            self._announce(agent_id, "offer_failed", call, {})
            # Given back at once (a no-op if the campaign already deferred it): the campaign may
            # have been unreachable, and the lease would lapse as an attempt never made.
            return self._release_offer(self.pool.get(agent_id), self.clock.now_ms())
        return self._save(self.pool.bind(agent_id, placed))

    def skip_offer(self, agent_id: str) -> Agent:
        """The agent passes: the lead goes back undialed (attempt not counted) for the
        campaign's retry period, so the next offer is another contact."""
        agent = self.pool.get(agent_id)
        if agent.offer is None:
            raise FailedPrecondition(f"agent {agent_id} has no preview offer (is {agent.state})")
        agent.offer.skip(self.clock.now_ms())  # refuses a timed-out offer
        return self._release_offer(agent)

    def _release_offer(self, agent: Agent, until_ms: int | None = None) -> Agent:
        """Gives the offered lead back undialed (attempt not counted) until `until_ms`, by
        default for the campaign's retry period, and frees the agent."""
        call = agent.call
        assert call is not None
        now = self.clock.now_ms()
        try:
            campaign = self.state.campaigns.get(call.campaign_id)
            run = self._run_keys(call)
            # The lease's record is tombstoned first: an accept racing this cannot dial it.
            self.state.r.hset(run.reservations(), call.reservation, RESERVATION_CANCELLED)
            leads = LeadState(self.state.r, run, campaign.dialing_order)
            if until_ms is None:
                until_ms = now + campaign.retry_period_minutes * 60_000
            leads.defer(Lease(call.lead, call.token, call.attempt), until_ms)
        except NotFound:
            pass  # the campaign is gone, and its leads with it
        self.offered_by.pop(agent.id, None)
        return self._save(self.pool.unreserve(agent.id, now, call))

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
            self._finish_wrap_up(disposed)
        for agent in self.pool.due_offers(now):
            assert agent.call is not None
            self._announce(agent.id, "offer_expired", agent.call, {})
            self._release_offer(agent)
        self.serve_waiting()

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
        key = attempt_key(call.campaign_id, instance, call.lead, call.attempt, call.token)
        call_id = r.hget(run.idempotency(), key)
        if call_id is None:
            # Not placed yet, and its dialer has taken longer than any call rings (stalled, or
            # dead): the lease goes back unless the originate lands first, so no call can come
            # for an agent freed here. Either way the answer is settled in Redis, not guessed.
            lease = Lease(call.lead, call.token, call.attempt)
            withdrawn = LeadState(r, run, DialingOrder.LIST_ORDER).defer(
                lease, self.clock.now_ms(), unless_placed_as=key
            )
            call_id = None if withdrawn else r.hget(run.idempotency(), key)
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
        run = self._run_keys(call)
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
        self.pool.changed = self._wake.set
        self._loop = asyncio.get_event_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # first: a change made during this pass wakes the next one
            try:
                await self.pool.expire_wrap_ups()
                await self.pool.dispatch()
            except Exception:
                log.exception("pool %s dispatch failed", self.pool.queue_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.pool.cfg.tick_s)

    def _changed(self, agent: Agent) -> dict[str, Any]:
        self.pool.serve_waiting()
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
        self._wake.set()  # (dispose served waiting answers already)
        return disposed

    async def want(
        self, campaign_actor: str, priority: int, wanting: bool, offer_timeout_ms: int = 0
    ) -> None:
        before = campaign_actor in self.pool.wanting
        self.pool.want(campaign_actor, priority, wanting, offer_timeout_ms)
        if wanting and not before:
            self._wake.set()

    async def pace(
        self, campaign_actor: str, campaign_id: str, priority: int, wanting: bool
    ) -> PoolView:
        return self.pool.pace(campaign_actor, campaign_id, priority, wanting)

    async def connect_any(self, call: CallContext, answered_at_ms: int) -> str:
        return await self.pool.connect_any(call, answered_at_ms)

    async def end_paced_call(self, call: CallContext) -> str:
        return self.pool.end_paced_call(call)

    async def accept_offer(self, agent_id: str) -> dict[str, Any]:
        return self._changed(await self.pool.accept_offer(agent_id))

    async def skip_offer(self, agent_id: str) -> dict[str, Any]:
        return self._changed(self.pool.skip_offer(agent_id))

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
            "paced": dict(self.pool.paced),
        }

    async def available_trace(self) -> list[tuple[str, int]]:
        """When each agent became available (cfg.trace_latency; empty otherwise)."""
        return list(self.pool.available_trace)

    async def pid(self) -> int:
        return os.getpid()
