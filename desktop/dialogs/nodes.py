"""File ▸ DICOM network…: the clinic's DICOM nodes, our AE title and port, and receiving.

An administrator adds and removes the peers Stethos may talk to (when
accounts are in use, only an administrator may change them; others see them
read-only), checks each with Verify (C-ECHO), and may let this workstation
receive studies: a C-STORE listener that accepts only the configured nodes
allowed to store, writing into the local DICOM cache. New studies appear in
the study browser as they arrive (:class:`ReceiveService`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QSignalBlocker, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import JobFailure, JobRunner
from engine.errors import EngineError
from engine.net import (
    EchoResult,
    InstanceCache,
    Listener,
    NetConfigError,
    Node,
    Stored,
    echo,
    listener_tls,
    load_settings,
    resolve_node,
    save_settings,
)


class ReceiveService(QObject):
    """The background C-STORE listener of the application.

    ``received(list[Path])`` comes on the UI thread, at most once a second,
    with every file of the studies that grew since the last time (so a
    series that is still arriving is shown whole); ``network_event(dict)``
    says, for the audit log, who stored how many instances of which study.
    """

    received = Signal(object)
    network_event = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.listener: Listener | None = None
        #: The address to listen on ("": every interface of this workstation).
        self.host = ""
        self._pending: list[Stored] = []
        #: Every file received since the service started, by study (so a study that grows is
        #: shown whole without asking the cache's index on the UI thread).
        self._by_study: dict[str, list[Path]] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._flush)
        self._arrived.connect(self._on_arrived)

    _arrived = Signal(object)

    @property
    def running(self) -> bool:
        return self.listener is not None

    def start(self, cache: InstanceCache | None = None) -> str:
        """Start listening as configured; returns what it does (raises on a problem)."""
        settings = load_settings()
        allowed = [(n.aet, n.host) for n in settings.nodes if n.may_store]
        if not allowed:
            raise NetConfigError(
                "No configured node may store to this workstation: add the PACS first."
            )
        self.stop()
        listener = Listener(cache or InstanceCache(), port=settings.port, aet=settings.aet,
                            host=self.host, allowed=allowed, on_stored=self._arrived.emit,
                            ssl_context=listener_tls(settings))  # fmt: skip
        listener.start()
        self.listener = listener
        self._timer.start()
        tls = " (TLS)" if listener.ssl_context is not None else ""
        return f"{settings.aet} listening{tls} on port {settings.port}"

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        self._timer.stop()

    @Slot(object)
    def _on_arrived(self, stored: Stored) -> None:
        self._pending.append(stored)

    @Slot()
    def _flush(self) -> None:
        if not self._pending:
            return
        arrived, self._pending = self._pending, []
        counts: dict[tuple[str, str], int] = {}
        for s in arrived:
            key = (s.study_instance_uid, s.source.partition(":")[2] or s.source)
            counts[key] = counts.get(key, 0) + 1
            self._by_study.setdefault(s.study_instance_uid, []).append(s.path)
        files: list[Path] = []
        for study in dict.fromkeys(s.study_instance_uid for s in arrived):
            files.extend(dict.fromkeys(self._by_study[study]))
        self.received.emit(files)
        for (study, caller), n in counts.items():
            self.network_event.emit({"action": "receive", "node": caller, "study": study,
                                     "count": n, "result": "ok"})  # fmt: skip


class NodesDialog(QDialog):
    """Configure the DICOM peers (see the module docstring)."""

    def __init__(self, service: ReceiveService, *, editable: bool = True, why_not: str = "",
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("nodes_dialog")
        self.setWindowTitle(self.tr("DICOM network"))
        self.resize(760, 480)
        self.service = service
        self.editable = editable
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("nodes_table")
        self.table.setHorizontalHeaderLabels(
            [
                self.tr("Name"),
                self.tr("AE title@host:port"),
                self.tr("May store"),
                self.tr("Verified"),
            ]
        )
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.name = QLineEdit()
        self.name.setPlaceholderText(self.tr("name, e.g. pacs"))
        self.address = QLineEdit()
        self.address.setPlaceholderText(self.tr("PACS@10.0.0.5:104"))
        self.tls_ca = QLineEdit()
        self.tls_ca.setObjectName("nodes_tls_ca")
        self.tls_ca.setPlaceholderText(self.tr("CA file: talk TLS to this node (optional)"))
        self.dicomweb = QLineEdit()
        self.dicomweb.setObjectName("nodes_dicomweb")
        self.dicomweb.setPlaceholderText(
            self.tr("DICOMweb URL, e.g. http://10.0.0.5:8042/dicom-web (optional)")
        )
        self.may_store = QCheckBox(self.tr("may store to this workstation"))
        self.may_store.setChecked(True)
        self.add_button = QPushButton(self.tr("Add node"))
        self.remove_button = QPushButton(self.tr("Remove"))
        self.verify_button = QPushButton(self.tr("Verify"))
        self.aet = QLineEdit()
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.tls_cert = QLineEdit()
        self.tls_cert.setObjectName("nodes_tls_cert")
        self.tls_cert.setPlaceholderText(self.tr("certificate file (PEM): receive over TLS only"))
        self.tls_key = QLineEdit()
        self.tls_key.setObjectName("nodes_tls_key")
        self.tls_key.setPlaceholderText(self.tr("its private key file (PEM)"))
        self.save_button = QPushButton(self.tr("Save"))
        self.receive = QCheckBox(self.tr("Receive studies sent to this workstation"))
        self.receive.setObjectName("nodes_receive_check")
        self.message = QLabel(why_not)
        self.message.setObjectName("nodes_message")
        self.message.setWordWrap(True)
        add_row = QHBoxLayout()
        for widget in (self.name, self.address, self.may_store, self.add_button):
            add_row.addWidget(widget)
        add_row2 = QHBoxLayout()
        for widget in (self.tls_ca, self.dicomweb):
            add_row2.addWidget(widget)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(self.verify_button)
        buttons_row.addWidget(self.remove_button)
        buttons_row.addStretch(1)
        me = QFormLayout()
        me.addRow(self.tr("This workstation's AE title:"), self.aet)
        me.addRow(self.tr("Listening port:"), self.port)
        me.addRow(self.tr("TLS certificate:"), self.tls_cert)
        me.addRow(self.tr("TLS key:"), self.tls_key)
        me.addRow(self.save_button)
        me.addRow(self.receive)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons_row)
        layout.addLayout(add_row)
        layout.addLayout(add_row2)
        layout.addLayout(me)
        layout.addWidget(self.message)
        layout.addWidget(close)
        for w in (self.name, self.address, self.tls_ca, self.dicomweb, self.may_store,
                  self.add_button, self.remove_button, self.aet, self.port, self.tls_cert,
                  self.tls_key, self.save_button, self.receive):  # fmt: skip
            w.setEnabled(editable)
            if not editable:
                w.setToolTip(why_not)
        self.jobs = JobRunner(self)
        self.jobs.failed.connect(self._on_jobs_failed)
        self.add_button.clicked.connect(self.add)
        self.remove_button.clicked.connect(self.remove)
        self.verify_button.clicked.connect(self.verify)
        self.save_button.clicked.connect(self.save_self)
        self.receive.setChecked(service.running)
        self.receive.toggled.connect(self._on_receive_toggled)
        self.refresh()

    def refresh(self) -> None:
        try:
            settings = load_settings()
        except NetConfigError as exc:
            self.message.setText(exc.user_message)
            return
        self.aet.setText(settings.aet)
        self.port.setValue(settings.port)
        self.tls_cert.setText(settings.tls_cert or "")
        self.tls_key.setText(settings.tls_key or "")
        self.table.setRowCount(len(settings.nodes))
        for r, n in enumerate(settings.nodes):
            address = n.address + (" TLS" if n.tls_ca else "")
            if n.dicomweb:
                address += f" + {n.dicomweb}"
            store = self.tr("yes") if n.may_store else self.tr("no")
            for c, text in enumerate((n.name, address, store, "")):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _selected(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        item = self.table.item(rows[0].row(), 0) if rows else None
        return item.text() if item is not None else None

    @Slot()
    def add(self) -> None:
        from engine.net import add_node

        try:
            spec = resolve_node(self.address.text().strip(), replace(load_settings(), nodes=()))
            add_node(Node(self.name.text().strip(), spec.aet, spec.host, spec.port,
                          tls_ca=self.tls_ca.text().strip() or None,
                          dicomweb=self.dicomweb.text().strip() or None,
                          may_store=self.may_store.isChecked()))  # fmt: skip
        except EngineError as exc:
            self.message.setText(exc.user_message)
            return
        self.message.setText(self.tr("Node {0} added.").format(self.name.text().strip()))
        for field in (self.name, self.address, self.tls_ca, self.dicomweb):
            field.clear()
        self.refresh()

    @Slot()
    def remove(self) -> None:
        from engine.net import remove_node

        name = self._selected()
        if name:
            try:
                remove_node(name)
            except EngineError as exc:  # removed meanwhile (the CLI), or the file is unreadable
                self.message.setText(exc.user_message)
            self.refresh()

    @Slot()
    def verify(self) -> None:
        name = self._selected()
        if name is None:
            self.message.setText(self.tr("Choose a node to verify."))
            return
        node = load_settings().node(name)
        if node is not None:
            self.message.setText(self.tr("Verifying {0}…").format(name))
            self.jobs.submit(_echo_job, node, load_settings().aet, name="echo",
                             on_success=self._verified)  # fmt: skip

    def _verified(self, result: EchoResult) -> None:
        self.message.setText(result.message)
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and item.text() == result.node:
                self.table.setItem(r, 3, QTableWidgetItem(
                    self.tr("connected in {0:.0f} ms").format(result.milliseconds) if result.ok
                    else self.tr("failed")))  # fmt: skip

    @Slot()
    def save_self(self) -> None:
        from engine.net import check_aet

        try:
            settings = replace(
                load_settings(), aet=check_aet(self.aet.text()), port=self.port.value(),
                tls_cert=self.tls_cert.text().strip() or None,
                tls_key=self.tls_key.text().strip() or None,
            )  # fmt: skip
            listener_tls(settings)  # a certificate or key that cannot be used is refused now
        except EngineError as exc:
            self.message.setText(exc.user_message)
            return
        save_settings(settings)
        self.message.setText(
            (self.tr("Saved: {0} on port {1}, TLS.") if settings.tls_cert
             else self.tr("Saved: {0} on port {1}.")).format(settings.aet, settings.port)
        )  # fmt: skip

    @Slot(bool)
    def _on_receive_toggled(self, on: bool) -> None:
        if not on:
            self.service.stop()
            self.message.setText(self.tr("Not receiving."))
            return
        try:
            self.message.setText(self.service.start())
        except EngineError as exc:
            with QSignalBlocker(self.receive):  # unticked without "Not receiving." over the why
                self.receive.setChecked(False)
            self.message.setText(exc.user_message)

    @Slot(object)
    def _on_jobs_failed(self, failure: JobFailure) -> None:
        self.message.setText(failure.user_message)


def _echo_job(
    node: Node, aet: str, *, progress: object = None, cancel: object = None
) -> EchoResult:
    return echo(node, aet=aet)
