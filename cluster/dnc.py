"""Do-Not-Call lists, stored compactly enough for a national registry.

A number is split into a prefix (all digits but the last four) and a line number (the last four
digits, 0..9999). Each prefix is one Redis SET of integers under the list's hash tag; with
`set-max-intset-entries` >= 10000 (the embedded server sets it) Redis keeps it as an intset of
16-bit integers: about 2 bytes a number plus one key per prefix, instead of ~68 bytes for a set
of strings.

Numbers travel to Redis packed: a batch is one string of fixed-width E.164 numbers (one string per
width), sorted so that numbers of one prefix are adjacent, and a Lua script cuts it up server-side
and adds each prefix's run with one SADD of many members. Per-number work in Python is a C-level
sort and join; Python code never loops over single numbers on the bulk paths. The scripts build
bucket key names from the list's key base, which carries the list's hash tag, so every key they
touch is in the list's slot (Redis Cluster safe).

The interface (create/add/remove/contains/check/delete) is what callers see; the bucket layout
behind it can change without touching them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

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
BATCH = 20_000
"""Numbers per Lua call: big enough to amortise the round trip, small enough that one call holds
the server for only a few milliseconds."""
RUN_MAX = 4_000
"""Members per SADD/SREM inside a script (Lua's unpack limit is 8000)."""

# Shared by the scripts below. ARGV: bucket key base, packed numbers, width. `packed` is `width`
# characters per number ("+" and digits), numbers of one prefix adjacent when sorted.
_RUNS_LUA = (
    """
local base, s, w = ARGV[1], ARGV[2], tonumber(ARGV[3])
local call, unpack, sub, tonumber = redis.call, unpack, string.sub, tonumber
local function each_run(fn)
  local cur, lines, k = nil, {}, 0
  for o = 0, #s - w, w do
    local prefix = sub(s, o + 2, o + w - 4)
    if prefix ~= cur or k == RUN_MAX then
      if k > 0 then fn(cur, lines, k) end
      cur, k = prefix, 0
    end
    k = k + 1
    lines[k] = tonumber(sub(s, o + w - 3, o + w))
  end
  if k > 0 then fn(cur, lines, k) end
end
"""
).replace("RUN_MAX", str(RUN_MAX))

# KEYS: meta, bucket_index    ARGV: see _RUNS_LUA
# Adds each run of line numbers to its prefix's bucket; returns how many were new.
ADD_LUA = (
    _RUNS_LUA
    + """
local added = 0
each_run(function(prefix, lines, k)
  local n = call('SADD', base .. prefix, unpack(lines, 1, k))
  if n > 0 then
    added = added + n
    call('SADD', KEYS[2], prefix)
  end
end)
if added > 0 then call('HINCRBY', KEYS[1], 'count', added) end
return added
"""
)

# KEYS: meta, bucket_index    ARGV: see _RUNS_LUA
REMOVE_LUA = (
    _RUNS_LUA
    + """
local removed = 0
each_run(function(prefix, lines, k)
  local n = call('SREM', base .. prefix, unpack(lines, 1, k))
  if n > 0 then
    removed = removed + n
    if call('EXISTS', base .. prefix) == 0 then call('SREM', KEYS[2], prefix) end
  end
end)
if removed > 0 then call('HINCRBY', KEYS[1], 'count', -removed) end
return removed
"""
)

# KEYS: meta (for the hash tag only)    ARGV: see _RUNS_LUA
# Returns one byte per number, in input order: "1" listed, "0" not.
CHECK_LUA = """
local base, s, w = ARGV[1], ARGV[2], tonumber(ARGV[3])
local call, sub, tonumber = redis.call, string.sub, tonumber
local out, n, cur, key = {}, 0, nil, nil
for o = 0, #s - w, w do
  local prefix = sub(s, o + 2, o + w - 4)
  if prefix ~= cur then cur, key = prefix, base .. prefix end
  n = n + 1
  out[n] = call('SISMEMBER', key, tonumber(sub(s, o + w - 3, o + w)))
end
return table.concat(out)
"""

_E164 = re.compile(rf"\+[1-9]\d{{{LINE_DIGITS},14}}")
_ONE = ord("1")
_LISTED = _ONE.__eq__
T = TypeVar("T")
R = TypeVar("R")
MIN_WIDTH, MAX_WIDTH = LINE_DIGITS + 2, 16
"""Characters of an E.164 number as stored: "+", then 5 to 15 digits (at least one before the
line number)."""
_PACKED: dict[int, re.Pattern[str]] = {}


def _packed_pattern(width: int) -> re.Pattern[str]:
    pattern = _PACKED.get(width)
    if pattern is None:
        pattern = _PACKED[width] = re.compile(rf"(?:\+[1-9]\d{{{width - 2}}})*")
    return pattern


def pack_e164(numbers: Sequence[str], *, sort: bool) -> list[tuple[int, str, list[int]]]:
    """Packs E.164 numbers for the scripts: (width, packed string, input positions) per width.

    Nearly every batch has one width (one country), and then the work is a C-level sort, join
    and one regex match over the whole batch. Raises ValueError naming a number that is not
    E.164."""
    widths = set(map(len, numbers))
    if len(widths) == 1:
        (width,) = widths
        batch = sorted(numbers) if sort else numbers
        packed = "".join(batch)
        if MIN_WIDTH <= width <= MAX_WIDTH and _packed_pattern(width).fullmatch(packed):
            return [(width, packed, [])]
    groups: dict[int, list[int]] = {}
    for i, number in enumerate(numbers):
        if not _E164.fullmatch(number):
            raise ValueError(f"not an E.164 number: {number!r}")
        groups.setdefault(len(number), []).append(i)
    out = []
    for width, positions in groups.items():
        if sort:
            positions.sort(key=numbers.__getitem__)
        out.append((width, "".join(numbers[i] for i in positions), positions))
    return out


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
            valid = self._normalize_valid(batch, result.rejected)
            if valid:
                added = self._run(self._add, k, pack_e164(valid, sort=True))
                result.added += added
                result.already_listed += len(valid) - added
        return result

    def add_e164(self, list_id: str, e164_numbers: Iterable[str]) -> int:
        """Bulk load of numbers already in E.164 (registry files); returns how many were new.
        Raises ValueError on a number that is not E.164 (batches before it are kept)."""
        k = self._require(list_id)
        packs = (pack_e164(batch, sort=True) for batch in batched(e164_numbers, BATCH))
        return sum(self._overlapped(packs, lambda p: self._run(self._add, k, p)))

    def remove(self, list_id: str, numbers: Iterable[str]) -> int:
        k = self._require(list_id)
        removed = 0
        for batch in batched(numbers, BATCH):
            valid = self._normalize_valid(batch, [])
            if valid:
                removed += self._run(self._remove, k, pack_e164(valid, sort=True))
        return removed

    def contains_e164(self, list_id: str, e164_numbers: Sequence[str]) -> list[bool]:
        """Membership of numbers already normalised, in order; the dial-time check and the
        scrub. Raises ValueError on a number that is not E.164."""
        k = self.keys.dnc_list(list_id)
        if len(e164_numbers) <= BATCH:
            return self._check_batch(k, e164_numbers) if e164_numbers else []
        batches = (e164_numbers[i : i + BATCH] for i in range(0, len(e164_numbers), BATCH))
        out: list[bool] = []
        for flags in self._overlapped(batches, lambda b: self._check_batch(k, b)):
            out.extend(flags)
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

    def _normalize_valid(self, raws: Sequence[str], rejected: list[tuple[str, str]]) -> list[str]:
        valid = []
        for raw in raws:
            try:
                valid.append(self.normalize(raw))
            except InvalidPhoneNumber as exc:
                rejected.append((raw, str(exc)))
        return valid

    def _run(self, script: Script, k: DncListKeys, packs: list[tuple[int, str, list[int]]]) -> int:
        keys = [k.meta(), k.bucket_index()]
        return sum(int(script(keys=keys, args=[k.bucket(""), s, w])) for w, s, _ in packs)

    def _check_batch(self, k: DncListKeys, numbers: Sequence[str]) -> list[bool]:
        packs = pack_e164(numbers, sort=False)
        if len(packs) == 1 and not packs[0][2]:
            width, packed, _ = packs[0]
            return list(
                map(_LISTED, self._check(keys=[k.meta()], args=[k.bucket(""), packed, width]))
            )
        out = [False] * len(numbers)
        for width, packed, positions in packs:
            flags = self._check(keys=[k.meta()], args=[k.bucket(""), packed, width])
            for i, flag in zip(positions, flags, strict=True):
                out[i] = flag == _ONE
        return out

    @staticmethod
    def _overlapped(items: Iterator[T], call: Callable[[T], R]) -> Iterator[R]:
        """call(item) for each item in order, the Redis call of one item overlapping the
        preparation of the next (Python and the server each keep one core busy)."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dnc") as pool:
            pending = None
            for item in items:
                submitted = pool.submit(call, item)
                if pending is not None:
                    yield pending.result()
                pending = submitted
            if pending is not None:
                yield pending.result()
