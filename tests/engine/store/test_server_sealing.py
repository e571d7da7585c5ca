"""Audit entries on the shared store: committed unsealed, sealed into the chain in batches.

What a user or IT would check: no entry is lost when several workstation
processes write at once, the chain verifies and everything is sealed once
they have signed out; an entry written while another workstation holds the
chain's lock waits for its seal and gets it from the next write, from
``audit verify`` or when its store closes; a workstation's role can neither
rewrite a sealed entry nor touch a pending one; a database set up before
batch sealing keeps working and is brought over when its owner signs in.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from engine.store import create_store, open_store
from engine.store.audit import entry_hash
from engine.store.server_audit import AUDIT_LOCK_KEY, SEAL_EVERY
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST
from tests.engine.store._legacy_audit import downgrade
from tests.engine.store._pg import OWNER, WORKSTATION, PgServer

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def urls(pg_server: PgServer) -> tuple[str, str]:
    """A fresh database with a store in it: (owner URL, workstation URL)."""
    name = pg_server.new_database()
    owner, ws = pg_server.url(OWNER, name), pg_server.url(WORKSTATION, name)
    create_store(owner, ADMIN, ADMIN_PASSWORD, kdf=FAST)[0].close()
    return owner, ws


@contextmanager
def chain_lock_held(owner: str) -> Iterator[None]:
    """Another session holds the chain's lock (as a workstation sealing a batch would)."""
    with psycopg.connect(owner, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (AUDIT_LOCK_KEY,))
        yield
        other.execute("SELECT pg_advisory_unlock(%s)", (AUDIT_LOCK_KEY,))


def pending(owner: str) -> list[tuple[str, str]]:
    with psycopg.connect(owner, autocommit=True) as conn:
        rows = conn.execute("SELECT action, object_type FROM audit_pending ORDER BY id").fetchall()
    return [(str(a), str(t)) for a, t in rows]


def chain(owner: str) -> list[tuple]:
    with psycopg.connect(owner, autocommit=True) as conn:
        return conn.execute(
            'SELECT seq, at, "user", action, object_type, object_id, details, prev_hash, hash '
            "FROM audit_log ORDER BY seq"
        ).fetchall()


def test_entries_written_while_the_lock_is_held_are_sealed_by_a_later_write(urls):
    owner, ws = urls
    store = open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    with chain_lock_held(owner):
        for i in range(SEAL_EVERY + 1):  # commit without waiting for the lock
            store.add_patient(f"P{i}", "Doe")
        assert pending(owner)[-SEAL_EVERY - 1 :] == [("created", "patient")] * (SEAL_EVERY + 1)
    assert not [r for r in chain(owner) if r[3] == "created"]
    for i in range(SEAL_EVERY):  # one of the next few writes seals all that wait
        store.add_patient(f"Q{i}", "Poe")
        if not pending(owner):
            break
    assert pending(owner) == []
    created = [r for r in chain(owner) if r[3] == "created"]
    assert [r[5] for r in created] == [str(i) for i in range(1, len(created) + 1)]  # in order
    seqs = [r[0] for r in chain(owner)]
    assert seqs == list(range(1, len(seqs) + 1))
    for seq, at, user, action, otype, oid, details, prev, digest in chain(owner):
        assert entry_hash(seq, at, user, action, otype, oid, details, prev) == digest
    assert store.verify_audit().ok
    store.close()


def test_verify_and_closing_seal_what_awaits_its_seal(urls):
    owner, ws = urls
    store = open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    with chain_lock_held(owner):
        store.add_patient("P1", "Doe")
    assert ("created", "patient") in pending(owner)
    report = store.verify_audit()  # seals first, then checks every sealed entry
    assert report.ok and report.awaiting_seal == 0 and pending(owner) == []
    assert store.audit_entries(action="created")[-1].object_id == "1"

    with chain_lock_held(owner):
        store.add_patient("P2", "Roe")
        store.audit("printed", object_type="patient", object_id=2)
    store.close()  # its logout entry, and the two before it, sealed before it goes
    assert pending(owner) == []
    assert [r[3] for r in chain(owner)][-3:] == ["created", "printed", "logout"]


def test_an_entry_reads_back_as_written_once_sealed(urls):
    owner, ws = urls
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        for i in range(SEAL_EVERY):
            entry = store.audit("printed", object_type="patient", object_id=i, details={"n": i})
            if entry.seq == 0:  # awaiting its seal: no place in the chain yet
                assert entry.hash == entry.prev_hash == "" and ("printed", "patient") in pending(
                    owner
                )
        sealed = store.audit_entries()[-1]  # the audit view seals what waits first
        assert (sealed.time, sealed.user, sealed.action, sealed.object_id, sealed.details) == (
            entry.time, entry.user, entry.action, entry.object_id, entry.details,
        )  # fmt: skip
        assert sealed.seq > 0 and len(sealed.hash) == 64 and pending(owner) == []


def test_reanchoring_seals_its_entry_and_anchors_the_tail(urls):
    owner, ws = urls
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        store.add_patient("P1", "Doe")
    with open_store(owner, ADMIN, ADMIN_PASSWORD, kdf=FAST) as admin:
        entry = admin.reanchor("routine check; ticket 7")
        assert entry.seq > 0 and entry.action == "audit_reanchored"
        assert admin.verify_audit().ok and admin.verify_audit().anchor_seq >= entry.seq


WRITER = textwrap.dedent(
    """
    import sys
    from engine.store import KdfParams, open_store

    store = open_store(sys.argv[1], "admin", "admin-password-1", kdf=KdfParams.fast())
    for i in range(int(sys.argv[2])):
        store.add_patient(f"{sys.argv[3]}-{i}", "Writer", sys.argv[3])
        store.audit("printed", object_type="patient", object_id=f"{sys.argv[3]}-{i}")
    store.close()
    """
)


def test_writer_processes_lose_no_entry_and_leave_everything_sealed(urls):
    owner, ws = urls
    n, tags = 40, ("a", "b", "c")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, ws, str(n), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for tag in tags
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in outputs]
    assert pending(owner) == []  # each store sealed what it left before it closed
    rows = chain(owner)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    printed = [r[5] for r in rows if r[3] == "printed"]
    for tag in tags:  # every entry of every writer, each writer's in its own order
        assert [p for p in printed if p.startswith(f"{tag}-")] == [f"{tag}-{i}" for i in range(n)]
    assert sum(r[3] == "created" for r in rows) == len(tags) * n
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        report = store.verify_audit()
        assert report.ok and report.awaiting_seal == 0, report
        assert store.integrity_check() == "ok"


def test_the_workstation_role_cannot_rewrite_or_reseal_an_entry(urls, pg_server: PgServer):
    owner, ws = urls
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        with chain_lock_held(owner):
            store.add_patient("P1", "Doe")  # at least this entry awaits its seal
        waiting = len(pending(owner))
        assert waiting >= 1
        with psycopg.connect(ws, autocommit=True) as conn:
            refused = (
                "UPDATE audit_log SET action = 'x'",
                "UPDATE audit_log SET seq = seq + 100, hash = 'f' WHERE seq = 1",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
                "INSERT INTO audit_log VALUES (999, 'at', 'u', 'a', '', '', '{}', 'p', 'h')",
                "UPDATE audit_pending SET action = 'x'",
                "DELETE FROM audit_pending",
                "TRUNCATE audit_pending",
                'INSERT INTO audit_pending (at, "user", action, object_type, object_id, details) '
                "VALUES ('at', 'u', 'a', '', '', '{}')",
            )
            for sql in refused:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(sql)  # type: ignore[arg-type]
            # What it may do: seal the pending entries into the chain, once.
            assert conn.execute("SELECT stethos_audit_seal(true)").fetchone() == (waiting,)
            assert conn.execute("SELECT stethos_audit_seal(true)").fetchone() == (0,)
        assert store.verify_audit().ok
    with psycopg.connect(owner, autocommit=True) as conn:  # the owner too: triggers
        conn.execute(
            'INSERT INTO audit_pending (at, "user", action, object_type, object_id, details) '
            "VALUES ('2026-01-01T00:00:00.000000+00:00', 'u', 'printed', '', '', '{}')"
        )
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE audit_pending SET action = 'deleted'")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE audit_log SET action = 'x' WHERE seq = 1")


def test_a_database_made_before_batch_sealing_keeps_working_and_is_brought_over(urls):
    owner, ws = urls
    downgrade(owner)
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:  # not upgraded by a workstation
        store.add_patient("OLD1", "Doe")
        assert store.audit_entries(action="created")[-1].seq > 0  # chained at once, as before
        assert store.verify_audit().ok
    with psycopg.connect(owner, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('audit_pending')").fetchone() == (None,)
    for _ in range(2):  # the owner signing in brings it over; again changes nothing
        with open_store(owner, ADMIN, ADMIN_PASSWORD, kdf=FAST) as admin:
            assert admin.integrity_check() == "ok"
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        with chain_lock_held(owner):
            store.add_patient("NEW1", "Roe")  # committed unsealed: batch sealing is in use
            assert ("created", "patient") in pending(owner)
        store.add_patient("NEW2", "Poe")
        report = store.verify_audit()
        assert report.ok and report.awaiting_seal == 0
        assert [e.object_id for e in store.audit_entries(action="created")] == ["1", "2", "3"]
