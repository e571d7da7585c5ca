"""Read WFDB records (``.hea`` + signal files + ``.atr``) into a :class:`Signal`.

This module is the only place in Stethos that imports ``wfdb``. It adds what
a clinic's files need beyond the library: headers whose base date or time the
library cannot parse are read again from a sanitised copy, signal files
shorter than their header promises are refused with a clear message, and
every failure becomes a :class:`~engine.errors.SignalError` naming the file.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.ecg.signal import Annotations, Signal, fill_gaps, normalize_lead_name
from engine.errors import SignalError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

#: Bytes per sample of the WFDB storage formats whose size we can check.
_BYTES_PER_SAMPLE = {
    "8": 1.0,
    "16": 2.0,
    "61": 2.0,
    "80": 1.0,
    "160": 2.0,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
    "24": 3.0,
    "32": 4.0,
}

#: Physical units → factor to millivolts. Unspecified units are mV in WFDB.
_TO_MV = {"": 1.0, "mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}

_MIT_PATIENT = re.compile(r"^\s*(?P<age>\d{1,3}|\?+)\s+(?P<sex>[MF?])\b")
_KEY_VALUE = re.compile(r"^\s*(?P<key>[A-Za-z ]+?)\s*:\s*(?P<value>.+?)\s*$")


def header_path_for(path: str | Path) -> Path | None:
    """The ``.hea`` header of a WFDB record given any of its paths, or ``None``.

    Accepts the header itself, the record path without extension, or one of
    the record's other files (``.dat``, ``.atr`` …) lying next to the header.
    """
    path = Path(path)
    if path.suffix.lower() == ".hea":
        return path
    for candidate in (Path(f"{path}.hea"), path.with_suffix(".hea")):
        found = on_disk(candidate.parent, candidate.name)
        if found is not None:
            return found
    return None


def read_wfdb(
    path: str | Path,
    *,
    annotator: str = "atr",
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Signal:
    """Read a WFDB record with its annotations.

    Parameters
    ----------
    path
        The ``.hea`` file, the record path without extension, or another
        file of the record.
    annotator
        Extension of the annotation file to attach when present (``"atr"``
        holds MIT-BIH's reference beats).
    progress, cancel
        Progress reporting and cancellation (see :mod:`engine.progress`).

    Returns
    -------
    Signal
        Voltage channels in mV (channels in other units, e.g. blood pressure,
        are left out); invalid samples are linearly interpolated.

    Raises
    ------
    SignalError
        If a file is missing, the header is malformed, a signal file is
        shorter than the header says, or the record has no ECG channel.
    """
    import wfdb

    given = Path(path)
    header = header_path_for(given)
    if header is None or not header.is_file():
        raise SignalError(
            f"The ECG record “{given}” was not found: its header file "
            f"{(header or Path(f'{given}.hea')).name} does not exist.",
            detail=str(given),
        )
    check_cancelled(cancel)
    progress(0.0, f"Reading {header.name}")
    text = _read_header_text(header)
    with _readable_record(header, text) as (record_path, sanitised):
        try:
            meta = wfdb.rdheader(record_path)
        except Exception as exc:  # wfdb raises bare ValueError/IndexError on bad headers
            raise SignalError(
                f"The header “{header.name}” could not be read: it is not a valid WFDB header.",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        if getattr(meta, "n_seg", None) is None:
            _check_signal_files(header, meta)
        check_cancelled(cancel)
        progress(0.1, f"Reading the signals of {header.stem}")
        try:
            record = wfdb.rdrecord(record_path, physical=True, m2s=True, smooth_frames=True)
        except FileNotFoundError as exc:
            raise SignalError(
                f"A signal file of the ECG record “{header.stem}” is missing: "
                f"{Path(str(exc.filename)).name}.",
                detail=str(exc),
            ) from exc
        except Exception as exc:
            raise SignalError(
                f"The signals of the ECG record “{header.stem}” could not be read: "
                "the files are damaged or in a format Stethos does not read.",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        check_cancelled(cancel)
        progress(0.8, "Reading annotations")
        annotations = _read_annotations(record_path, annotator)
    signal = _to_signal(header, record, annotations, sanitised, text)
    progress(1.0, "Record loaded")
    return signal


def _read_header_text(header: Path) -> str:
    try:
        return header.read_text(encoding="ascii", errors="ignore")
    except OSError as exc:
        raise SignalError(
            f"The header “{header.name}” could not be opened: {exc.strerror or exc}.",
            detail=str(exc),
        ) from exc


@contextlib.contextmanager
def _readable_record(header: Path, text: str) -> Iterator[tuple[str, bool]]:
    """Yield ``(record_path, sanitised)``: the record itself, or a readable copy of it.

    wfdb refuses the whole record when the record line's base time or date
    does not parse (``25:61:00``, ``1990-10-01``): the copy keeps only the
    first four fields of that line. wfdb also opens ``NAME.hea`` and the
    signal files by their exact names, while a record copied from a CD or a
    Windows share may be ``119.HEA`` with ``119.DAT``: the copy gives each
    file the name wfdb asks for. The copy points at the original files
    through links (or copies where links are not allowed).
    """
    import wfdb

    record_path = str(header.with_suffix(""))
    lines = text.splitlines()
    index = next((i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#")), None)
    fields = lines[index].split() if index is not None else []
    renamed = _renamed_files(header, lines, index)
    parsed = False
    if not renamed:
        try:
            wfdb.rdheader(record_path)
            parsed = True
        except Exception:
            parsed = False
    sanitise = not parsed and index is not None and len(fields) > 4
    if not renamed and not sanitise:
        yield record_path, False  # nothing to change: read_wfdb reports any error
        return
    if sanitise and index is not None:
        lines[index] = " ".join(fields[:4])
    with tempfile.TemporaryDirectory(prefix="stethos-wfdb-") as tmp:
        copy = Path(tmp) / f"{header.stem}.hea"
        copy.write_text("\n".join(lines) + "\n", encoding="ascii")
        for sibling in header.parent.glob(f"{glob.escape(header.stem)}.*"):
            if sibling.suffix.lower() != ".hea" and sibling.is_file():
                _link_or_copy(sibling, Path(tmp) / sibling.name)
        for wanted, found in renamed.items():
            if wanted != copy.name and not (Path(tmp) / wanted).exists():
                _link_or_copy(found, Path(tmp) / wanted)
        yield str(copy.with_suffix("")), sanitise


def on_disk(folder: Path, name: str) -> Path | None:
    """The file ``name`` in ``folder``, or its one namesake in another case (``119.DAT``)."""
    exact = folder / name
    if os.path.isfile(exact):  # False, not OSError, for a name too long (fuzzing)
        return exact
    try:
        found = [p for p in folder.iterdir() if p.name.casefold() == name.casefold()]
    except OSError:
        return None
    return found[0] if len(found) == 1 and found[0].is_file() else None


def _renamed_files(header: Path, lines: list[str], index: int | None) -> dict[str, Path]:
    """The record's files whose names differ from wfdb's only in case: ``{wanted: found}``.

    The header itself (``NAME.hea``), the signal files its signal lines name,
    and annotation files (``NAME.atr`` for ``NAME.ATR``).
    """
    wanted = [f"{header.stem}.hea"]
    if index is not None:
        for line in lines[index + 1 :]:
            if line.strip() and not line.startswith("#"):
                wanted.append(line.split()[0])
    for sibling in header.parent.glob(f"{glob.escape(header.stem)}.*"):
        if sibling.suffix != sibling.suffix.lower():
            wanted.append(f"{header.stem}{sibling.suffix.lower()}")
    out: dict[str, Path] = {}
    for name in wanted:
        if name == "~" or "/" in name or os.path.isfile(header.parent / name):
            continue
        found = on_disk(header.parent, name)
        if found is not None:
            out[name] = found
    return out


def _link_or_copy(source: Path, target: Path) -> None:
    for make in (os.link, os.symlink):
        try:
            make(source.resolve(), target)
            return
        except (OSError, NotImplementedError):
            continue
    shutil.copyfile(source, target)


def _check_signal_files(header: Path, meta: object) -> None:
    """Refuse a record whose signal files are missing or shorter than declared."""
    file_names = list(getattr(meta, "file_name", None) or [])
    fmts = list(getattr(meta, "fmt", None) or [])
    spf = list(getattr(meta, "samps_per_frame", None) or [1] * len(file_names))
    offsets = list(getattr(meta, "byte_offset", None) or [None] * len(file_names))
    sig_len = getattr(meta, "sig_len", None)
    per_file: dict[str, list[int]] = {}
    for i, name in enumerate(file_names):
        if name and name != "~":
            per_file.setdefault(name, []).append(i)
    for name, channels in per_file.items():
        found = on_disk(header.parent, name)
        if found is None:
            path = header.parent / name
            raise SignalError(
                f"The signal file “{name}” of the ECG record “{header.stem}” is missing "
                f"(expected next to {header.name}).",
                detail=str(path),
            )
        fmt = str(fmts[channels[0]]) if channels[0] < len(fmts) else ""
        if not sig_len or fmt not in _BYTES_PER_SAMPLE:
            continue
        samples = sig_len * sum(int(spf[i] or 1) for i in channels)
        expected = int(offsets[channels[0]] or 0) + math.ceil(samples * _BYTES_PER_SAMPLE[fmt])
        actual = found.stat().st_size
        if actual < expected:
            seconds = actual / expected * sig_len / float(getattr(meta, "fs", 1) or 1)
            raise SignalError(
                f"The signal file “{name}” of the ECG record “{header.stem}” is truncated: "
                f"it holds {actual:,} bytes but its header declares {expected:,} "
                f"(about {seconds:.0f} s of the record are present).",
                detail=str(found),
            )


def _read_annotations(record_path: str, annotator: str) -> Annotations:
    import wfdb

    if not annotator or not Path(f"{record_path}.{annotator}").is_file():
        return Annotations()
    try:
        ann = wfdb.rdann(record_path, annotator)
    except Exception as exc:
        raise SignalError(
            f"The annotation file “{Path(record_path).name}.{annotator}” could not be read: "
            "it is damaged or not a WFDB annotation file.",
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc
    aux = tuple((note or "").rstrip("\x00").strip() for note in (ann.aux_note or []))
    symbols = tuple(ann.symbol or [])
    return Annotations(
        samples=np.asarray(ann.sample, dtype=np.int64),
        symbols=symbols,
        aux=aux if len(aux) == len(symbols) else (),
    )


def _signal_names(meta: object) -> list[str]:
    """The signal names of a WFDB header; an unnamed signal (no description) is ``""``.

    wfdb gives ``None`` for a signal line without a description; ``str(None)``
    would name the lead "None". Empty means "the record does not say", so the
    lead gates treat it as missing (warned) rather than as a wrong lead.
    """
    return ["" if n is None else str(n).strip() for n in (getattr(meta, "sig_name", None) or [])]


def _to_signal(
    header: Path, record: object, annotations: Annotations, sanitised: bool, text: str
) -> Signal:
    raw = getattr(record, "p_signal", None)
    names = _signal_names(record)
    units = [str(u or "") for u in (getattr(record, "units", None) or [""] * len(names))]
    if raw is None or raw.ndim != 2 or raw.shape[1] == 0:
        raise SignalError(f"The ECG record “{header.stem}” holds no signals.", detail=str(header))
    keep = [i for i, u in enumerate(units) if u.strip().lower() in _TO_MV]
    if not keep:
        raise SignalError(
            f"The record “{header.stem}” holds no ECG: none of its signals is in volts "
            f"(units: {', '.join(units)}).",
            detail=str(header),
        )
    data = np.empty((len(keep), raw.shape[0]), dtype=np.float32)
    fs = float(getattr(record, "fs", 0) or 0)
    gaps = []
    for row, i in enumerate(keep):
        values, spans = fill_gaps(raw[:, i], fs or 1.0)
        gaps.append(spans)
        data[row] = values * _TO_MV[units[i].strip().lower()]
    comments = tuple(str(c) for c in (getattr(record, "comments", None) or []))
    age, sex = _patient_from_comments(comments)
    fmts = sorted({str(f) for f in (getattr(record, "fmt", None) or []) if f})
    return Signal(
        data=data,
        leads=tuple(normalize_lead_name(names[i]) for i in keep),
        fs=float(getattr(record, "fs", 0) or 0),
        source=header,
        annotations=annotations,
        record_name=str(getattr(record, "record_name", "") or header.stem),
        age=age,
        sex=sex,
        recorded_at=_recorded_at(record, text, sanitised, comments),
        comments=comments,
        source_format=f"WFDB (format {'/'.join(fmts)})" if fmts else "WFDB",
        original_leads=tuple(names[i] for i in keep),
        gaps=tuple(gaps) if any(gaps) else (),
    )


def _patient_from_comments(comments: tuple[str, ...]) -> tuple[str, str]:
    age = sex = ""
    for comment in comments:
        match = _MIT_PATIENT.match(comment)
        if match and not age and not sex:
            age = "" if "?" in match["age"] else match["age"]
            sex = "" if match["sex"] == "?" else match["sex"]
            continue
        kv = _KEY_VALUE.match(comment)
        if kv and kv["key"].strip().lower() == "age" and not age:
            age = "" if kv["value"].lower() in ("n/a", "?") else kv["value"]
        elif kv and kv["key"].strip().lower() == "sex" and not sex:
            sex = {"male": "M", "female": "F"}.get(kv["value"].lower(), kv["value"])
    return age, sex


def _recorded_at(record: object, text: str, sanitised: bool, comments: tuple[str, ...]) -> str:
    base_date = getattr(record, "base_date", None)
    base_time = getattr(record, "base_time", None)
    if isinstance(base_date, datetime.date) and isinstance(base_time, datetime.time):
        return datetime.datetime.combine(base_date, base_time).isoformat()
    if isinstance(base_date, datetime.date):
        return base_date.isoformat()
    if sanitised:
        line = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
        return " ".join(line.split()[4:])
    for comment in comments:
        kv = _KEY_VALUE.match(comment)
        if kv and "date" in kv["key"].lower() and "ecg" in kv["key"].lower():
            return kv["value"]
    return ""
