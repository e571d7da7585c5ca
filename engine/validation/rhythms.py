"""Local validation of rhythm models: ECG recordings with a reference rhythm each.

Data, as a folder (several may be given):

* a **reference table** ``REFERENCE.csv`` (or any ``.csv`` file given
  directly): one ``record,rhythm`` line per recording, the record's WFDB
  header next to the table; the rhythm is a label of the model (``normal``,
  ``AF``, ``other``, ``noisy``, any case) or a PhysioNet/CinC Challenge 2017
  code (``N``, ``A``, ``O``, ``~``), so the challenge's own files work as
  they come;
* otherwise **one sub-folder per rhythm** (``normal/``, ``AF/`` …, matched
  ignoring case, spaces, ``_`` and ``-``) holding WFDB records.

Every recording is run as the app runs it (gates, long recordings in
windows) and compared by its record-level rhythm. The report gives AF
against everything else as a binary task — AUROC of P(AF), and sensitivity,
specificity, +P and accuracy of the model's own AF calls (Wilson CIs) — plus
the F1 of every class as the Challenge scored it, the Challenge score (mean
F1 of normal, AF and other) and the 4 × 4 confusion matrix. Its per-record
P(AF) and the cases the model calls AF whatever the threshold (AF most
probable) are what a site calibration is fitted on — for the recordings the
model classifies whole; a longer one (AF when an episode is found in its
windows) is scored but not used for that fit, and the report says so.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.errors import EngineError, ModelError, OperationCancelled
from engine.progress import check_cancelled
from engine.validation.beats import wfdb_records
from engine.validation.images import norm_label
from engine.validation.metrics import rhythm_f1
from engine.validation.report import BinaryCases, Evaluation, EvaluationReport, binary_report

#: PhysioNet/CinC Challenge 2017 reference codes.
CINC_CODES = {"n": "normal", "a": "AF", "o": "other", "~": "noisy"}
#: How a long recording is decided, as the report says it.
LONG_NOTE = "the model's whole-recording length: AF when an AF episode was found in its windows"
#: The classes the Challenge score averages.
CHALLENGE_CLASSES = ("normal", "AF", "other")


def _label_of(text: str, labels: tuple[str, ...]) -> str | None:
    by_name = {norm_label(lbl): lbl for lbl in labels}
    key = norm_label(text)
    code = CINC_CODES.get(key)
    return by_name.get(key) or (code if code in labels else None)


def _from_table(
    table: Path, labels: tuple[str, ...]
) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    found: list[tuple[Path, str]] = []
    skipped: list[tuple[str, str]] = []
    try:
        rows = list(csv.reader(table.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"The reference table “{table}” cannot be read.", repr(exc)) from exc
    for n, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if len(cells) < 2 or not cells[0]:
            skipped.append((f"{table}:{n}", "the line is not “record,rhythm”"))
            continue
        label = _label_of(cells[1], labels)
        if label is None:
            if n == 1:  # a header line
                continue
            skipped.append(
                (f"{table}:{n}", f"“{cells[1]}” is not a rhythm of the model ({', '.join(labels)})")
            )
            continue
        record = cells[0]
        for ext in (".hea", ".dat", ".mat"):  # a record named with its file's extension
            record = record.removesuffix(ext)
        found.append((table.parent / f"{record}.hea", label))
    return found, skipped


def labelled_recordings(
    paths: list[Path], labels: tuple[str, ...]
) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """``([(header, rhythm), …], [(input, reason), …])`` from tables or sub-folders (see module)."""
    found: list[tuple[Path, str]] = []
    skipped: list[tuple[str, str]] = []
    for path in paths:
        if path.is_file() and path.suffix.lower() == ".csv":
            more, left = _from_table(path, labels)
        elif (path / "REFERENCE.csv").is_file():
            more, left = _from_table(path / "REFERENCE.csv", labels)
        elif path.is_dir():
            more, left = [], []
            for sub in sorted(p for p in path.iterdir() if p.is_dir()):
                label = _label_of(sub.name, labels)
                if label is None:
                    left.append((str(sub), f"the folder names no rhythm ({', '.join(labels)})"))
                    continue
                more += [(h, label) for h in wfdb_records([sub])]
        else:
            raise ModelError(
                f"“{path}” is neither a folder nor a reference table. For a rhythm model give a "
                "folder holding REFERENCE.csv (record,rhythm lines) or one sub-folder per "
                f"rhythm ({', '.join(labels)}).",
            )
        found += more
        skipped += left
    return found, skipped


def evaluate_rhythms(job: Evaluation) -> EvaluationReport:
    """A rhythm model's metrics on recordings with reference rhythms (see the module)."""
    bundle = job.bundle
    labels = tuple(bundle.labels)
    positive = bundle.positive_label
    items, skipped = labelled_recordings(job.paths, labels)
    if not items:
        raise ModelError(
            f"No recordings with a reference rhythm were found in "
            f"{', '.join(str(p) for p in job.paths)}. Give a folder with REFERENCE.csv "
            f"(record,rhythm lines) or one sub-folder per rhythm: {', '.join(labels)}.",
        )
    cases = BinaryCases(positive, skipped=list(skipped))
    top: list[bool] = []
    whole: list[bool] = []  # classified whole (short), not in windows with episodes
    for i, (header, label) in enumerate(items):
        check_cancelled(job.cancel)
        job.progress(i / len(items), f"Recording {i + 1}/{len(items)}")
        try:
            pred = job.model.predict(
                header, explain=False, operating_point=job.operating_point, cancel=job.cancel
            )
        except OperationCancelled:
            raise
        except EngineError as exc:
            cases.skipped.append((str(header), exc.user_message))
            continue
        cases.add(label, pred.probabilities[positive], pred.label)
        top.append(max(pred.probabilities, key=pred.probabilities.__getitem__) == positive)
        windows = (pred.extra.get("rhythm") or {}).get("windows") or {}
        whole.append(len(windows.get("starts_s") or []) <= 1)
    report = binary_report(job, cases, "recordings", by_label=True)
    scores = rhythm_f1(
        np.array([labels.index(t) for t in cases.truth], dtype=np.int64),
        np.array([labels.index(c) for c in cases.predicted], dtype=np.int64),
        labels, positive, CHALLENGE_CLASSES,
    )  # fmt: skip
    metrics = dict(report.metrics)
    for lbl in labels:
        if scores[lbl]["f1"] is not None:
            metrics[f"f1_{lbl}"] = {"value": scores[lbl]["f1"], "reference": scores[lbl]["n"],
                                    "called": scores[lbl]["predicted"]}  # fmt: skip
    if scores["challenge_f1"] is not None:
        metrics["challenge_f1"] = {"value": scores["challenge_f1"]}
    # A site threshold acts on one P(AF) per recording: long recordings, whose AF call comes
    # from episodes of windows, are scored above but left out of a site calibration's cases.
    keep = np.array(whole, dtype=bool)
    details = {**report.details, "decision": _decision(positive)}
    if not keep.all():
        details["site_calibration_cases"] = (
            f"{int(keep.sum())} recordings classified whole; the {int((~keep).sum())} longer "
            "ones (AF from episodes of 30-s windows) are not used to fit a site calibration"
        )
    return replace(
        report,
        task="rhythm",
        metrics=metrics,
        details=details,
        scores=tuple(v for v, k in zip(report.scores, keep, strict=True) if k),
        outcomes=tuple(v for v, k in zip(report.outcomes, keep, strict=True) if k),
        always_positive=tuple(v for v, k in zip(top, keep, strict=True) if k),
    )


def _decision(positive: str) -> str:
    return (
        f"{positive} where P({positive}) reaches the operating point's threshold or {positive} "
        f"is the most probable rhythm (a recording over {LONG_NOTE}); otherwise the most "
        f"probable rhythm. AUROC, ECE and Brier are of P({positive}); F1 per rhythm as the "
        "PhysioNet/CinC Challenge 2017 scored it"
    )
