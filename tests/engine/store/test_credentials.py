"""Where the clinic database's password is kept: the system keyring, else the wrapped file.

The choice of keyring is tested with small backends of the ``keyring``
API defined here (kept in memory, a plaintext file, one that never answers,
one that is locked), and with a real Secret Service: GNOME Keyring on a
private D-Bus (``_secret_service.py``; skipped, with the reason, where
Debian's ``gnome-keyring`` is not installed). On this machine's own
environment (no session bus) the wrapped file is used.
"""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringLocked, PasswordDeleteError

from engine.cli import main as cli_main
from engine.errors import AuthenticationError
from engine.store import create_store, credentials, open_store
from engine.store.credentials import FILE, KEYRING, SECURE_BACKENDS, credentials_path
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST
from tests.engine.store._pg import OWNER, WORKSTATION, WORKSTATION_PASSWORD, PgServer
from tests.engine.store._secret_service import SecretService, missing

LOCATION = "postgresql://ws1@db.clinic:5432/stethos"


class MemoryKeyring(KeyringBackend):
    """A keyring kept in this process's memory (a working backend of the keyring API)."""

    priority = 3  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such entry")


class PreferredMemoryKeyring(MemoryKeyring):
    priority = 7  # type: ignore[assignment]


class PlaintextFileKeyring(MemoryKeyring):
    """What ``keyrings.alt``'s PlaintextKeyring does: passwords in a file as they are."""

    priority = 100  # type: ignore[assignment]
    file = Path("/nonexistent")

    def set_password(self, service: str, username: str, password: str) -> None:
        super().set_password(service, username, password)
        self.file.write_text(f"{service} {username} {password}\n")


class NotHereKeyring(MemoryKeyring):
    """A backend for another operating system: its priority says it does not work here."""

    @property
    def priority(self) -> float:  # type: ignore[override]
        raise RuntimeError("this backend needs another operating system")


class SilentKeyring(MemoryKeyring):
    """A backend whose service never answers (a D-Bus that hangs)."""

    answer = threading.Event()

    @property
    def priority(self) -> float:  # type: ignore[override]
        self.answer.wait()
        return 50


class LockedKeyring(MemoryKeyring):
    """A keyring that stays locked: every write is refused."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the collection is locked")


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


#: The backends defined here that a test trusts (besides the operating systems' own).
TRUSTED = {
    **SECURE_BACKENDS,
    _path(MemoryKeyring): "memory keyring",
    _path(PreferredMemoryKeyring): "preferred memory keyring",
    _path(LockedKeyring): "locked keyring",
}


@pytest.fixture(autouse=True)
def _fresh_choice(monkeypatch) -> Iterator[None]:
    """Each test chooses its keyring afresh; the next tests choose again too."""
    monkeypatch.delenv(credentials.KEYRING_ENV, raising=False)
    credentials.choose_keyring_again()
    yield
    credentials.choose_keyring_again()


def _use(cls: type[KeyringBackend]) -> KeyringBackend:
    """Make the keyring chosen (through the real selection) an instance of ``cls``."""
    ring = credentials.select_backend({_path(cls): TRUSTED[_path(cls)]})
    assert isinstance(ring, cls)
    credentials.use_keyring(ring)
    return ring


# --- choosing ----------------------------------------------------------------------------------------
def test_only_the_operating_systems_own_keyrings_are_trusted():
    modules = {path.rsplit(".", 1)[0] for path in SECURE_BACKENDS}
    assert modules <= {
        "keyring.backends.Windows",
        "keyring.backends.macOS",
        "keyring.backends.SecretService",
        "keyring.backends.libsecret",
        "keyring.backends.kwallet",
    }
    for refused in (fail.Keyring, null.Keyring, chainer.ChainerBackend):
        assert _path(refused) not in SECURE_BACKENDS
    assert not any(path.startswith("keyrings.") for path in SECURE_BACKENDS)  # keyrings.alt


def test_fail_null_chainer_and_plaintext_backends_are_refused(tmp_path: Path):
    PlaintextFileKeyring.file = tmp_path / "plain.txt"
    refused = [fail.Keyring(), null.Keyring(), chainer.ChainerBackend(), PlaintextFileKeyring()]
    assert credentials.choose_backend(refused, TRUSTED) is None
    # Whatever its priority, the plaintext one loses to any trusted backend that works.
    memory = MemoryKeyring()
    assert credentials.choose_backend([*refused, memory], TRUSTED) is memory


def test_the_trusted_backend_of_highest_priority_that_works_here_is_chosen():
    low, high, elsewhere = MemoryKeyring(), PreferredMemoryKeyring(), NotHereKeyring()
    trusted = {**TRUSTED, _path(NotHereKeyring): "another OS"}
    assert credentials.choose_backend([low, elsewhere, high], trusted) is high
    assert credentials.choose_backend([elsewhere], trusted) is None


def test_the_keyring_packages_own_configuration_is_not_consulted(monkeypatch, tmp_path: Path):
    PlaintextFileKeyring.file = tmp_path / "plain.txt"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", _path(PlaintextFileKeyring))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "python_keyring").mkdir()
    (tmp_path / "python_keyring" / "keyringrc.cfg").write_text(
        f"[backend]\ndefault-keyring={_path(PlaintextFileKeyring)}\n"
    )
    ring = credentials.select_backend(TRUSTED)
    assert isinstance(ring, PreferredMemoryKeyring)  # the trusted one of highest priority
    assert not PlaintextFileKeyring.file.exists()


def test_a_keyring_that_never_answers_is_given_up_after_the_bound():
    SilentKeyring.answer.clear()
    started = time.monotonic()
    try:
        assert credentials.select_backend({_path(SilentKeyring): "silent"}, timeout_s=0.5) is None
        assert time.monotonic() - started < 2.0
    finally:
        SilentKeyring.answer.set()  # the probe's thread ends


@pytest.mark.skipif(sys.platform != "linux", reason="the Secret Service is Linux's keyring")
def test_without_a_session_bus_the_wrapped_file_is_used(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert credentials.select_backend() is None
    saved = credentials.remember(LOCATION, ADMIN, ADMIN_PASSWORD, "db-secret", FAST)
    assert saved.kind == FILE and saved.name == str(credentials_path())
    assert "db-secret" not in credentials_path().read_text()
    assert credentials.recall(LOCATION, ADMIN, ADMIN_PASSWORD) == "db-secret"
    assert credentials.forget(LOCATION, ADMIN) == [saved]


@pytest.mark.skipif(sys.platform != "linux", reason="the Secret Service is Linux's keyring")
def test_a_session_bus_that_never_answers_does_not_hang_the_start(monkeypatch, tmp_path: Path):
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(tmp_path / "bus"))
    silent.listen(4)  # accepts connections, never says a word
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'bus'}")
    try:
        started = time.monotonic()
        assert credentials.system_keyring() is None
        assert time.monotonic() - started < credentials.PROBE_TIMEOUT_S + 1.0
        assert credentials.remember(LOCATION, ADMIN, ADMIN_PASSWORD, "s", FAST).kind == FILE
    finally:
        silent.close()


def test_keyring_off_keeps_to_the_file(monkeypatch):
    _use(MemoryKeyring)
    monkeypatch.setenv(credentials.KEYRING_ENV, "off")
    assert credentials.system_keyring() is None
    assert credentials.remember(LOCATION, ADMIN, ADMIN_PASSWORD, "s", FAST).kind == FILE


# --- saving, replacing, removing ------------------------------------------------------------------
def test_in_the_system_keyring_nothing_is_written_to_the_file():
    ring = _use(MemoryKeyring)
    saved = credentials.remember(LOCATION, ADMIN, ADMIN_PASSWORD, "db-secret-1", FAST)
    assert saved == credentials.SavedIn(KEYRING, "test credentials MemoryKeyring")  # its name
    assert saved.describe() == "the system keyring (test credentials MemoryKeyring)"
    assert list(ring.entries.values()) == ["db-secret-1"]
    assert (credentials.SERVICE, f"{ADMIN} on {LOCATION}") in ring.entries
    assert not credentials.has_file_slot(LOCATION, ADMIN)
    # The person's login unlocked the keyring: no Stethos password is needed to read it.
    assert credentials.recall(LOCATION, ADMIN, "whatever") == "db-secret-1"
    assert credentials.saved_in(LOCATION, ADMIN) == saved
    assert credentials.saved_in(LOCATION, "dr.lee") is None
    credentials.remember(LOCATION, ADMIN.upper(), ADMIN_PASSWORD, "db-secret-2", FAST)  # replaced
    assert list(ring.entries.values()) == ["db-secret-2"]
    assert credentials.forget(LOCATION, ADMIN) == [saved]
    assert ring.entries == {} and credentials.recall(LOCATION, ADMIN, ADMIN_PASSWORD) is None
    assert credentials.forget(LOCATION, ADMIN) == []


def test_one_place_only_when_the_keyring_comes_and_goes():
    credentials.use_keyring(None)  # no keyring yet: the file
    in_file = credentials.remember(LOCATION, ADMIN, ADMIN_PASSWORD, "db-secret-1", FAST)
    assert in_file.kind == FILE
    ring = _use(MemoryKeyring)  # the keyring came: the file's slot is still read...
    assert credentials.recall(LOCATION, ADMIN, ADMIN_PASSWORD) == "db-secret-1"
    assert credentials.saved_in(LOCATION, ADMIN) == in_file
    # ...until saved again (a password change re-wraps the same way): then only the keyring.
    assert (
        credentials.remember(LOCATION, ADMIN, ADMIN_PASSWORD, "db-secret-1", FAST).kind == KEYRING
    )
    assert not credentials.has_file_slot(LOCATION, ADMIN)
    ring.entries[("unrelated", "entry")] = "kept"
    credentials.use_keyring(None)
    credentials.remember(LOCATION, ADMIN, ADMIN_PASSWORD, "db-secret-2", FAST)  # file again
    credentials.use_keyring(ring)
    credentials.remember(LOCATION, "dr.lee", "lee-password-1", "db-secret-2", FAST)
    # Saved while the keyring was away: its older entry is read first (a refusal by the
    # server then asks for the password again, and saving it clears the file's slot).
    assert credentials.recall(LOCATION, ADMIN, ADMIN_PASSWORD) == "db-secret-1"
    removed = credentials.forget(LOCATION, ADMIN)
    assert [where.kind for where in removed] == [KEYRING, FILE]
    assert ring.entries == {
        ("unrelated", "entry"): "kept",
        (credentials.SERVICE, f"dr.lee on {LOCATION}"): "db-secret-2",
    }


def test_a_locked_keyring_means_the_wrapped_file_never_anything_weaker():
    _use(LockedKeyring)
    saved = credentials.remember(LOCATION, ADMIN, ADMIN_PASSWORD, "db-secret", FAST)
    assert saved.kind == FILE
    text = credentials_path().read_text()
    assert "db-secret" not in text and "argon2id" in text
    assert credentials.recall(LOCATION, ADMIN, ADMIN_PASSWORD) == "db-secret"
    assert credentials.recall(LOCATION, ADMIN, "not-the-password") is None


def test_a_keyring_that_stops_answering_falls_back_to_the_file(monkeypatch):
    class Hanging(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            time.sleep(5)
            return None

    credentials.use_keyring(None)
    credentials.remember(LOCATION, ADMIN, ADMIN_PASSWORD, "db-secret", FAST)
    monkeypatch.setattr(credentials, "CALL_TIMEOUT_S", 0.3)
    credentials.use_keyring(Hanging())
    started = time.monotonic()
    assert credentials.recall(LOCATION, ADMIN, ADMIN_PASSWORD) == "db-secret"
    assert time.monotonic() - started < 2.0


# --- a real Secret Service (GNOME Keyring on a private D-Bus) -----------------------------------
@pytest.fixture(scope="module")
def secret_service() -> Iterator[SecretService]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    service = SecretService().start()
    yield service
    service.stop()


@pytest.fixture
def on_secret_service(secret_service: SecretService, monkeypatch) -> SecretService:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    return secret_service


def test_the_secret_service_is_chosen_and_keeps_the_password_encrypted(
    on_secret_service: SecretService,
):
    ring = credentials.system_keyring()
    assert ring is not None and credentials.keyring_name(ring) == "Secret Service"
    saved = credentials.remember(LOCATION, ADMIN, ADMIN_PASSWORD, "db-secret-on-dbus", FAST)
    assert saved == credentials.SavedIn(KEYRING, "Secret Service")
    assert not credentials.has_file_slot(LOCATION, ADMIN)
    assert credentials.recall(LOCATION, ADMIN, ADMIN_PASSWORD) == "db-secret-on-dbus"
    kept = b"".join(p.read_bytes() for p in on_secret_service.root.rglob("*") if p.is_file())
    assert kept and b"db-secret-on-dbus" not in kept  # GNOME Keyring's files are encrypted
    assert credentials.forget(LOCATION, ADMIN) == [saved]
    assert credentials.recall(LOCATION, ADMIN, ADMIN_PASSWORD) is None


def test_remember_check_and_sign_in_with_the_secret_service(
    on_secret_service: SecretService, pg_server: PgServer, monkeypatch, capsys
):
    name = pg_server.new_database()
    create_store(pg_server.url(OWNER, name), ADMIN, ADMIN_PASSWORD, kdf=FAST)[0].close()
    url = pg_server.tls_url(WORKSTATION, name)  # the server asks this role for its password
    monkeypatch.delenv("STETHOS_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ADMIN_PASSWORD}\n{WORKSTATION_PASSWORD}\n"))
    assert cli_main(["store", "remember", "--db", url, "--user", ADMIN]) == 0
    assert "in the system keyring (Secret Service)" in capsys.readouterr().out
    with open_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        location = store.location
        assert not credentials.has_file_slot(location, ADMIN)
        store.change_password(ADMIN_PASSWORD, "admin-password-2")  # saved again: the keyring
        store.create_user("dr.lee", "clinician-pass-1")
    assert credentials.saved_in(location, "dr.lee") == credentials.SavedIn(
        KEYRING, "Secret Service"
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("admin-password-2\n"))
    assert cli_main(["store", "check", "--db", url, "--user", ADMIN]) == 0
    assert f"database password for {ADMIN}: the system keyring (Secret Service)" in (
        capsys.readouterr().out
    )
    with pytest.raises(AuthenticationError):  # the users table still checks the password
        open_store(url, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    credentials.forget(location, ADMIN)
    credentials.forget(location, "dr.lee")
    with pytest.raises(AuthenticationError, match="did not accept this workstation"):
        open_store(url, ADMIN, "admin-password-2", kdf=FAST)
