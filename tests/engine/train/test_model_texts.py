"""Every bundled model carries its texts in Simplified Chinese, as its training writes them."""

from __future__ import annotations

import json

import pytest

from engine.resources import resource_path
from engine.train.model_texts import ZH_CN, with_translations
from engine.workflow import model_texts
from tests.engine.train.test_cards import SHIPPED


@pytest.mark.parametrize("model_id", SHIPPED)
def test_shipped_bundle_has_the_texts_training_writes(model_id: str) -> None:
    manifest = json.loads(resource_path("models", model_id, "manifest.json").read_text("utf-8"))
    assert manifest["translations"] == {"zh_CN": ZH_CN[model_id]}
    assert with_translations(manifest) == manifest  # a rebuild writes the same block
    zh = manifest["translations"]["zh_CN"]
    assert set(zh["labels"]) == set(manifest["outputs"]["labels"])
    assert len(zh["contraindications"]) == len(manifest["contraindications"])
    for key in ("name", "intended_use", "intended_users"):
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh[key]), (model_id, key)


def test_model_texts_fall_back_to_english() -> None:
    zh = model_texts("cxr-pneumonia-resnet18-224", "zh_CN")
    assert zh["translated"] and zh["labels"]["pneumonia"] == "肺炎" and "1–5" in zh["intended_use"]
    other = model_texts("cxr-pneumonia-resnet18-224", "fr_FR")
    assert not other["translated"] and other["labels"]["pneumonia"] == "pneumonia"
    assert other["intended_use"].startswith("Flag frontal")
