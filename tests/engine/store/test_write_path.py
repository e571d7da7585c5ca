"""The write path's shortcuts (docs/experiments/store-write-cpu.md) give what the long way gave.

The search key of ASCII text, the statements of :class:`Tx` built once per
table and columns, the details of entries that have none: each is checked
against the general computation, and the store's rows and audit entries
against what a user reads back, on both backends.
"""

from __future__ import annotations

import string
import unicodedata
from datetime import date

import pytest

from engine.errors import AuditError
from engine.store import Store, migrations
from engine.store.audit import canonical_json, checked_details, entry_from
from engine.store.core import Tx


def _search_key_long_way(*parts: str | None) -> str:
    text = " ".join(p for p in parts if p)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@pytest.mark.parametrize(
    "parts",
    [
        ("MRN-000123", "Family", "Given"),
        (string.printable, None, ""),
        ("".join(map(chr, range(128))),),
        ("Müller", "Ænne", "Ǆ"),  # not ASCII: decomposed, accents dropped
        ("ÅSTRÖM", "ﬁ", "Ⅻ"),
    ],
)
def test_search_key_is_the_nfkd_key(parts: tuple[str | None, ...]) -> None:
    assert migrations.search_key(*parts) == _search_key_long_way(*parts)


def test_search_key_finds_accented_names_from_plain_words(store: Store) -> None:
    store.add_patient("MRN-ACC", "Müller", "Ænne")
    store.add_patient("MRN-ASC", "MULLER", "Anne")
    found = {p.mrn for p in store.search_patients("muller")}
    assert found == {"MRN-ACC", "MRN-ASC"}
    assert [p.mrn for p in store.search_patients("mrn-asc anne")] == ["MRN-ASC"]


def test_empty_details_are_the_canonical_empty_object() -> None:
    assert checked_details("opened", None) == canonical_json({}) == "{}"
    assert checked_details("opened", {}) == "{}"
    assert checked_details("changed", {"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    with pytest.raises(AuditError, match="not a valid audit action"):
        checked_details("Not Valid", None)
    entry = entry_from(3, "2026-01-02T03:04:05.000006+00:00", "u", "opened", "patient", "7",
                       "{}", "p" * 64, "h" * 64)  # fmt: skip
    assert entry.details == {}
    entry.details["x"] = 1  # each entry has its own details
    assert entry_from(3, "2026-01-02T03:04:05+00:00", "u", "a", "", "", "{}", "", "").details == {}


def test_a_bad_column_name_is_refused_every_time(store: Store) -> None:
    conn = store._conn()
    tx = Tx(conn, store.user.username, store._now)
    for _ in range(2):  # a refused statement is not remembered as a good one
        with pytest.raises(ValueError, match="Not a table or column name"):
            tx.append("patient_versions", {"patient_id; DROP TABLE users": 1})
        with pytest.raises(ValueError, match="no columns"):
            tx.update("patients", 1, {})
    assert not conn.in_transaction


def test_rows_and_entries_written_through_the_cached_statements(store: Store) -> None:
    first = store.add_patient("MRN-1", "Alpha", "Ann", "1970-01-02", "F")
    second = store.add_patient("MRN-2", "Beta", sex="M")
    changed = store.update_patient(second.id, {"given_name": "Bob"}, reason="typo")
    assert (first.mrn, first.family_name, first.birth_date, first.sex) == (
        "MRN-1",
        "Alpha",
        date(1970, 1, 2),
        "F",
    )
    assert store.get_patient(first.id) == first
    assert (changed.given_name, changed.version) == ("Bob", 2)
    assert [p.given_name for p in store.patient_history(second.id)] == ["", "Bob"]
    created = store.audit_entries(action="created", object_type="patient")
    assert [e.object_id for e in created] == [str(first.id), str(second.id)]
    assert all(e.details == {} for e in created)
    report = store.verify_audit()
    assert report.ok, report.problem
