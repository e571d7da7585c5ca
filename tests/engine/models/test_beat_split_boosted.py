"""The boosted N/S split (beat model 4.0.0): neighbours' timing, its trees in the bundle."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.api import analyze_signal
from engine.errors import EngineError, ModelError
from engine.models.authoring import write_bundle
from engine.models.beat_inputs import rr_features
from engine.models.beat_split import MAX_OFFSET, RRBoostedSplit, TimingInput, timing_inputs
from engine.models.registry import ModelRegistry
from tests.engine.models.factory import FS, lstm_manifest, synthetic_ecg
from tests.engine.models.test_beat_split import LABELS, regular_with_one_early_beat

INPUTS = (
    TimingInput("pre_rr_cmed_ratio", 0),
    TimingInput("post_rr_cmed_ratio", 0),
    TimingInput("pre_rr_cmed_ratio", -1),
    TimingInput("pre_rr_cmed_ratio", 1),
)


def _trees():
    """Trees that call a beat S when it comes early and a pause follows (synthetic rows)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    n = 4000
    pre = rng.uniform(0.5, 1.2, n)
    post = rng.uniform(0.8, 1.5, n)
    y = (pre < 0.85) & (post > 1.1)
    x = np.log(np.column_stack([pre, post, rng.uniform(0.8, 1.2, n), rng.uniform(0.8, 1.2, n)]))
    return HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x, y)


def _block(**changes):
    b = {
        "method": "rr-boosted-split",
        "split": ["N", "S"],
        "model": "split.skops",
        "inputs": [i.to_manifest() for i in INPUTS],
        "floor": 0.001,
        "threshold": 0.6,
    }
    b.update(changes)
    return b


def _skops(model) -> bytes:
    import skops.io as sio

    return sio.dumps(model, compression=zipfile.ZIP_DEFLATED, compresslevel=9)


def test_timing_inputs_read_the_beat_and_its_neighbours() -> None:
    beats = regular_with_one_early_beat()
    inputs = (*INPUTS, TimingInput("pre_rr_cmed_ratio", 2, log=False))
    x, gate = timing_inputs(beats, 360.0, inputs, "rr_pattern_irregularity")
    own = rr_features(beats, 360.0, ["pre_rr_cmed_ratio", "rr_pattern_irregularity"])
    assert np.allclose(x[:, 0], np.log(own[:, 0]))
    assert np.allclose(x[1:, 2], x[:-1, 0]) and math.isnan(x[0, 2])  # the previous beat's
    assert np.allclose(x[:-1, 3], x[1:, 0]) and math.isnan(x[-1, 3])  # the next beat's
    assert np.allclose(x[:-2, 4], own[2:, 0]) and np.isnan(x[-2:, 4]).all()  # raw, two on
    assert gate is not None and np.allclose(gate, own[:, 1])
    # The early beat (30) is early; the beat after it sees it as its previous beat.
    assert x[30, 0] < np.log(0.75) and x[31, 2] == x[30, 0]


def test_the_split_follows_the_trees_threshold_and_keeps_the_other_classes() -> None:
    trees = _trees()
    split = RRBoostedSplit(("N", "S"), INPUTS, trees, "split.skops", threshold=0.6)
    beats = regular_with_one_early_beat()
    probs = np.tile([0.5, 0.2, 0.2, 0.05, 0.05], (len(beats), 1))
    shared = split.apply(probs, beats, 360.0, LABELS)
    x, _ = timing_inputs(beats, 360.0, INPUTS, None)
    p_s = trees.predict_proba(x)[:, 1]
    assert ((shared[:, 1] > shared[:, 0]) == (p_s >= 0.6)).all()
    assert shared[30, 1] > shared[30, 0]  # the early beat followed by a pause
    assert np.allclose(shared[:, 0] + shared[:, 1], 0.7) and np.allclose(
        shared[:, 2:], probs[:, 2:]
    )
    assert (
        RRBoostedSplit.from_manifest(split.to_manifest(), LABELS, lambda name: trees).to_manifest()
        == _block()
    )
    gated = RRBoostedSplit(
        ("N", "S"), INPUTS, trees, "split.skops", threshold=0.6, gate_feature="rr_irregularity",
        gate_above=-1.0,
    )  # fmt: skip
    out, above = gated.apply_gated(probs, beats, 360.0, LABELS)
    assert above.all() and (out[:, 1] == 0).all()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": ""}, "“model” must name"),
        ({"inputs": []}, "“inputs” must be a list"),
        ({"inputs": [{"feature": "heart_rate", "beat": 0}]}, "unknown RR feature"),
        ({"inputs": [{"feature": "pre_rr_ratio", "beat": MAX_OFFSET + 1}]}, "within ±"),
        ({"inputs": [{"feature": "pre_rr_ratio", "beat": 0}]}, "not a two-class model of 1"),
        ({"threshold": 1.0}, "threshold"),
    ],
)
def test_a_bad_block_is_refused_with_its_reason(changes, message) -> None:
    trees = _trees()
    with pytest.raises(ValueError, match=message):
        RRBoostedSplit.from_manifest(_block(**changes), LABELS, lambda name: trees)


def _bundle(root: Path, model_id: str, block: dict, files: dict[str, bytes]) -> Path:
    import torch

    from engine.models.architectures import build_model

    torch.manual_seed(0)
    m = lstm_manifest(model_id, postprocessing=block)
    net = build_model(m["architecture"]["name"], m["architecture"]["args"])
    return write_bundle(root, m, net=net, files=files)


def test_the_runner_reads_the_trees_from_the_bundle_and_applies_them(tmp_path: Path) -> None:
    trees = _trees()
    _bundle(tmp_path, "boosted-beats", _block(), {"split.skops": _skops(trees)})
    x, peaks = synthetic_ecg(40.0)
    early = len(peaks) // 2
    peaks = peaks.copy()
    peaks[early] -= int(0.3 * 0.8 * FS)
    reg = ModelRegistry([(tmp_path, "bundled")])
    result = analyze_signal("boosted-beats", x, fs=FS, leads=["MLII"], beats=peaks,
                            registry=reg, explain=False, device="cpu")  # fmt: skip
    assert result.beats[early].label == "S"
    assert sum(b.label == "S" for b in result.beats) == 1


def test_a_bundle_whose_trees_are_missing_wrong_or_altered_is_refused(tmp_path: Path) -> None:
    trees = _trees()
    x, peaks = synthetic_ecg(4.0)
    options = {"fs": FS, "leads": ["MLII"], "beats": peaks, "explain": False, "device": "cpu"}
    # The step names a file the bundle does not list.
    _bundle(tmp_path / "a", "no-trees", _block(model="other.skops"), {"split.skops": _skops(trees)})
    with pytest.raises(ModelError, match=r"does not list a file 'other\.skops'"):
        analyze_signal("no-trees", x, registry=ModelRegistry([(tmp_path / "a", "bundled")]),
                       **options)  # fmt: skip
    # Trees of another shape than the declared inputs.
    one = _block(inputs=[INPUTS[0].to_manifest()])
    _bundle(tmp_path / "b", "wrong-trees", one, {"split.skops": _skops(trees)})
    with pytest.raises(ModelError, match="not a two-class model of 1 inputs"):
        analyze_signal("wrong-trees", x, registry=ModelRegistry([(tmp_path / "b", "bundled")]),
                       **options)  # fmt: skip
    # The trees' file altered after the bundle was written: its hash no longer matches.
    path = _bundle(tmp_path / "c", "altered-trees", _block(), {"split.skops": _skops(trees)})
    data = bytearray((path / "split.skops").read_bytes())
    data[-40] ^= 0xFF
    (path / "split.skops").write_bytes(bytes(data))
    with pytest.raises(EngineError, match=r"split\.skops"):
        analyze_signal("altered-trees", x, registry=ModelRegistry([(tmp_path / "c", "bundled")]),
                       **options)  # fmt: skip


def test_bundles_store_boosted_trees_without_the_fields_prediction_never_reads() -> None:
    """inference_copy zeroes each node's training statistics and inner values: the same
    probabilities, bit for bit, and a smaller file; the fitted object itself is untouched."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from engine.models.authoring import UNREAD_NODE_FIELDS, inference_copy

    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 6))
    x[rng.random(x.shape) < 0.05] = np.nan
    y = rng.integers(0, 3, 3000)
    for fitted in (
        HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(x, y),
        make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=40)).fit(x, y),
    ):
        lean = inference_copy(fitted)
        assert np.array_equal(lean.predict_proba(x), fitted.predict_proba(x))
        assert len(_skops(lean)) < 0.8 * len(_skops(fitted))
        trees = getattr(fitted, "_predictors", None) or fitted.steps[-1][1]._predictors
        assert any(t.nodes["count"].any() for it in trees for t in it)  # the original kept
        lean_trees = getattr(lean, "_predictors", None) or lean.steps[-1][1]._predictors
        for it in lean_trees:
            for t in it:
                assert all(not t.nodes[f].any() for f in UNREAD_NODE_FIELDS)
