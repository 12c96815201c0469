"""Who took a paced call's live answer: an agent, or nobody (abandoned).

Predictive and power calls are placed for no agent in particular. Three actors may settle a
live answer: the pool connecting an agent, the dialer abandoning the call when the pool found
none within the grace, and the trunk abandoning it itself when nobody has decided by then (its
dialer died). Each claims the answer once, in the run's `connects` hash (HSETNX), and acts only
if its claim won, so a call is never both connected and given the safe-harbor message, and
whoever looks later (a restarted dialer, a retried request) reads the same answer.
"""

from __future__ import annotations

import redis

from cluster.codec import text
from cluster.keys import RunKeys

ABANDONED = "\x00abandoned"
"""The claim of an answer no agent took (no agent id can start with a NUL)."""


class AnswerClaims:
    def __init__(self, client: redis.Redis) -> None:
        self.r = client

    def claim(self, run: RunKeys, call_id: str, claimant: str) -> str:
        """Claims the call's answer for `claimant` (an agent id, or ABANDONED) unless it was
        claimed before; returns whoever holds the claim now."""
        pipe = self.r.pipeline(transaction=True)
        pipe.hsetnx(run.connects(), call_id, claimant)
        pipe.hget(run.connects(), call_id)
        _, winner = pipe.execute()
        return text(winner)

    def holder(self, run: RunKeys, call_id: str) -> str | None:
        """The claim on the call's answer: an agent id, ABANDONED, or None (undecided)."""
        raw = self.r.hget(run.connects(), call_id)
        return text(raw) if raw is not None else None
