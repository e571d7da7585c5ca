"""Where the store lives: a path, or a ``postgresql://`` URL, and which one is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main as cli_main
from engine.errors import StoreError
from engine.store import (
    as_location,
    configured_location,
    default_store_path,
    is_database_url,
    store_exists,
)
from engine.store.location import URL_ENV, config_file

URL = "postgresql://ws1@db.clinic/stethos?sslmode=verify-full&sslrootcert=/etc/ca.pem"


def test_a_url_stays_a_url_and_a_mangled_one_is_refused(tmp_path: Path):
    assert is_database_url(URL) and as_location(f"  {URL} ") == URL
    assert not is_database_url(Path("postgresql://h/db")) and not is_database_url(None)
    assert as_location(str(tmp_path / "a.db")) == tmp_path / "a.db"
    for mangled in (Path("postgresql://h/db"), "postgresql:/h/db", "postgres:h"):
        with pytest.raises(StoreError, match="the // is missing"):
            as_location(mangled)
    for other in ("mysql://db.clinic/stethos", "sqlite:///stethos.db", "https://db.clinic/"):
        with pytest.raises(StoreError, match="is not a database Stethos can use: give the clinic"):
            as_location(other)
    assert store_exists(URL)  # a server answers for itself when signing in
    assert not store_exists(tmp_path / "none.db")


def test_configured_database_env_then_store_ini_then_the_workstation_file(monkeypatch, capsys):
    monkeypatch.delenv(URL_ENV, raising=False)
    assert configured_location() == default_store_path()
    assert cli_main(["store", "use", "--db", URL]) == 0
    assert "now uses postgresql://" in capsys.readouterr().out
    assert "database = postgresql://ws1@db.clinic" in config_file().read_text()
    assert configured_location() == URL
    monkeypatch.setenv(URL_ENV, "postgresql://other@localhost/x")
    assert configured_location() == "postgresql://other@localhost/x"
    monkeypatch.delenv(URL_ENV)
    assert cli_main(["store", "use"]) == 0  # back to the workstation's own file
    assert configured_location() == default_store_path()
    before = config_file().read_text()
    assert cli_main(["store", "use", "--db", "mysql://db.clinic/stethos"]) != 0
    assert "“mysql://db.clinic/stethos” is not a database" in capsys.readouterr().err
    assert config_file().read_text() == before  # nothing saved
