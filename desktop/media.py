"""Where the "Open DICOMDIR" dialog starts: the mounted CD, DVD or USB stick.

A DICOMDIR comes on removable media. The dialog starts on a mounted volume
whose top folder holds a DICOMDIR, else on a removable-media mount point
(``/media/<user>/…``, ``/run/media/<user>/…``, ``/mnt/…``, a non-system
drive on Windows), else in the home folder — never in the program's working
folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

#: Mount points of removable media on Linux and the BSDs.
MEDIA_ROOTS = ("/media", "/run/media", "/mnt", "/Volumes")


def _has_dicomdir(root: Path) -> bool:
    try:
        return any(p.name.upper().startswith("DICOMDIR") for p in root.iterdir() if p.is_file())
    except OSError:
        return False


def _removable(root: Path) -> bool:
    text = str(root)
    if os.name == "nt":
        system = os.environ.get("SystemDrive", "C:").rstrip("\\/").upper()
        return not text.upper().startswith(system)
    return (
        any(text == m or text.startswith(m + "/") for m in MEDIA_ROOTS) and text not in MEDIA_ROOTS
    )


#: File systems whose top folder is not listed when the dialog opens (on the UI thread): a
#: network share that stopped answering would freeze the window.
NETWORK_FILE_SYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "davfs", "fuse.davfs2"}
)


def mounted_volumes() -> list[Path]:
    """Root folders of the mounted, ready, local volumes (Qt's view of them)."""
    from PySide6.QtCore import QStorageInfo

    return [
        Path(v.rootPath())
        for v in QStorageInfo.mountedVolumes()
        if v.isValid()
        and v.isReady()
        and v.rootPath()
        and bytes(v.fileSystemType().data()).decode(errors="replace").lower()
        not in NETWORK_FILE_SYSTEMS
    ]


def dicomdir_start_folder(volumes: Iterable[Path] | None = None, home: Path | None = None) -> Path:
    """The folder the DICOMDIR dialog opens in (see the module docstring)."""
    roots = list(mounted_volumes() if volumes is None else volumes)
    for root in roots:
        if _removable(root) and _has_dicomdir(root):
            return root
    for root in roots:
        if _has_dicomdir(root) and str(root) not in ("/", os.environ.get("SystemDrive", "")):
            return root
    for root in roots:
        if _removable(root):
            return root
    return home or Path.home()
