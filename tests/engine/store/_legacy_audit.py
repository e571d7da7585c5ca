"""A shared database as Stethos set it up before audit entries were sealed in batches.

:func:`downgrade` turns a freshly created server store back into one made
with the earlier ``stethos_audit_append`` (advisory lock held to the commit,
the entry chained at once, workstations inserting into ``audit_log``
themselves): to test that such a database keeps working and is brought
over, and for the benchmark to measure the earlier design in the same run.
"""

from __future__ import annotations

from engine.store.audit import GENESIS
from engine.store.server_audit import AUDIT_LOCK_KEY, WORKSTATION_ROLE

#: ``stethos_audit_append`` exactly as the earlier ``engine/store/server.py`` created it.
LEGACY_APPEND_FUNCTION = f"""CREATE OR REPLACE FUNCTION stethos_audit_append(
        p_at TEXT, p_user TEXT, p_action TEXT, p_type TEXT, p_id TEXT, p_details TEXT)
    RETURNS TABLE (seq BIGINT, prev_hash TEXT, hash TEXT) LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
      t_seq BIGINT;
      t_hash TEXT;
      payload TEXT;
    BEGIN
      PERFORM pg_advisory_xact_lock({AUDIT_LOCK_KEY});
      SELECT a.seq, a.hash INTO t_seq, t_hash FROM audit_log a ORDER BY a.seq DESC LIMIT 1;
      IF NOT FOUND THEN
        t_seq := 0;
        t_hash := '{GENESIS}';
      END IF;
      payload := '{{"action":' || to_json(p_action)::text
        || ',"at":' || to_json(p_at)::text
        || ',"details":' || to_json(p_details)::text
        || ',"object_id":' || to_json(p_id)::text
        || ',"object_type":' || to_json(p_type)::text
        || ',"prev_hash":' || to_json(t_hash)::text
        || ',"seq":' || (t_seq + 1)::text
        || ',"user":' || to_json(p_user)::text || '}}';
      seq := t_seq + 1;
      prev_hash := t_hash;
      hash := encode(sha256(convert_to(payload, 'UTF8')), 'hex');
      INSERT INTO audit_log (seq, at, "user", action, object_type, object_id, details,
                             prev_hash, hash)
        VALUES (seq, p_at, p_user, p_action, p_type, p_id, p_details, prev_hash, hash);
      RETURN NEXT;
    END $$"""


def downgrade(owner_url: str) -> None:
    """Make the store at ``owner_url`` (no entry awaiting its seal) as the earlier version left it."""
    import psycopg

    with psycopg.connect(owner_url, autocommit=True) as conn:
        with conn.transaction():
            pending = conn.execute("SELECT count(*) FROM audit_pending").fetchone()
            assert pending is not None and pending[0] == 0, "seal every entry first"
            conn.execute(
                "DROP FUNCTION stethos_audit_add(TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, BOOLEAN)"
            )
            conn.execute("DROP FUNCTION stethos_audit_seal(BOOLEAN)")
            conn.execute("DROP TABLE audit_pending")
            conn.execute(LEGACY_APPEND_FUNCTION)  # type: ignore[arg-type]
            conn.execute(f"GRANT INSERT ON audit_log TO {WORKSTATION_ROLE}")  # type: ignore[arg-type]
            conn.execute(
                "GRANT EXECUTE ON FUNCTION stethos_audit_append(TEXT, TEXT, TEXT, TEXT, TEXT, TEXT) "  # type: ignore[arg-type]
                f"TO {WORKSTATION_ROLE}"
            )
