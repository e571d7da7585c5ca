"""Opening files in one pass (scan_and_load): pixel-exact against pydicom, odd files, cancel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
)

from engine.dicom import FirstSlice, load_series, scan_and_load, scan_paths
from engine.dicom.synthetic import write_ct_series
from engine.errors import OperationCancelled
from engine.progress import CancelToken


def _pydicom_values(series) -> np.ndarray:
    """pydicom's ``pixel_array`` of every slice, rescaled, in the series' order."""
    out = []
    for s in series.slices:
        ds = pydicom.dcmread(s.instance.path)
        arr = ds.pixel_array
        arr = arr[s.frame] if int(ds.get("NumberOfFrames", 1) or 1) > 1 else arr
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        out.append(arr.astype(np.float64) * slope + intercept)
    return np.stack(out)


def _rewrite(folder: Path, change, **encoding) -> None:
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path)
        change(ds)
        if encoding:  # pydicom converts between endiannesses only when forced
            pydicom.dcmwrite(path, ds, force_encoding=True, **encoding)
        else:
            ds.save_as(path, enforce_file_format=True)


def _check_against_pydicom(folder: Path, opened=None, **kwargs) -> None:
    """The one pass (``opened``, else run now) gives the two-pass scan and pydicom's values."""
    opened = opened or scan_and_load(folder, **kwargs)
    reference_scan = scan_paths(folder)
    assert opened.scan == reference_scan
    volume = opened.volume
    assert volume is not None, "the first series was not streamed"
    series = reference_scan.image_series[0]
    assert volume.series == series
    assert volume.missing == () and volume.problems == ()
    assert np.array_equal(volume.voxels, _pydicom_values(series))
    assert np.array_equal(volume.voxels, load_series(series).voxels)
    assert volume.positions == tuple(s.position for s in series.slices)


def test_explicit_little_endian_series(ct_folder: Path):
    _check_against_pydicom(ct_folder)
    assert scan_and_load(ct_folder).volume.voxels.dtype == np.int16


def test_implicit_little_endian_series(ct_folder: Path):
    def implicit(ds):
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian

    _rewrite(ct_folder, implicit)
    _check_against_pydicom(ct_folder)


def test_big_endian_series(ct_folder: Path):
    def big(ds):
        values = np.frombuffer(ds.PixelData, dtype="<u2")
        ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
        ds.PixelData = values.astype(">u2").tobytes()

    _rewrite(ct_folder, big, implicit_vr=False, little_endian=False)
    assert (
        pydicom.dcmread(next(ct_folder.iterdir())).file_meta.TransferSyntaxUID.is_little_endian
        is False
    )
    _check_against_pydicom(ct_folder)


@pytest.mark.parametrize("processes", [False, True], ids=["calling-thread", "worker-processes"])
def test_jpeg2000_series(tmp_path: Path, processes: bool):
    folder = tmp_path / "j2k"
    write_ct_series(folder, 11, rows=48, cols=48, transfer_syntax=JPEG2000Lossless)
    _check_against_pydicom(folder, use_processes=processes, workers=2)


def test_the_calling_thread_helps_while_spawned_workers_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Where workers are spawned (not Linux), this thread decodes from the end meanwhile."""
    from engine.dicom import stream

    monkeypatch.setattr(stream, "FORK_SERVER", False)
    folder = tmp_path / "j2k"
    write_ct_series(folder, 24, rows=48, cols=48, transfer_syntax=JPEG2000Lossless)
    _check_against_pydicom(folder, use_processes=True, workers=2)


def test_workers_that_cannot_start_leave_the_decoding_to_this_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from engine.dicom import volume

    calls = []

    def refused(workers: int):
        calls.append(workers)
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(volume, "_process_pool", refused)
    folder = tmp_path / "j2k"
    write_ct_series(folder, 24, rows=48, cols=48, transfer_syntax=JPEG2000Lossless)
    opened = scan_and_load(folder, use_processes=True, workers=2)
    assert calls == [2]  # tried once, not again for every file
    assert "decoding workers could not start" in caplog.text
    monkeypatch.undo()  # the checks below may use the workers
    _check_against_pydicom(folder, opened=opened)


def test_a_slice_decoded_by_a_worker_is_let_go_once_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Each worker's answer (a slice's pixels) is freed once copied in, not kept to the end."""
    import gc
    import weakref

    from engine.dicom import stream

    real, refs = stream._submit_to_workers, []

    def recording(workers, fn, jobs):
        futures = real(workers, fn, jobs)
        refs.extend(weakref.ref(f) for f in futures)
        return futures

    alive: list[int] = []

    def progress(_fraction: float, text: str) -> None:
        if text.startswith("Read ") and refs:
            gc.collect()
            alive.append(sum(r() is not None for r in refs))

    monkeypatch.setattr(stream, "_submit_to_workers", recording)
    folder = tmp_path / "j2k"
    write_ct_series(folder, 24, rows=48, cols=48, transfer_syntax=JPEG2000Lossless)
    scan_and_load(folder, use_processes=True, workers=2, progress=progress)
    assert len(refs) == 23 and alive
    assert alive[-1] < len(refs) // 2  # at the last file, the answers handled are gone


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a fork server on Linux only")
def test_linux_workers_fork_from_a_server_that_imported_the_decoders():
    from engine.dicom import volume

    context = volume.worker_context()
    assert context.get_start_method() == "forkserver"
    # the preload runs in a fresh interpreter: it imports, and keeps requests out
    code = (
        "import sys, engine.dicom._preload; "
        "assert 'pydicom' in sys.modules and 'openjpeg' in sys.modules; "
        "assert sys.modules.get('requests', 0) is None"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_rle_series(tmp_path: Path):
    folder = tmp_path / "rle"
    write_ct_series(folder, 5, rows=32, cols=32, transfer_syntax=RLELossless)
    _check_against_pydicom(folder, use_processes=False)


def test_signed_12_bit_values_with_garbage_in_the_unused_bits(ct_folder: Path):
    """BitsAllocated 16, BitsStored 12, signed: bits 12-15 hold garbage, values sign-extend."""
    rng = np.random.default_rng(3)

    def signed(ds):
        values = rng.integers(-2048, 2048, size=(ds.Rows, ds.Columns))
        raw = (values & 0x0FFF) | 0xA000  # garbage above bit 11
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = 7
        ds.RescaleSlope = 2
        ds.PixelData = raw.astype("<u2").tobytes()

    _rewrite(ct_folder, signed)
    _check_against_pydicom(ct_folder)
    volume = scan_and_load(ct_folder).volume
    assert volume.voxels.min() < -2000  # negative stored values survived


def test_8_bit_and_fractional_rescale_give_float_values(ct_folder: Path):
    def eight_bit(ds):
        values = np.frombuffer(ds.PixelData, dtype="<u2") >> 4
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.RescaleSlope = 0.5
        ds.PixelData = values.astype(np.uint8).tobytes()

    _rewrite(ct_folder, eight_bit)
    _check_against_pydicom(ct_folder)
    assert scan_and_load(ct_folder).volume.voxels.dtype == np.float32


def test_padding_after_the_pixels_and_a_pixel_padding_value(ct_folder: Path):
    def padded(ds):
        ds.add_new(0x00280120, "US", 0)  # Pixel Padding Value
        ds.add_new(0xFFFCFFFC, "OB", b"\0" * 64)  # Data Set Trailing Padding

    _rewrite(ct_folder, padded)
    _check_against_pydicom(ct_folder)


def test_a_series_with_a_multi_frame_file_falls_back_and_matches(tmp_path: Path):
    from pydicom.uid import generate_uid

    folder = tmp_path / "mixed"
    paths = write_ct_series(folder, 4, rows=32, cols=32, shuffle_names=False)
    ds = pydicom.dcmread(paths[0])
    frames = np.stack([np.frombuffer(pydicom.dcmread(p).PixelData, "<u2") for p in paths])
    ds.NumberOfFrames = len(paths)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PixelData = frames.tobytes()
    ds.save_as(folder / "multi.dcm", enforce_file_format=True)
    opened = scan_and_load(folder)
    assert opened.scan == scan_paths(folder)
    assert opened.volume is None  # loaded separately (load_series), as before


def test_odd_files_are_reported_and_the_series_still_loads(ct_folder: Path, tmp_path: Path):
    (ct_folder / "notes.txt").write_text("not DICOM")
    truncated = ct_folder / "cut.dcm"
    data = next(iter(sorted(ct_folder.glob("IM*.dcm")))).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    study = pydicom.dcmread(next(ct_folder.glob("IM*.dcm"))).StudyInstanceUID
    other = write_ct_series(  # the same study, a later series: the CT stays the first
        tmp_path / "other", 2, rows=16, cols=16, series_number=9, study_uid=study
    )
    for p in other:
        p.rename(ct_folder / f"zz-{p.name}")
    opened = scan_and_load(ct_folder)
    reference = scan_paths(ct_folder)
    assert opened.scan == reference
    names = {p.name for p, _ in opened.scan.problems}
    assert {"notes.txt", "cut.dcm"} <= names
    assert len(opened.scan.image_series) == 2
    assert opened.volume is not None and opened.volume.n_slices == 12
    assert np.array_equal(opened.volume.voxels, _pydicom_values(reference.image_series[0]))


def test_a_slice_that_cannot_be_decoded_is_missing_not_fatal(tmp_path: Path):
    folder = tmp_path / "j2k"
    paths = write_ct_series(folder, 4, rows=32, cols=32, transfer_syntax=JPEG2000Lossless)
    broken = paths[2]
    ds = pydicom.dcmread(broken)
    from pydicom.encaps import encapsulate

    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\0" * 40])  # a codestream cut short
    ds.save_as(broken, enforce_file_format=True)
    opened = scan_and_load(folder, use_processes=False)
    two_pass = load_series(scan_paths(folder).image_series[0])
    volume = opened.volume
    assert volume is not None
    assert volume.missing == two_pass.missing
    assert [volume.series.slices[i].instance.path for i in volume.missing] == [broken]
    assert [p for p, _ in volume.problems] == [broken]
    assert np.array_equal(volume.voxels, two_pass.voxels)


def test_first_image_comes_first_and_progress_ends_at_one(ct_folder: Path):
    events: list[tuple] = []

    def on_first(first: FirstSlice) -> None:
        events.append(("first", first.pixels.copy(), first.scan))

    opened = scan_and_load(
        ct_folder, progress=lambda f, t="": events.append(("progress", f)), on_first_slice=on_first
    )
    kinds = [e[0] for e in events]
    assert kinds.count("first") == 1
    assert kinds.index("first") < len(kinds) - 1  # before the pass ends
    fractions = [e[1] for e in events if e[0] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    _, pixels, preview = events[kinds.index("first")]
    assert any(np.array_equal(pixels, s) for s in opened.volume.voxels)
    assert preview is not None and preview.image_series[0].n_images == 1


def test_cancel_stops_the_pass(ct_folder: Path, tmp_path: Path):
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelled):
        scan_and_load(ct_folder, cancel=token)
    token = CancelToken()
    folder = tmp_path / "j2k"
    write_ct_series(folder, 12, rows=32, cols=32, transfer_syntax=JPEG2000Lossless)
    with pytest.raises(OperationCancelled):
        scan_and_load(folder, on_first_slice=lambda first: token.cancel(), cancel=token, workers=2)


def test_open_study_shows_the_first_image_then_the_whole_series(ct_folder: Path):
    from engine.workflow import FirstSliceLoaded, ScanFound, StudyOpened, open_study

    partial: list[object] = []
    outcome = open_study([ct_folder], partial=partial.append)
    assert isinstance(outcome, StudyOpened)
    assert [type(p) for p in partial] == [FirstSliceLoaded, ScanFound]
    volume = outcome.view.volume
    assert volume is not None and volume.n_slices == 12
    assert np.array_equal(volume.voxels, _pydicom_values(outcome.view.ref.series))


def test_values_that_change_from_slice_to_slice_are_read_for_every_slice(ct_folder: Path):
    """Slices mostly repeat the previous header; windows, rescale and position may not."""
    counter = iter(range(100))

    def vary(ds):
        n = next(counter)
        ds.WindowCenter = 40 + n
        if n % 3 == 0:
            ds.RescaleIntercept = -1000
        if n % 4 == 0:
            del ds.SeriesDescription

    _rewrite(ct_folder, vary)
    _check_against_pydicom(ct_folder)
    volume = scan_and_load(ct_folder).volume
    assert len({s.instance.windows[0].center for s in volume.series.slices}) == 12


def test_prefaulting_never_overwrites_a_slot_and_stays_a_few_slots_ahead():
    """The helper touching pages ahead (zeros) never writes a slot the reader has taken."""
    import time

    import numpy as np

    from engine.dicom.stream import _Staging

    rng = np.random.default_rng(0)
    for pause in (0.0, 0.002):  # a reader faster, then slower, than the helper
        staging = _Staging(80, 512, 512, np.dtype(np.int16))  # 40 MiB: the helper runs
        assert staging._helper is not None
        for _ in range(3):
            staging.array[staging.take()] = 7
        time.sleep(0.05)  # a paused reader: the helper goes at most LEAD slots ahead
        assert staging._next <= staging.used + staging.LEAD + staging.CHUNK
        while staging.used < 80:
            k = staging.take()
            staging.array[k] = k + 1
            if pause and rng.random() < 0.5:
                time.sleep(pause)
        staging.finish()
        assert staging._helper is None
        assert [int(staging.array[k, 0, 0]) for k in range(3, 80)] == list(range(4, 81))
        assert all(int(staging.array[k].min()) == k + 1 for k in range(3, 80))
