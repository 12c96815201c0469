"""List paging (AIP-158): an opaque page token that names the last item of the previous page.

Items are listed in a stable order (by id), so a page token stays valid while items are added
or removed: the next page starts after the last id the client saw.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

from cluster.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_VERSION = "v1:"

T = TypeVar("T")


def encode_token(last_key: str) -> str:
    return base64.urlsafe_b64encode((_VERSION + last_key).encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raw = ""
    if not raw.startswith(_VERSION):
        raise InvalidArgument([("page_token", "is not a token this server issued")])
    return raw[len(_VERSION) :]


def page(
    items: Sequence[T], key: Callable[[T], str], page_size: int, page_token: str
) -> tuple[list[T], str]:
    """One page of `items` (in key order) and the token of the next page ("" on the last)."""
    if page_size < 0:
        raise InvalidArgument([("page_size", "must not be negative")])
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    ordered = sorted(items, key=key)
    if page_token:
        after = decode_token(page_token)
        ordered = [i for i in ordered if key(i) > after]
    chunk = ordered[:size]
    more = len(ordered) > size
    return chunk, encode_token(key(chunk[-1])) if more and chunk else ""
