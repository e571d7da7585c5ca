"""``store backup``: a consistent, checked copy of a workstation's database, made while it runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import PermissionDeniedError, StoreError
from engine.store import Store, open_store
from engine.store.backup import backup_files
from engine.store.keyring import anchor_path, keyring_path
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST


def _patients(store: Store, first: int, count: int) -> None:
    for i in range(first, first + count):
        store.add_patient(f"MRN{i:04d}", f"Family{i}", "Given", "1960-01-01", "F")


@pytest.mark.sqlite_only
def test_a_backup_taken_while_the_store_is_open_holds_every_committed_change(
    store: Store, db_path: Path, tmp_path: Path
) -> None:
    _patients(store, 0, 30)  # still in the write-ahead log: this store keeps its connection
    assert db_path.with_name(db_path.name + "-wal").stat().st_size > 0

    report = store.backup(tmp_path / "backup-1")

    folder = tmp_path / "backup-1"
    assert report.files == backup_files(db_path, folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in report.files)
    assert report.database_bytes == report.files[0].stat().st_size > 0
    last = store.audit_entries(action="backed_up")[-1]
    assert last.details == {"folder": str(folder), "up_to_entry": report.audit_entries}
    assert last.seq == report.audit_entries + 1  # the live log records the backup after it

    _patients(store, 30, 5)  # later changes are not in this backup
    with open_store(report.files[0], ADMIN, ADMIN_PASSWORD, kdf=FAST) as restored:
        assert len(restored.search_patients("Family")) == 30
        assert restored.integrity_check() == "ok"
        check = restored.verify_audit()
        assert check.ok and check.entries >= report.audit_entries


@pytest.mark.sqlite_only
def test_a_plain_copy_of_the_running_database_can_fail_its_audit_check(
    store: Store, db_path: Path, tmp_path: Path
) -> None:
    """Why the command exists: the file without its write-ahead log, next to the anchor."""
    _patients(store, 0, 10)
    copy = tmp_path / "copied" / db_path.name
    copy.parent.mkdir()
    for source, target in (
        (db_path, copy),
        (keyring_path(db_path), keyring_path(copy)),
        (anchor_path(db_path), anchor_path(copy)),
    ):
        shutil.copyfile(source, target)
    with open_store(copy, ADMIN, ADMIN_PASSWORD, kdf=FAST) as restored:
        report = restored.verify_audit()
        assert not report.ok and "removed from the end of the log" in report.problem
        assert restored.search_patients("Family") == []  # the patients were in the WAL


@pytest.mark.sqlite_only
def test_a_backup_never_replaces_files_and_leaves_nothing_when_refused(
    store: Store, db_path: Path, tmp_path: Path
) -> None:
    store.backup(tmp_path / "b")
    before = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    with pytest.raises(StoreError, match="never replaces"):
        store.backup(tmp_path / "b")
    assert {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()} == before
    with pytest.raises(StoreError, match="another folder"):
        store.backup(db_path.parent)
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    with pytest.raises(StoreError):
        store.backup(blocked / "sub")
    assert len(store.audit_entries(action="backed_up")) == 1  # only the backup that was made


@pytest.mark.sqlite_only
def test_only_an_administrator_backs_up(store: Store, db_path: Path, tmp_path: Path) -> None:
    store.create_user("dr.lee", "clinician-pass-1", role="clinician")
    with open_store(db_path, "dr.lee", "clinician-pass-1", kdf=FAST) as clinician:
        with pytest.raises(PermissionDeniedError, match="back up the database"):
            clinician.backup(tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_the_clinic_database_is_backed_up_on_its_server(
    store: Store, backend: str, tmp_path: Path
) -> None:
    if backend == "sqlite":
        pytest.skip("about the PostgreSQL store")
    with pytest.raises(StoreError, match="backed up on its server"):
        store.backup(tmp_path / "b")


@pytest.mark.sqlite_only
def test_cli_backup_then_restore_by_copying_the_files_back(
    store: Store, db_path: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    _patients(store, 0, 3)
    store.close()
    monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
    folder = tmp_path / "2026-12-08"
    assert (
        main(["store", "backup", "--user", ADMIN, "--db", str(db_path), "--to", str(folder)]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {folder / db_path.name}") and "audit trail verified" in out
    assert (
        main(["store", "backup", "--user", ADMIN, "--db", str(db_path), "--to", str(folder)]) == 1
    )
    assert "never replaces" in capsys.readouterr().err

    # The workstation's disk is lost; the backup's three files go into a new data folder.
    restored = tmp_path / "new-disk" / db_path.name
    restored.parent.mkdir()
    for f in folder.iterdir():
        shutil.copyfile(f, restored.parent / f.name)
    assert main(["audit", "verify", "--user", ADMIN, "--db", str(restored)]) == 0
    with open_store(restored, ADMIN, ADMIN_PASSWORD, kdf=FAST) as again:
        assert sorted(p.mrn for p in again.search_patients("Family")) == [
            "MRN0000",
            "MRN0001",
            "MRN0002",
        ]


@pytest.mark.sqlite_only
def test_backups_taken_while_another_session_writes_each_check_out(
    store: Store, db_path: Path, tmp_path: Path
) -> None:
    """Another window keeps adding patients (commits, anchor moves) during three backups."""
    import threading

    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST) as other:
                i = 1000
                while not stop.is_set():
                    _patients(other, i, 1)
                    written.append(i)
                    i += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 5:
            thread.join(0.01)
        reports = [store.backup(tmp_path / f"b{k}") for k in range(3)]
    finally:
        stop.set()
        thread.join()
    assert not errors
    counts = []
    for report in reports:
        with open_store(report.files[0], ADMIN, ADMIN_PASSWORD, kdf=FAST) as restored:
            assert restored.verify_audit().ok
            counts.append(len(restored.search_patients("Family", limit=10_000)))
    assert counts == sorted(counts) and counts[0] >= 5  # each a later snapshot than the last


def _crashed_copy(live: Path, where: Path) -> Path:
    """The data folder as a crash leaves it: the database with its write-ahead log unapplied."""
    shutil.copytree(live.parent, where)
    assert (where / f"{live.name}-wal").stat().st_size > 0
    return where / live.name


@pytest.mark.sqlite_only
def test_restore_moves_every_replaced_file_aside_the_stale_log_included(
    store: Store, db_path: Path, tmp_path: Path
) -> None:
    """Copying the three files back over a crashed folder leaves a log that breaks the copy."""
    from engine.store.restore import restore_backup

    _patients(store, 0, 4)
    backup = store.backup(tmp_path / "backup")
    _patients(store, 4, 20)
    crashed = _crashed_copy(db_path, tmp_path / "crashed")

    naive = _crashed_copy(db_path, tmp_path / "naive")  # what copying the files back gives
    for f in backup.files:
        shutil.copyfile(f, naive.parent / f.name)
    with pytest.raises(StoreError, match="damaged"):
        open_store(naive, ADMIN, ADMIN_PASSWORD, kdf=FAST)

    crashed_files = {p.name: p.read_bytes() for p in crashed.parent.iterdir()}
    assert len(crashed_files) == 5  # the database, its log, shared memory, key file, anchor
    report = restore_backup(backup.folder, crashed, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    assert report.database == crashed and report.replaced is not None
    # every replaced file is kept as it was, the stale log with the database it belongs to
    assert {p.name: p.read_bytes() for p in report.replaced.iterdir()} == crashed_files
    assert not any(p.name.startswith(".restore-") for p in crashed.parent.iterdir())
    with open_store(crashed, ADMIN, ADMIN_PASSWORD, kdf=FAST) as restored:
        assert len(restored.search_patients("Family")) == 4
        assert restored.verify_audit().ok
        (entry,) = restored.audit_entries(action="restored")
        assert entry.details == {"from": str(backup.folder)} and entry.seq == report.audit_entries


@pytest.mark.sqlite_only
def test_restore_checks_the_backup_and_the_password_before_touching_anything(
    store: Store, db_path: Path, tmp_path: Path
) -> None:
    from engine.errors import AuthenticationError
    from engine.store.restore import restore_backup

    store.create_user("dr.lee", "clinician-pass-1", role="clinician")
    backup = store.backup(tmp_path / "backup")
    store.close()
    before = {p.name: p.read_bytes() for p in db_path.parent.iterdir()}
    with pytest.raises(PermissionDeniedError, match="administrator"):
        restore_backup(backup.folder, db_path, "dr.lee", "clinician-pass-1", kdf=FAST)
    with pytest.raises(AuthenticationError):
        restore_backup(backup.folder, db_path, ADMIN, "wrong password 1", kdf=FAST)
    with pytest.raises(StoreError, match="not a Stethos backup"):
        restore_backup(tmp_path, db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    with pytest.raises(StoreError, match="is a folder: give the database file"):
        restore_backup(backup.folder, db_path.parent, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    other = tmp_path / "notes.txt"
    other.write_text("not a database")
    with pytest.raises(StoreError, match="is not a Stethos database"):
        restore_backup(backup.folder, other, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    assert other.read_text() == "not a database"
    (backup.folder / anchor_path(db_path).name).unlink()
    with pytest.raises(StoreError, match=r"incomplete: stethos\.db\.audit-anchor\.json missing"):
        restore_backup(backup.folder, db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    assert {p.name: p.read_bytes() for p in db_path.parent.iterdir()} == before


@pytest.mark.sqlite_only
def test_restore_is_refused_while_another_process_has_the_database_open(
    store: Store, db_path: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import subprocess
    import sys

    backup = store.backup(tmp_path / "backup")
    store.close()
    holder = (
        "import sys\n"
        "from engine.store import KdfParams, open_store\n"
        f"s = open_store({str(db_path)!r}, {ADMIN!r}, {ADMIN_PASSWORD!r}, kdf=KdfParams.fast())\n"
        "s.search_patients('')\n"
        "print('open', flush=True)\n"
        "sys.stdin.readline()\n"
        "s.close()\n"
    )
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen(
        [sys.executable, "-c", holder],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
        args = ["store", "restore", "--user", ADMIN, "--db", str(db_path), "--from"]
        assert main([*args, str(backup.folder)]) == 1
        assert "is open in Stethos on this workstation" in capsys.readouterr().err
    finally:
        proc.communicate("\n", timeout=30)
    assert main([*args, str(backup.folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {db_path} restored from {backup.folder}")
    assert "The files it replaced are kept in" in out
