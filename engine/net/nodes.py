"""The clinic's DICOM peers and Stethos' own network identity, as an administrator set them.

Stored as ``net.json`` in the user's configuration folder::

    {"aet": "STETHOS", "port": 11112, "tls_cert": null, "tls_key": null,
     "nodes": [{"name": "pacs", "aet": "ORTHANC", "host": "10.0.0.5", "port": 4242,
                "tls_ca": null, "dicomweb": null, "may_store": true}]}

Nothing listens and nothing connects until a node is configured: the listener
starts only when asked and accepts stores only from configured nodes that
may store (or callers named with ``--allow``); queries go only to configured
nodes or to an ``AET@host:port`` typed by the user for one command.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.resources import user_config_dir

#: Our AE title when none is configured.
DEFAULT_AET = "STETHOS"
#: Our listening port when none is configured (the registered DICOM port 104 needs root).
DEFAULT_PORT = 11112
_AET = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # printable ASCII without backslash
_SPEC = re.compile(r"^(?P<aet>[^@]*)@(?P<host>[^:@]*|\[[0-9a-fA-F:]*\])(?::(?P<port>[^:@]*))?$")


class NetConfigError(EngineError):
    """A node or the network settings are not valid."""


def check_aet(aet: str) -> str:
    """An AE title as DICOM allows it (1–16 printable ASCII characters, no backslash)."""
    value = aet.strip()
    if not _AET.match(value) or not value.strip():
        raise NetConfigError(
            f"“{aet}” is not a valid AE title: use 1 to 16 letters, digits or symbols "
            "(no backslash)."
        )
    return value


def check_port(port: int | str) -> int:
    try:
        value = int(port)
    except (TypeError, ValueError):
        value = -1
    if not 1 <= value <= 65535:
        raise NetConfigError(f"“{port}” is not a valid port: use a number from 1 to 65535.")
    return value


def check_url(url: str, node: str) -> str:
    """A DICOMweb base URL: ``http://`` or ``https://``, a host, and nothing to log in with."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NetConfigError(
            f"“{url}” is not a DICOMweb address for node “{node}”: write it as "
            "http://host:port/path or https://host:port/path."
        )
    if parts.username or parts.password:
        raise NetConfigError(
            f"The DICOMweb address of node “{node}” carries a user name or password: leave "
            "them out, settings are stored in plain text."
        )
    return url


@dataclass(frozen=True)
class Node:
    """A DICOM peer: where it is and what it may do."""

    name: str
    aet: str
    host: str
    port: int
    tls_ca: str | None = None
    dicomweb: str | None = None
    may_store: bool = True

    def __post_init__(self) -> None:
        if not self.name.strip() or not re.match(r"^[A-Za-z0-9_.-]{1,64}$", self.name):
            raise NetConfigError(
                f"“{self.name}” is not a valid node name: use letters, digits, '.', '_' or '-'."
            )
        object.__setattr__(self, "aet", check_aet(self.aet))
        object.__setattr__(self, "port", check_port(self.port))
        if not self.host.strip():
            raise NetConfigError(f"Node “{self.name}” needs a host name or address.")
        if self.dicomweb is not None:
            check_url(self.dicomweb, self.name)
        if self.tls_ca is not None and not Path(self.tls_ca).is_file():
            raise NetConfigError(
                f"The CA file “{self.tls_ca}” of node “{self.name}” does not exist."
            )

    @property
    def address(self) -> str:
        return f"{self.aet}@{self.host}:{self.port}"


@dataclass(frozen=True)
class NetSettings:
    """Our AE title and port, and the configured peers."""

    aet: str = DEFAULT_AET
    port: int = DEFAULT_PORT
    nodes: tuple[Node, ...] = field(default=())
    #: Our certificate and its private key (PEM): when set, the listener speaks TLS only.
    tls_cert: str | None = None
    tls_key: str | None = None
    #: When set with the certificate, callers must present a certificate signed by this CA.
    tls_peer_ca: str | None = None

    def __post_init__(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise NetConfigError(
                "TLS for the listener needs both this workstation's certificate and its key."
            )
        if self.tls_peer_ca and not self.tls_cert:
            raise NetConfigError(
                "Checking callers' certificates needs this workstation's certificate and key."
            )
        for what, value in (("certificate", self.tls_cert), ("key", self.tls_key),
                            ("callers' CA", self.tls_peer_ca)):  # fmt: skip
            if value and not Path(value).is_file():
                raise NetConfigError(f"The TLS {what} file “{value}” does not exist.")

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"aet": self.aet, "port": self.port,
                               "nodes": [asdict(n) for n in self.nodes]}  # fmt: skip
        for key in ("tls_cert", "tls_key", "tls_peer_ca"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def settings_file() -> Path:
    return user_config_dir() / "net.json"


def load_settings(path: Path | None = None) -> NetSettings:
    """The saved network settings (defaults, and no node, when none are saved).

    Raises
    ------
    NetConfigError
        For a file that is not valid settings (named, with the reason).
    """
    p = path or settings_file()
    if not p.is_file():
        return NetSettings()
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        return NetSettings(
            aet=check_aet(raw.get("aet", DEFAULT_AET)),
            port=check_port(raw.get("port", DEFAULT_PORT)),
            nodes=tuple(Node(**n) for n in raw.get("nodes", [])),
            tls_cert=raw.get("tls_cert"),
            tls_key=raw.get("tls_key"),
            tls_peer_ca=raw.get("tls_peer_ca"),
        )
    except NetConfigError as exc:  # read, but a value is not valid
        raise NetConfigError(
            f"The network settings in {p} hold a value that cannot be used: "
            f"{exc.user_message} Fix the file, or remove it and configure the network again."
        ) from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise NetConfigError(
            f"The network settings in {p} cannot be read: {exc}. Fix or remove the file."
        ) from exc


def save_settings(settings: NetSettings, path: Path | None = None) -> Path:
    """Write the settings atomically (a temporary file renamed into place)."""
    p = path or settings_file()
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".net-", dir=p.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(settings.to_json(), fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, p)
    return p


def add_node(
    node: Node, path: Path | None = None, *, replace_existing: bool = False
) -> NetSettings:
    settings = load_settings(path)
    if settings.node(node.name) is not None and not replace_existing:
        raise NetConfigError(f"A node named “{node.name}” exists already.")
    nodes = (*(n for n in settings.nodes if n.name != node.name), node)
    settings = replace(settings, nodes=nodes)
    save_settings(settings, path)
    return settings


def remove_node(name: str, path: Path | None = None) -> NetSettings:
    settings = load_settings(path)
    if settings.node(name) is None:
        raise NetConfigError(f"No node named “{name}” is configured.")
    settings = replace(settings, nodes=tuple(n for n in settings.nodes if n.name != name))
    save_settings(settings, path)
    return settings


def resolve_node(spec: str, settings: NetSettings | None = None) -> Node:
    """A configured node by name, or a one-off ``AET@host:port``.

    Raises
    ------
    NetConfigError
        When ``spec`` is neither.
    """
    settings = settings or load_settings()
    found = settings.node(spec)
    if found is not None:
        return found
    m = _SPEC.match(spec.strip())
    if m is None:
        known = ", ".join(n.name for n in settings.nodes) or "none is configured"
        raise NetConfigError(
            f"“{spec}” is not a configured node ({known}) nor an address AET@host:port."
        )
    host = m.group("host").strip("[]")
    if not host.strip() or m.group("port") is None:
        missing = "host" if not host.strip() else "port"
        raise NetConfigError(f"“{spec}” has no {missing}: write the address as AET@host:port.")
    # An address: the checks say which part is wrong (AE title or port).
    return Node(name="adhoc", aet=check_aet(m.group("aet")), host=host,
                port=check_port(m.group("port")), may_store=False)  # fmt: skip
