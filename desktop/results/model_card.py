"""The model card dialog: a bundle's Markdown card, rendered."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget


class ModelCardDialog(QDialog):
    """Shows one model's card (Markdown) read-only, links open in the system browser."""

    def __init__(self, model_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("model_card_dialog")
        self.model_id = model_id
        self.setWindowTitle(self.tr("Model card — {0}").format(model_id))
        self.resize(760, 680)
        self.browser = QTextBrowser()
        self.browser.setObjectName("model_card_browser")
        self.browser.setOpenExternalLinks(True)
        self.browser.setPlainText(self.tr("Reading the model card…"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)

    def set_markdown(self, text: str) -> None:
        self.browser.setMarkdown(text)

    def set_error(self, message: str) -> None:
        self.browser.setPlainText(self.tr("The model card cannot be shown: {0}").format(message))
