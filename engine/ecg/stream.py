"""Long ECG records read a stretch at a time.

A 24-hour two-lead Holter at 360 Hz is 62 million samples: ~0.5 GB as the
``float64`` wfdb returns, read whole. The rhythm report needs only one
stretch (minutes) at a time, so :func:`open_stream` gives a
:class:`SignalStream` whose :meth:`~SignalStream.read` returns the samples
of ``[start, stop)`` in mV: a WFDB record is read from disk stretch by
stretch (wfdb seeks to the first sample), a record already in memory (a
:class:`~engine.ecg.signal.Signal`, a DICOM ECG) is sliced without copying.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.ecg.signal import (
    FLAT_MIN_S,
    Signal,
    fill_gaps,
    flat_runs,
    merge_spans,
    normalize_lead_name,
)
from engine.errors import SignalError


class SignalStream(Protocol):
    """A multi-lead ECG read by stretches (samples in mV, ``float32``)."""

    @property
    def leads(self) -> tuple[str, ...]: ...

    @property
    def fs(self) -> float: ...

    @property
    def n_samples(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> Path | None: ...

    def read(self, start: int, stop: int) -> np.ndarray:
        """``(n_leads, stop - start)`` samples of ``[start, stop)`` (clipped to the record)."""
        ...

    def gaps(self, lead: int) -> tuple[tuple[float, float], ...]:
        """The ``(start_s, end_s)`` stretches of lead ``lead`` with no valid sample in the
        file, among those read so far (all of them once the record has been read through)."""
        ...


@dataclass(frozen=True, eq=False)
class MemoryStream:
    """A record already in memory (any object with ``data``, ``leads`` and ``fs``)."""

    data: np.ndarray
    leads: tuple[str, ...]
    fs: float
    name: str = ""
    source: Path | None = None
    #: Per lead, the stretches the record's reader found without valid samples (seconds).
    gaps_s: tuple[tuple[tuple[float, float], ...], ...] = ()

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[-1])

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = max(0, int(start)), min(self.n_samples, int(stop))
        return self.data[:, start : max(start, stop)]

    def gaps(self, lead: int) -> tuple[tuple[float, float], ...]:
        return self.gaps_s[lead] if lead < len(self.gaps_s) else ()


@dataclass(frozen=True, eq=False)
class WfdbStream:
    """A WFDB record on disk, read stretch by stretch (voltage channels only)."""

    record_path: str
    channels: tuple[int, ...]
    to_mv: tuple[float, ...]
    leads: tuple[str, ...]
    fs: float
    n_samples: int
    name: str
    source: Path | None
    #: Per channel row, the invalid-sample spans met by :meth:`read` so far (seconds).
    _gaps: dict[int, list[tuple[float, float]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    #: Per channel row, the runs of one repeated value met so far, those that touch the ends
    #: of a read at any length: a run that crosses two reads is joined before it is judged.
    _flat: dict[int, list[tuple[float, float]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def gaps(self, lead: int) -> tuple[tuple[float, float], ...]:
        runs = merge_spans(self._flat.get(lead, []))
        still = [(a, b) for a, b in runs if b - a >= FLAT_MIN_S - 0.5 / self.fs]
        return merge_spans(self._gaps.get(lead, []) + still)

    def read(self, start: int, stop: int) -> np.ndarray:
        import wfdb

        start, stop = max(0, int(start)), min(self.n_samples, int(stop))
        if stop <= start:
            return np.zeros((len(self.channels), 0), dtype=np.float32)
        try:
            rec = wfdb.rdrecord(
                self.record_path,
                sampfrom=start,
                sampto=stop,
                channels=list(self.channels),
                physical=True,
                m2s=True,
                smooth_frames=True,
            )
        except Exception as exc:
            raise SignalError(
                f"The signals of the ECG record “{self.name}” could not be read at "
                f"{start / self.fs:.0f} s: the files are damaged or truncated.",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        raw = np.asarray(rec.p_signal, dtype=np.float64).T
        out = np.empty(raw.shape, dtype=np.float32)
        for row, scale in enumerate(self.to_mv):
            values, spans = fill_gaps(raw[row], self.fs, start, flat=False)
            if spans:
                self._gaps.setdefault(row, []).extend(spans)
            still = flat_runs(raw[row], self.fs, start, keep_edges=True)
            if still:  # judged in gaps(), as the whole-record reader judges them
                self._flat.setdefault(row, []).extend(still)
            out[row] = values * scale
        return out


def stream_signal(signal: Any, name: str = "") -> MemoryStream:
    """A stream over a record in memory (a :class:`Signal` or anything like it)."""
    data = np.asarray(signal.data)
    if data.ndim == 1:
        data = data[None, :]
    label = name or str(getattr(signal, "record_name", "") or getattr(signal, "name", "") or "")
    source = getattr(signal, "source", None)
    return MemoryStream(
        data, tuple(signal.leads), float(signal.fs), label, Path(source) if source else None,
        tuple(getattr(signal, "gaps", ()) or ()),
    )  # fmt: skip


def open_stream(path: str | os.PathLike[str]) -> SignalStream:
    """A stream over an ECG file: WFDB records by stretches, DICOM ECGs read whole.

    Raises
    ------
    SignalError
        As :func:`engine.ecg.read_signal` does, for a missing or unreadable
        header, missing signal files or a record without an ECG channel.
    """
    import wfdb

    from engine.ecg.io import read_signal
    from engine.ecg.wfdb_io import _TO_MV, _check_signal_files, _signal_names, header_path_for

    p = Path(path)
    header = header_path_for(p)
    if header is None or not header.is_file():
        return stream_signal(read_signal(p))
    record_path = str(header.with_suffix(""))
    try:
        meta = wfdb.rdheader(record_path)
    except Exception:  # a header wfdb needs sanitised: the whole-record reader handles it
        return stream_signal(read_signal(p))
    if getattr(meta, "n_seg", None) is not None:  # multi-segment: read whole
        return stream_signal(read_signal(p))
    _check_signal_files(header, meta)
    files = {str(n) for n in (getattr(meta, "file_name", None) or []) if n and n != "~"}
    if any(not (header.parent / n).is_file() for n in files):  # 119.DAT: named in another case
        return stream_signal(read_signal(p))  # the whole-record reader links them by name
    names = _signal_names(meta)
    units = [str(u or "") for u in (meta.units or [""] * len(names))]
    keep = [i for i, u in enumerate(units) if u.strip().lower() in _TO_MV]
    if not keep:
        raise SignalError(
            f"The record “{header.stem}” holds no ECG: none of its signals is in volts "
            f"(units: {', '.join(units)}).",
            detail=str(header),
        )
    return WfdbStream(
        record_path=record_path,
        channels=tuple(keep),
        to_mv=tuple(float(_TO_MV[units[i].strip().lower()]) for i in keep),
        leads=tuple(normalize_lead_name(names[i]) for i in keep),
        fs=float(meta.fs),
        n_samples=int(meta.sig_len or 0),
        name=header.stem,
        source=header,
    )


def as_stream(source: Any) -> SignalStream:
    """A stream from a path, a stream, or a record in memory."""
    if isinstance(source, str | os.PathLike):
        return open_stream(source)
    if isinstance(source, MemoryStream | WfdbStream):
        return source
    if isinstance(source, Signal) or hasattr(source, "data"):
        return stream_signal(source)
    raise SignalError(f"{type(source).__name__} is not an ECG record.")
