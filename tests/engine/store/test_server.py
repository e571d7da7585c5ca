"""The shared store on PostgreSQL: what only a server has.

Roles and grants, TLS, several processes writing at once, the server killed
mid-transaction, copying a workstation's store over, and the command line
with a ``postgresql://`` address. (Everything the two backends share runs in
the parametrised suite of this folder.)
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from engine.cli import main as cli_main
from engine.errors import (
    AuthenticationError,
    StoreConflictError,
    StoreError,
    StoreUnreachableError,
)
from engine.store import create_store, open_store
from engine.store.credentials import credentials_path
from engine.store.server import ServerBackend
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST, HEART
from tests.engine.store._pg import (
    OWNER,
    WORKSTATION,
    WORKSTATION_PASSWORD,
    PgServer,
    throwaway_server,
)
from tests.engine.store._results import fake_result

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def urls(pg_server: PgServer) -> tuple[str, str]:
    """A fresh database with a store in it: (owner URL, workstation URL)."""
    name = pg_server.new_database()
    owner, ws = pg_server.url(OWNER, name), pg_server.url(WORKSTATION, name)
    store, _ = create_store(owner, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    store.close()
    return owner, ws


# --- addresses and TLS ---------------------------------------------------------------------------
def test_a_url_is_never_taken_for_a_path(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
    code = cli_main(["store", "init", "--db", "postgresql://ws1@db.clinic.invalid/stethos",
                     "--user", ADMIN])  # fmt: skip
    assert code == 1 and "sslmode=verify-full" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no folder called "postgresql:"
    with pytest.raises(StoreError, match="the // is missing"):
        create_store(Path("postgresql://ws1@localhost/stethos"), ADMIN, ADMIN_PASSWORD, kdf=FAST)
    assert list(tmp_path.iterdir()) == []


def test_tls_is_required_for_a_server_on_another_machine(tmp_path: Path):
    for url in (
        "postgresql://ws1@db.clinic.example/stethos",
        "postgresql://ws1@10.0.0.5/stethos?sslmode=require&sslrootcert=/etc/ca.pem",
        "postgresql://ws1@10.0.0.5/stethos?sslmode=prefer",
    ):
        with pytest.raises(StoreError, match="verify-full") as err:
            ServerBackend(url)
        assert "localhost" in err.value.user_message
    with pytest.raises(StoreError, match="does not exist"):
        ServerBackend(f"postgresql://ws1@10.0.0.5/s?sslmode=verify-full&sslrootcert={tmp_path}/x")
    with pytest.raises(StoreError, match="must not contain a password"):
        ServerBackend("postgresql://ws1:secret@localhost/stethos")
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    ok = ServerBackend(f"postgresql://ws1@10.0.0.5/s?sslmode=verify-full&sslrootcert={ca}")
    assert ok.params["sslmode"] == "verify-full" and ok.location == "postgresql://ws1@10.0.0.5/s"
    assert ServerBackend("postgresql://ws1@localhost/s").params.get("sslmode") is None


def test_tls_connection_with_the_clinic_ca_and_a_password(pg_server: PgServer, tmp_path: Path):
    name = pg_server.new_database()
    create_store(pg_server.url(OWNER, name), ADMIN, ADMIN_PASSWORD, kdf=FAST)[0].close()
    url = pg_server.tls_url(WORKSTATION, name)
    with open_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST,
                    server_password=WORKSTATION_PASSWORD) as store:  # fmt: skip
        ssl = store._conn().execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert ssl.fetchone()[0] is True
        assert store.location.startswith(f"postgresql://{WORKSTATION}@127.0.0.2:")
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_text((pg_server.root / "server.crt").read_text())  # not the CA
    wrong = url.replace(str(pg_server.ca_file), str(other_ca))
    with pytest.raises(StoreError, match="certificate"):
        open_store(wrong, ADMIN, ADMIN_PASSWORD, kdf=FAST, server_password=WORKSTATION_PASSWORD)


# --- roles ---------------------------------------------------------------------------------------
def test_workstation_role_cannot_update_or_delete_the_audit_log(urls, pg_server: PgServer):
    owner, ws = urls
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        store.add_patient("A1", "Doe")
        assert store.integrity_check() == "ok" and store.verify_audit().ok
    with psycopg.connect(ws, autocommit=True) as conn:
        for sql in (
            "UPDATE audit_log SET action = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "UPDATE audit_anchor SET seq = 1",
            "DELETE FROM schema_version",
            "UPDATE results SET label = 'x'",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)  # type: ignore[arg-type]
    # Not even the owner can through Stethos' triggers (only by dropping them: verify sees it).
    with psycopg.connect(owner, autocommit=True) as conn:
        for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log",
                    "TRUNCATE audit_log"):  # fmt: skip
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(sql)  # type: ignore[arg-type]


def test_version_conflict_between_two_workstations(urls):
    _, ws = urls
    a = open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    b = open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    p = a.add_patient("A1", "Doe")
    visit = a.add_encounter(p.id)
    rec = a.save_record(visit.id, HEART)
    seen_by_b = b.get_patient(p.id)
    a.update_patient(p.id, {"given_name": "Jane"}, expected_version=1)
    with pytest.raises(StoreConflictError):
        b.update_patient(p.id, {"given_name": "Joan"}, expected_version=seen_by_b.version)
    a.update_record(rec.id, {**HEART, "chol": 240})
    with pytest.raises(StoreConflictError):
        b.update_record(rec.id, {**HEART, "chol": 250})
    assert b.get_patient(p.id).given_name == "Jane" and a.verify_audit().ok
    a.close()
    b.close()


# --- concurrency ---------------------------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import sys
    from engine.errors import StoreConflictError
    from engine.store import KdfParams, ResultInput, open_store

    store = open_store(sys.argv[1], "admin", "admin-password-1", kdf=KdfParams.fast())
    patient_id, visit_id, n = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    result = ResultInput(
        model_id="m", model_version="1", model_name="", weights_sha256="w" * 64,
        input_hash="i" * 64, label="yes", probabilities={"yes": 0.6, "no": 0.4},
        positive_label="yes",
    )
    done = conflicts = 0
    while done < n:
        store.save_result(visit_id, result)
        current = store.get_patient(patient_id)
        try:
            store.update_patient(patient_id, {"given_name": f"{sys.argv[5]}{done}"},
                                 expected_version=current.version)
            done += 1
        except StoreConflictError:
            conflicts += 1
    print(done, conflicts, flush=True)
    store.close()
    """
)


def test_two_processes_write_concurrently_without_losing_an_update(urls):
    _, ws = urls
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        p = store.add_patient("SHARED", "Doe")
        visit = store.add_encounter(p.id)
    n = 60
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, ws, str(p.id), str(visit.id), str(n), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for tag in ("a", "b")
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in outputs]
    conflicts = sum(int(out.split()[1]) for out, _ in outputs)
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        patient = store.get_patient(p.id)
        history = store.patient_history(p.id)
        assert patient.version == 1 + 2 * n == len(history)  # every accepted update is kept
        assert [v.version for v in history] == list(range(1, 2 * n + 2))
        assert len(store.results(visit.id)) == 2 * n + conflicts  # one per attempt
        changed = store.audit_entries(action="changed", object_type="patient")
        assert [e.details["version"] for e in changed] == list(range(2, 2 * n + 2))
        report = store.verify_audit()
        assert report.ok, report


# --- the server going away -----------------------------------------------------------------------
@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A cluster of this test's own (it gets killed)."""
    with throwaway_server(fsync=True) as server:
        yield server


def test_server_killed_mid_transaction_keeps_nothing_half_written(own_server: PgServer):
    name = own_server.new_database()
    owner, ws = own_server.url(OWNER, name), own_server.url(WORKSTATION, name)
    create_store(owner, ADMIN, ADMIN_PASSWORD, kdf=FAST)[0].close()
    store = open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    p = store.add_patient("A1", "Doe")
    visit = store.add_encounter(p.id)
    store.save_result(visit.id, fake_result())
    entries_before = len(store.audit_entries())

    # Another session holds the audit entries, so the save stops half-way: its result row
    # is written, its audit entry waits. Then the server dies.
    blocker = psycopg.connect(owner)
    blocker.execute("LOCK TABLE audit_pending IN EXCLUSIVE MODE")
    errors: list[BaseException] = []

    def save() -> None:
        try:
            store.save_result(visit.id, fake_result("no disease", 0.1))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=save)
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        waiting = own_server.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%audit%'",
            dbname=name,
        )
        if waiting[0][0]:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the save never reached its audit entry")
    own_server.kill()
    thread.join(timeout=60)
    blocker.close()
    assert len(errors) == 1 and isinstance(errors[0], StoreUnreachableError), errors
    assert "cannot be reached" in errors[0].user_message
    with pytest.raises(StoreUnreachableError):  # still down: a clear message, no crash
        store.search_patients("")

    own_server.start()
    # The same open store connects again by itself.
    assert [r.label for r in store.results(visit.id)] == ["disease"]  # the half save is gone
    assert len(store.audit_entries()) == entries_before
    again = store.save_result(visit.id, fake_result("no disease", 0.1))  # and saving works
    assert again.label == "no disease"
    assert store.verify_audit().ok and store.integrity_check() == "ok"
    store.close()


# --- copying a workstation's store ---------------------------------------------------------------
def _activity(store) -> None:
    p = store.add_patient("A1", "Müller", "Anna", "1950-03-01", "F")
    store.update_patient(p.id, {"given_name": "Anne"})
    visit = store.add_encounter(p.id)
    rec = store.save_record(visit.id, HEART)
    store.update_record(rec.id, {**HEART, "chol": 240})
    link = store.link_study(p.id, study_uid="1.2.3", path="/s", encounter_id=visit.id)
    result = store.save_result(visit.id, fake_result(), record_id=rec.id, study_link_id=link.id)
    store.record_decision(result.id, "overridden", "old infarct")
    store.create_user("dr.lee", "clinician-pass-1")


def test_migrate_copies_a_workstation_store_idempotently(
    pg_server: PgServer, tmp_path: Path, monkeypatch, capsys
):
    local = tmp_path / "stethos.db"
    store, _ = create_store(local, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    _activity(store)
    store.close()
    name = pg_server.new_database()
    owner, ws = pg_server.url(OWNER, name), pg_server.url(WORKSTATION, name)
    monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
    args = ["store", "migrate", "--from", str(local), "--to", owner, "--user", ADMIN]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "Its recovery key" in out and "audit trail verified" in out
    # Again: only what is new (that run's sign-in and the copy's own entry) is copied.
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "recovery key" not in out and "audit trail verified" in out
    assert "       3 new" in out  # logout of the first run, login and "exported" of this one

    with open_store(local, ADMIN, ADMIN_PASSWORD, kdf=FAST) as mine:
        local_timeline = [(e.kind, e.title, e.summary) for e in mine.timeline(1)]
        local_entries = [(e.seq, e.hash) for e in mine.audit_entries()]
    with open_store(ws, "dr.lee", "clinician-pass-1", kdf=FAST) as shared:  # same passwords
        assert [(e.kind, e.title, e.summary) for e in shared.timeline(1)] == local_timeline
        copied = [(e.seq, e.hash) for e in shared.audit_entries()]
        assert copied[: len(local_entries) - 2] == local_entries[:-2]  # up to the last copy
        assert shared.verify_audit().ok
        assert len(shared.search_patients("")) == 1
        assert shared.search_patients("muller")[0].version == 2
        shared.add_patient("B2", "Roe")  # the clinic starts using it
    # Now the server has entries of its own: copying again would fork the chain.
    assert cli_main(args) == 1
    assert "not an earlier copy" in capsys.readouterr().err


# --- the command line ----------------------------------------------------------------------------
def test_cli_init_check_and_verify_with_a_url_and_the_password_on_stdin(
    pg_server: PgServer, monkeypatch, capsys
):
    name = pg_server.new_database()
    owner, ws = pg_server.url(OWNER, name), pg_server.url(WORKSTATION, name)
    monkeypatch.delenv("STETHOS_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
    assert cli_main(["store", "init", "--db", owner, "--user", ADMIN]) == 0
    out = capsys.readouterr().out
    assert f"Created postgresql://{OWNER}@127.0.0.1" in out and "Recovery key" in out
    for command in (["store", "check"], ["audit", "verify"]):
        monkeypatch.setattr(sys, "stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
        assert cli_main([*command, "--db", ws, "--user", ADMIN]) == 0
    out = capsys.readouterr().out
    assert "schema version 5; integrity_check: ok" in out and "ok: " in out
    monkeypatch.setattr(sys, "stdin", io.StringIO("wrong-password\n"))
    assert cli_main(["audit", "verify", "--db", ws, "--user", ADMIN]) == 1
    assert "password is wrong" in capsys.readouterr().err
    # The configured database is the default --db.
    monkeypatch.setenv("STETHOS_DATABASE_URL", ws)
    monkeypatch.setattr(sys, "stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
    assert cli_main(["audit", "verify", "--user", ADMIN]) == 0


def test_database_password_is_kept_wrapped_per_user(pg_server: PgServer, monkeypatch, capsys):
    name = pg_server.new_database()
    create_store(pg_server.url(OWNER, name), ADMIN, ADMIN_PASSWORD, kdf=FAST)[0].close()
    url = pg_server.tls_url(WORKSTATION, name)  # the server asks this role for its password
    with pytest.raises(AuthenticationError, match="did not accept this workstation"):
        open_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST)  # nothing saved yet
    monkeypatch.delenv("STETHOS_PASSWORD", raising=False)
    lines = f"{ADMIN_PASSWORD}\n{WORKSTATION_PASSWORD}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert cli_main(["store", "remember", "--db", url, "--user", ADMIN]) == 0
    saved = credentials_path().read_text()
    assert WORKSTATION_PASSWORD not in saved and ADMIN_PASSWORD not in saved
    assert "argon2id" in saved

    with open_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:  # unwrapped at sign-in
        store.change_password(ADMIN_PASSWORD, "admin-password-2")  # re-wraps the slot
        store.create_user("dr.lee", "clinician-pass-1")  # can sign in here too
    with open_store(url, "dr.lee", "clinician-pass-1", kdf=FAST) as store:
        assert store.user.username == "dr.lee"
    with pytest.raises(AuthenticationError):
        open_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST)  # the old password opens nothing
    open_store(url, ADMIN, "admin-password-2", kdf=FAST).close()


def test_one_thread_per_job_does_not_open_a_connection_per_job(urls, pg_server: PgServer):
    _, ws = urls
    name = ws.rsplit("/", 1)[1].split("?")[0]
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        for i in range(20):  # as the desktop runs each store job on a thread of its own
            job = threading.Thread(target=store.add_patient, args=(f"J{i}", "Job"))
            job.start()
            job.join()
        assert len(store.search_patients("job")) == 20
        open_now = pg_server.sql(
            f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' "
            f"AND usename = '{WORKSTATION}'"
        )[0][0]
        assert open_now <= 3, open_now  # reused, not 21
    closed = pg_server.sql(
        f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' "
        f"AND usename = '{WORKSTATION}'"
    )[0][0]
    deadline = time.monotonic() + 10
    while closed and time.monotonic() < deadline:  # the server notices closed sockets
        time.sleep(0.1)
        closed = pg_server.sql(
            f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' "
            f"AND usename = '{WORKSTATION}'"
        )[0][0]
    assert closed == 0  # signing out gives every connection back


def test_workstations_stamp_on_the_servers_clock(urls, monkeypatch):
    """A workstation whose clock is 3 hours fast still writes the server's time."""
    import engine.store.store as store_module
    from engine.store.entities import utcnow

    _, ws = urls

    def fast_clock():
        return utcnow() + timedelta(hours=3)

    monkeypatch.setattr(store_module, "utcnow", fast_clock)  # this workstation's own clock
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST, clock=fast_clock) as store:
        patient = store.add_patient("T1", "Time")
        entry = store.audit_entries(action="created")[-1]
    real = utcnow()
    assert abs((patient.updated_at - real).total_seconds()) < 60
    assert abs((entry.time - real).total_seconds()) < 60


def test_the_server_hashes_an_entry_exactly_as_stethos_does(urls):
    """The server appends entries itself; its hash must be the one `audit verify` recomputes."""
    from engine.store.audit import entry_hash

    _, ws = urls
    odd = 'quote " backslash \\ newline \n tab \t bell \x07 del \x7f ü 中 😀 \u2028 / end'
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        store.audit(
            "exported", object_type=odd, object_id=odd, details={"file": odd, "n": [1.5, None]}
        )
        entry = store.audit_entries(action="exported")[-1]  # sealed by now
        text = (
            store._conn()
            .execute("SELECT details FROM audit_log WHERE seq = ?", (entry.seq,))
            .fetchone()[0]
        )
        expected = entry_hash(
            entry.seq, entry.time.isoformat(timespec="microseconds"), entry.user, entry.action,
            odd, odd, text, entry.prev_hash,
        )  # fmt: skip
        assert entry.hash == expected and entry.details["file"] == odd
        assert store.verify_audit().ok
