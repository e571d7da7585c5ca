"""The store's audit operations: log, read, verify, re-anchor and export the audit trail;
the database checks and the workstation database's backup.

The chain and anchor themselves are in :mod:`engine.store.audit`; this is
the part of :class:`Store` that works on them with the signed-in session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import StoreError
from engine.progress import CancelToken, Progress, no_progress
from engine.store import audit as audit_log
from engine.store import db, migrations
from engine.store.backup import BackupReport
from engine.store.core import StoreCore, Tx, guarded
from engine.store.entities import AuditEntry, AuditReport
from engine.store.server_audit import sealed_now


class AuditMixin(StoreCore):
    """Audit trail and database checks (part of :class:`Store`)."""

    @guarded
    def reanchor(self, reason: str) -> AuditEntry:
        """Accept the audit log as it is now and anchor it again (administrators only).

        For after an investigation of a failed :meth:`verify_audit` (or a
        lost anchor file); the problem found and ``reason`` are logged.
        """
        self._require_admin("re-anchor the audit trail")
        if not reason.strip():
            raise StoreError("Say why the audit trail is re-anchored.")
        report = self.verify_audit()
        tx = Tx(self._conn(), self.session.user.username, self._now)
        # Not through _write: that only ever advances an anchor that still
        # matches the log, and this one must be replaced.
        with self._lock:
            # On a server the entry is sealed in its own transaction: it is anchored next.
            with db.write_transaction(tx.conn), sealed_now(tx.conn):
                tx.audit(
                    "audit_reanchored",
                    "audit",
                    report.first_bad_seq or "",
                    {"problem": report.problem, "reason": reason.strip()},
                )
            entry = tx.last
            assert entry is not None
            self._backend.reanchor(tx.conn, entry.seq, entry.hash)
            self._anchor_seq, self.anchor_problem = entry.seq, ""
        return entry

    @guarded
    def audit(
        self,
        action: str,
        *,
        object_type: str = "",
        object_id: str | int = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Log an event the store does not see itself (image opened, report printed, export)."""
        with self._write() as tx:
            tx.audit(action, object_type, object_id, details)
        assert tx.last is not None
        return tx.last

    @guarded
    def audit_entries(
        self,
        *,
        since_seq: int = 0,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | int | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Audit entries after ``since_seq``, optionally filtered (sealed ones: all of them)."""
        self._seal_audit()
        return audit_log.entries(
            self._conn(),
            since_seq=since_seq,
            action=action,
            object_type=object_type,
            object_id=object_id,
            limit=limit,
        )

    @guarded
    def verify_audit(
        self, *, progress: Progress = no_progress, cancel: CancelToken | None = None
    ) -> AuditReport:
        """Recompute the hash chain and compare it with the signed anchor.

        On a server, every committed entry is sealed first; the report
        counts those written meanwhile, still awaiting their seal.
        """
        waiting = self._seal_audit()
        conn = self._conn()
        anchor, problem = self._backend.anchor(conn)
        report = audit_log.verify(
            conn,
            anchor,
            problem,
            progress=progress,
            cancel=cancel,
        )
        return dataclasses.replace(report, awaiting_seal=waiting) if waiting else report

    def _seal_audit(self) -> int:
        """Seal the committed entries awaiting it (a server); how many still wait."""
        return audit_log.seal_pending(self._conn())

    @guarded
    def export_audit_csv(
        self,
        out: str | Path,
        *,
        progress: Progress = no_progress,
        cancel: CancelToken | None = None,
    ) -> int:
        """Write the audit trail to a CSV file; returns the number of entries written."""
        self._seal_audit()
        count = audit_log.export_csv(self._conn(), Path(out), progress=progress, cancel=cancel)
        with self._write() as tx:
            tx.audit("audit_exported", "audit", "", {"file": Path(out).name, "entries": count})
        return count

    @guarded
    def backup(
        self,
        folder: str | Path,
        *,
        progress: Progress = no_progress,
        cancel: CancelToken | None = None,
    ) -> BackupReport:
        """Write a consistent, checked copy of this workstation's database into ``folder``.

        Administrators only; logged (``backed_up``, with the folder and the
        last entry the copy holds). A clinic database on PostgreSQL is backed
        up on its server instead (see :mod:`engine.store.backup`).
        """
        self._require_admin("back up the database")
        backup = getattr(self._backend, "backup", None)
        if backup is None:
            raise StoreError(
                "This workstation uses the clinic's PostgreSQL database: it is backed up on "
                "its server, with the clinic's usual PostgreSQL backup (pg_dump or the like). "
                "`store backup` copies a workstation's own database file."
            )
        report: BackupReport = backup(Path(folder), progress=progress, cancel=cancel)
        with self._write() as tx:
            tx.audit(
                "backed_up",
                "store",
                self._backend.store_id,
                {"folder": str(report.folder), "up_to_entry": report.audit_entries},
            )
        return report

    @guarded
    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``, or the shared database's own check (``"ok"``)."""
        return db.integrity_check(self._conn())

    @guarded
    def schema_version(self) -> int:
        """The database's schema version."""
        return migrations.schema_version(self._conn())
