"""Signing in when the clinic database asks for its password (engine.store.clinic_login).

Against the throw-away PostgreSQL server (``_pg.py``): over TLS to
127.0.0.2 the server asks each workstation role for its password. Each test
makes a role of its own, so that changing a password touches no other test.
The wrapped file keeps the saved password (``STETHOS_KEYRING=off``) unless
a test puts a keyring in place (``test_credentials.py`` tests the keyrings).
"""

from __future__ import annotations

import io
import itertools
import sys
from collections.abc import Iterator

import pytest

from engine.cli import main as cli_main
from engine.errors import (
    AuthenticationError,
    DatabasePasswordError,
    StoreUnreachableError,
)
from engine.store import create_store, credentials
from engine.store.clinic_login import open_clinic_store
from engine.workflow import sign_in
from tests._no_network import loopback_allowed
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST
from tests.engine.store._pg import OWNER, PgServer, free_port
from tests.engine.store.test_credentials import MemoryKeyring, _use

_roles = itertools.count(1)


@pytest.fixture(autouse=True)
def _file_only(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv(credentials.KEYRING_ENV, "off")
    credentials.choose_keyring_again()
    yield
    credentials.choose_keyring_again()


@pytest.fixture
def clinic(pg_server: PgServer) -> tuple[str, str, str]:
    """A new clinic database, and a workstation role of its own that needs a password.

    Returns the role's URL (over TLS, where the server asks for the password),
    the address people are shown, and the role's password.
    """
    name = pg_server.new_database()
    create_store(pg_server.url(OWNER, name), ADMIN, ADMIN_PASSWORD, kdf=FAST)[0].close()
    role, password = f"ws_login_{next(_roles)}", "room-2-database-password"
    pg_server.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE stethos_workstation")
    url = pg_server.tls_url(role, name)
    shown = f"postgresql://{role}@127.0.0.2:{pg_server.port}/{name}"
    return url, shown, password


def test_asked_for_then_refused_then_remembered(clinic):
    url, shown, db_password = clinic
    with pytest.raises(DatabasePasswordError) as asked:
        open_clinic_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    error = asked.value
    assert not error.refused and not error.saved and error.location == shown
    assert f"The clinic database {shown} asks this workstation for its password" in str(error)
    assert "password" not in shown.split("@")[0]  # the address shown has no password in it
    assert not isinstance(error, StoreUnreachableError)

    with pytest.raises(DatabasePasswordError, match="did not accept that database password") as no:
        open_clinic_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST, server_password="guess")
    assert no.value.refused and not no.value.saved
    assert not credentials.has_slot(shown, ADMIN)  # nothing saved for a refused password

    with open_clinic_store(
        url, ADMIN, ADMIN_PASSWORD, kdf=FAST, server_password=db_password, remember=True
    ) as store:
        assert store.user.username == ADMIN
    saved = credentials.saved_in(shown, ADMIN)
    assert saved is not None and saved.kind == credentials.FILE
    assert db_password not in credentials.credentials_path().read_text()
    with open_clinic_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:  # not asked again
        assert store.user.username == ADMIN


def test_not_remembered_unless_asked(clinic):
    url, shown, db_password = clinic
    with open_clinic_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST, server_password=db_password):
        pass
    assert credentials.saved_in(shown, ADMIN) is None
    with pytest.raises(DatabasePasswordError):
        open_clinic_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST)


def test_a_wrong_own_password_is_not_taken_for_the_databases(clinic):
    url, _, db_password = clinic
    open_clinic_store(
        url, ADMIN, ADMIN_PASSWORD, kdf=FAST, server_password=db_password, remember=True
    ).close()
    # The file's slot does not open with a wrong password, so the server got none: still
    # the user's password is what is wrong, not a database password to ask for.
    with pytest.raises(AuthenticationError, match="user name or password is wrong") as wrong:
        open_clinic_store(url, ADMIN, "not-my-password", kdf=FAST)
    assert not isinstance(wrong.value, DatabasePasswordError)
    with pytest.raises(AuthenticationError, match="user name or password is wrong") as wrong:
        open_clinic_store(url, ADMIN, "not-my-password", kdf=FAST, server_password=db_password)
    assert not isinstance(wrong.value, DatabasePasswordError)


def test_a_saved_password_it_changed_is_asked_for_again_and_replaced(clinic, pg_server):
    url, shown, db_password = clinic
    open_clinic_store(
        url, ADMIN, ADMIN_PASSWORD, kdf=FAST, server_password=db_password, remember=True
    ).close()
    role = shown.split("//")[1].split("@")[0]
    pg_server.sql(f"ALTER ROLE {role} PASSWORD 'changed-by-it'")
    with pytest.raises(DatabasePasswordError, match="IT may have changed it") as asked:
        open_clinic_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    assert asked.value.refused and asked.value.saved
    open_clinic_store(
        url, ADMIN, ADMIN_PASSWORD, kdf=FAST, server_password="changed-by-it", remember=True
    ).close()
    assert credentials.recall(shown, ADMIN, ADMIN_PASSWORD) == "changed-by-it"
    open_clinic_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST).close()


def test_a_server_that_does_not_answer_is_not_a_password_problem(clinic):
    with loopback_allowed():
        port = free_port()  # nobody listens there
    url = f"postgresql://ws_login@127.0.0.1:{port}/nothing?sslmode=disable"
    with pytest.raises(StoreUnreachableError):
        open_clinic_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    with pytest.raises(StoreUnreachableError):
        open_clinic_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST, server_password="x")


def test_the_workflow_sign_in_saves_it_in_the_keyring_and_a_password_change_keeps_it(
    clinic, monkeypatch
):
    url, shown, db_password = clinic
    monkeypatch.delenv(credentials.KEYRING_ENV)
    ring = _use(MemoryKeyring)
    with pytest.raises(DatabasePasswordError):
        sign_in(url, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    store = sign_in(
        url,
        ADMIN,
        ADMIN_PASSWORD,
        kdf=FAST,
        server_password=db_password,
        remember_server_password=True,
    )
    with store:
        assert list(ring.entries.values()) == [db_password]
        store.change_password(ADMIN_PASSWORD, "admin-password-2")
    assert not credentials.has_file_slot(shown, ADMIN)
    sign_in(url, ADMIN, "admin-password-2", kdf=FAST).close()
    assert [w.kind for w in credentials.forget(shown, ADMIN)] == [credentials.KEYRING]
    with pytest.raises(DatabasePasswordError):
        sign_in(url, ADMIN, "admin-password-2", kdf=FAST)


def test_the_command_line_says_where_the_password_is_kept(clinic, pg_server, monkeypatch, capsys):
    url, shown, db_password = clinic
    role, name = shown.split("//")[1].split("@")[0], shown.rsplit("/", 1)[1]
    plain = pg_server.url(role, name)  # without TLS the test server asks for no password
    monkeypatch.delenv("STETHOS_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ADMIN_PASSWORD}\n"))
    assert cli_main(["store", "check", "--db", plain, "--user", ADMIN]) == 0
    assert f"database password for {ADMIN}: none saved on this workstation" in (
        capsys.readouterr().out
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ADMIN_PASSWORD}\n{db_password}\n"))
    assert cli_main(["store", "remember", "--db", url, "--user", ADMIN]) == 0
    path = credentials.credentials_path()
    assert f"in {path}, wrapped under the user's password (Argon2id)." in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ADMIN_PASSWORD}\n"))
    assert cli_main(["store", "check", "--db", url, "--user", ADMIN]) == 0
    out = capsys.readouterr().out
    assert "integrity_check: ok" in out
    assert f"database password for {ADMIN}: {path}, wrapped under the user's password" in out
    # IT changed it, or the workstation is handed over: store forget, no password asked
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert cli_main(["store", "forget", "--db", url, "--user", ADMIN]) == 0
    assert f"from {path}, wrapped under the user's password" in capsys.readouterr().out
    assert not credentials.has_slot(shown, ADMIN)
    assert cli_main(["store", "forget", "--db", url, "--user", ADMIN]) == 0
    assert "No database password was saved" in capsys.readouterr().out


def test_disabling_a_user_drops_their_saved_database_password(clinic):
    url, shown, db_password = clinic
    store = open_clinic_store(
        url, ADMIN, ADMIN_PASSWORD, kdf=FAST, server_password=db_password, remember=True
    )
    with store:
        store.create_user("nurse", "nurse-password-1", full_name="A Nurse")
        assert credentials.recall(shown, "nurse", "nurse-password-1") == db_password
        store.disable_user("nurse")
    assert not credentials.has_slot(shown, "nurse")  # nothing left for a disabled account
    assert credentials.recall(shown, ADMIN, ADMIN_PASSWORD) == db_password  # others keep theirs
