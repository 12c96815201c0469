"""Ray baselines shared by benchmarks 4 and 5: a bare actor, and timings of what the actors'
hot paths are made of (an actor-to-actor call, a name lookup), taken from inside an actor as
the real ones are."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import ray

from actors.runtime import NAMESPACE


@contextlib.contextmanager
def local_ray() -> Iterator[None]:
    """The Ray already initialised in this process (the test session's), else a local one."""
    started = not ray.is_initialized()
    if started:
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


@ray.remote(num_cpus=0)
class BareActor:
    """An async actor that does nothing: what any actor costs (process, Ray core worker)."""

    async def noop(self) -> None:
        return None

    async def pid(self) -> int:
        return os.getpid()


@ray.remote(num_cpus=0)
class Prober:
    """Times, from inside an actor, the steps the pool, campaign and trunk actors repeat."""

    async def actor_calls(self, target: Any, n: int) -> list[int]:
        """ns per awaited no-op call to another actor (as pool -> campaign -> trunk do)."""
        out = []
        for _ in range(n):
            started = time.perf_counter_ns()
            await target.noop.remote()
            out.append(time.perf_counter_ns() - started)
        return out

    async def lookups(self, name: str, n: int) -> list[int]:
        """ns per ray.get_actor by name (actors.runtime.find_actor)."""
        out = []
        for _ in range(n):
            started = time.perf_counter_ns()
            ray.get_actor(name, namespace=NAMESPACE)
            out.append(time.perf_counter_ns() - started)
        return out


def actor_pid(handle: Any) -> int:
    """The worker pid of any actor, whether or not it has a pid() method."""
    return int(ray.get(handle.__ray_call__.remote(lambda _self: os.getpid())))
