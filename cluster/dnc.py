"""Do-Not-Call lists, stored compactly enough for a national registry.

A number is split into a prefix (all digits but the last four) and a line number (the last four
digits, 0..9999). Each prefix is one Redis SET of integers under the list's hash tag; with
`set-max-intset-entries` >= 10000 (the embedded server sets it) Redis keeps it as an intset of
16-bit integers: about 2 bytes a number plus one key per prefix, instead of ~68 bytes for a set
of strings. Adds, removes and batch checks are single Lua calls, so they run server-side.

The interface (create/add/remove/contains/check/delete) is what callers see; the bucket layout
behind it can change without touching them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import redis
from redis.commands.core import Script

from cluster.batching import batched
from cluster.codec import text
from cluster.errors import InvalidArgument, NotFound
from cluster.ids import new_id
from cluster.keys import DncListKeys, TenantKeys
from cluster.listinfo import ListInfo
from cluster.phone import InvalidPhoneNumber, normalize_e164

LINE_DIGITS = 4
BATCH = 2000

# KEYS: meta, bucket_index, bucket_1..bucket_n    ARGV: prefix_1, line_1, ..., prefix_n, line_n
# Adds each line number to its bucket; returns how many were new and counts them in meta.
ADD_LUA = """
local added = 0
for i = 3, #KEYS do
  local j = (i - 2) * 2
  if redis.call('SADD', KEYS[i], ARGV[j]) == 1 then
    added = added + 1
    redis.call('SADD', KEYS[2], ARGV[j - 1])
  end
end
if added > 0 then redis.call('HINCRBY', KEYS[1], 'count', added) end
return added
"""

# KEYS: meta, bucket_index, bucket_1..bucket_n    ARGV: prefix_1, line_1, ...
REMOVE_LUA = """
local removed = 0
for i = 3, #KEYS do
  local j = (i - 2) * 2
  if redis.call('SREM', KEYS[i], ARGV[j]) == 1 then
    removed = removed + 1
    if redis.call('EXISTS', KEYS[i]) == 0 then redis.call('SREM', KEYS[2], ARGV[j - 1]) end
  end
end
if removed > 0 then redis.call('HINCRBY', KEYS[1], 'count', -removed) end
return removed
"""

# KEYS: bucket_1..bucket_n    ARGV: line_1..line_n    -> array of 0/1
CHECK_LUA = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('SISMEMBER', KEYS[i], ARGV[i]) end
return out
"""


def split_number(e164: str) -> tuple[str, int]:
    """'+12125550100' -> ('1212555', 100)."""
    digits = e164.lstrip("+")
    return digits[:-LINE_DIGITS], int(digits[-LINE_DIGITS:])


@dataclass
class DncAddResult:
    added: int = 0
    already_listed: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """(raw input, reason) for every number that could not be normalised."""


class DncStore:
    def __init__(self, client: redis.Redis, keys: TenantKeys, default_region: str = "US") -> None:
        self.r = client
        self.keys = keys
        self.default_region = default_region
        self._add = client.register_script(ADD_LUA)
        self._remove = client.register_script(REMOVE_LUA)
        self._check = client.register_script(CHECK_LUA)

    # Lists -------------------------------------------------------------------------------
    def create(self, name: str, description: str = "") -> ListInfo:
        name = name.strip()
        if not name:
            raise InvalidArgument([("name", "must not be blank")])
        list_id = new_id("dnc")
        now = time.time()
        k = self.keys.dnc_list(list_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(
            k.meta(), mapping={"name": name, "description": description, "count": 0, "at": now}
        )
        pipe.hset(self.keys.dnc_list_index(), list_id, name)
        pipe.execute()
        return ListInfo(list_id, name, description, 0, now)

    def get(self, list_id: str) -> ListInfo:
        meta = self.r.hgetall(self.keys.dnc_list(list_id).meta())
        if not meta:
            raise NotFound("dnc list", list_id)
        return ListInfo.from_meta(list_id, meta)

    def exists(self, list_id: str) -> bool:
        return bool(self.r.exists(self.keys.dnc_list(list_id).meta()))

    def all(self) -> list[ListInfo]:
        ids = sorted(text(i) for i in self.r.hkeys(self.keys.dnc_list_index()))
        return [self.get(i) for i in ids if self.exists(i)]

    def delete(self, list_id: str) -> None:
        k = self.keys.dnc_list(list_id)
        if not self.exists(list_id):
            raise NotFound("dnc list", list_id)
        # Hide the list first, then remove its buckets in batches (a registry has millions).
        self.r.hdel(self.keys.dnc_list_index(), list_id)
        self.r.delete(k.meta())
        for prefixes in batched(self.r.sscan_iter(k.bucket_index(), count=1000), 1000):
            self.r.unlink(*(k.bucket(text(p)) for p in prefixes))
        self.r.unlink(k.bucket_index())

    # Numbers -----------------------------------------------------------------------------
    def normalize(self, raw: str) -> str:
        return normalize_e164(raw, self.default_region)

    def add(self, list_id: str, numbers: Iterable[str]) -> DncAddResult:
        """Normalise and add numbers; a number that will not parse is reported, not fatal."""
        k = self._require(list_id)
        result = DncAddResult()
        for batch in batched(numbers, BATCH):
            parts = self._split_valid(batch, result.rejected)
            if parts:
                added = int(self._run_pairs(self._add, k, parts))
                result.added += added
                result.already_listed += len(parts) - added
        return result

    def add_e164(self, list_id: str, e164_numbers: Iterable[str]) -> int:
        """Bulk load of numbers already in E.164 (registry files); returns how many were new."""
        k = self._require(list_id)
        added = 0
        for batch in batched(e164_numbers, BATCH):
            added += int(self._run_pairs(self._add, k, [split_number(n) for n in batch]))
        return added

    def remove(self, list_id: str, numbers: Iterable[str]) -> int:
        k = self._require(list_id)
        removed = 0
        for batch in batched(numbers, BATCH):
            parts = self._split_valid(batch, [])
            if parts:
                removed += int(self._run_pairs(self._remove, k, parts))
        return removed

    def contains_e164(self, list_id: str, e164_numbers: Sequence[str]) -> list[bool]:
        """Membership of numbers already normalised; the dial-time check."""
        k = self.keys.dnc_list(list_id)
        out: list[bool] = []
        for batch in batched(e164_numbers, BATCH):
            parts = [split_number(n) for n in batch]
            flags = self._check(keys=[k.bucket(p) for p, _ in parts], args=[x for _, x in parts])
            out.extend(bool(f) for f in flags)
        return out

    def check(self, list_id: str, numbers: Sequence[str]) -> list[tuple[str, str | None, bool]]:
        """(raw, normalised or None if invalid, listed) for each input, in order."""
        self._require(list_id)
        normalised: list[str | None] = []
        for raw in numbers:
            try:
                normalised.append(self.normalize(raw))
            except InvalidPhoneNumber:
                normalised.append(None)
        valid = [n for n in normalised if n is not None]
        flags = iter(self.contains_e164(list_id, valid))
        return [
            (raw, n, next(flags) if n is not None else False)
            for raw, n in zip(numbers, normalised, strict=True)
        ]

    # Internals ---------------------------------------------------------------------------
    def _require(self, list_id: str) -> DncListKeys:
        if not self.exists(list_id):
            raise NotFound("dnc list", list_id)
        return self.keys.dnc_list(list_id)

    def _split_valid(
        self, raws: Sequence[str], rejected: list[tuple[str, str]]
    ) -> list[tuple[str, int]]:
        parts = []
        for raw in raws:
            try:
                parts.append(split_number(self.normalize(raw)))
            except InvalidPhoneNumber as exc:
                rejected.append((raw, str(exc)))
        return parts

    @staticmethod
    def _run_pairs(script: Script, k: DncListKeys, parts: list[tuple[str, int]]) -> int:
        keys = [k.meta(), k.bucket_index(), *(k.bucket(p) for p, _ in parts)]
        args: list[str | int] = []
        for prefix, line in parts:
            args.extend((prefix, line))
        return int(script(keys=keys, args=args))
