"""What the viewer shows: a stack of 2-D frames with their metadata (no Qt here).

A stack comes from one decoded file (:class:`engine.dicom.DicomImage`, one
or many frames) or from one loaded series (:class:`engine.dicom.Volume`),
possibly still loading (only the first slice is there yet). The viewer
asks it for modality values, windows, spacing and positions per frame and
renders through :meth:`ImageStack.render`, which gives exactly the engine's
``window_to_8bit`` output but through a lookup table over the integer
values, so scrolling and window/level stay fast on large images.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.dicom import SpacingInfo, Window, full_range_window, window_to_8bit

if TYPE_CHECKING:  # these need pydicom, which loads with the first file opened
    from engine.dicom import DicomImage, FirstSlice, Patient, Series, Study, Volume

#: Integer-valued frames whose range spans at most this many values render through a LUT.
MAX_LUT_SIZE = 1 << 16


@dataclass(frozen=True)
class StackInfo:
    """Text the overlays show; identifying fields are the ones hidden on request."""

    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    sex: str = ""
    study_description: str = ""
    study_date: str = ""
    accession_number: str = ""
    series_description: str = ""
    series_number: int | None = None
    modality: str = ""
    body_part: str = ""
    view_position: str = ""
    units: str = ""
    problems: tuple[str, ...] = ()


def info_for(patient: Patient, study: Study, series: Series) -> StackInfo:
    """Overlay text of a series found by a scan."""
    return StackInfo(
        patient_name=patient.name.replace("^", " ").strip(),
        patient_id=patient.patient_id,
        birth_date=patient.birth_date,
        sex=patient.sex,
        study_description=study.description,
        study_date=study.date,
        accession_number=study.accession_number,
        series_description=series.description,
        series_number=series.series_number,
        modality=series.modality,
        body_part=series.body_part,
        units="HU" if series.modality == "CT" else "",
        problems=series.problems,
    )


@dataclass(eq=False)
class ImageStack:
    """Frames of one image or series, in display order.

    Attributes
    ----------
    n_frames, shape, is_color
        Geometry of the stack.
    info
        Overlay text.
    image
        The decoded file when the stack is one file, else ``None``.
    series
        The series when the stack is a loaded series, else ``None``.
    sources
        ``(file, frame in that file)`` per frame (for the tag browser and
        for analysis).
    """

    n_frames: int
    shape: tuple[int, int]
    is_color: bool
    inverted: bool
    info: StackInfo
    sources: tuple[tuple[Path, int], ...]
    image: DicomImage | None = None
    series: Series | None = None
    volume: Volume | None = None
    _frames: np.ndarray | list[np.ndarray] | None = None
    _partial: dict[int, np.ndarray] = field(default_factory=dict)
    _windows: tuple[tuple[Window, ...], ...] = ()
    _spacing: tuple[SpacingInfo, ...] = ()
    _positions: tuple[tuple[float, float, float] | None, ...] = ()
    _thickness: float | None = None
    _lut_key: tuple | None = None
    _lut: np.ndarray | None = None
    _codes: dict[int, tuple[np.ndarray, int] | None] = field(default_factory=dict)

    # --- construction -------------------------------------------------------
    @classmethod
    def from_image(cls, image: DicomImage, info: StackInfo | None = None) -> ImageStack:
        """A stack of the frames of one decoded file."""
        n = image.n_frames
        infos = [image.info(i) for i in range(n)]
        units = image.units or ("HU" if image.modality == "CT" else "")
        base = StackInfo(
            patient_name=image.patient_name,
            patient_id=image.patient_id,
            study_description=image.study_description,
            study_date=image.study_date,
            series_description=image.series_description,
            modality=image.modality,
            body_part=image.body_part,
            view_position=image.view_position,
            units=units,
        )
        if info is not None:
            base = replace(
                info,
                modality=info.modality or base.modality,
                view_position=base.view_position,
                body_part=info.body_part or base.body_part,
                units=units,
            )
        return cls(
            n_frames=n,
            shape=image.shape,
            is_color=image.is_color,
            inverted=image.inverted,
            info=base,
            sources=tuple((image.path, i) for i in range(n)),
            image=image,
            _frames=image.frames,
            _windows=tuple(image.frame_windows(i) for i in range(n)),
            _spacing=tuple(i.spacing for i in infos),
            _positions=tuple(i.position for i in infos),
            _thickness=infos[0].slice_thickness if infos else None,
        )

    @classmethod
    def from_images(
        cls, images: list[DicomImage] | tuple[DicomImage, ...], series: Series, info: StackInfo
    ) -> ImageStack:
        """The frames of several files of one series (a colour series), in series order.

        All images must have the same size and be all colour or all grey.
        """
        first = images[0]
        parts = [(im, j) for im in images for j in range(im.n_frames)]
        if any(im.shape != first.shape or im.is_color != first.is_color for im in images):
            raise ValueError("images of different sizes or colour models cannot form one stack")
        return cls(
            n_frames=len(parts),
            shape=first.shape,
            is_color=first.is_color,
            inverted=first.inverted,
            info=replace(info, problems=series.problems),
            sources=tuple((im.path, j) for im, j in parts),
            series=series,
            _frames=[im.frames[j] for im, j in parts],  # views, no copy
            _windows=tuple(im.frame_windows(j) for im, j in parts),
            _spacing=tuple(im.info(j).spacing for im, j in parts),
            _positions=tuple(im.info(j).position for im, j in parts),
            _thickness=first.info(0).slice_thickness,
        )

    @classmethod
    def from_first_slice(cls, first: FirstSlice, series: Series, info: StackInfo) -> ImageStack:
        """A series still loading: only slice ``first.index`` has pixels yet."""
        n = first.n_slices
        return cls(
            n_frames=n,
            shape=(int(first.pixels.shape[0]), int(first.pixels.shape[1])),
            is_color=False,
            inverted=first.inverted,
            info=replace(info, problems=series.problems),
            sources=tuple((s.instance.path, s.frame) for s in series.slices),
            series=series,
            _partial={first.index: first.pixels},
            _windows=(first.windows,) * n,
            _spacing=(series.spacing,) * n,
            _positions=tuple(s.position for s in series.slices),
            _thickness=series.slices[0].instance.slice_thickness if series.slices else None,
        )

    @classmethod
    def from_volume(cls, volume: Volume, info: StackInfo) -> ImageStack:
        """A loaded series."""
        series = volume.series
        n = volume.n_slices
        return cls(
            n_frames=n,
            shape=(int(volume.voxels.shape[1]), int(volume.voxels.shape[2])),
            is_color=False,
            inverted=volume.inverted,
            info=replace(info, problems=series.problems),
            sources=tuple((s.instance.path, s.frame) for s in series.slices),
            series=series,
            volume=volume,
            _frames=volume.voxels,
            _windows=(volume.windows,) * n,
            _spacing=(series.spacing,) * n,
            _positions=tuple(volume.positions),
            _thickness=series.slices[0].instance.slice_thickness if series.slices else None,
        )

    # --- per frame ----------------------------------------------------------
    @property
    def loading(self) -> bool:
        """Whether only some frames have pixels yet."""
        return self._frames is None

    def is_loaded(self, index: int) -> bool:
        """Whether frame ``index`` has pixels."""
        return self._frames is not None or index in self._partial

    def values(self, index: int) -> np.ndarray | None:
        """Modality values ``(rows, cols)`` (or RGB ``(rows, cols, 3)``), ``None`` while loading."""
        if self._frames is not None:
            return self._frames[index]
        return self._partial.get(index)

    def windows(self, index: int) -> tuple[Window, ...]:
        """The file's windows and VOI LUTs for frame ``index``."""
        if not self._windows:
            return ()
        return self._windows[min(index, len(self._windows) - 1)]

    def default_window(self, index: int) -> Window | None:
        """The frame's first window, else its full range (``None`` for colour or not loaded)."""
        if self.is_color:
            return None
        windows = self.windows(index)
        if windows:
            return windows[0]
        values = self.values(index)
        return None if values is None else full_range_window(values)

    def spacing(self, index: int) -> SpacingInfo:
        """Measurement spacing of frame ``index``."""
        if not self._spacing:
            return SpacingInfo()
        return self._spacing[min(index, len(self._spacing) - 1)]

    def position(self, index: int) -> tuple[float, float, float] | None:
        """Image Position (Patient) of frame ``index``."""
        if not self._positions:
            return None
        return self._positions[min(index, len(self._positions) - 1)]

    @property
    def slice_thickness(self) -> float | None:
        """Slice thickness in mm, if given."""
        return self._thickness

    def slice_location(self, index: int) -> float | None:
        """Position along the slice normal (mm), for the overlay, if known."""
        pos = self.position(index)
        if pos is None:
            return None
        if self.series is not None and self.series.orientation is not None:
            o = np.asarray(self.series.orientation, dtype=np.float64)
            normal = np.cross(o[:3], o[3:6])
            return float(np.dot(normal, np.asarray(pos, dtype=np.float64)))
        return float(pos[2])

    # --- rendering ------------------------------------------------------------
    def render(self, index: int, window: Window | None, invert: bool = False) -> np.ndarray | None:
        """Frame ``index`` as shown: uint8 grey ``(rows, cols)`` or RGB ``(rows, cols, 3)``.

        Equal to ``window_to_8bit(values, window, invert=inverted != invert)``;
        ``invert`` is the user's extra inversion. ``None`` while not loaded.
        """
        values = self.values(index)
        if values is None:
            return None
        if self.is_color:
            data = np.ascontiguousarray(values, dtype=np.uint8)
            return 255 - data if invert else data
        if window is None:  # the default window of a grey frame that has its values
            windows = self.windows(index)
            window = windows[0] if windows else full_range_window(values)
        flip = self.inverted != invert
        codes = self._integer_codes(index, values)
        if codes is None:
            return window_to_8bit(values, window, invert=flip)
        code_array, offset = codes
        lut = self._lookup(window, flip, offset, code_array.dtype)
        return np.take(lut, code_array)

    def _integer_codes(self, index: int, values: np.ndarray) -> tuple[np.ndarray, int] | None:
        """An unsigned integer view of the frame and the value of code 0, if the values allow."""
        if values.dtype == np.int16:
            return values.view(np.uint16), -(1 << 15)  # two's complement: see _lookup
        if values.dtype in (np.uint8, np.uint16):
            return values, 0
        if index in self._codes and self._frames is not None:
            return self._codes[index]
        result: tuple[np.ndarray, int] | None = None
        if values.dtype.kind == "f" and values.size:
            lo, hi = float(np.min(values)), float(np.max(values))
            if np.isfinite(lo) and np.isfinite(hi) and hi - lo < MAX_LUT_SIZE:
                low = int(np.floor(lo))
                shifted = values - np.float32(low)
                codes = shifted.astype(np.uint16)
                if np.array_equal(codes, shifted):
                    result = codes, low
        if self._frames is not None:
            self._codes[index] = result
        return result

    def _lookup(self, window: Window, invert: bool, offset: int, dtype: np.dtype) -> np.ndarray:
        key = (id(window.lut), window.center, window.width, window.function, invert, offset, dtype)
        if key != self._lut_key or self._lut is None:
            size = 256 if dtype == np.uint8 else 1 << 16
            if offset == -(1 << 15):
                # int16 frames are read as uint16 bit patterns: code k is value k as int16
                levels = np.arange(size, dtype=np.uint16).view(np.int16).astype(np.float32)
            else:
                levels = np.arange(size, dtype=np.float32) + np.float32(offset)
            self._lut = window_to_8bit(levels, window, invert=invert)
            self._lut_key = key
        return self._lut
