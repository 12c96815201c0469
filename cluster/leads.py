"""Lead state of one run instance, kept in Redis and changed only by atomic Lua scripts.

Every seeded lead is in exactly one place:

    ready    ZSET, scored by rank in dialing order: may be dialed now
    waiting  ZSET, scored by epoch ms: may be dialed again from then (retry, callback, window)
    leases   HASH lead -> token, with lease_exp ZSET: a dialer holds it (an attempt is counted)
    final    HASH lead -> outcome: never dialed again in this instance

A lease is the only way to dial a lead, and leasing pops it from ready, so two dialers (on one
node or many) never hold the same lead. The attempt is counted when the lead is leased; if the
lead is then not dialed (DNC, outside its window) the release takes the attempt back. A dialer
that dies leaves its leases to lapse; `reap` returns them to waiting, counted as an attempt of
unknown outcome, no sooner than the retry period (a call may have been placed). Given the run's
attempt-key prefix, `reap` first asks the run's idempotency hash: a lease whose attempt no trunk
ever recorded had no call placed, and cannot have one later (the origination script checks the
lease it is reaping), so its attempt is taken back and the lead may be dialed at once.

Leads are integers: the lead's position across the campaign's contact lists (see runs.py).
Times are epoch milliseconds from the caller's clock, so tests run on a fake clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis

from cluster.keys import RunKeys
from cluster.models import DialingOrder
from cluster.scripts import run_pipelined

# Shared by the scripts below. rank() must agree with lead_rank() in Python.
_RANK_LUA = """
local function rank(lead, order, seed)
  local i = tonumber(lead)
  if order == 'newest_first' then return -i end
  if order == 'random' then
    return tonumber(string.sub(redis.sha1hex(seed .. ':' .. lead), 1, 12), 16)
  end
  return i
end
"""


def _count_lua(index: int = 10) -> str:
    """Shared by the scripts that record outcomes. KEYS[index], when given, is the campaign's
    counters hash (keys.py CampaignKeys.counters): metrics counted in the same step as the
    state change."""
    return f"""
local function count(field)
  if KEYS[{index}] then redis.call('HINCRBY', KEYS[{index}], field, 1) end
end
"""


_COUNT_LUA = _count_lua()

# Shared by the scripts that give a lease back undialed. KEYS[5] is the attempts hash.
_TAKE_BACK_LUA = """
local function take_attempt_back(lead)
  if redis.call('HINCRBY', KEYS[5], lead, -1) <= 0 then redis.call('HDEL', KEYS[5], lead) end
end
"""

# KEYS: ready, waiting, leases, lease_exp, attempts, final, progress, last
# ARGV: now_ms, n, ttl_ms, max_attempts, order, seed, promote_limit, max_leased
# Moves due waiting leads to ready, then leases up to n leads from the head of ready, never
# letting the instance hold more than max_leased leases at once (-1: no cap). The cap is what
# holds campaign-wide pacing when several dialers share a run.
# Returns a flat array: lead, token, attempt, lead, token, attempt, ...
LEASE_LUA = (
    _RANK_LUA
    + """
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[7]))
for _, lead in ipairs(due) do
  redis.call('ZREM', KEYS[2], lead)
  redis.call('ZADD', KEYS[1], rank(lead, ARGV[5], ARGV[6]), lead)
end
local want = tonumber(ARGV[2])
local cap = tonumber(ARGV[8])
if cap >= 0 then want = math.min(want, cap - redis.call('HLEN', KEYS[3])) end
if want <= 0 then return {} end
local popped = redis.call('ZPOPMIN', KEYS[1], want)
local max_attempts = tonumber(ARGV[4])
local expiry = now + tonumber(ARGV[3])
local out = {}
for i = 1, #popped, 2 do
  local lead = popped[i]
  local made = tonumber(redis.call('HGET', KEYS[5], lead) or '0')
  if made >= max_attempts then
    -- max_attempts was lowered while the lead waited: it is done.
    local last = redis.call('HGET', KEYS[8], lead) or 'max_attempts'
    redis.call('HSET', KEYS[6], lead, last)
    redis.call('HINCRBY', KEYS[7], 'completed', 1)
  else
    local token = redis.call('HINCRBY', KEYS[7], 'lease_seq', 1)
    redis.call('HSET', KEYS[5], lead, made + 1)
    redis.call('HSET', KEYS[3], lead, token)
    redis.call('ZADD', KEYS[4], expiry, lead)
    out[#out + 1] = lead
    out[#out + 1] = token
    out[#out + 1] = made + 1
  end
end
return out
"""
)

# KEYS: ready, waiting, leases, lease_exp, attempts, final, progress, last, pending_dispo,
#       idempotency, [counters]
# ARGV: lead, token, kind ('defer' | 'final'), until_ms (defer) or outcome (final),
#       attempt_key ('' : the caller knows no call was placed)
# Gives back a lease on which no call was placed: the attempt is taken back. With an
# attempt_key, refused if that originate is recorded: a caller that cannot know (an agent pool
# settling a stale reservation) gives the lease back only if no call was placed, and then none
# can be, as the origination script checks the lease in the same atomic way.
RELEASE_LUA = (
    _count_lua(11)
    + _TAKE_BACK_LUA
    + """
local lead = ARGV[1]
if redis.call('HGET', KEYS[3], lead) ~= ARGV[2] then return 0 end
if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[10], ARGV[5]) == 1 then return 0 end
redis.call('HDEL', KEYS[3], lead)
redis.call('ZREM', KEYS[4], lead)
redis.call('HDEL', KEYS[9], lead)
take_attempt_back(lead)
if ARGV[3] == 'defer' then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[4]), lead)
else
  redis.call('HSET', KEYS[6], lead, ARGV[4])
  redis.call('HINCRBY', KEYS[7], ARGV[4], 1)
  redis.call('HINCRBY', KEYS[7], 'completed', 1)
  count('skip:' .. ARGV[4])
end
return 1
"""
)

# KEYS: ready, waiting, leases, lease_exp, attempts, final, progress, last, pending_dispo,
#       [counters]
# ARGV: now_ms, lead, token, outcome, mode (0 final | 1 retry | 2 hold), retry_at_ms,
#       max_attempts, min_retry_ms
# Records the outcome of a dialed attempt. Returns 0 stale lease, 1 final, 2 scheduled retry,
# 3 held for an agent's disposition (in waiting with an infinite score: never due, but the
# run is not exhausted until `dispose` settles it).
COMPLETE_LUA = (
    _COUNT_LUA
    + """
local now = tonumber(ARGV[1])
local lead = ARGV[2]
if redis.call('HGET', KEYS[3], lead) ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[3], lead)
redis.call('ZREM', KEYS[4], lead)
redis.call('HINCRBY', KEYS[7], 'dialed', 1)
redis.call('HINCRBY', KEYS[7], ARGV[4], 1)
count('call:' .. ARGV[4])
redis.call('HSET', KEYS[8], lead, ARGV[4])
if ARGV[5] ~= '2' then redis.call('HDEL', KEYS[9], lead) end
if ARGV[5] == '2' then
  local pending = redis.call('HGET', KEYS[9], lead)
  if not pending then
    redis.call('ZADD', KEYS[2], 'inf', lead)
    return 3
  end
  -- The agent's disposition came first: apply it now.
  redis.call('HDEL', KEYS[9], lead)
  local at = tonumber(pending)
  local made = tonumber(redis.call('HGET', KEYS[5], lead) or '0')
  if at >= 0 and made < tonumber(ARGV[7]) then
    redis.call('ZADD', KEYS[2], at, lead)
    return 2
  end
  redis.call('HSET', KEYS[6], lead, ARGV[4])
  redis.call('HINCRBY', KEYS[7], 'completed', 1)
  return 1
end
if ARGV[5] == '1' then
  local made = tonumber(redis.call('HGET', KEYS[5], lead) or '0')
  if made < tonumber(ARGV[7]) then
    local at = math.max(tonumber(ARGV[6]), now + tonumber(ARGV[8]))
    redis.call('ZADD', KEYS[2], at, lead)
    return 2
  end
end
redis.call('HSET', KEYS[6], lead, ARGV[4])
redis.call('HINCRBY', KEYS[7], 'completed', 1)
return 1
"""
)

# KEYS: leases, lease_exp    ARGV: expiry_ms, lead_1, token_1, lead_2, token_2, ...
# Extends leases still held with the given token; returns how many.
RENEW_LUA = """
local renewed = 0
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZADD', KEYS[2], 'XX', tonumber(ARGV[1]), ARGV[i])
    renewed = renewed + 1
  end
end
return renewed
"""

# KEYS: ready, waiting, leases, lease_exp, attempts, final, progress, last, pending_dispo,
#       idempotency, [counters]
# ARGV: now_ms, limit, max_attempts, retry_ms, attempt_prefix ('' : unknown)
# Takes back lapsed leases. An attempt recorded in the idempotency hash (under
# attempt_prefix .. lead .. ':' .. attempt .. ':' .. token, dialing.attempt_key) had a call
# placed: it stands, so the lead waits a full retry period, or is final if it has no attempts
# left. An attempt not recorded there was never placed and never will be (the lease it needed
# is gone): it is taken back and the lead is due at once. With no prefix every attempt stands.
# Returns the leads whose attempt stood.
REAP_LUA = (
    _count_lua(11)
    + _TAKE_BACK_LUA
    + """
local now = tonumber(ARGV[1])
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local counted = {}
for _, lead in ipairs(lapsed) do
  local token = redis.call('HGET', KEYS[3], lead)
  local made = tonumber(redis.call('HGET', KEYS[5], lead) or '0')
  local key = ARGV[5] .. lead .. ':' .. made .. ':' .. tostring(token)
  redis.call('HDEL', KEYS[9], lead)
  redis.call('HDEL', KEYS[3], lead)
  redis.call('ZREM', KEYS[4], lead)
  if ARGV[5] ~= '' and token and redis.call('HEXISTS', KEYS[10], key) == 0 then
    take_attempt_back(lead)
    redis.call('HINCRBY', KEYS[7], 'leases_unplaced', 1)
    redis.call('ZADD', KEYS[2], now, lead)
  else
    counted[#counted + 1] = lead
    redis.call('HINCRBY', KEYS[7], 'dialed', 1)
    redis.call('HINCRBY', KEYS[7], 'lease_expired', 1)
    count('call:lease_expired')
    redis.call('HSET', KEYS[8], lead, 'lease_expired')
    if made < tonumber(ARGV[3]) then
      redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), lead)
    else
      redis.call('HSET', KEYS[6], lead, 'lease_expired')
      redis.call('HINCRBY', KEYS[7], 'completed', 1)
    end
  end
end
return counted
"""
)


# KEYS: ready, waiting, leases, lease_exp, attempts, final, progress, last, pending_dispo
# ARGV: lead, at_ms (-1: final), max_attempts
# Settles a lead held for a disposition: final, or waiting until at_ms if it has attempts left.
# A lead still leased (its call's end not yet recorded) keeps the disposition as pending, and
# `complete(hold)` applies it. Returns 0 if the lead is neither, 1 final, 2 waiting, 3 pending.
DISPOSE_LUA = """
local lead = ARGV[1]
if redis.call('ZSCORE', KEYS[2], lead) ~= 'inf' then
  if redis.call('HEXISTS', KEYS[3], lead) == 1 then
    redis.call('HSET', KEYS[9], lead, ARGV[2])
    return 3
  end
  return 0
end
local at = tonumber(ARGV[2])
local made = tonumber(redis.call('HGET', KEYS[5], lead) or '0')
if at >= 0 and made < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[2], at, lead)
  return 2
end
redis.call('ZREM', KEYS[2], lead)
redis.call('HSET', KEYS[6], lead, redis.call('HGET', KEYS[8], lead) or 'connected')
redis.call('HINCRBY', KEYS[7], 'completed', 1)
return 1
"""


def lead_rank(lead: int, order: DialingOrder, seed: str) -> int:
    """Position of a lead in the ready queue; mirrors rank() in the Lua scripts."""
    if order == DialingOrder.NEWEST_FIRST:
        return -lead
    if order == DialingOrder.RANDOM:
        return int(hashlib.sha1(f"{seed}:{lead}".encode()).hexdigest()[:12], 16)
    return lead


@dataclass(frozen=True)
class Lease:
    lead: int
    token: str
    attempt: int
    """1 for the first attempt on this lead in this run instance."""


@dataclass(frozen=True)
class Completion:
    """A dialed attempt's outcome to record (see LeadState.complete)."""

    now_ms: int
    lease: Lease
    outcome: str
    retry: bool
    max_attempts: int
    min_retry_ms: int
    retry_at_ms: int = 0
    hold: bool = False

    def args(self) -> list[int | str]:
        return [
            self.now_ms,
            self.lease.lead,
            self.lease.token,
            self.outcome,
            2 if self.hold else 1 if self.retry else 0,
            self.retry_at_ms,
            self.max_attempts,
            self.min_retry_ms,
        ]


@dataclass(frozen=True)
class Progress:
    total: int
    dialed: int
    in_progress: int
    ready: int
    waiting: int
    completed: int
    outcomes: dict[str, int]
    leases_unplaced: int = 0
    """Leases that lapsed with no call placed (their dialer died first): taken back, not dialed."""

    @property
    def remaining(self) -> int:
        return self.total - self.completed


class LeadState:
    """Atomic operations on one run instance's leads."""

    def __init__(
        self,
        client: redis.Redis,
        keys: RunKeys,
        order: DialingOrder,
        seed: str = "0",
        counters: str | None = None,
    ) -> None:
        self.r = client
        self.k = keys
        self.order = order
        self.seed = seed
        self.counters = counters
        """The campaign's counters hash (metrics): outcomes are counted there too, in the same
        script, as `call:<outcome>` (dialed), `skip:<outcome>` (final undialed) and
        `seed:<outcome>` (final at seeding). None counts nothing."""
        self._lease = client.register_script(LEASE_LUA)
        self._release = client.register_script(RELEASE_LUA)
        self._complete = client.register_script(COMPLETE_LUA)
        self._renew = client.register_script(RENEW_LUA)
        self._reap = client.register_script(REAP_LUA)
        self._dispose = client.register_script(DISPOSE_LUA)

    @property
    def _keys(self) -> list[str]:
        k = self.k
        return [
            k.ready(),
            k.waiting(),
            k.leases(),
            k.lease_expiry(),
            k.attempts(),
            k.final(),
            k.progress(),
            k.last_outcome(),
            k.pending_dispositions(),
            *([self.counters] if self.counters else []),
        ]

    # Seeding -----------------------------------------------------------------------------
    def seed_leads(self, ready: Sequence[int], final: dict[int, str] | None = None) -> None:
        """Adds leads to a new instance: `ready` to dial, `final` done before dialing (for
        example DNC-blocked at scrub), counted in total and in their outcome."""
        final = final or {}
        pipe = self.r.pipeline(transaction=True)
        if ready:
            pipe.zadd(self.k.ready(), {str(i): lead_rank(i, self.order, self.seed) for i in ready})
        if final:
            pipe.hset(self.k.final(), mapping={str(i): o for i, o in final.items()})
            for outcome, count in _count(final.values()).items():
                pipe.hincrby(self.k.progress(), outcome, count)
                if self.counters:
                    pipe.hincrby(self.counters, f"seed:{outcome}", count)
            pipe.hincrby(self.k.progress(), "completed", len(final))
        pipe.hincrby(self.k.progress(), "total", len(ready) + len(final))
        pipe.execute()

    # Dialing -----------------------------------------------------------------------------
    def lease(
        self,
        now_ms: int,
        n: int,
        ttl_ms: int,
        max_attempts: int,
        promote_limit: int = 1000,
        max_leased: int = -1,
    ) -> list[Lease]:
        if n <= 0:
            return []
        raw = self._lease(
            keys=self._keys,
            args=[
                now_ms, n, ttl_ms, max_attempts, self.order.value, self.seed, promote_limit,
                max_leased,
            ],
        )  # fmt: skip
        return [
            Lease(int(raw[i]), str(int(raw[i + 1])), int(raw[i + 2])) for i in range(0, len(raw), 3)
        ]

    @property
    def _keys_with_idempotency(self) -> list[str]:
        keys = self._keys
        return [*keys[:9], self.k.idempotency(), *keys[9:]]

    def defer(self, lease: Lease, until_ms: int, unless_placed_as: str = "") -> bool:
        """Gives a lease back undialed; the lead waits until `until_ms`, its attempt untaken.

        unless_placed_as: the attempt's originate idempotency key; refused (False) if a call
        was placed under it, and otherwise no call can be placed on the lease after this."""
        args: list[int | str] = [lease.lead, lease.token, "defer", until_ms, unless_placed_as]
        return bool(self._release(keys=self._keys_with_idempotency, args=args))

    def block(self, lease: Lease, outcome: str) -> bool:
        """Gives a lease back undialed and makes the lead final (for example `dnc_blocked`)."""
        args: list[int | str] = [lease.lead, lease.token, "final", outcome, ""]
        return bool(self._release(keys=self._keys_with_idempotency, args=args))

    def complete(
        self,
        now_ms: int,
        lease: Lease,
        outcome: str,
        *,
        retry: bool,
        max_attempts: int,
        min_retry_ms: int,
        retry_at_ms: int = 0,
        hold: bool = False,
    ) -> int:
        """Records a dialed attempt's outcome. With retry, the lead waits until the later of
        retry_at_ms and now + min_retry_ms, or is final when it has no attempts left. With
        hold, it waits for an agent's disposition (see `dispose`).
        Returns 0 if the lease was no longer held (nothing changed), 1 final, 2 retry, 3 held."""
        completion = Completion(
            now_ms, lease, outcome, retry, max_attempts, min_retry_ms, retry_at_ms, hold
        )
        return int(self._complete(keys=self._keys, args=completion.args()))

    def complete_many(self, completions: Iterable[Completion]) -> list[int]:
        """`complete` for several leads in one round trip (a pipeline, each script atomic)."""
        keys = self._keys
        calls = [(keys, c.args()) for c in completions]
        return [int(x) for x in run_pipelined(self.r, self._complete, calls)]

    def renew(self, leases: Iterable[Lease], until_ms: int) -> int:
        args: list[int | str] = [until_ms]
        for lease in leases:
            args.extend((lease.lead, lease.token))
        if len(args) == 1:
            return 0
        return int(self._renew(keys=[self.k.leases(), self.k.lease_expiry()], args=args))

    def reap(
        self,
        now_ms: int,
        max_attempts: int,
        retry_ms: int,
        limit: int = 1000,
        attempt_prefix: str = "",
    ) -> list[int]:
        """Takes back lapsed leases; returns the leads whose attempt counted (`lease_expired`).

        attempt_prefix: the run's originate idempotency keys up to the lead
        (`dialing.attempt_key`); a lapsed attempt without a key had no call and is taken back.
        '' counts every lapsed attempt (for a caller that cannot tell)."""
        keys = self._keys_with_idempotency
        raw = self._reap(keys=keys, args=[now_ms, limit, max_attempts, retry_ms, attempt_prefix])
        return [int(x) for x in raw]

    def dispose(self, lead: int, at_ms: int | None, max_attempts: int) -> int:
        """Settles a lead held for a disposition: final (at_ms None) or dialed again from
        at_ms while it has attempts left. Returns 0 not held, 1 final, 2 waiting, 3 pending
        (the call's end is not recorded yet; it will be applied then)."""
        at = -1 if at_ms is None else at_ms
        return int(self._dispose(keys=self._keys, args=[lead, at, max_attempts]))

    # Reading -----------------------------------------------------------------------------
    def progress(self) -> Progress:
        pipe = self.r.pipeline(transaction=True)
        pipe.hgetall(self.k.progress())
        pipe.hlen(self.k.leases())
        pipe.zcard(self.k.ready())
        pipe.zcard(self.k.waiting())
        counters, leased, ready, waiting = pipe.execute()
        values = {k.decode(): int(v) for k, v in counters.items()}
        values.pop("lease_seq", None)
        return Progress(
            total=values.pop("total", 0),
            dialed=values.pop("dialed", 0),
            in_progress=int(leased),
            ready=int(ready),
            waiting=int(waiting),
            completed=values.pop("completed", 0),
            leases_unplaced=values.pop("leases_unplaced", 0),
            outcomes=values,
        )

    def has_dialable(self, now_ms: int) -> bool:
        """Whether a lease now would find a lead (ready, or waiting and due)."""
        pipe = self.r.pipeline(transaction=False)
        pipe.zcard(self.k.ready())
        pipe.zcount(self.k.waiting(), "-inf", now_ms)
        ready, due = pipe.execute()
        return bool(ready or due)

    def leased_count(self) -> int:
        """Leases held now across every dialer: the run's calls in flight."""
        return int(self.r.hlen(self.k.leases()))

    def exhausted(self) -> bool:
        """True when no lead can ever be dialed again in this instance."""
        p = self.progress()
        return p.ready == 0 and p.waiting == 0 and p.in_progress == 0

    def snapshot(self) -> dict[str, dict[int, str | float]]:
        """Every lead's place (for tests and audits; reads whole structures)."""
        pipe = self.r.pipeline(transaction=True)
        pipe.zrange(self.k.ready(), 0, -1, withscores=True)
        pipe.zrange(self.k.waiting(), 0, -1, withscores=True)
        pipe.hgetall(self.k.leases())
        pipe.hgetall(self.k.final())
        pipe.hgetall(self.k.attempts())
        ready, waiting, leases, final, attempts = pipe.execute()
        return {
            "ready": {int(m): s for m, s in ready},
            "waiting": {int(m): s for m, s in waiting},
            "leases": {int(m): v.decode() for m, v in leases.items()},
            "final": {int(m): v.decode() for m, v in final.items()},
            "attempts": {int(m): int(v) for m, v in attempts.items()},
        }


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out
