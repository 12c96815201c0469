"""What every actor is built from, and how actors find each other by name."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import ray

from cluster import logs
from cluster.clock import Clock, ScaledClock, SystemClock
from cluster.pacing import PredictiveSettings
from cluster.state import DialerState, connect
from cluster.telephony import CarrierProfile

NAMESPACE = "dialer"


@dataclass(frozen=True)
class RuntimeConfig:
    """Passed to every actor at creation; Ray passes it again when it restarts one."""

    redis_url: str
    prefix: str = "dialer"
    tenant: str = "default"
    default_region: str = "US"
    time_scale: float = 1.0
    """Virtual seconds per real second; 1 in production. Tests and demos run faster."""
    clock_origin_real_s: float | None = None
    clock_origin_virtual_ms: int | None = None
    carrier: CarrierProfile = field(default_factory=CarrierProfile)
    lease_ttl_s: float = 600.0
    """Virtual seconds a lease lives without renewal; trunks renew leases of live calls."""
    tick_s: float = 0.05
    """Real seconds between passes of each actor's loop."""
    wrap_up_timeout_s: float = 120.0
    schedule_every_s: float = 1.0
    """Real seconds between the controller's scheduling passes (how late an occurrence may
    start); the dialer ends its own occurrence to the tick."""
    clock_skips: tuple[tuple[int, int], ...] = ()
    """Virtual time jumps (at_ms, skip_ms), see ScaledClock: demos and tests skip idle nights."""
    trace_latency: bool = False
    """Benchmarks only: pools remember when each agent became available and trunks add a
    wall-clock `start_ns` to each call record, both from time.time_ns() (the ms clock is too
    coarse for a 10 ms objective). Off in production: the pool's trace grows with every call."""
    predictive: PredictiveSettings = field(default_factory=PredictiveSettings)
    """The predictive model's tunables (tests shorten its cold start)."""
    log_level: str = "INFO"
    """DIALER_LOG_LEVEL for the actors (passed here: worker nodes do not share our env)."""
    log_phone_numbers: bool = False
    """DIALER_LOG_PHONE_NUMBERS: phone numbers in log lines at INFO and above."""

    def configure_logging(self) -> None:
        """JSON logs in this (actor) process, at the configured level."""
        logs.configure(self.log_level, self.log_phone_numbers)

    def clock(self) -> Clock:
        if self.time_scale == 1.0 and self.clock_origin_real_s is None and not self.clock_skips:
            return SystemClock()
        return ScaledClock(
            self.time_scale,
            self.clock_origin_virtual_ms,
            self.clock_origin_real_s,
            self.clock_skips,
        )

    def state(self) -> DialerState:
        return DialerState(
            connect(self.redis_url),
            prefix=self.prefix,
            tenant=self.tenant,
            default_region=self.default_region,
            clock=self.clock(),
        )

    def actor_name(self, kind: str, ident: str) -> str:
        return f"{self.prefix}:{self.tenant}:{kind}:{ident}"


def campaign_actor_name(cfg: RuntimeConfig, campaign_id: str, replica: int = 0) -> str:
    return cfg.actor_name("campaign", f"{campaign_id}#{replica}")


def pool_actor_name(cfg: RuntimeConfig, queue_id: str) -> str:
    return cfg.actor_name("pool", queue_id)


def trunk_actor_name(cfg: RuntimeConfig, trunk_id: str) -> str:
    return cfg.actor_name("trunk", trunk_id)


def controller_name(cfg: RuntimeConfig) -> str:
    return cfg.actor_name("controller", "main")


def find_actor(name: str) -> Any | None:
    try:
        return ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        return None


class HandleCache:
    """Named actors' handles, each looked up again after `ttl_s` (a lookup is a blocking GCS
    round trip; a dialer wants its pool per event and per tick). An actor restarted by Ray
    keeps its handle; one stopped and created again gets a new one, found within `ttl_s`, or
    at once after `forget` (a caller that saw the old one fail)."""

    def __init__(self, ttl_s: float = 1.0) -> None:
        self.ttl_s = ttl_s
        self._found: dict[str, tuple[float, Any]] = {}

    def get(self, name: str) -> Any | None:
        now = time.monotonic()
        found = self._found.get(name)
        if found is not None and now - found[0] < self.ttl_s:
            return found[1]
        handle = find_actor(name)
        if handle is None:
            self._found.pop(name, None)
        else:
            self._found[name] = (now, handle)
        return handle

    def forget(self, name: str) -> None:
        self._found.pop(name, None)


# Actors are IO-bound: they ask for no CPU so a small node holds many of them. They restart
# forever and retry calls, which is safe because every call is idempotent against Redis.
ACTOR_OPTIONS: dict[str, Any] = {
    "num_cpus": 0,
    "max_restarts": -1,
    "max_task_retries": -1,
    "namespace": NAMESPACE,
    "lifetime": "detached",
    "get_if_exists": True,
}


async def call_reliably(method: Any, *args: Any, timeout_s: float = 60.0) -> Any:
    """Awaits an actor method, retrying while the actor restarts (RayActorError).

    Ray retries a task whose actor dies mid-task, but a call submitted while the actor is
    restarting can still fail with ActorUnavailableError; losing such a call would lose a
    call event or an agent's state change. Only idempotent methods are called this way.
    """
    delay_s = 0.05
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await method.remote(*args)
        except ray.exceptions.RayActorError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 1.0)
