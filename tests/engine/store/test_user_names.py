"""User names: one rule (``keyring.user_key``) for sign-in, new accounts and the merge.

SQLite's ``COLLATE NOCASE`` folds ASCII letters only and PostgreSQL's ICU
collation folds more than case (widths, some compatibility letters); the
store compares names by one Python function instead, so both backends give
the same answer. Each test runs on both backends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import AuthenticationError, StoreError
from engine.store import Store, open_store
from engine.store.accounts import UserNameClashError, find_user_id
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


def test_two_accounts_the_rule_calls_the_same(store: Store, db_path: Path | str):
    """Written around Stethos (it never creates them; neither database's own collation
    refuses this pair): each still signs in by its name as written, a name matching both but
    neither as written signs in nobody, and the extra one can be disabled."""
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
        assert find_user_id(raw, SAM) == 2 and find_user_id(raw, clash) == 3
        with pytest.raises(UserNameClashError) as refused:
            find_user_id(raw, "DR.SAM")
        assert refused.value.names == (SAM, clash)
    finally:
        raw.close()
    # On the workstation's file the two share one key-file slot (it is keyed by the rule).
    assert _signed_in_as(db_path, SAM, SAM_PASSWORD) == SAM
    assert _signed_in_as(db_path, clash, SAM_PASSWORD) == clash
    with pytest.raises(AuthenticationError, match="user name or password is wrong"):
        open_store(db_path, "DR.SAM", SAM_PASSWORD, kdf=FAST)
    with open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST) as admin:
        with pytest.raises(StoreError, match="already exists"):
            admin.create_user("Dr.Sam", "another-pass-1")
        with pytest.raises(UserNameClashError, match="exactly as it is written"):
            admin.disable_user("DR.SAM")
        with pytest.raises(StoreError, match="share one password"):
            admin.reset_user(SAM, "temporary-pass-1")  # would change the other's too
        admin.disable_user(clash)
    with pytest.raises(AuthenticationError, match="disabled"):
        open_store(db_path, clash, SAM_PASSWORD, kdf=FAST)
    assert _signed_in_as(db_path, SAM, SAM_PASSWORD) == SAM  # its slot was kept
    with open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST) as admin:
        admin.reset_user(SAM, "temporary-pass-1")
    assert _signed_in_as(db_path, "DR.SAM", "temporary-pass-1") == SAM
