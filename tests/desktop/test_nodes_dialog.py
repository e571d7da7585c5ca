"""File ▸ DICOM network…: an administrator's mistakes are named and nothing half-saved."""

from __future__ import annotations

import pytest

from desktop.dialogs.nodes import NodesDialog, ReceiveService
from engine.net import load_settings
from tests._no_network import loopback_allowed
from tests.engine.net.conftest import free_port


@pytest.fixture
def dialog(qtbot, tmp_path, monkeypatch) -> NodesDialog:
    monkeypatch.setenv("STETHOS_CONFIG_DIR", str(tmp_path / "config"))
    service = ReceiveService()
    dialog = NodesDialog(service)
    qtbot.addWidget(dialog)
    return dialog


def add(dialog: NodesDialog, name: str, address: str, dicomweb: str = "") -> None:
    dialog.name.setText(name)
    dialog.address.setText(address)
    dialog.dicomweb.setText(dicomweb)
    dialog.add_button.click()


def test_a_wrong_address_or_web_address_is_named_and_nothing_is_added(dialog) -> None:
    add(dialog, "pacs", "ORTHANC@10.0.0.5:abc")
    assert dialog.message.text() == "“abc” is not a valid port: use a number from 1 to 65535."
    add(dialog, "pacs", "A_TITLE_OF_17_CHR@10.0.0.5:104")
    assert "“A_TITLE_OF_17_CHR” is not a valid AE title" in dialog.message.text()
    add(dialog, "pacs", "ORTHANC@10.0.0.5:4242", dicomweb="10.0.0.5:8042/dicom-web")
    assert "is not a DICOMweb address for node “pacs”" in dialog.message.text()
    assert load_settings().nodes == () and dialog.table.rowCount() == 0
    # What was typed stays, to be corrected.
    assert dialog.address.text() == "ORTHANC@10.0.0.5:4242"
    assert dialog.dicomweb.text() == "10.0.0.5:8042/dicom-web"


def test_a_node_is_added_verified_and_removed(dialog, qtbot) -> None:
    with loopback_allowed():
        port = free_port()  # nothing listens there
    add(dialog, "pacs", f"ORTHANC@127.0.0.1:{port}", dicomweb="http://127.0.0.1:8042/dicom-web")
    assert dialog.message.text() == "Node pacs added."
    assert dialog.address.text() == "" and dialog.table.rowCount() == 1
    assert dialog.table.item(0, 1).text() == (
        f"ORTHANC@127.0.0.1:{port} + http://127.0.0.1:8042/dicom-web"
    )
    assert load_settings().node("pacs") is not None
    add(dialog, "pacs", "OTHER@127.0.0.1:104")
    assert "A node named “pacs” exists already." in dialog.message.text()
    dialog.table.selectRow(0)
    with loopback_allowed(), qtbot.waitSignal(dialog.jobs.finished, timeout=30_000):
        dialog.verify_button.click()
    qtbot.waitUntil(lambda: dialog.table.item(0, 3) is not None
                    and dialog.table.item(0, 3).text() == "failed")  # fmt: skip
    assert dialog.message.text().startswith(
        f"Cannot connect to 127.0.0.1:{port} (pacs): the connection was refused."
    )
    dialog.table.selectRow(0)
    dialog.remove_button.click()
    assert dialog.table.rowCount() == 0 and load_settings().nodes == ()


def test_our_own_title_is_checked_before_it_is_saved(dialog) -> None:
    dialog.aet.setText("BAD\\TITLE")
    dialog.save_button.click()
    assert "“BAD\\TITLE” is not a valid AE title" in dialog.message.text()
    assert load_settings().aet == "STETHOS"
    dialog.aet.setText("CLINIC_WS1")
    dialog.port.setValue(11113)
    dialog.save_button.click()
    assert dialog.message.text() == "Saved: CLINIC_WS1 on port 11113."
    assert (load_settings().aet, load_settings().port) == ("CLINIC_WS1", 11113)


def test_receiving_without_a_node_allowed_to_store_says_so(dialog) -> None:
    dialog.receive.setChecked(True)
    assert not dialog.receive.isChecked() and not dialog.service.running
    assert "No configured node may store to this workstation" in dialog.message.text()


def test_read_only_for_those_who_may_not_change_it(qtbot, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STETHOS_CONFIG_DIR", str(tmp_path / "config"))
    why = "Only an administrator may change the DICOM network."
    dialog = NodesDialog(ReceiveService(), editable=False, why_not=why)
    qtbot.addWidget(dialog)
    for widget in (dialog.name, dialog.address, dialog.add_button, dialog.remove_button,
                   dialog.aet, dialog.save_button, dialog.receive):  # fmt: skip
        assert not widget.isEnabled() and widget.toolTip() == why
    assert dialog.verify_button.isEnabled()  # checking a node changes nothing
    assert dialog.message.text() == why
