"""A fresh machine without Qt's X11 libraries gets the apt-get line, not a Qt abort."""

from __future__ import annotations

import pytest

from desktop import platform_check
from desktop.platform_check import XCB_LIBRARIES, missing_message, missing_packages, uses_xcb


def test_missing_libraries_are_named_by_their_debian_package() -> None:
    absent = {"libxcb-cursor.so.0", "libxcb-keysyms.so.1"}
    assert missing_packages(lambda so: so not in absent) == ["libxcb-cursor0", "libxcb-keysyms1"]
    assert missing_packages(lambda so: True) == []
    text = missing_message(["libxcb-cursor0", "libxcb-keysyms1"])
    assert "sudo apt-get install libxcb-cursor0 libxcb-keysyms1\n" in text
    assert set(XCB_LIBRARIES) >= {"libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"}


@pytest.mark.parametrize(
    ("env", "xcb"),
    [({}, True), ({"QT_QPA_PLATFORM": "offscreen"}, False), ({"QT_QPA_PLATFORM": "xcb"}, True),
     ({"WAYLAND_DISPLAY": "wayland-0"}, False), ({"QT_QPA_PLATFORM": "wayland;xcb"}, False)],
)  # fmt: skip
def test_only_the_x11_plugin_is_checked(env, xcb) -> None:
    assert uses_xcb(env, platform="linux") is xcb
    assert uses_xcb(env, platform="win32") is False


def test_stethos_stops_before_the_window_with_the_install_line(monkeypatch, capsys) -> None:
    from desktop.app import main

    monkeypatch.setattr(platform_check, "uses_xcb", lambda: True)
    monkeypatch.setattr(platform_check, "missing_packages", lambda: ["libxcb-cursor0"])
    assert main(["--open-sample"]) == 3
    err = capsys.readouterr().err
    assert "sudo apt-get install libxcb-cursor0" in err and "QT_QPA_PLATFORM=offscreen" in err
