"""Find DICOM files and group them patient → study → series, headers only.

:func:`scan_paths` walks files, folders (recursively, guarding symlink
loops) and DICOMDIR indexes, reads only headers (``stop_before_pixels``),
continues past bad files and reports each as ``(path, user message)``.
Each :class:`Series` orders its slices along the slice normal (falling back
to instance number, then file name) and flags gaps, non-uniform spacing,
mixed orientations, duplicate instances, inconsistent pixel spacing and
mixed image sizes.
"""

from __future__ import annotations

import os
import statistics
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.dicom.fastheader import read_scan_header
from engine.dicom.files import (
    Header,
    first_item,
    integer,
    is_dicomdir,
    is_image_storage,
    number,
    quoted,
    text,
    transfer_syntax,
)
from engine.dicom.geometry import (
    SpacingInfo,
    orientation_of,
    position_of,
    same_orientation,
    slice_normal,
    spacing_info,
)
from engine.dicom.pictures import (
    SECONDARY_CAPTURE,
    is_picture,
    picture_grouping,
    picture_size,
    picture_uid,
)
from engine.dicom.pixels import (
    ModalityTransform,
    Window,
    modality_transform,
    parse_voi_luts,
    parse_windows,
)
from engine.dicom.walk import collect_files as _collect
from engine.errors import CorruptDicomError, DicomError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

#: Relative tolerance on slice spacing before it is called non-uniform.
SPACING_TOLERANCE = 0.01
#: A step larger than this many times the usual spacing is a gap.
GAP_FACTOR = 1.5
#: Segmentation Storage: pixel data that is a layer on another image, not an image to show.
_SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"


@dataclass(frozen=True)
class Instance:
    """One DICOM file, as its header describes it."""

    path: Path
    sop_instance_uid: str
    sop_class_uid: str
    instance_number: int | None
    modality: str
    transfer_syntax: str
    has_pixel_data: bool
    pixel_offset: int | None
    rows: int
    columns: int
    n_frames: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    photometric: str
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    spacing: SpacingInfo
    slice_thickness: float | None
    rescale: ModalityTransform
    windows: tuple[Window, ...]
    enhanced: bool = False
    frame_positions: tuple[tuple[float, float, float] | None, ...] = ()
    acquisition_number: int | None = None
    image_type: str = ""
    presentation_lut_shape: str = ""

    @property
    def is_grayscale(self) -> bool:
        """Whether the pixels are MONOCHROME1/2."""
        return self.photometric in ("MONOCHROME1", "MONOCHROME2")

    @property
    def inverted(self) -> bool:
        """Whether display inverts the VOI output (MONOCHROME1 or Presentation LUT INVERSE)."""
        return self.photometric == "MONOCHROME1" or self.presentation_lut_shape == "INVERSE"


@dataclass(frozen=True)
class SliceRef:
    """One 2-D slice of a series: a frame of an instance, and where it lies."""

    instance: Instance
    frame: int
    position: tuple[float, float, float] | None


@dataclass(frozen=True)
class Series:
    """The images of one series, ordered, with what is odd about their geometry.

    Attributes
    ----------
    instances
        All files of the series (duplicates removed), images in slice order.
    slices
        Every frame of every image, in display order.
    ordered_by
        ``position`` (along the slice normal), ``instance number`` or ``file name``.
    slice_spacing
        Usual distance between consecutive slices in mm (median), if known.
    problems
        Plain-language findings: gaps, non-uniform spacing, mixed orientations,
        duplicates, inconsistent pixel spacing, mixed sizes.
    """

    series_instance_uid: str
    series_number: int | None
    description: str
    modality: str
    instances: tuple[Instance, ...]
    slices: tuple[SliceRef, ...]
    ordered_by: str
    slice_spacing: float | None
    spacing: SpacingInfo
    orientation: tuple[float, ...] | None
    problems: tuple[str, ...] = ()
    has_gaps: bool = False
    non_uniform_spacing: bool = False
    mixed_orientations: bool = False
    duplicate_instances: int = 0
    inconsistent_pixel_spacing: bool = False
    mixed_sizes: bool = False
    study_instance_uid: str = ""
    body_part: str = ""

    @property
    def n_images(self) -> int:
        """Number of 2-D slices (frames) with pixels."""
        return len(self.slices)

    @property
    def is_image(self) -> bool:
        """Whether the series holds images to show: pixel data, and not only segmentations.

        A segmentation (an AI heat map, say) is shown as a layer on the image it
        was made from, not as an image series of its own.
        """
        # (the first file tells: a series is one kind of object; this is asked per file read)
        return bool(self.slices) and self.instances[0].sop_class_uid != _SEGMENTATION

    @property
    def shape(self) -> tuple[int, int] | None:
        """``(rows, columns)`` of the first slice."""
        if not self.slices:
            return None
        first = self.slices[0].instance
        return first.rows, first.columns

    @property
    def label(self) -> str:
        """A short human-readable name: "CT 3 — Chest (120 images)"."""
        number_part = f" {self.series_number}" if self.series_number is not None else ""
        desc = f" — {self.description}" if self.description else ""
        return f"{self.modality or 'Series'}{number_part}{desc} ({self.n_images} images)"


@dataclass(frozen=True)
class Study:
    """One study: its series, ordered by series number."""

    study_instance_uid: str
    date: str
    time: str
    description: str
    accession_number: str
    series: tuple[Series, ...]


@dataclass(frozen=True)
class Patient:
    """One patient and their studies."""

    patient_id: str
    name: str
    birth_date: str
    sex: str
    studies: tuple[Study, ...]


@dataclass(frozen=True)
class ScanResult:
    """What a set of files, folders and DICOMDIRs holds.

    Attributes
    ----------
    patients
        Patient → study → series.
    problems
        ``(path, user message)`` for every file that could not be used.
    n_files
        Number of files looked at.
    """

    patients: tuple[Patient, ...]
    problems: tuple[tuple[Path, str], ...] = ()
    n_files: int = 0
    non_image_files: int = field(default=0)

    @property
    def studies(self) -> tuple[Study, ...]:
        """Every study, patient by patient."""
        return tuple(s for p in self.patients for s in p.studies)

    @property
    def series(self) -> tuple[Series, ...]:
        """Every series, study by study."""
        return tuple(se for st in self.studies for se in st.series)

    @property
    def image_series(self) -> tuple[Series, ...]:
        """The series that hold images."""
        return tuple(s for s in self.series if s.is_image)


# --- headers → instances --------------------------------------------------------
def _int_or_none(ds, keyword: str) -> int | None:
    value = number(ds, keyword)
    return None if value is None else int(value)


#: Most frames one file may declare (each becomes a slice of its series).
MAX_FRAMES = 100_000


def _check_frame_count(path: Path, header: Header, n_frames: int) -> None:
    """Refuse a Number of Frames the file cannot hold, before making a slice per frame.

    Found by fuzzing: one 40 KB file declaring 10⁸ frames made the scan build
    10⁸ slices (minutes and gigabytes). Uncompressed frames need their full
    size in the file, compressed ones at least an 8-byte fragment each.
    """
    if n_frames <= 1:
        return
    ds = header.ds
    frame_bits = (
        max(integer(ds, "Rows"), 0)
        * max(integer(ds, "Columns"), 0)
        * max(integer(ds, "SamplesPerPixel", 1), 1)
        * max(integer(ds, "BitsAllocated", 8), 1)
    )
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    deflated = str(transfer_syntax(ds)) == "1.2.840.10008.1.2.1.99"
    room = size - (header.pixel_offset or 0)
    # native little endian (pixel offset known): whole frames; else ≥ 8 bytes (a fragment) each
    need = frame_bits / 8 if header.pixel_offset is not None else min(frame_bits / 8, 8)
    fits = deflated or not header.has_pixel_data or n_frames * need <= room
    if n_frames > MAX_FRAMES or not fits:
        raise CorruptDicomError(
            f"{quoted(path)} declares {n_frames:,} frames, more than the file can hold; "
            "it is damaged and was skipped.",
            f"Number of Frames {n_frames}, {size} bytes in the file",
        )


def instance_from_header(path: Path, header: Header) -> Instance:
    """Summarise a header as an :class:`Instance`."""
    ds = header.ds
    shared = first_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or ()
    first_frame = per_frame[0] if per_frame else None
    n_frames = max(integer(ds, "NumberOfFrames", 1), 1)
    _check_frame_count(path, header, n_frames)
    frame_positions: tuple = ()
    if per_frame:
        frame_positions = tuple(
            position_of(ds, per_frame[i] if i < len(per_frame) else None, shared)
            for i in range(n_frames)
        )
    signed = integer(ds, "PixelRepresentation") == 1
    windows: tuple[Window, ...] = ()
    voi = first_item(first_frame, "FrameVOILUTSequence") or first_item(
        shared, "FrameVOILUTSequence"
    )
    if voi is not None:
        windows = parse_windows(voi)
    windows = windows or (parse_windows(ds) + parse_voi_luts(ds, signed_input=signed))
    bits_allocated = integer(ds, "BitsAllocated", 0)
    meta = getattr(ds, "file_meta", None)
    return Instance(
        path=path,
        sop_instance_uid=text(ds, "SOPInstanceUID")
        or (text(meta, "MediaStorageSOPInstanceUID") if meta is not None else ""),
        sop_class_uid=text(ds, "SOPClassUID")
        or (text(meta, "MediaStorageSOPClassUID") if meta is not None else ""),
        instance_number=_int_or_none(ds, "InstanceNumber"),
        modality=text(ds, "Modality"),
        transfer_syntax=str(transfer_syntax(ds)),
        has_pixel_data=header.has_pixel_data and integer(ds, "Rows") > 0,
        pixel_offset=header.pixel_offset,
        rows=integer(ds, "Rows"),
        columns=integer(ds, "Columns"),
        n_frames=n_frames,
        samples_per_pixel=max(integer(ds, "SamplesPerPixel", 1), 1),
        bits_allocated=bits_allocated,
        bits_stored=integer(ds, "BitsStored", bits_allocated),
        pixel_representation=integer(ds, "PixelRepresentation"),
        photometric=(text(ds, "PhotometricInterpretation") or "MONOCHROME2").upper(),
        position=position_of(ds, first_frame, shared),
        orientation=orientation_of(ds, first_frame, shared),
        spacing=spacing_info(ds, first_frame, shared),
        slice_thickness=number(ds, "SliceThickness"),
        rescale=modality_transform(ds, first_frame, shared),
        windows=windows,
        enhanced=bool(per_frame),
        frame_positions=frame_positions,
        acquisition_number=_int_or_none(ds, "AcquisitionNumber"),
        image_type=text(ds, "ImageType"),
        presentation_lut_shape=text(ds, "PresentationLUTShape").upper(),
    )


#: The header values that differ from slice to slice of an ordinary series.
PER_SLICE_VALUES = frozenset({"SOPInstanceUID", "InstanceNumber", "ImagePositionPatient"})


def instance_like(previous: Instance, path: Path, header: Header) -> Instance:
    """:func:`instance_from_header` for a header whose values other than
    :data:`PER_SLICE_VALUES` equal those ``previous`` was made from (a slice of
    the same series): only the per-slice fields are read again.

    The caller checks the equality; ``previous`` must be a single-frame,
    non-enhanced image, and ``header`` not truncated.
    """
    ds = header.ds
    meta = getattr(ds, "file_meta", None)
    return replace(
        previous,
        path=path,
        sop_instance_uid=text(ds, "SOPInstanceUID")
        or (text(meta, "MediaStorageSOPInstanceUID") if meta is not None else ""),
        instance_number=_int_or_none(ds, "InstanceNumber"),
        has_pixel_data=header.has_pixel_data and previous.rows > 0,
        pixel_offset=header.pixel_offset,
        position=position_of(ds, None, None),
    )


# --- series geometry --------------------------------------------------------------
def build_series(
    instances: list[Instance],
    *,
    uid: str = "",
    number: int | None = None,
    description: str = "",
    modality: str = "",
    study_uid: str = "",
    body_part: str = "",
) -> Series:
    """Order instances into a :class:`Series` and flag its geometry problems."""
    problems: list[str] = []
    by_uid: dict[str, Instance] = {}
    kept: list[Instance] = []
    duplicates = 0
    for inst in sorted(instances, key=lambda i: str(i.path)):
        if inst.sop_instance_uid and inst.sop_instance_uid in by_uid:
            duplicates += 1
            continue
        if inst.sop_instance_uid:
            by_uid[inst.sop_instance_uid] = inst
        kept.append(inst)
    if duplicates:
        problems.append(
            f"{duplicates} file(s) repeat an image already in the series (same SOP Instance "
            "UID) and were ignored."
        )
    images = [i for i in kept if i.has_pixel_data]
    others = [i for i in kept if not i.has_pixel_data]

    slices = [
        SliceRef(inst, f, inst.frame_positions[f] if inst.frame_positions else inst.position)
        for inst in images
        for f in range(inst.n_frames)
    ]
    orientations = [s.instance.orientation for s in slices if s.instance.orientation]
    mixed_orientations = any(not same_orientation(orientations[0], o) for o in orientations[1:])
    if mixed_orientations:
        problems.append(
            "Images have different orientations (e.g. a localizer or several planes in one "
            "series); slices are ordered by instance number, not by position."
        )
    sizes = {(s.instance.rows, s.instance.columns) for s in slices}
    mixed_sizes = len(sizes) > 1
    if mixed_sizes:
        listed = ", ".join(f"{r}×{c}" for r, c in sorted(sizes))
        problems.append(f"Images have different sizes ({listed}); they cannot form one volume.")
    spacings = {
        tuple(round(v, 4) for v in s.instance.spacing.spacing)
        for s in slices
        if s.instance.spacing.spacing
    }
    inconsistent_spacing = len(spacings) > 1
    if inconsistent_spacing:
        problems.append(
            "Pixel spacing differs between images ("
            + ", ".join(f"{a:g}×{b:g} mm" for a, b in sorted(spacings))
            + "); measurements across images may disagree."
        )

    by_position = (
        len(slices) > 1
        and not mixed_orientations
        and all(s.position is not None for s in slices)
        and orientations
        and len(orientations) == len(slices)
    )
    slice_spacing = None
    has_gaps = non_uniform = False
    if by_position:
        normal = slice_normal(orientations[0])
        keyed = [(float(np.dot(np.asarray(s.position), normal)), _number_key(s), s) for s in slices]
        keyed.sort(key=lambda k: (k[0], k[1]))
        slices = [k[2] for k in keyed]
        ordered_by = "position"
        slice_spacing, has_gaps, non_uniform, found = _spacing_findings([k[0] for k in keyed])
        problems.extend(found)
    elif len(slices) > 1 and all(s.instance.instance_number is not None for s in slices):
        slices.sort(key=_number_key)
        ordered_by = "instance number"
    else:
        slices.sort(key=lambda s: (str(s.instance.path), s.frame))
        ordered_by = "file name" if len(slices) > 1 else "position"

    order = {id(s.instance): i for i, s in enumerate(slices)}
    images.sort(key=lambda inst: order.get(id(inst), 0))
    first = slices[0].instance if slices else (kept[0] if kept else None)
    return Series(
        series_instance_uid=uid,
        series_number=number,
        description=description,
        modality=modality,
        instances=tuple(images + others),
        slices=tuple(slices),
        ordered_by=ordered_by,
        slice_spacing=slice_spacing,
        spacing=first.spacing if first else SpacingInfo(),
        orientation=first.orientation if first else None,
        problems=tuple(problems),
        has_gaps=has_gaps,
        non_uniform_spacing=non_uniform,
        mixed_orientations=mixed_orientations,
        duplicate_instances=duplicates,
        inconsistent_pixel_spacing=inconsistent_spacing,
        mixed_sizes=mixed_sizes,
        study_instance_uid=study_uid,
        body_part=body_part,
    )


def _number_key(s: SliceRef) -> tuple[int, int, str]:
    n = s.instance.instance_number
    return (n if n is not None else 0, s.frame, str(s.instance.path))


def _spacing_findings(positions: list[float]) -> tuple[float | None, bool, bool, list[str]]:
    if len(positions) < 2:
        return None, False, False, []
    steps = np.diff(np.asarray(positions))
    found = []
    same = int(np.count_nonzero(steps < 1e-3))
    if same:
        found.append(
            f"{same} image(s) lie at the same position as another image (several "
            "acquisitions or time points in one series?)."
        )
    moving = steps[steps >= 1e-3]
    if moving.size == 0:
        return None, False, False, found
    usual = float(statistics.median(moving.tolist()))  # np.median imports numpy.ma: 15-50 ms
    tolerance = max(SPACING_TOLERANCE * usual, 0.01)
    gaps = np.nonzero(moving > GAP_FACTOR * usual)[0]
    uneven = np.nonzero(np.abs(moving - usual) > tolerance)[0]
    has_gaps = gaps.size > 0
    if has_gaps:
        biggest = float(moving.max())
        found.append(
            f"{gaps.size} gap(s) between slices: up to {biggest:.2f} mm where the usual "
            f"spacing is {usual:.2f} mm (missing slices?)."
        )
    non_uniform = uneven.size > gaps.size
    if non_uniform:
        found.append(
            f"Slice spacing is not uniform: {float(moving.min()):.2f} to "
            f"{float(moving.max()):.2f} mm (usual {usual:.2f} mm); 3-D views and distances "
            "along the stack may be distorted."
        )
    return usual, has_gaps, non_uniform, found


# --- grouping -------------------------------------------------------------------
def scan_paths(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ScanResult:
    """Find DICOM files and group them patient → study → series.

    Parameters
    ----------
    paths
        Files, folders (searched recursively) and DICOMDIR files.
    progress, cancel
        Progress reports per file; cancel is checked between files.

    Returns
    -------
    ScanResult
        Patients, studies and ordered series, plus ``(path, message)`` for
        every file that could not be used. Only headers are read.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    problems: list[tuple[Path, str]] = []
    progress(0.0, "Looking for DICOM files")
    paths = list(paths)
    pictures = [Path(p) for p in paths if is_picture(p) and Path(p).is_file()]
    files = _collect([p for p in paths if Path(p) not in pictures], problems)
    check_cancelled(cancel)
    rows: list[tuple[Instance, dict[str, str]]] = _picture_rows(pictures, problems)
    non_image = 0
    total = max(len(files), 1)
    for n, path in enumerate(files):
        check_cancelled(cancel)
        if n % 16 == 0:
            progress(n / total, f"Reading {path.name}")
        try:
            row = read_instance(path)
        except DicomError as exc:
            problems.append((path, exc.user_message))
            continue
        if row is None:
            continue
        inst = row[0]
        if not inst.has_pixel_data:
            non_image += 1
        rows.append(row)
    progress(1.0, f"{len(rows)} DICOM files found")
    return ScanResult(
        patients=_group(rows),
        problems=tuple(problems),
        n_files=len(files) + len(pictures),
        non_image_files=non_image,
    )


def read_instance(path: Path) -> tuple[Instance, dict[str, str]] | None:
    """One file's :class:`Instance` and grouping values (``None`` for a DICOMDIR).

    Raises
    ------
    DicomError
        Naming the file: not DICOM, damaged, truncated, malformed header.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return instance_row(path, read_scan_header(path))


def instance_row(path: Path, header: Header) -> tuple[Instance, dict[str, str]] | None:
    """A header's :class:`Instance` and grouping values (``None`` for a DICOMDIR).

    Raises
    ------
    DicomError
        Naming the file: truncated pixel data, malformed header.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if is_dicomdir(header.ds):
                return None
            if header.truncated or (not header.has_pixel_data and is_image_storage(header.ds)):
                raise CorruptDicomError(
                    f"{quoted(path)} is an image file whose pixel data is missing or "
                    "incomplete; it is probably truncated.",
                    "file ends before the end of the Pixel Data element",
                )
            return instance_from_header(path, header), _grouping(header.ds, path)
    except DicomError:
        raise
    except Exception as exc:  # a malformed header must not stop the scan
        raise CorruptDicomError(
            f"{quoted(path)} has a malformed header ({type(exc).__name__}).", repr(exc)
        ) from exc


def _picture_rows(
    pictures: list[Path], problems: list[tuple[Path, str]]
) -> list[tuple[Instance, dict[str, str]]]:
    rows = []
    for path in pictures:  # explicit PNG/JPEG files: secondary images (engine.dicom.pictures)
        try:
            n_rows, n_cols, samples = picture_size(path)
        except DicomError as exc:
            problems.append((path, exc.user_message))
            continue
        inst = Instance(
            path=path, sop_instance_uid=picture_uid(path, "image"),
            sop_class_uid=SECONDARY_CAPTURE, instance_number=1, modality="", transfer_syntax="",
            has_pixel_data=True, pixel_offset=None, rows=n_rows, columns=n_cols, n_frames=1,
            samples_per_pixel=samples, bits_allocated=8, bits_stored=8, pixel_representation=0,
            photometric="RGB" if samples == 3 else "MONOCHROME2", position=None,
            orientation=None, spacing=SpacingInfo(), slice_thickness=None,
            rescale=ModalityTransform(), windows=(),
        )  # fmt: skip
        rows.append((inst, picture_grouping(path)))
    return rows


def _grouping(ds, path: Path) -> dict[str, str]:
    keys = (
        "PatientID",
        "PatientName",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "StudyDescription",
        "AccessionNumber",
        "SeriesInstanceUID",
        "SeriesNumber",
        "SeriesDescription",
        "Modality",
        "BodyPartExamined",
    )
    out = {k: text(ds, k) for k in keys}
    out["PatientName"] = out["PatientName"].replace("^", " ").strip()
    if not out["SeriesInstanceUID"]:
        out["SeriesInstanceUID"] = f"(no series UID: {path.parent})"
    return out


def _group(rows: list[tuple[Instance, dict[str, str]]]) -> tuple[Patient, ...]:
    tree: dict[tuple[str, str], dict[str, dict[str, list[tuple[Instance, dict[str, str]]]]]] = (
        defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    )
    for inst, g in rows:
        tree[(g["PatientID"], g["PatientName"])][g["StudyInstanceUID"]][
            g["SeriesInstanceUID"]
        ].append((inst, g))
    patients = []
    for (pid, name), studies in tree.items():
        study_objs = []
        for study_uid, series_map in studies.items():
            series_objs = []
            for series_uid, members in series_map.items():
                g = members[0][1]
                number_value = number({"n": g["SeriesNumber"]}, "n") if g["SeriesNumber"] else None
                series_objs.append(
                    build_series(
                        [m[0] for m in members],
                        uid=series_uid,
                        number=int(number_value) if number_value is not None else None,
                        description=g["SeriesDescription"],
                        modality=g["Modality"],
                        study_uid=study_uid,
                        body_part=g["BodyPartExamined"],
                    )
                )
            series_objs.sort(
                key=lambda s: (s.series_number is None, s.series_number or 0, s.series_instance_uid)
            )
            g = next(iter(series_map.values()))[0][1]
            study_objs.append(
                Study(
                    study_instance_uid=study_uid,
                    date=g["StudyDate"],
                    time=g["StudyTime"],
                    description=g["StudyDescription"],
                    accession_number=g["AccessionNumber"],
                    series=tuple(series_objs),
                )
            )
        study_objs.sort(key=lambda s: (s.date, s.time, s.study_instance_uid))
        g = next(iter(next(iter(studies.values())).values()))[0][1]
        patients.append(
            Patient(
                patient_id=pid,
                name=name,
                birth_date=g["PatientBirthDate"],
                sex=g["PatientSex"],
                studies=tuple(study_objs),
            )
        )
    patients.sort(key=lambda p: (p.name, p.patient_id))
    return tuple(patients)
