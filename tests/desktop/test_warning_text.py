"""Result warnings whose wording is known are shown in the interface language."""

from __future__ import annotations

from desktop.results.panel import warning_text
from engine.ecg.quality import NOISE_WARNING
from engine.models.gates import check_gates
from tests.desktop.test_i18n import chinese  # noqa: F401


def test_the_missing_attribute_warning_is_translated(chinese) -> None:  # noqa: F811
    (engine_text,) = check_gates(
        {"age_years": {"min": 1, "max": 6, "if_missing": "warn"}}, {"age_years": None},
        input_name="x.png", model_id="cxr-pneumonia-resnet18-224",
    )  # fmt: skip
    shown = warning_text(engine_text)
    assert shown == "“x.png”未记录患者年龄；请确认它是模型“cxr-pneumonia-resnet18-224”适用的输入。"
    assert warning_text("something else entirely.") == "something else entirely."


def test_in_english_the_engine_text_is_kept() -> None:
    (engine_text,) = check_gates(
        {"modality": {"allowed": ["CR", "DX"], "if_missing": "warn"}}, {"modality": ""},
        input_name="x.png", model_id="m",
    )  # fmt: skip
    assert warning_text(engine_text) == engine_text


def test_the_noise_warning_is_translated(chinese) -> None:  # noqa: F811
    engine_text = NOISE_WARNING.format(share=0.105, name="207", n=19, total=181)
    shown = warning_text(engine_text)
    assert shown.startswith("“207”的 10%（181 个 10 秒片段中的 19 个）看起来像噪声")
