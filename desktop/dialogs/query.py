"""File ▸ Query PACS…: find studies on a configured DICOM node and retrieve one.

Searches (C-FIND) and retrieves (C-GET into the local DICOM cache) run as
jobs with progress and Cancel; a retrieved study opens in the study browser
like opened files. Only nodes an administrator configured are offered.
"""

from __future__ import annotations

from pathlib import Path

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
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import JobFailure, JobRunner
from engine.net import (
    InstanceCache,
    NetConfigError,
    NetSettings,
    RetrieveResult,
    find_studies,
    get_study,
    load_settings,
)

_COLUMNS = ("StudyDate", "PatientID", "PatientName", "ModalitiesInStudy",
            "NumberOfStudyRelatedInstances", "StudyDescription")  # fmt: skip


class QueryDialog(QDialog):
    """Query a node and retrieve a study; ``retrieved(list[Path])`` gives its files."""

    retrieved = Signal(object)

    def __init__(self, parent: QWidget | None = None, cache: InstanceCache | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("query_dialog")
        self.setWindowTitle(self.tr("Query PACS"))
        self.resize(900, 560)
        self.cache = cache
        self.studies: list[dict] = []
        self.settings: NetSettings | None = None
        problem = ""
        try:
            self.settings = load_settings()
        except NetConfigError as exc:
            problem = exc.user_message
        self.node_box = QComboBox()
        self.node_box.setObjectName("query_node_box")
        for node in self.settings.nodes if self.settings else ():
            self.node_box.addItem(f"{node.name} — {node.address}", node.name)
        self.patient_id = QLineEdit()
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText(self.tr("e.g. DOE^J*"))
        self.study_date = QLineEdit()
        self.study_date.setPlaceholderText(self.tr("YYYYMMDD or YYYYMMDD-YYYYMMDD"))
        self.modality = QLineEdit()
        self.accession = QLineEdit()
        form = QFormLayout()
        form.addRow(self.tr("Node:"), self.node_box)
        form.addRow(self.tr("Patient ID:"), self.patient_id)
        form.addRow(self.tr("Patient name:"), self.patient_name)
        form.addRow(self.tr("Study date:"), self.study_date)
        form.addRow(self.tr("Modality:"), self.modality)
        form.addRow(self.tr("Accession number:"), self.accession)
        self.search_button = QPushButton(self.tr("Search"))
        self.search_button.setObjectName("query_search_button")
        self.retrieve_button = QPushButton(self.tr("Retrieve study"))
        self.retrieve_button.setObjectName("query_retrieve_button")
        self.retrieve_button.setEnabled(False)
        self.retrieve_button.setToolTip(self.tr("Search, then choose a study."))
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setObjectName("query_results")
        self.table.setHorizontalHeaderLabels([
            self.tr("Date"), self.tr("Patient ID"), self.tr("Patient name"), self.tr("Modalities"),
            self.tr("Images"), self.tr("Description"),
        ])  # fmt: skip
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
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
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.jobs = JobRunner(self)
        self.jobs.started.connect(self._on_jobs_started)
        self.jobs.progressed.connect(self._on_jobs_progressed)
        self.jobs.failed.connect(self._on_jobs_failed)
        self.jobs.finished.connect(self._on_jobs_finished)
        self.search_button.clicked.connect(self.search)
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button.clicked.connect(self.jobs.cancel)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)

    def _node(self):
        name = self.node_box.currentData()
        return self.settings.node(name) if self.settings and name else None

    @property
    def _aet(self) -> str:
        return self.settings.aet if self.settings else "STETHOS"

    @Slot()
    def search(self) -> None:
        node = self._node()
        if node is None:
            return
        self.message.setText(self.tr("Searching {0}…").format(node.name))
        self.jobs.submit(
            find_studies, node, patient_id=self.patient_id.text().strip(),
            patient_name=self.patient_name.text().strip(),
            study_date=self.study_date.text().strip(), modality=self.modality.text().strip(),
            accession=self.accession.text().strip(), aet=self._aet,
            name="query", on_success=self._show_studies,
        )  # fmt: skip

    def _show_studies(self, studies: list[dict]) -> None:
        self.studies = studies
        self.table.setRowCount(len(studies))
        for r, study in enumerate(studies):
            for c, key in enumerate(_COLUMNS):
                value = study.get(key, "")
                text = (
                    "/".join(value)
                    if isinstance(value, list)
                    else ("" if value is None else str(value))
                )
                item = QTableWidgetItem(text.replace("^", " "))
                if key.startswith("NumberOf"):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.message.setText(self.tr("{0} studies found.").format(len(studies)))

    @Slot()
    def _on_table_selection_changed(self) -> None:
        ok = bool(self.table.selectionModel().selectedRows())
        self.retrieve_button.setEnabled(ok)
        self.retrieve_button.setToolTip(
            self.tr("Retrieve the chosen study into this workstation's DICOM cache.")
            if ok else self.tr("Search, then choose a study.")
        )  # fmt: skip

    @Slot()
    def retrieve(self) -> None:
        node = self._node()
        rows = self.table.selectionModel().selectedRows()
        if node is None or not rows:
            return
        uid = str(self.studies[rows[0].row()]["StudyInstanceUID"])
        cache = self.cache if self.cache is not None else InstanceCache()
        self.message.setText(self.tr("Retrieving the study from {0}…").format(node.name))
        self.jobs.submit(get_study, node, uid, cache, aet=self._aet, name="retrieve",
                         on_success=self._retrieved)  # fmt: skip

    def _retrieved(self, result: RetrieveResult) -> None:
        self.message.setText(self.tr("Retrieved: {0}.").format(result.message))
        files: list[Path] = list(result.files)
        if files:
            self.retrieved.emit(files)

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

    @Slot()
    def _on_jobs_finished(self) -> None:
        if not self.jobs.busy:
            self.progress.hide()
            self.cancel_button.hide()
            self.search_button.setEnabled(self.node_box.count() > 0)

    def done(self, result: int) -> None:
        self.jobs.cancel()
        super().done(result)
