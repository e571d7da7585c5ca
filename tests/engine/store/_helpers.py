"""Helpers of the store tests (constants, a fake clock, a tamperer's connection)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.store import KdfParams
from engine.store import db as store_db
from engine.store.keyring import Keyring, keyring_path

FAST = KdfParams.fast()
ADMIN, ADMIN_PASSWORD = "admin", "admin-password-1"

HEART = {
    "age": 63,
    "sex": 1,
    "cp": 1,
    "trestbps": 145,
    "chol": 233,
    "fbs": 1,
    "restecg": 2,
    "thalach": 150,
    "exang": 0,
    "oldpeak": 2.3,
    "slope": 3,
    "ca": 0,
    "thal": 6,
}


class FakeClock:
    """A settable clock so that tests control every stored time."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def raw_connection(path: Path | str, user: str = ADMIN, password: str = ADMIN_PASSWORD):
    """A plain connection to the database, as a tamperer with a login would have.

    SQLCipher's with the key a password unwraps; on PostgreSQL the schema
    owner's (who may do anything the triggers allow).
    """
    if isinstance(path, str):
        return owner_connection(path)
    key = Keyring.load(keyring_path(path)).unlock_password(user, password)
    return store_db.connect(path, key)


def owner_connection(url: str):
    """The schema owner's connection to the test database at the workstation's ``url``."""
    import psycopg

    from engine.store.server import ServerConnection
    from tests.engine.store._pg import OWNER, WORKSTATION

    return ServerConnection(
        psycopg.connect(url.replace(f"//{WORKSTATION}@", f"//{OWNER}@"), autocommit=True)
    )


def owner_location(location: Path | str) -> Path | str:
    """The database as its owner reaches it: the same file, or the owner's URL."""
    if isinstance(location, str):
        from tests.engine.store._pg import OWNER, WORKSTATION

        return location.replace(f"//{WORKSTATION}@", f"//{OWNER}@")
    return location


def fake_prediction(label: str = "disease", score: float = 0.8, version: str = "1.0.0") -> dict:
    """A result as ``Prediction.to_json()`` writes it."""
    return {
        "model": "heart-disease-logreg",
        "version": version,
        "weights_sha256": "a" * 64,
        "probabilities": {"no disease": round(1 - score, 6), "disease": score},
        "label": label,
        "operating_point": {
            "name": "balanced",
            "threshold": 0.5,
            "sensitivity": 0.85,
            "specificity": 0.8,
        },
        "device": "cpu",
        "elapsed_ms": 1.5,
        "input_hash": "b" * 64,
        "contributions": [
            {"feature": "thal", "value": "Fixed defect", "unit": "", "contribution": 0.9},
            {"feature": "ca", "value": "0", "unit": "vessels", "contribution": -0.4},
        ],
    }
