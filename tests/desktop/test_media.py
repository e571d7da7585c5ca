"""The DICOMDIR dialog starts on the mounted media, not in the working folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.media import _removable, dicomdir_start_folder, mounted_volumes


def test_a_volume_with_a_dicomdir_wins(tmp_path: Path) -> None:
    cd = tmp_path / "cd"
    cd.mkdir()
    (cd / "DICOMDIR").write_bytes(b"\0" * 132)
    other = tmp_path / "usb"
    other.mkdir()
    assert dicomdir_start_folder([other, cd], home=tmp_path / "home") == cd


@pytest.mark.skipif(__import__("os").name == "nt", reason="POSIX mount points")
def test_removable_mount_points_and_the_home_fallback(tmp_path: Path) -> None:
    assert _removable(Path("/media/ana/CDROM")) and _removable(Path("/run/media/ana/USB"))
    assert (
        not _removable(Path("/"))
        and not _removable(Path("/media"))
        and not _removable(Path("/home"))
    )
    assert dicomdir_start_folder([Path("/"), Path("/media/ana/CDROM")]) == Path("/media/ana/CDROM")
    assert dicomdir_start_folder([Path("/"), Path("/boot")], home=tmp_path) == tmp_path


def test_qt_lists_at_least_the_root_volume(qtbot) -> None:
    assert all(isinstance(v, Path) for v in mounted_volumes())
    assert dicomdir_start_folder() != Path.cwd() or Path.cwd() == Path.home()
