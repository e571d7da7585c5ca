"""Loading a series into one array: values, first slice, progress, cancel, bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import RLELossless

from engine.dicom import load_series, read_image, scan_paths
from engine.dicom.synthetic import write_ct_series
from engine.errors import OperationCancelled, UnsupportedDicomError
from engine.progress import CancelToken


def _reference(series) -> np.ndarray:
    return np.stack([read_image(s.instance.path).frames[s.frame] for s in series.slices])


def test_volume_holds_the_modality_values_in_slice_order(ct_folder: Path):
    series = scan_paths(ct_folder).series[0]
    volume = load_series(series)
    assert volume.voxels.shape == (12, 64, 64)
    assert volume.voxels.dtype == np.int16  # integer HU fit: half the memory of float32
    assert np.array_equal(volume.voxels, _reference(series))
    z = [p[2] for p in volume.positions]
    assert z == sorted(z)
    assert volume.pixel_spacing == (0.7, 0.7) and volume.slice_spacing == pytest.approx(1.25)
    assert volume.missing == () and volume.problems == ()
    # the bone insert is bright bone, the outside is air
    assert volume.voxels.max() > 800 and volume.voxels.min() <= -1000


def test_unused_high_bits_are_ignored(ct_folder: Path):
    """Bits above Bits Stored (old overlays, garbage) must not leak into the values."""
    import pydicom

    series = scan_paths(ct_folder).series[0]
    clean = load_series(series).voxels.copy()
    for inst in series.instances:
        ds = pydicom.dcmread(inst.path)
        stored = np.frombuffer(ds.PixelData, dtype="<u2") | 0xB000  # bits 12-15 set
        ds.PixelData = stored.astype("<u2").tobytes()
        ds.save_as(inst.path)
    series = scan_paths(ct_folder).series[0]
    assert np.array_equal(load_series(series).voxels, clean)
    assert np.array_equal(_reference(series), clean)


def test_first_slice_arrives_before_the_rest(ct_folder: Path):
    series = scan_paths(ct_folder).series[0]
    events: list[tuple] = []

    def on_first(first):
        events.append(("first", first.index, first.pixels.copy(), first.render()))

    load_series(
        series,
        progress=lambda f, t="": events.append(("progress", f)),
        on_first_slice=on_first,
        first_index=5,
    )
    kinds = [e[0] for e in events]
    assert kinds.count("first") == 1
    first = events[kinds.index("first")]
    assert first[1] == 5
    expected = read_image(series.slices[5].instance.path).frames[0]
    assert np.array_equal(first[2], expected)
    assert first[3].dtype == np.uint8
    later = [e[1] for e in events[kinds.index("first") + 1 :] if e[0] == "progress"]
    assert later and later[-1] == 1.0  # the series finished after the first slice was shown


def test_progress_is_monotonic_and_complete(ct_folder: Path):
    series = scan_paths(ct_folder).series[0]
    reports = []
    load_series(series, progress=lambda f, t="": reports.append((f, t)))
    fractions = [f for f, _ in reports]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert all(isinstance(t, str) and t for _, t in reports)


def test_pre_cancelled_token_stops_before_work(ct_folder: Path):
    series = scan_paths(ct_folder).series[0]
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelled):
        load_series(series, cancel=token)


def test_cancel_while_loading(ct_folder: Path):
    series = scan_paths(ct_folder).series[0]
    token = CancelToken()
    with pytest.raises(OperationCancelled):
        load_series(series, cancel=token, on_first_slice=lambda first: token.cancel())


def test_memory_bound_refuses_before_allocation(ct_folder: Path):
    series = scan_paths(ct_folder).series[0]
    with pytest.raises(UnsupportedDicomError) as info:
        load_series(series, max_bytes=64 * 64 * 2 * 5)
    assert "GiB" in info.value.user_message and "series" in info.value.user_message


def test_compressed_series_decodes_in_worker_processes(tmp_path: Path):
    raw = write_ct_series(tmp_path / "raw", 8, rows=32, cols=32, seed=3)
    write_ct_series(tmp_path / "rle", 8, rows=32, cols=32, seed=3, transfer_syntax=RLELossless)
    assert raw
    a = load_series(scan_paths(tmp_path / "raw").series[0])
    b = load_series(scan_paths(tmp_path / "rle").series[0], use_processes=True, workers=2)
    assert np.array_equal(a.voxels, b.voxels)


def test_workers_that_cannot_start_leave_the_series_to_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from engine.dicom import volume

    def refused(workers: int):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(volume, "_process_pool", refused)
    write_ct_series(tmp_path / "raw", 8, rows=32, cols=32, seed=3)
    write_ct_series(tmp_path / "rle", 8, rows=32, cols=32, seed=3, transfer_syntax=RLELossless)
    a = load_series(scan_paths(tmp_path / "raw").series[0])
    b = load_series(scan_paths(tmp_path / "rle").series[0], use_processes=True, workers=2)
    assert np.array_equal(a.voxels, b.voxels) and b.missing == ()
    assert "decoding workers could not start" in caplog.text


def test_a_bad_slice_is_reported_not_fatal(ct_folder: Path):
    series = scan_paths(ct_folder).series[0]
    victim = series.slices[3].instance.path
    data = victim.read_bytes()
    victim.write_bytes(data[:-1000])  # damaged after the scan
    volume = load_series(series)
    assert volume.missing == (3,)
    assert [p.name for p, _ in volume.problems] == [victim.name]
    assert victim.name in volume.problems[0][1]
    assert np.all(volume.voxels[3] == volume.voxels.min())


def test_colour_and_mixed_size_series_are_refused(pydicom_data: Path, tmp_path: Path):
    colour = scan_paths(pydicom_data / "SC_rgb_2frame.dcm").series[0]
    with pytest.raises(UnsupportedDicomError) as info:
        load_series(colour)
    assert "colour" in info.value.user_message
    folder = tmp_path / "mixed"
    write_ct_series(folder, 3, rows=16, cols=16, series_uid="1.2.3.4", study_uid="1.2.3")
    write_ct_series(folder / "big", 2, rows=32, cols=32, series_uid="1.2.3.4", study_uid="1.2.3")
    mixed = scan_paths(folder).series[0]
    assert mixed.mixed_sizes
    with pytest.raises(UnsupportedDicomError):
        load_series(mixed)


def test_enhanced_multiframe_series_loads_frames_in_position_order(pydicom_data: Path):
    series = scan_paths(pydicom_data / "eCT_Supplemental.dcm").series[0]
    volume = load_series(series)
    image = read_image(pydicom_data / "eCT_Supplemental.dcm")
    assert volume.voxels.shape == (2, 512, 512)
    order = [s.frame for s in series.slices]
    assert np.array_equal(volume.voxels, image.frames[order])


def test_monochrome1_radiograph_as_a_one_image_series(shared_data: Path):
    from engine.dicom import render_8bit

    path = shared_data / "cxr" / "samples" / "Fake_MONOHR1.dcm"
    volume = load_series(scan_paths(path).series[0])
    assert volume.inverted and volume.voxels.shape == (1, 1024, 1024)
    assert np.array_equal(volume.render(0), render_8bit(read_image(path)))


def test_uncompressed_slices_are_read_by_one_thread_with_the_next_files_read_ahead(
    ct_folder: Path, monkeypatch: pytest.MonkeyPatch
):
    """One reading thread (more only fought the UI thread for the GIL); the kernel is asked
    to read the following files ahead, in the order they will be read."""
    import threading

    from engine.dicom import volume as module

    series = scan_paths(ct_folder).series[0]
    readers: set[str] = set()
    read: list[Path] = []
    asked: list[Path] = []
    real_read = module._read_native

    def read_native(inst, out):
        readers.add(threading.current_thread().name)
        read.append(inst.path)
        real_read(inst, out)

    monkeypatch.setattr(module, "_read_native", read_native)
    monkeypatch.setattr(module, "_read_ahead", lambda inst: asked.append(inst.path))
    volume = load_series(series, workers=4)
    assert np.array_equal(volume.voxels, _reference(series))
    assert len(readers - {threading.current_thread().name}) == module.LOAD_THREADS == 1
    rest = read[1:]  # the first slice is read by the caller, before the others
    assert asked == rest  # each file once, in reading order, ahead of its read
