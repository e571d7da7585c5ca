"""Results as DICOM: Analysis ▸ Save result as DICOM… / Send result to PACS…, and read back.

The result shown (an image, ECG or record analysis made in this window) is
written by :func:`engine.workflow.export_result_dicom` on a worker: the
structured report, and for an image its heat-map segmentation and overlay
capture, each in a new series of the source's study; with the clinician's
decision when one was recorded. *Send result to PACS…* writes them to a
temporary folder and sends them to a configured DICOM node (the send is
audited like any other).

When a study is opened, its AI objects (Stethos's and other tools' SRs, and
heat-map SEGs) are read on a worker: the study browser lists their findings
under the study, and a heat map registered to the image shown becomes the
viewer's heat-map layer (H toggles it).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QBoxLayout, QFileDialog, QInputDialog, QLabel, QPushButton

from desktop.jobs import JobFailure, JobRunner
from engine.workflow import (
    AnalysisOutcome,
    EcgFound,
    ResultReview,
    StudyOpened,
    ai_results_in,
    export_result_dicom,
    finding_lines,
    heatmap_for,
)

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

translate = QCoreApplication.translate


def _send_result(outcome: AnalysisOutcome, review: ResultReview | None, node: Any, aet: str,
                 *, progress, cancel) -> tuple[Any, Any]:  # fmt: skip
    """Write the result's objects to a temporary folder and send them (worker)."""
    from engine.net import send_files

    folder = Path(tempfile.mkdtemp(prefix="stethos-result-"))
    try:
        export = export_result_dicom(outcome, folder, review=review, cancel=cancel)
        if not export.written:
            return export, None
        return export, send_files(node, list(export.paths), aet=aet, cancel=cancel)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class AiDicomController(QObject):
    """The two result actions and the reading back of earlier results (see the module)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.outcome: AnalysisOutcome | None = None
        #: AI objects of the studies opened, by study UID (what the browser lists).
        self.earlier: dict[str, list[Any]] = {}
        self.jobs = JobRunner(self)
        self.read_jobs = JobRunner(self)
        for runner in (self.jobs,):
            runner.started.connect(window._on_job_started)
            runner.progressed.connect(window._on_job_progressed)
            runner.finished.connect(window._on_job_finished)
            runner.failed.connect(self._on_failed)
        self.save_action = QAction(translate("AiDicom", "Save result as &DICOM…"), window)
        self.save_action.setObjectName("save_result_dicom_action")
        self.save_action.triggered.connect(lambda: self.save_dialog())
        self.send_action = QAction(translate("AiDicom", "Send result to &PACS…"), window)
        self.send_action.setObjectName("send_result_dicom_action")
        self.send_action.triggered.connect(lambda: self.send_dialog())
        window.analysis_menu.addSeparator()
        window.analysis_menu.addAction(self.save_action)
        window.analysis_menu.addAction(self.send_action)
        self.save_button = QPushButton(translate("AiDicom", "Save as DICOM…"))
        self.save_button.setObjectName("save_result_dicom_button")
        self.save_button.clicked.connect(self.save_action.trigger)
        self.send_button = QPushButton(translate("AiDicom", "Send to PACS…"))
        self.send_button.setObjectName("send_result_dicom_button")
        self.send_button.clicked.connect(self.send_action.trigger)
        window.results.add_footer_widgets(self.save_button, self.send_button)
        window.analysis_completed.connect(self._on_analysis_completed)
        window.image_jobs.succeeded.connect(self._on_study_opened)
        # under the ECG view's description: earlier results of a DICOM ECG's study
        self.ecg_earlier = QLabel("")
        self.ecg_earlier.setObjectName("ecg_earlier_results")
        self.ecg_earlier.setWordWrap(True)
        self.ecg_earlier.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ecg_earlier.hide()
        ecg_layout = window.ecg.layout()
        if isinstance(ecg_layout, QBoxLayout):
            ecg_layout.insertWidget(ecg_layout.indexOf(window.ecg.info) + 1, self.ecg_earlier)
        self.read_jobs.succeeded.connect(self._on_earlier_read)
        self.update_state()

    # --- state -----------------------------------------------------------------------------
    def shown_outcome(self) -> AnalysisOutcome | None:
        """The analysis whose result the panel shows (``None`` once another is shown)."""
        o = self.outcome
        return o if o is not None and self.window.shown_prediction() is o.prediction else None

    def update_state(self) -> None:
        on = self.shown_outcome() is not None
        why = "" if on else translate("AiDicom", "Analyse an image, an ECG or a record first.")
        for action in (self.save_action, self.send_action):
            action.setEnabled(on)
            action.setToolTip(why or action.text().replace("&", ""))
        for button in (self.save_button, self.send_button):
            button.setVisible(on)

    @Slot(object)
    def _on_analysis_completed(self, outcome: AnalysisOutcome) -> None:
        self.outcome = outcome
        self.update_state()

    def review(self) -> ResultReview | None:
        """The clinician's decision on the shown result, if one was recorded."""
        stored = self.window.patients.encounter.shown_result()
        d = stored.decision if stored is not None else None
        if d is None:
            return None
        return ResultReview(d.decision, d.comment, d.decided_by, d.decided_by)

    def _study_source(self, outcome: AnalysisOutcome) -> str:
        """For a record result: a file of the study shown (the SR joins that study)."""
        if outcome.kind != "record":
            return ""
        ref = self.window.shown_study()
        return str(ref.series.instances[0].path) if ref is not None and ref.series.instances else ""

    # --- save ------------------------------------------------------------------------------
    def save_dialog(self) -> bool:
        """Ask for a folder, then :meth:`save_to` it."""
        if self.shown_outcome() is None:
            return False
        folder = QFileDialog.getExistingDirectory(
            self.window, translate("AiDicom", "Save the result as DICOM into")
        )
        return bool(folder) and self.save_to(Path(folder))

    def save_to(self, folder: Path) -> bool:
        """Write the shown result's DICOM objects into ``folder`` (a job)."""
        outcome = self.shown_outcome()
        if outcome is None:
            return False
        self.jobs.submit(
            export_result_dicom, outcome, folder, review=self.review(),
            study_source=self._study_source(outcome), name="save result as DICOM",
            on_success=self._saved,
        )  # fmt: skip
        return True

    def _saved(self, export: Any) -> None:
        if not export.written:
            self.window.status_text.setText(
                translate("AiDicom", "Nothing was written: {0}").format(export.skipped)
            )
            return
        self.window.status_text.setText(
            translate("AiDicom", "{0} DICOM object(s) written to {1}.").format(
                len(export.paths), export.paths[0].parent
            )
        )

    # --- send ------------------------------------------------------------------------------
    def send_dialog(self, node_name: str | None = None) -> bool:
        """Choose a configured node, then send the shown result's objects to it (a job)."""
        from engine.net import NetConfigError, load_settings

        outcome = self.shown_outcome()
        if outcome is None:
            return False
        if outcome.kind == "record":
            self.window.status_text.setText(translate(
                "AiDicom", "A record result is sent with its study: save it as DICOM into the "
                "study's folder, or send the study."))  # fmt: skip
            return False
        try:
            settings = load_settings()
        except NetConfigError as exc:
            self.window.status_text.setText(exc.user_message)
            return False
        names = [n.name for n in settings.nodes]
        if not names:
            self.window.status_text.setText(translate(
                "AiDicom", "No DICOM node is configured (File ▸ DICOM network…)."))  # fmt: skip
            return False
        if node_name is None:
            node_name, ok = QInputDialog.getItem(
                self.window, translate("AiDicom", "Send result to PACS"),
                translate("AiDicom", "Send to:"), names, 0, False,
            )  # fmt: skip
            if not ok:
                return False
        node = settings.node(node_name)
        if node is None:
            return False
        study = outcome.source.study_instance_uid

        def sent(result: tuple[Any, Any]) -> None:
            export, sending = result
            if sending is None:
                self._saved(export)
                return
            n_failed = len(sending.failed)
            self.window.audit_network({"action": "send", "node": node.name, "study": study,
                                       "count": sending.sent,
                                       "result": "ok" if not n_failed else "partial"})  # fmt: skip
            self.window.status_text.setText(translate(
                "AiDicom", "Result sent to {0}: {1} object(s); {2} not sent.").format(
                node.name, sending.sent, n_failed))  # fmt: skip

        self.jobs.submit(_send_result, outcome, self.review(), node, settings.aet,
                         name="send result", on_success=sent)  # fmt: skip
        return True

    @Slot(object)
    def _on_failed(self, failure: JobFailure) -> None:
        self.window.status_text.setText(failure.user_message)

    # --- earlier results -------------------------------------------------------------------
    @Slot(object)
    def _on_study_opened(self, outcome: object) -> None:
        if isinstance(outcome, StudyOpened | EcgFound):  # images, or a DICOM ECG's study
            self.set_ecg_earlier([])
            self.read_jobs.submit(ai_results_in, outcome.scan, name="earlier AI results")

    @Slot(object)
    def _on_earlier_read(self, result: tuple[list[Any], list[Any]]) -> None:
        objects, _problems = result  # an unreadable object is just not listed
        by_study: dict[str, list[Any]] = {}
        for obj in objects:
            by_study.setdefault(obj.study_instance_uid, []).append(obj)
        unlisted: list[str] = []
        for study_uid, found in by_study.items():
            self.earlier[study_uid] = found
            lines = [line for o in found if o.kind == "sr" for line in finding_lines(o)]
            if not self.window.browser.set_study_results(study_uid, lines):
                unlisted += lines
        # a study without images (an ECG) has no row in the browser: the ECG view lists them
        self.set_ecg_earlier(unlisted)
        self.show_earlier_heatmap()

    def set_ecg_earlier(self, lines: list[str]) -> None:
        """Show the findings of earlier AI results stored with the ECG's study (DICOM SRs)."""
        heading = translate("AiDicom", "Earlier AI results stored with this study:")
        self.ecg_earlier.setText("\n".join([heading, *lines]) if lines else "")
        self.ecg_earlier.setVisible(bool(lines))

    def show_earlier_heatmap(self) -> bool:
        """Put the latest stored heat map of the image shown on the viewer's heat-map layer."""
        ref = self.window.shown_study()
        if ref is None or self.window.viewer.heatmap is not None:
            return False
        objects = self.earlier.get(ref.study.study_instance_uid, [])
        for index, inst in enumerate(ref.series.instances):
            seg = heatmap_for(objects, inst.sop_instance_uid)
            if seg is not None and seg.heatmap is not None:
                title = translate("AiDicom", "Earlier AI result: {0}").format(
                    seg.series_description
                )
                self.window.viewer.set_heatmap(seg.heatmap, index, title=title)
                return True
        return False


def install_ai_dicom(window: MainWindow) -> AiDicomController:
    """Add the result-as-DICOM actions and the reading back of earlier results to ``window``."""
    return AiDicomController(window)
