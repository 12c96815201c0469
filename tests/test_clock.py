"""The scaled clock: every process computes the same virtual time; skips jump it forward."""

from __future__ import annotations

import pickle
import time

import pytest

from cluster.clock import ScaledClock

HOUR_MS = 3_600_000


def test_scaled_time_runs_scale_times_faster_from_its_origin() -> None:
    origin_real = time.time() - 2.0
    clock = ScaledClock(600, origin_virtual_ms=0, origin_real_s=origin_real)
    assert 1_200_000 <= clock.now_ms() < 1_300_000  # 2 real seconds = 20 virtual minutes


def test_a_skip_jumps_forward_once_its_instant_is_reached_and_survives_pickling() -> None:
    origin_real = time.time() - 2.0  # now is 20 virtual minutes after the origin
    before = ScaledClock(600, 0, origin_real, skips=((HOUR_MS, 10 * HOUR_MS),))
    after = ScaledClock(600, 0, origin_real, skips=((10 * 60_000, 10 * HOUR_MS),))
    assert before.now_ms() < HOUR_MS  # not reached yet
    assert 10 * HOUR_MS + 1_200_000 <= after.now_ms() < 10 * HOUR_MS + 1_300_000
    copy = pickle.loads(pickle.dumps(after))
    assert copy.skips == after.skips and abs(copy.now_ms() - after.now_ms()) < 60_000


def test_skips_never_run_time_backwards() -> None:
    with pytest.raises(ValueError, match="forward"):
        ScaledClock(600, 0, time.time(), skips=((0, -1),))
