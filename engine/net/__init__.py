"""The clinic's DICOM network: configured peers, verify, query, retrieve, send and receive.

"No network" in Stethos means no internet, no cloud and no telemetry; the
clinic's own LAN, to peers an administrator configured, is part of the job.
Nothing here listens or connects on its own: every function is called with a
node the administrator configured (:mod:`engine.net.nodes`) or that the user
typed for one command. Protocol work is :mod:`pynetdicom`'s.
"""

from __future__ import annotations

from engine.net.audit import audit, audit_file, entries
from engine.net.cache import (
    CacheFullError,
    CacheUnusableError,
    InstanceCache,
    Stored,
    default_cache_dir,
)
from engine.net.dimse import (
    SERIES_KEYS,
    STUDY_KEYS,
    EchoResult,
    Listener,
    PeerError,
    RetrieveResult,
    SendResult,
    accepted_syntaxes,
    echo,
    find_series,
    find_studies,
    get_study,
    listener_tls,
    move_study,
    send_files,
)
from engine.net.nodes import (
    DEFAULT_AET,
    DEFAULT_PORT,
    NetConfigError,
    NetSettings,
    Node,
    add_node,
    check_aet,
    load_settings,
    remove_node,
    resolve_node,
    save_settings,
)
from engine.net.web import (
    web_echo,
    web_find_series,
    web_find_studies,
    web_get_study,
    web_send_files,
)


def prepare() -> None:
    """Import the DICOM network libraries now (about a third of a second of imports).

    The application calls it on a background thread at start when DICOM nodes are
    configured, so that the first query or receive does not pay for it.
    """
    import pynetdicom.sop_class  # noqa: F401
    from dicomweb_client import api  # noqa: F401


__all__ = [
    "DEFAULT_AET",
    "DEFAULT_PORT",
    "SERIES_KEYS",
    "STUDY_KEYS",
    "CacheFullError",
    "CacheUnusableError",
    "EchoResult",
    "InstanceCache",
    "Listener",
    "NetConfigError",
    "NetSettings",
    "Node",
    "PeerError",
    "RetrieveResult",
    "SendResult",
    "Stored",
    "accepted_syntaxes",
    "add_node",
    "audit",
    "audit_file",
    "check_aet",
    "default_cache_dir",
    "echo",
    "entries",
    "find_series",
    "find_studies",
    "get_study",
    "listener_tls",
    "load_settings",
    "move_study",
    "prepare",
    "remove_node",
    "resolve_node",
    "save_settings",
    "send_files",
    "web_echo",
    "web_find_series",
    "web_find_studies",
    "web_get_study",
    "web_send_files",
]
