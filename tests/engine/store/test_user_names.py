"""User names: one rule (``keyring.user_key``) for sign-in, new accounts and the merge.

A typed name becomes its key before it is looked up: SQLite's ``COLLATE
NOCASE`` folds ASCII letters only, PostgreSQL's ICU collation more than case
(widths, some compatibility letters); with the key, both backends give the
same answer. Each test runs on both backends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import AuthenticationError, StoreError
from engine.store import Store, open_store
from engine.store.accounts import find_user_id
from engine.store.keyring import user_key
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST, raw_connection

SAM, SAM_PASSWORD = "dr.sam", "clinician-pass-1"
KIM, KIM_PASSWORD = "Dr.Kim", "clinician-pass-2"


def test_the_rule_ignores_case_keeps_accents_and_composes():
    assert user_key(" ÉVA ") == user_key("éva") == "éva"
    assert user_key("ÅSA") == user_key("åsa") and user_key("ΣΟΦΙΑ") == user_key("σοφια")
    assert user_key("José") != user_key("Jose")
    assert user_key("Jose\u0301") == user_key("Jos\u00e9")  # decomposed = composed
    assert user_key("DR.Lee") == "dr.lee"
    assert user_key("dr.\u017fam") == "dr.sam"  # long s folds to s; full width does not
    assert user_key("\uff44r.sam") != "dr.sam"


def _signed_in_as(db_path: Path | str, typed: str, password: str) -> str:
    with open_store(db_path, typed, password, kdf=FAST) as store:
        return store.user.username


def test_sign_in_finds_the_account_by_the_rule(store: Store, db_path: Path | str):
    store.create_user(SAM, SAM_PASSWORD)
    store.create_user(KIM, KIM_PASSWORD)
    store.close()
    for typed in ("DR.SAM", "  Dr.Sam ", "dr.\u017fam"):
        assert _signed_in_as(db_path, typed, SAM_PASSWORD) == SAM, typed
    # The Kelvin sign folds to k (SQLite's NOCASE says it is not K; ICU that it is).
    assert _signed_in_as(db_path, "dr.\u212aim", KIM_PASSWORD) == KIM
    # An accent, a full-width letter, a shorter name: another name, on both backends.
    for typed in ("dr.s\u00e1m", "\uff44r.sam", "dr.sa"):
        with pytest.raises(AuthenticationError, match="user name or password is wrong"):
            open_store(db_path, typed, SAM_PASSWORD, kdf=FAST)


def test_a_new_account_equal_by_the_rule_is_refused(store: Store):
    store.create_user(SAM, SAM_PASSWORD)
    for name in ("DR.SAM", " Dr.sam"):
        with pytest.raises(StoreError, match=r"A user called “dr\.sam” already exists"):
            store.create_user(name, "another-pass-1")
    # Non-ASCII names are refused alike on both backends (a user name is ASCII).
    for name in ("ÉVA", "éva", "dr.\u017fam"):
        with pytest.raises(StoreError, match="A user name has 1 to 64 letters"):
            store.create_user(name, "another-pass-1")
    assert sorted(u.username for u in store.list_users()) == [ADMIN, SAM]
    store.reset_user("DR.SAM", "temporary-pass-1")  # administrators' lookups: the same rule
    store.disable_user("dr.\u017fam")
    assert not next(u for u in store.list_users() if u.username == SAM).active


def test_a_name_written_around_stethos_does_not_capture_a_sign_in(
    store: Store, db_path: Path | str
):
    """A non-ASCII name Stethos never creates (written into the table directly; neither
    database's own collation refuses it beside ``dr.sam``) is not an account Stethos finds:
    every spelling that folds to ``dr.sam`` is the real ``dr.sam``, on both backends."""
    store.create_user(SAM, SAM_PASSWORD)
    store.close()
    clash = "dr.\u017fam"  # long s: casefolds to s
    raw = raw_connection(db_path)
    try:
        raw.execute(
            "INSERT INTO users (username, role, password_hash, created_at) "
            "SELECT ?, role, password_hash, created_at FROM users WHERE username = ?",
            (clash, SAM),
        )
        if hasattr(raw, "commit"):
            raw.commit()
        assert find_user_id(raw, SAM) == 2
        assert find_user_id(raw, "DR.SAM") == 2 and find_user_id(raw, clash) == 2
        assert find_user_id(raw, "dr.s\u00e1m") is None  # an accent: another name
    finally:
        raw.close()
    for typed in (SAM, "DR.SAM", clash):
        assert _signed_in_as(db_path, typed, SAM_PASSWORD) == SAM, typed
    with open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST) as admin:
        with pytest.raises(StoreError, match=r"A user called “dr\.sam” already exists"):
            admin.create_user("Dr.Sam", "another-pass-1")
        admin.reset_user("DR.SAM", "temporary-pass-1")
    assert _signed_in_as(db_path, "DR.SAM", "temporary-pass-1") == SAM
