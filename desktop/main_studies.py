"""The main window's studies: opening files and folders, loading series, showing them.

Part of :class:`desktop.main_window.MainWindow` (a base class of it). The
work itself is :mod:`engine.workflow` (``open_study``, ``load_view``), run
through the window's image job runner; strings are translated in the
``MainWindow`` context.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QTabWidget

from desktop.browser.recent import add_recent
from desktop.browser.study_browser import StudyBrowser
from desktop.jobs import JobRunner
from desktop.main_menus import MenusWindow
from desktop.viewer.stack import ImageStack, info_for
from engine.filetypes import WFDB_SUFFIXES
from engine.resources import resource_path
from engine.workflow import (
    EcgFound,
    FirstSliceLoaded,
    LoadedView,
    ScanFound,
    SeriesRef,
    StudyOpened,
    load_view,
    open_study,
)

if TYPE_CHECKING:
    from desktop.ecg.panel import EcgPanel
    from desktop.viewer.panel import ViewerPanel
    from engine.dicom import ScanResult

SAMPLE_STUDY = ("samples", "peds-cxr-pneumonia-j2k.dcm")


class StudiesWindow(MenusWindow):
    """Open, load and show studies in the viewer and the study browser."""

    browser: StudyBrowser
    tabs: QTabWidget
    image_jobs: JobRunner
    viewer_panel: ViewerPanel
    _loading_ref: SeriesRef | None
    #: The scan of the files being opened, listed once their first view shows.
    _found_scan: ScanResult | None = None

    if TYPE_CHECKING:  # MainWindow builds it after the first paint, or on first use

        @property
        def ecg(self) -> EcgPanel: ...

    # --- opening -----------------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> None:
        """Open files, folders or DICOMDIRs: list their studies and show the first series."""
        if not paths:
            return
        # A WFDB record (by its suffix: no file is read on the UI thread) opens in the ECG view.
        signals = [p for p in paths if Path(p).suffix.lower() in WFDB_SUFFIXES]
        if signals:
            first = Path(signals[0])
            self.ecg.open_signal(
                first if first.suffix.lower() == ".mat" else first.with_suffix(".hea")
            )
        paths = [p for p in paths if p not in signals]
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
        self.status_text.setText(QCoreApplication.translate("MainWindow", "Ready."))

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
            # Listed with the first view (or when the job ends without one): listing starts
            # the thumbnails, a second decode of the files while the first image is read.
            self._found_scan = payload.scan
        elif isinstance(payload, FirstSliceLoaded):
            ref = payload.ref
            stack = ImageStack.from_first_slice(
                payload.first, ref.series, info_for(ref.patient, ref.study, ref.series)
            )
            self._loading_ref = self._shown_ref = ref
            self.viewer.set_stack(stack, payload.first.index)
            self.viewer.set_loading_text(
                QCoreApplication.translate("MainWindow", "Loading {0} images…").format(
                    payload.first.n_slices
                )
            )
            self.browser.mark_current(ref.series.series_instance_uid)
            self.viewer.setFocus()

    @Slot(float, str)
    def _on_image_jobs_progressed(self, fraction: float, text: str) -> None:
        stack = self.viewer.stack
        if stack is not None and stack.loading and self._loading_ref is not None:
            self.viewer.set_loading_text(
                QCoreApplication.translate("MainWindow", "Loading images: {0:.0%}").format(fraction)
            )

    @Slot()
    def _on_image_jobs_finished(self) -> None:
        self.viewer.set_loading_text("")
        if self._found_scan is not None:  # no view came (failed, cancelled): list it now
            self.browser.add_scan(self._found_scan)
            self._found_scan = None

    @Slot(object)
    def _on_image_jobs_succeeded(self, outcome: object) -> None:
        self._found_scan = None  # the outcome lists it
        if isinstance(outcome, EcgFound):  # DICOM ECG waveforms, no image: the ECG view
            self.browser.add_scan(outcome.scan)
            add_recent(list(outcome.paths))
            self.ecg.open_signal(outcome.ecg_paths[0])
            self.status_text.setText(
                QCoreApplication.translate("MainWindow", "Opened the ECG {0}.").format(
                    outcome.ecg_paths[0].name
                )
            )
            return
        if isinstance(outcome, StudyOpened):
            self.browser.add_scan(outcome.scan)
            add_recent(list(outcome.paths))
            self._show_view(outcome.view)
            text = QCoreApplication.translate("MainWindow", "Opened {0}.").format(
                self._view_name(outcome.view)
            )
            problems = len(outcome.scan.problems)
            if problems:
                text += " " + QCoreApplication.translate(
                    "MainWindow", "{0} file(s) could not be read and were skipped (see Studies)."
                ).format(problems)
            n_series = len(outcome.scan.image_series)
            if n_series > 1:
                text += " " + QCoreApplication.translate("MainWindow", "{0} series found.").format(
                    n_series
                )
            self.status_text.setText(text)
        elif isinstance(outcome, LoadedView):
            self._show_view(outcome)
            self.status_text.setText(
                QCoreApplication.translate("MainWindow", "Opened {0}.").format(
                    self._view_name(outcome)
                )
            )
        if isinstance(outcome, StudyOpened | LoadedView):
            view = outcome.view if isinstance(outcome, StudyOpened) else outcome
            notes = {
                "colour": QCoreApplication.translate(
                    "MainWindow", "This colour series is too large: only its first file is shown."
                ),
                "mixed sizes": QCoreApplication.translate(
                    "MainWindow", "This series mixes image sizes: its first image is shown."
                ),
            }
            if view.note:
                self.status_text.setText(
                    self.status_text.text() + " " + notes.get(view.note, view.note)
                )
            if view.volume is not None and view.volume.problems:
                self.status_text.setText(
                    self.status_text.text()
                    + " "
                    + QCoreApplication.translate(
                        "MainWindow", "{0} image(s) could not be decoded."
                    ).format(len(view.volume.problems))
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
                if current.n_frames == stack.n_frames:
                    self.viewer.replace_stack(stack)
                else:  # the first file read, shown alone: stay on that image in the series
                    shown = current.sources[0] if current.sources else None
                    index = stack.sources.index(shown) if shown in stack.sources else 0
                    self.viewer.set_stack(stack, index)
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
