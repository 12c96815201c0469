"""Recording a call a trunk is about to place: one Lua call, one round trip.

In one atomic step on the run's keys (all under the campaign's hash tag): an originate already
recorded under its idempotency key is answered as a duplicate, whatever else holds (a retried
request must never dial twice, even when the trunk is now full); a refusal the trunk decided
(too late, no capacity, over CPS) is returned as is; a lease no longer held with the request's
token is `lease_lost` (it lapsed while the request was in flight and may be someone else's
now); otherwise the lease is renewed, the idempotency key claimed, the call record written and
counted. The trunk dials only on `placed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
import redis

from cluster.codec import text
from cluster.keys import RunKeys
from cluster.scripts import run_pipelined

# KEYS: idempotency, leases, lease_exp, calls, counters
# ARGV: idempotency_key, refusal, lead, token, lease_until_ms, call_id, record, originated_field,
#       now_ms
ORIGINATE_LUA = """
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  return {'duplicate', existing}
end
if ARGV[2] ~= '' then
  return {ARGV[2], ''}
end
if redis.call('HGET', KEYS[2], ARGV[3]) ~= ARGV[4] then
  return {'lease_lost', ''}
end
redis.call('ZADD', KEYS[3], 'XX', tonumber(ARGV[5]), ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[6])
redis.call('HSET', KEYS[4], ARGV[6], ARGV[7])
redis.call('HINCRBY', KEYS[5], ARGV[8], 1)
redis.call('HSET', KEYS[5], 'last_originated_ms', ARGV[9])
return {'placed', ARGV[6]}
"""


@dataclass(frozen=True)
class Origination:
    result: str
    """placed, duplicate, lease_lost, or the refusal passed in."""
    call_id: str
    """The new call's id when placed; the first call's id when a duplicate."""


@dataclass(frozen=True)
class OriginationRequest:
    run: RunKeys
    counters_key: str
    idempotency_key: str
    refusal: str
    """Why the trunk will not place it ('' if it will); answered after a duplicate check."""
    lead: int
    token: str
    lease_until_ms: int
    call_id: str
    record: dict[str, object]
    originated_field: str
    now_ms: int


class Originations:
    def __init__(self, client: redis.Redis) -> None:
        self.r = client
        self._script = client.register_script(ORIGINATE_LUA)

    def record_many(self, requests: list[OriginationRequest]) -> list[Origination]:
        """One round trip for a batch (a pipeline; each script atomic), answered in order."""
        calls = [
            (
                [
                    q.run.idempotency(),
                    q.run.leases(),
                    q.run.lease_expiry(),
                    q.run.calls(),
                    q.counters_key,
                ],
                [
                    q.idempotency_key,
                    q.refusal,
                    q.lead,
                    q.token,
                    q.lease_until_ms,
                    q.call_id,
                    msgpack.packb(q.record),
                    q.originated_field,
                    q.now_ms,
                ],
            )
            for q in requests
        ]
        replies = run_pipelined(self.r, self._script, calls)
        return [Origination(text(result), text(call_id)) for result, call_id in replies]
