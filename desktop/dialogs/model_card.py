"""Analysis ▸ Model cards: the card of any installed model, chosen from a list."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import JobFailure, JobRunner
from desktop.results.model_card import localized_card
from engine.workflow import model_attributions


class ModelCardsDialog(QDialog):
    """Pick an installed model and read its card (hashes are checked first)."""

    def __init__(self, parent: QWidget | None = None, model_id: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("model_cards_dialog")
        self.setWindowTitle(self.tr("Model cards"))
        self.resize(780, 700)
        self.models = QComboBox()
        self.models.setObjectName("model_choice")
        for m in model_attributions():
            self.models.addItem(f"{m['name']} — {m['id']} {m['version']}", m["id"])
        self.browser = QTextBrowser()
        self.browser.setObjectName("model_card_text")
        self.browser.setOpenExternalLinks(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Model:")))
        layout.addWidget(self.models)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.jobs = JobRunner(self)
        self.jobs.succeeded.connect(self._on_jobs_succeeded)
        self.jobs.failed.connect(self._on_jobs_failed)
        self.models.currentIndexChanged.connect(self._on_models_current_index_changed)
        if model_id is not None:
            index = self.models.findData(model_id)
            if index >= 0:
                self.models.setCurrentIndex(index)
        if self.models.count() == 0:
            self.browser.setPlainText(self.tr("No model is installed."))
        else:
            self._on_models_current_index_changed(self.models.currentIndex())

    @Slot(int)
    def _on_models_current_index_changed(self, index: int) -> None:
        model_id = self.models.itemData(index)
        if model_id:
            self.browser.setPlainText(self.tr("Checking and reading the model card…"))
            self.jobs.submit(localized_card, model_id, name="model card")

    @Slot(object)
    def _on_jobs_succeeded(self, text: str) -> None:
        self.browser.setMarkdown(text)

    @Slot(object)
    def _on_jobs_failed(self, failure: JobFailure) -> None:
        self.browser.setPlainText(failure.user_message)

    def done(self, result: int) -> None:
        self.jobs.cancel()
        super().done(result)
