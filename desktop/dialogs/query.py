"""File ▸ Query PACS…: find studies on a configured DICOM node, open a study to list its
series, and retrieve a study or one series.

Searches (C-FIND, or QIDO-RS for a DICOMweb retrieve) and retrieves (C-GET, C-MOVE to
this workstation, or WADO-RS, into the local DICOM cache) run as jobs with progress
and Cancel; the first instance that arrives is shown at once and the whole study
opens in the study browser when the retrieve ends. Only nodes an administrator
configured are offered. Every search and retrieve is reported with
``network_event`` (for the patient store's audit log when someone is signed in).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import JobFailure, JobRunner
from engine.net import (
    InstanceCache,
    Listener,
    NetConfigError,
    NetSettings,
    Node,
    RetrieveResult,
    Stored,
    find_series,
    find_studies,
    get_study,
    listener_tls,
    load_settings,
    move_study,
    web_find_series,
    web_find_studies,
    web_get_study,
)

_COLUMNS = ("StudyDate", "PatientID", "PatientName", "ModalitiesInStudy",
            "NumberOfStudyRelatedInstances", "StudyDescription")  # fmt: skip
#: Where each series value goes in the study columns.
_SERIES_COLUMNS = {2: "SeriesNumber", 3: "Modality", 4: "NumberOfSeriesRelatedInstances",
                   5: "SeriesDescription"}  # fmt: skip
_UID = Qt.ItemDataRole.UserRole
GET, MOVE, WADO = "get", "move", "wado"


def _text(value: object) -> str:
    if isinstance(value, list):
        return "/".join(str(v) for v in value)
    return "" if value is None else str(value).replace("^", " ")


class QueryDialog(QDialog):
    """Query a node and retrieve a study or a series.

    Signals: ``retrieved(list[Path])`` with the files of what was retrieved,
    ``first_arrived(list[Path])`` with the first instance as soon as it is here,
    ``network_event(dict)`` with ``action``, ``node``, ``study``, ``count`` and
    ``result`` of every search and retrieve.
    """

    retrieved = Signal(object)
    first_arrived = Signal(object)
    network_event = Signal(object)

    def __init__(self, parent: QWidget | None = None, cache: InstanceCache | None = None,
                 listener: Listener | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("query_dialog")
        self.setWindowTitle(self.tr("Query PACS"))
        self.resize(960, 600)
        self.cache = cache
        #: The application's running listener (a C-MOVE is received by it when it runs).
        self.listener = listener
        #: The address a C-MOVE's own listener opens ("": every interface of this workstation).
        self.listen_host = ""
        self.studies: list[dict] = []
        self.settings: NetSettings | None = None
        self._doing: dict[str, Any] = {}
        self._first_shown = False
        problem = ""
        try:
            self.settings = load_settings()
        except NetConfigError as exc:
            problem = exc.user_message
        self.node_box = QComboBox()
        self.node_box.setObjectName("query_node_box")
        for node in self.settings.nodes if self.settings else ():
            self.node_box.addItem(f"{node.name} — {node.address}", node.name)
        self.method_box = QComboBox()
        self.method_box.setObjectName("query_method_box")
        self.method_box.addItem(self.tr("C-GET (this workstation asks and receives)"), GET)
        self.method_box.addItem(self.tr("C-MOVE (the PACS sends to this workstation)"), MOVE)
        self.method_box.addItem(self.tr("WADO-RS (DICOMweb)"), WADO)
        self.patient_id = QLineEdit()
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText(self.tr("e.g. DOE^J*"))
        self.study_date = QLineEdit()
        self.study_date.setPlaceholderText(self.tr("YYYYMMDD or YYYYMMDD-YYYYMMDD"))
        self.modality = QLineEdit()
        self.accession = QLineEdit()
        form = QFormLayout()
        form.addRow(self.tr("Node:"), self.node_box)
        form.addRow(self.tr("Retrieve by:"), self.method_box)
        form.addRow(self.tr("Patient ID:"), self.patient_id)
        form.addRow(self.tr("Patient name:"), self.patient_name)
        form.addRow(self.tr("Study date:"), self.study_date)
        form.addRow(self.tr("Modality:"), self.modality)
        form.addRow(self.tr("Accession number:"), self.accession)
        self.search_button = QPushButton(self.tr("Search"))
        self.search_button.setObjectName("query_search_button")
        self.retrieve_button = QPushButton(self.tr("Retrieve"))
        self.retrieve_button.setObjectName("query_retrieve_button")
        self.retrieve_button.setEnabled(False)
        self.retrieve_button.setToolTip(self.tr("Search, then choose a study or a series."))
        metrics = self.retrieve_button.fontMetrics()
        self.retrieve_button.setMinimumWidth(24 + max(
            metrics.horizontalAdvance(t)
            for t in (self.tr("Retrieve study"), self.tr("Retrieve series"))
        ))  # fmt: skip
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.tree = QTreeWidget()
        self.tree.setObjectName("query_results")
        self.tree.setColumnCount(len(_COLUMNS))
        self.tree.setHeaderLabels([
            self.tr("Date"), self.tr("Patient ID"), self.tr("Patient name / series"),
            self.tr("Modalities"), self.tr("Images"), self.tr("Description"),
        ])  # fmt: skip
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.SingleSelection)
        self.tree.header().setStretchLastSection(True)
        self.tree.setToolTip(self.tr("Open a study to list its series."))
        self.message = QLabel(problem)
        self.message.setObjectName("query_message")
        self.message.setWordWrap(True)
        if not problem and self.node_box.count() == 0:
            self.message.setText(self.tr(
                "No DICOM node is configured. An administrator adds the clinic's PACS with "
                "“stethos-engine net nodes add NAME AET@host:port”."
            ))  # fmt: skip
        self.search_button.setEnabled(self.node_box.count() > 0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.search_button)
        row.addWidget(self.retrieve_button)
        row.addStretch(1)
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.jobs = JobRunner(self)
        self.jobs.started.connect(self._on_jobs_started)
        self.jobs.progressed.connect(self._on_jobs_progressed)
        self.jobs.partial.connect(self._on_jobs_partial)
        self.jobs.failed.connect(self._on_jobs_failed)
        self.jobs.finished.connect(self._on_jobs_finished)
        #: Series lists come on their own runner: opening a study does not stop a retrieve.
        self.series_jobs = JobRunner(self)
        self.series_jobs.failed.connect(self._on_jobs_failed)
        self.search_button.clicked.connect(self.search)
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button.clicked.connect(self.jobs.cancel)
        self.tree.itemSelectionChanged.connect(self._on_tree_selection_changed)
        self.tree.itemExpanded.connect(self._on_tree_item_expanded)
        self.node_box.currentIndexChanged.connect(self._on_node_changed)
        self._on_node_changed()

    # --- the node and how to reach it ------------------------------------------------------------
    def _node(self) -> Node | None:
        name = self.node_box.currentData()
        return self.settings.node(name) if self.settings and name else None

    @property
    def _aet(self) -> str:
        return self.settings.aet if self.settings else "STETHOS"

    @property
    def method(self) -> str:
        return str(self.method_box.currentData())

    @Slot()
    def _on_node_changed(self) -> None:
        node = self._node()
        web = bool(node is not None and node.dicomweb)
        item = self.method_box.model().item(self.method_box.findData(WADO))  # type: ignore[attr-defined]
        item.setEnabled(web)
        item.setToolTip("" if web else self.tr("This node has no DICOMweb address configured."))
        if not web and self.method == WADO:
            self.method_box.setCurrentIndex(self.method_box.findData(GET))

    # --- search ------------------------------------------------------------------------------
    @Slot()
    def search(self) -> None:
        node = self._node()
        if node is None:
            return
        self.message.setText(self.tr("Searching {0}…").format(node.name))
        self._doing = {"action": "query", "node": node.name, "study": ""}
        keys: dict[str, Any] = {"patient_id": self.patient_id.text().strip(),
                "patient_name": self.patient_name.text().strip(),
                "study_date": self.study_date.text().strip(),
                "modality": self.modality.text().strip()}  # fmt: skip
        if self.method == WADO:
            self.jobs.submit(web_find_studies, node, **keys, name="query",
                             on_success=self._show_studies)  # fmt: skip
        else:
            self.jobs.submit(find_studies, node, **keys, accession=self.accession.text().strip(),
                             aet=self._aet, name="query", on_success=self._show_studies)  # fmt: skip

    def _show_studies(self, studies: list[dict]) -> None:
        self.studies = studies
        self.tree.clear()
        for study in studies:
            item = QTreeWidgetItem([_text(study.get(key, "")) for key in _COLUMNS])
            item.setData(0, _UID, (str(study.get("StudyInstanceUID", "")), ""))
            item.setTextAlignment(4, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            self.tree.addTopLevelItem(item)
        for column in range(len(_COLUMNS) - 1):
            self.tree.resizeColumnToContents(column)
        self.message.setText(self.tr("{0} studies found.").format(len(studies)))
        self._event("query", count=len(studies))

    # --- series ------------------------------------------------------------------------------
    @Slot(QTreeWidgetItem)
    def _on_tree_item_expanded(self, item: QTreeWidgetItem) -> None:
        node = self._node()
        study, series = item.data(0, _UID)
        if node is None or series or item.childCount():
            return
        find = web_find_series if self.method == WADO else find_series
        kwargs: dict[str, Any] = {} if self.method == WADO else {"aet": self._aet}
        self.series_jobs.submit(find, node, study, **kwargs, name="series",
                                on_success=lambda found: self._show_series(item, found))  # fmt: skip

    def _show_series(self, item: QTreeWidgetItem, found: list[dict]) -> None:
        study = item.data(0, _UID)[0]
        for series in found:
            child = QTreeWidgetItem(item)
            for column, key in _SERIES_COLUMNS.items():
                value = _text(series.get(key, ""))
                if key == "SeriesNumber":
                    value = self.tr("Series {0}").format(value) if value else self.tr("Series")
                child.setText(column, value)
            child.setTextAlignment(4, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            child.setData(0, _UID, (study, str(series.get("SeriesInstanceUID", ""))))
        if not found:
            item.setChildIndicatorPolicy(
                QTreeWidgetItem.ChildIndicatorPolicy.DontShowIndicatorWhenChildless
            )

    @Slot()
    def _on_tree_selection_changed(self) -> None:
        items = self.tree.selectedItems()
        series = bool(items and items[0].data(0, _UID)[1])
        self.retrieve_button.setEnabled(bool(items))
        self.retrieve_button.setText(
            self.tr("Retrieve series") if series else self.tr("Retrieve study")
        )
        self.retrieve_button.setToolTip(
            self.tr("Retrieve the chosen study or series into this workstation's DICOM cache.")
            if items else self.tr("Search, then choose a study or a series.")
        )  # fmt: skip

    # --- retrieve ----------------------------------------------------------------------------
    @Slot()
    def retrieve(self) -> None:
        node = self._node()
        items = self.tree.selectedItems()
        if node is None or not items or self.settings is None:
            return
        study, series = items[0].data(0, _UID)
        self._first_shown = False
        self._doing = {"action": "retrieve", "node": node.name, "study": study}
        self.message.setText(self.tr("Retrieving from {0}…").format(node.name))
        self.jobs.submit(_retrieve_job, self.method, node, study, series, self.cache, self.settings,
                         self.listener, self.listen_host, name="retrieve", with_partial=True,
                         on_success=self._retrieved)  # fmt: skip

    @Slot(object)
    def _on_jobs_partial(self, payload: object) -> None:
        if isinstance(payload, Stored) and not self._first_shown:
            self._first_shown = True
            self.first_arrived.emit([payload.path])

    def _retrieved(self, result: RetrieveResult) -> None:
        self.message.setText(self.tr("Retrieved: {0}.").format(result.message))
        self._event("retrieve", count=result.received)
        files: list[Path] = list(result.files)
        if files:
            self.retrieved.emit(files)

    def _event(self, action: str, *, count: int | None = None, result: str = "ok") -> None:
        self.network_event.emit({**self._doing, "action": action, "count": count,
                                 "result": result})  # fmt: skip

    # --- job state ---------------------------------------------------------------------------
    @Slot(str)
    def _on_jobs_started(self, _name: str) -> None:
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.search_button.setEnabled(False)

    @Slot(float, str)
    def _on_jobs_progressed(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(fraction * 1000))
        if text:
            self.progress.setToolTip(text)

    @Slot(object)
    def _on_jobs_failed(self, failure: JobFailure) -> None:
        self.message.setText(failure.user_message)
        if self.sender() is self.jobs and self._doing:
            self._event(self._doing["action"], result="failed")

    @Slot()
    def _on_jobs_finished(self) -> None:
        if not self.jobs.busy:
            self.progress.hide()
            self.cancel_button.hide()
            self.search_button.setEnabled(self.node_box.count() > 0)

    def done(self, result: int) -> None:
        self.jobs.cancel()
        self.series_jobs.cancel()
        super().done(result)


def _retrieve_job(
    method: str, node: Node, study: str, series: str, cache: InstanceCache | None,
    settings: NetSettings, listener: Listener | None, host: str, *, partial: Any,
    progress: Any, cancel: Any,
) -> RetrieveResult:  # fmt: skip
    """Retrieve by ``method`` into ``cache`` (the user's, opened here off the UI thread, when
    ``None``); the first instance stored goes to ``partial`` (shown at once)."""
    cache = cache if cache is not None else InstanceCache()
    first: list[Stored] = []

    def on_stored(stored: Stored) -> None:
        if not first:
            first.append(stored)
            partial(stored)

    common = {"series_instance_uid": series, "on_stored": on_stored, "progress": progress,
              "cancel": cancel}  # fmt: skip
    if method == WADO:
        return web_get_study(node, study, cache, **common)
    if method == MOVE:
        running = listener if listener is not None and listener.cache.root == cache.root else None
        return move_study(node, study, cache, aet=settings.aet, port=settings.port, host=host,
                          listener=running, ssl_context=listener_tls(settings), **common)  # fmt: skip
    return get_study(node, study, cache, aet=settings.aet, **common)
