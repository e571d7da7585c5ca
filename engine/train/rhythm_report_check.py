"""The rhythm report's heart rate, pauses and brady/tachycardia against the annotators' beats.

The measurement of docs/experiments/rhythm-af-plan.md ("The report's other
figures against the annotators' beats"): each record goes through the
application's runtime as ``stethos-engine predict`` runs it, and its report is
compared with the same arithmetic (:func:`engine.ecg.holter.summarise`) on the
record's reference beat annotations. What differs is the QRS detection, not
the definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.train.rhythm import overlap

Span = tuple[float, float]

#: A reported minute is "close" within this many beats per minute of the reference's.
CLOSE_BPM = 5.0


def _spans(episodes: Iterable[Mapping[str, Any]]) -> list[Span]:
    return [(float(e["start"]), float(e["end"])) for e in episodes]


def _ref_spans(episodes: Iterable[Any]) -> list[Span]:
    return [(float(e.start), float(e.end)) for e in episodes]


def _touches(span: Span, others: Sequence[Span]) -> bool:
    return any(span[0] < hi and lo < span[1] for lo, hi in others)


def compare_report(rhythm: Mapping[str, Any], reference: Any) -> dict[str, Any]:
    """One record: the engine's ``rhythm`` report (its JSON) against the ``reference``
    :class:`engine.ecg.holter.RhythmSummary` of the annotators' beats."""
    found, ref = _spans(rhythm["pauses"]), _ref_spans(reference.pauses)
    possible = _spans(rhythm.get("unconfirmed_pauses") or [])
    out: dict[str, Any] = {
        "pauses": len(found),
        "reference_pauses": len(ref),
        "pauses_matched": sum(_touches(p, ref) for p in found),
        "reference_pauses_found": sum(_touches(p, found) for p in ref),
        "possible_pauses": len(possible),
        "possible_pauses_matched": sum(_touches(p, ref) for p in possible),
        "reference_pauses_listed": sum(_touches(p, found + possible) for p in ref),
    }
    for kind in ("bradycardia", "tachycardia"):
        f, r = _spans(rhythm[kind]), _ref_spans(getattr(reference, kind))
        out[kind] = {
            "detected_s": sum(b - a for a, b in f),
            "reference_s": sum(b - a for a, b in r),
            "overlap_s": overlap(f, r),
        }
    mine, theirs = rhythm["heart_rate"]["trend"], reference.heart_rate["trend"]
    out["minute_differences"] = [
        abs(a - b) for a, b in zip(mine, theirs, strict=False) if a is not None and b is not None
    ]
    for end in ("min_bpm", "max_bpm"):
        a, b = rhythm["heart_rate"][end], reference.heart_rate[end]
        out[f"{end}_difference"] = None if a is None or b is None else abs(a - b)
    return out


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def pooled(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The figures of the plan over ``records`` (name → :func:`compare_report`)."""
    rs = list(records.values())
    diffs = np.array([d for r in rs for d in r["minute_differences"]], dtype=np.float64)
    out: dict[str, Any] = {
        "records": len(rs),
        "pauses": {
            "reference": sum(r["reference_pauses"] for r in rs),
            "reported": sum(r["pauses"] for r in rs),
            "sensitivity": _rate(
                sum(r["reference_pauses_found"] for r in rs), sum(r["reference_pauses"] for r in rs)
            ),
            "positive_predictivity": _rate(
                sum(r["pauses_matched"] for r in rs), sum(r["pauses"] for r in rs)
            ),
            # listed apart: another lead shows beats in them
            "possible": sum(r["possible_pauses"] for r in rs),
            "possible_matching_a_reference_pause": sum(r["possible_pauses_matched"] for r in rs),
            "reference_found_or_listed": _rate(
                sum(r["reference_pauses_listed"] for r in rs),
                sum(r["reference_pauses"] for r in rs),
            ),
        },
        "minutes": int(diffs.size),
        "minute_abs_difference_median_bpm": round(float(np.median(diffs)), 2)
        if diffs.size
        else None,
        "minute_abs_difference_p95_bpm": (
            round(float(np.percentile(diffs, 95)), 2) if diffs.size else None
        ),
        "minutes_within_5_bpm": round(float(np.mean(diffs <= CLOSE_BPM)), 4)
        if diffs.size
        else None,
    }
    for end in ("min_bpm", "max_bpm"):
        d = [r[f"{end}_difference"] for r in rs if r[f"{end}_difference"] is not None]
        out[f"record_{end}_abs_difference_median"] = round(float(np.median(d)), 2) if d else None
    for kind in ("bradycardia", "tachycardia"):
        ref = sum(r[kind]["reference_s"] for r in rs)
        det = sum(r[kind]["detected_s"] for r in rs)
        hit = sum(r[kind]["overlap_s"] for r in rs)
        out[kind] = {
            "reference_s": round(ref, 1),
            "reported_s": round(det, 1),
            "sensitivity": _rate(hit, ref),
            "positive_predictivity": _rate(hit, det),
        }
    return out


def check_records(mitdb: Path, svdb: Path) -> dict[str, list[Path]]:
    """The plan's records: the 22 DS1 records and every svdb record (headers)."""
    from engine.train.beat_records import DS1

    return {
        "mitdb_ds1": [mitdb / f"{name}.hea" for name in DS1],
        "svdb": sorted(svdb.glob("*.hea")),
    }


def report_check(
    bundle_path: Path,
    groups: Mapping[str, Sequence[Path]],
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Run the rhythm bundle at ``bundle_path`` on every record (``.hea``) of each group and
    compare its report with the annotators' beats: ``{group: pooled figures}`` plus the worst
    records by reported pauses that match no reference pause."""
    from engine.ecg import read_signal
    from engine.ecg.holter import summarise
    from engine.models.bundle import open_bundle
    from engine.models.loader import load_runner

    runner = load_runner(open_bundle(bundle_path))
    total = sum(len(v) for v in groups.values())
    done = 0
    out: dict[str, Any] = {}
    for group, headers in groups.items():
        per: dict[str, dict[str, Any]] = {}
        for header in headers:
            check_cancelled(cancel)
            progress(done / max(total, 1), f"Report check: {group} {header.stem}")
            sig = read_signal(header)
            beats = sig.annotations.beats()
            ref = summarise(
                beats.samples, ["N"] * len(beats.samples), float(sig.fs), sig.data.shape[1]
            )
            pred = runner.predict(header, explain=False)
            per[header.stem] = compare_report(pred.extra["rhythm"], ref)
            done += 1
        figures = pooled(per)
        false = {
            k: r["pauses"] - r["pauses_matched"]
            for k, r in per.items()
            if r["pauses"] > r["pauses_matched"]
        }
        figures["records_with_unmatched_pauses"] = dict(
            sorted(false.items(), key=lambda kv: -kv[1])[:10]
        )
        out[group] = figures
    return out
