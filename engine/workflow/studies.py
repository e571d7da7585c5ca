"""Studies: scan files, folders and DICOMDIRs, load series for viewing, thumbnails, tags.

What the viewer's open commands do, without the viewer: every function takes
``progress`` and ``cancel`` and may run on a worker thread. The memory budget
and the fall-backs for series that cannot be stacked (colour, mixed sizes)
are decided here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import DicomError, NotDicomError, UnsupportedDicomError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress, sub_progress

if TYPE_CHECKING:  # pydicom loads with the first file opened, not with the application
    from engine.dicom import (
        DicomImage,
        FirstSlice,
        Patient,
        ScanResult,
        Series,
        Study,
        Volume,
    )


def open_image(
    path: str | Path, *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> DicomImage:
    """Read one DICOM image file for display."""
    from engine.dicom import read_image

    check_cancelled(cancel)
    progress(0.0, f"Reading {Path(path).name}")
    image = read_image(path)
    progress(1.0, "Image loaded")
    return image


def open_signal(
    path: str | Path, *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> Any:
    """Read an ECG record (WFDB header/record or DICOM ECG waveform) in mV.

    Returns an :class:`engine.ecg.Signal`.
    """
    from engine.ecg import read_signal

    return read_signal(Path(path), progress=progress, cancel=cancel)


def render_study_image(
    path: str | Path,
    frame: int = 0,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """A file's image as the viewer shows it by default: 8-bit grayscale ``(H, W)`` or RGB.

    Raises :class:`~engine.errors.DicomError` when the file cannot be read.
    """
    from engine.dicom import read_image, render_8bit

    check_cancelled(cancel)
    image = read_image(Path(path))
    return render_8bit(image, min(max(0, int(frame)), image.n_frames - 1))


# --- studies and series ------------------------------------------------------------
@dataclass(frozen=True)
class SeriesRef:
    """One series with the patient and study it belongs to."""

    patient: Patient
    study: Study
    series: Series


@dataclass(frozen=True)
class ScanFound:
    """Partial result of :func:`open_study`: what the files hold (before any pixels)."""

    scan: ScanResult
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class FirstSliceLoaded:
    """Partial result of :func:`load_view`: the first slice of a series, shown at once."""

    ref: SeriesRef
    first: FirstSlice


@dataclass(frozen=True)
class LoadedView:
    """What the viewer shows for a series: one decoded file, or the whole series.

    ``note`` says why a series of several files is shown as one file:
    ``"colour"`` or ``"mixed sizes"`` (the view words it for the user).
    """

    ref: SeriesRef
    image: DicomImage | None = None
    volume: Volume | None = None
    images: tuple[DicomImage, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class StudyOpened:
    """Result of :func:`open_study`."""

    scan: ScanResult
    view: LoadedView
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class EcgFound:
    """Result of :func:`open_study` when the files hold DICOM ECG waveforms and no image."""

    scan: ScanResult
    ecg_paths: tuple[Path, ...]
    paths: tuple[Path, ...]


def ecg_waveform_paths(scan: ScanResult) -> tuple[Path, ...]:
    """The DICOM ECG waveform files of a scan (12-lead, general, ambulatory)."""
    from engine.dicom.waveform import ECG_SOP_CLASSES

    return tuple(
        inst.path
        for series in scan.series
        if not series.is_image
        for inst in series.instances
        if inst.sop_class_uid in ECG_SOP_CLASSES or series.modality.upper() == "ECG"
    )


def series_refs(scan: ScanResult) -> list[SeriesRef]:
    """Every image series of ``scan`` with its patient and study, in browser order."""
    return [
        SeriesRef(patient, study, series)
        for patient in scan.patients
        for study in patient.studies
        for series in study.series
        if series.is_image
    ]


def open_study(
    paths: list[Path],
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    partial: Callable[[object], None] | None = None,
) -> StudyOpened | EcgFound:
    """Scan files, folders or DICOMDIRs and load their first image series.

    Files that hold DICOM ECG waveforms and no image give an :class:`EcgFound`
    (the ECG view reads them).

    Each file is read once (:func:`engine.dicom.scan_and_load`): its header, and
    the pixels of the series of the first image. ``partial`` receives a
    :class:`FirstSliceLoaded` with that first image as soon as it is read (its
    ``ref`` is the first file's series alone: one slice), then a
    :class:`ScanFound` when every file is read, before the volume is returned.
    Bad files are listed in the scan's problems and skipped.

    Raises
    ------
    DicomError
        When no image could be found (the first bad file's own error when
        every file was bad).
    """
    from engine.dicom import read_image, scan_and_load

    paths = [Path(p) for p in paths]

    def preview(first: FirstSlice) -> None:
        refs = series_refs(first.scan) if first.scan is not None else []
        if partial is not None and refs:
            partial(FirstSliceLoaded(refs[0], first))

    # one pass: the headers, and the pixels of the first series, read together
    opened = scan_and_load(paths, sub_progress(progress, 0.0, 0.9), cancel, preview)
    scan = opened.scan
    check_cancelled(cancel)
    refs = series_refs(scan)
    if not refs:
        ecgs = ecg_waveform_paths(scan)
        if ecgs:  # a DICOM ECG: the caller opens it in the ECG view
            return EcgFound(scan, ecgs, tuple(paths))
        if scan.problems:
            # the first bad file's own error, with its technical cause
            read_image(scan.problems[0][0])
        names = ", ".join(p.name for p in paths[:3])
        if scan.n_files and scan.non_image_files:
            raise UnsupportedDicomError(
                f"{names} holds no images (only reports, waveforms or other objects).",
                f"{scan.non_image_files} non-image DICOM file(s)",
            )
        raise NotDicomError(f"No DICOM image was found in {names}.")
    if partial is not None:
        partial(ScanFound(scan, tuple(paths)))
    if opened.volume is not None and opened.volume.series is refs[0].series:
        progress(1.0, f"Loaded {opened.volume.n_slices} images")
        return StudyOpened(scan, LoadedView(refs[0], volume=opened.volume), tuple(paths))
    view = load_view(
        refs[0], progress=sub_progress(progress, 0.9, 1.0), cancel=cancel, partial=partial
    )
    return StudyOpened(scan, view, tuple(paths))


def load_view(
    ref: SeriesRef,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    partial: Callable[[object], None] | None = None,
) -> LoadedView:
    """Load a series for the viewer: one file decoded, or every slice of a series.

    A grayscale series of several files is loaded with
    :func:`engine.dicom.load_series`; its first slice goes to ``partial`` (a
    :class:`FirstSliceLoaded`) before the others are decoded. A single file
    (including multi-frame files) is decoded whole. A colour series, or one
    mixing image sizes, shows its first file with a ``note``.
    A colour series of several files is read file by file into ``images``
    (when it fits :data:`engine.dicom.MAX_PIXEL_BYTES`).
    """
    from engine.dicom import MAX_PIXEL_BYTES, load_series, read_image

    series = ref.series
    check_cancelled(cancel)
    if len(series.instances) == 1:
        progress(0.0, f"Reading {series.instances[0].path.name}")
        image = read_image(series.instances[0].path)
        progress(1.0, "Image loaded")
        return LoadedView(ref, image=image)
    colour = any(not s.instance.is_grayscale for s in series.slices)
    if colour and not series.mixed_sizes:
        files = list(dict.fromkeys(s.instance.path for s in series.slices))
        rows, cols = series.shape or (0, 0)
        needed = sum(s.instance.samples_per_pixel for s in series.slices) * rows * cols
        if needed <= MAX_PIXEL_BYTES:
            images = []
            for n, path in enumerate(files):
                check_cancelled(cancel)
                progress(n / len(files), f"Reading {path.name}")
                images.append(read_image(path))
            progress(1.0, f"Loaded {len(files)} images")
            return LoadedView(ref, images=tuple(images))
    if colour or series.mixed_sizes:
        note = "mixed sizes" if series.mixed_sizes else "colour"
        image = read_image(series.slices[0].instance.path)
        return LoadedView(ref, image=image, note=note)

    def first_slice(first: FirstSlice) -> None:
        if partial is not None:
            partial(FirstSliceLoaded(ref, first))

    volume = load_series(series, progress, cancel, on_first_slice=first_slice)
    return LoadedView(ref, volume=volume)


def series_thumbnails(
    series: list[Series],
    size: int = 64,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    partial: Callable[[object], None] | None = None,
) -> dict[str, np.ndarray]:
    """A small 8-bit picture of each series' middle image, keyed by Series Instance UID.

    Each one goes to ``partial`` as ``(uid, pixels)`` as soon as it is made;
    a series whose image cannot be read gets none.
    """
    from engine.dicom import read_image, render_8bit

    out: dict[str, np.ndarray] = {}
    for n, s in enumerate(series):
        check_cancelled(cancel)
        progress(n / max(len(series), 1), f"Thumbnail of {s.label}")
        if not s.slices:
            continue
        ref = s.slices[len(s.slices) // 2]
        try:
            image = read_image(ref.instance.path)
        except DicomError:
            continue
        pixels = render_8bit(image, min(ref.frame, image.n_frames - 1))
        step = max(1, int(np.ceil(max(pixels.shape[:2]) / size)))
        thumb = np.ascontiguousarray(pixels[::step, ::step])
        out[s.series_instance_uid] = thumb
        if partial is not None:
            partial((s.series_instance_uid, thumb))
    progress(1.0, "Thumbnails ready")
    return out


def dataset_tree(
    path: Path, *, progress: Progress = no_progress, cancel: CancelToken | None = None
):
    """Every data element of a DICOM file as a tree (for the tag browser)."""
    from engine.dicom import dataset_tree as tree

    check_cancelled(cancel)
    progress(0.0, f"Reading the tags of {Path(path).name}")
    return tree(path)
