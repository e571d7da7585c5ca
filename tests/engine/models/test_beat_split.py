"""The N/S split after a beat network: timing features, the declared block, inference."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from engine.api import analyze_signal
from engine.errors import EngineError, ModelError
from engine.models.beat_inputs import rr_features
from engine.models.beat_split import RRLogisticSplit
from engine.models.registry import ModelRegistry
from tests.engine.models.factory import FS, make_lstm_bundle, synthetic_ecg

LABELS = ["N", "S", "V", "F", "Q"]
FEATURES = ["pre_rr_cmed_ratio", "post_rr_cmed_ratio", "rr_irregularity"]


def block(**changes):
    b = {
        "method": "rr-logistic-split",
        "split": ["N", "S"],
        "features": FEATURES,
        "transform": "log",
        "floor": 0.001,
        "mean": [0.0, 0.0, -3.0],
        "scale": [0.1, 0.1, 1.0],
        # Early (pre ratio < 1) and followed by a pause: S.
        "coef": [-4.0, 2.0, 0.0],
        "intercept": -2.0,
        "threshold": 0.8,
    }
    b.update(changes)
    return b


def regular_with_one_early_beat(n: int = 60, rr: float = 0.8, early: int = 30):
    t = np.arange(n) * rr
    t[early] -= 0.3 * rr  # 30 % early; the next beat stays on time (a pause follows)
    return np.rint(t * 360.0).astype(np.int64)


def test_centred_median_ratios_find_the_early_beat() -> None:
    s = regular_with_one_early_beat()
    f = rr_features(s, 360.0, ["cmed_rr", "pre_rr_cmed_ratio", "post_rr_cmed_ratio"])
    assert np.allclose(f[:, 0], 0.8, atol=2e-3)  # one early beat does not move the median
    assert f[30, 1] == pytest.approx(0.7, abs=0.01)
    assert f[30, 2] == pytest.approx(1.3, abs=0.01)
    others = np.delete(np.arange(len(s)), [30, 31])
    assert np.allclose(f[others, 1], 1.0, atol=0.01)


def test_irregularity_is_low_for_sinus_rhythm_and_high_for_a_chaotic_one() -> None:
    regular = np.rint(np.arange(200) * 0.8 * 360).astype(np.int64)
    rng = np.random.default_rng(0)
    chaotic = np.rint(np.cumsum(rng.uniform(0.4, 1.2, 200)) * 360).astype(np.int64)
    r = rr_features(regular, 360.0, ["rr_irregularity"])[:, 0]
    c = rr_features(chaotic, 360.0, ["rr_irregularity"])[:, 0]
    assert r.max() < 0.01 and np.median(c) > 0.2


def beats_at(rr: np.ndarray) -> np.ndarray:
    return np.rint(np.cumsum(rr) * 360).astype(np.int64)


def test_pattern_irregularity_ignores_repeating_ectopy_but_not_fibrillation() -> None:
    rng = np.random.default_rng(0)
    bigeminy = beats_at(np.tile([0.55, 1.05], 100))  # early beat, pause, early beat ...
    trigeminy = beats_at(np.tile([0.8, 0.5, 1.1], 70))  # ... the nearer of the two before
    runs = beats_at(np.concatenate([np.full(40, 0.8), np.full(15, 0.45), np.full(60, 0.8)]))
    fibrillation = beats_at(rng.uniform(0.4, 1.2, 200))
    names = ["rr_irregularity", "rr_pattern_irregularity"]
    b, t, r, f = (rr_features(x, 360.0, names) for x in (bigeminy, trigeminy, runs, fibrillation))
    assert np.median(b[:, 0]) > 0.4  # the plain irregularity calls bigeminy irregular
    assert b[10:-10, 1].max() < 0.01  # the pattern one does not
    assert np.median(t[:, 0]) > 0.3 and t[10:-10, 1].max() < 0.01
    assert r[:, 1].max() < 0.01
    assert np.median(f[:, 1]) > 0.07  # above the shipped gate (0.06)


def test_the_slow_reference_holds_where_ectopic_beats_are_the_majority() -> None:
    """Two early beats to each sinus beat after its pause: the median interval is the early
    beats' own, so they look on time against it, but not against the slow reference."""
    rr = np.tile([1.1, 0.6, 0.6], 150)  # sinus after a pause, then two early beats
    s = beats_at(rr)
    f = rr_features(s, 360.0, ["pre_rr_cmed_ratio", "pre_rr_slow_ratio", "slow_rr"])
    early = np.flatnonzero(np.isclose(np.diff(s) / 360.0, 0.6, atol=0.01)) + 1
    inner = early[(early > 160) & (early < len(s) - 160)]
    assert np.allclose(f[inner, 0], 1.0, atol=0.02)  # on time against the median
    assert np.allclose(f[inner, 1], 0.6 / 1.1, atol=0.02)  # early against the slow rhythm
    assert np.allclose(f[160:-160, 2], 1.1, atol=0.01)


def test_short_records_and_unknown_features() -> None:
    for n in (1, 2, 3):
        f = rr_features(np.arange(n) * 300, 360.0,
                        ["cmed_rr", "rr_irregularity", "rr_pattern_irregularity",
                         "slow_rr", "pre_rr_slow_ratio"])  # fmt: skip
        assert f.shape == (n, 5) and np.isfinite(f).all()
    with pytest.raises(EngineError, match="Unknown RR feature"):
        rr_features(np.arange(5) * 300, 360.0, ["pre_rr", "made_up"])


def test_split_moves_only_the_n_and_s_mass_and_follows_the_threshold() -> None:
    split = RRLogisticSplit.from_manifest(block(), LABELS)
    s = regular_with_one_early_beat()
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(5), size=len(s)).astype(np.float32)
    out = split.apply(probs, s, 360.0, LABELS)
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(out[:, 2:], probs[:, 2:])
    assert np.allclose(out[:, 0] + out[:, 1], probs[:, 0] + probs[:, 1], atol=1e-6)
    p = 1 / (1 + np.exp(-split.log_odds(s, 360.0)))
    assert ((out[:, 1] > out[:, 0]) == (p > 0.8)).all()
    assert out[30, 1] > out[30, 0] and (out[:29, 1] < out[:29, 0]).all()
    assert split.apply(np.zeros((0, 5)), np.zeros(0, np.int64), 360.0, LABELS).shape == (0, 5)
    assert RRLogisticSplit.from_manifest(split.to_manifest(), LABELS).to_manifest() == (
        split.to_manifest()
    )


def test_a_gate_takes_the_s_share_of_beats_above_it_and_leaves_the_rest() -> None:
    rng = np.random.default_rng(2)
    regular = regular_with_one_early_beat(n=120, early=30)
    fib = beats_at(rng.uniform(0.4, 1.2, 120)) + regular[-1] + 288
    s = np.concatenate([regular, fib])
    probs = rng.dirichlet(np.ones(5), size=len(s)).astype(np.float32)
    plain = RRLogisticSplit.from_manifest(block(), LABELS)
    gated = RRLogisticSplit.from_manifest(
        block(gate={"feature": "rr_pattern_irregularity", "above": 0.06}), LABELS
    )
    b, above = gated.apply_gated(probs, s, 360.0, LABELS)
    assert not above[:100].any() and above[140:].all()
    a, not_above = plain.apply_gated(probs, s, 360.0, LABELS)
    assert np.allclose(gated.apply(probs, s, 360.0, LABELS), b)
    assert (b[above, 1] == 0).all()
    assert np.allclose(b[above, 0], probs[above, 0] + probs[above, 1], atol=1e-6)
    assert np.allclose(b[~above], a[~above]) and np.allclose(b[:, 2:], probs[:, 2:])
    assert b[30, 1] > b[30, 0]  # the early beat in sinus rhythm is still S
    assert (a[above, 1] > a[above, 0]).any()  # without the gate, early AF beats were S
    again = RRLogisticSplit.from_manifest(gated.to_manifest(), LABELS)
    assert again.to_manifest() == gated.to_manifest()
    assert again.to_manifest()["gate"] == {"feature": "rr_pattern_irregularity", "above": 0.06}
    assert "gate" not in plain.to_manifest() and not not_above.any()


def test_apply_at_gives_the_split_at_each_threshold_with_its_gate() -> None:
    """The operating-point sweep: one pass over the RR intervals, the same shares as the
    split with each threshold in place of its own."""
    import dataclasses

    rng = np.random.default_rng(3)
    s = np.concatenate([regular_with_one_early_beat(n=120, early=30),
                        beats_at(rng.uniform(0.4, 1.2, 120)) + 120 * 288 + 288])  # fmt: skip
    probs = rng.dirichlet(np.ones(5), size=len(s)).astype(np.float32)
    gated = RRLogisticSplit.from_manifest(
        block(gate={"feature": "rr_pattern_irregularity", "above": 0.06}), LABELS
    )
    thresholds = [0.5, 0.8, 0.95]
    shared, above = gated.apply_at(probs, s, 360.0, LABELS, thresholds)
    assert len(shared) == 3 and np.array_equal(above, gated.apply_gated(probs, s, 360.0, LABELS)[1])
    for t, out in zip(thresholds, shared, strict=True):
        alone = dataclasses.replace(gated, threshold=t).apply(probs, s, 360.0, LABELS)
        assert np.array_equal(out, alone)
    n_s = [int((out.argmax(axis=1) == 1).sum()) for out in shared]
    assert n_s == sorted(n_s, reverse=True) and n_s[0] > n_s[-1]
    empty, none_above = gated.apply_at(np.zeros((0, 5)), np.zeros(0, np.int64), 360.0, LABELS,
                                       thresholds)  # fmt: skip
    assert [e.shape for e in empty] == [(0, 5)] * 3 and none_above.shape == (0,)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "magic"}, "unknown postprocessing method"),
        ({"split": ["N", "X"]}, "must name two of the outputs"),
        ({"split": ["N", "N"]}, "must name two of the outputs"),
        ({"features": ["pre_rr", "nope"]}, "unknown or missing RR features"),
        ({"features": []}, "unknown or missing RR features"),
        ({"coef": [1.0, 2.0]}, "“coef” must hold 3 finite numbers"),
        ({"mean": [0.0, math.nan, 0.0]}, "“mean” must hold 3 finite numbers"),
        ({"scale": [1.0, 0.0, 1.0]}, "“scale” must be positive"),
        ({"threshold": 1.0}, "strictly between 0 and 1"),
        ({"intercept": "x"}, None),
        ({"transform": "sqrt"}, "unknown transform"),
        ({"gate": 0.1}, "“gate” must be an object"),
        ({"gate": {"feature": "nope", "above": 0.1}}, "the gate's RR feature 'nope' is unknown"),
        ({"gate": {"feature": "rr_irregularity"}}, "the gate's “above” must be a finite"),
        ({"gate": {"feature": "rr_irregularity", "above": math.inf}}, "must be a finite"),
    ],
)
def test_a_bad_block_is_refused_with_its_reason(changes, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        RRLogisticSplit.from_manifest(block(**changes), LABELS)


def _run_bundles(root: Path, x: np.ndarray, peaks: np.ndarray, postprocessing: dict) -> list:
    """Each bundle (id: its postprocessing block or ``None``) run on the same beats."""
    for model_id, post in postprocessing.items():
        make_lstm_bundle(root, model_id, **({"postprocessing": post} if post else {}))
    reg = ModelRegistry([(root, "bundled")])
    options = {"fs": FS, "leads": ["MLII"], "beats": peaks, "registry": reg, "device": "cpu"}
    return [analyze_signal(model_id, x, explain=False, **options) for model_id in postprocessing]


def test_the_runner_applies_a_declared_split(tmp_path: Path) -> None:
    x, peaks = synthetic_ecg(40.0)
    early = len(peaks) // 2
    peaks = peaks.copy()
    peaks[early] -= int(0.3 * 0.8 * FS)  # the label follows timing, the waveform stays
    plain, split = _run_bundles(tmp_path, x, peaks, {"plain-beats": None, "split-beats": block()})
    assert split.beats[early].label == "S"
    assert split.beats[early].probabilities["S"] > split.beats[early].probabilities["N"]
    for a, b in zip(plain.beats, split.beats, strict=True):
        ns = a.probabilities["N"] + a.probabilities["S"]
        assert b.probabilities["N"] + b.probabilities["S"] == pytest.approx(ns, abs=1e-5)
        assert b.probabilities["V"] == pytest.approx(a.probabilities["V"], abs=1e-6)


def test_a_bundle_with_a_broken_split_is_refused(tmp_path: Path) -> None:
    make_lstm_bundle(tmp_path, "broken-split", postprocessing=block(coef=[1.0]))
    reg = ModelRegistry([(tmp_path, "bundled")])
    x, peaks = synthetic_ecg(4.0)
    with pytest.raises(ModelError, match="beat postprocessing Stethos cannot use: “coef”"):
        analyze_signal("broken-split", x, fs=FS, leads=["MLII"], beats=peaks, registry=reg,
                       device="cpu")  # fmt: skip


def test_the_manifest_schema_accepts_every_rr_feature_the_engine_computes() -> None:
    import json

    import engine.models as models
    from engine.models.beat_inputs import RR_FEATURE_NAMES

    schema = json.loads(
        (Path(models.__file__).parent / "schema" / "manifest-v2.schema.json").read_text()
    )
    pre = schema["properties"]["preprocessing"]["properties"]
    assert set(pre["rr_features"]["items"]["enum"]) == set(RR_FEATURE_NAMES)
    from engine.models.beat_split import METHODS

    post = schema["$defs"]["beat_step"]["properties"]["method"]["enum"]
    assert set(post) == set(METHODS)


def test_the_runner_says_where_the_gate_withheld_s_labels(tmp_path: Path) -> None:
    x, _ = synthetic_ecg(180.0)
    rng = np.random.default_rng(3)
    regular = np.arange(0.5, 60.0, 0.8)
    chaotic = 60.5 + np.cumsum(rng.uniform(0.3, 1.5, 200))
    peaks = np.rint(np.concatenate([regular, chaotic[chaotic < 179.0]]) * FS).astype(np.int64)
    gate = {"feature": "rr_pattern_irregularity", "above": 0.06}
    gated, plain = _run_bundles(
        tmp_path, x, peaks, {"gated-beats": block(gate=gate), "split-beats": block()}
    )
    _, above = RRLogisticSplit.from_manifest(block(gate=gate), LABELS).apply_gated(
        np.full((len(peaks), 5), 0.2), peaks, FS, LABELS
    )
    assert 50 < above.sum() < len(peaks) - 50
    notes = [n for n in gated.extra.get("notes", []) if "no repeating pattern" in n]
    assert notes == [
        f"{above.sum():,} of {len(peaks):,} beats lie where the RR intervals vary with no "
        "repeating pattern (as in atrial fibrillation or chaotic ectopy): the model labels no "
        "S beat there, since it tells S from N by timing. This is not a rhythm diagnosis."
    ]
    assert all(b.probabilities["S"] == 0 for b, a in zip(gated.beats, above, strict=True) if a)
    assert not any("no repeating pattern" in n for n in plain.extra.get("notes", []))
    assert notes[0] in gated.to_json()["notes"] and "warnings" not in gated.to_json()
