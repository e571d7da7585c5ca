"""Where received and retrieved DICOM instances are kept: hash-named files and an index.

Every instance is written atomically — a temporary file in the same folder,
flushed and fsynced, then renamed — under a name made from the SHA-256 of its
bytes (``ab/cd/abcd….dcm``), never from a UID or any other value in the
dataset: a SOP Instance UID of ``../../etc/x`` cannot leave the cache. An
SQLite index (``index.sqlite``) maps study, series and SOP instance UIDs to
those files, so a retrieve skips instances already here and the study
browser can open a study's files. Nothing half-written is ever indexed: the
index row is added after the rename.

The cache has a size limit: :meth:`InstanceCache.evict` removes the least
recently used studies that are not protected (linked to a patient record)
until it fits.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.resources import user_data_dir

#: Default size limit of the cache (bytes).
DEFAULT_LIMIT = 20 * 1024**3
#: Free space the cache leaves on its disk: a retrieve stops before the disk is full.
DEFAULT_RESERVE = 512 * 1024**2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    sop_instance_uid TEXT PRIMARY KEY,
    study_instance_uid TEXT NOT NULL,
    series_instance_uid TEXT NOT NULL,
    sop_class_uid TEXT NOT NULL,
    transfer_syntax TEXT NOT NULL,
    file TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    received_at REAL NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS by_study ON instances(study_instance_uid);
CREATE TABLE IF NOT EXISTS studies (
    study_instance_uid TEXT PRIMARY KEY,
    last_used REAL NOT NULL,
    protected INTEGER NOT NULL DEFAULT 0
);
"""


class CacheFullError(EngineError):
    """The disk (or the cache's limit) has no room for the next instance."""


class CacheUnusableError(EngineError):
    """The cache's folder cannot be created, written or its index opened."""


class UnstorableError(EngineError):
    """A dataset that cannot be written as a DICOM file (missing identity, bad values)."""


@dataclass(frozen=True)
class Stored:
    """One instance in the cache."""

    sop_instance_uid: str
    study_instance_uid: str
    path: Path
    new: bool
    #: Where it came from ("get:NODE", "store:AET", "wado:NODE").
    source: str = ""


def default_cache_dir() -> Path:
    return user_data_dir() / "dicom-cache"


class InstanceCache:
    """Hash-named instance files under ``root`` with their SQLite index (thread-safe)."""

    def __init__(self, root: str | Path | None = None, limit_bytes: int = DEFAULT_LIMIT,
                 reserve_bytes: int = DEFAULT_RESERVE) -> None:  # fmt: skip
        self.root = Path(root) if root is not None else default_cache_dir()
        self.limit_bytes = int(limit_bytes)
        #: Free space always left on the cache's disk (for the system and the patient store).
        self.reserve_bytes = int(reserve_bytes)
        self._lock = threading.Lock()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.root / "index.sqlite", check_same_thread=False)
            # Write-ahead log, synced at each commit: as durable as the default journal, with
            # one fsync per instance instead of several.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise CacheUnusableError(
                f"The DICOM folder {self.root} cannot be used: {why}. Choose a folder this "
                "workstation can write to.",
                repr(exc),
            ) from exc
        self._folders: set[Path] = set()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writing ---------------------------------------------------------------------------
    def has(self, sop_instance_uid: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT file FROM instances WHERE sop_instance_uid = ?", (sop_instance_uid,)
            ).fetchone()
        return row is not None and (self.root / row[0]).is_file()

    def store(self, ds: Any, *, source: str = "", encoded: bytes | None = None) -> Stored:
        """Write one dataset (with its file meta) and index it; an instance already here is
        kept as it is.

        ``encoded`` is the same instance as it arrived, in the DICOM file format (what
        pynetdicom's ``event.encoded_dataset(include_meta=True)`` gives): it is written
        byte for byte instead of encoding ``ds`` again, when its file meta names the same
        instance and class as ``ds``.

        Raises
        ------
        CacheFullError
            When the disk is full (nothing is indexed; the partial file is removed).
        """
        from pydicom.filewriter import dcmwrite

        try:
            sop_uid, sop_class = str(ds.SOPInstanceUID), str(ds.SOPClassUID)
            meta = ds.file_meta
            syntax = str(meta.TransferSyntaxUID)
            if (encoded is not None and sop_uid == meta.get("MediaStorageSOPInstanceUID")
                    and sop_class == meta.get("MediaStorageSOPClassUID")):  # fmt: skip
                data = bytes(encoded)
            else:
                buffer = io.BytesIO()
                dcmwrite(buffer, ds, enforce_file_format=True)
                data = buffer.getvalue()
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError,
                NotImplementedError) as exc:  # fmt: skip
            raise UnstorableError(
                "A received DICOM object cannot be stored: it lacks its identity (SOP Instance "
                "and Class UIDs, transfer syntax) or holds values that cannot be written.",
                f"{type(exc).__name__}: {exc}",
            ) from exc
        return self.store_bytes(
            data,
            sop_instance_uid=sop_uid,
            study_instance_uid=str(getattr(ds, "StudyInstanceUID", "")),
            series_instance_uid=str(getattr(ds, "SeriesInstanceUID", "")),
            sop_class_uid=sop_class,
            transfer_syntax=syntax,
            source=source,
        )

    def store_bytes(
        self, data: bytes, *, sop_instance_uid: str, study_instance_uid: str,
        series_instance_uid: str, sop_class_uid: str, transfer_syntax: str, source: str = "",
    ) -> Stored:  # fmt: skip
        digest = hashlib.sha256(data).hexdigest()
        rel = Path(digest[:2]) / digest[2:4] / f"{digest}.dcm"
        target = self.root / rel
        new = not target.is_file()
        if new:
            free = shutil.disk_usage(self.root).free
            if free - len(data) < self.reserve_bytes:
                raise CacheFullError(
                    f"The disk holding the DICOM cache ({self.root}) is nearly full "
                    f"({free / 1024**2:.0f} MB free; {self.reserve_bytes / 1024**2:.0f} MB are "
                    "kept free): the transfer stopped and what arrived so far is kept. Free "
                    "some space or lower the cache's size limit."
                )
            if target.parent not in self._folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._folders.add(target.parent)
            try:
                fd, tmp = tempfile.mkstemp(prefix=".part-", dir=target.parent)
            except FileNotFoundError:  # the folder was removed behind our back
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".part-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except OSError as exc:
                Path(tmp).unlink(missing_ok=True)
                raise CacheFullError(
                    f"The DICOM cache in {self.root} has no room for more images "
                    f"({exc.strerror or exc}); what arrived so far is kept.",
                    str(exc),
                ) from exc
        now = time.time()
        try:
            with self._lock, self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sop_instance_uid, study_instance_uid, series_instance_uid, sop_class_uid,
                     transfer_syntax, str(rel), len(data), now, source),
                )  # fmt: skip
                self._db.execute(
                    "INSERT INTO studies(study_instance_uid, last_used) VALUES (?, ?) "
                    "ON CONFLICT(study_instance_uid) DO UPDATE SET last_used = excluded.last_used",
                    (study_instance_uid, now),
                )
        except sqlite3.OperationalError as exc:  # the index cannot grow: the disk is full
            if new:
                target.unlink(missing_ok=True)  # not indexed, so not kept
            raise CacheFullError(
                f"The DICOM cache's index in {self.root} cannot grow ({exc}); what arrived so "
                "far is kept.",
                str(exc),
            ) from exc
        return Stored(sop_instance_uid, study_instance_uid, target, new, source)

    # --- reading ---------------------------------------------------------------------------
    def study_files(self, study_instance_uid: str, series_instance_uid: str = "") -> list[Path]:
        """The files of a study (or of one of its series), marked as used now
        (least-recently-used eviction)."""
        with self._lock, self._db:
            rows = self._db.execute(
                "SELECT file FROM instances WHERE study_instance_uid = ? "
                "AND (? = '' OR series_instance_uid = ?) ORDER BY file",
                (study_instance_uid, series_instance_uid, series_instance_uid),
            ).fetchall()
            self._db.execute(
                "UPDATE studies SET last_used = ? WHERE study_instance_uid = ?",
                (time.time(), study_instance_uid),
            )
        return [self.root / r[0] for r in rows]

    def studies(self) -> list[tuple[str, int, float]]:
        """``(study UID, instances, last used)`` of every study in the cache, newest first."""
        with self._lock:
            return self._db.execute(
                "SELECT s.study_instance_uid, COUNT(i.sop_instance_uid), s.last_used "
                "FROM studies s LEFT JOIN instances i USING (study_instance_uid) "
                "GROUP BY s.study_instance_uid ORDER BY s.last_used DESC"
            ).fetchall()

    def size_bytes(self) -> int:
        with self._lock:
            return int(
                self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM instances").fetchone()[0]
            )

    def protect(self, study_instance_uid: str, protected: bool = True) -> None:
        """Keep a study out of eviction (it is linked to a patient record)."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO studies(study_instance_uid, last_used, protected) VALUES (?, ?, ?) "
                "ON CONFLICT(study_instance_uid) DO UPDATE SET protected = excluded.protected",
                (study_instance_uid, time.time(), int(protected)),
            )

    def evict(self) -> list[str]:
        """Remove least recently used unprotected studies until the cache fits its limit.

        The most recently used study is never removed (it is the one being read or
        retrieved), even when it alone is over the limit.
        """
        removed = []
        while self.size_bytes() > self.limit_bytes:
            with self._lock:
                row = self._db.execute(
                    "SELECT study_instance_uid FROM studies WHERE protected = 0 "
                    "AND study_instance_uid != (SELECT study_instance_uid FROM studies "
                    "ORDER BY last_used DESC LIMIT 1) ORDER BY last_used ASC LIMIT 1"
                ).fetchone()
            if row is None:
                break
            self._remove_study(row[0])
            removed.append(row[0])
        return removed

    def _remove_study(self, uid: str) -> None:
        with self._lock, self._db:
            files = [r[0] for r in self._db.execute(
                "SELECT file FROM instances WHERE study_instance_uid = ?", (uid,))]  # fmt: skip
            self._db.execute("DELETE FROM instances WHERE study_instance_uid = ?", (uid,))
            self._db.execute("DELETE FROM studies WHERE study_instance_uid = ?", (uid,))
        for f in files:
            (self.root / f).unlink(missing_ok=True)


class BackgroundWriter:
    """Stores a retrieve's instances on a thread of its own, so that receiving the next
    instance overlaps writing this one (each is still written atomically and indexed).

    For retrieves only (C-GET, C-MOVE, WADO-RS): the peer keeps its copy, so an instance
    acknowledged but not yet on disk when the program stops is fetched again by the next
    retrieve. What is sent to us by a modality is stored before it is acknowledged
    (:class:`~engine.net.dimse.Listener`). At most ``max_pending`` instances wait in memory.
    """

    def __init__(self, cache: InstanceCache, *, on_stored: Any = None,
                 max_pending: int = 16) -> None:  # fmt: skip
        import queue

        self.cache = cache
        self.on_stored = on_stored
        self.stored = 0
        self.failed = 0
        #: The first CacheFullError (the writer stops storing after it).
        self.error: CacheFullError | None = None
        self._queue: queue.Queue[tuple[Any, str, bytes | None] | None] = queue.Queue(max_pending)
        self._thread = threading.Thread(target=self._run, name="cache-writer", daemon=True)
        self._thread.start()

    def put(self, ds: Any, *, source: str, encoded: bytes | None = None) -> None:
        """Queue one instance (waits while ``max_pending`` are queued).

        Raises
        ------
        CacheFullError
            When an earlier instance found the disk full.
        """
        if self.error is not None:
            raise self.error
        self._queue.put((ds, source, encoded))

    def close(self) -> None:
        """Write what is queued and stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        import logging

        while (item := self._queue.get()) is not None:
            if self.error is not None:
                continue  # the disk is full: what is still queued is dropped
            ds, source, encoded = item
            try:
                stored = self.cache.store(ds, source=source, encoded=encoded)
            except CacheFullError as exc:
                self.error = exc
                continue
            except Exception as exc:  # a dataset that cannot be written: counted, go on
                logging.getLogger(__name__).warning("instance not stored: %r", exc)
                self.failed += 1
                continue
            self.stored += 1
            if self.on_stored is not None:
                self.on_stored(stored)
