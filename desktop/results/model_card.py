"""The model card dialog: a bundle's Markdown card, rendered, with its texts in the UI language.

The card itself is written in English by the training command (its figures
change with each training run). When the interface is in another language
and the bundle carries its texts in that language (the manifest's
``translations``), a summary in that language — name, intended use, users,
what not to use it for, output classes — comes first, with headings from the
application's catalogue, and the English card follows.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from desktop.i18n import current_language
from engine.progress import CancelToken, Progress, no_progress
from engine.workflow import model_card, model_texts

translate = QCoreApplication.translate


def localized_card(
    model_id: str,
    language: str | None = None,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> str:
    """The model card (Markdown), after a summary in ``language`` when the bundle has one.

    Runs on a worker thread (the card's files are hashed first).
    """
    text = model_card(model_id, progress=progress, cancel=cancel)
    language = language or current_language()
    if language == "en":
        return text
    texts = model_texts(model_id, language)
    if not texts["translated"]:
        return text
    contra = "\n".join(f"- {c}" for c in texts["contraindications"])  # type: ignore[attr-defined]
    labels = "、".join(f"{v}（{k}）" for k, v in texts["labels"].items())  # type: ignore[attr-defined]
    use = translate("ModelCard", "Intended use")
    users = translate("ModelCard", "Intended users")
    avoid = translate("ModelCard", "Do not use for")
    classes = translate("ModelCard", "Output classes")
    support = translate(
        "ModelCard",
        "This result supports, and does not replace, the judgement of a qualified clinician.",
    )
    rest = translate(
        "ModelCard",
        "The full card, with the validation figures and limitations, follows in English.",
    )
    summary = [
        f"# {texts['name']}",
        f"**{use}：** {texts['intended_use']}",
        f"**{users}：** {texts['intended_users']}",
        f"**{avoid}：**\n\n{contra}",
        f"**{classes}：** {labels}",
        support,
        f"*{rest}*",
        "---",
    ]
    return "\n\n".join(summary) + "\n\n" + text


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
