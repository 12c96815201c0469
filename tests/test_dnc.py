"""DNC lists against a real Redis: normalisation, batch checks, compact storage."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluster import dnc as dnc_module
from cluster.dnc import parse_e164, split_number
from cluster.errors import InvalidArgument, NotFound
from cluster.phone import normalize_e164
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


# The grouped wire format: batches, windows, groups and widths ------------------------------


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 7 numbers or 3 prefix groups and windows of 20, so that a few numbers cross
    every boundary: a prefix's group split between two batches and between two sorted windows."""
    monkeypatch.setattr(dnc_module, "BATCH", 7)
    monkeypatch.setattr(dnc_module, "GROUPS", 3)
    monkeypatch.setattr(dnc_module, "WINDOW", 20)


MIXED = [
    "+123456",  # the shortest E.164 number stored: a one-digit prefix
    "+12125550100",
    "+112125550100",  # same last 11 digits, one digit longer: another bucket
    "+442079460958",
    "+4930123456",
    "+49301234567",  # Germany: widths vary within one country
    "+861380013800",
    "+861012345678901",  # 15 digits, the longest
]


def test_numbers_of_every_width_in_one_batch(state: DialerState) -> None:
    dnc = state.dnc.create("world")
    listed = MIXED[::2]
    assert state.dnc.add_e164(dnc.id, listed) == len(listed)
    assert state.dnc.contains_e164(dnc.id, MIXED) == [True, False] * (len(MIXED) // 2)
    assert state.dnc.contains_e164(dnc.id, MIXED[::-1]) == [False, True] * (len(MIXED) // 2)
    assert state.dnc.get(dnc.id).count == len(listed)


def test_line_and_prefix_edges(state: DialerState) -> None:
    dnc = state.dnc.create("edges")
    listed = ["+12125550000", "+12125559999", "+12125560000", "+12125540009"]
    assert state.dnc.add_e164(dnc.id, listed) == 4
    probes = {
        "+12125550000": True,
        "+12125550001": False,
        "+12125559999": True,
        "+12125559998": False,
        "+12125560000": True,
        "+12125569999": False,
        "+12125540009": True,
        "+12125540090": False,
        "+12125549000": False,
    }
    assert state.dnc.contains_e164(dnc.id, list(probes)) == list(probes.values())
    assert state.r.smembers(state.keys.dnc_list(dnc.id).bucket("1212555")) == {b"0", b"9999"}


def test_a_full_prefix_spans_several_commands(state: DialerState) -> None:
    """10,000 lines of one prefix: more than one SADD/SMISMEMBER (RUN_MAX) per group."""
    dnc = state.dnc.create("full")
    every = [f"+1212555{line:04d}" for line in range(10_000)]
    assert len(every) > 2 * dnc_module.RUN_MAX
    assert state.dnc.add_e164(dnc.id, every) == 10_000
    bucket = state.keys.dnc_list(dnc.id).bucket("1212555")
    assert state.r.object("encoding", bucket) == b"intset"
    assert state.dnc.contains_e164(dnc.id, [*every, "+12125560000"]) == [True] * 10_000 + [False]
    assert state.dnc.remove(dnc.id, every[::2]) == 5_000
    assert state.dnc.contains_e164(dnc.id, every) == [False, True] * 5_000
    assert state.dnc.add_e164(dnc.id, every) == 5_000  # re-adding counts only what was gone
    assert state.dnc.get(dnc.id).count == 10_000
    assert state.dnc.remove(dnc.id, every) == 10_000
    assert not state.r.exists(bucket)
    assert not state.r.smembers(state.keys.dnc_list(dnc.id).bucket_index())
    assert state.dnc.get(dnc.id).count == 0


def test_batches_and_windows_split_a_prefix(state: DialerState, small_batches: None) -> None:
    dnc = state.dnc.create("split")
    numbers = [f"+1212555{line:04d}" for line in range(0, 10_000, 250)]  # 40 in one prefix
    numbers += [f"+1212556{line:04d}" for line in range(0, 10_000, 1000)] + ["+442079460958"]
    shuffled = numbers[1::2] + numbers[::2]
    with_duplicates = shuffled + shuffled[:9]
    assert state.dnc.add_e164(dnc.id, with_duplicates) == len(numbers)
    assert state.dnc.get(dnc.id).count == len(numbers)
    unlisted = [n[:-1] + str((int(n[-1]) + 1) % 10) for n in shuffled]
    probes = [x for pair in zip(shuffled, unlisted, strict=True) for x in pair]
    assert state.dnc.contains_e164(dnc.id, probes) == [True, False] * len(shuffled)
    assert state.dnc.remove(dnc.id, with_duplicates[::3]) == len(set(with_duplicates[::3]))
    gone = set(with_duplicates[::3])
    assert state.dnc.contains_e164(dnc.id, numbers) == [n not in gone for n in numbers]
    assert state.dnc.get(dnc.id).count == len(numbers) - len(gone)


def test_lists_stored_before_the_grouped_format_read_the_same(state: DialerState) -> None:
    """The stored layout did not change: a bucket written as one SADD of bare line numbers (as
    the per-number scripts wrote it) answers the grouped check."""
    dnc = state.dnc.create("older")
    state.r.sadd(state.keys.dnc_list(dnc.id).bucket("1212555"), 0, 100, 9999)
    probes = ["+12125550000", "+12125550100", "+12125559999", "+12125550010", "+12125551000"]
    assert state.dnc.contains_e164(dnc.id, probes) == [True, True, True, False, False]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "12125550100",
        "+02125550100",
        "+1212555010x",
        "+1 2125550100",
        "+1212+5550100",
        "+12125550100\n",
        "+1212555\n0100",
        "+1212555\u0660\u0661\u0662\u0663",  # Arabic-Indic digits are not E.164
        "+1234",
        "+1234567890123456",
    ],
)
def test_a_malformed_number_is_named(state: DialerState, bad: str) -> None:
    dnc = state.dnc.create("strict")
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        state.dnc.contains_e164(dnc.id, ["+12125550100", bad, "+442079460958"])
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        state.dnc.add_e164(dnc.id, ["+12125550100", bad])
    assert state.dnc.get(dnc.id).count == 0


def test_the_property_pool_is_valid_and_normalised() -> None:
    assert [normalize_e164(n) for n in POOL] == POOL


def test_parse_e164_reads_every_width() -> None:
    assert [f"+{v}" for v in parse_e164(MIXED).tolist()] == MIXED
    assert parse_e164([]).tolist() == []


def test_an_error_reply_mid_pipeline_is_raised_and_the_connection_stays_usable(
    state: DialerState,
) -> None:
    """A check is one pipeline of SMISMEMBERs; a key of another type in the middle of it fails
    the check (not a silent False), and leaves no unread replies behind for the next caller."""
    dnc = state.dnc.create("broken")
    numbers = [f"+1212{exchange}0100" for exchange in range(200, 260)]
    state.dnc.add_e164(dnc.id, numbers[::2])
    state.r.set(state.keys.dnc_list(dnc.id).bucket("1212231"), "not a set")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        state.dnc.contains_e164(dnc.id, numbers)
    state.r.delete(state.keys.dnc_list(dnc.id).bucket("1212231"))
    for _ in range(3):  # every pooled connection answers its own commands
        assert state.dnc.contains_e164(dnc.id, numbers) == [True, False] * 30
        assert state.r.ping()


def test_concurrent_writers_keep_the_count_exact(state: DialerState, small_batches: None) -> None:
    """Each batch is one script (atomic): writers racing over the same numbers never count a
    number twice, and the count matches the buckets."""
    dnc = state.dnc.create("race")
    numbers = [f"+1212555{line:04d}" for line in range(0, 10_000, 37)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        added = sum(
            pool.map(lambda i: state.dnc.add_e164(dnc.id, numbers[i:] + numbers[:i]), range(4))
        )
    assert added == len(numbers) == state.dnc.get(dnc.id).count
    k = state.keys.dnc_list(dnc.id)
    assert state.r.scard(k.bucket("1212555")) == len(numbers)
    with ThreadPoolExecutor(max_workers=4) as pool:
        removed = sum(pool.map(lambda i: state.dnc.remove(dnc.id, numbers[i::2]), range(4)))
    assert removed == len(numbers) and state.dnc.get(dnc.id).count == 0
    assert not state.r.exists(k.bucket("1212555"))


# A property: any sequence of adds, removes and checks agrees with a Python set ---------------

POOL = [
    head + line
    for head in ("+1212555", "+1212556", "+44207946", "+4930123", "+861380013")
    for line in ("0000", "0001", "0999", "1000", "4321", "9998", "9999")
]
"""Valid numbers (remove() normalises), a few prefixes of several widths, edge lines."""
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "check"]),
        st.lists(st.sampled_from(POOL), max_size=25),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_a_list_behaves_like_a_set(
    state: DialerState, small_batches: None, operations: list[tuple[str, list[str]]]
) -> None:
    dnc = state.dnc.create("model")
    model: set[str] = set()
    for op, numbers in operations:
        if op == "add":
            assert state.dnc.add_e164(dnc.id, numbers) == len(set(numbers) - model)
            model |= set(numbers)
        elif op == "remove":
            assert state.dnc.remove(dnc.id, numbers) == len(set(numbers) & model)
            model -= set(numbers)
        else:
            assert state.dnc.contains_e164(dnc.id, numbers) == [n in model for n in numbers]
    assert state.dnc.get(dnc.id).count == len(model)
    assert state.dnc.contains_e164(dnc.id, POOL) == [n in model for n in POOL]
    state.dnc.delete(dnc.id)
