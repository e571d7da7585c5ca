"""The side of the main window the patient controllers see (their ``PatientHost``).

:class:`PatientHostWindow` is the base class of
:class:`desktop.main_window.MainWindow` that implements
:class:`desktop.patients.host.PatientHost`: the controllers reach the window
through these methods, never through its widgets or menu positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.records.form import RecordForm
from desktop.viewer.stack import StackInfo
from engine.records import HEART_RECORD
from engine.workflow import SeriesRef

if TYPE_CHECKING:
    from desktop.ecg.panel import EcgPanel
    from desktop.patients.host import ScreenViews
    from desktop.results.panel import ResultPanel
    from desktop.viewer.image_view import ImageView
    from engine.workflow import Prediction


class PatientHostWindow(QMainWindow):
    """What the patient controllers see of :class:`MainWindow` (a ``PatientHost``)."""

    status_text: QLabel
    help_menu: QMenu
    file_menu: QMenu
    view_menu: QMenu
    close_studies_action: QAction
    browser_dock: QDockWidget
    record_dock: QDockWidget
    analyze_button: QPushButton
    form: RecordForm
    viewer: ImageView
    _shown_ref: SeriesRef | None

    if TYPE_CHECKING:  # MainWindow builds it after the first paint, or on first use

        @property
        def ecg(self) -> EcgPanel: ...
        @property
        def results(self) -> ResultPanel: ...

    def show_status(self, text: str) -> None:
        self.status_text.setText(text)

    def add_patient_menu(self, menu: QMenu, file_actions: list[QAction]) -> None:
        self.menuBar().insertMenu(self.help_menu.menuAction(), menu)
        for action in file_actions:
            self.file_menu.insertAction(self.close_studies_action, action)

    def add_patients_dock(self, dock: QDockWidget) -> None:
        # Built after the saved layout was restored (after the first paint): where it was
        # left, as restoreState would have put it; else beside the studies.
        if not self.restoreDockWidget(dock):
            self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
            self.tabifyDockWidget(self.browser_dock, dock)
        self.view_menu.insertAction(self.record_dock.toggleViewAction(), dock.toggleViewAction())

    def show_patients_dock(self, dock: QDockWidget, width: int) -> None:
        dock.show()
        dock.raise_()
        QTimer.singleShot(0, lambda: self.resizeDocks([dock], [width], Qt.Orientation.Horizontal))

    def add_record_widgets(self, below_analyze: QWidget, below_results: QWidget) -> None:
        parent = self.analyze_button.parentWidget()
        side = parent.layout() if parent is not None else None
        assert isinstance(side, QVBoxLayout)
        side.insertWidget(side.indexOf(self.analyze_button) + 1, below_analyze)
        side.insertWidget(side.indexOf(self.results) + 1, below_results)

    def add_status_widget(self, widget: QWidget) -> None:
        self.statusBar().addPermanentWidget(widget)

    def current_record(self) -> dict:
        return self.form.record()

    def record_saved(self, record: Mapping[str, Any]) -> None:
        self.form.mark_saved(record)

    def record_problems(self) -> list[str]:
        if self.form.is_valid:
            return []
        problems = HEART_RECORD.problems(self.form.raw_values())
        return [self.form.message(name) or problems[name] for name in problems]

    def shown_prediction(self) -> Prediction | None:
        return self.results.prediction

    def shown_study(self) -> SeriesRef | None:
        return self._shown_ref if self.viewer.stack is not None else None

    def screen_views(self) -> ScreenViews:
        from desktop.patients.host import ScreenViews

        viewer, ecg, stack = self.viewer, self.ecg, self.viewer.stack
        image = viewer.rendered() if stack is not None else None
        info = stack.info if stack is not None else StackInfo()
        on_frame = image is not None and viewer.heatmap_frame == viewer.frame
        beats_by = ecg.prediction
        return ScreenViews(
            image=image,
            image_caption=" · ".join(
                t for t in (info.modality, info.series_description, info.study_date) if t
            ),
            heatmap=viewer.heatmap if on_frame else None,
            heatmap_opacity=viewer.heatmap_opacity,
            ecg=ecg.current_view().grab().toImage() if ecg.signal is not None else None,
            ecg_fs=ecg.signal.fs if ecg.signal is not None else 0.0,
            ecg_beats_by=None if beats_by is None else (beats_by.model_id, beats_by.model_version),
        )
