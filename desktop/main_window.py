"""The main window: study browser, viewer tabs, record form and results.

Layout: the study browser and the measurement list dock on the left; the
views (Images now; an ECG tab is added to :attr:`MainWindow.tabs` with
:meth:`MainWindow.add_view_tab`) in the middle; the patient record and the
result panel dock on the right. Long work runs through one
:class:`~desktop.jobs.JobRunner` per view.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.browser.recent import add_recent, clear_recent, recent_studies
from desktop.browser.study_browser import StudyBrowser
from desktop.dialogs.about import AboutDialog
from desktop.dialogs.error import show_error
from desktop.dialogs.model_card import ModelCardsDialog
from desktop.dialogs.shortcuts import ShortcutsDialog
from desktop.dialogs.tags import TagBrowser
from desktop.jobs import JobFailure, JobRunner
from desktop.patients.host import ScreenViews
from desktop.records.form import RecordForm
from desktop.results.panel import ResultPanel
from desktop.viewer.measurements import MeasurementList
from desktop.viewer.panel import ViewerPanel
from desktop.viewer.stack import ImageStack, StackInfo, info_for
from engine.records import HEART_RECORD
from engine.resources import resource_path
from engine.workflow import (
    AnalysisOutcome,
    FirstSliceLoaded,
    LoadedView,
    Prediction,
    ScanFound,
    SeriesRef,
    StudyOpened,
    analyze,
    load_view,
    open_study,
)

if TYPE_CHECKING:
    from desktop.ecg.panel import EcgPanel
    from desktop.viewer.image_view import ImageView

log = logging.getLogger(__name__)

SAMPLE_STUDY = ("samples", "peds-cxr-pneumonia-j2k.dcm")


class _PatientHostWindow(QMainWindow):
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
    results: ResultPanel
    viewer: ImageView
    ecg: EcgPanel
    _shown_ref: SeriesRef | None

    def show_status(self, text: str) -> None:
        self.status_text.setText(text)

    def add_patient_menu(self, menu: QMenu, file_actions: list[QAction]) -> None:
        self.menuBar().insertMenu(self.help_menu.menuAction(), menu)
        for action in file_actions:
            self.file_menu.insertAction(self.close_studies_action, action)

    def add_patients_dock(self, dock: QDockWidget) -> None:
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


class MainWindow(_PatientHostWindow):
    """Stethos' main window."""

    #: Every analysis made in this window (image, record, and ECG from the ECG
    #: tab), as an :class:`engine.workflow.AnalysisOutcome`.
    analysis_completed = Signal(object)
    #: The viewer shows another image, or none (for the patient controllers).
    image_shown = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(self.tr("Stethos — diagnosis workstation"))
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowNestedDocks
        )
        self.last_error: QMessageBox | None = None
        self.dialogs: dict[str, QDialog] = {}
        #: Image model used by Analyze image (``None``: the registry's default).
        self.image_model_id: str | None = None
        self._loading_ref: SeriesRef | None = None
        self._shown_ref: SeriesRef | None = None  # the series shown (see shown_study)
        self._image_result_for: str | None = None  # the image the shown image result is about
        self._analysing_image: str | None = None  # the image an analysis is running on

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
        scroll.setMinimumWidth(420)
        self.record_dock = self._dock(scroll, self.tr("Record and results"), "record_dock")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.record_dock)
        self.resizeDocks([self.browser_dock], [330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.record_dock], [470], Qt.Orientation.Horizontal)

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
        for runner in (self.image_jobs, self.analysis_jobs):
            runner.started.connect(self._on_job_started)
            runner.progressed.connect(self._on_job_progressed)
            runner.failed.connect(self._on_job_failed)
            runner.cancelled.connect(self._on_job_cancelled)
            runner.finished.connect(self._on_job_finished)
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
        self._build_menus()
        self.viewer_panel.identity_action.toggled.connect(self.browser.set_identity_hidden)
        self._install_ecg_view()
        self._install_patients()
        self._on_viewer_image_changed()
        self.status_text.setText(self.tr("Ready."))

    def _install_ecg_view(self) -> None:
        """The ECG tab, its menu actions, and the settings that drive it."""
        from desktop.ecg import install_ecg_panel
        from desktop.settings import load_preferences, make_settings_action

        self.ecg = install_ecg_panel(
            self.tabs,
            file_menu=self.file_menu,
            analysis_menu=self.analysis_menu,
            inline_progress=False,
        )
        self.ecg.analysis_done.connect(self.analysis_completed)
        r = self.ecg.jobs
        r.started.connect(self._on_job_started)
        r.progressed.connect(self._on_job_progressed)
        r.failed.connect(self._on_job_failed)
        r.cancelled.connect(self._on_job_cancelled)
        r.finished.connect(self._on_job_finished)
        self.preferences = load_preferences()
        self.ecg.apply_preferences(self.preferences)
        self.view_menu.addSeparator()
        self.view_menu.addAction(make_settings_action(self, on_saved=self.apply_preferences))

    def _install_patients(self) -> None:
        """The Patient menu and dock: sign-in, patients, saved records and results, reports."""
        from desktop.patients import install_patients

        self.patients = install_patients(self)

    def apply_preferences(self, prefs) -> None:
        """Apply saved settings (ECG speed, gain, screen calibration, model device)."""
        self.preferences = prefs
        self.ecg.apply_preferences(prefs)

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

    # --- menus -----------------------------------------------------------------------------
    def _action(self, text: str, shortcut=None, slot=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if slot is not None:
            action.triggered.connect(slot)
        return action

    @staticmethod
    def _fill(menu: QMenu, actions) -> None:
        for a in actions:
            if a is None:
                menu.addSeparator()
            else:
                menu.addAction(a)

    def _build_menus(self) -> None:
        panel = self.viewer_panel
        # File
        self.file_menu = self.menuBar().addMenu(self.tr("&File"))
        self.open_file_action = self._action(
            self.tr("&Open file…"), QKeySequence.StandardKey.Open, self._on_open_file_triggered
        )
        self.open_folder_action = self._action(
            self.tr("Open &folder…"), "Ctrl+Shift+O", self._on_open_folder_triggered
        )
        self.open_dicomdir_action = self._action(
            self.tr("Open &DICOMDIR (CD/USB)…"), "Ctrl+D", self._on_open_dicomdir_triggered
        )
        self.recent_menu = QMenu(self.tr("Open &recent"), self)
        self.recent_menu.setObjectName("recent_menu")
        self.recent_menu.aboutToShow.connect(self._rebuild_recent_menu)
        self.open_sample_action = self._action(
            self.tr("Open &sample study"), None, self.open_sample
        )
        self.close_studies_action = self._action(
            self.tr("&Close all studies"), "Ctrl+Shift+W", self.close_studies
        )
        quit_action = self._action(self.tr("&Quit"), QKeySequence.StandardKey.Quit, self.close)
        self._fill(
            self.file_menu,
            [self.open_file_action, self.open_folder_action, self.open_dicomdir_action],
        )
        self.file_menu.addMenu(self.recent_menu)
        self._fill(
            self.file_menu,
            [self.open_sample_action, None, self.close_studies_action, None, quit_action],
        )
        self._rebuild_recent_menu()

        # View
        self.view_menu = self.menuBar().addMenu(self.tr("&View"))
        self.fit_action = panel.fit_action
        self.reset_window_action = panel.reset_window_action
        self._fill(self.view_menu, panel.view_actions())
        self.view_menu.addSeparator()
        self.browser_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+B"))
        self.measurements_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.record_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+P"))
        for dock in (self.browser_dock, self.measurements_dock, self.record_dock):
            self.view_menu.addAction(dock.toggleViewAction())

        # Image
        self.image_menu = self.menuBar().addMenu(self.tr("&Image"))
        self.image_menu.addMenu(panel.preset_menu)
        self._fill(self.image_menu, panel.image_actions())
        self.image_menu.addSeparator()
        self.tags_action = self._action(self.tr("DICOM &tags…"), "Ctrl+I", self.show_tags)
        self.image_menu.addAction(self.tags_action)

        # Measure
        self.measure_menu = self.menuBar().addMenu(self.tr("&Measure"))
        self._fill(self.measure_menu, panel.measure_actions())

        # Analysis
        self.analysis_menu = self.menuBar().addMenu(self.tr("&Analysis"))
        self.analyze_action = self._action(self.tr("&Analyze record"), "Ctrl+R", self.analyze)
        self.analyze_action.setEnabled(False)
        self.analyze_image_action = self._action(
            self.tr("Analyze &image"), "Ctrl+Shift+R", self.analyze_image
        )
        self.analyze_image_action.setObjectName("analyze_image_action")
        self.model_cards_action = self._action(
            self.tr("&Model cards…"), None, self.show_model_cards
        )
        self._fill(
            self.analysis_menu,
            [
                self.analyze_action,
                self.analyze_image_action,
                panel.heatmap_action,
                None,
                self.model_cards_action,
            ],
        )

        # Help
        self.help_menu = help_menu = self.menuBar().addMenu(self.tr("&Help"))
        self.shortcuts_action = self._action(
            self.tr("&Keyboard shortcuts"),
            QKeySequence.StandardKey.HelpContents,
            self.show_shortcuts,
        )
        self.about_action = self._action(self.tr("&About Stethos"), None, self.show_about)
        self._fill(help_menu, [self.shortcuts_action, None, self.about_action])

    # --- opening -----------------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> None:
        """Open files, folders or DICOMDIRs: list their studies and show the first series."""
        if not paths:
            return
        self._loading_ref = None
        self.image_jobs.submit(open_study, list(paths), name="open", with_partial=True)

    def open_series(self, ref: SeriesRef) -> None:
        """Load one series into the viewer (the first slice at once, the rest streaming in)."""
        self._loading_ref = None
        self.image_jobs.submit(load_view, ref, name="series", with_partial=True)

    def open_sample(self) -> None:
        self.open_paths([resource_path(*SAMPLE_STUDY)])

    def close_studies(self) -> None:
        """Forget every study and clear the viewer."""
        self.image_jobs.cancel()
        self.browser.clear()
        self.viewer.clear()
        self.status_text.setText(self.tr("Ready."))

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

    @Slot()
    def _on_open_dicomdir_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("Open the DICOMDIR of a CD, DVD or USB stick"),
            "",
            self.tr("DICOMDIR (DICOMDIR dicomdir DICOMDIR.*);;All files (*)"),
        )
        if path:
            self.open_paths([Path(path)])

    @Slot()
    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        entries = recent_studies()
        for i, paths in enumerate(entries):
            label = paths[0].name or str(paths[0])
            if len(paths) > 1:
                label += self.tr(" and {0} more").format(len(paths) - 1)
            prefix = f"&{i + 1} " if i < 9 else ""
            action = self.recent_menu.addAction(prefix + label)
            action.setToolTip("\n".join(str(p) for p in paths))
            action.setStatusTip(str(paths[0]))
            action.triggered.connect(lambda _checked=False, p=paths: self.open_paths(list(p)))
        if not entries:
            empty = self.recent_menu.addAction(self.tr("(none)"))
            empty.setEnabled(False)
        self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction(self.tr("Clear recent studies"))
        clear.setEnabled(bool(entries))
        clear.triggered.connect(self._on_clear_recent_triggered)

    @Slot()
    def _on_clear_recent_triggered(self) -> None:
        clear_recent()
        self._rebuild_recent_menu()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.open_paths(paths)

    @Slot(object)
    def _on_browser_series_activated(self, ref: SeriesRef) -> None:
        self.open_series(ref)

    @Slot(object)
    def _on_image_jobs_partial(self, payload: object) -> None:
        if isinstance(payload, ScanFound):
            self.browser.add_scan(payload.scan)
        elif isinstance(payload, FirstSliceLoaded):
            ref = payload.ref
            stack = ImageStack.from_first_slice(
                payload.first, ref.series, info_for(ref.patient, ref.study, ref.series)
            )
            self._loading_ref = self._shown_ref = ref
            self.viewer.set_stack(stack, payload.first.index)
            self.viewer.set_loading_text(
                self.tr("Loading {0} images…").format(payload.first.n_slices)
            )
            self.browser.mark_current(ref.series.series_instance_uid)
            self.viewer.setFocus()

    @Slot(float, str)
    def _on_image_jobs_progressed(self, fraction: float, text: str) -> None:
        stack = self.viewer.stack
        if stack is not None and stack.loading and self._loading_ref is not None:
            self.viewer.set_loading_text(self.tr("Loading images: {0:.0%}").format(fraction))

    @Slot()
    def _on_image_jobs_finished(self) -> None:
        self.viewer.set_loading_text("")

    @Slot(object)
    def _on_image_jobs_succeeded(self, outcome: object) -> None:
        if isinstance(outcome, StudyOpened):
            self.browser.add_scan(outcome.scan)
            add_recent(list(outcome.paths))
            self._show_view(outcome.view)
            text = self.tr("Opened {0}.").format(self._view_name(outcome.view))
            problems = len(outcome.scan.problems)
            if problems:
                text += " " + self.tr(
                    "{0} file(s) could not be read and were skipped (see Studies)."
                ).format(problems)
            n_series = len(outcome.scan.image_series)
            if n_series > 1:
                text += " " + self.tr("{0} series found.").format(n_series)
            self.status_text.setText(text)
        elif isinstance(outcome, LoadedView):
            self._show_view(outcome)
            self.status_text.setText(self.tr("Opened {0}.").format(self._view_name(outcome)))
        if isinstance(outcome, StudyOpened | LoadedView):
            view = outcome.view if isinstance(outcome, StudyOpened) else outcome
            notes = {
                "colour": self.tr("This colour series is too large: only its first file is shown."),
                "mixed sizes": self.tr("This series mixes image sizes: its first image is shown."),
            }
            if view.note:
                self.status_text.setText(
                    self.status_text.text() + " " + notes.get(view.note, view.note)
                )
            if view.volume is not None and view.volume.problems:
                self.status_text.setText(
                    self.status_text.text()
                    + " "
                    + self.tr("{0} image(s) could not be decoded.").format(
                        len(view.volume.problems)
                    )
                )

    def _view_name(self, view: LoadedView) -> str:
        if view.image is not None and len(view.ref.series.instances) == 1:
            return view.image.path.name
        return view.ref.series.label

    def _show_view(self, view: LoadedView) -> None:
        ref = self._shown_ref = view.ref
        info = info_for(ref.patient, ref.study, ref.series)
        if view.volume is not None:
            stack = ImageStack.from_volume(view.volume, info)
            current = self.viewer.stack
            if (
                current is not None
                and current.loading
                and current.series is not None
                and current.series.series_instance_uid == ref.series.series_instance_uid
            ):
                self.viewer.replace_stack(stack)
            else:
                self.viewer.set_stack(stack)
        elif view.images:
            self.viewer.set_stack(ImageStack.from_images(view.images, ref.series, info))
        elif view.image is not None:
            self.viewer.set_stack(ImageStack.from_image(view.image, info))
        self._loading_ref = None
        self.viewer.set_loading_text("")
        self.browser.mark_current(ref.series.series_instance_uid)
        self.tabs.setCurrentWidget(self.viewer_panel)
        self.viewer.setFocus()

    # --- analysis ---------------------------------------------------------------------------
    @Slot(bool)
    def _on_form_validity_changed(self, valid: bool) -> None:
        self.analyze_button.setEnabled(valid)
        self.analyze_action.setEnabled(valid)

    @Slot()
    def analyze(self) -> None:
        """Score the record on a worker thread."""
        if not self.form.is_valid:
            return
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
        prefs = getattr(self, "preferences", None)
        return str(getattr(prefs, "device", "auto") or "auto")

    def _on_record_result(self, _outcome: AnalysisOutcome) -> None:
        self._image_result_for = None  # the panel now shows a record result

    @Slot()
    def analyze_image(self) -> None:
        """Score the frame shown with the image model, with its heat map, on a worker thread."""
        stack = self.viewer.stack
        if stack is None or not stack.is_loaded(self.viewer.frame):
            self.status_text.setText(self.tr("Open an image first."))
            return
        frame = self.viewer.frame
        if stack.image is not None:
            source, source_frame = stack.image, frame
        else:
            source, source_frame = stack.sources[frame]

        def show_heatmap(outcome: AnalysisOutcome) -> None:
            self._image_result_for = _stack_key(stack)
            heatmap = outcome.heatmap
            if heatmap is not None and self.viewer.stack is stack:
                self.viewer.set_heatmap(heatmap, frame, outcome.model.id)

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

    @Slot(object)
    def _on_analysis_done(self, outcome: AnalysisOutcome) -> None:
        prediction = outcome.prediction
        self.results.show_prediction(prediction)
        self.record_dock.show()
        self.status_text.setText(
            self.tr("Analysis done with {0} {1}.").format(
                prediction.model_id, prediction.model_version
            )
        )
        self.analysis_completed.emit(outcome)

    @Slot()
    def _on_analysis_jobs_finished(self) -> None:
        self._analysing_image = None

    # --- dialogs ------------------------------------------------------------------------------
    @Slot()
    def show_tags(self) -> None:
        """Open the tag browser on the file of the frame shown."""
        stack = self.viewer.stack
        if stack is None:
            self.status_text.setText(self.tr("Open an image first."))
            return
        path, frame = stack.sources[self.viewer.frame]
        dialog = self.dialogs.get("tags")
        if dialog is None:
            dialog = TagBrowser(self)
            self.dialogs["tags"] = dialog
        note = self.tr("(frame {0})").format(frame + 1) if stack.n_frames > 1 else ""
        dialog.load(path, note)
        dialog.show()
        dialog.raise_()

    @Slot()
    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts, made from the menus' actions."""
        dialog = ShortcutsDialog(self.menuBar(), self)
        self.dialogs["shortcuts"] = dialog
        dialog.open()

    @Slot()
    def show_about(self) -> None:
        dialog = AboutDialog(self)
        self.dialogs["about"] = dialog
        dialog.open()

    @Slot()
    def show_model_cards(self) -> None:
        prediction = self.results.prediction
        dialog = ModelCardsDialog(self, prediction.model_id if prediction else None)
        self.dialogs["model_cards"] = dialog
        dialog.open()

    # --- job feedback ---------------------------------------------------------------------------
    def _busy_runners(self) -> list[JobRunner]:
        return [r for r in (self.image_jobs, self.analysis_jobs, self.ecg.jobs) if r.busy]

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

    # --- misc ---------------------------------------------------------------------------------
    @Slot()
    def _on_viewer_image_changed(self) -> None:
        # an image result never stays on screen beside another image
        key = _stack_key(self.viewer.stack)
        if self._analysing_image is not None and key != self._analysing_image:
            self.analysis_jobs.cancel()  # its result would be about another image
        if self._image_result_for is not None and key != self._image_result_for:
            if self.results.prediction is not None:
                self.results.clear()
            self._image_result_for = None
        has = self.viewer.stack is not None
        self.analyze_image_action.setEnabled(has)
        self.tags_action.setEnabled(has)
        self.image_shown.emit()

    def _runners(self) -> list[JobRunner]:
        runners = [self.image_jobs, self.analysis_jobs, self.browser.thumb_jobs, self.ecg.jobs]
        runners += [self.ecg.results.card_jobs, self.results.card_jobs]
        runners += [
            d.jobs for d in self.dialogs.values() if isinstance(getattr(d, "jobs", None), JobRunner)
        ]
        return runners

    def closeEvent(self, event: QCloseEvent) -> None:
        self.viewer.stop_cine()
        runners = self._runners()
        for runner in runners:
            runner.cancel()
        for runner in runners:
            runner.wait(5.0)
        self.patients.shutdown()
        super().closeEvent(event)


def _stack_key(stack: ImageStack | None) -> str | None:
    """What identifies the image shown (series UID, else file), for stale-result checks."""
    if stack is None:
        return None
    if stack.series is not None:
        return stack.series.series_instance_uid
    return str(stack.sources[0][0]) if stack.sources else None
