"""Contact list import against a real Redis: bad rows, chunking, atomic commit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cluster.contacts import ColumnMap
from cluster.errors import InvalidArgument
from cluster.state import DialerState

CSV = (
    "id,Phone,name,timezone,plan\n"
    "a1,(212) 555-0100,Ann,America/New_York,gold\n"
    "a2,,Bob,,silver\n"  # row 3: missing phone
    "a3,12345,Cy,,gold\n"  # row 4: invalid number
    "a4,+1 212 555 0100,Di,,gold\n"  # row 5: duplicate of row 2 once normalised
    'a5,+44 20 7946 0958,"Eve, Jr.",Europe/London,bronze\n'
    "a6,2125550101,Fay,Mars/Olympus,gold\n"  # row 7: bad time zone
    "a7,2125550102,Gus\n"  # row 8: too few columns
    "\n"
    'a8,2125550103,Hal,,"multi\nline"\n'
)


def chunked(text: str, size: int) -> Iterator[bytes]:
    data = text.encode()
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("chunk_size", [1, 7, 64, 10_000])
def test_import_reports_every_bad_row_and_keeps_the_rest(
    state: DialerState, chunk_size: int, line_end: str
) -> None:
    """Unix, Windows and old Mac line ends; chunks may split a CRLF or a character."""
    lst = state.lists.create("spring leads")
    csv = CSV.replace("\n", line_end)
    report = state.lists.import_csv(lst.id, chunked(csv, chunk_size))
    assert report.rows == 8
    assert report.accepted == 3
    reasons = {r.row: (r.field, r.reason.split(":")[0]) for r in report.rejected}
    assert reasons == {
        3: ("phone", "missing phone"),
        4: ("phone", "invalid number"),
        5: ("phone", "duplicate phone +12125550100"),
        7: ("timezone", "invalid timezone"),
        8: ("row", "expected 5 columns, got 3"),
    }
    contacts = [c for _, c in state.lists.iter_contacts(lst.id)]
    assert [(c.id, c.phone) for c in contacts] == [
        ("a1", "+12125550100"),
        ("a5", "+442079460958"),
        ("a8", "+12125550103"),
    ]
    assert contacts[0].fields == {"plan": "gold"} and contacts[0].timezone == "America/New_York"
    assert contacts[1].name == "Eve, Jr." and contacts[2].fields == {"plan": f"multi{line_end}line"}
    assert state.lists.get(lst.id).count == 3


def test_second_import_appends_and_rejects_numbers_already_in_the_list(state: DialerState) -> None:
    lst = state.lists.create("appended")
    state.lists.import_csv(lst.id, ["phone\n2125550100\n2125550101\n"])
    report = state.lists.import_csv(lst.id, ["phone\n212-555-0101\n2125550102\n"])
    assert report.accepted == 1
    assert [r.row for r in report.rejected] == [2]
    assert [c.phone for _, c in state.lists.iter_contacts(lst.id)] == [
        "+12125550100",
        "+12125550101",
        "+12125550102",
    ]


def test_a_failed_import_leaves_the_list_as_it_was(state: DialerState) -> None:
    lst = state.lists.create("fragile")
    state.lists.import_csv(lst.id, ["phone\n2125550100\n"])

    def broken() -> Iterator[str]:
        yield "phone\n" + "".join(f"212555{1000 + i}\n" for i in range(2500))
        raise ConnectionError("client went away mid-upload")

    with pytest.raises(ConnectionError):
        state.lists.import_csv(lst.id, broken())
    assert state.lists.get(lst.id).count == 1
    assert [c.phone for _, c in state.lists.iter_contacts(lst.id)] == ["+12125550100"]
    staged = list(state.r.scan_iter(match=f"{state.keys.root}:{{l:{lst.id}}}:stage:*"))
    assert len(staged) == 2  # only the committed segment's contacts and phones remain


def test_phone_column_chosen_by_name_and_region(state: DialerState) -> None:
    lst = state.lists.create("uk")
    report = state.lists.import_csv(
        lst.id, ["Mobile,name\n020 7946 0958,Ann\n"], ColumnMap(phone="mobile"), "GB"
    )
    assert report.accepted == 1
    assert next(state.lists.iter_contacts(lst.id))[1].phone == "+442079460958"


def test_missing_phone_column_is_an_error_naming_it(state: DialerState) -> None:
    lst = state.lists.create("nophone")
    with pytest.raises(InvalidArgument) as err:
        state.lists.import_csv(lst.id, ["name,number\nAnn,2125550100\n"])
    assert err.value.violations[0][0] == "phone_column"
    assert state.lists.get(lst.id).count == 0


def test_get_contacts_by_seq_across_segments(state: DialerState) -> None:
    lst = state.lists.create("segments")
    state.lists.import_csv(lst.id, ["phone\n2125550100\n2125550101\n"])
    state.lists.import_csv(lst.id, ["phone\n2125550102\n"])
    found = state.lists.get_contacts(lst.id, [2, 0, 99])
    assert [c.phone if c else None for c in found] == ["+12125550102", "+12125550100", None]
