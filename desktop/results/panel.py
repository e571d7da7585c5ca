"""Shows one prediction: score, label at the operating point, the model, its use."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.models.results import SUPPORT_STATEMENT, Prediction


class ResultPanel(QFrame):
    """A read-only card for the latest result."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.prediction: Prediction | None = None
        layout = QVBoxLayout(self)
        self.title = QLabel(self.tr("No analysis yet"))
        self.title.setObjectName("result_title")
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
        self.operating_point = QLabel("")
        self.model = QLabel("")
        self.model.setObjectName("result_model")
        self.model.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.intended_use = QLabel("")
        self.intended_use.setObjectName("result_intended_use")
        self.support = QLabel(self.tr(SUPPORT_STATEMENT))
        self.support.setStyleSheet("font-style: italic;")
        self.contributions = QTableWidget(0, 3)
        self.contributions.setHorizontalHeaderLabels(
            [self.tr("Finding"), self.tr("Value"), self.tr("Effect on risk (log-odds)")]
        )
        self.contributions.verticalHeader().hide()
        self.contributions.horizontalHeader().setStretchLastSection(True)
        self.contributions.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.contributions.setMinimumHeight(160)
        for w in (self.label, self.operating_point, self.model, self.intended_use, self.support):
            w.setWordWrap(True)
        for w in (
            self.title,
            self.score_bar,
            self.label,
            self.operating_point,
            self.model,
            self.intended_use,
            self.contributions,
            self.support,
        ):
            layout.addWidget(w)
        self.contributions.hide()
        self.support.hide()

    def show_prediction(self, p: Prediction) -> None:
        """Fill the card from ``p``."""
        self.prediction = p
        self.title.setText(self.tr("Probability of {0}: {1:.0%}").format(p.positive_label, p.score))
        self.score_bar.setValue(round(p.score * 1000))
        self.score_bar.setFormat(f"{p.score:.1%}")
        self.score_bar.show()
        verdict = self.tr("POSITIVE") if p.is_positive else self.tr("negative")
        self.label.setText(
            self.tr("Result at the operating point: <b>{0}</b> ({1})").format(p.label, verdict)
        )
        self.operating_point.setText(
            self.tr(
                "Operating point “{0}”: threshold {1:.3f}; on validation sensitivity {2:.0%}, "
                "specificity {3:.0%}."
            ).format(p.operating_point, p.threshold, p.sensitivity, p.specificity)
        )
        self.model.setText(
            self.tr(
                "Model: {0}\nId: {1} · version {2} · weights {3}… · device {4} · {5:.0f} ms"
            ).format(
                p.model_name,
                p.model_id,
                p.model_version,
                p.weights_sha256[:12],
                p.device,
                p.elapsed_ms,
            )
        )
        self.intended_use.setText(self.tr("Intended use: {0}").format(p.intended_use))
        self.contributions.setRowCount(len(p.contributions))
        for row, c in enumerate(p.contributions):
            self.contributions.setItem(row, 0, QTableWidgetItem(c.label))
            self.contributions.setItem(row, 1, QTableWidgetItem(c.value))
            item = QTableWidgetItem(f"{c.contribution:+.2f}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.contributions.setItem(row, 2, item)
        self.contributions.setVisible(bool(p.contributions))
        self.support.show()

    def clear(self) -> None:
        self.prediction = None
        self.title.setText(self.tr("No analysis yet"))
        for w in (self.label, self.operating_point, self.model, self.intended_use):
            w.setText("")
        self.score_bar.hide()
        self.contributions.hide()
        self.support.hide()
