"""Shows one prediction: score, label at the operating point, the model, its use.

Every result names the model and version that made it, its intended use,
and that it supports, not replaces, the clinician. Record results add a
contribution bar chart (and the same numbers as a table); ECG results the
beats per class; every result links to the model card.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QCoreApplication, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.i18n import QT_TRANSLATE_NOOP, current_language
from desktop.jobs import JobFailure, JobRunner
from desktop.results.basis import basis_text, site_text
from desktop.results.chart import ContributionChart, translated_label, translated_value
from desktop.results.model_card import ModelCardDialog, localized_card
from engine.workflow import (
    AMPLITUDE_WARNING,
    GAP_WARNING,
    MISSING_WARNING,
    NOISE_WARNING,
    NOISY_RHYTHM_WARNING,
    PAUSE_WARNING,
    RHYTHM_NOISE_WARNING,
    Prediction,
)

# engine.models.results.SUPPORT_STATEMENT, marked for translation (a test keeps them equal).
_SUPPORT = QT_TRANSLATE_NOOP(
    "ResultPanel",
    "This result supports, and does not replace, the judgement of a qualified clinician.",
)
_UNITS = {
    "log-odds": QT_TRANSLATE_NOOP("ResultPanel", "log-odds"),
    "probability": QT_TRANSLATE_NOOP("ResultPanel", "probability"),
}
_BEAT_NAMES = {
    "N": QT_TRANSLATE_NOOP("BeatClasses", "Normal"),
    "S": QT_TRANSLATE_NOOP("BeatClasses", "Supraventricular ectopic"),
    "V": QT_TRANSLATE_NOOP("BeatClasses", "Ventricular ectopic"),
    "F": QT_TRANSLATE_NOOP("BeatClasses", "Fusion"),
    "Q": QT_TRANSLATE_NOOP("BeatClasses", "Unclassifiable"),
}


def _clock(seconds: float) -> str:
    """``m:ss`` from the start of the recording."""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def model_text(p: Prediction, key: str, default: str) -> str:
    """The model's own text ``key`` (name, intended use) in the interface language, if it has it."""
    texts = (p.extra.get("translations") or {}).get(current_language()) or {}
    return str(texts.get(key) or default)


def label_text(p: Prediction, label: str) -> str:
    """An output label in the interface language (the model's own translation), else as is."""
    texts = (p.extra.get("translations") or {}).get(current_language()) or {}
    return str((texts.get("labels") or {}).get(label, label))


#: What a gate names when an input does not record it (engine.models.gates.DESCRIBE).
_MISSING_ATTRIBUTES = {
    "modality": QT_TRANSLATE_NOOP("ResultPanel", "modality"),
    "view position": QT_TRANSLATE_NOOP("ResultPanel", "view position"),
    "presentation intent": QT_TRANSLATE_NOOP("ResultPanel", "presentation intent"),
    "body part": QT_TRANSLATE_NOOP("ResultPanel", "body part"),
    "photometric interpretation": QT_TRANSLATE_NOOP("ResultPanel", "photometric interpretation"),
    "sampling rate": QT_TRANSLATE_NOOP("ResultPanel", "sampling rate"),
    "leads": QT_TRANSLATE_NOOP("ResultPanel", "leads"),
    "duration": QT_TRANSLATE_NOOP("ResultPanel", "duration"),
    "image size": QT_TRANSLATE_NOOP("ResultPanel", "image size"),
    "patient's age": QT_TRANSLATE_NOOP("ResultPanel", "patient's age"),
}


def _pattern(template: str, fields: dict[str, str]) -> re.Pattern[str]:
    """An engine message template as a pattern: each ``{field}`` (with its format spec) becomes
    the given group, so the desktop reads the message it translates and the two cannot drift."""
    out = re.escape(template)
    for placeholder, group in fields.items():
        out = out.replace(re.escape(placeholder), group)
    return re.compile(f"^{out}$")


_ANY, _INT = ".*", r"\d+"
_MISSING = _pattern(
    MISSING_WARNING,
    {
        "{input}": f"(?P<input>{_ANY})",
        "{what}": f"(?P<what>{_ANY})",
        "{model}": f"(?P<model>{_ANY})",
    },
)
_NOISE = _pattern(
    NOISE_WARNING,
    {"{share:.0%}": rf"(?P<share>{_INT}%)", "{name}": f"(?P<name>{_ANY})",
     "{n}": f"(?P<n>{_INT})", "{total}": f"(?P<total>{_INT})"},
)  # fmt: skip
_GAP = _pattern(
    GAP_WARNING,
    {"{seconds:.1f}": r"(?P<seconds>[\d.]+)", "{lead}": f"(?P<lead>{_ANY})",
     "{name}": f"(?P<name>{_ANY})", "{n}": f"(?P<n>{_INT})"},
)  # fmt: skip
_PAUSES = _pattern(
    PAUSE_WARNING,
    {"{n}": f"(?P<n>{_INT})", "{lead}": f"(?P<lead>{_ANY})", "{name}": f"(?P<name>{_ANY})",
     "{other}": f"(?P<other>{_ANY})"},
)  # fmt: skip

_RHYTHM_NOISE = _pattern(
    RHYTHM_NOISE_WARNING,
    {"{seconds:.0f}": rf"(?P<seconds>{_INT})", "{share:.0%}": rf"(?P<share>{_INT}%)",
     "{lead}": f"(?P<lead>{_ANY})", "{name}": f"(?P<name>{_ANY})"},
)  # fmt: skip
_NOISY_RHYTHM = _pattern(
    NOISY_RHYTHM_WARNING, {"{model}": f"(?P<model>{_ANY})", "{name}": f"(?P<name>{_ANY})"}
)

_MV = r"(?P<{0}>[\d.]+)"
_AMPLITUDE = _pattern(
    AMPLITUDE_WARNING,
    {"{lead}": f"(?P<lead>{_ANY})", "{name}": f"(?P<name>{_ANY})",
     "{amplitude}": _MV.format("amplitude"), "{model}": f"(?P<model>{_ANY})",
     "{low:.2f}": _MV.format("low"), "{high:.2f}": _MV.format("high"),
     "{scale}": _MV.format("scale")},
)  # fmt: skip


# The engine's warnings shown in the interface language: each one's pattern, its wording
# (marked for translation, {0}… in the order of the fields) and the fields that fill it.
_KNOWN: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    (
        _GAP,
        QT_TRANSLATE_NOOP(
            "ResultPanel",
            "{0} s of lead {1} of “{2}” hold no signal ({3} stretch(es) of missing samples or a "
            "perfectly flat line: lead off or a recorder fault): no beat is found there and no "
            "pause or heart rate is taken across them; read the trace there and around them.",
        ),
        ("seconds", "lead", "name", "n"),
    ),
    (
        _PAUSES,
        QT_TRANSLATE_NOOP(
            "ResultPanel",
            "{0} possible pause(s) over 2 s on lead {1} of “{2}” were not confirmed: lead {3} "
            "shows heartbeats in them (the rhythm lead lost its amplitude or was noisy there). "
            "They are listed apart and not counted as pauses; read the trace there.",
        ),
        ("n", "lead", "name", "other"),
    ),
    (
        _NOISY_RHYTHM,
        QT_TRANSLATE_NOOP(
            "ResultPanel",
            "Model “{0}” reads “{1}” as too noisy to name its rhythm: the heart rate, pauses and "
            "ectopic counts of its report come from what the QRS detector found in the noise; "
            "read the trace, and record again if you can.",
        ),
        ("model", "name"),
    ),
    (
        _RHYTHM_NOISE,
        QT_TRANSLATE_NOOP(
            "ResultPanel",
            "{0} s ({1}) of lead {2} of “{3}” look like noise rather than separate heartbeats "
            "(lead off, artefact, flutter, a very fast rhythm, or T waves as tall as narrow QRS "
            "complexes): the beats, heart rate, pauses and ectopic counts found there are "
            "unreliable; read the trace there.",
        ),
        ("seconds", "share", "lead", "name"),
    ),
    (
        _AMPLITUDE,
        QT_TRANSLATE_NOOP(
            "ResultPanel",
            "The QRS amplitude of lead {0} of “{1}” ({2} mV) lies outside the amplitudes model "
            "“{3}” was trained on ({4}–{5} mV): its beats were scaled ×{6} for the model. "
            "Low-voltage QRS, another lead or a wrong gain in the file can cause this; check the "
            "trace's calibration before relying on V and S labels.",
        ),
        ("lead", "name", "amplitude", "model", "low", "high", "scale"),
    ),
    (
        _NOISE,
        QT_TRANSLATE_NOOP(
            "ResultPanel",
            "{0} of “{1}” ({2} of {3} 10-s stretches) looks like noise rather than separate "
            "heartbeats (lead off, artefact, flutter, a very fast rhythm, or T waves as tall as "
            "narrow QRS complexes): beat labels there are unreliable; read the trace.",
        ),
        ("share", "name", "n", "total"),
    ),
)


def warning_text(text: str) -> str:
    """A result warning in the interface language where its wording is known (the engine's
    "does not record its …" gate warning, its noise and gap warnings), else as the engine wrote
    it."""
    for pattern, wording, fields in _KNOWN:
        found = pattern.match(text)
        if found is not None:
            return QCoreApplication.translate("ResultPanel", wording).format(
                *(found.group(k) for k in fields)
            )
    m = _MISSING.match(text)
    if m is None or m.group("what") not in _MISSING_ATTRIBUTES:
        return text
    what = QCoreApplication.translate("ResultPanel", _MISSING_ATTRIBUTES[m.group("what")])
    return QCoreApplication.translate(
        "ResultPanel",
        "“{0}” does not record its {1}; check that it is what model “{2}” was made for.",
    ).format(m.group("input"), what, m.group("model"))


def result_kind(p: Prediction) -> str:
    """``"rhythm"``, ``"signal"``, ``"record"`` or ``"image"``: which kind of model made ``p``."""
    if "rhythm" in p.extra:
        return "rhythm"
    if p.beats or "beat_counts" in p.extra:
        return "signal"
    if p.contributions or "contribution_units" in p.extra:
        return "record"
    return "image"


class ResultPanel(QFrame):
    """A read-only card for the latest result.

    An image the model's out-of-domain check flags gets a banner and no
    result; "Show the score anyway" reveals it and emits ``score_revealed``
    (the window records that in the audit log).
    """

    #: The clinician chose to see an out-of-domain image's score (the Prediction).
    score_revealed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.prediction: Prediction | None = None
        self.card_dialog: ModelCardDialog | None = None
        self.card_jobs = JobRunner(self)
        self.card_jobs.failed.connect(self._on_card_jobs_failed)
        layout = QVBoxLayout(self)
        self.title = QLabel(self.tr("No analysis yet"))
        self.title.setObjectName("result_title")
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.score_bar = QProgressBar()
        self.score_bar.setRange(0, 1000)
        self.score_bar.setTextVisible(True)
        self.score_bar.hide()
        self.label = QLabel("")
        self.label.setObjectName("result_label")
        self.basis = QLabel("")
        self.basis.setObjectName("result_basis")
        self.operating_point = QLabel("")
        self.operating_point.setObjectName("result_operating_point")
        self.model = QLabel("")
        self.model.setObjectName("result_model")
        self.model.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.intended_use = QLabel("")
        self.intended_use.setObjectName("result_intended_use")
        link_text = self.tr("Model card…")
        self.card_link = QLabel(f'<a href="card">{link_text}</a>')
        self.card_link.setObjectName("result_card_link")
        self.card_link.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.card_link.linkActivated.connect(self._on_card_link_activated)
        self.ood_banner = QLabel("")
        self.ood_banner.setObjectName("result_ood_banner")
        self.ood_banner.setWordWrap(True)
        self.ood_banner.setStyleSheet(
            "background: #fff3e0; color: #bf360c; border: 1px solid #e65100; padding: 6px;"
            "font-weight: bold;"
        )
        self.ood_reveal = QPushButton(self.tr("Show the score anyway"))
        self.ood_reveal.setObjectName("result_ood_reveal")
        self.ood_reveal.clicked.connect(self._on_ood_reveal_clicked)
        self.warnings = QLabel("")
        self.warnings.setObjectName("result_warnings")
        self.warnings.setStyleSheet("color: #e65100;")
        # What the model's post-processing changed (beats relabelled): information, not a warning.
        self.notes = QLabel("")
        self.notes.setObjectName("result_notes")
        self.support = QLabel(self.tr(_SUPPORT))
        self.support.setObjectName("result_support")
        self.support.setStyleSheet("font-style: italic;")
        self.chart = ContributionChart()
        self.table_check = QCheckBox(self.tr("Show as a table"))
        self.table_check.setObjectName("result_table_check")
        self.contributions = QTableWidget(0, 3)
        self.contributions.setObjectName("result_contributions")
        self.contributions.setHorizontalHeaderLabels(
            [self.tr("Finding"), self.tr("Value"), self.tr("Effect on risk (log-odds)")]
        )
        self.contributions.verticalHeader().hide()
        self.contributions.horizontalHeader().setStretchLastSection(True)
        self.contributions.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.contributions.setMinimumHeight(160)
        self.beat_counts = QTableWidget(0, 3)
        self.beat_counts.setObjectName("result_beat_counts")
        self.beat_counts.setHorizontalHeaderLabels(
            [self.tr("Beat class"), self.tr("Beats"), self.tr("Share")]
        )
        self.beat_counts.verticalHeader().hide()
        header = self.beat_counts.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.beat_counts.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for w in (
            self.label,
            self.basis,
            self.operating_point,
            self.model,
            self.intended_use,
            self.support,
            self.warnings,
            self.notes,
        ):
            w.setWordWrap(True)
        for widget in (
            self.title,
            self.ood_banner,
            self.ood_reveal,
            self.score_bar,
            self.label,
            self.basis,
            self.warnings,
            self.notes,
            self.chart,
            self.table_check,
            self.contributions,
            self.beat_counts,
            self.operating_point,
            self.model,
            self.intended_use,
            self.card_link,
            self.support,
        ):
            layout.addWidget(widget)
        self.table_check.toggled.connect(self._on_table_check_toggled)
        self._footer = QHBoxLayout()
        self._footer.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._footer)
        self._hide_details()

    def add_footer_widgets(self, *widgets: QWidget) -> None:
        """Put widgets (the result's actions) in a row under the result."""
        for widget in widgets:
            self._footer.addWidget(widget)
        self._footer.addStretch(1)

    def _hide_details(self) -> None:
        for w in (
            self.ood_banner,
            self.ood_reveal,
            self.score_bar,
            self.basis,
            self.warnings,
            self.notes,
            self.chart,
            self.table_check,
            self.contributions,
            self.beat_counts,
            self.card_link,
            self.support,
        ):
            w.hide()

    # --- showing ---------------------------------------------------------------
    def show_prediction(self, p: Prediction) -> None:
        """Fill the card from ``p``."""
        self.prediction = p
        self._hide_details()
        kind = result_kind(p)
        if kind == "signal":
            self._show_beats(p)
        elif kind == "rhythm":
            self._show_rhythm(p)
        elif p.extra.get("out_of_domain"):
            self._show_out_of_domain(p)
        else:
            self._show_score(p)
        if kind == "record":
            self._show_contributions(p)
            self._show_basis(p)
        elif kind == "rhythm":  # the features that moved P(AF); the report is in its own panel
            self._show_contributions(p)
        self._show_operating_point(p, kind)
        self.model.setText(
            self.tr(
                "Model: {0}\nId: {1} · version {2} · weights {3}… · device {4} · {5:.0f} ms"
            ).format(
                model_text(p, "name", p.model_name),
                p.model_id,
                p.model_version,
                p.weights_sha256[:12],
                p.device,
                p.elapsed_ms,
            )
        )
        self.intended_use.setText(
            self.tr("Intended use: {0}").format(model_text(p, "intended_use", p.intended_use))
        )
        notes = [warning_text(w) for w in p.warnings]
        if "notice" in p.extra:
            notes.append(str(p.extra["notice"]))
        self.warnings.setText("\n".join(notes))
        self.warnings.setVisible(bool(notes))
        changed = [str(n) for n in p.extra.get("notes", [])]
        self.notes.setText("\n".join(changed))
        self.notes.setVisible(bool(changed))
        self.card_link.show()
        self.support.show()

    def _show_out_of_domain(self, p: Prediction) -> None:
        self.title.setText(self.tr("No result for this image"))
        if "domain_statistic" in p.extra:  # one threshold on the two scores together
            text = self.tr(
                "This image looks unlike the images this model was validated on; no result is "
                "given. (Out-of-domain check: combined score {0:.2f}, threshold {1:.2f}; "
                "appearance score {2:.1f}, adult-likeness {3:.1f}.)"
            ).format(
                float(p.extra["domain_statistic"]),
                float(p.extra.get("domain_statistic_threshold", 0.0)),
                float(p.extra.get("domain_score", 0.0)),
                float(p.extra.get("adult_score", 0.0)),
            )
        else:
            text = self.tr(
                "This image looks unlike the images this model was validated on; no result is "
                "given. (Out-of-domain check: appearance score {0:.1f}, threshold {1:.1f}.)"
            ).format(
                float(p.extra.get("domain_score", 0.0)),
                float(p.extra.get("domain_threshold", 0.0)),
            )
        text += " " + self.tr(
            "No result does not mean the image is normal: read it without the model."
        )
        self.ood_banner.setText(text)
        self.ood_banner.show()
        self.ood_reveal.show()
        self.label.setText("")

    @Slot()
    def _on_ood_reveal_clicked(self) -> None:
        p = self.prediction
        if p is None:
            return
        self.ood_reveal.hide()
        self._show_bar(p.score)
        self.label.setText(
            self.tr(
                "Shown on request: probability of {0} {1:.1%}; the model would say <b>{2}</b>. "
                "Not validated for images like this one."
            ).format(
                label_text(p, p.positive_label),
                p.score,
                label_text(p, str(p.extra.get("withheld_label", ""))),
            )
        )
        self.score_revealed.emit(p)

    def _show_score(self, p: Prediction) -> None:
        # One decimal, as the bar shows it: a rounded "100%" over a 99.9 % bar reads as certainty.
        self.title.setText(
            self.tr("Probability of {0}: {1:.1%}").format(label_text(p, p.positive_label), p.score)
        )
        self._show_bar(p.score)
        verdict = self.tr("POSITIVE") if p.is_positive else self.tr("negative")
        self.label.setText(
            self.tr("Result at the operating point: <b>{0}</b> ({1})").format(
                label_text(p, p.label), verdict
            )
        )

    def _show_rhythm(self, p: Prediction) -> None:
        rhythm = p.extra.get("rhythm") or {}
        self.title.setText(
            self.tr("Rhythm: {0}").format(label_text(p, str(p.extra.get("rhythm_label", p.label))))
        )
        self._show_bar(p.score)
        windows = len((rhythm.get("windows") or {}).get("starts_s") or [])
        if windows > 1:
            text = self.tr(
                "Probability of AF {0:.1%} (the mean of the recording's {1} windows of 30 s); "
                "AF burden {2:.1%}. The rhythm report is in the Rhythm tab."
            ).format(p.score, windows, float(rhythm.get("af_burden", 0.0)))
        else:
            text = self.tr(
                "Probability of AF {0:.1%}; AF burden {1:.1%}. The rhythm report is in the "
                "Rhythm tab."
            ).format(p.score, float(rhythm.get("af_burden", 0.0)))
        explained = rhythm.get("explanation") or {}
        if explained.get("rr_changes"):
            text += " " + self.tr(
                "From {0} to {1}, the stretch the features below describe, {2} of {3} "
                "beat-to-beat RR changes exceed 10 % of the median RR; those intervals are shaded "
                "on the strip (Show attributions)."
            ).format(
                _clock(float(explained["start"])), _clock(float(explained["end"])),
                len(explained.get("irregular_rr") or []), int(explained["rr_changes"]),
            )  # fmt: skip
        self.label.setText(text)

    def _show_bar(self, score: float) -> None:
        self.score_bar.setValue(round(score * 1000))
        self.score_bar.setFormat(f"{score:.1%}")
        self.score_bar.show()

    def _show_basis(self, p: Prediction) -> None:
        """Which inputs the result rests on and the validated AUROC for that pattern."""
        text = basis_text(p.extra.get("inputs"))
        self.basis.setText(text)
        self.basis.setVisible(bool(text))

    def _show_operating_point(self, p: Prediction, kind: str) -> None:
        if kind == "signal" or p.specificity < 0:
            text = self.tr(
                "Operating point “{0}”: on validation, sensitivity for {1} {2:.0%}; "
                "specificity is not reported for this model."
            ).format(p.operating_point, p.positive_label, p.sensitivity)
        else:
            ci = p.extra.get("operating_point_ci")
            if isinstance(ci, dict) and ci.get("sensitivity") and ci.get("specificity"):
                (se_lo, se_hi), (sp_lo, sp_hi) = ci["sensitivity"], ci["specificity"]
                text = self.tr(
                    "Operating point “{0}”: threshold {1:.3f}; on validation sensitivity {2:.0%} "
                    "(95 % CI {3:.0%}–{4:.0%}), specificity {5:.0%} (95 % CI {6:.0%}–{7:.0%})."
                ).format(
                    p.operating_point, p.threshold, p.sensitivity, se_lo, se_hi,
                    p.specificity, sp_lo, sp_hi,
                )  # fmt: skip
            else:
                text = self.tr(
                    "Operating point “{0}”: threshold {1:.3f}; on validation sensitivity "
                    "{2:.0%}, specificity {3:.0%}."
                ).format(p.operating_point, p.threshold, p.sensitivity, p.specificity)
            design = model_text(p, "validation_design", str(p.extra.get("validation_design") or ""))
            if design:
                text += " " + self.tr("Validation: {0}.").format(design)
        site = site_text(p.extra.get("site_calibration"))
        if site:
            text += "\n" + site
        self.operating_point.setText(text)

    def _show_contributions(self, p: Prediction) -> None:
        units = str(p.extra.get("contribution_units", ""))
        shown_units = (
            QCoreApplication.translate("ResultPanel", _UNITS[units]) if units in _UNITS else units
        )
        self.chart.set_contributions(p.contributions, p.positive_label, shown_units)
        self.contributions.setHorizontalHeaderLabels(
            [
                self.tr("Finding"),
                self.tr("Value"),
                self.tr("Effect on risk ({0})").format(shown_units or self.tr("log-odds")),
            ]
        )
        self.contributions.setRowCount(len(p.contributions))
        ordered = sorted(p.contributions, key=lambda c: abs(c.contribution), reverse=True)
        for row, c in enumerate(ordered):
            self.contributions.setItem(row, 0, QTableWidgetItem(translated_label(c)))
            self.contributions.setItem(row, 1, QTableWidgetItem(translated_value(c)))
            item = QTableWidgetItem(f"{c.contribution:+.2f}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.contributions.setItem(row, 2, item)
        has = bool(p.contributions)
        self.chart.setVisible(has)
        self.table_check.setVisible(has)
        self.contributions.setVisible(has and self.table_check.isChecked())

    def _show_beats(self, p: Prediction) -> None:
        counts: dict[str, int] = dict(p.extra.get("beat_counts") or {})
        if not counts:
            for b in p.beats:
                counts[b.label] = counts.get(b.label, 0) + 1
        total = sum(counts.values())
        self.title.setText(self.tr("ECG: {0} beats classified").format(total))
        found = counts.get(p.positive_label, 0)
        name = QCoreApplication.translate(
            "BeatClasses", _BEAT_NAMES.get(p.positive_label, p.positive_label)
        )
        if found:
            self.label.setText(
                self.tr("<b>{0} {1} beats</b> ({2}) found; review them in the beat list.").format(
                    found, p.positive_label, name
                )
            )
        else:
            self.label.setText(self.tr("No {0} beats ({1}) found.").format(p.positive_label, name))
        self.beat_counts.setRowCount(len(counts))
        for row, (label, n) in enumerate(counts.items()):
            full = QCoreApplication.translate("BeatClasses", _BEAT_NAMES.get(label, label))
            self.beat_counts.setItem(row, 0, QTableWidgetItem(f"{label} — {full}"))
            count = QTableWidgetItem(str(n))
            count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.beat_counts.setItem(row, 1, count)
            share = QTableWidgetItem(f"{n / total:.1%}" if total else "—")
            share.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.beat_counts.setItem(row, 2, share)
        self.beat_counts.setMinimumHeight(
            self.beat_counts.horizontalHeader().height()
            + self.beat_counts.verticalHeader().defaultSectionSize() * len(counts)
            + 4
        )
        self.beat_counts.show()

    def beat_count(self, label: str) -> int | None:
        """The count shown for beat class ``label`` (``None`` when not shown)."""
        for row in range(self.beat_counts.rowCount()):
            name, count = self.beat_counts.item(row, 0), self.beat_counts.item(row, 1)
            if name is not None and count is not None and name.text().split(" ")[0] == label:
                return int(count.text())
        return None

    def clear(self) -> None:
        self.prediction = None
        self.title.setText(self.tr("No analysis yet"))
        for w in (self.label, self.operating_point, self.model, self.intended_use):
            w.setText("")
        self._hide_details()

    # --- model card ---------------------------------------------------------------
    def open_model_card(self) -> ModelCardDialog | None:
        """Open the card of the model that made the shown result (read on a worker thread)."""
        if self.prediction is None:
            return None
        dialog = ModelCardDialog(self.prediction.model_id, self)
        self.card_dialog = dialog
        dialog.show()
        self.card_jobs.submit(
            localized_card,
            self.prediction.model_id,
            name="model-card",
            on_success=dialog.set_markdown,
        )
        return dialog

    @Slot(str)
    def _on_card_link_activated(self, _: str) -> None:
        self.open_model_card()

    @Slot(object)
    def _on_card_jobs_failed(self, failure: JobFailure) -> None:
        if self.card_dialog is not None:
            self.card_dialog.set_error(failure.user_message)

    @Slot(bool)
    def _on_table_check_toggled(self, checked: bool) -> None:
        self.contributions.setVisible(
            checked and bool(self.prediction and self.prediction.contributions)
        )
