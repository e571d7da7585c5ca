"""Configured peers: what an administrator types is checked, and a mistake is named."""

from __future__ import annotations

import json

import pytest

from engine.net import NetConfigError, Node, add_node, load_settings, resolve_node
from engine.net.nodes import NetSettings


@pytest.mark.parametrize(
    ("spec", "aet", "host", "port"),
    [
        ("ORTHANC@10.0.0.5:4242", "ORTHANC", "10.0.0.5", 4242),
        ("PACS_1@pacs.clinic.local:104", "PACS_1", "pacs.clinic.local", 104),
        ("ORTHANC@[fe80::1]:11112", "ORTHANC", "fe80::1", 11112),
        (" ORTHANC@10.0.0.5:4242 ", "ORTHANC", "10.0.0.5", 4242),
    ],
)
def test_an_address_is_read(spec: str, aet: str, host: str, port: int) -> None:
    node = resolve_node(spec, NetSettings())
    assert (node.aet, node.host, node.port, node.may_store) == (aet, host, port, False)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ORTHANC@10.0.0.5:abc", "“abc” is not a valid port: use a number from 1 to 65535."),
        ("ORTHANC@10.0.0.5:70000", "“70000” is not a valid port"),
        ("ORTHANC@10.0.0.5:", "“” is not a valid port"),
        ("A_TITLE_OF_17_CHR@10.0.0.5:104", "“A_TITLE_OF_17_CHR” is not a valid AE title: use 1 to 16"),
        ("BAD\\AET@10.0.0.5:104", "is not a valid AE title"),
        ("@10.0.0.5:104", "“” is not a valid AE title"),
        ("ORTHANC@:104", "“ORTHANC@:104” has no host: write the address as AET@host:port."),
        ("ORTHANC@10.0.0.5", "“ORTHANC@10.0.0.5” has no port: write the address as AET@host:port."),
        ("pacs", "“pacs” is not a configured node (none is configured) nor an address AET@host:port."),
        ("A@b@c:104", "is not a configured node"),
    ],
)  # fmt: skip
def test_a_wrong_address_says_which_part_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(NetConfigError) as info:
        resolve_node(spec, NetSettings())
    assert message in info.value.user_message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("pacs:8042/dicom-web", "is not a DICOMweb address for node “web”: write it as http://"),
        ("ftp://pacs/dicom-web", "is not a DICOMweb address"),
        ("http:///dicom-web", "is not a DICOMweb address"),
        ("https://admin:secret@pacs/dicom-web", "carries a user name or password"),
    ],
)  # fmt: skip
def test_a_dicomweb_address_must_be_a_web_address_without_a_password(
    url: str, message: str
) -> None:
    with pytest.raises(NetConfigError, match=message):
        Node("web", "ORTHANC", "10.0.0.5", 4242, dicomweb=url)
    ok = Node("web", "ORTHANC", "10.0.0.5", 4242, dicomweb="https://pacs:8042/dicom-web/")
    assert ok.dicomweb == "https://pacs:8042/dicom-web/"


def test_a_settings_file_with_a_wrong_node_is_named_not_half_read(tmp_path) -> None:
    path = tmp_path / "net.json"
    add_node(Node("pacs", "ORTHANC", "10.0.0.5", 4242, dicomweb="http://10.0.0.5:8042/dicom-web"),
             path=path)  # fmt: skip
    assert load_settings(path).node("pacs") is not None
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["nodes"][0]["dicomweb"] = "10.0.0.5:8042"  # edited by hand
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(NetConfigError) as info:
        load_settings(path)
    assert info.value.user_message.startswith(
        f"The network settings in {path} hold a value that cannot be used: “10.0.0.5:8042” is "
        "not a DICOMweb address for node “pacs”"
    )
