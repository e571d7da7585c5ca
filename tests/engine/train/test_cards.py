"""Model cards come from data: every shipped card is the template filled from its bundle.

A card is :func:`engine.train.card.render_card` of the bundle's manifest and
validation record, so it cannot say anything they do not hold; ``stethos-engine
train cards`` rewrites a card from its data (no retraining) and re-hashes it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.cli import EXIT_OK, main
from engine.errors import BundleIntegrityError
from engine.models.bundle import open_bundle
from engine.resources import resource_path
from engine.train.card import read_validation, refresh_bundle, render_card, validation_bytes

SHIPPED = sorted(p.parent.name for p in resource_path("models").glob("*/manifest.json"))


def test_every_model_family_is_shipped() -> None:
    # five record-model families, the CNN, the beat model and the rhythm model
    assert len(SHIPPED) == 8
    kinds = {json.loads((resource_path("models", m) / "manifest.json").read_text())["kind"]
             for m in SHIPPED}  # fmt: skip
    assert kinds == {"sklearn", "torch-cnn", "torch-lstm"}


@pytest.mark.parametrize("model_id", SHIPPED)
def test_shipped_card_is_the_template_filled_from_its_data(model_id: str) -> None:
    folder = resource_path("models", model_id)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    validation = read_validation(folder)
    assert (folder / "card.md").read_text(encoding="utf-8") == render_card(manifest, validation), (
        f"{model_id}: card.md differs from its data; run `stethos-engine train cards`"
    )
    assert (folder / "validation.json").read_bytes() == validation_bytes(validation)


@pytest.mark.parametrize("model_id", SHIPPED)
def test_shipped_bundle_verifies(model_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "verify", model_id]) == EXIT_OK
    assert capsys.readouterr().out.startswith(f"ok      {model_id} ")


def test_beat_card_renders_its_design_experiments_from_the_validation_record() -> None:
    folder = resource_path("models", "ecg-beats-bilstm-360")
    validation = read_validation(folder)
    card = (folder / "card.md").read_text(encoding="utf-8")
    rows = validation["experiments"]
    assert len(rows) >= 30 and set(rows[0]) == {"variant", "S", "V"}
    assert "## Design experiments" in card and validation["experiments_discussion"] in card
    for row in rows:
        assert f"| {row['variant']} | {row['S']} | {row['V']} |" in card
    # The S operating-point table and the per-record notes come from the manifest.
    assert "| threshold | S sensitivity | S +P |" in card
    assert "Record 861 gave 817 of the 3286 false V labels" in card


def test_train_cards_rewrites_a_card_from_data_and_rehashes_it(tmp_path: Path, capsys) -> None:
    model_id = "heart-disease-tree-13"
    folder = tmp_path / model_id
    shutil.copytree(resource_path("models", model_id), folder)
    weights = json.loads((folder / "manifest.json").read_text())["files"]["model.skops"]
    (folder / "card.md").write_text("stale")
    # A hand-edited card no longer matches its hash: the bundle is refused ...
    with pytest.raises(BundleIntegrityError):
        open_bundle(folder)
    # ... and is not re-hashed as it stands.
    with pytest.raises(BundleIntegrityError):
        refresh_bundle(folder)
    shutil.copy(resource_path("models", model_id) / "card.md", folder / "card.md")
    validation = read_validation(folder)
    validation["missing_values"] = {"ca": 4}  # data that changes the card
    (folder / "validation.json").write_bytes(validation_bytes(validation))
    with pytest.raises(BundleIntegrityError):
        refresh_bundle(folder)
    shutil.copy(resource_path("models", model_id) / "validation.json", folder / "validation.json")

    assert main(["train", "cards", "--out", str(tmp_path)]) == EXIT_OK
    assert f"card rewritten: {model_id}" in capsys.readouterr().out
    bundle = open_bundle(folder, strict=True)
    assert bundle.manifest["files"]["model.skops"] == weights
    assert (folder / "card.md").read_bytes() == (
        resource_path("models", model_id) / "card.md"
    ).read_bytes()
