"""``stethos-engine ecg info|beats``: ECG records from a terminal.

``ecg info RECORD`` describes a WFDB record or DICOM ECG (leads, rate,
duration, patient, annotations); ``ecg beats RECORD`` lists the detected QRS
complexes (sample index, time, RR) and, when the record carries reference
beat annotations, how well the detection agrees with them. Both take
``--json`` for machine-readable output.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from typing import Any

from engine.cli.common import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ecg`` command group to ``stethos-engine``."""
    ecg = sub.add_parser("ecg", help="read ECG records and detect beats")
    esub = ecg.add_subparsers(dest="ecg_command", required=True)

    p = esub.add_parser("info", help="leads, rate, duration, patient and annotations of a record")
    p.add_argument("record", help="WFDB record (.hea or path without extension) or DICOM ECG")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_info)

    p = esub.add_parser("beats", help="detected QRS complexes (sample, time, RR)")
    p.add_argument("record", help="WFDB record (.hea or path without extension) or DICOM ECG")
    p.add_argument("--lead", default=None, help="lead to analyse (default: II or MLII)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_beats)


def _cmd_info(args: argparse.Namespace) -> int:
    from engine.ecg.beats import aami_class
    from engine.ecg.io import read_signal

    signal = read_signal(args.record)
    beats = signal.annotations.beats()
    classes = Counter(aami_class(s) for s in beats.symbols)
    info: dict[str, Any] = {
        "source": str(signal.source),
        "format": signal.source_format,
        "record": signal.record_name,
        "fs_hz": signal.fs,
        "n_samples": signal.n_samples,
        "duration_s": round(signal.duration_s, 3),
        "leads": list(signal.leads),
        "original_leads": list(signal.original_leads),
        "units": "mV",
        "patient_id": signal.patient_id,
        "patient_name": signal.patient_name,
        "age": signal.age,
        "sex": signal.sex,
        "recorded_at": signal.recorded_at,
        "annotations": len(signal.annotations),
        "reference_beats": len(beats),
        "reference_beats_by_class": {c: classes[c] for c in "NSVFQ" if classes[c]},
        "range_mv": {
            name: [round(float(row.min()), 3), round(float(row.max()), 3)]
            for name, row in zip(signal.leads, signal.data, strict=True)
        }
        if signal.n_samples
        else {},
    }
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return EXIT_OK
    print(f"{signal.source}")
    print(f"  format      {signal.source_format}")
    print(f"  leads       {', '.join(signal.leads)} ({signal.n_leads})")
    print(f"  rate        {signal.fs:g} Hz, {signal.n_samples} samples, {signal.duration_s:.1f} s")
    who = ", ".join(
        v
        for v in (
            signal.patient_name,
            signal.patient_id,
            f"age {signal.age}" if signal.age else "",
            signal.sex,
        )
        if v
    )
    if who:
        print(f"  patient     {who}")
    if signal.recorded_at:
        print(f"  recorded    {signal.recorded_at}")
    if len(signal.annotations):
        by_class = ", ".join(f"{c} {n}" for c, n in info["reference_beats_by_class"].items())
        print(
            f"  annotations {len(signal.annotations)} ({len(beats)} beats"
            + (f": {by_class})" if by_class else ")")
        )
    return EXIT_OK


def _cmd_beats(args: argparse.Namespace) -> int:
    from engine.ecg.evaluation import score_qrs
    from engine.ecg.io import read_signal
    from engine.ecg.qrs import detect_beats

    signal = read_signal(args.record)
    found = detect_beats(signal, args.lead)
    samples = [int(s) for s in found.samples]
    rr = [None, *(round(float(v), 4) for v in found.rr_s)][: len(samples)]
    reference = None
    if len(signal.annotations.beats()):
        score = score_qrs(signal.annotations, found.samples, signal.fs, signal.n_samples)
        reference = {
            "beats": score.reference,
            "tp": score.tp,
            "fn": score.fn,
            "fp": score.fp,
            "sensitivity": _finite(score.sensitivity),
            "positive_predictivity": _finite(score.positive_predictivity),
        }
    if args.json:
        out = {
            "source": str(signal.source),
            "lead": found.lead,
            "fs_hz": signal.fs,
            "duration_s": round(signal.duration_s, 3),
            "n_beats": len(samples),
            "heart_rate_bpm": _finite(found.mean_heart_rate_bpm),
            "beats": [
                {"sample": s, "time_s": round(s / signal.fs, 4), "rr_s": r}
                for s, r in zip(samples, rr, strict=True)
            ],
            "reference": reference,
        }
        print(json.dumps(out, ensure_ascii=False))
        return EXIT_OK
    rate = found.mean_heart_rate_bpm
    print(
        f"{signal.source.name}: {len(samples)} beats on lead {found.lead} "
        f"in {signal.duration_s:.1f} s"
        + (f", mean heart rate {rate:.0f} bpm" if math.isfinite(rate) else "")
    )
    if not samples:
        print(f"no beat found on lead {found.lead}: a flat, disconnected or very noisy signal?")
        return EXIT_OK
    print(f"{'#':>6} {'sample':>10} {'time s':>10} {'RR s':>7}")
    for i, (s, r) in enumerate(zip(samples, rr, strict=True), start=1):
        print(f"{i:>6} {s:>10} {s / signal.fs:>10.3f} {'' if r is None else f'{r:.3f}':>7}")
    if reference is not None:
        print(
            f"reference annotations: {reference['beats']} beats, "
            f"sensitivity {100 * (reference['sensitivity'] or 0):.2f} %, "
            f"positive predictivity {100 * (reference['positive_predictivity'] or 0):.2f} % "
            "(150 ms window)"
        )
    return EXIT_OK


def _finite(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None
