"""MIT-BIH records prepared for the beat model: detections, windows and reference labels.

Every record is fed exactly as at inference: the engine's own QRS detections
on the rhythm lead (MLII) and the bundle's declared preprocessing
(:func:`engine.models.beat_inputs.prepare_beats`); each detection is labelled
with the AAMI class of the reference beat it matches within 150 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.progress import CancelToken, Progress, check_cancelled, no_progress

CLASSES = ["N", "S", "V", "F", "Q"]
# 180 Hz keeps the QRS shape (ECG content is below 40 Hz), halves the LSTM's
# sequence and, in leave-records-out validation, generalised better.
FS = 180.0
BEFORE_S, AFTER_S = 0.25, 0.40
#: Index of the R peak in a beat window at FS.
R_INDEX = round(BEFORE_S * FS)
RR_FEATURES = ["pre_rr", "post_rr", "local_rr", "global_rr", "pre_rr_ratio", "post_rr_ratio",
               "pre_rr_cmed_ratio", "post_rr_cmed_ratio", "rr_irregularity"]  # fmt: skip
# Patient-adaptive morphology features and per-record amplitude scaling are
# supported by the engine (``morph_features``, ``beat_normalise: record``) but
# did not help in leave-records-out validation (V Se/+P 76.5/59.6 vs 78.9/61.8,
# S 25.6/16.8 vs 31.7/21.2, same seed), so the shipped model does not use them.
MORPH_FEATURES: list[str] = []
BEAT_NORMALISE = "demean"
# Patient-adaptive morphology: the network reads each beat and the beat minus
# its record's median beat (a second input channel).
BEAT_TEMPLATE = "median"
# The detector's peak can jump between two deflections of a wide QRS, and a
# recording's amplitude can change part-way (record 109: both, for its last
# minutes, and nearly all its normal beats there were labelled V). Windows are
# aligned to the record's median beat and slow amplitude drift is undone.
BEAT_ALIGN = {"method": "template", "max_shift_s": 0.08, "min_corr": 0.8}
AMPLITUDE_DRIFT = {"method": "running-median", "beats": 101}
#: The leads the model reads, in order of preference: MIT-BIH's MLII (II on other
#: machines) and svdb's first lead, ECG1 (placement not documented).
LEADS = ("MLII", "II", "ECG1")
#: MIT-BIH Supraventricular Arrhythmia Database records kept out of every design
#: choice (docs/experiments/sbeat-svdb-plan.md: drawn once, before any result).
SVDB_HELD_BACK = ("803", "810", "811", "820", "823", "824", "825", "826", "828", "841",
                  "843", "866", "871", "872", "877", "890")  # fmt: skip
DS1 = ["101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
       "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230"]  # fmt: skip
PACED = ["102", "104", "107", "217"]

#: Label of a detection with no reference beat within 150 ms (a false detection).
NO_REFERENCE = -1
#: Label of a detection inside the reference's ventricular flutter/fibrillation
#: episode, where no beats are annotated: not counted, as EC57 does.
IN_VF_EPISODE = -2


@dataclass(frozen=True, eq=False)
class RecordBeats:
    """One record's detected beats, prepared windows and reference labels."""

    name: str
    windows: np.ndarray  # (n, window) float32
    rr_raw: np.ndarray  # (n, n_rr) float32, not standardised
    labels: np.ndarray  # (n,) class index, NO_REFERENCE or IN_VF_EPISODE
    n_reference: np.ndarray  # (5,) reference beats per class (incl. missed ones)
    missed: np.ndarray  # (5,) reference beats per class with no detection
    template: np.ndarray | None = None  # (window,) the record's median beat
    samples: np.ndarray | None = None  # (n,) detected R peaks, source samples
    fs: float = 360.0  # the source's sampling rate
    age: str = ""  # the patient's age and sex from the record header ("" unknown)
    sex: str = ""

    def beat_templates(self) -> np.ndarray:
        """The record's template repeated per beat (zeros without one)."""
        t = self.template if self.template is not None else np.zeros(self.windows.shape[1])
        return np.broadcast_to(np.asarray(t, np.float32), self.windows.shape)


#: The training's gain jitter (±, a factor): other leads and machines differ in gain.
GAIN_JITTER = 0.2


def amplitude_range(records: list[RecordBeats]) -> dict[str, float]:
    """The record amplitudes the network was trained on: each record's
    :func:`~engine.models.beat_inputs.record_amplitude`, their
    lowest and highest widened by the training's gain jitter (docs/experiments/
    beat-amplitude-range.md); a record outside is scaled to the nearer bound at inference."""
    from engine.models.beat_inputs import record_amplitude

    amps = [record_amplitude(r.windows) for r in records if len(r.windows)]
    return {"min_mv": round((1 - GAIN_JITTER) * min(amps), 4),
            "max_mv": round((1 + GAIN_JITTER) * max(amps), 4)}  # fmt: skip


def spec_manifest(
    rr_mean: list[float], rr_std: list[float], amplitude: dict[str, float] | None = None
) -> dict[str, Any]:
    """The ``preprocessing`` block (and the signal input) of the bundle."""
    return {
        "fs": FS,
        "baseline": {"method": "median"},
        "beat_window": {"before_s": BEFORE_S, "after_s": AFTER_S},
        "beat_normalise": BEAT_NORMALISE,
        "beat_template": BEAT_TEMPLATE,
        "beat_align": BEAT_ALIGN,
        "amplitude_drift": AMPLITUDE_DRIFT,
        **({"amplitude_range": amplitude} if amplitude else {}),
        "rr_features": RR_FEATURES,
        "morph_features": MORPH_FEATURES,
        "rr_mean": rr_mean,
        "rr_std": rr_std,
    }


def _spec(rr_mean=None, rr_std=None):
    from engine.models.beat_inputs import SignalSpec

    return SignalSpec.from_manifest(
        {
            "preprocessing": spec_manifest(rr_mean or [], rr_std or []),
            "inputs": {"signal": {"leads": list(LEADS), "fs": FS}},
        }
    )


def load_record(path: Path) -> RecordBeats:
    """Detect, prepare and label one MIT-BIH (or svdb) record.

    The rhythm lead is MLII where the record has it, else the engine's
    rhythm-lead fallback (:func:`engine.ecg.lead_index`): the first lead,
    ``ECG1``, in svdb, whose leads are not named.
    """
    from engine.ecg import (
        aami_class,
        detect_qrs,
        excluded_intervals,
        lead_index,
        match_beats,
        read_signal,
    )
    from engine.ecg.beats import outside
    from engine.models.beat_inputs import prepare_beats

    sig = read_signal(path)
    spec = _spec()
    lead = lead_index(sig, "MLII")
    detected = np.unique(detect_qrs(np.asarray(sig.data[lead]), float(sig.fs)))
    ref = sig.annotations.beats()
    ref_cls = np.array([CLASSES.index(aami_class(s) or "Q") for s in ref.symbols])
    match = match_beats(ref.samples, detected, float(sig.fs), 0.15)
    labels = np.full(len(detected), NO_REFERENCE, dtype=np.int64)
    if len(match.pairs):
        labels[match.pairs[:, 1]] = ref_cls[match.pairs[:, 0]]
    in_vf = ~outside(detected, excluded_intervals(sig.annotations, sig.n_samples))
    labels[in_vf & (labels == NO_REFERENCE)] = IN_VF_EPISODE
    prepared = prepare_beats(sig, spec, beats=detected)
    assert len(prepared.samples) == len(detected)
    return RecordBeats(
        name=path.name,
        windows=prepared.windows,
        rr_raw=prepared.rr,
        labels=labels,
        n_reference=np.bincount(ref_cls, minlength=5),
        missed=np.bincount(ref_cls[match.missed], minlength=5),
        template=prepared.template,
        samples=np.asarray(prepared.samples),
        fs=float(sig.fs),
        age=sig.age,
        sex=sig.sex,
    )


def load_records(
    paths: list[Path], *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> list[RecordBeats]:
    """:func:`load_record` of each record path (``root / name``, no suffix)."""
    out = []
    for i, path in enumerate(paths):
        check_cancelled(cancel)
        progress(i / max(len(paths), 1), f"Reading record {path.name}")
        out.append(load_record(path))
    return out


def stack_beats(records: list[RecordBeats], labelled_only: bool):
    """Windows, raw RR features, labels and templates of ``records``, concatenated."""
    w = np.concatenate([r.windows for r in records])
    rr = np.concatenate([r.rr_raw for r in records])
    y = np.concatenate([r.labels for r in records])
    t = np.concatenate([r.beat_templates() for r in records])
    if labelled_only:
        keep = y >= 0
        return w[keep], rr[keep], y[keep], t[keep]
    return w, rr, y, t
