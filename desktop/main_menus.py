"""The main window's menus, its file dialogs and the dialogs it opens.

Part of :class:`desktop.main_window.MainWindow` (a base class of it, kept in
its own module so that no class grows past what one reads at once). Strings
are translated in the ``MainWindow`` context, as they were when this code
was inside that class.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDockWidget, QFileDialog, QMenu

from desktop.browser.recent import clear_recent, recent_studies
from desktop.main_host import PatientHostWindow

if TYPE_CHECKING:
    from desktop.dialogs.nodes import ReceiveService
    from desktop.patients import PatientController
    from desktop.viewer.panel import ViewerPanel


class MenusWindow(PatientHostWindow):
    """The menu bar, Open/Recent file handling and the window's dialogs."""

    dialogs: dict[str, QDialog]
    viewer_panel: ViewerPanel
    measurements_dock: QDockWidget
    recent_menu: QMenu
    image_menu: QMenu
    measure_menu: QMenu
    analysis_menu: QMenu
    analyze_action: QAction
    analyze_image_action: QAction
    fit_action: QAction
    reset_window_action: QAction
    open_file_action: QAction
    open_folder_action: QAction
    open_dicomdir_action: QAction
    open_sample_action: QAction
    tags_action: QAction
    shortcuts_action: QAction
    about_action: QAction
    model_cards_action: QAction
    reset_layout_action: QAction
    query_action: QAction
    nodes_action: QAction
    send_action: QAction
    send_series_action: QAction
    send_jobs: Any
    study_sent: Any

    if TYPE_CHECKING:  # defined by the subclasses (StudiesWindow, MainWindow)

        @property
        def receive_service(self) -> ReceiveService: ...
        @property
        def patients(self) -> PatientController: ...

        def open_paths(self, paths: list[Path]) -> None: ...
        def _prepare_network(self, always: bool = False) -> None: ...
        def open_sample(self) -> None: ...
        def close_studies(self) -> None: ...
        def analyze(self) -> None: ...
        def analyze_image(self) -> None: ...
        def reset_layout(self) -> None: ...
        def finish_startup(self) -> None: ...

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
        self.file_menu = self.menuBar().addMenu(QCoreApplication.translate("MainWindow", "&File"))
        self.open_file_action = self._action(
            QCoreApplication.translate("MainWindow", "&Open file…"),
            QKeySequence.StandardKey.Open,
            self._on_open_file_triggered,
        )
        self.open_folder_action = self._action(
            QCoreApplication.translate("MainWindow", "Open &folder…"),
            "Ctrl+Shift+O",
            self._on_open_folder_triggered,
        )
        self.open_dicomdir_action = self._action(
            QCoreApplication.translate("MainWindow", "Open &DICOMDIR (CD/USB)…"),
            "Ctrl+D",
            self._on_open_dicomdir_triggered,
        )
        self.query_action = self._action(
            QCoreApplication.translate("MainWindow", "&Query PACS…"),
            "Ctrl+Shift+Q",
            self.show_query,
        )
        self.query_action.setObjectName("query_action")
        self.query_action.setToolTip(
            QCoreApplication.translate(
                "MainWindow", "Find a study on the clinic's PACS and retrieve it."
            )
        )
        self.send_action = self._action(
            QCoreApplication.translate("MainWindow", "&Send study to PACS…"), None, self.send_study
        )
        self.send_action.setObjectName("send_action")
        self.send_series_action = self._action(
            QCoreApplication.translate("MainWindow", "Send s&eries to PACS…"), None,
            lambda: self.send_study(series_only=True),
        )  # fmt: skip
        self.send_series_action.setObjectName("send_series_action")
        self.nodes_action = self._action(
            QCoreApplication.translate("MainWindow", "DICOM &network…"), None, self.show_nodes
        )
        self.nodes_action.setObjectName("nodes_action")
        self.recent_menu = QMenu(QCoreApplication.translate("MainWindow", "Open &recent"), self)
        self.recent_menu.setObjectName("recent_menu")
        self.recent_menu.aboutToShow.connect(self._rebuild_recent_menu)
        self.open_sample_action = self._action(
            QCoreApplication.translate("MainWindow", "Open &sample study"), None, self.open_sample
        )
        self.close_studies_action = self._action(
            QCoreApplication.translate("MainWindow", "&Close all studies"),
            "Ctrl+Shift+W",
            self.close_studies,
        )
        quit_action = self._action(
            QCoreApplication.translate("MainWindow", "&Quit"),
            QKeySequence.StandardKey.Quit,
            self.close,
        )
        self._fill(
            self.file_menu,
            [self.open_file_action, self.open_folder_action, self.open_dicomdir_action,
             self.query_action, self.send_action, self.send_series_action, self.nodes_action],
        )  # fmt: skip
        self.file_menu.addMenu(self.recent_menu)
        self._fill(
            self.file_menu,
            [self.open_sample_action, None, self.close_studies_action, None, quit_action],
        )
        self._rebuild_recent_menu()

        # View
        self.view_menu = self.menuBar().addMenu(QCoreApplication.translate("MainWindow", "&View"))
        self.fit_action = panel.fit_action
        self.reset_window_action = panel.reset_window_action
        self._fill(self.view_menu, panel.view_actions())
        self.view_menu.addSeparator()
        self.browser_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+B"))
        self.measurements_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.record_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+P"))
        for dock in (self.browser_dock, self.measurements_dock, self.record_dock):
            self.view_menu.addAction(dock.toggleViewAction())
        self.reset_layout_action = self._action(
            QCoreApplication.translate("MainWindow", "Reset &layout"), None, self.reset_layout
        )
        self.reset_layout_action.setObjectName("reset_layout_action")
        self.reset_layout_action.setToolTip(
            QCoreApplication.translate(
                "MainWindow", "Put the panels back where they were on the first start."
            )
        )
        self.view_menu.addAction(self.reset_layout_action)

        # Image
        self.image_menu = self.menuBar().addMenu(QCoreApplication.translate("MainWindow", "&Image"))
        self.image_menu.addMenu(panel.preset_menu)
        self._fill(self.image_menu, panel.image_actions())
        self.image_menu.addSeparator()
        self.tags_action = self._action(
            QCoreApplication.translate("MainWindow", "DICOM &tags…"), "Ctrl+I", self.show_tags
        )
        self.image_menu.addAction(self.tags_action)

        # Measure
        self.measure_menu = self.menuBar().addMenu(
            QCoreApplication.translate("MainWindow", "&Measure")
        )
        self._fill(self.measure_menu, panel.measure_actions())

        # Analysis
        self.analysis_menu = self.menuBar().addMenu(
            QCoreApplication.translate("MainWindow", "&Analysis")
        )
        self.analyze_action = self._action(
            QCoreApplication.translate("MainWindow", "&Analyze record"), "Ctrl+R", self.analyze
        )
        self.analyze_action.setEnabled(False)
        self.analyze_action.setToolTip(
            QCoreApplication.translate(
                "MainWindow", "Fill in the required fields (*) of the patient record first."
            )
        )
        self.analyze_image_action = self._action(
            QCoreApplication.translate("MainWindow", "Analyze &image"),
            "Ctrl+Shift+R",
            self.analyze_image,
        )
        self.analyze_image_action.setObjectName("analyze_image_action")
        self.model_cards_action = self._action(
            QCoreApplication.translate("MainWindow", "&Model cards…"), None, self.show_model_cards
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
        self.help_menu = help_menu = self.menuBar().addMenu(
            QCoreApplication.translate("MainWindow", "&Help")
        )
        self.shortcuts_action = self._action(
            QCoreApplication.translate("MainWindow", "&Keyboard shortcuts"),
            QKeySequence.StandardKey.HelpContents,
            self.show_shortcuts,
        )
        self.about_action = self._action(
            QCoreApplication.translate("MainWindow", "&About Stethos"), None, self.show_about
        )
        self._fill(help_menu, [self.shortcuts_action, None, self.about_action])
        for menu in (self.file_menu, self.view_menu, self.image_menu, self.measure_menu,
                     self.analysis_menu, help_menu):  # fmt: skip
            menu.setToolTipsVisible(True)  # a disabled action says why

    @Slot()
    def _on_open_file_triggered(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self,
            QCoreApplication.translate("MainWindow", "Open DICOM files"),
            "",
            QCoreApplication.translate(
                "MainWindow",
                "DICOM files (*.dcm *.DCM *);;Pictures without DICOM header (*.png *.jpg *.jpeg);;"
                "All files (*)",
            ),
        )
        self.open_paths([Path(f) for f in files])

    @Slot()
    def _on_open_folder_triggered(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, QCoreApplication.translate("MainWindow", "Open a folder of DICOM files")
        )
        if folder:
            self.open_paths([Path(folder)])

    @Slot()
    def _on_open_dicomdir_triggered(self) -> None:
        from desktop.media import dicomdir_start_folder

        path, _ = QFileDialog.getOpenFileName(
            self,
            QCoreApplication.translate("MainWindow", "Open the DICOMDIR of a CD, DVD or USB stick"),
            str(dicomdir_start_folder()),
            QCoreApplication.translate(
                "MainWindow", "DICOMDIR (DICOMDIR dicomdir DICOMDIR.*);;All files (*)"
            ),
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
                label += QCoreApplication.translate("MainWindow", " and {0} more").format(
                    len(paths) - 1
                )
            prefix = f"&{i + 1} " if i < 9 else ""
            action = self.recent_menu.addAction(prefix + label)
            action.setToolTip("\n".join(str(p) for p in paths))
            action.setStatusTip(str(paths[0]))
            action.triggered.connect(lambda _checked=False, p=paths: self.open_paths(list(p)))
        if not entries:
            empty = self.recent_menu.addAction(QCoreApplication.translate("MainWindow", "(none)"))
            empty.setEnabled(False)
        self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction(
            QCoreApplication.translate("MainWindow", "Clear recent studies")
        )
        clear.setEnabled(bool(entries))
        clear.triggered.connect(self._on_clear_recent_triggered)

    @Slot()
    def _on_clear_recent_triggered(self) -> None:
        clear_recent()
        self._rebuild_recent_menu()

    # --- dialogs ------------------------------------------------------------------------------
    @Slot()
    def show_tags(self) -> None:
        """Open the tag browser on the file of the frame shown."""
        stack = self.viewer.stack
        if stack is None:
            self.status_text.setText(
                QCoreApplication.translate("MainWindow", "Open an image first.")
            )
            return
        from desktop.dialogs.tags import TagBrowser

        path, frame = stack.sources[self.viewer.frame]
        dialog = self.dialogs.get("tags")
        if not isinstance(dialog, TagBrowser):
            dialog = TagBrowser(self)
            self.dialogs["tags"] = dialog
        note = (
            QCoreApplication.translate("MainWindow", "(frame {0})").format(frame + 1)
            if stack.n_frames > 1
            else ""
        )
        dialog.load(path, note)
        dialog.show()
        dialog.raise_()

    @Slot()
    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts, made from the menus' actions."""
        from desktop.dialogs.shortcuts import ShortcutsDialog

        self.finish_startup()  # every menu's actions
        dialog = ShortcutsDialog(self.menuBar(), self)
        self.dialogs["shortcuts"] = dialog
        dialog.open()

    @Slot()
    def show_about(self) -> None:
        from desktop.dialogs.about import AboutDialog

        dialog = AboutDialog(self)
        self.dialogs["about"] = dialog
        dialog.open()

    @Slot()
    @Slot()
    def show_nodes(self) -> None:
        """File ▸ DICOM network…: nodes, our AE title and port, receiving (admins only when
        accounts are in use)."""
        from desktop.dialogs.nodes import NodesDialog

        patients = self.patients
        # Accounts are in use, or may be: a configured database that cannot be used is
        # taken as in use, so a broken setting does not unlock the network settings.
        in_use = patients.store_in_place() or patients.store_path is None
        store = patients.store
        admin = store is not None and store.user.is_admin
        why = (
            ""
            if admin or not in_use
            else QCoreApplication.translate(
                "MainWindow", "Only an administrator changes the DICOM network: sign in as one."
            )
        )
        self._prepare_network(always=True)  # the receive switch needs them at once
        dialog = NodesDialog(self.receive_service, editable=not why, why_not=why, parent=self)
        self.dialogs["nodes"] = dialog
        dialog.open()

    @Slot()
    def send_study(self, node_name: str | None = None, *, series_only: bool = False) -> None:
        """File ▸ Send study (or series) to PACS…: C-STORE every file of the study (or the
        series) shown to a configured node."""
        from PySide6.QtWidgets import QInputDialog

        from engine.net import NetConfigError, load_settings, send_files

        ref = self.shown_study()
        if ref is None:
            self.status_text.setText(
                QCoreApplication.translate("MainWindow", "Open a study first.")
            )
            return
        try:
            settings = load_settings()
        except NetConfigError as exc:
            self.status_text.setText(exc.user_message)
            return
        names = [n.name for n in settings.nodes]
        if not names:
            self.status_text.setText(QCoreApplication.translate(
                "MainWindow", "No DICOM node is configured (File ▸ DICOM network…)."))  # fmt: skip
            return
        if node_name is None:
            node_name, ok = QInputDialog.getItem(
                self, QCoreApplication.translate("MainWindow", "Send study to PACS"),
                QCoreApplication.translate("MainWindow", "Send to:"), names, 0, False,
            )  # fmt: skip
            if not ok:
                return
        node = settings.node(node_name)
        chosen = [ref.series] if series_only else ref.study.series
        files = sorted({i.path for se in chosen for i in se.instances})
        if node is None or not files:
            return

        def sent(result: object) -> None:
            n_failed = len(getattr(result, "failed", []))
            self.audit_network({"action": "send", "node": node.name,
                                "study": ref.study.study_instance_uid,
                                "count": getattr(result, "sent", 0),
                                "result": "ok" if not n_failed else "partial"})  # fmt: skip
            self.status_text.setText(QCoreApplication.translate(
                "MainWindow", "{0} file(s) sent to {1}; {2} not sent.").format(
                getattr(result, "sent", 0), node.name, n_failed))  # fmt: skip
            self.study_sent.emit(result)

        self.send_jobs.submit(send_files, node, files, aet=settings.aet, name="send",
                              on_success=sent)  # fmt: skip

    @Slot()
    def show_query(self) -> None:
        """File ▸ Query PACS…: find a study on a configured node and retrieve it."""
        from desktop.dialogs.query import QueryDialog

        dialog = QueryDialog(self, listener=self.receive_service.listener)
        dialog.first_arrived.connect(self.open_paths)  # the first image at once
        dialog.retrieved.connect(self.open_paths)
        dialog.network_event.connect(self.audit_network)
        self.dialogs["query"] = dialog
        dialog.open()

    @Slot(object)
    def audit_network(self, event: dict) -> None:
        """Put a network event (query, retrieve, receive, send) in the signed-in user's audit
        log; the network's own log has it in any case."""
        from engine.workflow import record_network_event

        if self.patients.signed_in:
            self.patients.step(
                record_network_event, event["action"], event["node"], study=event.get("study", ""),
                count=event.get("count"), result=event.get("result", "ok"), name="audit",
            )  # fmt: skip

    def show_model_cards(self) -> None:
        from desktop.dialogs.model_card import ModelCardsDialog

        prediction = self.results.prediction
        dialog = ModelCardsDialog(self, prediction.model_id if prediction else None)
        self.dialogs["model_cards"] = dialog
        dialog.open()
