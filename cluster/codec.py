"""Decoding what redis-py returns (typed as bytes | str) into plain str."""

from __future__ import annotations


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
