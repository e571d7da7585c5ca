"""The list of measurements of the image shown, with the calibration warning."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.viewer.image_view import ImageView


class MeasurementList(QWidget):
    """Lists the viewer's measurements; selecting one shows it, Del removes it."""

    def __init__(self, view: ImageView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.warning = QLabel("")
        self.warning.setObjectName("calibration_warning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #d9822b; font-weight: bold;")
        self.warning.hide()
        self.spacing_note = QLabel("")
        self.spacing_note.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("measurement_list")
        self.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.delete_button = QPushButton(self.tr("Delete"))
        self.clear_button = QPushButton(self.tr("Delete all"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.warning)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.spacing_note)
        layout.addLayout(buttons)

        self.list.currentItemChanged.connect(self._on_list_current_changed)
        self.delete_button.clicked.connect(self.view.remove_selected_measurement)
        self.clear_button.clicked.connect(self.view.clear_measurements)
        view.measurements_changed.connect(self.refresh)
        view.frame_changed.connect(self._on_view_frame_changed)
        view.image_changed.connect(self.refresh)
        view.selection_changed.connect(self._on_view_selection_changed)
        self.refresh()

    def rows(self) -> list[str]:
        """The text of every row, as shown."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    @Slot()
    def refresh(self) -> None:
        """Rebuild the rows and the warning from the viewer."""
        view = self.view
        self.list.blockSignals(True)
        self.list.clear()
        for m in view.measurements:
            text = self.tr("{0}, image {1}: {2}").format(
                view.measurement_title(m), m.frame + 1, view.measurement_text(m).replace("\n", "; ")
            )
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, m.id)
            self.list.addItem(item)
            if m.id == view.selected_measurement:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._update_warning()
        has_any = bool(view.measurements)
        self.delete_button.setEnabled(has_any)
        self.clear_button.setEnabled(has_any)

    def _update_warning(self) -> None:
        warning = self.view.calibration_warning()
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))
        stack = self.view.stack
        if stack is None:
            self.spacing_note.setText("")
            return
        spacing = stack.spacing(self.view.frame)
        if spacing.spacing is not None:
            self.spacing_note.setText(
                self.tr("Pixel size {0:g} × {1:g} mm ({2}).").format(
                    spacing.spacing[0], spacing.spacing[1], spacing.source
                )
            )
        else:
            self.spacing_note.setText(self.tr("No pixel spacing."))

    @Slot(int)
    def _on_view_frame_changed(self, frame: int) -> None:
        self._update_warning()

    @Slot(int)
    def _on_view_selection_changed(self, measurement_id: int) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == measurement_id:
                self.list.blockSignals(True)
                self.list.setCurrentItem(item)
                self.list.blockSignals(False)
                return

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_list_current_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if current is not None:
            self.view.select_measurement(int(current.data(Qt.ItemDataRole.UserRole)))
