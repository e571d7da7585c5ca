"""The append-only, hash-chained audit log and its signed anchor.

Each entry is ``(seq, at, user, action, object_type, object_id, details,
prev_hash, hash)`` with ``hash = sha256(canonical JSON of every other field,
prev_hash included)``; the first entry's ``prev_hash`` is 64 zeros. Editing
an entry breaks its hash; deleting one breaks the sequence and the next
entry's ``prev_hash``.

Deleting the *last* entries leaves a valid chain, so after each commit the
store also writes an *anchor* (latest seq and hash) to a file next to the
database, signed with an HMAC key derived from the data key. The anchor may
lag behind the log (a crash between commit and anchor write), never run
ahead of it; a log shorter than its anchor, or whose entry at the anchored
seq has another hash, has lost entries.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.errors import AuditError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.store import crypto
from engine.store.db import Connection
from engine.store.entities import AuditEntry, AuditReport, DriftRow
from engine.store.keyring import atomic_write_text

GENESIS = "0" * 64

#: Actions the store writes; the GUI may add its own with :meth:`Store.audit`.
ACTIONS = (
    "store_created",
    "migrated",
    "login",
    "logout",
    "unlocked",
    "opened",
    "created",
    "changed",
    "deleted",
    "analysed",
    "decided",
    "linked",
    "exported",
    "printed",
    "user_created",
    "user_disabled",
    "password_changed",
    "access_reset",
    "access_recovered",
    "recovery_key_replaced",
    "audit_exported",
    "audit_reanchored",
    "merged",
    "backed_up",
    "restored",
)

#: The audit log's columns, in the order they are stored and hashed.
COLUMNS = 'seq, at, "user", action, object_type, object_id, details, prev_hash, hash'
#: Appending one entry: its nine values in :data:`COLUMNS` order.
INSERT = f"INSERT INTO audit_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
#: Reading entries (add a ``WHERE`` / ``ORDER BY``).
SELECT = f"SELECT {COLUMNS} FROM audit_log"

CSV_COLUMNS = (
    "seq",
    "time",
    "user",
    "action",
    "object_type",
    "object_id",
    "details",
    "prev_hash",
    "hash",
)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: one text per value, for hashing."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays from model outputs; dates and paths in details
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def entry_hash(
    seq: int,
    at: str,
    user: str,
    action: str,
    object_type: str,
    object_id: str,
    details: str,
    prev_hash: str,
) -> str:
    """sha256 hex of the canonical JSON of an entry (``details`` as stored text)."""
    payload = {
        "seq": seq,
        "at": at,
        "user": user,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def request_tail(conn: Connection) -> Any:
    """Ask for the log's last ``(seq, hash)``; read it with ``.fetchone()`` (see :func:`append`).

    SQLite's ``BEGIN IMMEDIATE`` already holds the only write lock, so the
    tail read is the tail the entry follows.
    """
    return conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")


def checked_details(action: str, details: Mapping[str, Any] | None) -> str:
    """``details`` as the canonical JSON text stored, after checking ``action``.

    Raises
    ------
    AuditError
        ``action`` is not lower-case words joined by ``_``.
    """
    if not action or not action.replace("_", "").isalnum() or action.lower() != action:
        raise AuditError(f"“{action}” is not a valid audit action (lower-case words).")
    if not details:
        return "{}"  # canonical_json({}), the details of most entries
    return canonical_json(dict(details))


def entry_from(
    seq: int, at: str, user: str, action: str, object_type: str, oid: str, text: str,
    prev: str, digest: str,
) -> AuditEntry:  # fmt: skip
    """The :class:`AuditEntry` of an appended row (``text``: its details as stored)."""
    return AuditEntry(
        int(seq),
        datetime.fromisoformat(at),
        user,
        action,
        object_type,
        oid,
        {} if text == "{}" else json.loads(text),
        str(prev),
        str(digest),
    )


def append(
    conn: Connection,
    *,
    at: str,
    user: str,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    details: Mapping[str, Any] | None = None,
    tail: Any = None,
) -> AuditEntry:
    """Append one entry; call inside the write transaction of the change it records.

    ``tail`` is what :func:`request_tail` returned, when it was asked for
    earlier in the transaction (else it is asked for now).
    """
    text = checked_details(action, details)
    tail = (tail if tail is not None else request_tail(conn)).fetchone()
    seq, prev = (1, GENESIS) if tail is None else (int(tail[0]) + 1, str(tail[1]))
    oid = str(object_id)
    digest = entry_hash(seq, at, user, action, object_type, oid, text, prev)
    conn.execute(INSERT, (seq, at, user, action, object_type, oid, text, prev, digest))
    return entry_from(seq, at, user, action, object_type, oid, text, prev, digest)


def seal_pending(conn: Connection) -> int:
    """Seal the entries a shared database holds awaiting their seal; how many still wait.

    A local database chains every entry as it is written (nothing waits);
    see :mod:`engine.store.server_audit` for the server.
    """
    seal = getattr(conn, "seal_pending", None)
    return 0 if seal is None else int(seal())


def _row_entry(row: tuple) -> AuditEntry:
    seq, at, user, action, otype, oid, details, prev, digest = row
    return AuditEntry(
        int(seq),
        datetime.fromisoformat(at),
        user,
        action,
        otype,
        oid,
        json.loads(details),
        prev,
        digest,
    )


def entries(
    conn: Connection,
    *,
    since_seq: int = 0,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Entries after ``since_seq`` in order, optionally filtered."""
    sql = SELECT + " WHERE seq > ?"
    args: list[Any] = [since_seq]
    if action is not None:
        sql += " AND action = ?"
        args.append(action)
    if object_type is not None:
        sql += " AND object_type = ?"
        args.append(object_type)
    if object_id is not None:
        sql += " AND object_id = ?"
        args.append(str(object_id))
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(int(limit))
    return [_row_entry(r) for r in conn.execute(sql, args)]


def _raw_rows(conn: Connection) -> Iterator[tuple]:
    cursor = conn.execute(SELECT + " ORDER BY seq")
    while True:
        batch = cursor.fetchmany(2000)
        if not batch:
            return
        yield from batch


# --- anchor -------------------------------------------------------------------
@dataclass(frozen=True)
class Anchor:
    """The signed ``(seq, hash)`` of the latest entry known to be committed."""

    seq: int
    hash: str
    signature: str


def _anchor_message(store_id: str, seq: int, digest: str) -> bytes:
    return f"stethos-audit-anchor:v1:{store_id}:{seq}:{digest}".encode()


def write_anchor(path: Path, key: bytes, store_id: str, seq: int, digest: str) -> None:
    """Write the anchor file atomically."""
    data = {
        "seq": seq,
        "hash": digest,
        "signature": crypto.sign(key, _anchor_message(store_id, seq, digest)),
    }
    atomic_write_text(path, json.dumps(data, indent=1), durable_rename=False)


def read_anchor(path: Path) -> tuple[Anchor | None, str]:
    """The anchor and ``""``, or ``None`` and why it could not be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Anchor(int(data["seq"]), str(data["hash"]), str(data["signature"])), ""
    except FileNotFoundError:
        return None, f"the anchor file {path.name} is missing"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"the anchor file {path.name} is damaged ({exc})"


def anchor_valid(anchor: Anchor, key: bytes, store_id: str) -> bool:
    """Whether the anchor's signature is this store's."""
    return crypto.signature_ok(
        key, _anchor_message(store_id, anchor.seq, anchor.hash), anchor.signature
    )


def checked_anchor(
    conn: Connection, path: Path, key: bytes, store_id: str
) -> tuple[Anchor | None, str]:
    """The anchor if it is signed by this store and its entry is in the log, else why not.

    The store advances the anchor only from a checked one: after entries
    were removed, writing a fresh anchor would erase the evidence.
    """
    anchor, problem = read_anchor(path)
    if anchor is None:
        return None, problem
    if not anchor_valid(anchor, key, store_id):
        return None, f"the anchor file {path.name} was altered"
    row = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (anchor.seq,)).fetchone()
    if row is None or row[0] != anchor.hash:
        return None, f"the audit log no longer contains anchored entry {anchor.seq}"
    return anchor, ""


def advance_anchor(
    conn: Connection, path: Path, key: bytes, store_id: str, seq: int, digest: str
) -> str:
    """Move the anchor to ``(seq, digest)`` if the current one checks out; returns a problem.

    Returns ``""`` when the anchor was advanced (or already further).
    """
    anchor, problem = checked_anchor(conn, path, key, store_id)
    if anchor is None:
        return problem
    if seq > anchor.seq:
        write_anchor(path, key, store_id, seq, digest)
    return ""


# --- verification ---------------------------------------------------------------
def file_anchor(path: Path, key: bytes, store_id: str) -> tuple[Anchor | None, str]:
    """The anchor file's anchor if its signature is this store's, else ``None`` and why."""
    anchor, problem = read_anchor(path)
    if anchor is not None and not anchor_valid(anchor, key, store_id):
        return None, f"the anchor file {path.name} was altered"
    return anchor, problem


def verify(
    conn: Connection,
    anchor: Anchor | None,
    anchor_problem: str,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> AuditReport:
    """Recompute the chain, then compare its end with the anchor.

    Parameters
    ----------
    anchor, anchor_problem
        The checked anchor (the signed file next to a local database, the
        server-kept row of a shared one), or ``None`` and why there is none.
    """
    total = int(conn.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    progress(0.0, "Checking the audit trail")
    anchor_seq = anchor.seq if anchor is not None else None

    def bad(seq: int | None, problem: str, count: int) -> AuditReport:
        progress(1.0, "Audit trail check failed")
        return AuditReport(False, count, seq, problem, anchor_seq)

    expected, prev, count, hash_at_anchor = 1, GENESIS, 0, None
    for row in _raw_rows(conn):
        seq, at, user, action, otype, oid, details, prev_hash, digest = row
        if seq != expected:
            return bad(
                expected,
                f"entry {expected} is missing (the log jumps from {expected - 1} to {seq}).",
                count,
            )
        if prev_hash != prev:
            return bad(seq, f"entry {seq} does not follow entry {seq - 1}.", count)
        if entry_hash(seq, at, user, action, otype, oid, details, prev_hash) != digest:
            return bad(seq, f"entry {seq} was changed after it was written.", count)
        if anchor_seq == seq:
            hash_at_anchor = digest
        prev, expected, count = digest, expected + 1, count + 1
        if count % 2000 == 0:
            check_cancelled(cancel)
            progress(count / max(total, 1), f"Checked {count} of {total} entries")
    last = expected - 1
    if anchor is None:
        if count:
            return bad(
                None, anchor_problem + "; removed entries at the end would go unseen.", count
            )
    elif anchor.seq > last:
        return bad(
            last + 1,
            f"entries {last + 1} to {anchor.seq} were removed from the end of the log.",
            count,
        )
    elif hash_at_anchor != anchor.hash:
        return bad(anchor.seq, f"entry {anchor.seq} differs from the anchored one.", count)
    progress(1.0, "Audit trail verified")
    return AuditReport(True, count, None, "", anchor_seq)


# --- export -----------------------------------------------------------------------
def export_csv(
    conn: Connection,
    out: Path,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> int:
    """Write every entry to ``out`` as CSV (UTF-8 with BOM for spreadsheets); returns the count."""
    total = int(conn.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    tmp = out.with_name(out.name + ".part")
    count = 0
    try:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_COLUMNS)
            for row in _raw_rows(conn):
                writer.writerow(row)
                count += 1
                if count % 2000 == 0:
                    check_cancelled(cancel)
                    progress(count / max(total, 1), f"Exported {count} of {total} entries")
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AuditError(f"Could not write the audit export {out.name}: {exc.strerror}.") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    progress(1.0, f"Exported {count} entries")
    return count


# --- drift --------------------------------------------------------------------------
def period_of(moment: datetime, period: str) -> str:
    """``YYYY-MM`` for ``"month"``, ISO ``YYYY-Www`` for ``"week"``."""
    if period == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year:04d}-W{week:02d}"
    raise AuditError(f"Unknown drift period “{period}”; use “month” or “week”.")


def drift(conn: Connection, period: str = "month", model_id: str | None = None) -> list[DriftRow]:
    """Per model version and period, share of positive results and of overrides.

    Built from the audit trail (``analysed`` and ``decided`` entries), so it
    reflects exactly what was logged; each result counts in the period it
    was produced, with its latest decision.
    """
    period_of(datetime(2000, 1, 1), period)  # validate early
    seal_pending(conn)
    results: dict[str, tuple[str, str, str, bool | None]] = {}
    latest_decision: dict[str, str] = {}
    for entry in entries(conn, action="analysed"):
        d = entry.details
        if model_id is not None and d.get("model_id") != model_id:
            continue
        key = str(entry.object_id)
        positive = d.get("positive")
        results[key] = (
            str(d.get("model_id", "")),
            str(d.get("model_version", "")),
            period_of(entry.time, period),
            None if positive is None else bool(positive),
        )
    for entry in entries(conn, action="decided"):
        result_id = str(entry.details.get("result_id", ""))
        if result_id in results:
            latest_decision[result_id] = str(entry.details.get("decision", ""))
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for result_id, (mid, version, when, positive) in results.items():
        g = groups[(mid, version, when)]
        if positive is not None:
            g[0] += 1
            g[1] += int(positive)
        g[4] += 1
        decision = latest_decision.get(result_id)
        if decision is not None:
            g[2] += 1
            g[3] += int(decision == "overridden")
    rows = []
    for (mid, version, when), (known, positives, decided, overridden, total) in sorted(
        groups.items()
    ):
        rows.append(
            DriftRow(
                model_id=mid,
                model_version=version,
                period=when,
                results=total,
                positives=positives,
                positive_share=positives / known if known else None,
                decided=decided,
                overridden=overridden,
                override_share=overridden / decided if decided else None,
            )
        )
    return rows
