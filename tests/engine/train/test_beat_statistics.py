"""Beat statistics follow EC57's gross statistics, in training and in `evaluate` alike.

The reference comparator (``bxb``) leaves detections inside ventricular
flutter episodes out, does not count fusion (F) or unclassifiable (Q) beats
labelled V against V +P, nor Q beats labelled S against S +P. Both the
training pipeline's validation and ``stethos-engine evaluate`` must count the
same way, or the card and a clinic's own check would not agree; the stricter
"every detection" figure is kept beside it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.ecg import AAMI_CLASSES, PPV_NOT_COUNTED
from engine.train.beat_card import record_v_lines
from engine.train.beat_records import CLASSES, IN_VF_EPISODE, NO_REFERENCE, RecordBeats, load_record
from engine.train.beat_scores import (
    class_scores,
    per_record_counts,
    record_confusion,
    subgroup_scores,
    subgroups,
    worst_record,
)
from engine.validation.beats import beat_rates

N, S, V, F, Q = range(5)


def _probs(pred: list[int]) -> np.ndarray:
    p = np.full((len(pred), 5), 0.01)
    p[np.arange(len(pred)), pred] = 0.96
    return p


def _record(
    labels: list[int], n_reference: list[int], name: str = "synthetic", age: str = "",
    sex: str = "",
) -> RecordBeats:  # fmt: skip
    n = len(labels)
    return RecordBeats(
        name=name,
        age=age,
        sex=sex,
        windows=np.zeros((n, 8), np.float32),
        rr_raw=np.zeros((n, 2), np.float32),
        labels=np.asarray(labels, np.int64),
        n_reference=np.asarray(n_reference, np.int64),
        missed=np.zeros(5, np.int64),
    )


def test_rule_is_the_ec57_one() -> None:
    assert PPV_NOT_COUNTED == {"V": ("F", "Q"), "S": ("Q",)}
    assert CLASSES == list(AAMI_CLASSES)


def test_training_scores_leave_out_fusion_q_and_flutter_detections() -> None:
    # reference:  V  V  V  N  F  Q  F  (no ref)  (in VF)  (in VF)  S  Q  N
    labels = [V, V, V, N, F, Q, F, NO_REFERENCE, IN_VF_EPISODE, IN_VF_EPISODE, S, Q, N]
    pred = [V, V, N, V, V, V, F, V, V, N, S, S, S]
    scores = class_scores([_record(labels, [2, 1, 3, 2, 2])], [_probs(pred)])
    v = scores["V"]
    # tp 2; counted: V, V, N→V, no-reference→V (F→V, Q→V and the VF one are not)
    assert v["sensitivity"]["value"] == pytest.approx(2 / 3, abs=1e-4)
    assert v["positive_predictivity"]["value"] == pytest.approx(2 / 4, abs=1e-4)
    # every detection labelled V outside the flutter episode: 6
    assert v["positive_predictivity_all"]["value"] == pytest.approx(2 / 6, abs=1e-4)
    assert v["predicted_beats"] == 6
    s = scores["S"]
    # S +P: S→S and N→S count, Q→S does not
    assert s["positive_predictivity"]["value"] == pytest.approx(1 / 2, abs=1e-4)
    assert s["positive_predictivity_all"]["value"] == pytest.approx(1 / 3, abs=1e-4)
    # N has no exemption: one +P, the flutter detection left out of it
    n = scores["N"]
    assert n["positive_predictivity"]["value"] == pytest.approx(0 / 1, abs=1e-4)
    assert n["positive_predictivity_all"] == n["positive_predictivity"]


def test_evaluate_rates_leave_out_fusion_and_q_for_v_and_q_for_s() -> None:
    classes = list(AAMI_CLASSES)
    counts = np.zeros((5, 6), np.int64)  # reference × (model class, not detected)
    counts[V, V] = 90
    counts[V, N] = 10
    counts[N, V] = 5
    counts[F, V] = 30
    counts[Q, V] = 2
    counts[S, S] = 40
    counts[Q, S] = 4
    counts[N, S] = 20
    extra = np.zeros(5, np.int64)
    extra[V] = 3  # detections with no reference beat still count
    rates = beat_rates(counts, extra, classes)
    assert rates[f"ppv_{V}"] == (90, 90 + 5 + 3)
    assert rates[f"ppv_all_{V}"] == (90, 90 + 5 + 30 + 2 + 3)
    assert rates[f"ppv_{S}"] == (40, 40 + 20)
    assert rates[f"ppv_all_{S}"] == (40, 40 + 20 + 4)
    assert rates[f"se_{V}"] == (90, 100)
    assert f"ppv_all_{N}" not in rates  # no exemption, one figure


def test_record_207_flutter_detections_are_marked_and_never_trained_on(shared_data) -> None:
    record = shared_data / "ecg" / "mitdb" / "207"
    if not record.with_suffix(".hea").is_file():
        pytest.skip("MIT-BIH record 207 not in the shared data")
    from engine.ecg import excluded_intervals, read_signal

    r = load_record(record)
    sig = read_signal(record)
    spans = excluded_intervals(sig.annotations, sig.n_samples)
    assert len(spans) > 0
    in_vf = r.labels == IN_VF_EPISODE
    # 207's flutter episodes hold well over a hundred detected waves
    assert in_vf.sum() > 100
    for sample in r.samples[in_vf]:
        assert ((spans[:, 0] <= sample) & (sample <= spans[:, 1])).any()
    # no reference beat is annotated inside an episode, so none is lost
    assert (r.labels >= 0).sum() + r.missed.sum() == r.n_reference.sum()


def test_subgroups_by_sex_and_age_band_from_the_headers() -> None:
    recs = [
        _record([V, N], [1, 0, 1, 0, 0], "a", age="24", sex="F"),
        _record([V, N], [1, 0, 1, 0, 0], "b", age="50", sex="M"),
        _record([N, N], [2, 0, 0, 0, 0], "c", age="69", sex="M"),
        _record([V, V], [0, 0, 2, 0, 0], "d", age="87", sex="F"),
        _record([N], [1, 0, 0, 0, 0], "e"),  # no age or sex in its header
    ]
    groups = subgroups(recs)
    assert groups == {
        "female": [0, 3],
        "male": [1, 2],
        "age < 50": [0],
        "age 50–69": [1, 2],
        "age ≥ 70": [3],
    }
    # the model calls every beat V
    probs = [_probs([V] * len(r.labels)) for r in recs]
    scores = subgroup_scores(recs, probs)
    assert scores["female"]["records"] == ["a", "d"]
    female_v = scores["female"]["per_class"]["V"]
    assert female_v["sensitivity"]["value"] == 1.0
    assert female_v["positive_predictivity"]["value"] == pytest.approx(3 / 4)
    male_v = scores["male"]["per_class"]["V"]
    assert male_v["positive_predictivity"]["value"] == pytest.approx(1 / 4)
    assert scores["age ≥ 70"]["per_class"]["V"]["positive_predictivity"]["value"] == 1.0


def test_mitbih_headers_give_every_ds1_record_a_sex_and_an_age(shared_data) -> None:
    from engine.ecg import read_signal
    from engine.train.beat_records import DS1

    root = shared_data / "ecg" / "mitdb"
    if not (root / "101.hea").is_file():
        pytest.skip("MIT-BIH not in the shared data")
    heads = [read_signal(root / name) for name in DS1]
    assert all(h.sex in ("F", "M") and h.age.isdigit() for h in heads)
    assert sum(h.sex == "F" for h in heads) == 9


def test_per_record_counts_and_the_record_with_most_false_labels() -> None:
    recs = [
        _record([V, N, N, N, F], [3, 0, 1, 0, 1], "a"),  # 1 tp V, 3 false V (F→V not counted)
        _record([V, V, N], [1, 0, 2, 0, 0], "b"),  # 2 tp V, 1 false V
        _record([V, S], [0, 1, 1, 0, 0], "c"),  # 1 tp V, 1 false V
    ]
    probs = [_probs([V] * len(r.labels)) for r in recs]
    table = per_record_counts(recs, probs)
    assert table["a"]["V"] == [1, 1, 4]
    assert table["b"]["V"] == [2, 2, 3]
    assert table["c"]["S"] == [0, 1, 0]
    w = worst_record(table, "V")
    assert w is not None
    assert (w["record"], w["false"], w["false_total"]) == ("a", 3, 5)
    # without "a": V 3 of 3 found, 3 of 5 labels right
    assert w["sensitivity_without"] == 1.0 and w["ppv_without"] == 0.6
    assert worst_record({"a": table["a"]}, "V") is None


def test_the_cards_record_limitations_carry_this_runs_counts() -> None:
    """Records 203, 223 and 230's sentences quote the run's own counts, and drop
    them when the run did not validate on the record."""
    table = {
        "203": {"V": [423, 444, 590], "S": [0, 2, 11]},
        "223": {"V": [302, 473, 304], "S": [36, 73, 66]},
        "230": {"V": [1, 1, 572], "S": [0, 0, 23]},
    }
    noisy, missed, pre_excited = record_v_lines(table)
    assert "record 203 gave 167 of the 740 false V labels" in noisy
    assert "171 of record 223's 473 V beats were not labelled V" in missed
    assert "record 230 gave 571 of the 740 false V labels" in pre_excited
    bare = record_v_lines({"100": {"V": [0, 0, 0], "S": [0, 0, 0]}})
    assert len(bare) == 3 and not any("in validation" in line for line in bare)


def test_the_shipped_beat_card_quotes_its_own_validation() -> None:
    import json

    from engine.resources import resource_path

    folder = resource_path("models", "ecg-beats-bilstm-360")
    m = json.loads((folder / "manifest.json").read_text())
    card = (folder / "card.md").read_text()
    for line in record_v_lines(m["validation"]["per_record"]):
        assert line in m["limitations"] and f"- {line}" in card


def test_training_scores_are_evaluate_counts_of_the_same_beats() -> None:
    """The pipeline's figures are `evaluate`'s rates on the same confusion counts."""
    from engine.validation.beats import beat_rate_cis

    rng = np.random.default_rng(3)
    recs, probs = [], []
    for j in range(6):
        labels = rng.choice([IN_VF_EPISODE, NO_REFERENCE, N, N, N, S, V, V, F, Q], 300)
        missed = rng.integers(0, 4, 5)
        n_ref = np.bincount(labels[labels >= 0], minlength=5) + missed
        recs.append(dataclasses.replace(_record(list(labels), list(n_ref), str(j)), missed=missed))
        probs.append(rng.random((300, 5)))
    counts = np.stack([record_confusion(r, p)[0] for r, p in zip(recs, probs, strict=True)])
    extra = np.stack([record_confusion(r, p)[1] for r, p in zip(recs, probs, strict=True)])
    assert (counts.sum(axis=2) == np.stack([r.n_reference for r in recs])).all()
    rates = beat_rates(counts.sum(axis=0), extra.sum(axis=0), list(AAMI_CLASSES))
    cis = beat_rate_cis(counts, extra, list(AAMI_CLASSES), seed=0, n_boot=2000)
    scores = class_scores(recs, probs)
    k, n = rates[f"ppv_{V}"]
    assert scores["V"]["positive_predictivity"]["value"] == round(k / n, 4)
    assert scores["V"]["positive_predictivity"]["ci95"] == [round(v, 4) for v in cis[f"ppv_{V}"]]
    k, n = rates[f"se_{S}"]
    assert scores["S"]["sensitivity"]["value"] == round(k / n, 4)
