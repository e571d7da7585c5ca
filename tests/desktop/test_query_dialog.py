"""File ▸ Query PACS…: search a real Orthanc, retrieve a study, see it in the browser."""

from __future__ import annotations

import pydicom
import pytest

from desktop.dialogs.query import QueryDialog
from engine.net import InstanceCache, Node, add_node, remove_node
from engine.resources import resource_path
from tests.engine.net.conftest import OrthancServer, loopback, orthanc  # noqa: F401

SAMPLE = resource_path("samples", "peds-cxr-pneumonia-j2k.dcm")


def test_without_a_node_the_dialog_says_how_to_configure_one(qtbot) -> None:
    dialog = QueryDialog()
    qtbot.addWidget(dialog)
    if dialog.node_box.count():
        pytest.skip("a node is configured in this user folder")
    assert not dialog.search_button.isEnabled()
    assert "net nodes add" in dialog.message.text()


def test_search_and_retrieve_into_the_cache(qtbot, orthanc: OrthancServer, tmp_path) -> None:  # noqa: F811
    orthanc.upload(SAMPLE)
    add_node(Node("dialog-pacs", "ORTHANC", "127.0.0.1", orthanc.dicom_port), replace_existing=True)
    try:
        dialog = QueryDialog(cache=InstanceCache(tmp_path / "cache"))
        qtbot.addWidget(dialog)
        events: list[dict] = []
        dialog.network_event.connect(events.append)
        dialog.node_box.setCurrentIndex(dialog.node_box.findData("dialog-pacs"))
        # No DICOMweb address on this node: WADO-RS is not offered.
        wado = dialog.method_box.model().item(dialog.method_box.findData("wado"))
        assert not wado.isEnabled()
        with qtbot.waitSignal(dialog.jobs.finished, timeout=30_000):
            dialog.search_button.click()
        assert dialog.tree.topLevelItemCount() >= 1 and "studies found" in dialog.message.text()
        assert events[-1]["action"] == "query" and events[-1]["count"] >= 1
        uid = str(pydicom.dcmread(SAMPLE, stop_before_pixels=True).StudyInstanceUID)
        row = next(i for i, s in enumerate(dialog.studies) if s["StudyInstanceUID"] == uid)
        assert not dialog.retrieve_button.isEnabled()
        study_item = dialog.tree.topLevelItem(row)
        # Opening the study lists its series.
        study_item.setExpanded(True)
        qtbot.waitUntil(lambda: study_item.childCount() == 1, timeout=30_000)
        series_item = study_item.child(0)
        assert series_item.text(3) == "DX" and series_item.text(4) == "1"
        dialog.tree.setCurrentItem(series_item)
        assert (
            dialog.retrieve_button.isEnabled()
            and dialog.retrieve_button.text() == "Retrieve series"
        )
        dialog.tree.setCurrentItem(study_item)
        assert dialog.retrieve_button.text() == "Retrieve study"
        first: list = []
        dialog.first_arrived.connect(first.append)
        with qtbot.waitSignal(dialog.retrieved, timeout=60_000) as got:
            dialog.retrieve_button.click()
        files = got.args[0]
        assert files and all(f.is_relative_to(tmp_path / "cache") for f in files)
        assert pydicom.dcmread(files[0]).PixelData == pydicom.dcmread(SAMPLE).PixelData
        assert first and first[0][0] in files  # the first instance was offered at once
        assert events[-1] == {"action": "retrieve", "node": "dialog-pacs", "study": uid,
                              "count": 1, "result": "ok"}  # fmt: skip
    finally:
        remove_node("dialog-pacs")


def test_retrieve_by_move_and_dicomweb_and_audit_in_the_store(
    qtbot,
    orthanc: OrthancServer,  # noqa: F811
    tmp_path,
) -> None:
    """C-MOVE and WADO-RS from the dialog; a signed-in user's retrieves land in the store's
    audit log."""
    from engine.net import load_settings, save_settings
    from tests.desktop.conftest import store_on_this_thread

    orthanc.upload(SAMPLE)
    settings = load_settings()
    save_settings(settings.__class__(aet="STETHOS", port=orthanc.our_port, nodes=settings.nodes))
    add_node(Node("dialog-web", "ORTHANC", "127.0.0.1", orthanc.dicom_port,
                  dicomweb=f"{orthanc.url}/dicom-web"), replace_existing=True)  # fmt: skip
    uid = str(pydicom.dcmread(SAMPLE, stop_before_pixels=True).StudyInstanceUID)
    try:
        for method in ("move", "wado"):
            dialog = QueryDialog(cache=InstanceCache(tmp_path / method))
            qtbot.addWidget(dialog)
            dialog.node_box.setCurrentIndex(dialog.node_box.findData("dialog-web"))
            dialog.listen_host = "127.0.0.1"  # tests listen on loopback only
            dialog.method_box.setCurrentIndex(dialog.method_box.findData(method))
            assert dialog.method == method
            with qtbot.waitSignal(dialog.jobs.finished, timeout=30_000):
                dialog.search_button.click()
            row = next(i for i, s in enumerate(dialog.studies) if s["StudyInstanceUID"] == uid)
            dialog.tree.setCurrentItem(dialog.tree.topLevelItem(row))
            with qtbot.waitSignal(dialog.retrieved, timeout=60_000) as got:
                dialog.retrieve_button.click()
            assert pydicom.dcmread(got.args[0][0]).PixelData == pydicom.dcmread(SAMPLE).PixelData

        from tests.desktop.test_patients_workflow import make_window, set_up, settle

        window = make_window(qtbot, tmp_path / "stethos.db")
        set_up(qtbot, window)
        window.audit_network({"action": "retrieve", "node": "dialog-web", "study": uid,
                              "count": 1, "result": "ok"})  # fmt: skip
        settle(qtbot, window)
        with store_on_this_thread():
            logged = [e for e in window.patients.store.audit_entries()
                      if e.action == "network_retrieve"]  # fmt: skip
        assert logged and logged[-1].object_id == uid
        assert logged[-1].details == {"node": "dialog-web", "count": 1, "result": "ok"}
    finally:
        remove_node("dialog-web")
        save_settings(settings)


def test_receiving_shows_new_studies_in_the_browser(
    qtbot,
    orthanc: OrthancServer,  # noqa: F811
    tmp_path,
) -> None:
    from desktop.main_window import MainWindow
    from engine.net import load_settings, save_settings

    settings = load_settings()
    save_settings(settings.__class__(aet="STETHOS", port=orthanc.our_port, nodes=settings.nodes))
    add_node(Node("recv-pacs", "ORTHANC", "127.0.0.1", orthanc.dicom_port), replace_existing=True)
    window = MainWindow()
    qtbot.addWidget(window)
    try:
        window.receive_service.host = "127.0.0.1"  # tests listen on loopback only
        window.show_nodes()
        dialog = window.dialogs["nodes"]
        assert dialog.editable  # no patient database here: nobody to ask for admin rights
        assert dialog.table.rowCount() >= 1
        dialog.receive.setChecked(True)
        assert window.receive_service.running, dialog.message.text()
        uploaded = orthanc.upload(SAMPLE)
        import json

        orthanc.rest("/modalities/stethos/store", json.dumps([uploaded["ID"]]).encode(), "POST")
        uid = str(pydicom.dcmread(SAMPLE, stop_before_pixels=True).SeriesInstanceUID)
        qtbot.waitUntil(lambda: uid in window.browser._series_items, timeout=30_000)
    finally:
        window.receive_service.stop()
        remove_node("recv-pacs")
        save_settings(settings)


def test_send_the_study_shown_to_the_pacs(qtbot, orthanc: OrthancServer, tmp_path) -> None:  # noqa: F811
    from desktop.main_window import MainWindow
    from engine.resources import resource_path as rp
    from tests.desktop.conftest import open_and_wait

    add_node(Node("send-pacs", "ORTHANC", "127.0.0.1", orthanc.dicom_port), replace_existing=True)
    window = MainWindow()
    qtbot.addWidget(window)
    try:
        sample = rp("samples", "chest-cr-pa.dcm")
        open_and_wait(qtbot, window, [sample])
        with qtbot.waitSignal(window.study_sent, timeout=60_000) as sent:
            window.send_study("send-pacs")
        assert sent.args[0].sent == 1 and not sent.args[0].failed
        assert "sent to send-pacs" in window.status_text.text()
        with qtbot.waitSignal(window.study_sent, timeout=60_000) as sent:
            window.send_study("send-pacs", series_only=True)  # File ▸ Send series to PACS…
        assert sent.args[0].sent == 1 and not sent.args[0].failed
        uid = str(pydicom.dcmread(sample, stop_before_pixels=True).SOPInstanceUID)
        found = orthanc.rest(
            "/tools/find",
            b'{"Level": "Instance", "Query": {"SOPInstanceUID": "%s"}}' % uid.encode(),
            "POST",
        )
        assert found
    finally:
        remove_node("send-pacs")
