"""The shared store's audit chain on the server: entries committed unsealed, sealed in batches.

A workstation's write transaction does not hold the chain's lock to its
commit (that lock would cover every commit's flush to disk, so writers could
never share one). Instead:

- the writing transaction adds each entry by :data:`ADD` to ``audit_pending``
  (an identity ``id`` gives the insertion order) and commits it with the
  change it records, without the lock;
- every :data:`SEAL_EVERY`-th entry (by ``id``) *tries* the chain's advisory
  lock in the same statement; if it gets it, it **seals** every committed
  pending entry and its own: moves them, in ``id`` order, into ``audit_log``
  with ``seq``, ``prev_hash`` and ``hash`` computed on the server exactly as
  :func:`engine.store.audit.entry_hash` computes them (sha256 of the
  canonical JSON); the lock is then held to its commit so the next sealer
  reads its tail. If another transaction holds the lock, it just commits;
- so while writes go on, entries wait at most a few writes for their seal;
  what waits when writers stop is sealed by a later write, by :func:`seal`
  (``audit verify``, the audit view, the export, the drift figures: they
  wait for the lock) and when a store closes.

``audit_log`` itself is unchanged: the same columns, the same primary key on
``seq``, the same anchor trigger, and every ``UPDATE``/``DELETE``/``TRUNCATE``
refused for everyone, so every reader (verify, export, the audit view,
``store migrate``) sees sealed entries only and no exception to the
append-only rule is needed. The pending table is not writable by the
workstation role at all: entries go in, and out into the chain, only through
these functions, which run as the schema's owner (``SECURITY DEFINER``) and
move an entry in one transaction (removed from the pending table, inserted
into the log). Nobody can ``UPDATE`` a pending entry (trigger).

:func:`install` creates all of it; it is idempotent and runs after every
migration (``grant``), so a database created with the earlier
``stethos_audit_append`` (lock held to the commit) is brought over when its
owner next connects; that function stays, for a workstation not yet updated,
as "add and seal, waiting for the lock".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.store.audit import GENESIS

#: The advisory-lock key that serialises sealing (``"stethos"`` in ASCII).
AUDIT_LOCK_KEY = 0x737465_74686F73
#: The group role every workstation's login role is a member of.
WORKSTATION_ROLE = "stethos_workstation"
#: A write seals when its entry's insertion id is a multiple of this (so while writes go
#: on, fewer than this many wait for their seal), not at every write: sealing in batches
#: costs the server less per entry (measured: docs/experiments/store-audit-sealing.md).
SEAL_EVERY = 8

_PENDING = """CREATE TABLE IF NOT EXISTS audit_pending (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TEXT NOT NULL,
    "user" TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    details TEXT NOT NULL)"""

#: Chains every committed pending entry (and this transaction's own), taken by one DELETE
#: in ``id`` order (exactly the rows it removes are chained: an entry committed meanwhile
#: stays for the next seal), after the tail; ``{capture}`` runs after each entry is
#: chained (``r``: the entry; ``t_seq``, ``t_prev``, ``t_hash``: its seal). Leaves their
#: count in ``n``. Runs with the lock held: a VOLATILE function reads with a fresh
#: snapshot per statement, so the tail is read after the lock was taken.
_CHAIN = """
      WITH taken AS (DELETE FROM audit_pending RETURNING *)
        SELECT array_agg(ROW(t.*)::audit_pending ORDER BY t.id) INTO batch FROM taken t;
      n := coalesce(cardinality(batch), 0);
      IF n > 0 THEN
        SELECT a.seq, a.hash INTO t_seq, t_hash FROM audit_log a ORDER BY a.seq DESC LIMIT 1;
        IF NOT FOUND THEN
          t_seq := 0;
          t_hash := '{genesis}';
        END IF;
        FOREACH r IN ARRAY batch LOOP
          t_seq := t_seq + 1;
          t_prev := t_hash;
          t_hash := encode(sha256(convert_to('{{"action":' || to_json(r.action)::text
            || ',"at":' || to_json(r.at)::text
            || ',"details":' || to_json(r.details)::text
            || ',"object_id":' || to_json(r.object_id)::text
            || ',"object_type":' || to_json(r.object_type)::text
            || ',"prev_hash":' || to_json(t_prev)::text
            || ',"seq":' || t_seq::text
            || ',"user":' || to_json(r."user")::text || '}}', 'UTF8')), 'hex');
          INSERT INTO audit_log (seq, at, "user", action, object_type, object_id, details,
                                 prev_hash, hash)
            VALUES (t_seq, r.at, r."user", r.action, r.object_type, r.object_id, r.details,
                    t_prev, t_hash);
          {capture}
        END LOOP;
      END IF;"""
_DECLARE = """
    DECLARE
      batch audit_pending[];
      r audit_pending;
      n INTEGER;
      t_seq BIGINT;
      t_hash TEXT;
      t_prev TEXT;"""

#: Seals every committed pending entry; with ``p_wait`` false only when the lock is free
#: now. Returns how many were sealed, or NULL when another transaction holds the lock.
_SEAL = f"""CREATE OR REPLACE FUNCTION stethos_audit_seal(p_wait BOOLEAN)
    RETURNS INTEGER
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path FROM CURRENT AS $${_DECLARE}
    BEGIN
      IF p_wait THEN
        PERFORM pg_advisory_xact_lock({AUDIT_LOCK_KEY});
      ELSIF NOT pg_try_advisory_xact_lock({AUDIT_LOCK_KEY}) THEN
        RETURN NULL;
      END IF;{_CHAIN.format(capture="", genesis=GENESIS)}
      RETURN n;
    END $$"""

#: Adds one entry, pending; when its ``id`` is a multiple of :data:`SEAL_EVERY` and the
#: chain's lock is free now (``p_wait``: once it is), seals every pending entry, its own
#: among them. Returns the entry's seq, prev_hash and hash, or NULLs while it awaits its
#: seal.
_ADD = f"""CREATE OR REPLACE FUNCTION stethos_audit_add(
        p_at TEXT, p_user TEXT, p_action TEXT, p_type TEXT, p_id TEXT, p_details TEXT,
        p_wait BOOLEAN)
    RETURNS TABLE (seq BIGINT, prev_hash TEXT, hash TEXT)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path FROM CURRENT AS $${_DECLARE}
      own BIGINT;
    BEGIN
      INSERT INTO audit_pending (at, "user", action, object_type, object_id, details)
        VALUES (p_at, p_user, p_action, p_type, p_id, p_details) RETURNING id INTO own;
      IF p_wait THEN
        PERFORM pg_advisory_xact_lock({AUDIT_LOCK_KEY});
      ELSIF own % {SEAL_EVERY} <> 0 OR NOT pg_try_advisory_xact_lock({AUDIT_LOCK_KEY}) THEN
        RETURN NEXT;  -- sealed by a later write, or another transaction seals now
        RETURN;
      END IF;{
    _CHAIN.format(
        capture="IF r.id = own THEN seq := t_seq; prev_hash := t_prev; hash := t_hash; END IF;",
        genesis=GENESIS,
    )
}
      RETURN NEXT;
    END $$"""

#: The earlier entry point (lock held to the commit), for a workstation not yet updated:
#: the same answer, now as "add, then seal waiting for the lock".
_APPEND = """CREATE OR REPLACE FUNCTION stethos_audit_append(
        p_at TEXT, p_user TEXT, p_action TEXT, p_type TEXT, p_id TEXT, p_details TEXT)
    RETURNS TABLE (seq BIGINT, prev_hash TEXT, hash TEXT) LANGUAGE sql VOLATILE AS $$
      SELECT * FROM stethos_audit_add(p_at, p_user, p_action, p_type, p_id, p_details, true)
    $$"""

_FUNCTIONS = {
    "stethos_audit_seal": "BOOLEAN",
    "stethos_audit_add": "TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, BOOLEAN",
    "stethos_audit_append": "TEXT, TEXT, TEXT, TEXT, TEXT, TEXT",
}

#: The statement a workstation's write sends for each entry (see :class:`SealedEntry`).
ADD = "SELECT seq, prev_hash, hash FROM stethos_audit_add(%s, %s, %s, %s, %s, %s, %s)"
#: What :data:`ADD` calls, as ``to_regprocedure`` names it (present: batch sealing installed).
ADD_SIGNATURE = "stethos_audit_add(text, text, text, text, text, text, boolean)"
#: The entry point of a database set up before batch sealing (lock held to the commit).
LEGACY_APPEND = "SELECT seq, prev_hash, hash FROM stethos_audit_append(%s, %s, %s, %s, %s, %s)"


def install(raw: Any) -> None:
    """Create or update the pending table and the functions (idempotent; as the owner).

    Run inside the transaction that grants the workstation role its rights.
    """
    raw.execute(_PENDING)
    raw.execute(
        "CREATE OR REPLACE TRIGGER audit_pending_no_update BEFORE UPDATE ON audit_pending "
        "FOR EACH ROW EXECUTE FUNCTION stethos_append_only()"
    )
    for statement in (_SEAL, _ADD, _APPEND):
        raw.execute(statement)
    for name, args in _FUNCTIONS.items():
        raw.execute(f"REVOKE ALL ON FUNCTION {name}({args}) FROM PUBLIC")
        raw.execute(f"GRANT EXECUTE ON FUNCTION {name}({args}) TO {WORKSTATION_ROLE}")


class SealedEntry:
    """The answer of :data:`ADD`, read as ``(seq, prev_hash, hash)`` after the ``COMMIT``.

    An entry still awaiting its seal reads as ``(0, "", "")``: it has no
    place in the chain yet (the store never anchors to seq 0).
    """

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def fetchone(self) -> tuple[int, str, str]:
        """The entry's place in the chain, or ``(0, "", "")`` while it awaits its seal."""
        row = self._cursor.fetchone()
        if row is None or row[0] is None:
            return 0, "", ""
        return int(row[0]), str(row[1]), str(row[2])


def seal(raw: Any, *, wait: bool = True) -> int | None:
    """Seal every committed pending entry now (own transaction: ``raw`` in autocommit).

    Returns how many were sealed, or ``None`` when ``wait`` is false and
    another workstation holds the lock (it seals them, or the next write does).
    """
    row = raw.execute("SELECT stethos_audit_seal(%s)", (wait,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def awaiting_seal(raw: Any) -> int:
    """How many committed entries are waiting for their seal."""
    return int(raw.execute("SELECT count(*) FROM audit_pending").fetchone()[0])


@contextmanager
def sealed_now(conn: Any) -> Iterator[None]:
    """Within: entries this connection adds are sealed in their own transaction (it waits)."""
    before = getattr(conn, "seal_wait", None)
    if before is None:  # not a server connection: SQLite chains every entry at once
        yield
        return
    conn.seal_wait = True
    try:
        yield
    finally:
        conn.seal_wait = before
