"""Key derivation, key wrapping and the recovery key.

The database is encrypted by SQLCipher with one random 256-bit *data key*.
Nobody types that key: it is wrapped (AES-256-GCM) once per user under a key
derived from the user's password with Argon2id, and once under the recovery
key printed at setup. The wrapped copies live in the keyring file next to the
database (:mod:`engine.store.keyring`); a copied database file alone is
unreadable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DATA_KEY_BYTES = 32
_SALT_BYTES = 16
_NONCE_BYTES = 12
_RECOVERY_BYTES = 20  # 160 bits -> 32 base32 characters -> 8 groups of 4
_RECOVERY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters (``memory_cost`` in KiB).

    The defaults are the product's (3 passes over 64 MiB, 4 lanes: about
    0.1-0.3 s on a clinic PC). Tests pass :meth:`fast` explicitly.
    """

    time_cost: int = 3
    memory_cost: int = 64 * 1024
    parallelism: int = 4

    @classmethod
    def fast(cls) -> KdfParams:
        """Cheap parameters for tests and benchmarks only (never for real data)."""
        return cls(time_cost=1, memory_cost=8 * 1024, parallelism=1)

    def to_json(self) -> dict[str, int | str]:
        """The parameters as stored in the keyring."""
        return {
            "name": "argon2id",
            "time_cost": self.time_cost,
            "memory_cost": self.memory_cost,
            "parallelism": self.parallelism,
        }

    @classmethod
    def from_json(cls, data: dict) -> KdfParams:
        """Parameters read back from the keyring."""
        return cls(int(data["time_cost"]), int(data["memory_cost"]), int(data["parallelism"]))


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return os.urandom(DATA_KEY_BYTES)


def new_salt() -> bytes:
    """A fresh random salt for :func:`password_key`."""
    return os.urandom(_SALT_BYTES)


def _password_bytes(password: str) -> bytes:
    # NFC so that the same password typed on two keyboards gives the same bytes.
    return unicodedata.normalize("NFC", password).encode("utf-8")


def password_key(password: str, salt: bytes, params: KdfParams) -> bytes:
    """The 256-bit key-encryption key derived from ``password`` with Argon2id."""
    return hash_secret_raw(
        secret=_password_bytes(password),
        salt=salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        hash_len=32,
        type=Type.ID,
    )


def wrap_key(kek: bytes, data_key: bytes, aad: bytes) -> dict[str, str]:
    """Encrypt ``data_key`` under ``kek`` with AES-256-GCM bound to ``aad``."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(kek).encrypt(nonce, data_key, aad)
    return {"alg": "AES-256-GCM", "nonce": _b64(nonce), "ciphertext": _b64(sealed)}


def unwrap_key(kek: bytes, wrapped: dict[str, str], aad: bytes) -> bytes | None:
    """The data key, or ``None`` when ``kek`` (the password) is wrong."""
    try:
        return AESGCM(kek).decrypt(_unb64(wrapped["nonce"]), _unb64(wrapped["ciphertext"]), aad)
    except (InvalidTag, KeyError, ValueError):
        return None


def hash_password(password: str, params: KdfParams) -> str:
    """An Argon2id PHC string of ``password`` (kept in the encrypted users table)."""
    return _hasher(params).hash(_password_bytes(password))


def verify_password(encoded: str, password: str) -> bool:
    """Whether ``password`` matches the Argon2id PHC string ``encoded``."""
    try:
        return PasswordHasher().verify(encoded, _password_bytes(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _hasher(params: KdfParams) -> PasswordHasher:
    return PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
    )


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or ``None``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must have at least {MIN_PASSWORD_LENGTH} characters."
    if password.strip() != password:
        return "The password must not start or end with a space."
    return None


# --- recovery key -----------------------------------------------------------
def new_recovery_key() -> tuple[str, bytes]:
    """A recovery key as shown to the administrator, and its raw bytes.

    The text is 32 base32 characters in 8 groups of 4 (``ABCD-EF23-...``),
    160 random bits; digits 0, 1 and 8 never occur, so a key read aloud or
    retyped from paper is unambiguous.
    """
    raw = os.urandom(_RECOVERY_BYTES)
    text = base64.b32encode(raw).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4)), raw


def parse_recovery_key(text: str) -> bytes | None:
    """Raw bytes of a typed recovery key (case, spaces and dashes ignored), or ``None``."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    cleaned = cleaned.replace("0", "O").replace("1", "I").replace("8", "B")
    if len(cleaned) != 32 or any(ch not in _RECOVERY_ALPHABET for ch in cleaned):
        return None
    return base64.b32decode(cleaned)


def recovery_kek(raw: bytes, salt: bytes) -> bytes:
    """Key-encryption key from the (high-entropy) recovery key: HKDF-SHA256."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=b"stethos recovery key v1"
    ).derive(raw)


# --- audit anchor -------------------------------------------------------------
def anchor_key(data_key: bytes) -> bytes:
    """The HMAC key that signs the audit anchor, derived from the data key."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"stethos audit anchor v1"
    ).derive(data_key)


def sign(key: bytes, message: bytes) -> str:
    """Hex HMAC-SHA256 of ``message``."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signature_ok(key: bytes, message: bytes, signature: str) -> bool:
    """Constant-time check of :func:`sign`."""
    return hmac.compare_digest(sign(key, message), signature)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


b64 = _b64
unb64 = _unb64
