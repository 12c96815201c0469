"""The pool's latency trace (RuntimeConfig.trace_latency, for benchmark 4): one entry per move
to available, none when off."""

from __future__ import annotations

import uuid

from actors.pool import PoolDispatcher
from actors.runtime import RuntimeConfig


def dispatcher(redis_url: str, key_prefix: str, trace: bool) -> PoolDispatcher:
    cfg = RuntimeConfig(redis_url=redis_url, prefix=key_prefix, trace_latency=trace)
    return PoolDispatcher(cfg, f"q-{uuid.uuid4().hex[:6]}")


def test_each_move_to_available_is_traced_once(redis_url: str, key_prefix: str) -> None:
    pool = dispatcher(redis_url, key_prefix, trace=True)
    pool.login("ann")
    pool.set_available("ann", True)  # already available: not a move
    pool.login("bob")
    pool.set_available("ann", False)
    pool.set_available("ann", True)
    agents = [agent for agent, _ in pool.available_trace]
    assert agents == ["ann", "bob", "ann"]
    times = [at_ns for _, at_ns in pool.available_trace]
    assert times == sorted(times)


def test_nothing_is_traced_when_off(redis_url: str, key_prefix: str) -> None:
    pool = dispatcher(redis_url, key_prefix, trace=False)
    pool.login("ann")
    assert pool.available_trace == []
