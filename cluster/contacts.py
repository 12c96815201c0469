"""Contact lists: create, import from CSV, read, delete.

An import is streamed: CSV text arrives in chunks of any size, rows are parsed, validated and
written to Redis in pipelined batches. Each import writes one *segment* of the list under staging
keys; the segment becomes part of the list only when the whole import has been read, in one
atomic step. A failed or abandoned import therefore leaves the list as it was.

Each contact gets a sequence number (seq) unique in its list; list order is seq order.
"""

from __future__ import annotations

import codecs
import csv
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import msgpack
import pydantic
import redis

from cluster.codec import text
from cluster.errors import InvalidArgument, NotFound
from cluster.ids import new_id
from cluster.keys import ContactListKeys, TenantKeys
from cluster.listinfo import ListInfo
from cluster.models import Contact, field_violations
from cluster.phone import InvalidPhoneNumber, normalize_e164

IMPORT_BATCH = 1000

# KEYS: meta    ARGV: segment_id, first_seq, last_seq, accepted
# Makes a staged segment part of the list and counts its contacts, in one step.
COMMIT_SEGMENT_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'seg:' .. ARGV[1], ARGV[2] .. ':' .. ARGV[3])
redis.call('HINCRBY', KEYS[1], 'count', ARGV[4])
return 1
"""


@dataclass(frozen=True)
class RejectedRow:
    row: int
    """1-based row number in the file, the header being row 1."""
    reason: str
    field: str = "phone"


@dataclass
class ImportReport:
    list_id: str
    rows: int = 0
    accepted: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)


@dataclass(frozen=True)
class Segment:
    id: str
    first_seq: int
    last_seq: int


@dataclass(frozen=True)
class ColumnMap:
    """Which CSV header names hold the known fields; every other column is a custom field."""

    phone: str = "phone"
    id: str = "id"
    name: str = "name"
    timezone: str = "timezone"


class ContactListStore:
    def __init__(self, client: redis.Redis, keys: TenantKeys, default_region: str = "US") -> None:
        self.r = client
        self.keys = keys
        self.default_region = default_region
        self._commit = client.register_script(COMMIT_SEGMENT_LUA)

    # Lists -------------------------------------------------------------------------------
    def create(self, name: str, description: str = "") -> ListInfo:
        name = name.strip()
        if not name:
            raise InvalidArgument([("name", "must not be blank")])
        list_id = new_id("list")
        now = time.time()
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(
            self.keys.contact_list(list_id).meta(),
            mapping={
                "name": name,
                "description": description,
                "count": 0,
                "next_seq": 0,
                "at": now,
            },
        )
        pipe.hset(self.keys.contact_list_index(), list_id, name)
        pipe.execute()
        return ListInfo(list_id, name, description, 0, now)

    def exists(self, list_id: str) -> bool:
        return bool(self.r.exists(self.keys.contact_list(list_id).meta()))

    def get(self, list_id: str) -> ListInfo:
        meta = self.r.hgetall(self.keys.contact_list(list_id).meta())
        if not meta:
            raise NotFound("contact list", list_id)
        return ListInfo.from_meta(list_id, meta)

    def all(self) -> list[ListInfo]:
        ids = sorted(text(i) for i in self.r.hkeys(self.keys.contact_list_index()))
        return [self.get(i) for i in ids if self.exists(i)]

    def delete(self, list_id: str) -> None:
        k = self.keys.contact_list(list_id)
        segments = self.segments(list_id)
        self.r.hdel(self.keys.contact_list_index(), list_id)
        self.r.delete(k.meta())
        for seg in segments:
            s = k.staging(seg.id)
            self.r.unlink(s.contacts(), s.phones())

    def segments(self, list_id: str) -> list[Segment]:
        meta = self.r.hgetall(self.keys.contact_list(list_id).meta())
        if not meta:
            raise NotFound("contact list", list_id)
        out = []
        for raw_key, value in meta.items():
            key = text(raw_key)
            if key.startswith("seg:"):
                first, last = text(value).split(":")
                out.append(Segment(key[4:], int(first), int(last)))
        return sorted(out, key=lambda s: s.first_seq)

    def seq_bound(self, list_id: str) -> int:
        """One past the highest seq ever handed out; every contact's seq is below it."""
        value = self.r.hget(self.keys.contact_list(list_id).meta(), "next_seq")
        if value is None:
            raise NotFound("contact list", list_id)
        return int(value)

    # Reading -----------------------------------------------------------------------------
    def iter_contacts(self, list_id: str, batch: int = 1000) -> Iterator[tuple[int, Contact]]:
        """(seq, contact) in list order."""
        k = self.keys.contact_list(list_id)
        for seg in self.segments(list_id):
            s = k.staging(seg.id)
            for start in range(seg.first_seq, seg.last_seq + 1, batch):
                seqs = list(range(start, min(start + batch, seg.last_seq + 1)))
                for seq, raw in zip(seqs, self.r.hmget(s.contacts(), seqs), strict=True):
                    if raw is not None:
                        yield seq, Contact.from_record(msgpack.unpackb(raw))

    def get_contacts(self, list_id: str, seqs: Sequence[int]) -> list[Contact | None]:
        """Contacts by seq, None where a seq has no contact."""
        k = self.keys.contact_list(list_id)
        segments = self.segments(list_id)
        pipe = self.r.pipeline(transaction=False)
        placed: list[tuple[int, int]] = []  # (segment index, count)
        groups: dict[int, list[int]] = {}
        for i, seq in enumerate(seqs):
            for si, seg in enumerate(segments):
                if seg.first_seq <= seq <= seg.last_seq:
                    groups.setdefault(si, []).append(i)
                    break
        for si, idxs in groups.items():
            pipe.hmget(k.staging(segments[si].id).contacts(), [seqs[i] for i in idxs])
            placed.append((si, len(idxs)))
        out: list[Contact | None] = [None] * len(seqs)
        for (si, _), raws in zip(placed, pipe.execute(), strict=True):
            for i, raw in zip(groups[si], raws, strict=True):
                if raw is not None:
                    out[i] = Contact.from_record(msgpack.unpackb(raw))
        return out

    # Import ------------------------------------------------------------------------------
    def import_csv(
        self,
        list_id: str,
        chunks: Iterable[str | bytes],
        columns: ColumnMap | None = None,
        default_region: str | None = None,
    ) -> ImportReport:
        """Stream CSV chunks into the list. Bad rows are reported and skipped; a failure of the
        import itself (Redis down, bad header) leaves the list untouched."""
        columns = columns or ColumnMap()
        region = default_region or self.default_region
        k = self.keys.contact_list(list_id)
        if not self.exists(list_id):
            raise NotFound("contact list", list_id)
        segment_id = new_id("seg")
        stage = k.staging(segment_id)
        report = ImportReport(list_id)
        rows = csv.reader(_lines(chunks))
        try:
            header = next(rows)
        except StopIteration:
            raise InvalidArgument([("csv", "file is empty: a header row is required")]) from None
        header = [h.strip().lower() for h in header]
        if columns.phone.lower() not in header:
            raise InvalidArgument(
                [("phone_column", f"column {columns.phone!r} not in header {header}")]
            )
        live_segments = self.segments(list_id)
        first_seq: int | None = None
        last_seq = -1
        try:
            batch: list[tuple[int, Contact]] = []
            for row_no, row in enumerate(rows, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                report.rows += 1
                parsed = _parse_row(row_no, row, header, columns, region, segment_id)
                if isinstance(parsed, RejectedRow):
                    report.rejected.append(parsed)
                    continue
                batch.append((row_no, parsed))
                if len(batch) >= IMPORT_BATCH:
                    first_seq, last_seq = self._write_batch(
                        k, stage, live_segments, batch, report, first_seq, last_seq
                    )
                    batch = []
            if batch:
                first_seq, last_seq = self._write_batch(
                    k, stage, live_segments, batch, report, first_seq, last_seq
                )
            committed = first_seq is None or self._commit(
                keys=[k.meta()], args=[segment_id, first_seq, last_seq, report.accepted]
            )
            if not committed:
                raise NotFound("contact list", list_id)  # deleted while importing
        except BaseException:
            self.r.unlink(stage.contacts(), stage.phones())
            raise
        # Counted once the segment is committed (another hash slot, so not in the same step:
        # a crash between the two loses one import's count, never counts one twice).
        pipe = self.r.pipeline(transaction=True)
        pipe.hincrby(self.keys.counters(), "import_rows:accepted", report.accepted)
        pipe.hincrby(self.keys.counters(), "import_rows:rejected", len(report.rejected))
        pipe.hincrby(self.keys.counters(), "imports", 1)
        pipe.execute()
        return report

    def _write_batch(
        self,
        k: ContactListKeys,
        stage: ContactListKeys,
        live_segments: list[Segment],
        batch: list[tuple[int, Contact]],
        report: ImportReport,
        first_seq: int | None,
        last_seq: int,
    ) -> tuple[int | None, int]:
        phones = [c.phone for _, c in batch]
        pipe = self.r.pipeline(transaction=False)
        pipe.hmget(stage.phones(), phones)
        for seg in live_segments:
            pipe.hmget(k.staging(seg.id).phones(), phones)
        found = pipe.execute()
        taken = {
            p for hits in found for p, hit in zip(phones, hits, strict=True) if hit is not None
        }
        fresh: list[Contact] = []
        for row_no, contact in batch:
            if contact.phone in taken:
                report.rejected.append(RejectedRow(row_no, f"duplicate phone {contact.phone}"))
                continue
            taken.add(contact.phone)
            fresh.append(contact)
        if not fresh:
            return first_seq, last_seq
        end = int(self.r.hincrby(k.meta(), "next_seq", len(fresh)))
        start = end - len(fresh)
        first_seq = start if first_seq is None else first_seq
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(
            stage.contacts(),
            mapping={start + i: msgpack.packb(c.to_record()) for i, c in enumerate(fresh)},
        )
        pipe.hset(stage.phones(), mapping={c.phone: start + i for i, c in enumerate(fresh)})
        pipe.execute()
        report.accepted += len(fresh)
        return first_seq, end - 1


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r(?!\Z)|\n)")
"""One line with its end, as csv knows them (\n, \r\n, \r). A \r that ends the text so far
is held back: the next chunk may start with the \n of a CRLF."""


def _lines(chunks: Iterable[str | bytes]) -> Iterator[str]:
    """Re-cut chunks of any size into lines (keeping line ends, as csv wants). Byte chunks
    may split a UTF-8 character: they are decoded incrementally."""
    pending = ""
    decoder = codecs.getincrementaldecoder("utf-8")()
    first = True
    for chunk in chunks:
        text = decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        if first and text:
            first = False
            text = text.removeprefix("\ufeff")
        pending += text
        end = 0
        for line in _LINE.finditer(pending):
            yield line.group()
            end = line.end()
        pending = pending[end:]
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _parse_row(
    row_no: int,
    row: list[str],
    header: list[str],
    columns: ColumnMap,
    region: str,
    segment_id: str,
) -> Contact | RejectedRow:
    if len(row) != len(header):
        return RejectedRow(row_no, f"expected {len(header)} columns, got {len(row)}", "row")
    values = {h: cell.strip() for h, cell in zip(header, row, strict=True)}
    raw_phone = values.pop(columns.phone.lower(), "")
    if not raw_phone:
        return RejectedRow(row_no, "missing phone")
    try:
        phone = normalize_e164(raw_phone, region)
    except InvalidPhoneNumber as exc:
        return RejectedRow(row_no, f"invalid number: {exc}")
    # Without an id column, the row's place in this import names the contact.
    contact_id = values.pop(columns.id.lower(), "") or f"{segment_id}:{row_no}"
    name = values.pop(columns.name.lower(), "") or None
    tz = values.pop(columns.timezone.lower(), "") or None
    try:
        return Contact(id=contact_id, phone=phone, name=name, timezone=tz, fields=values)
    except pydantic.ValidationError as exc:
        field, why = field_violations(exc)[0]
        return RejectedRow(row_no, f"invalid {field}: {why}", field)
