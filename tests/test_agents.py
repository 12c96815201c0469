"""AgentPool: agent states, the most-idle rule, wrap-up and dispositions (pure, no Redis)."""

from __future__ import annotations

import random
from collections import Counter

import msgpack
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cluster.agents import (
    DEFAULT_DISPOSITIONS,
    TIMEOUT_DISPOSITION,
    Agent,
    AgentPool,
    AgentState,
    CallContext,
    Disposed,
    DispositionKind,
    pick_campaign,
    share_for,
)
from cluster.errors import FailedPrecondition, InvalidArgument, NotFound
from cluster.pacing import AgentSnapshot, PreviewOffer

WRAP_UP_MS = 30_000


def call(
    campaign: str = "camp-a",
    lead: int = 1,
    token: str = "t1",
    attempt: int = 1,
    reservation: str = "",
) -> CallContext:
    return CallContext(
        campaign, 1, lead, token, attempt, call_id=f"call-{lead}-{token}", reservation=reservation
    )


def placeholder(campaign: str = "camp-a", reservation: str = "res-1") -> CallContext:
    return CallContext(campaign, 0, -1, "", 0, reservation=reservation)


def pool_with(*logins: tuple[str, int]) -> AgentPool:
    pool = AgentPool(wrap_up_timeout_ms=WRAP_UP_MS)
    for agent_id, at in logins:
        pool.login(agent_id, at)
    return pool


def pool_of(*agent_ids: str) -> AgentPool:
    """Agents logged in at time 0, in order."""
    return pool_with(*((agent_id, 0) for agent_id in agent_ids))


def on_call(pool: AgentPool, agent_id: str, ctx: CallContext, at: int) -> None:
    pool.reserve(agent_id, ctx, at)
    pool.connect(agent_id, ctx, at + 1)


def in_wrap_up(pool: AgentPool, agent_id: str, ctx: CallContext, at: int) -> None:
    on_call(pool, agent_id, ctx, at)
    pool.end_call(agent_id, at + 2, ctx)


# Login, logout, availability -------------------------------------------------------------
def test_login_makes_an_agent_available_once() -> None:
    pool = AgentPool()
    agent = pool.login("ann", 1_000)
    assert (agent.state, agent.idle_since_ms, agent.state_since_ms) == (
        AgentState.AVAILABLE,
        1_000,
        1_000,
    )
    again = pool.login("ann", 5_000)  # already logged in: keeps its place in line
    assert again is agent
    assert (again.state, again.idle_since_ms) == (AgentState.AVAILABLE, 1_000)
    assert pool.available_count() == 1


def test_logout_and_login_again() -> None:
    pool = pool_with(("ann", 0))
    assert pool.logout("ann", 100).state is AgentState.OFFLINE
    assert pool.available_count() == 0
    assert pool.most_idle_available() is None
    agent = pool.login("ann", 200)
    assert (agent.state, agent.idle_since_ms) == (AgentState.AVAILABLE, 200)


@pytest.mark.parametrize("busy", ["reserved", "on_call", "wrap_up"])
def test_logout_refused_during_a_call(busy: str) -> None:
    pool = pool_with(("ann", 0))
    pool.reserve("ann", call(), 10)
    if busy in ("on_call", "wrap_up"):
        pool.connect("ann", call(), 20)
    if busy == "wrap_up":
        pool.end_call("ann", 25, call())
    with pytest.raises(FailedPrecondition):
        pool.logout("ann", 30)
    assert pool.get("ann").state is AgentState(busy)


def test_set_available() -> None:
    pool = pool_with(("ann", 0))
    assert pool.set_available("ann", True, 50).idle_since_ms == 0  # no-op when available
    not_ready = pool.set_available("ann", False, 100)
    assert (not_ready.state, not_ready.state_since_ms) == (AgentState.NOT_READY, 100)
    assert pool.most_idle_available() is None  # not ready takes no calls
    assert pool.login("ann", 200).state is AgentState.NOT_READY  # already logged in
    agent = pool.set_available("ann", True, 300)
    assert (agent.state, agent.idle_since_ms) == (AgentState.AVAILABLE, 300)
    pool.set_available("ann", False, 400)
    assert pool.logout("ann", 500).state is AgentState.OFFLINE


@pytest.mark.parametrize("available", [True, False])
def test_set_available_refused_while_busy(available: bool) -> None:
    pool = pool_with(("ann", 0), ("bob", 0), ("cat", 0))
    pool.reserve("ann", call(token="a"), 1)
    on_call(pool, "bob", call(token="b"), 1)
    in_wrap_up(pool, "cat", call(token="c"), 1)
    for agent_id, state in [
        ("ann", AgentState.RESERVED),
        ("bob", AgentState.ON_CALL),
        ("cat", AgentState.WRAP_UP),
    ]:
        with pytest.raises(FailedPrecondition):
            pool.set_available(agent_id, available, 10)
        assert pool.get(agent_id).state is state


def test_unknown_agent_is_not_found() -> None:
    pool = pool_with(("ann", 0))
    for action in (
        lambda: pool.get("zed"),
        lambda: pool.logout("zed", 1),
        lambda: pool.set_available("zed", True, 1),
        lambda: pool.reserve("zed", call(), 1),
        lambda: pool.dispose("zed", "sale", 1),
    ):
        with pytest.raises(NotFound):
            action()


# The most-idle rule ----------------------------------------------------------------------
def test_most_idle_available_is_the_one_free_longest() -> None:
    pool = pool_with(("bob", 300), ("ann", 200), ("cat", 100))
    assert pool.most_idle_available().id == "cat"  # type: ignore[union-attr]
    assert pool.most_idle_available(frozenset({"cat"})).id == "ann"  # type: ignore[union-attr]
    assert pool.most_idle_available(frozenset({"ann", "bob", "cat"})) is None


def test_most_idle_available_breaks_ties_by_id() -> None:
    pool = pool_with(("cat", 100), ("bob", 100), ("dan", 100))
    assert pool.most_idle_available().id == "bob"  # type: ignore[union-attr]


def test_most_idle_available_skips_agents_that_are_not_available() -> None:
    pool = pool_with(("ann", 100), ("bob", 200), ("cat", 300), ("dan", 400))
    pool.reserve("ann", call(token="a"), 500)
    on_call(pool, "bob", call(token="b"), 500)
    pool.logout("cat", 500)
    assert pool.most_idle_available().id == "dan"  # type: ignore[union-attr]
    pool.logout("dan", 600)
    assert pool.most_idle_available() is None


def test_an_agent_who_took_a_call_goes_to_the_back_of_the_line() -> None:
    pool = pool_with(("ann", 100), ("bob", 200))
    ctx = call()
    in_wrap_up(pool, "ann", ctx, 1_000)
    pool.dispose("ann", "sale", 2_000)
    assert pool.get("ann").idle_since_ms == 2_000
    assert pool.most_idle_available().id == "bob"  # type: ignore[union-attr]


# Reserve, bind, unreserve ----------------------------------------------------------------
def test_reserve_holds_the_call() -> None:
    pool = pool_with(("ann", 100))
    agent = pool.reserve("ann", call(), 500)
    assert (agent.state, agent.state_since_ms, agent.call) == (AgentState.RESERVED, 500, call())
    assert agent.idle_since_ms == 100
    assert pool.available_count() == 0
    with pytest.raises(FailedPrecondition):
        pool.reserve("ann", call(token="other"), 600)
    assert pool.get("ann").call == call()


def test_reserve_refuses_an_offline_agent() -> None:
    pool = pool_with(("ann", 0))
    pool.logout("ann", 1)
    with pytest.raises(FailedPrecondition):
        pool.reserve("ann", call(), 2)
    assert pool.get("ann").call is None


def test_unreserve_keeps_the_idle_time_so_the_agent_stays_first() -> None:
    pool = pool_with(("ann", 100), ("bob", 200))
    pool.reserve("ann", call(), 1_000)
    assert pool.most_idle_available().id == "bob"  # type: ignore[union-attr]
    agent = pool.unreserve("ann", 5_000, call())
    assert (agent.state, agent.call, agent.idle_since_ms) == (AgentState.AVAILABLE, None, 100)
    assert agent.state_since_ms == 5_000
    assert pool.most_idle_available().id == "ann"  # type: ignore[union-attr]


def test_unreserve_ignores_another_call() -> None:
    pool = pool_with(("ann", 100))
    pool.reserve("ann", call(token="mine"), 1_000)
    for other in (call(token="old"), call(lead=2, token="mine"), call("camp-b", token="mine")):
        agent = pool.unreserve("ann", 2_000, other)
        assert (agent.state, agent.call) == (AgentState.RESERVED, call(token="mine"))
    assert pool.unreserve("ann", 2_000, None).state is AgentState.AVAILABLE  # None: any call


def test_unreserve_acts_only_on_a_reserved_agent() -> None:
    pool = pool_with(("ann", 100))
    ctx = call()
    on_call(pool, "ann", ctx, 1_000)
    assert pool.unreserve("ann", 2_000, ctx).state is AgentState.ON_CALL
    assert pool.unreserve("ann", 2_000).state is AgentState.ON_CALL
    pool.end_call("ann", 3_000, ctx)
    assert pool.unreserve("ann", 4_000, ctx).state is AgentState.WRAP_UP


def test_placeholder_matches_only_calls_placed_under_its_reservation() -> None:
    pool = pool_with(("ann", 100))
    pool.reserve("ann", placeholder("camp-a", "res-1"), 1_000)
    # A late event of the agent's earlier call in the same campaign does not free her.
    assert pool.unreserve("ann", 2_000, call("camp-a", lead=5)).state is AgentState.RESERVED
    stale = call("camp-a", lead=5, reservation="res-0")
    assert pool.unreserve("ann", 2_000, stale).state is AgentState.RESERVED
    agent = pool.unreserve("ann", 2_000, call("camp-a", lead=5, reservation="res-1"))
    assert (agent.state, agent.idle_since_ms) == (AgentState.AVAILABLE, 100)


def test_bind_replaces_the_placeholder_with_the_real_call() -> None:
    pool = pool_with(("ann", 100))
    pool.reserve("ann", placeholder("camp-a"), 1_000)
    assert pool.bind("ann", call("camp-a", lead=9)).call == placeholder("camp-a")
    real = call("camp-a", lead=9, token="t9", reservation="res-1")
    assert pool.bind("ann", real).call == real
    # Once bound, only that call matches.
    assert pool.bind("ann", call("camp-a", lead=10, token="t10")).call == real
    assert pool.unreserve("ann", 2_000, call("camp-a", lead=10)).state is AgentState.RESERVED
    assert pool.unreserve("ann", 2_000, real).state is AgentState.AVAILABLE


def test_bind_ignores_an_agent_that_is_not_reserved() -> None:
    pool = pool_with(("ann", 100))
    agent = pool.bind("ann", call())
    assert (agent.state, agent.call) == (AgentState.AVAILABLE, None)


# Connect, end call -----------------------------------------------------------------------
def test_connect_puts_the_agent_on_the_call() -> None:
    pool = pool_with(("ann", 100))
    pool.reserve("ann", placeholder("camp-a"), 1_000)
    real = call("camp-a", lead=3, token="t3", reservation="res-1")
    agent = pool.connect("ann", real, 1_500)
    assert (agent.state, agent.state_since_ms, agent.call) == (AgentState.ON_CALL, 1_500, real)


def test_connect_is_idempotent_for_the_same_call() -> None:
    pool = pool_with(("ann", 100))
    ctx = call()
    pool.reserve("ann", ctx, 1_000)
    pool.connect("ann", ctx, 1_500)
    agent = pool.connect("ann", ctx, 9_000)  # a retried request
    assert (agent.state, agent.state_since_ms, agent.call) == (AgentState.ON_CALL, 1_500, ctx)


def test_connect_refuses_another_call() -> None:
    pool = pool_with(("ann", 100), ("bob", 100))
    ctx = call(token="mine")
    pool.reserve("ann", ctx, 1_000)
    with pytest.raises(FailedPrecondition):
        pool.connect("ann", call(token="other"), 1_500)
    assert pool.get("ann").state is AgentState.RESERVED
    pool.connect("ann", ctx, 1_600)
    with pytest.raises(FailedPrecondition):
        pool.connect("ann", call(token="other"), 1_700)
    with pytest.raises(FailedPrecondition):
        pool.connect("bob", ctx, 1_700)  # available, not reserved
    assert pool.get("bob").state is AgentState.AVAILABLE


def test_end_call_starts_wrap_up() -> None:
    pool = pool_with(("ann", 100))
    ctx = call()
    on_call(pool, "ann", ctx, 1_000)
    agent = pool.end_call("ann", 60_000, ctx)
    assert (agent.state, agent.state_since_ms) == (AgentState.WRAP_UP, 60_000)
    assert agent.wrap_up_until_ms == 60_000 + WRAP_UP_MS
    assert agent.call == ctx


def test_end_call_ignores_another_call_and_agents_not_on_a_call() -> None:
    pool = pool_with(("ann", 100), ("bob", 100), ("cy", 100))
    ctx = call(token="mine")
    on_call(pool, "ann", ctx, 1_000)
    assert pool.end_call("ann", 2_000, call(token="late")).state is AgentState.ON_CALL
    pool.reserve("bob", call(token="b"), 1_000)
    assert pool.end_call("bob", 2_000, call(token="other")).state is AgentState.RESERVED
    assert pool.end_call("bob", 2_000).state is AgentState.RESERVED  # no call named
    assert pool.end_call("cy", 2_000, call()).state is AgentState.AVAILABLE
    assert pool.end_call("ann", 2_000).state is AgentState.WRAP_UP  # None: any call


def test_end_call_of_a_reserved_agent_means_its_connect_was_lost() -> None:
    """A pool restart can lose a connect; the call's end still puts the agent in wrap-up, so
    the lead gets its disposition."""
    pool = pool_with(("bob", 100))
    ctx = call(token="b", reservation="res-9")
    pool.reserve("bob", placeholder("camp-a", "res-9"), 1_000)
    agent = pool.end_call("bob", 2_000, ctx)
    assert (agent.state, agent.call, agent.wrap_up_until_ms) == (
        AgentState.WRAP_UP,
        ctx,
        2_000 + WRAP_UP_MS,
    )


# Dispositions ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("sale", DispositionKind.FINAL),
        ("not_interested", DispositionKind.FINAL),
        ("no_decision", DispositionKind.RETRY),
    ],
)
def test_dispose_files_the_disposition_and_frees_the_agent(
    code: str, kind: DispositionKind
) -> None:
    pool = pool_with(("ann", 100))
    ctx = call()
    in_wrap_up(pool, "ann", ctx, 1_000)
    result = pool.dispose("ann", code, 5_000)
    assert result == Disposed("ann", ctx, code, kind, 0)
    agent = pool.get("ann")
    assert (agent.state, agent.call, agent.idle_since_ms) == (AgentState.AVAILABLE, None, 5_000)
    assert agent.wrap_up_until_ms == 0


def test_dispose_callback_needs_a_future_time() -> None:
    pool = pool_with(("ann", 100))
    ctx = call()
    in_wrap_up(pool, "ann", ctx, 1_000)
    for when in (0, 4_999, 5_000):
        with pytest.raises(InvalidArgument) as caught:
            pool.dispose("ann", "call_back", 5_000, callback_at_ms=when)
        assert [field for field, _ in caught.value.violations] == ["callback_at"]
        assert pool.get("ann").state is AgentState.WRAP_UP
    result = pool.dispose("ann", "call_back", 5_000, callback_at_ms=90_000)
    assert (result.kind, result.callback_at_ms, result.call) == (
        DispositionKind.CALLBACK,
        90_000,
        ctx,
    )
    assert pool.get("ann").state is AgentState.AVAILABLE


def test_dispose_unknown_code_names_the_code_field() -> None:
    pool = pool_with(("ann", 100))
    in_wrap_up(pool, "ann", call(), 1_000)
    with pytest.raises(InvalidArgument) as caught:
        pool.dispose("ann", "maybe", 5_000)
    assert [field for field, _ in caught.value.violations] == ["code"]
    assert "maybe" in caught.value.violations[0][1]
    assert pool.get("ann").state is AgentState.WRAP_UP


def test_dispose_only_from_wrap_up() -> None:
    pool = pool_with(("ann", 100))
    with pytest.raises(FailedPrecondition):
        pool.dispose("ann", "sale", 1_000)
    pool.reserve("ann", call(), 1_000)
    with pytest.raises(FailedPrecondition):
        pool.dispose("ann", "sale", 1_100)
    pool.connect("ann", call(), 1_200)
    with pytest.raises(FailedPrecondition):
        pool.dispose("ann", "sale", 1_300)
    assert pool.get("ann").state is AgentState.ON_CALL


def test_custom_dispositions() -> None:
    pool = AgentPool(
        dispositions={"completed": DispositionKind.FINAL, "later": DispositionKind.RETRY}
    )
    pool.login("ann", 0)
    in_wrap_up(pool, "ann", call(), 10)
    with pytest.raises(InvalidArgument):
        pool.dispose("ann", "sale", 100)  # a default code, not this pool's
    assert pool.dispose("ann", "later", 100).kind is DispositionKind.RETRY


def test_expire_wrap_ups_files_the_timeout_disposition() -> None:
    pool = pool_with(("ann", 0), ("bob", 0))
    ann_call, bob_call = call(token="a"), call(token="b")
    in_wrap_up(pool, "ann", ann_call, 1_000)  # wrap-up ends at 1_002 + WRAP_UP_MS
    in_wrap_up(pool, "bob", bob_call, 5_000)
    assert pool.expire_wrap_ups(1_001 + WRAP_UP_MS) == []
    expired = pool.expire_wrap_ups(1_002 + WRAP_UP_MS)
    assert expired == [
        Disposed("ann", ann_call, TIMEOUT_DISPOSITION, DEFAULT_DISPOSITIONS[TIMEOUT_DISPOSITION])
    ]
    assert expired[0].kind is DispositionKind.FINAL
    assert pool.get("ann").state is AgentState.AVAILABLE
    assert pool.get("bob").state is AgentState.WRAP_UP
    assert [d.agent_id for d in pool.expire_wrap_ups(10**9)] == ["bob"]
    assert pool.expire_wrap_ups(10**9) == []


def test_expire_wrap_ups_with_dispositions_lacking_the_timeout_code() -> None:
    pool = AgentPool(wrap_up_timeout_ms=WRAP_UP_MS, dispositions={"sale": DispositionKind.FINAL})
    pool.login("ann", 0)
    in_wrap_up(pool, "ann", call(), 10)
    expired = pool.expire_wrap_ups(10**9)
    assert [d.agent_id for d in expired] == ["ann"]
    assert pool.get("ann").state is AgentState.AVAILABLE


def test_stale_reservations() -> None:
    pool = pool_with(("ann", 0), ("bob", 0), ("cat", 0), ("dan", 0), ("eve", 0))
    pool.reserve("ann", call(token="a"), 1_000)
    on_call(pool, "bob", call(token="b"), 1_000)  # on the call since 1_001
    pool.reserve("cat", call(token="c"), 5_000)
    in_wrap_up(pool, "dan", call(token="d"), 0)
    stale = pool.stale_reservations(now_ms=11_000, max_reserved_ms=10_000)
    assert sorted(a.id for a in stale) == ["ann"]
    stale = pool.stale_reservations(now_ms=11_001, max_reserved_ms=10_000)
    assert sorted(a.id for a in stale) == ["ann", "bob"]
    stale = pool.stale_reservations(now_ms=100_000, max_reserved_ms=10_000)
    assert sorted(a.id for a in stale) == ["ann", "bob", "cat"]


# pick_campaign ---------------------------------------------------------------------------
def test_pick_campaign_empty_is_none() -> None:
    assert pick_campaign([], random.Random(1)) is None


def test_pick_campaign_highest_priority_always_wins() -> None:
    rng = random.Random(3)
    wanting = [("low", 1), ("high", 5), ("next", 4), ("also-low", 1)]
    assert {pick_campaign(wanting, rng) for _ in range(500)} == {"high"}


def test_pick_campaign_shares_equally_among_equals() -> None:
    rng = random.Random(11)
    wanting = [("a", 4), ("b", 4), ("c", 4), ("low", 2)]
    draws = 3_000
    counts = Counter(pick_campaign(wanting, rng) for _ in range(draws))
    assert set(counts) == {"a", "b", "c"}
    for name in ("a", "b", "c"):
        assert counts[name] == pytest.approx(draws / 3, rel=0.1), counts


def test_pick_campaign_does_not_depend_on_the_order_given() -> None:
    wanting = [("a", 4), ("b", 4), ("c", 4), ("d", 4)]
    first = [pick_campaign(wanting, random.Random(seed)) for seed in range(50)]
    reordered = [pick_campaign(wanting[::-1], random.Random(seed)) for seed in range(50)]
    assert first == reordered
    assert len(set(first)) > 1


# Records ---------------------------------------------------------------------------------
def test_agent_record_round_trips_through_msgpack() -> None:
    ctx = CallContext(
        "camp-a",
        3,
        42,
        "tok",
        2,
        call_id="call-9",
        phone="+12125550100",
        contact={"id": "c1", "fields": {"plan": "gold"}},
    )
    pool = pool_with(("ann", 100), ("bob", 150))
    in_wrap_up(pool, "ann", ctx, 1_000)
    pool.logout("bob", 2_000)
    for agent in pool.agents.values():
        record = agent.to_record()
        assert record["state"] == agent.state.value
        assert type(record["state"]) is str
        restored = Agent.from_record(msgpack.unpackb(msgpack.packb(record)))
        assert restored == agent
        assert restored.state is agent.state
    restored_ann = Agent.from_record(msgpack.unpackb(msgpack.packb(pool.get("ann").to_record())))
    assert restored_ann.call == ctx
    assert restored_ann.call is not None and restored_ann.call.key == "camp-a:3:42:tok"
    assert restored_ann.wrap_up_until_ms == 1_002 + WRAP_UP_MS


def test_restored_pool_continues_where_it_left_off() -> None:
    pool = pool_with(("ann", 100), ("bob", 200))
    ctx = call()
    on_call(pool, "ann", ctx, 1_000)
    records = [msgpack.packb(a.to_record()) for a in pool.agents.values()]
    restored = AgentPool(
        [Agent.from_record(msgpack.unpackb(r)) for r in records], wrap_up_timeout_ms=WRAP_UP_MS
    )
    assert restored.connect("ann", ctx, 2_000).state is AgentState.ON_CALL  # a retried connect
    assert restored.end_call("ann", 3_000, ctx).state is AgentState.WRAP_UP
    assert restored.most_idle_available().id == "bob"  # type: ignore[union-attr]


# Properties over random action sequences -------------------------------------------------
AGENT_IDS = ("ann", "bob", "cat")
CAMPAIGNS = ("camp-a", "camp-b")
BUSY_STATES = (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP)


class AgentPoolMachine(RuleBasedStateMachine):
    """Drives a pool with random actions, checked against a model of each agent's state."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = AgentPool(wrap_up_timeout_ms=WRAP_UP_MS)
        self.model: dict[str, AgentState] = {}
        self.now = 0
        self.tokens = 0

    def _new_call(self, campaign: str, lead: int, reservation: str = "") -> CallContext:
        self.tokens += 1
        return CallContext(campaign, 1, lead, f"t{self.tokens}", 1, reservation=reservation)

    def _held(self, agent_id: str) -> CallContext | None:
        agent = self.pool.agents.get(agent_id)
        return agent.call if agent is not None else None

    @rule(ms=st.integers(0, 2 * WRAP_UP_MS))
    def tick(self, ms: int) -> None:
        self.now += ms

    @rule(agent_id=st.sampled_from(AGENT_IDS))
    def login(self, agent_id: str) -> None:
        self.pool.login(agent_id, self.now)
        if self.model.get(agent_id, AgentState.OFFLINE) is AgentState.OFFLINE:
            self.model[agent_id] = AgentState.AVAILABLE

    @rule(agent_id=st.sampled_from(AGENT_IDS))
    def logout(self, agent_id: str) -> None:
        if agent_id not in self.model:
            with pytest.raises(NotFound):
                self.pool.logout(agent_id, self.now)
        elif self.model[agent_id] in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
            with pytest.raises(FailedPrecondition):
                self.pool.logout(agent_id, self.now)
        else:
            self.pool.logout(agent_id, self.now)
            self.model[agent_id] = AgentState.OFFLINE

    @rule(
        campaign=st.sampled_from(CAMPAIGNS),
        lead=st.integers(0, 3),
        as_placeholder=st.booleans(),
    )
    def reserve_most_idle(self, campaign: str, lead: int, as_placeholder: bool) -> None:
        agent = self.pool.most_idle_available()
        if agent is None:
            assert AgentState.AVAILABLE not in self.model.values()
            return
        self.tokens += 1
        ctx = placeholder(campaign, f"res-{self.tokens}") if as_placeholder else None
        ctx = ctx or self._new_call(campaign, lead)
        self.pool.reserve(agent.id, ctx, self.now)
        self.model[agent.id] = AgentState.RESERVED

    @rule(agent_id=st.sampled_from(AGENT_IDS))
    def reserve_anyone(self, agent_id: str) -> None:
        if self.model.get(agent_id) is AgentState.AVAILABLE:
            self.pool.reserve(agent_id, self._new_call("camp-a", 0), self.now)
            self.model[agent_id] = AgentState.RESERVED
        elif agent_id in self.model:
            with pytest.raises(FailedPrecondition):
                self.pool.reserve(agent_id, self._new_call("camp-a", 0), self.now)

    @rule(agent_id=st.sampled_from(AGENT_IDS), lead=st.integers(0, 3))
    def bind(self, agent_id: str, lead: int) -> None:
        held = self._held(agent_id)
        if held is not None and self.model[agent_id] is AgentState.RESERVED:
            self.pool.bind(agent_id, self._new_call(held.campaign_id, lead, held.reservation))

    @rule(agent_id=st.sampled_from(AGENT_IDS), own=st.booleans())
    def unreserve(self, agent_id: str, own: bool) -> None:
        if agent_id not in self.model:
            return
        held = self._held(agent_id)
        ctx = held if own else self._new_call("camp-z", 9)
        before = self.pool.get(agent_id).idle_since_ms
        self.pool.unreserve(agent_id, self.now, ctx)
        if own and self.model[agent_id] is AgentState.RESERVED:
            self.model[agent_id] = AgentState.AVAILABLE
            assert self.pool.get(agent_id).idle_since_ms == before

    @rule(agent_id=st.sampled_from(AGENT_IDS), own=st.booleans())
    def connect(self, agent_id: str, own: bool) -> None:
        if agent_id not in self.model:
            return
        held = self._held(agent_id)
        if own and held is not None and self.model[agent_id] is AgentState.RESERVED:
            real = (
                self._new_call(held.campaign_id, 1, held.reservation) if held.placeholder else held
            )
            self.pool.connect(agent_id, real, self.now)
            self.model[agent_id] = AgentState.ON_CALL
        elif own and held is not None and self.model[agent_id] is AgentState.ON_CALL:
            self.pool.connect(agent_id, held, self.now)  # a retry: no change
        else:
            with pytest.raises(FailedPrecondition):
                self.pool.connect(agent_id, self._new_call("camp-z", 9), self.now)

    @rule(agent_id=st.sampled_from(AGENT_IDS), own=st.booleans())
    def end_call(self, agent_id: str, own: bool) -> None:
        if agent_id not in self.model:
            return
        ctx = self._held(agent_id) if own else self._new_call("camp-z", 9)
        self.pool.end_call(agent_id, self.now, ctx)
        if own and self.model[agent_id] in (AgentState.ON_CALL, AgentState.RESERVED):
            self.model[agent_id] = AgentState.WRAP_UP
            assert self.pool.get(agent_id).wrap_up_until_ms == self.now + WRAP_UP_MS

    @rule(agent_id=st.sampled_from(AGENT_IDS), code=st.sampled_from(sorted(DEFAULT_DISPOSITIONS)))
    def dispose(self, agent_id: str, code: str) -> None:
        if agent_id not in self.model:
            return
        held = self._held(agent_id)
        if self.model[agent_id] is AgentState.WRAP_UP:
            result = self.pool.dispose(agent_id, code, self.now, callback_at_ms=self.now + 1)
            assert result.call == held
            assert result.kind is DEFAULT_DISPOSITIONS[code]
            self.model[agent_id] = AgentState.AVAILABLE
        else:
            with pytest.raises(FailedPrecondition):
                self.pool.dispose(agent_id, code, self.now, callback_at_ms=self.now + 1)

    @rule(agent_id=st.sampled_from(AGENT_IDS), lead=st.integers(0, 3))
    def take_for_a_paced_answer(self, agent_id: str, lead: int) -> None:
        answered = self._new_call("camp-p", lead)
        if self.model.get(agent_id) is AgentState.AVAILABLE:
            self.pool.take(agent_id, answered, self.now)
            self.model[agent_id] = AgentState.ON_CALL
            assert self.pool.holder(answered) is self.pool.agents[agent_id]
        elif agent_id in self.model:
            with pytest.raises(FailedPrecondition):
                self.pool.take(agent_id, answered, self.now)

    @rule(agent_id=st.sampled_from(AGENT_IDS))
    def release_from_an_abandoned_answer(self, agent_id: str) -> None:
        held = self._held(agent_id)
        if held is None:
            return
        before = self.pool.get(agent_id).idle_since_ms
        self.pool.release(agent_id, held, self.now)
        if self.model[agent_id] is AgentState.ON_CALL:
            self.model[agent_id] = AgentState.AVAILABLE
            assert self.pool.get(agent_id).idle_since_ms == before  # still first in line

    @rule(agent_id=st.sampled_from(AGENT_IDS), lead=st.integers(0, 3))
    def offer_a_preview(self, agent_id: str, lead: int) -> None:
        held = self._held(agent_id)
        if held is not None and held.placeholder and self.model[agent_id] is AgentState.RESERVED:
            shown = self._new_call(held.campaign_id, lead, held.reservation)
            self.pool.offer(agent_id, shown, self.now, timeout_ms=WRAP_UP_MS)
            assert self.pool.get(agent_id).offer is not None

    @rule(agent_id=st.sampled_from(AGENT_IDS))
    def accept_a_preview(self, agent_id: str) -> None:
        agent = self.pool.agents.get(agent_id)
        if agent is None:
            return
        offer = agent.offer
        if offer is not None and self.now < offer.expires_at_ms:
            self.pool.accept_offer(agent_id, self.now)
            assert agent.state is AgentState.RESERVED and agent.offer is None
        else:
            with pytest.raises(FailedPrecondition):
                self.pool.accept_offer(agent_id, self.now)

    @rule()
    def expire_wrap_ups(self) -> None:
        due = {
            a.id
            for a in self.pool.agents.values()
            if a.state is AgentState.WRAP_UP and a.wrap_up_until_ms <= self.now
        }
        expired = self.pool.expire_wrap_ups(self.now)
        assert {d.agent_id for d in expired} == due
        assert all(d.code == TIMEOUT_DISPOSITION for d in expired)
        for agent_id in due:
            self.model[agent_id] = AgentState.AVAILABLE

    @invariant()
    def states_match_the_model(self) -> None:
        assert {a.id: a.state for a in self.pool.agents.values()} == self.model

    @invariant()
    def each_agent_is_in_exactly_one_state(self) -> None:
        by_state = {
            s: {a.id for a in self.pool.agents.values() if a.state is s} for s in AgentState
        }
        seen = [agent_id for ids in by_state.values() for agent_id in ids]
        assert sorted(seen) == sorted(self.pool.agents)
        assert self.pool.available_count() == len(by_state[AgentState.AVAILABLE])

    @invariant()
    def busy_agents_hold_a_call_and_free_ones_do_not(self) -> None:
        for agent in self.pool.agents.values():
            if agent.state in BUSY_STATES:
                assert agent.call is not None, agent
            if agent.state is AgentState.AVAILABLE:
                assert agent.call is None, agent
                assert agent.wrap_up_until_ms == 0, agent

    @invariant()
    def the_pacing_snapshot_counts_each_logged_in_agent_once(self) -> None:
        snapshot = self.pool.snapshot(self.now)
        ready = [
            s for s in self.model.values() if s not in (AgentState.OFFLINE, AgentState.NOT_READY)
        ]
        assert snapshot.logged_in == len(ready)
        assert snapshot.available == sum(s is AgentState.AVAILABLE for s in ready)

    @invariant()
    def only_reserved_agents_hold_offers(self) -> None:
        for agent in self.pool.agents.values():
            if agent.offered_at_ms is not None:
                assert agent.state is AgentState.RESERVED and agent.call is not None

    @invariant()
    def most_idle_available_is_available_and_most_idle(self) -> None:
        chosen = self.pool.most_idle_available()
        free = [a for a in self.pool.agents.values() if a.state is AgentState.AVAILABLE]
        if not free:
            assert chosen is None
            return
        assert chosen is not None
        assert chosen.state is AgentState.AVAILABLE
        assert (chosen.idle_since_ms, chosen.id) == min((a.idle_since_ms, a.id) for a in free)


AgentPoolMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_agent_pool_state_machine = AgentPoolMachine.TestCase


# Paced calls (predictive, power) ----------------------------------------------------------
def test_take_connects_an_available_agent_straight_to_a_live_answer() -> None:
    pool = pool_of("ann")
    answered = call(lead=4)
    agent = pool.take("ann", answered, 5_000)
    assert (agent.state, agent.call, agent.state_since_ms) == (AgentState.ON_CALL, answered, 5_000)
    assert pool.take("ann", answered, 6_000).state_since_ms == 5_000  # a retried request
    with pytest.raises(FailedPrecondition):
        pool.take("ann", call(lead=5), 6_000)


def test_holder_finds_the_agent_on_or_after_a_call() -> None:
    pool = pool_of("ann", "bob")
    answered = call(lead=4)
    assert pool.holder(answered) is None
    pool.take("bob", answered, 1_000)
    assert pool.holder(answered) is pool.agents["bob"]
    pool.end_call("bob", 2_000, answered)
    assert pool.holder(answered) is pool.agents["bob"]  # in wrap-up
    assert pool.holder(call(lead=4, token="other")) is None  # another attempt of the lead


def test_snapshot_counts_free_agents_and_how_long_the_busy_ones_have_been_busy() -> None:
    pool = pool_of("ann", "bob", "cy", "dee", "ed")
    pool.take("ann", call(lead=1), 10_000)
    pool.take("bob", call(lead=2), 40_000)
    pool.end_call("bob", 50_000, call(lead=2))
    pool.reserve("cy", call(lead=3, reservation="r"), 55_000)
    pool.set_available("ed", False, 0)
    snapshot = pool.snapshot(60_000)
    assert snapshot.available == 1  # dee; ed is not ready
    assert snapshot.on_call_elapsed_s == (50.0,)
    assert snapshot.wrap_up_elapsed_s == (10.0,)
    assert snapshot.reserved == 1
    assert snapshot.logged_in == 4


def test_a_lower_priority_campaign_counts_on_no_agent() -> None:
    snapshot = AgentSnapshot(4, (10.0, 20.0), (5.0,), 1)
    assert share_for(snapshot, "low", {"low": 3, "high": 5}) == AgentSnapshot(0)
    assert share_for(snapshot, "high", {"low": 3, "high": 5}) == snapshot
    assert share_for(snapshot, "absent", {"high": 5}) == AgentSnapshot(0)


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_equal_priorities_split_the_agents_without_counting_one_twice(offset: int) -> None:
    snapshot = AgentSnapshot(5, (1.0, 2.0, 3.0, 4.0), (7.0, 8.0), 2)
    peers = {"a": 5, "b": 5, "c": 5, "low": 1}
    shares = [share_for(snapshot, name, peers, offset) for name in ("a", "b", "c")]
    assert sum(s.available for s in shares) == 5
    assert sum(s.reserved for s in shares) == 2
    assert sorted(x for s in shares for x in s.on_call_elapsed_s) == [1.0, 2.0, 3.0, 4.0]
    assert sorted(x for s in shares for x in s.wrap_up_elapsed_s) == [7.0, 8.0]
    assert max(s.available for s in shares) - min(s.available for s in shares) <= 1


# Preview offers ---------------------------------------------------------------------------
def offered(pool: AgentPool, agent_id: str = "ann", at_ms: int = 1_000) -> CallContext:
    placeholder = call(lead=-1, reservation="r1")
    pool.reserve(agent_id, placeholder, at_ms)
    lead = call(lead=9, reservation="r1")
    pool.offer(agent_id, lead, at_ms, timeout_ms=30_000)
    return lead


def test_an_offer_holds_the_agent_reserved_with_the_contact() -> None:
    pool = pool_of("ann")
    lead = offered(pool)
    agent = pool.agents["ann"]
    assert agent.state is AgentState.RESERVED and agent.call == lead
    assert agent.offer == PreviewOffer("ann", 9, 1_000, 30_000)
    restored = Agent.from_record(msgpack.unpackb(msgpack.packb(agent.to_record())))
    assert restored.offer == agent.offer  # a restarted pool keeps the offer and its deadline


def test_an_offer_made_at_the_clocks_zero_is_still_an_offer() -> None:
    # Found by the state machine: 0 once meant "no offer", and a test clock starts at 0.
    pool = pool_of("ann")
    offered(pool, at_ms=0)
    agent = pool.agents["ann"]
    assert agent.offer == PreviewOffer("ann", 9, 0, 30_000)
    restored = Agent.from_record(msgpack.unpackb(msgpack.packb(agent.to_record())))
    assert restored.offer == agent.offer


def test_accepting_keeps_the_agent_reserved_for_the_call_and_ends_the_offer() -> None:
    pool = pool_of("ann")
    offered(pool)
    agent = pool.accept_offer("ann", 20_000)
    assert agent.state is AgentState.RESERVED and agent.offer is None
    # Reserved for the call from the accept: not stale until a call's ring could be over.
    assert agent.state_since_ms == 20_000
    assert pool.stale_reservations(20_000 + 299_999, 300_000) == []
    with pytest.raises(FailedPrecondition):
        pool.accept_offer("ann", 20_000)  # nothing left to accept


def test_an_offer_cannot_be_accepted_once_timed_out_and_is_then_due() -> None:
    pool = pool_of("ann", "bob")
    offered(pool)
    assert pool.due_offers(30_999) == []
    with pytest.raises(FailedPrecondition, match="timed out"):
        pool.accept_offer("ann", 31_000)
    assert [a.id for a in pool.due_offers(31_000)] == ["ann"]


def test_an_agent_deciding_on_an_offer_is_not_a_stale_reservation() -> None:
    pool = pool_of("ann")
    offered(pool)
    assert pool.stale_reservations(10**9, 300_000) == []
    assert pool.unreserve("ann", 5_000, call(lead=9, reservation="r1")).offer is None
