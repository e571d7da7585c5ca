"""The main window's parts that its first frame does not show, built after it.

Part of :class:`desktop.main_window.MainWindow` (a base class of it). The
application's start-up paints first (``MainWindow(paint_first=True)``): the
result panel, the ECG tab, the Patient menu and dock, DICOM receiving and the
AI-result actions, and their imports, come once the window has painted and
the files being opened (the sample, say) are on screen
(:meth:`PartsWindow.finish_startup`), or at once when something asks for them
(:attr:`PartsWindow.ecg`, :attr:`PartsWindow.patients`, opening a menu, ...).
Built in that order whichever comes first, their menu entries keep their
places. A window closed before that never builds them. Strings are translated
in the ``MainWindow`` context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QMenu, QPushButton, QVBoxLayout, QWidget

from desktop.main_studies import StudiesWindow
from engine.workflow import EcgFound, FirstSliceLoaded, StudyOpened

if TYPE_CHECKING:
    from desktop.dialogs.nodes import ReceiveService
    from desktop.ecg.panel import EcgPanel
    from desktop.jobs import JobRunner
    from desktop.main_window import MainWindow
    from desktop.patients import PatientController
    from desktop.results.ai_dicom import AiDicomController
    from desktop.results.panel import ResultPanel
    from desktop.settings import Preferences

#: After the window shows, the image model is loaded and run once in the background
#: (the first Analyze image then takes ~0.1 s instead of loading it).
WARM_UP_DELAY_MS = 300

#: Posted at low priority once the window has painted: builds the parts the first frame
#: does not show. Low priority: it comes after paints and after anything queued meanwhile
#: (a close, say).
_BUILD_REST = QEvent.Type(QEvent.registerEventType())


class _AfterPaint(QObject):
    """Posts :data:`_BUILD_REST` to ``window`` once ``widget`` has painted (``painted`` is
    called then, before the event is handled)."""

    def __init__(self, widget: QWidget, window: QObject, painted=None) -> None:
        super().__init__(widget)
        self._window = window
        self._painted = painted
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            if self._painted is not None:
                self._painted()
            QCoreApplication.postEvent(
                self._window, QEvent(_BUILD_REST), Qt.EventPriority.LowEventPriority.value
            )
            self.deleteLater()
        return False


class PartsWindow(StudiesWindow):
    """The parts of the main window built after its first paint, or on first use."""

    analyze_button: QPushButton
    preferences: Preferences
    receive_jobs: Any
    analysis_completed: Any
    image_shown: Any
    _side_layout: QVBoxLayout

    if TYPE_CHECKING:  # defined by MainWindow

        def show_jobs_in_status_bar(self, *runners: JobRunner) -> None: ...
        def _on_score_revealed(self, prediction: object) -> None: ...
        def _on_view_tab_changed(self, index: int) -> None: ...
        @property
        def device(self) -> str: ...

    def _init_parts(self, paint_first: bool) -> None:
        """Build the parts now, or (``paint_first``) once the window has painted."""
        self._results: ResultPanel | None = None
        self._ecg: EcgPanel | None = None
        self._patients: PatientController | None = None
        self._receive_service: ReceiveService | None = None
        self._ai_dicom: AiDicomController | None = None
        self._started = False  # finish_startup has run (or is running)
        self._closing = False
        self._open_shown = False  # the files being opened (if any) are shown
        self._watching = False  # for the paint of what was opened
        #: The last study opened (StudyOpened or EcgFound), for parts built after it opened.
        self._last_opened: object | None = None
        # after the window's own handlers: the view is set when these run
        self.image_jobs.partial.connect(self._on_open_partial)
        self.image_jobs.finished.connect(self._on_open_shown)
        self.image_jobs.succeeded.connect(self._remember_opened)
        for menu in self.menuBar().findChildren(QMenu):
            menu.aboutToShow.connect(self.finish_startup)  # its actions, complete
        if paint_first:
            _AfterPaint(self.viewer, self)
        else:
            self.finish_startup()

    # --- the parts built after the first paint ---------------------------------------------
    def customEvent(self, event: QEvent) -> None:
        if event.type() == _BUILD_REST:
            self._build_rest_when_shown()

    def _build_rest_when_shown(self) -> None:
        """The window has painted: build the rest now, or once the files being opened
        (the sample, say; a series' first image) are on screen."""
        if self._started or self._closing or self._watching:
            return  # (watching: the paint of what was opened will ask again)
        if self.image_jobs.busy and not self._open_shown:
            return  # their first paint will ask again (_on_open_shown)
        self.finish_startup()

    @Slot(object)
    def _on_open_partial(self, payload: object) -> None:
        if isinstance(payload, FirstSliceLoaded):  # a series' first image shows: enough
            self._on_open_shown()

    @Slot()
    def _on_open_shown(self) -> None:
        """The files opened at start-up are shown (or failed): the rest after their paint."""
        self._open_shown = True  # even while the rest of a series streams in
        if not self._started and not self._watching:
            self._watching = True
            _AfterPaint(self.viewer, self, painted=self._on_watched_paint)
            self.viewer.update()

    def _on_watched_paint(self) -> None:
        self._watching = False

    @Slot(object)
    def _remember_opened(self, outcome: object) -> None:
        if isinstance(outcome, StudyOpened | EcgFound):
            self._last_opened = outcome

    def close_studies(self) -> None:
        self._last_opened = None
        super().close_studies()

    @Slot()
    def finish_startup(self) -> None:
        """Build what the first frame does not show: the ECG tab, the Patient menu and dock,
        DICOM receiving and the AI-result actions (in that order: their menu entries keep
        their places). Runs once; called after the first paint, or on first use."""
        if self._started:
            return
        self._started = True
        self.results  # noqa: B018 - builds it (the patients' widgets go around it)
        self._install_ecg_view()
        self._install_patients()
        self._install_receiving()
        self._install_ai_dicom()
        QTimer.singleShot(0, self._prepare_network)

    @property
    def results(self) -> ResultPanel:
        """The result panel under the record form (built after the first paint, or on first
        use: it imports the model-card and chart code)."""
        if self._results is None:
            from desktop.results.panel import ResultPanel

            results = self._results = ResultPanel()
            results.setObjectName("result_panel")
            results.score_revealed.connect(self._on_score_revealed)
            layout = self._side_layout
            layout.insertWidget(layout.indexOf(self.analyze_button) + 1, results)
        return self._results

    @property
    def ecg(self) -> EcgPanel:
        """The ECG tab (built on first use)."""
        self.finish_startup()
        assert self._ecg is not None
        return self._ecg

    @property
    def patients(self) -> PatientController:
        """The Patient menu and dock's controller (built on first use)."""
        self.finish_startup()
        assert self._patients is not None
        return self._patients

    @property
    def receive_service(self) -> ReceiveService:
        """DICOM receiving (built on first use)."""
        self.finish_startup()
        assert self._receive_service is not None
        return self._receive_service

    @property
    def ai_dicom(self) -> AiDicomController:
        """Analysis ▸ Save result as DICOM… / Send result to PACS… (built on first use)."""
        self.finish_startup()
        assert self._ai_dicom is not None
        return self._ai_dicom

    def _install_receiving(self) -> None:
        """Studies sent to this workstation (File ▸ DICOM network…) appear in the browser."""
        from desktop.dialogs.nodes import ReceiveService

        service = self._receive_service = ReceiveService(self)
        service.received.connect(self._on_studies_received)
        service.network_event.connect(self.audit_network)

    @Slot()
    def _warm_up_image_model(self) -> None:
        """Load and run the image model once on a background thread after the window shows:
        the first Analyze image then does not wait for the model to load."""
        if self.image_jobs.busy:  # files being opened (e.g. the sample) come first
            QTimer.singleShot(WARM_UP_DELAY_MS, self._warm_up_image_model)
            return
        import threading

        from engine.workflow import warm_up

        # Not a daemon: an exit during the warm-up waits for it (~0.5 s) instead of tearing
        # ONNX Runtime down under a running pass (which aborts the process).
        threading.Thread(
            target=warm_up, args=("image", self.device), name="warm-up-model", daemon=False
        ).start()

    @Slot()
    def _prepare_network(self, always: bool = False) -> None:
        """With DICOM nodes configured (or ``always``), load the network libraries on a
        background thread: the first query or receive then does not stall on their imports."""
        import threading

        from engine.net import NetConfigError, load_settings, prepare

        try:
            if not always and not load_settings().nodes:
                return
        except NetConfigError:
            return
        threading.Thread(target=prepare, name="prepare-network", daemon=True).start()

    @Slot(object)
    def _on_studies_received(self, files: list) -> None:
        from engine.dicom import scan_paths

        self.receive_jobs.submit(scan_paths, files, name="received",
                                 on_success=self._add_received)  # fmt: skip
        text = QCoreApplication.translate("MainWindow", "{0} image(s) received.")
        self.status_text.setText(text.format(len(files)))

    def _add_received(self, scan: object) -> None:
        self.browser.add_scan(scan)  # type: ignore[arg-type]

    def _install_ecg_view(self) -> None:
        """The ECG tab, its menu actions, and the settings that drive it."""
        from desktop.ecg import install_ecg_panel
        from desktop.settings import make_settings_action

        ecg = self._ecg = install_ecg_panel(
            self.tabs,
            file_menu=self.file_menu,
            analysis_menu=self.analysis_menu,
            inline_progress=False,
        )
        ecg.analysis_done.connect(self.analysis_completed)
        self.tabs.currentChanged.connect(self._on_view_tab_changed)
        self.show_jobs_in_status_bar(ecg.jobs)
        ecg.apply_preferences(self.preferences)
        self.view_menu.addSeparator()
        self.view_menu.addAction(make_settings_action(self, on_saved=self.apply_preferences))

    def _install_patients(self) -> None:
        """The Patient menu and dock: sign-in, patients, saved records and results, reports."""
        from desktop.patients import install_patients

        self._patients = install_patients(self)

    def _install_ai_dicom(self) -> None:
        """Analysis ▸ Save result as DICOM… / Send result to PACS…; earlier results read back."""
        from desktop.results.ai_dicom import install_ai_dicom

        self._ai_dicom = install_ai_dicom(cast("MainWindow", self))
        if self._last_opened is not None:  # opened before this was built: read it now
            self._ai_dicom._on_study_opened(self._last_opened)

    def apply_preferences(self, prefs) -> None:
        """Apply saved settings (ECG speed, gain, screen calibration, model device)."""
        self.preferences = prefs
        if self._ecg is not None:
            self._ecg.apply_preferences(prefs)
