"""The store refuses the UI thread during the desktop tests (tests/desktop/conftest.py).

Every other desktop test runs under the same guard, so a view that calls the
store from a slot fails its test; this file checks the guard itself.
"""

from __future__ import annotations

import threading

import pytest

from engine.store import KdfParams, Store, create_store
from tests.desktop.conftest import UIThreadStoreCall, store_on_this_thread


@pytest.fixture()
def store(tmp_path):
    with store_on_this_thread():
        opened, _key = create_store(tmp_path / "stethos.db", "admin", "pw-long-enough-1",
                                    kdf=KdfParams.fast())  # fmt: skip
    yield opened
    with store_on_this_thread():
        opened.close()


def test_a_store_call_on_the_ui_thread_is_refused_and_fails_the_test(
    store: Store, _store_off_the_ui_thread: list[str]
) -> None:
    with pytest.raises(UIThreadStoreCall, match=r"Store\.search_patients"):
        store.search_patients("")
    assert len(_store_off_the_ui_thread) == 1  # recorded: a swallowed one fails the test too
    assert "test_store_thread.py" in _store_off_the_ui_thread[0]  # where it came from
    _store_off_the_ui_thread.clear()  # this refusal was the point of the test


def test_worker_threads_and_the_tests_own_checks_may_call_the_store(store: Store) -> None:
    found: list[object] = []
    worker = threading.Thread(target=lambda: found.append(store.add_patient("MRN-1", "Lee")))
    worker.start()
    worker.join(10)
    assert found and found[0].mrn == "MRN-1"
    with store_on_this_thread():
        assert [p.mrn for p in store.search_patients("")] == ["MRN-1"]
