"""The main window: study browser, viewer tabs, record form and results.

Layout: the study browser and the measurement list dock on the left; the
views (Images now; an ECG tab is added to :attr:`MainWindow.tabs` with
:meth:`MainWindow.add_view_tab`) in the middle; the patient record and the
result panel dock on the right. Long work runs through one
:class:`~desktop.jobs.JobRunner` per view. What the first frame does not show
(the result panel, the ECG tab, the Patient menu and dock, DICOM receiving,
the AI-result actions) is built by :class:`~desktop.main_parts.PartsWindow`:
with the window, or after its first paint (``paint_first``, the start-up).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.browser.study_browser import StudyBrowser
from desktop.dialogs.error import show_error
from desktop.dialogs.unsaved import ask_before_closing
from desktop.jobs import JobFailure, JobRunner
from desktop.main_parts import WARM_UP_DELAY_MS, PartsWindow
from desktop.records.form import RecordForm
from desktop.settings import LAYOUT_VERSION, load_preferences, save_window_layout
from desktop.viewer.measurements import MeasurementList
from desktop.viewer.panel import ViewerPanel
from desktop.viewer.stack import ImageStack
from engine.records import HEART_RECORD
from engine.workflow import SeriesRef

if TYPE_CHECKING:
    from engine.workflow import AnalysisOutcome

log = logging.getLogger(__name__)


class MainWindow(PartsWindow):
    """Stethos' main window."""

    #: Every analysis made in this window (image, record, and ECG from the ECG
    #: tab), as an :class:`engine.workflow.AnalysisOutcome`.
    analysis_completed = Signal(object)
    #: A study was sent to a DICOM node (File ▸ Send study to PACS…): the SendResult.
    study_sent = Signal(object)
    #: The viewer shows another image, or none (for the patient controllers).
    image_shown = Signal()

    def __init__(self, *, paint_first: bool = False) -> None:
        """``paint_first``: build the parts the first frame does not show after it has been
        painted (see :meth:`finish_startup`), as the application's start-up does; otherwise
        (the default: tests, the self-test) the window is built whole here."""
        super().__init__()
        self.setWindowTitle(self.tr("Stethos — diagnosis workstation"))
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowNestedDocks
        )
        self.last_error: QMessageBox | None = None
        self.unsaved_box: QMessageBox | None = None  # closing with an unsaved record
        self.dialogs: dict[str, QDialog] = {}
        #: Image model used by Analyze image (``None``: the registry's default).
        self.image_model_id: str | None = None
        self._loading_ref: SeriesRef | None = None
        self._shown_ref: SeriesRef | None = None  # the series shown (see shown_study)
        self._image_result_for: str | None = None  # the image the shown image result is about
        self._analysing_image: str | None = None  # the image an analysis is running on
        #: The heat map of an out-of-domain result, shown only if its score is asked for.
        self._withheld_heatmap: tuple[Any, Any, int, str] | None = None

        # --- the views (tabs) -----------------------------------------------------------
        self.viewer_panel = ViewerPanel()
        self.viewer_panel.setObjectName("viewer_panel")
        self.viewer = self.viewer_panel.view
        self.tabs = QTabWidget()
        self.tabs.setObjectName("view_tabs")
        self.tabs.setDocumentMode(True)
        self.add_view_tab(self.viewer_panel, self.tr("Images"))
        self.setCentralWidget(self.tabs)

        # --- docks ----------------------------------------------------------------------
        self.browser = StudyBrowser()
        self.browser_dock = self._dock(self.browser, self.tr("Studies"), "studies_dock")
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.browser_dock)
        self.measurements = MeasurementList(self.viewer)
        self.measurements_dock = self._dock(
            self.measurements, self.tr("Measurements"), "measurements_dock"
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.measurements_dock)
        self.splitDockWidget(self.browser_dock, self.measurements_dock, Qt.Orientation.Vertical)

        self.form = RecordForm(HEART_RECORD)
        self.form.setObjectName("record_form")
        self.analyze_button = QPushButton(self.tr("Analyze record"))
        self.analyze_button.setObjectName("analyze_button")
        self.analyze_button.setEnabled(False)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        # The record form folds away while an image result is read (it is for records).
        self.record_toggle = QToolButton()
        self.record_toggle.setObjectName("record_toggle")
        self.record_toggle.setText(self.tr("Patient record — heart-disease risk inputs"))
        self.record_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.record_toggle.setCheckable(True)
        self.record_toggle.setChecked(True)
        self.record_toggle.setArrowType(Qt.ArrowType.DownArrow)
        self.record_toggle.setAutoRaise(True)
        self.record_toggle.setStyleSheet("QToolButton { font-weight: bold; }")
        self.record_toggle.toggled.connect(self.show_record_form)
        side_layout.addWidget(self.record_toggle)
        side_layout.addWidget(self.form)
        side_layout.addWidget(self.analyze_button)
        side_layout.addStretch(1)  # the result panel goes above it (see results)
        self._side_layout = side_layout
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(side)
        # Everything in the panel wraps to its width: nothing (the intended use above all)
        # may hide behind a sideways scroll bar.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(360)
        self.record_dock = self._dock(scroll, self.tr("Record and results"), "record_dock")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.record_dock)
        self.resizeDocks([self.browser_dock], [330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.record_dock], [470], Qt.Orientation.Horizontal)
        # The study list gets most of the left column: a study of many series needs rows.
        self.resizeDocks(
            [self.browser_dock, self.measurements_dock], [3, 1], Qt.Orientation.Vertical
        )

        # --- status bar -------------------------------------------------------------------
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(240)
        self.progress.hide()
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setObjectName("cancel_button")
        self.cancel_button.hide()
        self.status_text = QLabel("")
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

        # --- jobs: one runner per view; a new job cancels the previous one --------------
        self.image_jobs = JobRunner(self)
        self.analysis_jobs = JobRunner(self)
        self.show_jobs_in_status_bar(self.image_jobs, self.analysis_jobs)
        self.image_jobs.partial.connect(self._on_image_jobs_partial)
        self.image_jobs.succeeded.connect(self._on_image_jobs_succeeded)
        self.image_jobs.progressed.connect(self._on_image_jobs_progressed)
        self.image_jobs.finished.connect(self._on_image_jobs_finished)
        self.analysis_jobs.succeeded.connect(self._on_analysis_done)
        self.analysis_jobs.finished.connect(self._on_analysis_jobs_finished)

        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.analyze_button.clicked.connect(self.analyze)
        self.form.validity_changed.connect(self._on_form_validity_changed)
        self.browser.series_activated.connect(self._on_browser_series_activated)
        self.viewer.image_changed.connect(self._on_viewer_image_changed)
        self.receive_jobs = JobRunner(self)
        self.send_jobs = JobRunner(self)
        self.show_jobs_in_status_bar(self.send_jobs)
        #: Saved settings (ECG speed and gain, screen calibration, the models' device).
        self.preferences = load_preferences()
        self._build_menus()
        #: The record dock's visibility while the images tab was shown (the ECG tab hides it).
        self._record_dock_wanted = True
        self.viewer_panel.identity_action.toggled.connect(self.browser.set_identity_hidden)
        self._init_parts(paint_first)  # the rest: now, or after the first paint
        if os.environ.get("STETHOS_WARM_UP", "1") != "0":  # tests set 0
            QTimer.singleShot(WARM_UP_DELAY_MS, self._warm_up_image_model)
        #: The first-start layout, for View ▸ Reset layout.
        self._default_layout = self.saveState(LAYOUT_VERSION)
        self._on_viewer_image_changed()
        self.status_text.setText(self.tr("Ready."))

    def _dock(self, widget: QWidget, title: str, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        return dock

    def add_view_tab(self, widget: QWidget, title: str) -> int:
        """Add a view (the ECG view, for one) as a tab beside Images; returns its index."""
        return self.tabs.addTab(widget, title)

    # --- analysis ---------------------------------------------------------------------------
    @Slot(bool)
    def _on_form_validity_changed(self, valid: bool) -> None:
        self.analyze_button.setEnabled(valid)
        self.analyze_action.setEnabled(valid)
        why = (
            self.tr("Score heart-disease risk from the record.")
            if valid
            else self.tr("Fill in the required fields (*) of the patient record with valid values.")
        )
        self.analyze_button.setToolTip(why)
        self.analyze_action.setToolTip(why)

    @Slot()
    def analyze(self) -> None:
        """Score the record on a worker thread."""
        from engine.workflow import analyze

        if not self.form.is_valid:
            return
        self.show_record_form(True)
        self.analysis_jobs.submit(
            analyze,
            self.form.record(),
            kind="record",
            device=self.device,
            name="analyze",
            on_success=self._on_record_result,
        )

    @property
    def device(self) -> str:
        """The "Run models on" setting, which every analysis of this window honours."""
        return str(getattr(self.preferences, "device", "auto") or "auto")

    def _on_record_result(self, _outcome: AnalysisOutcome) -> None:
        self._image_result_for = None  # the panel now shows a record result

    @Slot()
    def analyze_image(self) -> None:
        """Score the frame shown with the image model, with its heat map, on a worker thread."""
        from engine.workflow import analyze

        stack = self.viewer.stack
        if stack is None or not stack.is_loaded(self.viewer.frame):
            self.status_text.setText(self.tr("Open an image first."))
            return
        frame = self.viewer.frame
        source: object
        if stack.image is not None:
            source, source_frame = stack.image, frame
        else:
            source, source_frame = stack.sources[frame]

        def show_heatmap(outcome: AnalysisOutcome) -> None:
            self._image_result_for = _stack_key(stack)
            heatmap = outcome.heatmap
            if heatmap is None or self.viewer.stack is not stack:
                return
            if outcome.prediction.extra.get("out_of_domain"):
                # No result is given for this image: its heat map waits for "show anyway".
                self._withheld_heatmap = (stack, heatmap, frame, outcome.model.id)
                return
            self.viewer.set_heatmap(heatmap, frame, outcome.model.id)

        self._withheld_heatmap = None
        self.analysis_jobs.submit(
            analyze,
            source,
            kind="image",
            frame=source_frame,
            model_id=self.image_model_id,
            device=self.device,
            name="analyze image",
            on_success=show_heatmap,
        )
        # after submit: submitting cancels (and finishes) any previous analysis
        self._analysing_image = _stack_key(stack)

    @Slot()
    def reset_layout(self) -> None:
        """View ▸ Reset layout: every dock back where the first start put it."""
        self.restoreState(self._default_layout, LAYOUT_VERSION)
        for dock in (self.browser_dock, self.measurements_dock, self.record_dock):
            dock.setFloating(False)
            dock.show()
        if self._patients is not None:  # built after the first-start layout was taken
            patients = self._patients.dock
            patients.setFloating(False)
            self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, patients)
            self.tabifyDockWidget(self.browser_dock, patients)
            patients.hide()
        self._record_dock_wanted = True
        self.resizeDocks([self.browser_dock], [330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.record_dock], [470], Qt.Orientation.Horizontal)
        self.resizeDocks(
            [self.browser_dock, self.measurements_dock], [3, 1], Qt.Orientation.Vertical
        )

    def _on_view_tab_changed(self, index: int) -> None:
        """The record form and image results are for images: the ECG tab has its own panel."""
        if self.tabs.widget(index) is self._ecg:
            self._record_dock_wanted = self.record_dock.isVisible()
            self.record_dock.hide()
        elif self._record_dock_wanted:
            self.record_dock.show()

    @Slot(bool)
    def show_record_form(self, shown: bool) -> None:
        """Unfold or fold the record form (its heading stays, with an arrow)."""
        self.form.setVisible(shown)
        self.analyze_button.setVisible(shown)
        with QSignalBlocker(self.record_toggle):
            self.record_toggle.setChecked(shown)
        self.record_toggle.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )

    @Slot(object)
    def _on_analysis_done(self, outcome: AnalysisOutcome) -> None:
        prediction = outcome.prediction
        self.results.show_prediction(prediction)
        self.record_dock.show()
        if outcome.record is None:  # an image result: fold the form so the result shows whole
            self.show_record_form(False)
        self.status_text.setText(
            self.tr("Analysis done with {0} {1}.").format(
                prediction.model_id, prediction.model_version
            )
        )
        self.analysis_completed.emit(outcome)

    @Slot()
    def _on_analysis_jobs_finished(self) -> None:
        self._analysing_image = None

    # --- job feedback ---------------------------------------------------------------------------
    def _busy_runners(self) -> list[JobRunner]:
        runners = [self.image_jobs, self.analysis_jobs]
        if self._ecg is not None:
            runners.append(self._ecg.jobs)
        return [r for r in runners if r.busy]

    @Slot(str)
    def _on_job_started(self, name: str) -> None:
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.status_text.setText(self.tr("Working…"))

    @Slot(float, str)
    def _on_job_progressed(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(fraction * 1000))
        if text:
            self.status_text.setText(text)

    @Slot(object)
    def _on_job_failed(self, failure: JobFailure) -> None:
        self.status_text.setText(failure.user_message)
        self.last_error = show_error(
            self, self.tr("Stethos"), failure.user_message, failure.details
        )

    def show_jobs_in_status_bar(self, *runners: JobRunner) -> None:
        """Progress, Cancel, failures and "Cancelled." of these runners' jobs in the status bar."""
        for runner in runners:
            runner.started.connect(self._on_job_started)
            runner.progressed.connect(self._on_job_progressed)
            runner.failed.connect(self._on_job_failed)
            runner.cancelled.connect(self._on_job_cancelled)
            runner.finished.connect(self._on_job_finished)

    @Slot()
    def _on_job_cancelled(self) -> None:
        self.status_text.setText(self.tr("Cancelled."))

    @Slot()
    def _on_job_finished(self) -> None:
        if not self._busy_runners():
            self.progress.hide()
            self.cancel_button.hide()

    @Slot()
    def _on_cancel_clicked(self) -> None:
        for runner in self._busy_runners():
            runner.cancel()

    # --- misc ---------------------------------------------------------------------------------
    @Slot()
    def _on_viewer_image_changed(self) -> None:
        # an image result never stays on screen beside another image
        key = _stack_key(self.viewer.stack)
        if self._analysing_image is not None and key != self._analysing_image:
            self.analysis_jobs.cancel()  # its result would be about another image
        if self._image_result_for is not None and key != self._image_result_for:
            if self._results is not None and self._results.prediction is not None:
                self._results.clear()
            self._image_result_for = None
        has = self.viewer.stack is not None
        self.analyze_image_action.setEnabled(has)
        self.tags_action.setEnabled(has)
        self.analyze_image_action.setToolTip(
            self.tr("Run the image model on the image shown.")
            if has
            else self.tr("Open a radiograph first (File ▸ Open file…).")
        )
        self.tags_action.setToolTip(
            self.tr("Show the DICOM tags of the image shown.")
            if has
            else self.tr("Open an image first.")
        )
        self.image_shown.emit()

    def _runners(self) -> list[JobRunner]:
        runners = [self.image_jobs, self.analysis_jobs, self.browser.thumb_jobs]
        runners += [self.receive_jobs, self.send_jobs]
        if self._results is not None:
            runners.append(self._results.card_jobs)
        if self._ecg is not None:
            runners += [self._ecg.jobs, self._ecg.results.card_jobs]
        if self._ai_dicom is not None:
            runners += [self._ai_dicom.jobs, self._ai_dicom.read_jobs]
        runners += [
            jobs
            for d in self.dialogs.values()
            if isinstance(jobs := getattr(d, "jobs", None), JobRunner)
        ]
        return runners

    def _on_score_revealed(self, prediction: object) -> None:
        """An out-of-domain image's score was shown on request: say so in the audit log."""
        from engine.workflow import note_out_of_domain_shown

        withheld, self._withheld_heatmap = self._withheld_heatmap, None
        if withheld is not None and self.viewer.stack is withheld[0]:
            self.viewer.set_heatmap(*withheld[1:])
        self.patients.step(
            note_out_of_domain_shown, prediction, name="Record that the score was shown"
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        patient = self._patients.patient if self._patients is not None else None
        if patient is not None and self.form.edited and not self._closing:
            event.ignore()  # typed in, not saved: ask (closing again after “Close without saving”)
            if self.unsaved_box is not None and self.unsaved_box.isVisible():
                self.unsaved_box.raise_()  # asked already
            else:
                name = patient.display_name
                self.unsaved_box = ask_before_closing(self, name, self._close_anyway)
            return
        self._closing = True  # what is not built yet is not built now
        if self._receive_service is not None:
            self._receive_service.stop()
        if (
            self._ecg is not None
            and self.tabs.currentWidget() is self._ecg
            and (self._record_dock_wanted)
        ):
            self.tabs.setCurrentWidget(self.viewer_panel)  # save the images tab's layout
        save_window_layout(self)
        self.viewer.stop_cine()
        runners = self._runners()
        for runner in runners:
            runner.cancel()
        for runner in runners:
            runner.wait(5.0)
        if self._patients is not None:
            self._patients.shutdown()
        super().closeEvent(event)

    def _close_anyway(self) -> None:
        self._closing = True
        self.close()


def _stack_key(stack: ImageStack | None) -> str | None:
    """What identifies the image shown (series UID, else file), for stale-result checks."""
    if stack is None:
        return None
    if stack.series is not None:
        return stack.series.series_instance_uid
    return str(stack.sources[0][0]) if stack.sources else None
