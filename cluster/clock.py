"""The one clock the system reads. Production uses SystemClock; tests use FakeClock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    def now_ms(self) -> int:
        """Current time in epoch milliseconds (what Redis lead state is scored in)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FakeClock:
    """A clock that moves only when told to; safe to share between threads."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)


class ScaledClock:
    """Virtual time that runs `scale` times faster than real time, from a fixed origin.

    It is a pure function of the real clock and three numbers, so every process given the same
    (origin_real_s, origin_virtual_ms, scale) reads the same virtual time: actors in different
    Ray workers, and a restarted actor, agree without talking to each other. The simulated
    carrier, the trunks' timers and the lead state all read it, so a day of calling runs in
    seconds while retry periods and ring times keep their meaning.

    `skips` are jumps forward: (at_ms, skip_ms) adds skip_ms once virtual time reaches at_ms,
    so a test or a demo can pass over an idle night between two scheduled occurrences without
    waiting for it. Time never runs backwards, and every process still agrees.
    """

    def __init__(
        self,
        scale: float = 1.0,
        origin_virtual_ms: int | None = None,
        origin_real_s: float | None = None,
        skips: tuple[tuple[int, int], ...] = (),
    ) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        if any(skip < 0 for _, skip in skips):
            raise ValueError("skips only jump forward")
        self.scale = scale
        self.skips = tuple(sorted(skips))
        self.origin_real_s = time.time() if origin_real_s is None else origin_real_s
        self.origin_virtual_ms = (
            int(self.origin_real_s * 1000) if origin_virtual_ms is None else origin_virtual_ms
        )

    def now_ms(self) -> int:
        elapsed_s = time.time() - self.origin_real_s
        virtual = self.origin_virtual_ms + int(elapsed_s * self.scale * 1000)
        for at_ms, skip_ms in self.skips:
            if virtual >= at_ms:
                virtual += skip_ms
        return virtual

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, UTC)

    def real_seconds(self, virtual_seconds: float) -> float:
        """How long to really sleep for `virtual_seconds` of virtual time."""
        return virtual_seconds / self.scale

    def __reduce__(
        self,
    ) -> tuple[type[ScaledClock], tuple[float, int, float, tuple[tuple[int, int], ...]]]:
        return (ScaledClock, (self.scale, self.origin_virtual_ms, self.origin_real_s, self.skips))
