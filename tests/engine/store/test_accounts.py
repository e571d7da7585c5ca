"""Accounts and encryption: wrong passwords, unreadable files, password changes, reset, recovery."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from engine.errors import AuthenticationError, PermissionDeniedError, StoreError
from engine.store import KdfParams, Store, create_store, open_store, recover_access
from engine.store.keyring import Keyring, keyring_path
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST, FakeClock

CLINICIAN, CLINICIAN_PASSWORD = "dr.lee", "clinician-pass-1"


def test_wrong_password_and_unknown_user_get_the_same_clear_message(store: Store, db_path):
    store.close()
    with pytest.raises(AuthenticationError) as wrong:
        open_store(db_path, ADMIN, "not-the-password", kdf=FAST)
    with pytest.raises(AuthenticationError) as unknown:
        open_store(db_path, "nobody", ADMIN_PASSWORD, kdf=FAST)
    assert wrong.value.user_message == unknown.value.user_message
    assert "user name or password is wrong" in wrong.value.user_message


@pytest.mark.sqlite_only
def test_database_file_is_unreadable_without_the_key(store: Store, db_path: Path):
    store.add_patient("SECRET-MRN-123", "Zebulon", "Quixote")
    store.close()
    raw = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.DatabaseError, match="file is not a database"):
        raw.execute("select * from sqlite_master").fetchall()
    raw.close()
    for path in db_path.parent.iterdir():  # database, WAL, key file, anchor: no plain text
        assert b"Zebulon" not in path.read_bytes(), path.name
        assert b"SECRET-MRN-123" not in path.read_bytes(), path.name


@pytest.mark.sqlite_only
def test_copied_database_without_its_key_file_cannot_be_opened(store: Store, db_path, tmp_path):
    store.close()
    copy = tmp_path / "elsewhere" / "stolen.db"
    copy.parent.mkdir()
    shutil.copy(db_path, copy)
    with pytest.raises(StoreError, match="key file"):
        open_store(copy, ADMIN, ADMIN_PASSWORD, kdf=FAST)


@pytest.mark.sqlite_only
def test_keyring_holds_only_wrapped_keys_bound_to_their_slot(store: Store, db_path: Path):
    store.create_user(CLINICIAN, CLINICIAN_PASSWORD)
    store.close()
    path = keyring_path(db_path)
    data_key = Keyring.load(path).unlock_password(ADMIN, ADMIN_PASSWORD)
    text = path.read_text()
    assert data_key.hex() not in text.lower()
    assert set(json.loads(text)["users"]) == {"admin", "dr.lee"}
    # Moving the administrator's wrapped key into the clinician's slot does not open it.
    data = json.loads(text)
    data["users"]["dr.lee"] = data["users"]["admin"]
    path.write_text(json.dumps(data))
    with pytest.raises(AuthenticationError):
        open_store(db_path, CLINICIAN, ADMIN_PASSWORD, kdf=FAST)


def test_change_password_rewraps_the_key(store: Store, db_path: Path):
    store.add_patient("A1", "Doe")
    with pytest.raises(AuthenticationError, match="current password"):
        store.change_password("wrong-old-password", "new-password-9")
    with pytest.raises(StoreError, match="at least 8"):
        store.change_password(ADMIN_PASSWORD, "short")
    store.change_password(ADMIN_PASSWORD, "new-password-9")
    store.close()
    with pytest.raises(AuthenticationError):
        open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    again = open_store(db_path, ADMIN, "new-password-9", kdf=FAST)
    assert [p.mrn for p in again.search_patients("")] == ["A1"]
    assert again.audit_entries(action="password_changed")
    again.close()


def test_administrator_creates_clinicians_and_resets_access_without_losing_data(
    store: Store, db_path: Path
):
    assert store.user.is_admin
    store.create_user(CLINICIAN, CLINICIAN_PASSWORD, full_name="Dr Lee")
    with pytest.raises(StoreError, match="already exists"):
        store.create_user("DR.LEE", "another-pass-1")
    store.close()

    lee = open_store(db_path, CLINICIAN, CLINICIAN_PASSWORD, kdf=FAST)
    assert lee.user.role == "clinician" and lee.user.full_name == "Dr Lee"
    patient = lee.add_patient("A1", "Doe")
    with pytest.raises(PermissionDeniedError):
        lee.create_user("eve", "eve-password-1")
    with pytest.raises(PermissionDeniedError):
        lee.reset_user(ADMIN, "takeover-pass-1")
    lee.close()

    # Dr Lee forgets the password; the administrator sets a temporary one.
    admin = open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    admin.reset_user(CLINICIAN, "temporary-pass-1")
    admin.close()
    with pytest.raises(AuthenticationError):
        open_store(db_path, CLINICIAN, CLINICIAN_PASSWORD, kdf=FAST)
    lee = open_store(db_path, CLINICIAN, "temporary-pass-1", kdf=FAST)
    assert lee.user.must_change_password
    assert lee.get_patient(patient.id).family_name == "Doe"
    lee.change_password("temporary-pass-1", "lee-new-pass-2")
    assert not lee.user.must_change_password
    lee.close()

    admin = open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    with pytest.raises(StoreError, match="own account"):
        admin.disable_user(ADMIN)
    admin.disable_user(CLINICIAN)
    assert [u.active for u in admin.list_users()] == [True, False]
    admin.close()
    with pytest.raises(AuthenticationError):
        open_store(db_path, CLINICIAN, "lee-new-pass-2", kdf=FAST)


def test_recovery_key_restores_access_when_every_password_is_lost(created, db_path: Path):
    store, recovery = created
    assert re.fullmatch(r"([A-Z2-7]{4}-){7}[A-Z2-7]{4}", recovery)
    store.add_patient("A1", "Doe")
    store.close()

    with pytest.raises(AuthenticationError, match="recovery key"):
        recover_access(db_path, "AAAA-" * 7 + "AAAA", ADMIN, "fresh-password-1", kdf=FAST)
    typed = recovery.lower().replace("-", " ")  # as someone may type it from paper
    back = recover_access(db_path, typed, ADMIN, "fresh-password-1", kdf=FAST)
    assert [p.mrn for p in back.search_patients("")] == ["A1"]
    assert back.audit_entries(action="access_recovered")
    new_key = back.new_recovery_key()
    back.close()
    with pytest.raises(AuthenticationError):
        recover_access(db_path, recovery, ADMIN, "fresh-password-2", kdf=FAST)  # replaced
    again = open_store(db_path, ADMIN, "fresh-password-1", kdf=FAST)
    again.close()
    recover_access(db_path, new_key, ADMIN, "fresh-password-3", kdf=FAST).close()


def test_product_argon2_parameters_are_the_default(tmp_path: Path):
    path = tmp_path / "prod.db"
    t0 = time.perf_counter()
    store, _ = create_store(path, ADMIN, ADMIN_PASSWORD)
    created_s = time.perf_counter() - t0
    store.close()
    kdf = json.loads(keyring_path(path).read_text())["users"]["admin"]["kdf"]
    assert kdf["name"] == "argon2id"
    assert (kdf["time_cost"], kdf["memory_cost"]) == (3, 64 * 1024)
    assert KdfParams() == KdfParams.from_json(kdf)
    t0 = time.perf_counter()
    open_store(path, ADMIN, ADMIN_PASSWORD).close()
    login_s = time.perf_counter() - t0
    assert login_s < 10 and created_s < 20  # generous: a 2-core CI machine


def test_session_locks_after_inactivity_and_unlocks_with_the_password(store: Store, clock):
    assert isinstance(clock, FakeClock)
    assert not store.session.is_locked(300)
    clock.advance(seconds=301)
    assert store.session.is_locked(300)
    with pytest.raises(AuthenticationError):
        store.unlock("wrong-password")
    store.unlock(ADMIN_PASSWORD)
    assert not store.session.is_locked(300)
    store.search_patients("")  # any call counts as activity
    assert store.session.idle_seconds() == 0


def test_two_open_windows_do_not_lose_each_others_key_slots(store: Store, db_path: Path):
    other = open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)  # opened before the new user
    store.create_user(CLINICIAN, CLINICIAN_PASSWORD)
    other.change_password(ADMIN_PASSWORD, "admin-password-2")  # rewrites the key file
    other.close()
    open_store(db_path, CLINICIAN, CLINICIAN_PASSWORD, kdf=FAST).close()
    open_store(db_path, ADMIN, "admin-password-2", kdf=FAST).close()
