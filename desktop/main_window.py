"""The main window: viewer in the middle, record form and results beside it."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop import tasks
from desktop.dialogs.error import show_error
from desktop.jobs import JobFailure, JobRunner
from desktop.records.form import RecordForm
from desktop.results.panel import ResultPanel
from desktop.viewer.image_view import ImageView
from engine import __version__
from engine.records import HEART_RECORD
from engine.resources import resource_path

log = logging.getLogger(__name__)

SAMPLE_STUDY = ("samples", "chest-cr-pa.dcm")


class MainWindow(QMainWindow):
    """Stethos' main window."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(self.tr("Stethos — diagnosis workstation"))
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.last_error: QMessageBox | None = None

        self.viewer = ImageView()
        self.viewer.setObjectName("viewer")
        self.form = RecordForm(HEART_RECORD)
        self.form.setObjectName("record_form")
        self.analyze_button = QPushButton(self.tr("Analyze record"))
        self.analyze_button.setObjectName("analyze_button")
        self.analyze_button.setEnabled(False)
        self.results = ResultPanel()
        self.results.setObjectName("result_panel")

        side = QWidget()
        side_layout = QVBoxLayout(side)
        heading = QLabel(self.tr("<b>Patient record</b> — heart-disease risk inputs"))
        side_layout.addWidget(heading)
        side_layout.addWidget(self.form)
        side_layout.addWidget(self.analyze_button)
        side_layout.addWidget(self.results)
        side_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(side)
        scroll.setMinimumWidth(560)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.viewer)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.setCentralWidget(splitter)

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

        # One runner per view: a new image load cancels the previous one; so
        # does a new analysis.
        self.image_jobs = JobRunner(self)
        self.analysis_jobs = JobRunner(self)
        for runner in (self.image_jobs, self.analysis_jobs):
            runner.started.connect(self._on_job_started)
            runner.progressed.connect(self._on_job_progressed)
            runner.failed.connect(self._on_job_failed)
            runner.cancelled.connect(self._on_job_cancelled)
            runner.finished.connect(self._on_job_finished)
        self.image_jobs.succeeded.connect(self._on_image_loaded)
        self.analysis_jobs.succeeded.connect(self._on_analysis_done)

        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.analyze_button.clicked.connect(self.analyze)
        self.form.validity_changed.connect(self._on_form_validity_changed)
        self.viewer.window_changed.connect(self._on_viewer_window_changed)
        self._build_menus()
        self.status_text.setText(self.tr("Ready."))

    # --- menus -----------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu(self.tr("&File"))
        self.open_file_action = QAction(self.tr("&Open file…"), self)
        self.open_file_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_file_action.triggered.connect(self._on_open_file_triggered)
        self.open_folder_action = QAction(self.tr("Open &folder…"), self)
        self.open_folder_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_folder_action.triggered.connect(self._on_open_folder_triggered)
        self.open_sample_action = QAction(self.tr("Open &sample study"), self)
        self.open_sample_action.triggered.connect(self.open_sample)
        quit_action = QAction(self.tr("&Quit"), self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for a in (self.open_file_action, self.open_folder_action, self.open_sample_action):
            file_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu(self.tr("&View"))
        self.fit_action = QAction(self.tr("&Fit to window"), self)
        self.fit_action.setShortcut(QKeySequence("F"))
        self.fit_action.triggered.connect(self.viewer.fit_to_window)
        self.reset_window_action = QAction(self.tr("&Reset window/level"), self)
        self.reset_window_action.setShortcut(QKeySequence("R"))
        self.reset_window_action.triggered.connect(self._on_reset_window_triggered)
        view_menu.addAction(self.fit_action)
        view_menu.addAction(self.reset_window_action)

        analysis_menu = self.menuBar().addMenu(self.tr("&Analysis"))
        self.analyze_action = QAction(self.tr("&Analyze record"), self)
        self.analyze_action.setShortcut(QKeySequence("Ctrl+R"))
        self.analyze_action.setEnabled(False)
        self.analyze_action.triggered.connect(self.analyze)
        analysis_menu.addAction(self.analyze_action)

        help_menu = self.menuBar().addMenu(self.tr("&Help"))
        about = QAction(self.tr("&About Stethos"), self)
        about.triggered.connect(self._on_about_triggered)
        help_menu.addAction(about)

    # --- opening ---------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> None:
        """Open files or folders: the first readable DICOM image is shown."""
        if not paths:
            return
        self.image_jobs.submit(tasks.open_first_image, list(paths), name="open")

    def open_sample(self) -> None:
        self.open_paths([resource_path(*SAMPLE_STUDY)])

    @Slot()
    def _on_open_file_triggered(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self,
            self.tr("Open DICOM files"),
            "",
            self.tr("DICOM files (*.dcm *.DCM *);;All files (*)"),
        )
        self.open_paths([Path(f) for f in files])

    @Slot()
    def _on_open_folder_triggered(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Open a folder of DICOM files"))
        if folder:
            self.open_paths([Path(folder)])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.open_paths(paths)

    @Slot(object)
    def _on_image_loaded(self, outcome: tasks.OpenOutcome) -> None:
        self.viewer.set_image(outcome.image)
        text = self.tr("Opened {0}.").format(outcome.image.path.name)
        if outcome.skipped:
            text += " " + self.tr("{0} file(s) could not be read and were skipped.").format(
                len(outcome.skipped)
            )
        self.status_text.setText(text)

    # --- analysis ----------------------------------------------------------------
    @Slot(bool)
    def _on_form_validity_changed(self, valid: bool) -> None:
        self.analyze_button.setEnabled(valid)
        self.analyze_action.setEnabled(valid)

    @Slot()
    def analyze(self) -> None:
        """Score the record on a worker thread."""
        if not self.form.is_valid:
            return
        self.analysis_jobs.submit(tasks.analyze_record, self.form.record(), name="analyze")

    @Slot(object)
    def _on_analysis_done(self, prediction) -> None:
        self.results.show_prediction(prediction)
        self.status_text.setText(
            self.tr("Analysis done with {0} {1}.").format(
                prediction.model_id, prediction.model_version
            )
        )

    # --- job feedback --------------------------------------------------------------
    def _busy_runners(self) -> list[JobRunner]:
        return [r for r in (self.image_jobs, self.analysis_jobs) if r.busy]

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

    # --- misc ------------------------------------------------------------------------
    @Slot(float, float)
    def _on_viewer_window_changed(self, center: float, width: float) -> None:
        self.viewer.update()

    @Slot()
    def _on_reset_window_triggered(self) -> None:
        image = self.viewer.image
        if image is not None and not image.is_color:
            win = image.default_window()
            self.viewer.set_window(win.center, win.width)

    @Slot()
    def _on_about_triggered(self) -> None:
        QMessageBox.about(
            self,
            self.tr("About Stethos"),
            self.tr(
                "<b>Stethos {0}</b><br>Offline diagnosis workstation. Results support, and do not "
                "replace, the judgement of a qualified clinician.<br><br>Bundled data: UCI Heart "
                "Disease (Janosi, Steinbrunn, Pfisterer, Detrano 1988; CC BY 4.0); sample chest "
                "radiographs derived from NIH ChestX-ray14 (Wang et al., CVPR 2017) via the "
                "torchxrayvision test suite (Apache-2.0)."
            ).format(__version__),
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        for runner in (self.image_jobs, self.analysis_jobs):
            runner.cancel()
            runner.wait(5.0)
        super().closeEvent(event)
