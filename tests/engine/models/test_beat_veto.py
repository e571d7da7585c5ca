"""The V veto after a beat network: QRS similarity to the dominant beat, the block, inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.api import analyze_signal
from engine.errors import ModelError
from engine.models import beat_split, beat_veto
from engine.models.beat_inputs import rr_features
from engine.models.beat_veto import Compensated, TemplateVeto, correlations
from engine.models.lstm import BeatModel
from engine.models.registry import ModelRegistry
from tests.engine.models.factory import FS, make_lstm_bundle, synthetic_ecg

LABELS = ["N", "S", "V", "F", "Q"]
BEFORE = 40  # the R peak's index in the test windows
RATE = 200.0  # the test windows' sampling rate: the veto compares samples 26-56


def block(**changes):
    b = {"method": "qrs-template-veto", "label": "V", "window_s": [-0.07, 0.08],
         "min_correlation": 0.95, "min_template_beats": 8}  # fmt: skip
    b.update(changes)
    return b


def beat(width: float, sign: float = 1.0, n: int = 120) -> np.ndarray:
    t = np.arange(n) - BEFORE
    return sign * np.exp(-0.5 * (t / width) ** 2) + 0.2 * np.exp(-0.5 * ((t - 50) / 8.0) ** 2)


def windows_and_probs(rng: np.random.Generator):
    """20 narrow beats (the network calls 3 of them V) and 4 wide inverted V beats, and their
    R peaks a second apart (at RATE)."""
    narrow = [
        beat(2.5) * rng.uniform(0.7, 1.4) + 0.02 * rng.standard_normal(120) for _ in range(20)
    ]
    wide = [beat(7.0, -1.0) + 0.02 * rng.standard_normal(120) for _ in range(4)]
    w = np.stack(narrow + wide).astype(np.float32)
    probs = np.tile([0.8, 0.1, 0.05, 0.03, 0.02], (len(w), 1))
    called_v = [2, 7, 11, 20, 21, 22, 23]
    probs[called_v] = [0.1, 0.2, 0.6, 0.06, 0.04]
    return w, probs, called_v


def _peaks(times: np.ndarray) -> np.ndarray:
    return np.rint(times * RATE).astype(np.int64)


#: The R peaks of windows_and_probs's beats a second apart.
REGULAR = _peaks(np.arange(24.0))
#: The same with beat 7 early and followed by a full compensatory pause (a V beat's timing),
#: and beat 11 early, the rhythm reset after it (an S beat's).
ECTOPIC = _peaks(np.arange(24.0) - 0.3 * (np.arange(24) == 7) - 0.3 * (np.arange(24) >= 11))
#: An irregular rhythm (RR pattern irregularity 0.10 at beat 11, which came early and whose
#: two intervals add up to two of the rhythm's).
IRREGULAR = _peaks(np.cumsum(np.random.default_rng(0).uniform(0.5, 1.3, 24)))
SPARE = {"pre_below": 0.9, "pause_within": 0.1, "max_irregularity": 0.05}


def test_correlation_ignores_gain_and_offset() -> None:
    t = beat(3.0)
    w = np.stack([2.5 * t + 1.0, -t, beat(9.0)])
    c = correlations(w, t, 0, 120)
    assert c[0] == pytest.approx(1.0)
    assert c[1] == pytest.approx(-1.0)
    assert c[2] < 0.9
    assert correlations(np.zeros((1, 120)), t, 0, 120)[0] == 0.0  # a flat window: no match


def test_the_veto_withdraws_v_only_from_beats_shaped_like_the_dominant_one() -> None:
    w, probs, called_v = windows_and_probs(np.random.default_rng(0))
    veto = TemplateVeto.from_manifest(block(), LABELS)
    out, vetoed = veto.apply(probs, w, REGULAR, RATE, BEFORE, RATE, LABELS)
    # The narrow beats called V lose it; the wide ones keep it.
    assert np.flatnonzero(vetoed).tolist() == [i for i in called_v if i < 20] == [2, 7, 11]
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-6)
    for i in (2, 7, 11):
        assert out[i, 2] == 0
        # The other classes keep their proportions: N and S now share 0.3 / 0.4.
        assert out[i, 0] == pytest.approx(0.25) and out[i, 1] == pytest.approx(0.5)
    keep = ~vetoed
    assert np.allclose(out[keep], probs[keep], atol=1e-6)
    assert (out[20:].argmax(axis=1) == 2).all()


def test_without_enough_beats_to_make_a_template_nothing_changes() -> None:
    # A run of ventricular tachycardia: nearly every beat called V.
    w, probs, _ = windows_and_probs(np.random.default_rng(1))
    probs[:] = [0.1, 0.2, 0.6, 0.06, 0.04]
    probs[:7] = [0.8, 0.1, 0.05, 0.03, 0.02]
    out, vetoed = TemplateVeto.from_manifest(block(), LABELS).apply(
        probs, w, REGULAR, RATE, BEFORE, RATE, LABELS
    )
    assert not vetoed.any()
    assert np.allclose(out, probs)
    empty, none = TemplateVeto.from_manifest(block(), LABELS).apply(
        np.zeros((0, 5)), np.zeros((0, 120)), np.zeros(0, int), RATE, BEFORE, RATE, LABELS
    )
    assert empty.shape == (0, 5) and none.shape == (0,)


def test_a_beat_with_all_its_probability_on_v_keeps_it() -> None:
    w, probs, _ = windows_and_probs(np.random.default_rng(2))
    probs[2] = [0.0, 0.0, 1.0, 0.0, 0.0]
    out, vetoed = TemplateVeto.from_manifest(block(), LABELS).apply(
        probs, w, REGULAR, RATE, BEFORE, RATE, LABELS
    )
    assert not vetoed[2] and out[2, 2] == 1.0
    assert vetoed[7]


def test_an_early_beat_followed_by_a_compensatory_pause_keeps_v() -> None:
    w, probs, _ = windows_and_probs(np.random.default_rng(0))
    veto = TemplateVeto.from_manifest(block(spare_compensated=SPARE), LABELS)
    assert veto.spare == Compensated(0.9, 0.1, 0.05)
    # In a regular rhythm, beats 2 (on time) and 11 (early, the rhythm reset) lose V;
    # beat 7 (early, full compensatory pause) keeps it.
    out, vetoed = veto.apply(probs, w, ECTOPIC, RATE, BEFORE, RATE, LABELS)
    assert np.flatnonzero(vetoed).tolist() == [2, 11]
    assert out[7, 2] == pytest.approx(0.6) and out[2, 2] == 0 == out[11, 2]
    assert "followed by a full compensatory pause keep V while the rhythm is regular" in (
        veto.note(2, 24)
    )
    # Without the block every beat shaped like the dominant one loses V.
    plain = TemplateVeto.from_manifest(block(), LABELS)
    assert np.flatnonzero(
        plain.apply(probs, w, ECTOPIC, RATE, BEFORE, RATE, LABELS)[1]
    ).tolist() == [2, 7, 11]
    assert "compensatory" not in plain.note(3, 24)


def test_in_an_irregular_rhythm_no_beat_is_spared() -> None:
    irregularity = rr_features(IRREGULAR, RATE, ["rr_pattern_irregularity"])[:, 0]
    anywhere = Compensated(0.9, 0.1).spared(IRREGULAR, RATE)
    assert np.flatnonzero(anywhere).tolist() == [11] and irregularity[11] > 0.05
    assert not Compensated(0.9, 0.1, 0.05).spared(IRREGULAR, RATE).any()
    assert Compensated(0.9, 0.1, 0.2).spared(IRREGULAR, RATE)[11]
    w, probs, _ = windows_and_probs(np.random.default_rng(0))
    veto = TemplateVeto.from_manifest(block(spare_compensated=SPARE), LABELS)
    assert veto.apply(probs, w, IRREGULAR, RATE, BEFORE, RATE, LABELS)[1][11]


def test_the_block_round_trips_and_lives_in_a_list_of_steps() -> None:
    veto = TemplateVeto.from_manifest(block(), LABELS)
    assert veto.to_manifest() == block()
    spared = block(spare_compensated=SPARE)
    assert TemplateVeto.from_manifest(spared, LABELS).to_manifest() == spared
    anywhere = block(spare_compensated={"pre_below": 0.9, "pause_within": 0.1})
    assert TemplateVeto.from_manifest(anywhere, LABELS).to_manifest() == anywhere
    assert beat_veto.from_manifest({"postprocessing": [block()]}, LABELS) == veto
    assert (
        beat_veto.from_manifest({"postprocessing": {"method": "rr-logistic-split"}}, LABELS) is None
    )
    assert beat_veto.from_manifest({}, LABELS) is None
    with pytest.raises(ValueError, match="more than one qrs-template-veto step"):
        beat_veto.from_manifest({"postprocessing": [block(), block()]}, LABELS)
    with pytest.raises(ValueError, match="unknown postprocessing method 'magic'"):
        beat_split.from_manifest({"postprocessing": [block(), {"method": "magic"}]}, LABELS)
    with pytest.raises(ValueError, match="an object or a list of objects"):
        beat_veto.from_manifest({"postprocessing": ["veto"]}, LABELS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": "X"}, "the veto's label 'X' is not one of the outputs"),
        ({"window_s": [0.08, -0.07]}, "“window_s” must be two finite seconds"),
        ({"window_s": [0.0]}, "“window_s” must be two finite seconds"),
        ({"min_correlation": 1.0}, "“min_correlation” must lie strictly between -1 and 1"),
        ({"min_template_beats": 0}, "“min_template_beats” must be a positive whole number"),
        ({"spare_compensated": 0.9}, "“spare_compensated” must be an object"),
        ({"spare_compensated": {"pause_within": 0.1}}, "“pre_below” must lie strictly between"),
        ({"spare_compensated": {"pre_below": 0.9, "pause_within": 1}}, "“pause_within” must"),
        ({"spare_compensated": {**SPARE, "max_irregularity": -1}}, "“max_irregularity” must"),
    ],
)
def test_a_bad_block_is_refused_with_its_reason(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        TemplateVeto.from_manifest(block(**changes), LABELS)


def test_a_window_too_short_for_the_rate_is_refused() -> None:
    veto = TemplateVeto.from_manifest(block(window_s=[-0.001, 0.001]), LABELS)
    with pytest.raises(ValueError, match="leaves under 3 samples at 200 Hz"):
        veto.span(BEFORE, RATE, 120)


def test_a_bundle_with_a_broken_veto_is_refused(tmp_path: Path) -> None:
    make_lstm_bundle(tmp_path, "broken-veto", postprocessing=[block(label="X")])
    x, peaks = synthetic_ecg(4.0)
    with pytest.raises(ModelError, match="beat postprocessing Stethos cannot use: the veto's"):
        analyze_signal("broken-veto", x, fs=FS, leads=["MLII"], beats=peaks,
                       registry=ModelRegistry([(tmp_path, "bundled")]), device="cpu")  # fmt: skip


def test_the_runner_vetoes_v_beats_that_match_the_dominant_beat_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every third beat is wide and inverted (ventricular); the stand-in for
    # the network's logits calls those V, and also two of the normal beats.
    x, peaks = synthetic_ecg(40.0)
    t = np.arange(len(x)) / FS
    wide = np.arange(0, len(peaks), 3)
    for p in peaks[wide] / FS:
        x -= 2.4 * np.exp(-0.5 * ((t - p) / 0.012) ** 2)  # flip the narrow spike...
        x += -0.8 * np.exp(-0.5 * ((t - p) / 0.045) ** 2)  # ...and widen it
    called = set(wide.tolist()) | {1, 4}
    logits = np.array([[1.0, 0, 3.0, 0, 0] if i in called else [3.0, 0, 0, 0, 0]
                       for i in range(len(peaks))], dtype=np.float32)  # fmt: skip
    monkeypatch.setattr(BeatModel, "_logits", lambda self, *a, **k: logits)
    make_lstm_bundle(tmp_path, "veto-beats", postprocessing=[block(min_correlation=0.9)])
    make_lstm_bundle(tmp_path, "plain-beats")
    spare = block(min_correlation=0.9, spare_compensated=SPARE)
    make_lstm_bundle(tmp_path, "spared-beats", postprocessing=[spare])
    reg = ModelRegistry([(tmp_path, "bundled")])
    options = {"fs": FS, "leads": ["MLII"], "beats": peaks, "registry": reg, "device": "cpu"}
    vetoed = analyze_signal("veto-beats", x.astype(np.float32), explain=False, **options)
    plain = analyze_signal("plain-beats", x.astype(np.float32), explain=False, **options)
    assert [i for i, b in enumerate(plain.beats) if b.label == "V"] == sorted(called)
    assert [i for i, b in enumerate(vetoed.beats) if b.label == "V"] == wide.tolist()
    assert vetoed.beats[1].label == "N" and vetoed.beats[1].probabilities["V"] == 0
    assert f"2 of {len(peaks)} beats that the network called V lost that label" in " ".join(
        vetoed.extra["notes"]
    )
    assert "notes" not in plain.extra
    # The synthetic rhythm is regular, and no beat is early: sparing changes nothing.
    spared = analyze_signal("spared-beats", x.astype(np.float32), explain=False, **options)
    assert [b.label for b in spared.beats] == [b.label for b in vetoed.beats]
    assert any("that is the timing of a ventricular" in n for n in spared.extra["notes"])
