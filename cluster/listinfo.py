"""The summary both kinds of list (contact and DNC) keep in their meta hash."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cluster.codec import text


@dataclass(frozen=True)
class ListInfo:
    id: str
    name: str
    description: str
    count: int
    created_at: float

    @classmethod
    def from_meta(cls, list_id: str, meta: Mapping[bytes | str, bytes | str]) -> ListInfo:
        """From the HGETALL of a list's meta hash (bytes keys, as redis-py returns them)."""
        return cls(
            id=list_id,
            name=text(meta[b"name"]),
            description=text(meta.get(b"description", b"")),
            count=int(meta.get(b"count", 0)),
            created_at=float(meta.get(b"at", 0)),
        )
