"""Long engine work reports progress and honours cancellation."""

from __future__ import annotations

import pytest

from engine.errors import OperationCancelled
from engine.progress import CancelToken, sub_progress
from engine.records.uci import read_uci_heart
from engine.train.heart import cross_validate


@pytest.fixture(scope="module")
def heart(shared_data):
    return read_uci_heart(shared_data / "tabular" / "uci-heart" / "processed.cleveland.data")


def test_progress_is_reported_in_order(heart):
    X, y = heart
    seen: list[tuple[float, str]] = []
    cross_validate(X, y, repeats=3, progress=lambda f, t="": seen.append((f, t)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= 1
    assert "repeat 3/3" in seen[-1][1]


def test_pre_cancelled_token_stops_before_work(heart):
    X, y = heart
    token = CancelToken()
    token.cancel()
    seen: list[float] = []
    with pytest.raises(OperationCancelled):
        cross_validate(X, y, repeats=3, progress=lambda f, t="": seen.append(f), cancel=token)
    assert seen == []


def test_sub_progress_maps_into_its_range():
    seen: list[float] = []
    inner = sub_progress(lambda f, t="": seen.append(f), 0.5, 1.0)
    inner(0.0)
    inner(0.5)
    inner(2.0)
    assert seen == [0.5, 0.75, 1.0]
