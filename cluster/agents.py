"""Agents of one queue (pool): states, the most-idle rule, wrap-up and dispositions.

Pure logic over plain records; `AgentStore` persists every agent after each change so a
restarted AgentPoolActor resumes with the same states and idle times.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import msgpack
import redis

from cluster.errors import FailedPrecondition, InvalidArgument, NotFound
from cluster.pacing import AgentSnapshot, PreviewOffer


class AgentState(StrEnum):
    OFFLINE = "offline"
    """Logged out."""
    NOT_READY = "not_ready"
    """Logged in but taking no calls (a break, training, after-call work of her own)."""
    AVAILABLE = "available"
    RESERVED = "reserved"
    """Held for a call being placed; becomes on_call on a live answer or available again."""
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    """After a call, until a disposition is filed or the wrap-up timeout passes."""


class DispositionKind(StrEnum):
    FINAL = "final"
    RETRY = "retry"
    """Dial the lead again after the campaign's retry period."""
    CALLBACK = "callback"
    """Dial the lead again at a given time."""


DEFAULT_DISPOSITIONS: dict[str, DispositionKind] = {
    "sale": DispositionKind.FINAL,
    "not_interested": DispositionKind.FINAL,
    "do_not_call": DispositionKind.FINAL,
    "wrong_number": DispositionKind.FINAL,
    "completed": DispositionKind.FINAL,
    "no_decision": DispositionKind.RETRY,
    "call_back": DispositionKind.CALLBACK,
}
TIMEOUT_DISPOSITION = "completed"
"""Filed for the agent when wrap-up times out."""


@dataclass
class CallContext:
    """What an agent holds: the call and the lead it is for."""

    campaign_id: str
    instance: int
    lead: int
    token: str
    attempt: int
    call_id: str = ""
    phone: str = ""
    contact: dict[str, Any] = field(default_factory=dict)
    reservation: str = ""
    """The pool's id for the reservation this call was placed under."""

    @property
    def key(self) -> str:
        """Identifies one attempt on one lead; events name it so a late event for an old call
        never moves an agent that has since taken another."""
        return f"{self.campaign_id}:{self.instance}:{self.lead}:{self.token}"

    @property
    def placeholder(self) -> bool:
        """Reserved for a campaign that has not yet said which lead it dials."""
        return self.lead < 0


@dataclass
class Agent:
    id: str
    state: AgentState = AgentState.OFFLINE
    state_since_ms: int = 0
    idle_since_ms: int = 0
    """When the agent last became free; the smallest value is the most idle agent."""
    call: CallContext | None = None
    wrap_up_until_ms: int = 0
    offered_at_ms: int | None = None
    """Preview: when the contact in `call` was offered (None: the agent holds no offer; 0 is a
    valid instant on a test clock)."""
    offer_timeout_ms: int = 0

    @property
    def offer(self) -> PreviewOffer | None:
        """The preview offer the agent is deciding on, if any."""
        if self.offered_at_ms is None or self.call is None or self.state is not AgentState.RESERVED:
            return None
        return PreviewOffer(self.id, self.call.lead, self.offered_at_ms, self.offer_timeout_ms)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["state"] = self.state.value
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Agent:
        call = record.get("call")
        return cls(
            id=record["id"],
            state=AgentState(record["state"]),
            state_since_ms=record["state_since_ms"],
            idle_since_ms=record["idle_since_ms"],
            call=CallContext(**call) if call else None,
            wrap_up_until_ms=record.get("wrap_up_until_ms", 0),
            offered_at_ms=record.get("offered_at_ms"),
            offer_timeout_ms=record.get("offer_timeout_ms", 0),
        )


@dataclass(frozen=True)
class PoolView:
    """What a paced campaign's dialer learns from its pool each tick (AgentPoolActor.pace)."""

    agents: AgentSnapshot
    """The agents it may count on (share_for)."""
    waiting_live: int = 0
    """Its live answers waiting for an agent now."""
    wrap_ups_s: list[float] = field(default_factory=list)
    """Wrap-up lengths of its calls finished since it last asked."""


@dataclass(frozen=True)
class Disposed:
    """The result of filing a disposition: what to do with the lead."""

    agent_id: str
    call: CallContext
    code: str
    kind: DispositionKind
    callback_at_ms: int = 0


class AgentPool:
    """The agents of one queue. Every method takes `now_ms`; nothing reads a clock."""

    def __init__(
        self,
        agents: Sequence[Agent] = (),
        wrap_up_timeout_ms: int = 120_000,
        dispositions: dict[str, DispositionKind] | None = None,
    ) -> None:
        self.agents: dict[str, Agent] = {a.id: a for a in agents}
        self.wrap_up_timeout_ms = wrap_up_timeout_ms
        self.dispositions = dispositions or DEFAULT_DISPOSITIONS

    def get(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise NotFound("agent", agent_id) from None

    def _move(self, agent: Agent, state: AgentState, now_ms: int) -> Agent:
        agent.state = state
        agent.state_since_ms = now_ms
        agent.offered_at_ms, agent.offer_timeout_ms = None, 0
        if state is AgentState.AVAILABLE:
            agent.idle_since_ms = now_ms
            agent.call = None
            agent.wrap_up_until_ms = 0
        return agent

    def _back_in_line(self, agent: Agent, now_ms: int, idle_since_ms: int) -> Agent:
        """Available again, at the place in line `idle_since_ms` gives (a call that never
        reached her does not send her to the back)."""
        self._move(agent, AgentState.AVAILABLE, now_ms)
        agent.idle_since_ms = idle_since_ms
        return agent

    # Agent actions -----------------------------------------------------------------------
    def login(self, agent_id: str, now_ms: int) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = Agent(agent_id)
        if agent.state is AgentState.OFFLINE:
            self._move(agent, AgentState.AVAILABLE, now_ms)
        return agent

    def logout(self, agent_id: str, now_ms: int) -> Agent:
        agent = self.get(agent_id)
        if agent.state in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
            # In wrap-up the lead still waits for this agent's disposition.
            raise FailedPrecondition(f"agent {agent_id} is {agent.state}: finish the call first")
        return self._move(agent, AgentState.OFFLINE, now_ms)

    def set_available(self, agent_id: str, available: bool, now_ms: int) -> Agent:
        """Agent-chosen states only: available, or not ready (logged in, taking no calls).
        Idle time restarts when she becomes available again."""
        agent = self.get(agent_id)
        if agent.state in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
            raise FailedPrecondition(f"agent {agent_id} is {agent.state}")
        wanted = AgentState.AVAILABLE if available else AgentState.NOT_READY
        if agent.state is wanted:
            return agent
        return self._move(agent, wanted, now_ms)

    def disposition(
        self, agent_id: str, code: str, now_ms: int, callback_at_ms: int = 0
    ) -> Disposed:
        """Validates a disposition without changing the agent: the caller settles the lead
        first and then calls `finish_wrap_up`, so a crash in between files it again rather
        than losing it."""
        agent = self.get(agent_id)
        if agent.state is not AgentState.WRAP_UP or agent.call is None:
            raise FailedPrecondition(f"agent {agent_id} has no call to dispose (is {agent.state})")
        kind = self.dispositions.get(code)
        if kind is None:
            raise InvalidArgument([("code", f"unknown disposition {code!r}")])
        if kind is DispositionKind.CALLBACK and callback_at_ms <= now_ms:
            raise InvalidArgument([("callback_at", "a callback needs a time in the future")])
        return Disposed(agent.id, agent.call, code, kind, callback_at_ms)

    def finish_wrap_up(self, disposed: Disposed, now_ms: int) -> Agent:
        """Makes the agent available once its disposition has been settled."""
        agent = self.get(disposed.agent_id)
        if agent.state is AgentState.WRAP_UP and self._holds(agent, disposed.call):
            self._move(agent, AgentState.AVAILABLE, now_ms)
        return agent

    def dispose(self, agent_id: str, code: str, now_ms: int, callback_at_ms: int = 0) -> Disposed:
        result = self.disposition(agent_id, code, now_ms, callback_at_ms)
        self.finish_wrap_up(result, now_ms)
        return result

    # Dialer actions ----------------------------------------------------------------------
    def most_idle_available(self, exclude: frozenset[str] = frozenset()) -> Agent | None:
        free = [
            a
            for a in self.agents.values()
            if a.state is AgentState.AVAILABLE and a.id not in exclude
        ]
        return min(free, key=lambda a: (a.idle_since_ms, a.id), default=None)

    def available_count(self) -> int:
        return sum(1 for a in self.agents.values() if a.state is AgentState.AVAILABLE)

    def reserve(self, agent_id: str, call: CallContext, now_ms: int) -> Agent:
        agent = self.get(agent_id)
        if agent.state is not AgentState.AVAILABLE:
            raise FailedPrecondition(f"agent {agent_id} is {agent.state}, not available")
        agent.state = AgentState.RESERVED
        agent.state_since_ms = now_ms
        agent.call = call
        return agent

    def _holds(self, agent: Agent, call: CallContext | None) -> bool:
        """Whether the agent's current call is `call` (None matches any)."""
        if call is None or agent.call is None:
            return call is None
        if agent.call.reservation or call.reservation:
            # A late event of an agent's earlier call must not move the agent: reservations
            # are unique, so they tell one call of the same campaign from another.
            return agent.call.reservation == call.reservation
        return agent.call.key == call.key

    def bind(self, agent_id: str, call: CallContext) -> Agent:
        """Records which lead a reserved agent's call is for."""
        agent = self.get(agent_id)
        if agent.state is AgentState.RESERVED and self._holds(agent, call):
            agent.call = call
        return agent

    def offer(self, agent_id: str, call: CallContext, now_ms: int, timeout_ms: int) -> Agent:
        """Preview: shows a reserved agent the lead in `call` before any call is placed."""
        agent = self.bind(agent_id, call)
        if agent.state is AgentState.RESERVED and agent.call is call:
            agent.offered_at_ms = now_ms
            agent.offer_timeout_ms = timeout_ms
        return agent

    def accept_offer(self, agent_id: str, now_ms: int) -> Agent:
        """The agent takes the offered contact: she stays reserved while its call is placed."""
        agent = self.get(agent_id)
        offer = agent.offer
        if offer is None:
            raise FailedPrecondition(f"agent {agent_id} has no preview offer (is {agent.state})")
        offer.accept(now_ms)  # refuses a timed-out offer
        agent.offered_at_ms, agent.offer_timeout_ms = None, 0
        # Reserved for a call from now on: the stale-reservation check counts from here, not
        # from the offer (which may have lasted longer than any call rings).
        agent.state_since_ms = now_ms
        return agent

    def due_offers(self, now_ms: int) -> list[Agent]:
        """Agents whose preview offer timed out undecided (to be released as skipped)."""
        return [
            a
            for a in self.agents.values()
            if (offer := a.offer) is not None and offer.expire(now_ms).state != offer.state
        ]

    def take(self, agent_id: str, call: CallContext, now_ms: int) -> Agent:
        """Connects an available agent straight to a live answer (predictive and power: the
        call was placed before any agent was chosen)."""
        agent = self.get(agent_id)
        if agent.state is AgentState.ON_CALL and self._holds(agent, call):
            return agent  # a retried request
        if agent.state is not AgentState.AVAILABLE:
            raise FailedPrecondition(f"agent {agent_id} is {agent.state}, not available")
        agent.call = call
        agent.state = AgentState.ON_CALL
        agent.state_since_ms = now_ms
        return agent

    def release(
        self, agent_id: str, call: CallContext, now_ms: int, idle_since_ms: int | None = None
    ) -> Agent:
        """Takes an agent back off a paced call she never talked on (its answer had been
        abandoned): available again, first in line as before (`idle_since_ms`, by default
        her current one)."""
        agent = self.get(agent_id)
        if agent.state is not AgentState.ON_CALL or not self._holds(agent, call):
            return agent
        idle_since = agent.idle_since_ms if idle_since_ms is None else idle_since_ms
        return self._back_in_line(agent, now_ms, idle_since)

    def holder(self, call: CallContext) -> Agent | None:
        """The agent on (or wrapping up) `call`, if any."""
        for agent in self.agents.values():
            if agent.state in (AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.RESERVED) and (
                agent.call is not None and agent.call.key == call.key
            ):
                return agent
        return None

    def snapshot(self, now_ms: int) -> AgentSnapshot:
        """The agents as the pacing policy sees them (offline and not-ready left out)."""
        on_call: list[float] = []
        wrap_up: list[float] = []
        available = reserved = 0
        for agent in self.agents.values():
            if agent.state is AgentState.AVAILABLE:
                available += 1
            elif agent.state is AgentState.RESERVED:
                reserved += 1
            elif agent.state is AgentState.ON_CALL:
                on_call.append((now_ms - agent.state_since_ms) / 1000)
            elif agent.state is AgentState.WRAP_UP:
                wrap_up.append((now_ms - agent.state_since_ms) / 1000)
        return AgentSnapshot(available, tuple(on_call), tuple(wrap_up), reserved)

    def unreserve(self, agent_id: str, now_ms: int, call: CallContext | None = None) -> Agent:
        """Frees a reserved agent whose call never reached it. Its idle time is kept, so it
        stays first in line: it did not talk to anyone."""
        agent = self.get(agent_id)
        if agent.state is not AgentState.RESERVED or not self._holds(agent, call):
            return agent
        return self._back_in_line(agent, now_ms, agent.idle_since_ms)

    def connect(self, agent_id: str, call: CallContext, now_ms: int) -> Agent:
        agent = self.get(agent_id)
        if agent.state is AgentState.ON_CALL and self._holds(agent, call):
            return agent  # a retried request
        if agent.state is not AgentState.RESERVED or not self._holds(agent, call):
            raise FailedPrecondition(
                f"agent {agent_id} is {agent.state}, not reserved for the call"
            )
        agent.call = call
        agent.state = AgentState.ON_CALL
        agent.state_since_ms = now_ms
        return agent

    def end_call(self, agent_id: str, now_ms: int, call: CallContext | None = None) -> Agent:
        """The agent's call ended: wrap-up until a disposition. A still-reserved agent counts
        too (its connect was lost in a pool restart): the lead still needs the disposition."""
        agent = self.get(agent_id)
        lost_connect = agent.state is AgentState.RESERVED and call is not None
        if agent.state is not AgentState.ON_CALL and not lost_connect:
            return agent
        if not self._holds(agent, call):
            return agent
        if call is not None:
            agent.call = call
        agent.state = AgentState.WRAP_UP
        agent.state_since_ms = now_ms
        agent.wrap_up_until_ms = now_ms + self.wrap_up_timeout_ms
        return agent

    def stale_reservations(self, now_ms: int, max_reserved_ms: int) -> list[Agent]:
        """Agents reserved (or on a call) for longer than any call can ring. Their call's
        events may have been lost (a trunk died) or only delayed (a campaign dialer
        restarting): the caller frees those whose call is no longer live."""
        return [
            a
            for a in self.agents.values()
            if a.state in (AgentState.RESERVED, AgentState.ON_CALL)
            and now_ms - a.state_since_ms >= max_reserved_ms
            and a.offer is None  # a preview offer has its own timeout (due_offers)
        ]

    def due_wrap_ups(self, now_ms: int) -> list[Disposed]:
        """The timeout dispositions of agents whose wrap-up has run out (not yet applied)."""
        return [
            Disposed(agent.id, agent.call, TIMEOUT_DISPOSITION, DispositionKind.FINAL)
            for agent in self.agents.values()
            if agent.state is AgentState.WRAP_UP
            and agent.wrap_up_until_ms <= now_ms
            and agent.call is not None
        ]

    def expire_wrap_ups(self, now_ms: int) -> list[Disposed]:
        """Files the timeout disposition for agents whose wrap-up has run out."""
        due = self.due_wrap_ups(now_ms)
        for disposed in due:
            self.finish_wrap_up(disposed, now_ms)
        return due


def redial_at(disposed: Disposed, now_ms: int, retry_period_ms: int) -> int | None:
    """When a disposed lead is dialed again: None (final), after the retry period (retry),
    or at the requested time (callback, never in the past)."""
    if disposed.kind is DispositionKind.RETRY:
        return now_ms + retry_period_ms
    if disposed.kind is DispositionKind.CALLBACK:
        return max(disposed.callback_at_ms, now_ms)
    return None


def share_for(
    snapshot: AgentSnapshot, campaign: str, priorities: Mapping[str, int], offset: int = 0
) -> AgentSnapshot:
    """The part of a queue's agents a paced campaign may count on: none if a campaign of
    higher priority wants agents, else an even share among the wanting campaigns of the top
    priority (`offset` rotates who gets the remainder, so equals take turns)."""
    if campaign not in priorities:
        return AgentSnapshot(0)
    top = max(priorities.values())
    if priorities[campaign] < top:
        return AgentSnapshot(0)
    peers = sorted(c for c, p in priorities.items() if p == top)
    n, mine = len(peers), peers.index(campaign)

    def part(items: Sequence[float]) -> tuple[float, ...]:
        return tuple(x for j, x in enumerate(items) if (j + offset) % n == mine)

    available = snapshot.available // n + ((mine - offset) % n < snapshot.available % n)
    reserved = snapshot.reserved // n + ((mine - offset) % n < snapshot.reserved % n)
    return AgentSnapshot(
        available, part(snapshot.on_call_elapsed_s), part(snapshot.wrap_up_elapsed_s), reserved
    )


def pick_campaign(wanting: Sequence[tuple[str, int]], rng: random.Random) -> str | None:
    """The campaign that gets the next agent: highest priority first, random among equals."""
    if not wanting:
        return None
    top = max(priority for _, priority in wanting)
    return rng.choice(sorted(cid for cid, priority in wanting if priority == top))


class AgentStore:
    """Agent records of one queue in Redis: HASH agent id -> msgpack."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.r = client
        self.key = key

    def load(self) -> list[Agent]:
        raw: dict[bytes, bytes] = self.r.hgetall(self.key)  # type: ignore[assignment]
        return [Agent.from_record(msgpack.unpackb(v)) for v in raw.values()]

    def save(self, *agents: Agent) -> None:
        if agents:
            self.r.hset(self.key, mapping={a.id: msgpack.packb(a.to_record()) for a in agents})
