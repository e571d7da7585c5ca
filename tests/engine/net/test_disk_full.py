"""A disk that fills up during a retrieve: the transfer stops with a message, what arrived is
kept and indexed whole, and a later retrieve fetches only the rest."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from engine.dicom.synthetic import write_ct_series
from engine.net import CacheFullError, InstanceCache, Node, get_study
from tests.engine.net.conftest import OrthancServer


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB file system of its own (tmpfs; needs root, as CI has)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def ct_study(orthanc: OrthancServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Ten 512² slices (about 5 MB) on the PACS."""
    files = write_ct_series(tmp_path_factory.mktemp("ct"), 10, seed=5)
    for f in files:
        orthanc.upload(f)
    return str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)


def _complete(cache: InstanceCache, study: str) -> list[Path]:
    files = cache.study_files(study)
    for f in files:  # every indexed file is whole
        assert pydicom.dcmread(f).pixel_array.shape == (512, 512)
    return files


def test_a_full_disk_stops_the_retrieve_and_keeps_what_arrived(
    orthanc: OrthancServer, ct_study: str, small_disk: Path
) -> None:
    node = Node("pacs", "ORTHANC", "127.0.0.1", orthanc.dicom_port)
    cache = InstanceCache(small_disk / "cache", reserve_bytes=0)  # the disk itself fills up
    with pytest.raises(CacheFullError) as stopped:
        get_study(node, ct_study, cache)
    message = stopped.value.user_message
    assert any(why in message for why in ("nearly full", "no room", "cannot grow")), message
    assert "kept" in stopped.value.user_message
    kept = _complete(cache, ct_study)
    assert 1 <= len(kept) < 10
    assert not list(small_disk.rglob(".part-*"))  # nothing half-written is left
    # Room again (the file system grows): the next retrieve fetches only the rest.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    again = get_study(node, ct_study, cache)
    assert again.already_here == len(kept) and again.received == 10 - len(kept)
    assert len(_complete(cache, ct_study)) == 10
    cache.close()


def test_the_cache_keeps_free_space_for_the_system(
    orthanc: OrthancServer, ct_study: str, tmp_path: Path
) -> None:
    node = Node("pacs", "ORTHANC", "127.0.0.1", orthanc.dicom_port)
    cache = InstanceCache(tmp_path / "cache", reserve_bytes=1 << 60)  # more than any disk has
    with pytest.raises(CacheFullError, match="nearly full") as stopped:
        get_study(node, ct_study, cache)
    assert "what arrived so far is kept" in stopped.value.user_message
    assert cache.study_files(ct_study) == []
