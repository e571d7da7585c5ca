"""Forward migrations: a database made at every earlier schema version opens, with its data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import StoreError
from engine.store import CURRENT_VERSION, migrations, open_store
from engine.store import db as store_db
from engine.store.server import ServerBackend
from engine.store.store import _create_database, _create_on_server
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST, HEART, FakeClock

NOW = "2024-05-01T10:00:00.000000+00:00"


def _fill(conn, version: int) -> None:
    """Rows written the way the Stethos of that schema version wrote them."""
    uid = conn.execute("SELECT id FROM users").fetchone()[0]
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO patients (id, mrn, family_name, given_name, birth_date, sex, version, "
        "created_at, created_by, updated_at, updated_by) "
        "VALUES (1, 'OLD-1', 'Müller', 'Anna', '1950-03-01', 'F', 1, ?, ?, ?, ?)",
        (NOW, uid, NOW, uid),
    )
    conn.execute(
        "INSERT INTO patient_versions (patient_id, version, mrn, family_name, given_name, "
        "birth_date, sex, changed_at, changed_by, reason) "
        "VALUES (1, 1, 'OLD-1', 'Müller', 'Anna', '1950-03-01', 'F', ?, ?, 'registered')",
        (NOW, uid),
    )
    conn.execute(
        "INSERT INTO encounters (id, patient_id, started_at, reason, created_at, created_by) "
        "VALUES (1, 1, ?, 'follow-up', ?, ?)",
        (NOW, NOW, uid),
    )
    data = {"schema": "heart-cleveland-13", "schema_version": "old", "values": HEART}
    conn.execute(
        "INSERT INTO records (id, encounter_id, schema_name, schema_version, data, version, "
        "recorded_at, recorded_by) VALUES (1, 1, 'heart-cleveland-13', 'old', ?, 1, ?, ?)",
        (json.dumps(data), NOW, uid),
    )
    if version >= 4:  # written with its search key since
        conn.execute("UPDATE patients SET search_key = ? WHERE id = 1", ("old-1 muller anna",))
    if version >= 2:
        conn.execute(
            "INSERT INTO results (id, encounter_id, record_id, model_id, model_version, "
            "weights_sha256, input_hash, label, positive_label, score, is_positive, "
            "probabilities, result_json, created_at, created_by) VALUES (1, 1, 1, 'heart', "
            "'0.9', 'w', 'i', 'disease', 'disease', 0.7, 1, "
            "'{\"disease\": 0.7, \"no disease\": 0.3}', '{}', ?, ?)",
            (NOW, uid),
        )
        conn.execute(
            "INSERT INTO decisions (result_id, decision, comment, decided_at, decided_by) "
            "VALUES (1, 'overridden', 'old comment', ?, ?)",
            (NOW, uid),
        )
    if version >= 3:
        conn.execute(
            "INSERT INTO study_links (patient_id, study_uid, path, dicom_patient_id, "
            "dicom_patient_name, linked_at, linked_by) "
            "VALUES (1, '1.2.3', '/old/study', 'OLD-1', 'MULLER^ANNA', ?, ?)",
            (NOW, uid),
        )
    conn.execute("COMMIT")


def _older_store(db_path: Path | str, owner_url: str | None, version: int) -> Path | str:
    """A store made at schema ``version`` with rows of that version; where to open it.

    On a server the schema's owner opens it (only the owner may migrate).
    """
    if owner_url is None:
        assert isinstance(db_path, Path)
        _, key, _ = _create_database(db_path, ADMIN, ADMIN_PASSWORD, "", FAST, FakeClock(), version)
        conn = store_db.connect(db_path, key)
    else:
        backend = ServerBackend(owner_url)
        _create_on_server(backend, ADMIN, ADMIN_PASSWORD, "", FAST, FakeClock(), version)
        conn = backend.connect()
    assert migrations.schema_version(conn) == version
    _fill(conn, version)
    conn.close()
    return db_path if owner_url is None else owner_url


@pytest.mark.parametrize("version", range(1, CURRENT_VERSION))
def test_database_of_every_earlier_version_migrates_with_data(
    db_path: Path | str, owner_url: str | None, version: int
):
    path = _older_store(db_path, owner_url, version)
    store = open_store(path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    assert store.schema_version() == CURRENT_VERSION
    found = store.search_patients("muller")  # the v4 search key was back-filled
    assert [p.mrn for p in found] == ["OLD-1"]
    assert store.patient_history(1)[0].reason == "registered"
    assert store.records(1)[0].values["chol"] == HEART["chol"]
    if version >= 2:
        result = store.get_result(1)
        assert result.score == 0.7 and result.decision.comment == "old comment"
        assert result.study_link_id is None
    if version >= 3:
        assert store.studies(1)[0].path == "/old/study"
    migrated = store.audit_entries(action="migrated")
    assert migrated[0].details == {"from": version, "to": CURRENT_VERSION}
    applied = store._conn().execute("SELECT version FROM schema_version ORDER BY version")
    assert [r[0] for r in applied] == list(range(1, CURRENT_VERSION + 1))
    # and the migrated store works as a new one
    visit = store.add_encounter(1)
    store.save_record(visit.id, HEART)
    assert store.verify_audit().ok and store.integrity_check() == "ok"
    store.close()


def test_failed_step_leaves_the_previous_version(tmp_path: Path, monkeypatch):
    path = tmp_path / "s.db"
    _, key, _ = _create_database(path, ADMIN, ADMIN_PASSWORD, "", FAST, FakeClock(), 4)
    broken = migrations.Migration(
        CURRENT_VERSION + 1, "broken", ("CREATE TABLE half_done (x)", "THIS IS NOT SQL")
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
    monkeypatch.setattr(migrations, "CURRENT_VERSION", CURRENT_VERSION + 1)
    conn = store_db.connect(path, key)
    with pytest.raises(StoreError, match=f"version {CURRENT_VERSION + 1} failed"):
        migrations.migrate(conn, NOW, target=CURRENT_VERSION + 1)
    assert migrations.schema_version(conn) == CURRENT_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_done" not in tables
    conn.close()


def test_database_from_a_newer_stethos_is_refused(tmp_path: Path):
    path = tmp_path / "new.db"
    _, key, _ = _create_database(path, ADMIN, ADMIN_PASSWORD, "", FAST, FakeClock(), 4)
    conn = store_db.connect(path, key)
    conn.execute("INSERT INTO schema_version VALUES (99, 'future', ?)", (NOW,))
    conn.close()
    with pytest.raises(StoreError, match="newer version of Stethos"):
        open_store(path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
