"""The ECG reading panel: open a record, read it on paper, run the beat model.

:class:`EcgPanel` owns one :class:`~desktop.jobs.JobRunner` (``jobs``) for
loading and analysing; the main window connects its status bar to it. Its
actions (``open_action``, ``open_sample_action``, ``analyze_action``) go in
the main window's menus.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QModelIndex,
    QObject,
    QSignalBlocker,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QScrollBar,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from desktop.ecg.beat_list import BEAT_ROLE, BeatListModel, show_beats
from desktop.ecg.paper import BEAT_CLASSES, RHYTHM_S, class_colour, class_name, format_time
from desktop.ecg.rhythm import RhythmReportPanel, irregular_rr_marks
from desktop.ecg.views import CaliperReading, StripView, TwelveLeadView, caliper_text
from desktop.jobs import JobFailure, JobRunner
from desktop.results.panel import ResultPanel
from engine.ecg import STANDARD_LEADS
from engine.ecg import Signal as EcgSignal
from engine.resources import resource_path
from engine.workflow import RHYTHM_TASK, AnalysisOutcome, Prediction, analyze
from engine.workflow import open_signal as read_ecg

log = logging.getLogger(__name__)

SAMPLE_12_LEAD = ("samples", "ecg-12-lead.dcm")
SAMPLE_HOLTER = ("samples", "mitdb", "119.hea")
LAYOUT_12_LEAD = "12-lead"
LAYOUT_STRIPS = "strips"
#: Slider steps per second of signal.
SLIDER_STEPS_PER_S = 100


class EcgPanel(QWidget):
    """Opens, shows and analyses one ECG record.

    Signals: ``signal_loaded(Signal)``, ``analysis_done(AnalysisOutcome)``.
    """

    signal_loaded = Signal(object)
    analysis_done = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, inline_progress: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("ecg_panel")
        #: Show a progress bar and Cancel in the panel (off when the window's status bar does).
        self.inline_progress = inline_progress
        self.signal: EcgSignal | None = None
        self._gap_bands: tuple[tuple[float, float, str], ...] = ()  # see gap_bands()
        self.prediction: Prediction | None = None
        self.device = "auto"
        self.explain = True
        self.last_failure: JobFailure | None = None
        self.jobs = JobRunner(self)

        # --- toolbar ---------------------------------------------------------
        self.layout_box = QComboBox()
        self.layout_box.setObjectName("ecg_layout_box")
        self.layout_box.addItem(self.tr("12-lead (3×4 + rhythm)"), LAYOUT_12_LEAD)
        self.layout_box.addItem(self.tr("Scrolling leads"), LAYOUT_STRIPS)
        self.speed_box = QComboBox()
        self.speed_box.setObjectName("ecg_speed_box")
        for v in (12.5, 25.0, 50.0):
            self.speed_box.addItem(self.tr("{0:g} mm/s").format(v), v)
        self.gain_box = QComboBox()
        self.gain_box.setObjectName("ecg_gain_box")
        for v in (5.0, 10.0, 20.0):
            self.gain_box.addItem(self.tr("{0:g} mm/mV").format(v), v)
        self.attribution_check = QCheckBox(self.tr("Show attributions"))
        self.attribution_check.setObjectName("ecg_attribution_check")
        self.attribution_check.setChecked(True)
        self.attribution_check.setToolTip(
            self.tr("Shade the analysed lead where the model looked most (integrated gradients).")
        )
        self.analyze_button = QPushButton(self.tr("Analyze ECG"))
        self.analyze_button.setObjectName("ecg_analyze_button")
        self.analyze_button.setEnabled(False)
        self.analyze_button.setToolTip(self.tr("Open an ECG record first."))
        self.rhythm_button = QPushButton(self.tr("Rhythm report"))
        self.rhythm_button.setObjectName("ecg_rhythm_button")
        self.rhythm_button.setEnabled(False)
        self.rhythm_button.setToolTip(self.tr("Open an ECG record first."))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setObjectName("ecg_cancel_button")
        self.cancel_button.hide()

        toolbar = QHBoxLayout()
        for text, box in (
            (self.tr("Layout:"), self.layout_box),
            (self.tr("Speed:"), self.speed_box),
            (self.tr("Gain:"), self.gain_box),
        ):
            label = QLabel(text)
            label.setBuddy(box)
            toolbar.addWidget(label)
            toolbar.addWidget(box)
        toolbar.addWidget(self.attribution_check)
        self.real_size_check = QCheckBox(self.tr("Real size"))
        self.real_size_check.setObjectName("ecg_real_size_check")
        self.real_size_check.setToolTip(self.tr(
            "Print the 12 leads at true millimetres (as on paper, on a calibrated screen: "
            "View ▸ Settings); otherwise the print is fitted to the view."
        ))  # fmt: skip
        self.real_size_check.toggled.connect(self._fit_twelve_lead)
        toolbar.addWidget(self.real_size_check)
        toolbar.addStretch(1)
        toolbar.addWidget(self.progress)
        toolbar.addWidget(self.cancel_button)
        toolbar.addWidget(self.rhythm_button)
        toolbar.addWidget(self.analyze_button)

        self.info = QLabel(self.tr("Open an ECG record (File ▸ Open ECG…)."))
        self.info.setObjectName("ecg_info")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # --- paper -------------------------------------------------------------
        self.twelve_lead = TwelveLeadView()
        self.twelve_lead.setObjectName("ecg_twelve_lead")
        self.strip = StripView()
        self.strip.setObjectName("ecg_strip")
        self.twelve_scroll = QScrollArea()
        self.twelve_scroll.setWidget(self.twelve_lead)
        self.twelve_scroll.setWidgetResizable(False)
        # The 3×4 print is fitted to the view (no sideways scrolling) when the view resizes.
        self.twelve_scroll.viewport().installEventFilter(self)
        self.strip_scroll = QScrollArea()
        self.strip_scroll.setWidget(self.strip)
        self.strip_scroll.setWidgetResizable(True)
        self.strip_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.twelve_scroll)
        self.stack.addWidget(self.strip_scroll)
        self.time_slider = QScrollBar(Qt.Orientation.Horizontal)
        self.time_slider.setObjectName("ecg_time_slider")
        self.time_slider.setToolTip(self.tr("Position in the recording"))
        self.time_label = QLabel("")
        self.time_label.setObjectName("ecg_time_label")
        self.caliper_label = QLabel(self.tr("Caliper: drag on the paper to measure."))
        self.caliper_label.setObjectName("ecg_caliper_label")
        time_row = QHBoxLayout()
        time_row.addWidget(self.time_slider, 1)
        time_row.addWidget(self.time_label)
        paper = QWidget()
        paper_layout = QVBoxLayout(paper)
        paper_layout.setContentsMargins(0, 0, 0, 0)
        paper_layout.addWidget(self.stack, 1)
        paper_layout.addLayout(time_row)
        paper_layout.addWidget(self.caliper_label)

        # --- beats and result ------------------------------------------------------
        legend = QLabel(
            "<br>".join(
                f'<span style="color:{class_colour(c).name()}">■</span>&nbsp;<b>{c}</b>&nbsp;'
                f"{class_name(c)}"
                for c in BEAT_CLASSES
            )
        )
        legend.setObjectName("ecg_legend")
        self.beat_model = BeatListModel((self.tr("Beat"), self.tr("Probability")), self)
        self.beat_list = QTreeView()
        self.beat_list.setObjectName("ecg_beat_list")
        self.beat_list.setModel(self.beat_model)
        self.beat_list.setUniformRowHeights(True)
        self.results = ResultPanel()
        self.results.setObjectName("ecg_result_panel")
        beats_tab = QWidget()
        beats_layout = QVBoxLayout(beats_tab)
        beats_layout.setContentsMargins(0, 0, 0, 0)
        beats_layout.addWidget(QLabel(self.tr("<b>Beats by class</b>")))
        beats_layout.addWidget(legend)
        beats_layout.addWidget(self.beat_list, 1)
        self.rhythm_report = RhythmReportPanel()
        self.side_tabs = QTabWidget()
        self.side_tabs.setObjectName("ecg_side_tabs")
        self.side_tabs.addTab(beats_tab, self.tr("Beats"))
        self.side_tabs.addTab(self.rhythm_report, self.tr("Rhythm"))
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.side_tabs, 2)
        result_scroll = QScrollArea()
        result_scroll.setWidgetResizable(True)
        result_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        result_scroll.setWidget(self.results)
        side_layout.addWidget(result_scroll, 3)
        side.setMinimumWidth(340)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(paper)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(toolbar)
        layout.addWidget(self.info)
        layout.addWidget(splitter, 1)

        # --- actions -------------------------------------------------------------
        self.open_action = QAction(self.tr("Open &ECG…"), self)
        self.open_action.setObjectName("open_ecg_action")
        self.open_action.setShortcut(QKeySequence("Ctrl+E"))
        self.open_action.triggered.connect(self._on_open_action_triggered)
        self.open_sample_action = QAction(self.tr("Open sample &12-lead ECG"), self)
        self.open_sample_action.setObjectName("open_sample_ecg_action")
        self.open_sample_action.triggered.connect(self.open_sample_12_lead)
        self.open_holter_action = QAction(self.tr("Open sample &Holter ECG (MIT-BIH 119)"), self)
        self.open_holter_action.setObjectName("open_holter_ecg_action")
        self.open_holter_action.triggered.connect(self.open_sample_holter)
        self.open_handheld_action = QAction(
            self.tr("Open sample &handheld ECG (CinC 2017, atrial fibrillation)"), self
        )
        self.open_handheld_action.setObjectName("open_handheld_ecg_action")
        self.open_handheld_action.triggered.connect(self.open_sample_handheld)
        self.analyze_action = QAction(self.tr("Analyze &ECG"), self)
        self.analyze_action.setObjectName("analyze_ecg_action")
        self.analyze_action.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.analyze_action.setEnabled(False)
        self.analyze_action.triggered.connect(self.analyze)
        self.rhythm_action = QAction(self.tr("&Rhythm report"), self)
        self.rhythm_action.setObjectName("rhythm_report_action")
        self.rhythm_action.setShortcut(QKeySequence("Ctrl+Shift+Y"))
        self.rhythm_action.setEnabled(False)
        self.rhythm_action.setToolTip(self.tr("Open an ECG record first."))
        self.rhythm_action.triggered.connect(self.analyze_rhythm)

        # --- wiring ----------------------------------------------------------------
        self.layout_box.currentIndexChanged.connect(self._on_layout_box_changed)
        self.speed_box.currentIndexChanged.connect(self._on_speed_box_changed)
        self.gain_box.currentIndexChanged.connect(self._on_gain_box_changed)
        self.attribution_check.toggled.connect(self._on_attribution_check_toggled)
        self.analyze_button.clicked.connect(self.analyze)
        self.rhythm_button.clicked.connect(self.analyze_rhythm)
        self.rhythm_report.seek.connect(self.go_to)
        self.cancel_button.clicked.connect(self.jobs.cancel)
        self.time_slider.valueChanged.connect(self._on_time_slider_changed)
        self.strip.position_changed.connect(self._on_strip_position_changed)
        self.strip.range_changed.connect(self._sync_slider)
        self.twelve_lead.scale_changed.connect(self._on_twelve_lead_scale_changed)
        for view in (self.twelve_lead, self.strip):
            view.caliper_changed.connect(self._on_view_caliper_changed)
        self.beat_list.selectionModel().currentChanged.connect(self._on_beat_list_current_changed)
        self.jobs.started.connect(self._on_jobs_started)
        self.jobs.progressed.connect(self._on_jobs_progressed)
        self.jobs.failed.connect(self._on_jobs_failed)
        self.jobs.cancelled.connect(self._on_jobs_cancelled)
        self.jobs.finished.connect(self._on_jobs_finished)
        self.speed_box.setCurrentIndex(self.speed_box.findData(25.0))
        self.gain_box.setCurrentIndex(self.gain_box.findData(10.0))
        self._sync_slider()

    # --- settings -------------------------------------------------------------------
    def apply_preferences(self, prefs) -> None:
        """Take speed, gain, screen calibration and model device from :class:`Preferences`."""
        self.device = prefs.device
        for view in (self.twelve_lead, self.strip):
            view.set_calibration(prefs.screen_calibration)
        self.speed_box.setCurrentIndex(max(0, self.speed_box.findData(prefs.ecg_speed_mm_s)))
        self.gain_box.setCurrentIndex(max(0, self.gain_box.findData(prefs.ecg_gain_mm_mv)))

    def set_speed(self, mm_s: float) -> None:
        self.speed_box.setCurrentIndex(self.speed_box.findData(float(mm_s)))

    def set_gain(self, mm_mv: float) -> None:
        self.gain_box.setCurrentIndex(self.gain_box.findData(float(mm_mv)))

    def set_layout(self, layout: str) -> None:
        """Show the 12-lead print (``"12-lead"``) or the scrolling leads (``"strips"``)."""
        self.layout_box.setCurrentIndex(self.layout_box.findData(layout))

    @property
    def current_layout(self) -> str:
        return self.layout_box.currentData()

    def current_view(self) -> TwelveLeadView | StripView:
        return self.twelve_lead if self.current_layout == LAYOUT_12_LEAD else self.strip

    # --- opening ------------------------------------------------------------------------
    def open_signal(self, path: str | Path) -> None:
        """Read an ECG record on a worker thread; it is shown when read."""
        self.jobs.submit(read_ecg, Path(path), name="open-ecg", on_success=self.set_signal)

    def open_sample_12_lead(self) -> None:
        self.open_signal(resource_path(*SAMPLE_12_LEAD))

    def open_sample_holter(self) -> None:
        self.open_signal(resource_path(*SAMPLE_HOLTER))

    @Slot()
    def open_sample_handheld(self) -> None:
        """Open the bundled single-lead handheld recording (AF, 300 Hz)."""
        self.open_signal(resource_path("samples") / "cinc2017" / "A00264.hea")

    def _on_open_action_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("Open an ECG record"),
            "",
            self.tr("ECG records (*.hea *.dcm *.DCM *.dat);;All files (*)"),
        )
        if path:
            self.open_signal(path)

    def set_signal(self, signal: EcgSignal) -> None:
        """Show ``signal``: the 12-lead print when it has the standard leads, else strips."""
        self.signal = signal
        self.prediction = None
        self.twelve_lead.set_signal(signal)
        self.strip.set_signal(signal)
        self._gap_bands = gap_bands(signal)
        for view in (self.twelve_lead, self.strip):
            view.set_episodes(self._gap_bands)
        self.strip.setMinimumHeight(self.strip.sizeHint().height())
        self._fit_twelve_lead()
        self.twelve_lead.resize(self.twelve_lead.sizeHint())
        self.beat_model.clear()
        self.results.clear()
        self.rhythm_report.clear()
        has_twelve = all(lead in signal.leads for lead in STANDARD_LEADS)
        self.set_layout(LAYOUT_12_LEAD if has_twelve else LAYOUT_STRIPS)
        self.info.setText(describe_signal(signal))
        self._set_analysable(True)
        self.analyze_button.setToolTip(self.tr("Label every beat with the beat model."))
        self.rhythm_button.setToolTip(
            self.tr("Rhythm, AF episodes and burden, heart rate, pauses and ectopy.")
        )
        self.rhythm_action.setToolTip(self.rhythm_button.toolTip())
        self._sync_slider()
        self.signal_loaded.emit(signal)

    # --- analysis ---------------------------------------------------------------------------
    @Slot()
    def analyze(self) -> None:
        """Label every beat with the default beat model on a worker thread."""
        self._submit(None, self.explain, "analyze-ecg")

    @Slot()
    def analyze_rhythm(self) -> None:
        """The rhythm report (rhythm model, with the beat model for ectopy) on a worker thread."""
        self._submit(RHYTHM_TASK, True, "rhythm-report")

    def _submit(self, task: str | None, explain: bool, name: str) -> None:
        if self.signal is not None:
            self.jobs.submit(analyze, self.signal, kind="signal", task=task, device=self.device,
                             explain=explain, name=name, on_success=self._on_analysed)  # fmt: skip

    def go_to(self, seconds: float) -> None:
        """Show the recording around ``seconds``."""
        if self.signal is None:
            return
        if self.current_layout == LAYOUT_12_LEAD:
            self.twelve_lead.set_start(seconds - RHYTHM_S / 2)
            self._sync_slider()
        else:
            self.strip.center_on(seconds)

    def _on_analysed(self, outcome: AnalysisOutcome) -> None:
        self.set_prediction(outcome.prediction)
        self.analysis_done.emit(outcome)

    def set_prediction(self, p: Prediction) -> None:
        """Draw the beat labels and attributions of ``p`` and list the beats by class."""
        self.prediction = p
        lead_index = self._analysed_lead_index(p)
        rhythm = p.extra.get("rhythm")
        for view in (self.twelve_lead, self.strip):
            view.set_beats(p.beats, lead_index)
            view.set_attribution(p.attribution, lead_index)
            view.set_rr_marks(irregular_rr_marks(rhythm))  # the rhythm model's explanation
            view.set_attribution_visible(self.attribution_check.isChecked())
        fs = self.signal.fs if self.signal is not None else 1.0
        show_beats(self.beat_list, self.beat_model, p, fs)
        self.results.show_prediction(p)
        if rhythm is not None:
            self.rhythm_report.show_report(str(p.extra.get("rhythm_label", p.label)), rhythm)
            episodes = tuple(
                (float(e["start"]), float(e["end"]), str(e["label"]))
                for e in rhythm.get("episodes", [])
            )
            for view in (self.twelve_lead, self.strip):
                view.set_episodes(episodes + self._gap_bands)
            self.side_tabs.setCurrentWidget(self.rhythm_report)

    def _analysed_lead_index(self, p: Prediction) -> int | None:
        return None if self.signal is None else analysed_lead_index(self.signal, p)

    def beat_item(self, index: int) -> QModelIndex:
        """The list row of beat ``index`` (invalid when it is not listed)."""
        return self.beat_model.beat_index(index)

    def select_beat(self, index: int) -> None:
        """Scroll to beat ``index`` and highlight it on the paper."""
        if self.prediction is None or self.signal is None:
            return
        self.go_to(self.prediction.beats[index].sample / self.signal.fs)
        for view in (self.twelve_lead, self.strip):
            view.highlight_beat(index)

    @Slot(QModelIndex, QModelIndex)
    def _on_beat_list_current_changed(self, current: QModelIndex, _) -> None:
        if not current.isValid():
            return
        index = current.data(BEAT_ROLE)
        if index is not None:
            self.select_beat(int(index))

    # --- view controls ------------------------------------------------------------------
    @Slot(int)
    def _on_layout_box_changed(self, _: int) -> None:
        self.stack.setCurrentIndex(0 if self.current_layout == LAYOUT_12_LEAD else 1)
        self._sync_slider()

    @Slot(int)
    def _on_speed_box_changed(self, _: int) -> None:
        for view in (self.twelve_lead, self.strip):
            view.set_speed(self.speed_box.currentData())

    @Slot(int)
    def _on_gain_box_changed(self, _: int) -> None:
        for view in (self.twelve_lead, self.strip):
            view.set_gain(self.gain_box.currentData())
        self.strip.setMinimumHeight(self.strip.sizeHint().height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.twelve_scroll.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_twelve_lead()
        return super().eventFilter(watched, event)

    def _fit_twelve_lead(self) -> None:
        if self.real_size_check.isChecked():
            self.twelve_lead.set_zoom(1.0)
            return
        viewport = self.twelve_scroll.viewport()
        self.twelve_lead.fit_to(viewport.width(), viewport.height())

    @Slot()
    def _on_twelve_lead_scale_changed(self) -> None:
        self.twelve_lead.resize(self.twelve_lead.sizeHint())

    @Slot(bool)
    def _on_attribution_check_toggled(self, checked: bool) -> None:
        for view in (self.twelve_lead, self.strip):
            view.set_attribution_visible(checked)

    @Slot(object)
    def _on_view_caliper_changed(self, reading: CaliperReading | None) -> None:
        if reading is None:
            self.caliper_label.setText(self.tr("Caliper: drag on the paper to measure."))
        else:
            self.caliper_label.setText(self.tr("Caliper: {0}").format(caliper_text(reading)))

    def _sync_slider(self) -> None:
        """Fit the slider's range and page to the signal and the visible span."""
        duration = self.signal.duration_s if self.signal is not None else 0.0
        if self.current_layout == LAYOUT_12_LEAD:
            span, position = RHYTHM_S, self.twelve_lead.start_s
        else:
            span, position = self.strip.visible_s(), self.strip.position_s
        maximum = max(0.0, duration - span)
        with QSignalBlocker(self.time_slider):
            self.time_slider.setRange(0, round(maximum * SLIDER_STEPS_PER_S))
            self.time_slider.setPageStep(max(1, round(span * SLIDER_STEPS_PER_S)))
            self.time_slider.setSingleStep(SLIDER_STEPS_PER_S)
            self.time_slider.setValue(round(position * SLIDER_STEPS_PER_S))
        self.time_slider.setEnabled(maximum > 0)
        self._update_time_label(position, span, duration)

    def _update_time_label(self, position: float, span: float, duration: float) -> None:
        end = min(duration, position + span)
        self.time_label.setText(
            f"{format_time(position, 1)}–{format_time(end, 1)} / {format_time(duration)}"
        )

    @Slot(int)
    def _on_time_slider_changed(self, value: int) -> None:
        seconds = value / SLIDER_STEPS_PER_S
        if self.current_layout == LAYOUT_12_LEAD:
            self.twelve_lead.set_start(seconds)
            self._sync_slider()
        else:
            self.strip.set_position(seconds)

    @Slot(float)
    def _on_strip_position_changed(self, _: float) -> None:
        if self.current_layout == LAYOUT_STRIPS:
            self._sync_slider()

    # --- job feedback ---------------------------------------------------------------------
    @Slot(str)
    def _on_jobs_started(self, name: str) -> None:
        self.progress.setValue(0)
        self.progress.setVisible(self.inline_progress)
        self.cancel_button.setVisible(self.inline_progress)
        self._set_analysable(False)

    @Slot(float, str)
    def _on_jobs_progressed(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(fraction * 1000))
        if text:
            self.progress.setToolTip(text)

    @Slot(object)
    def _on_jobs_failed(self, failure: JobFailure) -> None:
        self.last_failure = failure
        self.info.setText(failure.user_message)

    @Slot()
    def _on_jobs_cancelled(self) -> None:
        self.progress.setToolTip(self.tr("Cancelled."))

    @Slot()
    def _on_jobs_finished(self) -> None:
        if not self.jobs.busy:
            self.progress.hide()
            self.cancel_button.hide()
            ready = self.signal is not None
            self._set_analysable(ready)

    def _set_analysable(self, ready: bool) -> None:
        for control in (self.analyze_button, self.analyze_action, self.rhythm_button,
                        self.rhythm_action):  # fmt: skip
            control.setEnabled(ready)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Cancel and wait for the running job (call from the window's closeEvent)."""
        self.jobs.cancel()
        self.jobs.wait(timeout_s)


translate = QCoreApplication.translate


def gap_bands(signal: EcgSignal) -> tuple[tuple[float, float, str], ...]:
    """``(start_s, end_s, label)`` of the stretches with no signal (missing samples in the file,
    or a perfectly flat line), labelled with the lead(s) they are missing from (shaded on the
    traces like rhythm episodes)."""
    missing: dict[tuple[float, float], list[str]] = {}
    for name, spans in zip(signal.leads, getattr(signal, "gaps", ()), strict=False):
        for span in spans:
            missing.setdefault(span, []).append(name)
    label = translate("EcgPanel", "No signal: {0}")
    return tuple(
        (a, b, label.format(", ".join(leads))) for (a, b), leads in sorted(missing.items())
    )


def analysed_lead_index(signal: EcgSignal, p: Prediction) -> int | None:
    """The index in ``signal`` of the lead ``p`` was made on (``None`` when it names none)."""
    name = str(p.extra.get("lead", ""))
    lower = [lead.lower() for lead in signal.leads]
    return lower.index(name.lower()) if name.lower() in lower else None


def describe_signal(signal: EcgSignal) -> str:
    """One line about a record: name, leads, rate, duration and the patient it names."""
    leads = (
        translate("EcgPanel", "1 lead")
        if signal.n_leads == 1
        else translate("EcgPanel", "{0} leads").format(signal.n_leads)
    )
    text = translate("EcgPanel", "{0} · {1} ({2}) · {3:g} Hz · {4}").format(
        signal.record_name or signal.source.name,
        leads,
        ", ".join(lead or translate("EcgPanel", "unnamed") for lead in signal.leads),
        signal.fs,
        format_time(signal.duration_s, 1),
    )
    patient = [
        v
        for v in (
            signal.patient_name,
            translate("EcgPanel", "ID {0}").format(signal.patient_id) if signal.patient_id else "",
            translate("EcgPanel", "age {0}").format(signal.age) if signal.age else "",
            translate("EcgPanel", "sex {0}").format(signal.sex) if signal.sex else "",
        )
        if v
    ]
    if patient:
        text += " · " + translate("EcgPanel", "Patient: {0}").format(", ".join(patient))
    return text
