"""The words for what went wrong with a peer, from what the network code saw (no network)."""

from __future__ import annotations

import socket

import pytest
import requests

from engine.net import Node
from engine.net.problems import no_association, web_problem

PACS = Node("pacs", "ORTHANC", "10.0.0.5", 4242, dicomweb="http://10.0.0.5:8042/dicom-web")


def _wrapping(cause: BaseException) -> requests.exceptions.ConnectionError:
    exc = requests.exceptions.ConnectionError("Max retries exceeded")
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_wrapping(socket.gaierror(socket.EAI_NONAME, "Name or service not known")),
         "for the query: this workstation cannot look up its host name"),
        (_wrapping(ConnectionRefusedError(111, "Connection refused")),
         "for the query: the connection was refused"),
        (requests.exceptions.ConnectTimeout("timed out"), "within 20 s for the query"),
        (requests.exceptions.SSLError("certificate verify failed"), "No TLS connection with"),
        (requests.exceptions.ConnectionError("reset"), "for the query: ConnectionError."),
    ],
)  # fmt: skip
def test_a_dicomweb_failure_says_what_to_check(exc: OSError, expected: str) -> None:
    text = web_problem(PACS, "query", exc, 20.0)
    assert "http://10.0.0.5:8042/dicom-web (pacs)" in text and expected in text


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        ({"rejected": True, "opened": True, "waited_s": 0.1},
         "pacs (ORTHANC@10.0.0.5:4242) rejected the association: no reason given."),
        ({"rejected": False, "opened": False, "waited_s": 9.5},
         "No answer from 10.0.0.5:4242 (pacs) within 10 s"),
        ({"rejected": False, "opened": True, "waited_s": 0.1},
         "accepted the connection but closed it without answering"),
        ({"rejected": False, "opened": False, "waited_s": 0.1},
         "Cannot connect to 10.0.0.5:4242 (pacs): the connection was refused."),
    ],
)  # fmt: skip
def test_no_association_is_told_by_what_was_seen(seen: dict, expected: str) -> None:
    assert expected in no_association(PACS, reject=None, timeout_s=10.0, **seen)
