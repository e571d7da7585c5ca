"""The one in-memory ECG record: :class:`Signal`, its :class:`Annotations`, lead lookup.

Every reader (WFDB, DICOM waveform) produces a :class:`Signal` with samples in
millivolts, standard lead names where the source lead is a standard one, and
the record's annotations (e.g. the reference beats of an ``.atr`` file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.errors import SignalError

#: The twelve standard leads in their conventional order.
STANDARD_LEADS: tuple[str, ...] = (
    "I",
    "II",
    "III",
    "aVR",
    "aVL",
    "aVF",
    "V1",
    "V2",
    "V3",
    "V4",
    "V5",
    "V6",
)

#: MIT-BIH / WFDB annotation symbols that mark a beat (WFDB ``isqrs``, AAMI EC57).
BEAT_SYMBOLS: frozenset[str] = frozenset("NLRBAaJSVrFejnE/fQ?")

#: Leads tried, in order, when a caller asks for a "lead II-like" rhythm lead.
RHYTHM_LEAD_PREFERENCE: tuple[str, ...] = ("II", "MLII", "I", "V5", "MLI", "V1", "V2", "aVF")

_LEAD_ALIASES = {name.lower(): name for name in STANDARD_LEADS}
_LEAD_ALIASES.update({"mlii": "MLII", "mli": "MLI", "mliii": "MLIII", "avr": "aVR"})
_LEAD_ALIASES.update({"1": "I", "2": "II", "3": "III"})
_LEAD_PREFIX = re.compile(r"^(ecg\s+)?(lead\s+)?", re.IGNORECASE)
_PARENTHESIS = re.compile(r"\s*\(.*?\)\s*")
# SCP-ECG (5.6.3-9-N) and ISO/IEEE 11073 MDC (2:N, 131072+N) lead numbers.
_LEAD_NUMBERS = {
    1: "I",
    2: "II",
    3: "V1",
    4: "V2",
    5: "V3",
    6: "V4",
    7: "V5",
    8: "V6",
    61: "III",
    62: "aVR",
    63: "aVL",
    64: "aVF",
}


def normalize_lead_name(name: str, code: str = "") -> str:
    """The standard name of a lead (``I``, ``II``, ``III``, ``aVR`` … ``V6``).

    Parameters
    ----------
    name
        The lead's label as stored: a WFDB signal name (``"ii"``, ``"MLII"``)
        or a DICOM code meaning (``"Lead I (Einthoven)"``, ``"Lead aVR"``).
    code
        Optional DICOM code value (``"5.6.3-9-1"`` from SCPECG or
        ``"2:1"``/``"131329"`` from MDC); it wins over ``name`` when it
        identifies a standard lead.

    Returns
    -------
    str
        A name from :data:`STANDARD_LEADS`, ``MLI``/``MLII``/``MLIII`` for
        modified limb leads, or the label stripped of ``"Lead"`` and
        parenthesised remarks when it is not a standard lead.
    """
    number = _lead_number(code)
    if number in _LEAD_NUMBERS:
        return _LEAD_NUMBERS[number]
    text = _PARENTHESIS.sub(" ", name).strip()
    text = _LEAD_PREFIX.sub("", text).strip()
    key = text.lower().replace(" ", "").replace("-", "")
    if key in _LEAD_ALIASES:
        return _LEAD_ALIASES[key]
    return text or name.strip()


def _lead_number(code: str) -> int | None:
    code = code.strip()
    for prefix in ("5.6.3-9-", "2:", "MDC_ECG_LEAD_"):
        if code.startswith(prefix) and code[len(prefix) :].isdigit():
            return int(code[len(prefix) :])
    if code.isdigit() and 131072 < int(code) < 131072 + 256:
        return int(code) - 131072
    return None


@dataclass(frozen=True, eq=False)
class Annotations:
    """Time-stamped labels of a record (beats, rhythm changes, noise marks).

    Attributes
    ----------
    samples
        ``int64`` sample indices, ascending.
    symbols
        One WFDB annotation symbol per sample (``"N"``, ``"V"``, ``"+"`` …).
    aux
        One auxiliary note per sample (rhythm labels such as ``"(AFIB"``), or
        an empty tuple when the source has none.
    """

    samples: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    symbols: tuple[str, ...] = ()
    aux: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples, dtype=np.int64).reshape(-1)
        if len(samples) != len(self.symbols):
            raise ValueError("annotations need one symbol per sample")
        if self.aux and len(self.aux) != len(self.symbols):
            raise ValueError("annotations need one aux note per sample (or none)")
        samples.flags.writeable = False
        object.__setattr__(self, "samples", samples)

    def __len__(self) -> int:
        return len(self.symbols)

    def select(self, mask: np.ndarray) -> Annotations:
        """The annotations where boolean ``mask`` is true."""
        keep = np.flatnonzero(np.asarray(mask, dtype=bool))
        return Annotations(
            samples=self.samples[keep],
            symbols=tuple(self.symbols[i] for i in keep),
            aux=tuple(self.aux[i] for i in keep) if self.aux else (),
        )

    def beats(self) -> Annotations:
        """Only the beat annotations (symbols in :data:`BEAT_SYMBOLS`)."""
        return self.select(np.array([s in BEAT_SYMBOLS for s in self.symbols], dtype=bool))


@dataclass(frozen=True, eq=False)
class Signal:
    """A multi-lead ECG in millivolts, with its annotations and record metadata.

    Attributes
    ----------
    data
        ``float32`` array ``(n_leads, n_samples)`` in mV (read-only).
    leads
        Lead names, normalised to :data:`STANDARD_LEADS` where possible.
    fs
        Sampling frequency in Hz.
    source
        The file the record was read from (the ``.hea`` header for WFDB).
    annotations
        Annotations in sample indices of ``data`` (empty when none).
    record_name, patient_id, patient_name, age, sex, recorded_at, comments
        Record metadata as found in the file (empty strings when absent);
        ``recorded_at`` is ISO 8601 when the file's date could be parsed,
        else the raw text.
    source_format
        ``"WFDB"`` or ``"DICOM"``, with detail such as the storage format.
    original_leads
        The lead labels exactly as stored in the file.
    gaps
        Per lead, the ``(start_s, end_s)`` stretches where the file held no
        valid sample (filled in by straight lines so that filters run; not
        signal). Empty when there are none.
    """

    data: np.ndarray
    leads: tuple[str, ...]
    fs: float
    source: Path
    annotations: Annotations = field(default_factory=Annotations)
    record_name: str = ""
    patient_id: str = ""
    patient_name: str = ""
    age: str = ""
    sex: str = ""
    recorded_at: str = ""
    comments: tuple[str, ...] = ()
    source_format: str = ""
    original_leads: tuple[str, ...] = ()
    gaps: tuple[tuple[tuple[float, float], ...], ...] = ()

    def __post_init__(self) -> None:
        data = np.asarray(self.data, dtype=np.float32)
        if data.ndim == 1:
            data = data[np.newaxis, :]
        if data.ndim != 2 or data.shape[0] != len(self.leads):
            raise ValueError("data must be (n_leads, n_samples) with one name per lead")
        if not self.fs > 0:
            raise ValueError("the sampling frequency must be positive")
        if data.flags.writeable:
            data = data.copy() if data is self.data else data
            data.flags.writeable = False
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "fs", float(self.fs))
        object.__setattr__(self, "source", Path(self.source))
        if not self.original_leads:
            object.__setattr__(self, "original_leads", tuple(self.leads))

    @property
    def n_leads(self) -> int:
        """Number of leads."""
        return int(self.data.shape[0])

    @property
    def n_samples(self) -> int:
        """Samples per lead."""
        return int(self.data.shape[1])

    @property
    def duration_s(self) -> float:
        """Length of the record in seconds."""
        return self.n_samples / self.fs

    def lead_gaps(self, index: int) -> tuple[tuple[float, float], ...]:
        """The stretches of lead ``index`` with no valid sample in the file (seconds)."""
        return self.gaps[index] if index < len(self.gaps) else ()

    def times(self) -> np.ndarray:
        """Time of each sample in seconds from the start of the record."""
        return np.arange(self.n_samples, dtype=np.float64) / self.fs

    def replace_data(
        self, data: np.ndarray, fs: float | None = None, annotations: Annotations | None = None
    ) -> Signal:
        """A copy with new samples (and optionally a new rate and annotations)."""
        return replace(
            self,
            data=data,
            fs=self.fs if fs is None else fs,
            annotations=self.annotations if annotations is None else annotations,
        )


#: A lead whose samples do not change at all for this long holds no signal: a lead that came
#: off or a recorder that held or clipped its value. Living tissue always moves the baseline;
#: the longest run of identical samples in the 8,436 leads of MIT-BIH, svdb and CinC 2017 in
#: the shared data is 0.78 s (svdb 859, at the converter's limit). A recorder with a coarse
#: converter (8 bits) might hold one value through a true asystole: the warning then names the
#: stretch as holding no signal, and says to read the trace there, instead of listing a pause.
FLAT_MIN_S = 1.0


def flat_runs(
    values: np.ndarray,
    fs: float,
    start: int = 0,
    *,
    min_s: float = FLAT_MIN_S,
    keep_edges: bool = False,
) -> tuple[tuple[float, float], ...]:
    """The stretches (seconds, ``start`` being the first sample's index in the record) where
    ``values`` (one lead as read) repeat one value for at least ``min_s``. With
    ``keep_edges``, shorter runs of two samples or more that touch either end are kept too,
    so that a reader of consecutive stretches can join a run that crosses its boundaries.

    Read in overlapping blocks, so that a day-long lead needs no index per sample."""
    v = np.asarray(values)
    if len(v) < 2 or fs <= 0:
        return ()
    least = max(2, int(np.ceil(min_s * fs)))
    found: list[tuple[float, float]] = []
    for s0 in range(0, len(v), _FLAT_BLOCK):
        seg = v[s0 : s0 + _FLAT_BLOCK + least]  # a run that starts in the block is seen whole
        bounds = np.concatenate([[0], np.flatnonzero(seg[1:] != seg[:-1]) + 1, [len(seg)]])
        a, b = bounds[:-1], bounds[1:]
        keep = (b - a) >= least
        if keep_edges:
            edge = ((a == 0) & (s0 == 0)) | (s0 + b == len(v))
            keep |= ((b - a) >= 2) & edge
        keep &= np.isfinite(seg[a])  # invalid samples are the gaps of fill_gaps
        found += [
            ((start + s0 + x) / fs, (start + s0 + y) / fs)
            for x, y in zip(a[keep].tolist(), b[keep].tolist(), strict=True)
        ]
    return merge_spans(found)


_FLAT_BLOCK = 1 << 20


def fill_gaps(
    values: np.ndarray, fs: float, start: int = 0, *, flat: bool = True
) -> tuple[np.ndarray, tuple[tuple[float, float], ...]]:
    """``values`` (one lead) with its non-finite samples (a file's invalid or absent samples)
    filled by straight lines between their valid neighbours (zeros when none is valid), so that
    filters run, and where the lead holds no signal: ``(start_s, end_s)`` stretches, ``start``
    being the first sample's index in the record. With ``flat`` these include the lead's
    :func:`flat_runs` (a flat line from a lead off, read as ECG, is a pause and a slow
    heart rate that the patient never had)."""
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values)
    still = flat_runs(values, fs, start) if flat else ()
    if not bad.any():
        return values, still
    edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.astype(np.int8), [0]])))
    pairs = zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
    spans = merge_spans([((start + a) / fs, (start + b) / fs) for a, b in pairs] + list(still))
    if bad.all():
        return np.zeros_like(values), spans
    idx = np.arange(len(values))
    out = values.copy()
    out[bad] = np.interp(idx[bad], idx[~bad], values[~bad])
    return out, spans


def merge_spans(spans: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Spans in order, those that overlap or touch joined."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def lead_index(signal: Signal, name: str | None = None) -> int:
    """Index of a lead in ``signal.data``, with a sensible fallback.

    Parameters
    ----------
    signal
        The record.
    name
        Lead name in any usual spelling (``"II"``, ``"ii"``, ``"Lead II"``,
        ``"MLII"``). ``None``, ``"rhythm"`` or a lead II-like name (``II``,
        ``MLII``) that the record lacks pick the first available of
        :data:`RHYTHM_LEAD_PREFERENCE`, then the first lead.

    Raises
    ------
    SignalError
        If a specific lead was asked for and the record does not have it.
    """
    normalized = [normalize_lead_name(lead).lower() for lead in signal.leads]
    wanted = None if name is None else normalize_lead_name(name)
    if wanted is not None and wanted.lower() in normalized:
        return normalized.index(wanted.lower())
    if wanted is None or wanted.lower() in ("rhythm", "ii", "mlii"):
        for candidate in RHYTHM_LEAD_PREFERENCE:
            if candidate.lower() in normalized:
                return normalized.index(candidate.lower())
        return 0
    raise SignalError(
        f"The record “{signal.source.name}” has no lead “{name}”. "
        f"Its leads are: {', '.join(signal.leads)}."
    )


def lead(signal: Signal, name: str | None = None) -> np.ndarray:
    """One lead's samples in mV (a read-only 1-D ``float32`` view).

    Parameters
    ----------
    signal
        The record.
    name
        See :func:`lead_index`; ``None`` picks a lead II-like rhythm lead
        (``II`` in a 12-lead ECG, ``MLII`` in MIT-BIH).

    Returns
    -------
    numpy.ndarray
        ``(n_samples,)`` float32.
    """
    return signal.data[lead_index(signal, name)]
