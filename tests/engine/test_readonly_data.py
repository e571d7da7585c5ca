"""A read-only data folder or a full disk gives a clear StoreError, never a traceback.

Tests may run as root, for whom ``chmod`` blocks nothing: the read-only
cases then run in a forked child that has dropped to the ``nobody`` user.
A full disk is simulated at SQLite's boundary (``PRAGMA max_page_count``:
SQLite answers exactly as on a full disk, ``SQLITE_FULL``) and at the
operating system's (the key-file write failing with ``ENOSPC``).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import engine.store.keyring as keyring_module
from engine.errors import StoreError
from engine.store import create_store, open_store
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST

NOBODY = 65534


def _as_unprivileged(fn: Callable[[], str]) -> dict:
    """Run ``fn`` in a forked child without root rights; ``{"ok"|"error"|"crash": text}``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            try:
                row = {"ok": fn()}
            except StoreError as exc:
                row = {"error": exc.user_message}
            except BaseException as exc:
                row = {"crash": f"{type(exc).__name__}: {exc}"}
            os.write(write, json.dumps(row).encode())
        finally:
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + 60
    while not os.waitpid(pid, os.WNOHANG)[0]:
        assert time.monotonic() < deadline, "the child hung"
        time.sleep(0.02)
    data = os.read(read, 1 << 16)
    os.close(read)
    return json.loads(data) if data else {"crash": "child died"}


@pytest.fixture()
def shared_tmp():
    """A folder the unprivileged child can reach (pytest's own is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="stethos-ro-"))
    folder.chmod(0o755)
    yield folder
    for p in [folder, *folder.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def test_data_folder_under_a_file_is_refused_with_a_message(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(StoreError) as caught:
        create_store(blocker / "stethos.db", ADMIN, ADMIN_PASSWORD, kdf=FAST)
    assert str(blocker) in caught.value.user_message
    assert "file is in the way" in caught.value.user_message


@pytest.mark.skipif(not hasattr(os, "fork"), reason="uses a forked child")
def test_read_only_data_folder_on_first_run(shared_tmp: Path) -> None:
    data = shared_tmp / "data"
    data.mkdir(mode=0o555)
    data.chmod(0o555)
    row = _as_unprivileged(
        lambda: str(create_store(data / "stethos.db", ADMIN, ADMIN_PASSWORD, kdf=FAST))
    )
    assert "error" in row, row
    assert "read-only" in row["error"] and str(data) in row["error"]
    assert not list(data.iterdir())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="uses a forked child")
def test_read_only_data_folder_with_an_existing_store(shared_tmp: Path) -> None:
    data = shared_tmp / "data"
    store, _ = create_store(data / "stethos.db", ADMIN, ADMIN_PASSWORD, kdf=FAST)
    store.add_patient("RO-1", "Readonly")
    store.close()
    for p in data.iterdir():
        p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    data.chmod(0o555)

    def sign_in_and_write() -> str:
        with open_store(data / "stethos.db", ADMIN, ADMIN_PASSWORD, kdf=FAST) as s:
            s.add_patient("RO-2", "Readonly")
        return "written"

    row = _as_unprivileged(sign_in_and_write)
    assert "error" in row, row
    assert "read-only" in row["error"] and str(data) in row["error"]


def test_full_disk_in_the_database_is_a_clear_message_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data" / "stethos.db"
    store, _ = create_store(path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    saved = [store.add_patient(f"FULL-{i}", "Disk").id for i in range(3)]
    conn = store._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError) as caught:
        for i in range(200):
            store.add_patient(f"MORE-{i}", "Disk" * 100, "Full" * 100)
    assert "is full" in caught.value.user_message and str(path.parent) in caught.value.user_message
    store.close()
    with open_store(path, ADMIN, ADMIN_PASSWORD, kdf=FAST) as again:
        assert again.integrity_check() == "ok"
        assert {p.id for p in again.search_patients("FULL-")} == set(saved)
        assert again.verify_audit().ok


def test_full_disk_when_writing_the_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(keyring_module.os, "replace", no_space)  # the key file's atomic write
    with pytest.raises(StoreError) as caught:
        create_store(tmp_path / "data" / "stethos.db", ADMIN, ADMIN_PASSWORD, kdf=FAST)
    assert "is full" in caught.value.user_message
    assert not (tmp_path / "data" / "stethos.db").exists()
