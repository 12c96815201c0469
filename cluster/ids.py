"""Resource ids: short, random, URL-safe, with a type prefix so a misplaced id is obvious."""

from __future__ import annotations

import secrets


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(6)}"
