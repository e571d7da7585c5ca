"""Where the store lives: a file path, or the clinic database's ``postgresql://`` URL.

A URL is never taken for a path (``Path("postgresql://h/db")`` would quietly
become a folder called ``postgresql:``). The configured database is, in
order: ``STETHOS_DATABASE_URL``, the administrator's ``database = …`` in
``store.ini`` (section ``[store]``) of the configuration folder, and the
workstation's own file. Nothing here imports the PostgreSQL driver.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from engine.errors import StoreError
from engine.resources import user_config_dir, user_data_dir

URL_ENV = "STETHOS_DATABASE_URL"
CONFIG_FILE = "store.ini"
URL_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_DB_NAME = "stethos.db"

#: A file path, or a ``postgresql://`` URL.
Location = str | Path


def is_database_url(location: object) -> bool:
    """Whether ``location`` is a ``postgresql://`` address rather than a file path."""
    return isinstance(location, str) and location.strip().lower().startswith(URL_SCHEMES)


def looks_like_mangled_url(location: object) -> bool:
    """Whether a path is a database URL whose ``//`` a ``Path`` collapsed (``postgresql:/h/db``)."""
    text = str(location).strip().lower()
    return not is_database_url(location) and text.startswith(("postgresql:", "postgres:"))


def local_path(location: Location) -> Path:
    """``location`` as a file path, refusing a database URL mangled into one or of another kind."""
    if looks_like_mangled_url(location):
        raise StoreError(
            f"“{location}” is neither a file nor a postgresql://host/db address (the // is "
            "missing). Give the full address of the clinic database, or a file path."
        )
    if "://" in str(location):
        raise StoreError(
            f"“{location}” is not a database Stethos can use: give the clinic's PostgreSQL "
            "database as postgresql://role@host/db, or a file path."
        )
    return Path(location)


def as_location(text: str | Path) -> Location:
    """What a person typed (``--db``, a setting): the URL kept as text, anything else a path."""
    if isinstance(text, str) and is_database_url(text):
        return text.strip()
    return local_path(text)


def default_store_path() -> Path:
    """Where the workstation's own database lives (``user_data_dir()/stethos.db``)."""
    return user_data_dir() / DEFAULT_DB_NAME


def config_file() -> Path:
    """The administrator's store settings (``store.ini`` in the configuration folder)."""
    return user_config_dir() / CONFIG_FILE


def configured_location() -> Location:
    """The database this workstation uses: the URL set by IT, else its own file."""
    env = os.environ.get(URL_ENV, "").strip()
    if env:
        return as_location(env)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(config_file(), encoding="utf-8")
    except (OSError, configparser.Error) as exc:
        raise StoreError(
            f"The store settings {config_file()} could not be read. Fix or remove the file.",
            str(exc),
        ) from exc
    value = parser.get("store", "database", fallback="").strip()
    return as_location(value) if value else default_store_path()


def set_configured_location(location: Location | None) -> Path:
    """Save ``location`` as the workstation's database (``None``: back to its own file)."""
    path = config_file()
    parser = configparser.ConfigParser(interpolation=None)
    if location is not None:
        parser["store"] = {"database": str(as_location(location))}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            parser.write(fh)
    except OSError as exc:
        raise StoreError(f"The store settings {path} could not be written.", str(exc)) from exc
    return path
