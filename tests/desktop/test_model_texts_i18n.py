"""In Chinese, the result panel and the model card show the model's own Chinese texts."""

from __future__ import annotations

from desktop.results.model_card import localized_card
from desktop.results.panel import ResultPanel
from engine.workflow import analyze
from tests.desktop.conftest import VALID_RECORD
from tests.desktop.test_i18n import chinese  # noqa: F401  (fixture)


def test_record_result_shows_the_models_chinese_texts(qtbot, chinese) -> None:  # noqa: F811
    panel = ResultPanel()
    qtbot.addWidget(panel)
    p = analyze(dict(VALID_RECORD), kind="record").prediction
    panel.show_prediction(p)
    assert "冠状动脉" in panel.intended_use.text()  # the bundle's own translation
    assert "根据临床病历评估心脏病风险" in panel.model.text()
    assert "有疾病" in panel.title.text()
    assert ("有疾病" in panel.label.text()) or ("无疾病" in panel.label.text())


def test_model_card_starts_with_a_chinese_summary_then_the_english_card(chinese) -> None:  # noqa: F811
    text = localized_card("ecg-rhythm-features-300", "zh_CN")
    head, _, card = text.partition("---")
    assert "预期用途" in head and "心房颤动" in head and "房颤（AF）" in head
    assert "英文版完整说明卡" in head
    assert "## Validation" in card  # the full card follows, in English
    assert localized_card("ecg-rhythm-features-300", "en").startswith("# Heart rhythm on ECG")
