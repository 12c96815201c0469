"""The trunk registry in a real Redis: registration, compare-and-set changes, validation."""

from __future__ import annotations

import threading

import pytest

from cluster.errors import AlreadyExists, InvalidArgument, NotFound
from cluster.state import DialerState


def test_register_once_then_change_fields(state: DialerState) -> None:
    state.trunks.add({"id": "carrier-a", "channels": 30, "cps": 5})
    with pytest.raises(AlreadyExists):
        state.trunks.add({"id": "carrier-a", "channels": 1})
    scaled = state.trunks.update("carrier-a", {"channels": 60})
    assert (scaled.channels, scaled.cps, scaled.draining) == (60, 5, False)
    assert state.trunks.get("carrier-a") == scaled
    with pytest.raises(NotFound):
        state.trunks.update("carrier-b", {"channels": 1})


def test_a_bad_change_names_its_field_and_changes_nothing(state: DialerState) -> None:
    state.trunks.add({"id": "carrier-a", "channels": 30})
    with pytest.raises(InvalidArgument) as err:
        state.trunks.update("carrier-a", {"channels": -1, "draining": True})
    assert [field for field, _ in err.value.violations] == ["channels"]
    assert state.trunks.get("carrier-a").channels == 30
    assert not state.trunks.get("carrier-a").draining


def test_concurrent_scale_and_drain_both_land(state: DialerState) -> None:
    state.trunks.add({"id": "carrier-a", "channels": 30})
    barrier = threading.Barrier(2)

    def change(fields: dict[str, object]) -> None:
        barrier.wait()
        for _ in range(20):
            state.trunks.update("carrier-a", fields)

    threads = [
        threading.Thread(target=change, args=({"channels": 90},)),
        threading.Thread(target=change, args=({"draining": True},)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = state.trunks.get("carrier-a")
    assert (final.channels, final.draining) == (90, True)
