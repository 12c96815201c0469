"""Do-Not-Call lists, stored compactly enough for a national registry.

A number is split into a prefix (all digits but the last four) and a line number (the last four
digits, 0..9999). Each prefix is one Redis SET of integers under the list's hash tag; with
`set-max-intset-entries` >= 10000 (the embedded server sets it) Redis keeps it as an intset of
16-bit integers: about 2 bytes a number plus one key per prefix, instead of ~68 bytes for a set
of strings.

Numbers travel to Redis grouped by prefix, and Redis does the per-number work in C. A window of
numbers (up to WINDOW) is parsed and sorted with numpy, then cut into batches of up to BATCH:
  - adds and removes: one Lua call a batch, given one string of line numbers (each
    NUL-terminated), the groups' prefixes (likewise) and each group's size (uint16). The script
    cuts each group's lines out with `struct.unpack` and makes one SADD or SREM of the whole
    group, and keeps the list's count in the same atomic step: Lua runs once per prefix in the
    batch, never once per number.
  - checks: one SMISMEMBER a group, pipelined, the commands laid out in the wire protocol with
    numpy and the replies parsed by hiredis. A check only reads, so it needs no script, and
    passing every line number through Lua would cost the server several times what
    SMISMEMBER itself does.
Python code never loops over single numbers on the bulk paths. Bucket key names are built from
the list's key base, which carries the list's hash tag, so every key a batch touches is in the
list's slot (Redis Cluster safe).

The interface (create/add/remove/contains/check/delete) is what callers see; the bucket layout
behind it can change without touching them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import TypeVar, cast

import numpy as np
import numpy.typing as npt
import redis
from redis._parsers.hiredis import NOT_ENOUGH_DATA
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
"""Numbers per script call or pipeline: big enough to amortise the round trip, small enough that
one call holds the server for only a few milliseconds."""
GROUPS = 1_000
"""Prefix groups per batch at most: numbers that each fall in a prefix of their own make one
command apiece, and smaller batches of them let the Redis threads overlap one batch's commands
being laid out and read with another's being answered."""
WINDOW = 250_000
"""Numbers parsed and sorted together before they are cut into batches: the wider the window,
the more numbers of one prefix share a group (one command) when the input is not sorted already;
the narrower, the sooner the server starts and the shorter the stretches that Python holds the
GIL from the Redis thread."""
RUN_MAX = 4_000
"""Members per SADD/SREM inside a script (struct.unpack and Lua's unpack stop near 8000
values)."""
WORKERS = 2
"""Threads (each with its own connection) sending the batches: while one waits for its reply or
for the GIL, the other's batch is already queued at the server, so the server does not idle
between batches. The batches of one operation commute (all adds, all removes or all checks)."""
IN_FLIGHT = 64
"""Batches handed to the Redis threads ahead of the one being answered, so that preparing the
next window overlaps the server working through this one."""

# Shared by the scripts below. ARGV: bucket key base, lines, prefixes, counts. A batch arrives
# grouped by prefix: `lines` holds each number's line number (decimal, NUL-terminated), group
# after group; `prefixes` each group's prefix (NUL-terminated); `counts` each group's size
# (uint16, little-endian). Lua runs per group, not per number: struct.unpack cuts a group's lines
# out in C and one command takes them all.
_GROUPS_LUA = (
    """
local base, lines, prefixes, counts = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local call, unpack, sunpack, rep = redis.call, unpack, struct.unpack, string.rep
local formats = {}
local function each_group(fn)
  local at, prefix_at, prefix = 1, 1, nil
  for g = 1, #counts / 2 do
    local left = sunpack('<H', counts, 2 * g - 1)
    prefix, prefix_at = sunpack('s', prefixes, prefix_at)
    local key = base .. prefix
    while left > 0 do
      local k = left < RUN_MAX and left or RUN_MAX
      local format = formats[k]
      if not format then
        format = rep('s', k)
        formats[k] = format
      end
      local group = {sunpack(format, lines, at)}
      at = group[k + 1]
      group[k + 1] = nil
      fn(prefix, key, group, k)
      left = left - k
    end
  end
end
"""
).replace("RUN_MAX", str(RUN_MAX))

# KEYS: meta, bucket_index    ARGV: see _GROUPS_LUA
# Adds each group to its prefix's bucket; returns how many numbers were new.
ADD_LUA = (
    _GROUPS_LUA
    + """
local added = 0
each_group(function(prefix, key, group, k)
  local n = call('SADD', key, unpack(group, 1, k))
  if n > 0 then
    added = added + n
    call('SADD', KEYS[2], prefix)
  end
end)
if added > 0 then call('HINCRBY', KEYS[1], 'count', added) end
return added
"""
)

# KEYS: meta, bucket_index    ARGV: see _GROUPS_LUA
REMOVE_LUA = (
    _GROUPS_LUA
    + """
local removed = 0
each_group(function(prefix, key, group, k)
  local n = call('SREM', key, unpack(group, 1, k))
  if n > 0 then
    removed = removed + n
    if call('EXISTS', key) == 0 then call('SREM', KEYS[2], prefix) end
  end
end)
if removed > 0 then call('HINCRBY', KEYS[1], 'count', -removed) end
return removed
"""
)

_E164 = re.compile(rf"\+[1-9]\d{{{LINE_DIGITS},14}}", re.ASCII)
T = TypeVar("T")
R = TypeVar("R")
MIN_WIDTH, MAX_WIDTH = LINE_DIGITS + 2, 16
"""Characters of an E.164 number as stored: "+", then 5 to 15 digits (at least one before the
line number)."""
_DIGITS = MAX_WIDTH - 1
_NEWLINE, _PLUS, _ZERO, _NINE = b"\n+09"
_LINE_SPLIT = 10**LINE_DIGITS
_NO_BYTE = 0xFF
Values = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Encoding:
    """A byte string for every line number (0..9999), to lay out a batch's lines in C."""

    table: npt.NDArray[np.uint8]
    """Row i: line i's bytes, padded with _NO_BYTE."""
    lengths: Values

    @classmethod
    def of(cls, texts: list[bytes]) -> _Encoding:
        table = np.full((len(texts), max(map(len, texts))), _NO_BYTE, dtype=np.uint8)
        for i, t in enumerate(texts):
            table[i, : len(t)] = np.frombuffer(t, dtype=np.uint8)
        return cls(table, np.array(list(map(len, texts)), dtype=np.int64))

    def join(self, lines: Values) -> bytes:
        rows = self.table[lines]
        return rows[rows != _NO_BYTE].tobytes()


_LINES = range(_LINE_SPLIT)
_NUL_TERMINATED = _Encoding.of([b"%d\0" % line for line in _LINES])
_RESP_BULK = _Encoding.of([b"$%d\r\n%d\r\n" % (len(str(line)), line) for line in _LINES])


def parse_e164(numbers: Sequence[str]) -> Values:
    """The digits of each E.164 number as one int64 (its width follows from the value, as the
    first digit is not 0), from C-level passes over the joined numbers. Raises ValueError
    naming a number that is not E.164."""
    count = len(numbers)
    joined = "\n".join(numbers)
    if count and joined.isascii() and joined.count("\n") == count - 1:
        raw = np.frombuffer(joined.encode() + b"\n", dtype=np.uint8)
        ends = np.flatnonzero(raw == _NEWLINE)
        widths = np.diff(ends, prepend=-1) - 1
        starts = ends - widths
        first = raw[np.minimum(starts + 1, ends)]
        if (
            widths.min() >= MIN_WIDTH
            and widths.max() <= MAX_WIDTH
            and bool((raw[starts] == _PLUS).all())
            and np.count_nonzero(raw == _PLUS) == count
            and bool(((first > _ZERO) & (first <= _NINE)).all())
            and bool((((raw >= _ZERO) & (raw <= _NINE)) | (raw == _PLUS) | (raw == _NEWLINE)).all())
        ):
            return _digits_value(raw, ends, widths)
    if not count:
        return np.empty(0, dtype=np.int64)
    bad = next((n for n in numbers if not _E164.fullmatch(n)), None)
    raise ValueError(f"not an E.164 number: {bad!r}")


def _digits_value(raw: npt.NDArray[np.uint8], ends: Values, widths: Values) -> Values:
    """Horner's rule over the digits of well-formed numbers, one column at a time."""
    values: Values = np.zeros(len(ends), dtype=np.int64)
    width = int(widths[0])
    if widths.min() == widths.max():  # one country's list: a plain matrix, no masks
        table = raw.reshape(len(ends), width + 1)
        for column in range(1, width):  # the character codes; "0" taken off all at once
            values *= 10
            values += table[:, column]
        values -= _ZERO * ((10 ** (width - 1) - 1) // 9)
        return values
    for back in range(_DIGITS, 0, -1):  # the digit `back` places before each end, if any
        digit = raw[np.maximum(ends - back, 0)].astype(np.int64) - _ZERO
        values = np.where(widths > back, values * 10 + digit, values)
    return values


@dataclass(frozen=True)
class Batch:
    """Up to BATCH numbers of one window in sorted order, grouped by prefix."""

    prefixes: list[int]
    """Each group's prefix (the number's digits but the last four)."""
    bounds: list[int]
    """Group g is lines[bounds[g]:bounds[g + 1]]."""
    lines: Values
    positions: npt.NDArray[np.intp]
    """Where each number (in the batch's order) stands in the caller's input."""

    @classmethod
    def of(cls, values: Values, positions: npt.NDArray[np.intp]) -> Batch:
        """`values` sorted."""
        prefixes, lines = np.divmod(values, _LINE_SPLIT)
        starts = np.flatnonzero(np.diff(prefixes, prepend=-1))
        return cls(prefixes[starts].tolist(), [*starts.tolist(), len(values)], lines, positions)

    def script_args(self, base: str) -> list[str | bytes]:
        """ARGV of the add and remove scripts (see _GROUPS_LUA)."""
        return [
            base,
            _NUL_TERMINATED.join(self.lines),
            ("\0".join(map(str, self.prefixes)) + "\0").encode(),
            np.diff(self.bounds).astype("<u2").tobytes(),
        ]

    def smismember(self, base: str) -> bytes:
        """One SMISMEMBER per group, pipelined, in the wire protocol (RESP)."""
        key = base.encode()
        head = b"*%d\r\n$10\r\nSMISMEMBER\r\n$%d\r\n" + key + b"%s\r\n"
        prefixes = [str(p).encode() for p in self.prefixes]
        heads = map(
            head.__mod__,
            zip(
                [n + 2 for n in np.diff(self.bounds).tolist()],
                [len(key) + len(p) for p in prefixes],
                prefixes,
                strict=True,
            ),
        )
        body = _RESP_BULK.join(self.lines)
        ends = np.cumsum(_RESP_BULK.lengths[self.lines])[np.asarray(self.bounds[1:]) - 1].tolist()
        parts: list[bytes] = [b""] * (2 * len(prefixes))
        parts[::2] = heads
        parts[1::2] = map(body.__getitem__, map(slice, [0, *ends[:-1]], ends))
        return b"".join(parts)


def batches(numbers: Iterable[str]) -> Iterator[Batch]:
    """Batches of E.164 numbers, each window of WINDOW sorted so a prefix's numbers share a
    group. Raises ValueError naming a number that is not E.164 (batches of earlier windows
    have been yielded)."""
    it = iter(numbers)
    offset = 0
    while window := list(islice(it, WINDOW)):
        values = parse_e164(window)
        order = np.argsort(values)
        values = values[order]
        order += offset
        starts = np.flatnonzero(np.diff(values // _LINE_SPLIT, prepend=-1))
        begin = 0
        while begin < len(values):
            end = min(begin + BATCH, len(values))
            group = int(np.searchsorted(starts, begin, side="right")) - 1
            if group + GROUPS < len(starts):
                end = min(end, int(starts[group + GROUPS]))
            yield Batch.of(values[begin:end], order[begin:end])
            begin = end
        offset += len(window)


def _read_replies(conn: redis.Connection, count: int) -> list[list[int]]:
    """`count` replies from `conn`. redis-py spends about 5 us of Python on each reply, which a
    check of numbers in as many prefixes pays per number; so once the first reply is in, the
    rest are taken straight from hiredis' reader while it holds whole ones, and from
    read_response() (which reads the socket) when it does not. Without hiredis, or if redis-py
    lays its parser out otherwise, every reply goes through read_response()."""
    replies = [conn.read_response()]
    reader = getattr(getattr(conn, "_parser", None), "_reader", None)
    while len(replies) < count:
        reply = reader.gets() if reader is not None else NOT_ENOUGH_DATA
        if reply is NOT_ENOUGH_DATA:
            reply = conn.read_response()
        elif isinstance(reply, Exception):  # an error reply, as read_response() would raise it
            raise reply
        replies.append(reply)
    return replies


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
            added = self._apply(self._add, k, valid)
            result.added += added
            result.already_listed += len(valid) - added
        return result

    def add_e164(self, list_id: str, e164_numbers: Iterable[str]) -> int:
        """Bulk load of numbers already in E.164 (registry files); returns how many were new.
        Raises ValueError on a number that is not E.164 (windows before it are kept)."""
        return self._apply(self._add, self._require(list_id), e164_numbers)

    def remove(self, list_id: str, numbers: Iterable[str]) -> int:
        k = self._require(list_id)
        removed = 0
        for batch in batched(numbers, BATCH):
            removed += self._apply(self._remove, k, self._normalize_valid(batch, []))
        return removed

    def contains_e164(self, list_id: str, e164_numbers: Sequence[str]) -> list[bool]:
        """Membership of numbers already normalised, in order; the dial-time check and the
        scrub. Raises ValueError on a number that is not E.164."""
        k = self.keys.dnc_list(list_id)
        listed = np.zeros(len(e164_numbers), dtype=bool)

        def check(batch: Batch) -> None:
            replies = self._pipelined(batch.smismember(k.bucket("")), len(batch.prefixes))
            listed[batch.positions] = np.fromiter(
                chain.from_iterable(replies), bool, len(batch.lines)
            )

        for _ in self._overlapped(batches(e164_numbers), check):
            pass
        return cast(list[bool], listed.tolist())

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

    def _apply(self, script: Script, k: DncListKeys, numbers: Iterable[str]) -> int:
        """Runs an add or remove script over the numbers' batches; the sum of its answers."""
        keys, base = [k.meta(), k.bucket_index()], k.bucket("")
        return sum(
            self._overlapped(
                batches(numbers), lambda b: int(script(keys=keys, args=b.script_args(base)))
            )
        )

    def _pipelined(self, commands: bytes, count: int) -> list[list[int]]:
        """Sends commands already in the wire protocol and reads their `count` replies (parsed by
        hiredis, in C). Once more on a dropped connection: they only read."""
        pool = self.r.connection_pool
        for attempt in range(2):
            conn = pool.get_connection()
            try:
                conn.send_packed_command([commands])
                return _read_replies(conn, count)
            except (redis.ConnectionError, redis.TimeoutError):
                conn.disconnect()
                if attempt:
                    raise
            except BaseException:
                conn.disconnect()  # replies may be left unread on it
                raise
            finally:
                pool.release(conn)
        raise AssertionError("unreachable")

    @staticmethod
    def _overlapped(items: Iterator[T], call: Callable[[T], R]) -> Iterator[R]:
        """call(item) for each item, answers in order, on WORKERS Redis threads up to IN_FLIGHT
        items ahead of the caller: preparing the next items (Python) overlaps the server working
        on earlier ones (each keeps one core busy)."""
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="dnc") as pool:
            pending: list[Future[R]] = []
            for item in items:
                pending.append(pool.submit(call, item))
                if len(pending) > IN_FLIGHT:
                    yield pending.pop(0).result()
            for future in pending:
                yield future.result()
