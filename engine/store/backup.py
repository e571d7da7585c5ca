"""A consistent, verified copy of a workstation's encrypted database (``store backup``).

A workstation's store is three files: the SQLCipher database (with its
write-ahead log while Stethos runs), its key file and the signed audit
anchor. Copying the folder while Stethos runs can catch the database without
the changes still in its write-ahead log, next to an anchor that already
counts them: restored, that copy reads as a log whose last entries were
removed, and the audit check fails for good.

A backup here is taken from one read snapshot with SQLite's online backup API
(the pages are copied as they are, encrypted with the same key), written with
the key file and an anchor signed for the snapshot's last audit entry, then
opened and checked (SQLite's integrity check, the audit chain against that
anchor) before the files get their names. The three files keep the names
they have in the data folder: restoring is copying them back, with Stethos
closed.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlcipher3

from engine.errors import StoreError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.store import audit as audit_log
from engine.store import crypto, db
from engine.store.keyring import anchor_path, keyring_path


@dataclass(frozen=True)
class BackupReport:
    """What :func:`write_backup` wrote and checked."""

    folder: Path
    files: tuple[Path, ...]  # database, key file, audit anchor
    audit_entries: int
    database_bytes: int


def backup_files(db_path: Path, folder: Path) -> tuple[Path, Path, Path]:
    """The database, key file and anchor a backup of ``db_path`` writes into ``folder``."""
    target = folder / db_path.name
    return target, keyring_path(target), anchor_path(target)


def write_backup(
    db_path: Path,
    data_key: bytes,
    store_id: str,
    folder: Path,
    *,
    copy_keyring: Callable[[Path], None],
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> BackupReport:
    """Write and check a backup of the database at ``db_path`` into ``folder``.

    ``copy_keyring(target)`` writes the key file as it is now (under the lock
    its rewrites take). Nothing is overwritten: a folder that already holds
    one of the three files is refused, and on any failure the partial files
    are removed.

    Raises
    ------
    StoreError
        The folder cannot be used, or the copy does not check out.
    """
    folder = Path(folder).expanduser()
    finals = backup_files(db_path, folder)
    if folder.resolve() == db_path.parent.resolve():
        raise StoreError("A backup must go to another folder than the database's own.")
    existing = [f.name for f in finals if f.exists()]
    if existing:
        raise StoreError(
            f"{folder} already holds {', '.join(existing)}; a backup never replaces one. "
            "Choose an empty folder (one per backup, e.g. named by date)."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(_folder_problem(folder, exc), str(exc)) from exc
    parts = tuple(f.with_name(f.name + ".part") for f in finals)
    try:
        return _write(db_path, data_key, store_id, finals, parts, copy_keyring, progress, cancel)
    except BaseException:
        for leftover in parts:
            for extra in ("", "-wal", "-shm"):
                leftover.with_name(leftover.name + extra).unlink(missing_ok=True)
        raise


def _write(
    db_path: Path,
    data_key: bytes,
    store_id: str,
    finals: tuple[Path, ...],
    parts: tuple[Path, ...],
    copy_keyring: Callable[[Path], None],
    progress: Progress,
    cancel: CancelToken | None,
) -> BackupReport:
    part_db, part_keyring, part_anchor = parts
    anchor_key = crypto.anchor_key(data_key)
    progress(0.0, "Copying the database")
    source = db.connect(db_path, data_key)
    try:
        target = sqlcipher3.connect(str(part_db), isolation_level=None)
        try:
            target.execute(f"PRAGMA key = \"x'{data_key.hex()}'\"")
            source.execute("BEGIN")  # one snapshot: the pages and the last entry agree
            try:
                last = source.execute(
                    "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                source.backup(target)
            finally:
                source.execute("ROLLBACK")
        except sqlcipher3.Error as exc:
            raise StoreError(_folder_problem(part_db.parent, exc), str(exc)) from exc
        finally:
            target.close()
    finally:
        source.close()
    _fsync(part_db)
    if last is None:
        raise StoreError(f"The database {db_path.name} has no audit trail to back up.")
    seq, digest = int(last[0]), str(last[1])
    check_cancelled(cancel)
    progress(0.6, "Copying the key file")
    copy_keyring(part_keyring)
    audit_log.write_anchor(part_anchor, anchor_key, store_id, seq, digest)
    progress(0.7, "Checking the copy")
    _check(part_db, part_anchor, data_key, anchor_key, store_id, cancel)
    for part, final in zip(parts, finals, strict=True):
        os.replace(part, final)
    progress(1.0, "Backup written and checked")
    return BackupReport(finals[0].parent, finals, seq, finals[0].stat().st_size)


def _check(
    part_db: Path,
    part_anchor: Path,
    data_key: bytes,
    anchor_key: bytes,
    store_id: str,
    cancel: CancelToken | None,
) -> None:
    """Open the copy as a restored store would and check it; ``StoreError`` if it fails."""
    conn = db.connect(part_db, data_key)
    try:
        integrity = db.integrity_check(conn)
        if integrity != "ok":
            raise StoreError(f"The copy failed SQLite's integrity check: {integrity}")
        anchor, problem = audit_log.file_anchor(part_anchor, anchor_key, store_id)
        report = audit_log.verify(conn, anchor, problem, cancel=cancel)
        if not report.ok:
            raise StoreError(f"The copy's audit trail does not verify: {report.problem}")
    finally:
        conn.close()


def copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` and make it durable."""
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        raise StoreError(_folder_problem(target.parent, exc), str(exc)) from exc
    _fsync(target)


def _fsync(path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    except OSError as exc:
        raise StoreError(_folder_problem(path.parent, exc), str(exc)) from exc


def _folder_problem(folder: Path, exc: BaseException) -> str:
    """Why the backup folder cannot be written, in plain words."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT) or "full" in str(exc).lower():
        why = "its disk is full"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        why = "it is read-only or not writable for this user"
    elif code in (errno.ENOTDIR, errno.EEXIST):
        why = "a file is in the way of a folder"
    elif code == errno.ENOENT:
        why = "that place does not exist (a disk not mounted?)"
    else:
        why = f"the disk reported an error ({exc})"
    return f"The backup cannot be written to {folder}: {why}. Nothing was backed up."
