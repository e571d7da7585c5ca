"""Put a backup (:mod:`engine.store.backup`) back as the workstation's database.

Copying a backup's three files over the data folder's is not enough: a
write-ahead log left there (``stethos.db-wal``, from the database being
replaced or from a crash) is applied to whatever file bears its name, and
the restored database then reads as damaged. A restore here:

1. refuses while a Stethos window or command on this workstation has the
   database open (the lock SQLite holds on its shared-memory file);
2. copies the backup into a folder beside the database and signs in to the
   copy, as an administrator: the password opens it, SQLite's integrity
   check and the audit trail must pass, and the restore is logged in it;
3. moves every file of the database it replaces — the write-ahead log and
   shared-memory file included — into a ``replaced …`` folder, kept, and
   moves the checked copy into place.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.errors import PermissionDeniedError, StoreError
from engine.store import db
from engine.store.backup import backup_files, copy_file
from engine.store.crypto import KdfParams
from engine.store.keyring import anchor_path, keyring_path

#: Byte of SQLite's ``-shm`` file every connection to the database keeps a read lock on
#: (the unix VFS's "DMS" slot: (22 + 8) * 4 + 8).
_SHM_DMS_BYTE = 128


@dataclass(frozen=True)
class RestoreReport:
    """Where the backup went, where the replaced files were kept, what the copy holds."""

    database: Path
    replaced: Path | None
    audit_entries: int


def database_files(db_path: Path) -> tuple[Path, ...]:
    """Every file of the database at ``db_path``, its log and shared memory included."""
    return (
        db_path,
        db_path.with_name(db_path.name + "-wal"),
        db_path.with_name(db_path.name + "-shm"),
        keyring_path(db_path),
        anchor_path(db_path),
    )


def database_in_use(db_path: Path) -> bool:
    """Whether another process has the database open (POSIX systems; else ``False``).

    Never call it from a process that has the database open itself: closing
    the file it opens here drops that process's own locks on it.
    """
    shm = db_path.with_name(db_path.name + "-shm")
    try:
        import fcntl
    except ImportError:  # Windows: the lock is not visible this way
        return False
    try:
        fh = open(shm, "r+b")  # closed below, after the unlock
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreError(db.disk_problem(shm.parent, exc), str(exc)) from exc
    try:
        fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_BYTE, os.SEEK_SET)
    except OSError:
        return True
    finally:
        fh.close()  # also releases the lock, if it was taken
    return False


def backup_database(folder: Path) -> Path:
    """The database file of the backup in ``folder`` (its key file and anchor beside it)."""
    keyrings = sorted(folder.glob("*.keyring.json"))
    if not folder.is_dir() or len(keyrings) != 1:
        raise StoreError(
            f"{folder} is not a Stethos backup: it should hold one database with its key file "
            "and audit anchor, as `store backup` writes them."
        )
    database = keyrings[0].with_name(keyrings[0].name.removesuffix(".keyring.json"))
    missing = [p.name for p in (database, anchor_path(database)) if not p.is_file()]
    if missing:
        raise StoreError(f"The backup in {folder} is incomplete: {', '.join(missing)} missing.")
    return database


def restore_backup(
    folder: str | Path,
    target: str | Path,
    user: str,
    password: str,
    *,
    kdf: KdfParams | None = None,
) -> RestoreReport:
    """Make the backup in ``folder`` the database at ``target`` (see the module).

    Raises
    ------
    StoreError
        Not a complete backup, the database is in use, or the copy fails a check.
    AuthenticationError, PermissionDeniedError
        The user and password do not open the backup as an administrator.
    """
    from engine.store.store import open_store

    source = backup_database(Path(folder).expanduser())
    target = Path(target).expanduser()
    if target.is_dir():
        raise StoreError(
            f"{target} is a folder: give the database file to replace (its stethos.db)."
        )
    if target.exists() and not keyring_path(target).exists():
        raise StoreError(
            f"{target} is not a Stethos database (it has no key file beside it); a restore "
            "replaces only a Stethos database."
        )
    if database_in_use(target):
        raise StoreError(
            f"{target.name} is open in Stethos on this workstation (a window or a command): "
            "close it, then restore."
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stage = target.parent / f".restore-{uuid.uuid4().hex[:8]}"
        stage.mkdir()
    except OSError as exc:
        raise StoreError(db.disk_problem(target.parent, exc), str(exc)) from exc
    try:
        staged = stage / target.name
        pairs = zip(backup_files(source, source.parent), backup_files(staged, stage), strict=True)
        for src, dst in pairs:
            copy_file(src, dst)
        with open_store(staged, user, password, kdf=kdf) as store:
            if not store.user.is_admin:
                raise PermissionDeniedError("Only an administrator can restore the database.")
            integrity = store.integrity_check()
            if integrity != "ok":
                raise StoreError(f"The backup failed SQLite's integrity check: {integrity}")
            check = store.verify_audit()
            if not check.ok:
                raise StoreError(f"The backup's audit trail does not verify: {check.problem}")
            entry = store.audit("restored", object_type="store", details={"from": str(folder)})
        replaced = _set_aside(target)
        for src in database_files(staged):
            if src.exists():
                os.replace(src, target.parent / src.name)
        return RestoreReport(target, replaced, entry.seq)
    except OSError as exc:
        raise StoreError(db.disk_problem(target.parent, exc), str(exc)) from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _set_aside(target: Path) -> Path | None:
    """Move every file of the database at ``target`` into a new ``replaced …`` folder."""
    present = [p for p in database_files(target) if p.exists()]
    if not present:
        return None
    kept = target.parent / f"replaced {datetime.now():%Y-%m-%d %H%M%S} {uuid.uuid4().hex[:4]}"
    kept.mkdir()
    for path in present:
        os.replace(path, kept / path.name)
    return kept
