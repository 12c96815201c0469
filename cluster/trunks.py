"""Gateway trunks: their registry in Redis and the limits they enforce."""

from __future__ import annotations

import msgpack
import pydantic
import redis
from pydantic import BaseModel, ConfigDict, Field

from cluster.codec import text
from cluster.errors import AlreadyExists, InvalidArgument, NotFound
from cluster.keys import TenantKeys
from cluster.models import field_violations


class TrunkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    channels: int = Field(ge=0, le=100_000)
    """Maximum simultaneous calls; 0 takes no new calls."""
    cps: float = Field(default=10.0, gt=0, le=10_000)
    """Maximum new calls per second."""
    draining: bool = False
    """A draining trunk finishes its calls but takes no new ones (before removal)."""
    driver: str = "simulated"


class TokenBucket:
    """Calls-per-second limiter on the caller's clock (virtual time in simulation)."""

    def __init__(self, rate_per_s: float, now_ms: int, burst: float | None = None) -> None:
        self.rate = rate_per_s
        self.burst = burst if burst is not None else max(1.0, rate_per_s)
        self.tokens = self.burst
        self.at_ms = now_ms

    def available(self, now_ms: int) -> float:
        """Tokens on hand now (refills as time passes)."""
        elapsed_s = max(0, now_ms - self.at_ms) / 1000
        self.tokens = min(self.burst, self.tokens + elapsed_s * self.rate)
        self.at_ms = max(self.at_ms, now_ms)
        return self.tokens

    def take(self, now_ms: int) -> bool:
        if self.available(now_ms) >= 1:
            self.tokens -= 1
            return True
        return False


class TrunkRegistry:
    def __init__(self, client: redis.Redis, keys: TenantKeys) -> None:
        self.r = client
        self.keys = keys

    def put(self, data: dict[str, object] | TrunkConfig) -> TrunkConfig:
        config = _validate(data)
        self.r.hset(self.keys.trunks(), config.id, msgpack.packb(config.model_dump()))
        return config

    def add(self, data: dict[str, object] | TrunkConfig) -> TrunkConfig:
        """Registers a new trunk; AlreadyExists if the id is taken."""
        config = _validate(data)
        if not self.r.hsetnx(self.keys.trunks(), config.id, msgpack.packb(config.model_dump())):
            raise AlreadyExists("trunk", "id", config.id)
        return config

    def update(self, trunk_id: str, changes: dict[str, object]) -> TrunkConfig:
        """Changes some fields of a registered trunk by compare-and-set, so two concurrent
        changes (scale and drain) cannot lose one another. NotFound if it is not registered."""
        key = self.keys.trunks()
        with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.hget(key, trunk_id)
                    if raw is None:
                        raise NotFound("trunk", trunk_id)
                    current = TrunkConfig.model_validate(msgpack.unpackb(raw))
                    config = _validate({**current.model_dump(), **changes, "id": current.id})
                    pipe.multi()
                    pipe.hset(key, trunk_id, msgpack.packb(config.model_dump()))
                    pipe.execute()
                    return config
                except redis.WatchError:
                    continue

    def get(self, trunk_id: str) -> TrunkConfig:
        raw = self.r.hget(self.keys.trunks(), trunk_id)
        if raw is None:
            raise NotFound("trunk", trunk_id)
        return TrunkConfig.model_validate(msgpack.unpackb(raw))

    def all(self) -> list[TrunkConfig]:
        raw: dict[bytes, bytes] = self.r.hgetall(self.keys.trunks())  # type: ignore[assignment]
        return sorted(
            (TrunkConfig.model_validate(msgpack.unpackb(v)) for v in raw.values()),
            key=lambda t: t.id,
        )

    def remove(self, trunk_id: str) -> None:
        if not self.r.hdel(self.keys.trunks(), trunk_id):
            raise NotFound("trunk", text(trunk_id))
        self.r.delete(self.keys.trunk_calls(trunk_id))


def _validate(data: dict[str, object] | TrunkConfig) -> TrunkConfig:
    try:
        return data if isinstance(data, TrunkConfig) else TrunkConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        raise InvalidArgument(field_violations(exc)) from None
