"""DNC lists against a real Redis: normalisation, batch checks, compact storage."""

from __future__ import annotations

import pytest

from cluster.dnc import split_number
from cluster.errors import InvalidArgument, NotFound
from cluster.state import DialerState


def test_a_number_is_listed_however_it_was_written(state: DialerState) -> None:
    dnc = state.dnc.create("national")
    result = state.dnc.add(dnc.id, ["(212) 555-0100", "+1 212-555-0101", "12125550102"])
    assert result.added == 3 and result.rejected == []
    checks = state.dnc.check(
        dnc.id, ["+12125550100", "212.555.0101", "1 (212) 555 0102", "2125550199", "junk"]
    )
    assert [(n, listed) for _, n, listed in checks] == [
        ("+12125550100", True),
        ("+12125550101", True),
        ("+12125550102", True),
        ("+12125550199", False),
        (None, False),
    ]


def test_add_counts_new_numbers_and_reports_bad_ones(state: DialerState) -> None:
    dnc = state.dnc.create("internal")
    first = state.dnc.add(dnc.id, ["2125550100", "not a number", "2125550100"])
    assert (first.added, first.already_listed) == (1, 1)
    assert [raw for raw, _ in first.rejected] == ["not a number"]
    assert state.dnc.get(dnc.id).count == 1
    assert state.dnc.remove(dnc.id, ["+1 212 555 0100", "2125550188"]) == 1
    assert state.dnc.get(dnc.id).count == 0
    assert state.dnc.contains_e164(dnc.id, ["+12125550100"]) == [False]


def test_international_numbers_and_bucket_split() -> None:
    assert split_number("+442079460958") == ("44207946", 958)
    assert split_number("+12125550100") == ("1212555", 100)


def test_buckets_stay_intsets(state: DialerState) -> None:
    """Registry scale depends on each bucket being an intset (2 bytes a number)."""
    dnc = state.dnc.create("dense")
    numbers = [f"+1212555{line:04d}" for line in range(0, 10000, 7)]
    assert state.dnc.add_e164(dnc.id, numbers) == len(numbers)
    bucket = state.keys.dnc_list(dnc.id).bucket("1212555")
    assert state.r.object("encoding", bucket) == b"intset"
    assert state.r.scard(bucket) == len(numbers)
    assert state.dnc.contains_e164(dnc.id, [*numbers[:5], "+12125550001"]) == [True] * 5 + [False]


def test_delete_removes_every_bucket(state: DialerState) -> None:
    dnc = state.dnc.create("gone")
    state.dnc.add(dnc.id, ["2125550100", "3125550100", "+442079460958"])
    state.dnc.delete(dnc.id)
    assert list(state.r.scan_iter(match=f"{state.keys.root}:{{d:{dnc.id}}}*")) == []
    with pytest.raises(NotFound):
        state.dnc.get(dnc.id)
    with pytest.raises(NotFound):
        state.dnc.add(dnc.id, ["2125550100"])


def test_blank_name_is_refused_naming_the_field(state: DialerState) -> None:
    with pytest.raises(InvalidArgument) as err:
        state.dnc.create("  ")
    assert err.value.violations[0][0] == "name"
