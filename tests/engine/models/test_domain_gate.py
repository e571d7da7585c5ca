"""The image models' domain: the age gate and the out-of-domain check's output contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputRejectedError
from engine.models.bundle import open_bundle
from engine.models.domain import DomainScorer, fit_gaussian, pooled_features
from engine.models.gates import age_years, check_gates, image_gate_values
from engine.models.loader import load_runner
from engine.models.preprocess import ImageInput
from engine.train.cxr_domain import AGE_GATE
from tests.engine.models.factory import cnn_manifest, make_cnn_bundle


@pytest.mark.parametrize(
    ("age", "birth", "study", "years"),
    [("004Y", "", "", 4.0), ("011M", "", "", 11 / 12), ("006W", "", "", 42 / 365.25),
     ("", "20180101", "20220701", 4.5), ("", "", "", None), ("4 years", "", "", None),
     ("62", "", "19010101", 62.0),
     ("", "20220101", "20180101", None)],
)  # fmt: skip
def test_the_age_comes_from_patient_age_or_the_dates(age, birth, study, years) -> None:
    got = age_years(age, birth, study)
    assert got == (pytest.approx(years, abs=0.01) if years is not None else None)


def _image(age: float | None) -> ImageInput:
    return ImageInput(pixels=np.zeros((64, 64), np.uint8), name="x.dcm", modality="CR",
                      age_years=age)  # fmt: skip


@pytest.mark.parametrize(("age", "words"), [(61.0, "above"), (0.5, "below")])
def test_the_age_gate_refuses_adults_and_infants_and_names_the_range(age, words) -> None:
    with pytest.raises(InputRejectedError) as info:
        check_gates({"age_years": AGE_GATE}, image_gate_values(_image(age)),
                    input_name="x.dcm", model_id="cxr")  # fmt: skip
    message = info.value.user_message
    assert words in message and "years" in message
    assert "children aged 1 to 5 years" in message


def test_the_age_gate_warns_when_the_age_is_not_recorded() -> None:
    warnings = check_gates({"age_years": AGE_GATE}, image_gate_values(_image(None)),
                           input_name="x.png", model_id="cxr")  # fmt: skip
    assert len(warnings) == 1 and "does not record its patient's age" in warnings[0]
    assert check_gates({"age_years": AGE_GATE}, image_gate_values(_image(3.0)),
                       input_name="x.dcm", model_id="cxr") == ()  # fmt: skip


def _bundle_with_domain(
    root: Path, threshold: float, adult_threshold: float, combined: dict | None = None
) -> Path:
    """A tiny CNN whose appearance gate was fitted on a few synthetic images."""
    import torch
    from safetensors.numpy import save

    from engine.models.architectures import build_model

    torch.manual_seed(0)
    m = cnn_manifest("test-cnn-domain")
    net = build_model(m["architecture"]["name"], m["architecture"]["args"]).eval()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(0, 1, (40, 3, 32, 32)).astype(np.float32))
    with pooled_features(net, "features") as seen, torch.inference_mode():
        net(x)
    feats = np.concatenate(seen)
    mean, precision = fit_gaussian(feats)
    stats = save({"mean": mean, "precision": precision, "adult_center": mean,
                  "adult_weights": np.zeros_like(mean), "adult_intercept": np.zeros(1)})  # fmt: skip
    m["gates"]["appearance"] = {"method": "mahalanobis", "layer": "features",
                                "file": "domain.safetensors", "threshold": threshold,
                                "adult_threshold": adult_threshold, "action": "withhold"}  # fmt: skip
    if combined is not None:
        m["gates"]["appearance"].update(rule="combined", combined=combined)
    from engine.models.authoring import write_bundle

    return write_bundle(root, m, net=net, files={"domain.safetensors": stats})


def test_an_out_of_domain_image_gets_no_label_but_keeps_its_probability(tmp_path: Path) -> None:
    image = np.random.default_rng(1).integers(0, 255, (48, 40)).astype(np.uint8)
    flagged = load_runner(open_bundle(_bundle_with_domain(tmp_path / "a", 0.0, 10.0)), "cpu")
    p = flagged.predict(image)
    assert p.extra["out_of_domain"] is True and p.label == "" and not p.is_positive
    assert p.extra["withheld_label"] in ("normal", "pneumonia")
    assert "no result is given" in p.extra["out_of_domain_note"]
    row = json.loads(json.dumps(p.to_json()))
    assert row["out_of_domain"] is True and row["label"] is None
    assert row["domain_score"] > row["domain_threshold"] == 0.0
    assert set(row["probabilities"]) == {"normal", "pneumonia"}  # kept for audit

    passed = load_runner(open_bundle(_bundle_with_domain(tmp_path / "b", 1e9, 10.0)), "cpu")
    q = passed.predict(image)
    assert q.extra["out_of_domain"] is False and q.label in ("normal", "pneumonia")
    assert q.to_json()["out_of_domain"] is False and q.to_json()["label"] == q.label
    assert q.score == pytest.approx(p.score, abs=1e-6)  # the check never changes the score

    adult = load_runner(open_bundle(_bundle_with_domain(tmp_path / "c", 1e9, -1.0)), "cpu")
    r = adult.predict(image)  # adult-likeness 0 (zero weights) is above a threshold of −1
    assert r.extra["out_of_domain"] is True and "adult" in r.extra["out_of_domain_note"]


def test_a_model_without_the_check_says_nothing_about_it(tmp_path: Path) -> None:
    runner = load_runner(open_bundle(make_cnn_bundle(tmp_path)), "cpu")
    p = runner.predict(np.zeros((40, 40), np.uint8))
    assert "out_of_domain" not in p.to_json() and "domain_score" not in p.extra


def test_the_scorer_is_a_mahalanobis_distance() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(0, 1, (500, 4))
    mean, precision = fit_gaussian(f)
    scorer = DomainScorer(mean, precision, threshold=3.0)
    near, far = scorer.score(np.zeros((1, 4)))[0], scorer.score(np.full((1, 4), 6.0))[0]
    assert near < 0.3 and far > 10


def test_the_combined_rule_flags_what_is_moderately_unusual_on_both_scores(tmp_path: Path) -> None:
    from engine.models.domain import CombinedRule

    rule = CombinedRule(appearance_mean=20.0, appearance_sd=4.0, adult_mean=-9.0, adult_sd=4.0,
                        threshold=2.5)  # fmt: skip
    scorer = DomainScorer(np.zeros(2), np.eye(2), threshold=30.0, adult_threshold=-2.0,
                          combined=rule)  # fmt: skip
    # Below both of the per-score thresholds, but 1.5 + 1.5 SD together: out of domain.
    both = scorer.verdict(26.0, -3.0)
    assert both.out_of_domain and both.statistic == pytest.approx(3.0)
    assert "combined score 3.00 above 2.50" in both.reasons[0]
    one = scorer.verdict(29.0, -9.0)  # 2.25 SD on appearance alone
    assert not one.out_of_domain and one.statistic == pytest.approx(2.25)
    union = DomainScorer(np.zeros(2), np.eye(2), threshold=30.0, adult_threshold=-2.0)
    assert not union.verdict(26.0, -3.0).out_of_domain and union.verdict(31.0, -9.0).out_of_domain

    # From a bundle: the JSON names the statistic that decided; an unknown rule is refused.
    image = np.random.default_rng(1).integers(0, 255, (48, 40)).astype(np.uint8)
    spec = {"appearance_mean": 0.0, "appearance_sd": 1.0, "adult_mean": 0.0, "adult_sd": 1.0,
            "threshold": -1e9}  # fmt: skip
    runner = load_runner(open_bundle(_bundle_with_domain(tmp_path / "a", 1e9, 1e9, spec)), "cpu")
    row = json.loads(json.dumps(runner.predict(image).to_json()))
    assert row["out_of_domain"] is True and row["domain_statistic_threshold"] == -1e9
    assert row["domain_statistic"] == pytest.approx(
        row["domain_score"] + row["adult_score"], abs=2e-3
    )
    with pytest.raises(Exception, match="out-of-domain check"):
        bad = _bundle_with_domain(tmp_path / "b", 1e9, 1e9, spec)
        manifest = json.loads((bad / "manifest.json").read_text())
        DomainScorer.from_bundle(
            type("B", (), {"id": "x", "path": bad, "gates": {
                "appearance": {**manifest["gates"]["appearance"], "rule": "majority"}}})()
        )  # fmt: skip
