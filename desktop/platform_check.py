"""Before the first window: are the system libraries Qt's X11 plugin needs installed?

On a fresh Debian machine Qt aborts with "xcb-cursor0 … is needed to load the
Qt xcb platform plugin" (and the same for a few other X11 libraries) after a
core dump's worth of plugin diagnostics. Stethos checks first and stops with
the exact ``apt-get install`` line instead. The ``.deb`` declares these
libraries, so only a source install can miss them.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

#: Debian package → the shared library Qt's xcb platform plugin loads from it.
XCB_LIBRARIES: Mapping[str, str] = {
    "libxcb-cursor0": "libxcb-cursor.so.0",
    "libxcb-icccm4": "libxcb-icccm.so.4",
    "libxcb-keysyms1": "libxcb-keysyms.so.1",
    "libxkbcommon-x11-0": "libxkbcommon-x11.so.0",
}


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def uses_xcb(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt will pick its X11 (xcb) platform plugin here."""
    env = os.environ if environ is None else environ
    if (platform or sys.platform) != "linux":
        return False
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":", 1)[0].split(";", 1)[0] == "xcb"
    return not env.get("WAYLAND_DISPLAY")  # Qt 6 prefers Wayland when it is there


def missing_packages(loadable: Callable[[str], bool] = _loadable) -> list[str]:
    """The Debian packages whose library cannot be loaded (empty when all are there)."""
    return [pkg for pkg, soname in XCB_LIBRARIES.items() if not loadable(soname)]


def missing_message(packages: list[str]) -> str:
    """What Stethos prints instead of opening its window."""
    return (
        "Stethos cannot open its window: Qt's X11 platform plugin needs system libraries "
        f"that are not installed ({', '.join(packages)}). Install them with:\n\n"
        f"    sudo apt-get install {' '.join(packages)}\n\n"
        "then start Stethos again. (Headless use: set QT_QPA_PLATFORM=offscreen.)"
    )
