"""Opening a folder: the first file read is shown at once, then the whole series on it."""

from __future__ import annotations

from pathlib import Path

from engine.dicom.synthetic import write_ct_series
from engine.workflow import FirstSliceLoaded
from tests.desktop.conftest import open_and_wait


def test_the_first_image_shows_before_the_series_and_the_view_stays_on_it(
    qtbot, window, tmp_path: Path
):
    write_ct_series(tmp_path / "ct", 12, rows=64, cols=64)
    previews: list[tuple] = []

    def on_partial(payload: object) -> None:  # runs after the window's own slot
        if isinstance(payload, FirstSliceLoaded):
            stack = window.viewer.stack
            previews.append((stack.n_frames, stack.loading, stack.sources[0]))

    window.image_jobs.partial.connect(on_partial)
    open_and_wait(qtbot, window, [tmp_path / "ct"])
    assert len(previews) == 1
    n_frames, loading, shown = previews[0]
    assert n_frames == 1 and loading  # one image on screen while the rest was read
    stack = window.viewer.stack
    assert stack.n_frames == 12 and not stack.loading
    assert stack.sources[window.viewer.frame] == shown  # the same image, now in its place
    assert "Synthetic axial CT" in window.status_text.text()


def test_a_jpeg_2000_series_opens_through_the_decoding_workers(qtbot, window, tmp_path: Path):
    """Compressed slices are decoded in worker processes (a fork server on Linux)."""
    import numpy as np
    import pydicom
    from pydicom.uid import JPEG2000Lossless

    paths = write_ct_series(
        tmp_path / "j2k", 12, rows=64, cols=64, transfer_syntax=JPEG2000Lossless
    )
    open_and_wait(qtbot, window, [tmp_path / "j2k"])
    stack = window.viewer.stack
    assert stack.n_frames == 12 and not stack.loading
    shown = window.viewer.frame
    path, _frame = stack.sources[shown]
    ds = pydicom.dcmread(path)
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.array_equal(stack.values(shown), expected)
    assert Path(path) in paths
