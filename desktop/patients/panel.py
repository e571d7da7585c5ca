"""The Patients dock: search, patient list, the selected patient's timeline."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.patients.report import value_text
from engine.records import HEART_RECORD
from engine.store import Patient, TimelineEntry

_KIND_ROLE = Qt.ItemDataRole.UserRole + 1
_ID_ROLE = Qt.ItemDataRole.UserRole + 2


class PatientsPanel(QWidget):
    """Signals: ``search_changed(text)``, ``patient_selected(id or 0)``, ``new_patient()``."""

    search_changed = Signal(str)
    patient_selected = Signal(int)
    new_patient = Signal()
    report_requested = Signal(int)  # encounter id
    decision_requested = Signal(int, str)  # result id, "accepted" or "overridden"
    edit_patient_requested = Signal()
    patient_history_requested = Signal()
    edit_record_requested = Signal(int)  # record id (latest version)
    record_history_requested = Signal(int)  # record id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.user_label = QLabel("")
        self.user_label.setObjectName("user_label")
        layout.addWidget(self.user_label)
        row = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setObjectName("patient_search")
        self.search.setPlaceholderText(self.tr("Search by name or MRN"))
        self.search.setClearButtonEnabled(True)
        row.addWidget(self.search, 1)
        self.new_button = QPushButton(self.tr("New patient…"))
        self.new_button.setObjectName("new_patient_button")
        row.addWidget(self.new_button)
        layout.addLayout(row)
        splitter = QSplitter(Qt.Orientation.Vertical)
        self.patients = QListWidget()
        self.patients.setObjectName("patient_list")
        splitter.addWidget(self.patients)
        box = QWidget()
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        self.header = QLabel(self.tr("No patient selected."))
        self.header.setObjectName("patient_header")
        self.header.setWordWrap(True)
        box_layout.addWidget(self.header)
        patient_row = QHBoxLayout()
        self.edit_patient_button = QPushButton(self.tr("Edit patient…"))
        self.edit_patient_button.setObjectName("edit_patient_button")
        self.patient_history_button = QPushButton(self.tr("Patient history…"))
        self.patient_history_button.setObjectName("patient_history_button")
        patient_row.addWidget(self.edit_patient_button)
        patient_row.addWidget(self.patient_history_button)
        patient_row.addStretch(1)
        box_layout.addLayout(patient_row)
        self.timeline = QTreeWidget()
        self.timeline.setObjectName("patient_timeline")
        self.timeline.setHeaderLabels([self.tr("When"), self.tr("What")])
        self.timeline.setRootIsDecorated(False)
        self.timeline.setWordWrap(True)
        self.timeline.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.timeline.setAlternatingRowColors(True)
        box_layout.addWidget(self.timeline, 1)
        self.report_button = QPushButton(self.tr("Report of selected encounter…"))
        self.report_button.setObjectName("report_button")
        self.report_button.setEnabled(False)
        buttons = QHBoxLayout()
        self.accept_button = QPushButton(self.tr("Accept result"))
        self.accept_button.setObjectName("timeline_accept_button")
        self.override_button = QPushButton(self.tr("Override result…"))
        self.override_button.setObjectName("timeline_override_button")
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.override_button)
        box_layout.addLayout(buttons)
        record_buttons = QHBoxLayout()
        self.edit_record_button = QPushButton(self.tr("Edit record…"))
        self.edit_record_button.setObjectName("edit_record_button")
        self.record_history_button = QPushButton(self.tr("Record history…"))
        self.record_history_button.setObjectName("record_history_button")
        record_buttons.addWidget(self.edit_record_button)
        record_buttons.addWidget(self.record_history_button)
        box_layout.addLayout(record_buttons)
        box_layout.addWidget(self.report_button)
        splitter.addWidget(box)
        splitter.setSizes([120, 480])
        layout.addWidget(splitter, 1)

        self._record_changes: dict[int, str] = {}
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(200)
        self._debounce.timeout.connect(lambda: self.search_changed.emit(self.search.text()))
        self.search.textChanged.connect(self._debounce.start)
        self.new_button.clicked.connect(self.new_patient)
        self.patients.currentItemChanged.connect(self._on_patients_current_changed)
        self.timeline.currentItemChanged.connect(self._on_timeline_current_changed)
        self.report_button.clicked.connect(self._on_report_button_clicked)
        self.accept_button.clicked.connect(lambda: self._decide("accepted"))
        self.override_button.clicked.connect(lambda: self._decide("overridden"))
        self.edit_patient_button.clicked.connect(self.edit_patient_requested)
        self.patient_history_button.clicked.connect(self.patient_history_requested)
        self.edit_record_button.clicked.connect(lambda: self._on_record_button("edit"))
        self.record_history_button.clicked.connect(lambda: self._on_record_button("history"))
        self._on_timeline_current_changed(None, None)
        self._set_patient_buttons(False)

    def set_patients(self, patients: list[Patient], select: int | None = None) -> None:
        """Fill the list (keeping the selection when the patient is still there)."""
        keep = select if select is not None else self.current_patient_id()
        self.patients.blockSignals(True)
        self.patients.clear()
        chosen = None
        for p in patients:
            born = p.birth_date.isoformat() if p.birth_date else "–"
            item = QListWidgetItem(f"{p.display_name}  ·  {p.mrn}  ·  {born}  ·  {p.sex}")
            item.setData(Qt.ItemDataRole.UserRole, p.id)
            self.patients.addItem(item)
            if p.id == keep:
                chosen = item
        self.patients.blockSignals(False)
        if chosen is not None:
            already = self.patients.currentItem() is chosen
            self.patients.setCurrentItem(chosen)  # emits patient_selected when it changes
            if select is not None and already:
                self.patient_selected.emit(select)

    def current_patient_id(self) -> int | None:
        item = self.patients.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def show_patient(
        self,
        patient: Patient | None,
        entries: list[TimelineEntry],
        record_changes: dict[int, str] | None = None,
    ) -> None:
        """The header and the timeline, newest first.

        ``record_changes`` maps an edited record's id to what changed (shown
        instead of the engine's English summary).
        """
        self._record_changes = dict(record_changes or {})
        self.timeline.clear()
        self.report_button.setEnabled(False)
        self._set_patient_buttons(patient is not None)
        if patient is None:
            self.header.setText(self.tr("No patient selected."))
            return
        born = patient.birth_date.isoformat() if patient.birth_date else self.tr("unknown")
        self.header.setText(
            self.tr("<b>{0}</b><br>MRN {1} · born {2} · {3}").format(
                patient.display_name, patient.mrn, born, self._sex(patient.sex)
            )
        )
        for entry in sorted(entries, key=lambda e: (e.time, e.id), reverse=True):
            when = entry.time.astimezone().strftime("%Y-%m-%d\n%H:%M")
            summary = self._summary(entry)
            if entry.kind == "result":
                summary += f" · {entry.item.model_id} {entry.item.model_version}"
            text = self._title(entry) + (f"\n{summary}" if summary else "")
            item = QTreeWidgetItem([when, text])
            item.setData(0, Qt.ItemDataRole.UserRole, entry.encounter_id)
            item.setData(0, _KIND_ROLE, entry.kind)
            item.setData(0, _ID_ROLE, entry.id)
            item.setToolTip(1, text)
            self.timeline.addTopLevelItem(item)
        self.timeline.resizeColumnToContents(0)

    def _summary(self, entry: TimelineEntry) -> str:
        """The entry's details in the interface language where they are not data."""
        item = entry.item
        if entry.kind == "decision":
            if item.decision == "accepted":
                return self.tr("Accepted") + (f": {item.comment}" if item.comment else "")
            return self.tr("Overridden: {0}").format(item.comment)
        if entry.kind == "result" and entry.item.withheld:
            return self.tr("No result (out of domain)")
        if entry.kind == "record" and entry.id in self._record_changes:
            return self._record_changes[entry.id]
        if entry.kind == "record" and item.version == 1 and item.schema_name == HEART_RECORD.name:
            parts = [
                f"{QCoreApplication.translate('RecordForm', spec.label)}: "
                + value_text(spec, item.values[spec.name], item.units.get(spec.name))
                for spec in HEART_RECORD.fields
                if item.values.get(spec.name) is not None
            ]
            return "; ".join(parts[:4]) + ("; …" if len(parts) > 4 else "")
        return entry.summary

    def _sex(self, code: str) -> str:
        labels = {"F": self.tr("Female"), "M": self.tr("Male"), "O": self.tr("Other")}
        return labels.get(code, self.tr("Unknown"))

    def _title(self, entry: TimelineEntry) -> str:
        if entry.kind == "result":
            return self.tr("Result: {0}").format(entry.title)
        if entry.kind == "study":
            return self.tr("Study {0}").format(getattr(entry.item, "modality", "")).strip()
        if entry.kind == "record" and getattr(entry.item, "version", 1) > 1:
            return self.tr("Record (edited, version {0})").format(entry.item.version)
        kinds = {
            "encounter": self.tr("Encounter"),
            "record": self.tr("Record"),
            "decision": self.tr("Decision"),
        }
        return kinds.get(entry.kind, entry.title)

    def timeline_texts(self) -> list[str]:
        """Each timeline line as one string (what a user reads)."""
        out = []
        for item in self._timeline_items():
            out.append(" | ".join(item.text(c).replace("\n", " | ") for c in range(2)))
        return out

    def _timeline_items(self) -> list[QTreeWidgetItem]:
        items = (self.timeline.topLevelItem(i) for i in range(self.timeline.topLevelItemCount()))
        return [item for item in items if item is not None]

    def selected_encounter(self) -> int | None:
        item = self.timeline.currentItem()
        if item is None:
            return None
        value = item.data(0, Qt.ItemDataRole.UserRole)
        return None if value is None else int(value)

    def _on_patients_current_changed(self, current, _previous) -> None:
        self.patient_selected.emit(
            0 if current is None else int(current.data(Qt.ItemDataRole.UserRole))
        )

    def selected_result(self) -> int | None:
        """The id of the result selected in the timeline, if a result line is selected."""
        item = self.timeline.currentItem()
        if item is None or item.data(0, _KIND_ROLE) != "result":
            return None
        return int(item.data(0, _ID_ROLE))

    def selected_record(self) -> int | None:
        """The id of the record selected in the timeline, if a record line is selected."""
        item = self.timeline.currentItem()
        if item is None or item.data(0, _KIND_ROLE) != "record":
            return None
        return int(item.data(0, _ID_ROLE))

    def select_timeline_row(self, row: int) -> None:
        self.timeline.setCurrentItem(self._timeline_items()[row])

    def select_timeline_kind(self, kind: str) -> bool:
        """Select the newest timeline line of ``kind`` (``"record"``, ``"result"``…)."""
        for item in self._timeline_items():
            if item.data(0, _KIND_ROLE) == kind:
                self.timeline.setCurrentItem(item)
                return True
        return False

    def _set_patient_buttons(self, enabled: bool) -> None:
        self.edit_patient_button.setEnabled(enabled)
        self.patient_history_button.setEnabled(enabled)

    def _on_record_button(self, what: str) -> None:
        record = self.selected_record()
        if record is None:
            return
        if what == "edit":
            self.edit_record_requested.emit(record)
        else:
            self.record_history_requested.emit(record)

    def _decide(self, decision: str) -> None:
        result = self.selected_result()
        if result is not None:
            self.decision_requested.emit(result, decision)

    def _on_timeline_current_changed(self, _current, _previous) -> None:
        self.report_button.setEnabled(self.selected_encounter() is not None)
        is_result = self.selected_result() is not None
        self.accept_button.setEnabled(is_result)
        self.override_button.setEnabled(is_result)
        is_record = self.selected_record() is not None
        self.edit_record_button.setEnabled(is_record)
        self.record_history_button.setEnabled(is_record)

    def _on_report_button_clicked(self) -> None:
        encounter = self.selected_encounter()
        if encounter is not None:
            self.report_requested.emit(encounter)
