"""What went wrong with a peer or our listener, in words that say what to check.

Pure functions from what the network code saw (an exception, whether the
connection opened, how long it waited, the peer's A-ASSOCIATE-RJ) to the
message a hospital IT person reads; :mod:`engine.net.dimse` raises them as
:class:`~engine.net.dimse.PeerError`.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from engine.net.nodes import Node


def _where(node: Node) -> str:
    return f"{node.host}:{node.port} ({node.name})"


def reject_reason(pdu: Any) -> str:
    """The reason an A-ASSOCIATE-RJ PDU gives, or "no reason given" (also for invalid codes)."""
    try:
        return str(pdu.reason_str) if pdu is not None else "no reason given"
    except ValueError:
        return "no reason given"


def cannot_connect(node: Node, exc: OSError) -> str:
    """The connection to ``node`` failed before it was tried (e.g. its name has no address)."""
    why = exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror):
        why = (f"this workstation cannot look up the host name {node.host!r} ({why}). Check "
               "the address, or give the peer's IP address")  # fmt: skip
    return f"Cannot connect to {_where(node)}: {why}."


def no_association(node: Node, *, rejected: bool, reject: Any, opened: bool, waited_s: float,
                   timeout_s: float) -> str:  # fmt: skip
    """Why no association with ``node`` was made.

    ``reject`` is the peer's A-ASSOCIATE-RJ PDU when one came; ``opened`` whether the TCP
    connection was made; ``waited_s`` how long the attempt took, against ``timeout_s``.
    """
    where = _where(node)
    if rejected:
        return (f"{node.name} ({node.address}) rejected the association: "
                f"{reject_reason(reject).lower()}. Check the AE titles configured on both "
                "sides.")  # fmt: skip
    if node.tls_ca:
        return (f"No TLS association with {where}: the peer did not answer within "
                f"{timeout_s:g} s, does not speak TLS, or its certificate is not signed by the "
                "configured CA or does not name that host.")  # fmt: skip
    if waited_s >= 0.9 * timeout_s:
        return (f"No answer from {where} within {timeout_s:g} s: check the address, that the "
                "peer is running and that no firewall blocks the port.")  # fmt: skip
    if opened:
        return (f"{where} accepted the connection but closed it without answering the "
                "association request: check that this port is the peer's DICOM port (not its "
                "web port) and that the peer knows this workstation.")  # fmt: skip
    return (f"Cannot connect to {where}: the connection was refused. Check the address and "
            "port, and that the peer is running.")  # fmt: skip


def listen_problem(host: str, port: int, exc: OSError) -> str:
    """Why listening on ``host:port`` failed, and what to do about it."""
    why = exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return (f"Cannot listen on {host}:{port}: {why}. This workstation has no such address: "
                "listen on all of its addresses, or give one it has.")  # fmt: skip
    if exc.errno == errno.EACCES:
        return (f"Cannot listen on port {port}: {why}. Ports below 1024 need administrator "
                "rights: choose a port from 1024 up (11112 is usual).")  # fmt: skip
    return (f"Cannot listen on port {port}: {why}. Another program may be using it: choose "
            "another port.")  # fmt: skip


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (causes, contexts, ``reason`` and exception arguments, as
    requests and urllib3 nest them)."""
    found: list[BaseException] = []
    stack: list[object] = [exc]
    while stack:
        x = stack.pop()
        if not isinstance(x, BaseException) or any(x is f for f in found):
            continue
        found.append(x)
        stack.extend([getattr(x, "reason", None), x.__cause__, x.__context__, *x.args])
    return found


def web_problem(node: Node, what: str, exc: OSError, timeout_s: float) -> str:
    """Why a DICOMweb request to ``node`` got no HTTP answer (``what``: "query", …)."""
    url = f"{node.dicomweb} ({node.name})"
    causes = _causes(exc)
    # By the class names of the error raised (nothing HTTP is imported here): requests raises
    # its SSLError or a …Timeout subclass. Not of what it wraps: urllib3's refused connection
    # is a subclass of its ConnectTimeoutError.
    kinds = {c.__name__ for c in type(exc).__mro__}
    if "SSLError" in kinds:
        return (f"No TLS connection with {url} for the {what}: the server does not speak TLS, "
                "or its certificate is not signed by the configured CA or does not name that "
                "host.")  # fmt: skip
    if any("Timeout" in k for k in kinds):
        return (f"No answer from {url} within {timeout_s:g} s for the {what}: check that the "
                "server is running and that no firewall blocks the port.")  # fmt: skip
    if any(isinstance(c, socket.gaierror) for c in causes):
        return (f"Cannot connect to {url} for the {what}: this workstation cannot look up its "
                "host name. Check the address, or give the server's IP address.")  # fmt: skip
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return (f"Cannot connect to {url} for the {what}: the connection was refused. Check "
                "the address and port, and that the server is running.")  # fmt: skip
    return f"No answer from {url} for the {what}: {type(exc).__name__}."
