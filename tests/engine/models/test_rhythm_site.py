"""The rhythm model on a clinic's own recordings: ``evaluate`` and its site calibration (AF)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import EXIT_PARTIAL, main
from engine.errors import ModelError
from engine.models.registry import ModelRegistry
from engine.models.site import SiteCalibration, check_binary
from engine.resources import resource_path
from engine.validation import evaluate_model
from engine.validation.site import default_rule, fit_site_calibration
from engine.workflow import load_model

RHYTHM = "ecg-rhythm-features-300"
#: Where the clinic's reading and the model's training labels disagree (CinC code → local).
DISAGREE = {"A": "O", "N": "A"}


def _cinc(shared_data: Path) -> tuple[Path, list[tuple[str, str]]]:
    root = shared_data / "ecg" / "cinc2017-train"
    if not (root / "REFERENCE.csv").is_file():
        pytest.skip(f"no CinC 2017 recordings at {root}")
    rows = [line.split(",") for line in (root / "REFERENCE.csv").read_text().split()]
    return root, [(name, code) for name, code in rows]


def _local_folder(tmp_path: Path, shared_data: Path, swap: int) -> tuple[Path, dict[str, str]]:
    """24 AF, 24 normal, 8 other and 4 noisy CinC recordings with a REFERENCE.csv.

    ``swap`` AF recordings are labelled ``other`` and ``swap`` normal ones
    ``AF`` (a clinic's readings that disagree with the model), so the scores
    do not separate the outcomes perfectly.
    """
    root, rows = _cinc(shared_data)
    want = {"A": 24, "N": 24, "O": 8, "~": 4}
    chosen: list[tuple[str, str]] = []
    for name, code in rows:
        if want.get(code, 0) > 0:
            want[code] -= 1
            chosen.append((name, code))
    folder = tmp_path / "local"
    folder.mkdir()
    swapped = {"A": 0, "N": 0}
    lines, local = ["record,rhythm"], {}
    for name, code in chosen:
        for ext in ("hea", "dat"):
            (folder / f"{name}.{ext}").symlink_to(root / f"{name}.{ext}")
        if code in DISAGREE and swapped[code] < swap:
            swapped[code] += 1
            code = DISAGREE[code]
        local[name] = code
        lines.append(f"{name}{'.hea' if not lines[1:] else ''},{code}")  # named as its file too
    lines += ["B99999,N", f"{chosen[0][0]},sinus"]  # a missing record; a rhythm it does not know
    (folder / "REFERENCE.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder, local


def test_evaluate_reads_a_reference_table_and_scores_every_rhythm(
    data_dir: Path, tmp_path: Path, shared_data: Path
) -> None:
    folder, local = _local_folder(tmp_path, shared_data, swap=3)
    report = evaluate_model(RHYTHM, folder, n_boot=50)
    assert report.task == "rhythm" and report.n == len(local) == 60
    skipped = dict(report.skipped)
    assert "was not found" in skipped[str(folder / "B99999.hea")]
    assert any("“sinus” is not a rhythm of the model" in r for r in skipped.values())
    conf = report.confusion
    assert conf["columns"] == ["normal", "AF", "other", "noisy"]
    matrix = {r: dict(zip(conf["columns"], row, strict=True)) for r, row in zip(
        conf["labels"], conf["matrix"], strict=True)}  # fmt: skip
    # Training recordings are called as their CinC labels, so the 3 normal recordings read as
    # AF here are called normal, and the 3 AF recordings read as "other" are called AF.
    assert matrix["AF"]["normal"] == 3 and matrix["other"]["AF"] == 3
    tp = matrix["AF"]["AF"]
    called = sum(row["AF"] for row in matrix.values())
    positives = sum(matrix["AF"].values())
    m = report.metrics
    assert (m["sensitivity"]["k"], m["sensitivity"]["n"]) == (tp, positives)
    assert (m["ppv"]["k"], m["ppv"]["n"]) == (tp, called)
    assert m["f1_AF"]["value"] == pytest.approx(round(2 * tp / (positives + called), 4))
    assert m["f1_AF"]["reference"] == positives == sum(v == "A" for v in local.values())
    assert 0.5 < m["auroc"]["value"] < 1.0  # the disagreements cost discrimination
    assert m["challenge_f1"]["value"] == pytest.approx(
        round(np.mean([m[f"f1_{c}"]["value"] for c in ("normal", "AF", "other")]), 4)
    )
    assert len(report.scores) == len(report.outcomes) == len(report.always_positive) == 60
    text = report.to_text()
    assert "on 60 recordings" in text and "f1_noisy" in text and "Decisions: AF where" in text


def test_evaluate_reads_one_sub_folder_per_rhythm(tmp_path: Path, shared_data: Path) -> None:
    root, rows = _cinc(shared_data)
    firsts = {code: name for name, code in reversed(rows)}
    for folder, code in (("AF", "A"), ("Normal", "N"), ("not-a-rhythm", "O")):
        (tmp_path / folder).mkdir()
        for ext in ("hea", "dat"):
            (tmp_path / folder / f"{firsts[code]}.{ext}").symlink_to(root / f"{firsts[code]}.{ext}")
    holter = resource_path("samples", "mitdb")  # MIT-BIH 119, 30 min of ventricular bigeminy
    (tmp_path / "other").mkdir()
    for ext in ("hea", "dat", "atr"):
        (tmp_path / "other" / f"119.{ext}").symlink_to(holter / f"119.{ext}")
    report = evaluate_model(RHYTHM, tmp_path, n_boot=20)
    assert report.n == 3 and report.confusion["labels"] == ["normal", "AF", "other"]
    assert dict(report.skipped)[str(tmp_path / "not-a-rhythm")].startswith("the folder names no")
    # The 30-minute record is scored (from its windows) but not offered to a site calibration.
    assert len(report.scores) == len(report.always_positive) == 2
    assert report.details["site_calibration_cases"].startswith("2 recordings classified whole")
    with pytest.raises(ModelError, match=r"REFERENCE\.csv"):
        evaluate_model(RHYTHM, tmp_path / "missing", n_boot=20)


def test_site_calibration_of_af_saved_and_used_by_the_rhythm_report(
    data_dir: Path, tmp_path: Path, shared_data: Path, capsys
) -> None:
    folder, _ = _local_folder(tmp_path, shared_data, swap=4)
    code = main(["evaluate", "--model", RHYTHM, str(folder), "--save-site-calibration", "--json"])
    assert code == EXIT_PARTIAL  # the table's two unusable lines are reported, not fatal
    out = json.loads(capsys.readouterr().out)
    saved = out["saved_site_calibration"]
    cal = SiteCalibration.from_json(json.loads(Path(saved["file"]).read_text(encoding="utf-8")))
    assert cal.rule == "f1" and cal.n == 60 and cal.slope > 0  # the af-f1 point's own rule
    # Local Se/Sp are those of the model's own AF calls at the site threshold.
    model = load_model(RHYTHM)
    assert model.site is not None and model.site.threshold == cal.threshold
    kind_threshold = cal.inverse(cal.threshold)
    raw = load_model(RHYTHM, site_calibration=False)
    header = next(folder.glob("*.hea"))
    before = raw.predict(header, explain=False)
    after = model.predict(header, explain=False)
    assert after.operating_point == "site" and after.threshold == cal.threshold
    p_af = before.probabilities["AF"]
    assert after.probabilities["AF"] == pytest.approx(cal.apply(p_af))
    assert sum(after.probabilities.values()) == pytest.approx(1.0)
    rest = {k: v for k, v in before.probabilities.items() if k != "AF"}
    for k, v in rest.items():  # the other rhythms keep their proportions
        assert after.probabilities[k] == pytest.approx(
            (1 - after.probabilities["AF"]) * v / sum(rest.values())
        )
    is_top = max(before.probabilities, key=before.probabilities.__getitem__) == "AF"
    assert (after.label == "AF") == (p_af >= kind_threshold or is_top)
    windows = after.extra["rhythm"]["windows"]
    assert windows["p_af"] == [
        round(cal.apply(v), 4) for v in before.extra["rhythm"]["windows"]["p_af"]
    ]
    assert after.extra["site_calibration"]["model_score"] == pytest.approx(p_af)


def test_af_against_the_rest_is_served_the_beat_model_is_not() -> None:
    registry = ModelRegistry()
    rhythm = registry.open(RHYTHM, verify=False)
    check_binary(rhythm)  # AF against normal, other and noisy
    assert default_rule(rhythm) == "f1"
    with pytest.raises(ModelError, match="per-beat classes"):
        check_binary(registry.open("ecg-beats-bilstm-360", verify=False))


def test_cases_called_at_any_threshold_shape_the_site_point() -> None:
    bundle = ModelRegistry().open(RHYTHM, verify=False)
    rng = np.random.default_rng(2)
    y = np.r_[np.ones(40, int), np.zeros(60, int)]
    p = np.clip(np.where(y == 1, rng.beta(5, 2, 100), rng.beta(2, 5, 100)), 0.01, 0.99)
    always = np.zeros(100, bool)
    always[:10] = True  # ten positives the model calls whatever the threshold
    plain = fit_site_calibration(p, y, bundle, n_boot=20)
    with_top = fit_site_calibration(p, y, bundle, always_positive=always, n_boot=20)
    q = with_top.apply(p)
    called = (q >= with_top.threshold) | always
    tp = int((called & (y == 1)).sum())
    assert with_top.sensitivity.value == pytest.approx(tp / 40)
    assert with_top.specificity.value == pytest.approx(int((~called & (y == 0)).sum()) / 60)
    plain_called = plain.apply(p) >= plain.threshold
    assert plain.sensitivity.value == pytest.approx(int((plain_called & (y == 1)).sum()) / 40)
    # The F1 rule: no threshold gives a higher F1 for the calls the model makes.
    f1 = 2 * tp / (int(called.sum()) + 40)
    for t in np.unique(q):
        c = (q >= t) | always
        assert 2 * int((c & (y == 1)).sum()) / (int(c.sum()) + 40) <= f1 + 1e-12
    with pytest.raises(ModelError, match="decisions were given"):
        fit_site_calibration(p, y, bundle, always_positive=always[:5], n_boot=20)
