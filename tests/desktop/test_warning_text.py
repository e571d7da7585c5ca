"""Result warnings whose wording is known are shown in the interface language."""

from __future__ import annotations

from desktop.results.panel import warning_text
from engine.ecg.quality import GAP_WARNING, NOISE_WARNING
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


def test_the_gap_warning_and_the_report_row_are_translated(chinese) -> None:  # noqa: F811
    from desktop.ecg.rhythm import events, summary_rows

    engine_text = GAP_WARNING.format(seconds=5.0, n=1, lead="MLII", name="gap")
    assert warning_text(engine_text).startswith("“gap”的 MLII 导联有 5.0 秒无信号")
    gaps = [{"label": "signal missing", "start": 20.0, "end": 25.0, "duration": 5.0}]
    rows = dict(summary_rows("normal", {"af_burden": 0.0, "signal_gaps": gaps}))
    assert rows["无信号"].endswith("共 1 段，未分析")
    assert ("无信号", 20.0, 25.0) in events({"signal_gaps": gaps})  # a place to jump to


def test_the_amplitude_warning_is_translated(chinese) -> None:  # noqa: F811
    from engine.ecg.quality import AMPLITUDE_WARNING, amount

    engine_text = AMPLITUDE_WARNING.format(
        lead="MLII", name="119", amplitude=amount(0.2376), model="ecg-beats-bilstm-360",
        low=0.9162, high=4.6152, scale=amount(3.8564),
    )  # fmt: skip
    shown = warning_text(engine_text)
    assert shown.startswith("“119”的导联 MLII 的 QRS 波幅（0.24 mV）超出模型“ecg-beats-bilstm-360”")
    assert "（0.92–4.62 mV）" in shown and "×3.86" in shown
    # a file whose gain is a thousand times wrong: not "0.00 mV" and "×0.00"
    engine_text = AMPLITUDE_WARNING.format(
        lead="MLII", name="101", amplitude=amount(1890.0), model="ecg-beats-bilstm-360",
        low=0.9162, high=4.6152, scale=amount(4.6152 / 1890.0),
    )  # fmt: skip
    shown = warning_text(engine_text)
    assert "（1890.00 mV）" in shown and "×0.0024" in shown


def test_the_rhythm_noise_warnings_are_translated(chinese) -> None:  # noqa: F811
    from engine.ecg.quality import NOISY_RHYTHM_WARNING, RHYTHM_NOISE_WARNING

    noisy = NOISY_RHYTHM_WARNING.format(model="ecg-rhythm-features-300", name="A00123")
    assert warning_text(noisy).startswith("模型“ecg-rhythm-features-300”认为“A00123”噪声过多")
    stretches = RHYTHM_NOISE_WARNING.format(seconds=40.2, share=0.4, lead="MLII", name="r")
    assert warning_text(stretches).startswith("“r”的导联 MLII 中有 40 秒（40%）看起来像噪声")
    from desktop.ecg.rhythm import events

    assert ("疑似噪声", 10.0, 50.2) in events({"noise_like": [[10.0, 50.2]]})  # to jump to
