"""Local validation of beat models: WFDB records with reference beat annotations (EC57)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import EngineError, ModelError, OperationCancelled
from engine.progress import check_cancelled
from engine.validation.metrics import proportion
from engine.validation.report import Evaluation, EvaluationReport, make_report

#: Beats closer than this to a reference beat match it (ANSI/AAMI EC57).
MATCH_WINDOW_S = 0.15
#: How beat +P is counted, shown with every beat evaluation.
PPV_RULE = (
    "EC57 gross statistics, as the bxb comparator counts them: detections inside the "
    "reference's ventricular flutter/fibrillation episodes are left out; fusion (F) and "
    "unclassifiable (Q) beats labelled V do not count against V +P, Q beats labelled S not "
    "against S +P (V_ppv_all_detections and S_ppv_all_detections count them)"
)
#: Records needed before per-class CIs come from a record bootstrap.
MIN_RECORDS_FOR_BOOTSTRAP = 5


def wfdb_records(paths: Sequence[Path]) -> list[Path]:
    """Header paths (``.hea``) of the WFDB records in folders or given as record paths."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*.hea") if f.is_file())
        elif p.suffix.lower() == ".hea":
            out.append(p)
        elif p.with_suffix(".hea").is_file() and p.suffix.lower() in ("", ".dat", ".atr"):
            out.append(p.with_suffix(".hea"))
        elif not p.suffix and Path(f"{p}.hea").is_file():
            out.append(Path(f"{p}.hea"))
        else:
            out.append(p)  # reported as unreadable
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class _RecordBeats:
    name: str
    counts: np.ndarray  # (classes, classes + 1): reference class × (model class, missed)
    extra: np.ndarray  # (classes,): unmatched detections by model class


def _model_class(label: str, classes: Sequence[str]) -> str | None:
    from engine.ecg import aami_class

    if label in classes:
        return label
    return aami_class(label)


def score_record_beats(
    annotations: Any,
    n_samples: int,
    fs: float,
    beats: Sequence[Any],
    classes: Sequence[str],
    *,
    window_s: float = MATCH_WINDOW_S,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class beat counts of one record (EC57 beat-by-beat comparison).

    Parameters
    ----------
    annotations
        The record's :class:`~engine.ecg.Annotations` (reference beats).
    n_samples, fs
        Record length in samples and its sampling frequency.
    beats
        The model's beats (``sample`` and ``label`` each).
    classes
        The AAMI classes to count (``N``, ``S``, ``V``, ``F``, ``Q``).
    window_s
        Matching window (150 ms).

    Returns
    -------
    counts, extra
        ``counts[i, j]``: reference beats of class ``i`` the model called
        ``j`` (last column: not detected); ``extra[j]``: detections of class
        ``j`` with no reference beat. Detections inside ventricular
        flutter/fibrillation episodes are left out, as EC57 does.
    """
    from engine.ecg import aami_class, excluded_intervals, match_beats
    from engine.ecg.beats import outside

    k = len(classes)
    ref = annotations.beats()
    ref_cls = [aami_class(s) for s in ref.symbols]
    keep_ref = np.array([c in classes for c in ref_cls], dtype=bool)
    ref_samples = ref.samples[keep_ref]
    ref_idx = np.array(
        [classes.index(c) for c, kp in zip(ref_cls, keep_ref, strict=True) if kp], dtype=np.int64
    )
    det_samples = np.array([int(b.sample) for b in beats], dtype=np.int64)
    det_cls = [_model_class(str(b.label), classes) for b in beats]
    keep_det = outside(det_samples, excluded_intervals(annotations, n_samples)) & np.array(
        [c in classes for c in det_cls], dtype=bool
    )
    det_samples = det_samples[keep_det]
    det_idx = np.array(
        [classes.index(c) for c, kp in zip(det_cls, keep_det, strict=True) if kp], dtype=np.int64
    )
    match = match_beats(ref_samples, det_samples, fs, window_s)
    counts = np.zeros((k, k + 1), dtype=np.int64)
    for r, d in match.pairs:
        counts[ref_idx[r], det_idx[d]] += 1
    for r in match.missed:
        counts[ref_idx[r], k] += 1
    extra = np.bincount(det_idx[match.extra], minlength=k).astype(np.int64)
    return counts, extra


def beat_rates(
    counts: np.ndarray, extra: np.ndarray, classes: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """(successes, total) of each per-class and overall rate from summed counts.

    ``ppv_i`` follows EC57's gross statistics: reference beats of the classes
    in :data:`~engine.ecg.PPV_NOT_COUNTED` labelled ``i`` are left out of its
    denominator (fusion and Q beats called V, Q beats called S).
    ``ppv_all_i`` counts every detection labelled ``i``, for the classes where
    the two differ.
    """
    from engine.ecg import PPV_NOT_COUNTED

    k = counts.shape[0]
    out: dict[str, tuple[int, int]] = {}
    detected_as = counts[:, :k].sum(axis=0) + extra
    for i, c in enumerate(classes):
        out[f"se_{i}"] = (int(counts[i, i]), int(counts[i].sum()))
        exempt = [classes.index(r) for r in PPV_NOT_COUNTED.get(c, ()) if r in classes]
        out[f"ppv_{i}"] = (int(counts[i, i]), int(detected_as[i] - counts[exempt, i].sum()))
        if exempt:
            out[f"ppv_all_{i}"] = (int(counts[i, i]), int(detected_as[i]))
    matched = int(counts[:, :k].sum())
    out["accuracy"] = (int(np.trace(counts[:, :k])), matched)
    out["qrs_sensitivity"] = (matched, int(counts.sum()))
    out["qrs_ppv"] = (matched, matched + int(extra.sum()))
    return out


def evaluate_beats(job: Evaluation) -> EvaluationReport:
    """A beat model's per-class Se and +P on annotated WFDB records (EC57)."""
    from engine.ecg import AAMI_CLASSES, read_signal
    from engine.workflow import analyze

    bundle, n_boot = job.bundle, job.n_boot
    classes = list(AAMI_CLASSES)
    records = wfdb_records(job.paths)
    per_record: list[_RecordBeats] = []
    skipped: list[tuple[str, str]] = []
    for k, header in enumerate(records):
        check_cancelled(job.cancel)
        job.progress(k / max(len(records), 1), f"Record {header.stem}")
        try:
            signal = read_signal(header)
            if len(signal.annotations.beats()) == 0:
                skipped.append((str(header), "has no reference beat annotations (.atr)"))
                continue
            pred = analyze(
                signal,
                model_id=bundle.id,
                kind="signal",
                explain=False,
                device=job.device,
                operating_point=job.operating_point,
                registry=job.registry,
                cancel=job.cancel,
            ).prediction
        except OperationCancelled:
            raise
        except EngineError as exc:
            skipped.append((str(header), exc.user_message))
            continue
        counts, extra = score_record_beats(
            signal.annotations, signal.n_samples, signal.fs, pred.beats, classes
        )
        per_record.append(_RecordBeats(header.stem, counts, extra))
    if not per_record:
        reasons = "; ".join(f"{i}: {r}" for i, r in skipped[:3])
        raise ModelError(
            f"No annotated ECG records could be evaluated with model “{bundle.id}”. Give WFDB "
            "records (.hea with .dat and reference .atr) or a folder of them.",
            reasons or None,
        )
    counts = np.sum([r.counts for r in per_record], axis=0)
    extra = np.sum([r.extra for r in per_record], axis=0)
    rates = beat_rates(counts, extra, classes)
    use_bootstrap = len(per_record) >= MIN_RECORDS_FOR_BOOTSTRAP
    boot: dict[str, tuple[float, float]] = {}
    if use_bootstrap:
        boot = beat_rate_cis(
            np.stack([r.counts for r in per_record]),
            np.stack([r.extra for r in per_record]),
            classes,
            seed=job.seed,
            n_boot=n_boot,
        )
    metrics: dict[str, dict[str, Any]] = {}

    def put(name: str, key: str) -> None:
        k_, n_ = rates[key]
        if n_ == 0:
            return
        est = proportion(k_, n_)
        if use_bootstrap and key in boot:
            est["ci95"] = [round(boot[key][0], 4), round(boot[key][1], 4)]
        metrics[name] = est

    for i, c in enumerate(classes):
        put(f"{c}_sensitivity", f"se_{i}")
        put(f"{c}_ppv", f"ppv_{i}")
        if f"ppv_all_{i}" in rates:
            put(f"{c}_ppv_all_detections", f"ppv_all_{i}")
    put("accuracy", "accuracy")
    put("qrs_sensitivity", "qrs_sensitivity")
    put("qrs_ppv", "qrs_ppv")
    matrix = np.vstack([counts, np.append(extra, 0)])
    op = bundle.operating_point(job.operating_point)
    return make_report(
        job,
        task="beats",
        n=int(counts.sum()),
        operating_point={"name": op.name},
        metrics=metrics,
        confusion={
            "labels": [*classes, "no reference"],
            "columns": [*classes, "not detected"],
            "matrix": matrix.tolist(),
        },
        details={
            "ci_method": (
                f"record bootstrap ({len(per_record)} records, {n_boot} resamples)"
                if use_bootstrap
                else f"Wilson on beats (fewer than {MIN_RECORDS_FOR_BOOTSTRAP} records; beats "
                "within a record are correlated, so these intervals are too narrow)"
            ),
            "match_window_s": MATCH_WINDOW_S,
            "ppv_rule": PPV_RULE,
            "per_record": [
                {"record": r.name, "counts": r.counts.tolist(), "extra": r.extra.tolist()}
                for r in per_record
            ],
        },
        skipped=tuple(skipped),
    )


def beat_rate_cis(
    counts: np.ndarray, extra: np.ndarray, classes: Sequence[str], *, seed: int, n_boot: int
) -> dict[str, tuple[float, float]]:
    """95 % record-bootstrap intervals of every :func:`beat_rates` rate.

    ``counts`` ``(records, k, k + 1)`` and ``extra`` ``(records, k)``: each
    record's counts from :func:`score_record_beats`. Resamples whose
    denominator is zero are left out of that rate's interval.
    """
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {}
    for _ in range(n_boot):
        pick = rng.integers(0, len(counts), len(counts))
        for key, (k_, n_) in beat_rates(
            counts[pick].sum(axis=0), extra[pick].sum(axis=0), classes
        ).items():
            if n_:
                values.setdefault(key, []).append(k_ / n_)
    return {
        key: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)))
        for key, v in values.items()
    }
