"""Local validation: an installed model's card metrics, recomputed on local labelled data.

``stethos-engine evaluate --model ID DATA`` calls :func:`evaluate_model`,
which reads DATA the way the model's input type calls for:

* **image models** — a folder with one sub-folder per label (``NORMAL/``,
  ``PNEUMONIA/``, matched to the model's labels ignoring case, ``_`` and
  ``-``) holding PNG/JPEG or DICOM images: AUROC (bootstrap CI), accuracy,
  sensitivity and specificity at the operating point (Wilson CIs), the
  confusion matrix, ECE and Brier score;
* **beat models** — WFDB records with reference beat annotations
  (``.atr``), as a folder or record paths: the model runs on the engine's
  own QRS detections, detections are matched to reference beats within
  150 ms (ANSI/AAMI EC57), labels are compared as AAMI classes, and the
  per-class sensitivity and positive predictivity are reported (record
  bootstrap CIs with five records or more, Wilson CIs on beats otherwise);
* **record models** — a CSV with the app's record columns and an outcome
  column (``disease`` 0/1, or ``num`` 0–4 with ``num > 0`` positive), or a
  UCI heart-disease file as it comes (``processed.*.data``: 14 columns,
  ``?`` for missing, optionally the header line some redistributors add):
  AUROC, sensitivity/specificity at the operating point, ECE and Brier.

Inputs that cannot be used (unreadable files, records out of range, images
a gate refuses) are listed in the report's ``skipped`` with the reason and
leave the metrics; they never stop the evaluation.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import EngineError, ModelError, OperationCancelled, RecordValidationError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress, sub_progress
from engine.train import metrics as M

if TYPE_CHECKING:
    from engine.models.registry import ModelRegistry

#: Names accepted for the outcome column of a record table (``num`` is UCI's 0–4 grade).
OUTCOME_COLUMNS = ("disease", "outcome", "target", "num")
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

_MISSING = {"", "?", "na", "n/a", "nan", "none", "null"}


# --------------------------------------------------------------------------- estimates


def estimate(value: float, ci: tuple[float, float] | None = None) -> dict[str, Any]:
    """A manifest-style estimate ``{"value", "ci95"}`` rounded to 4 decimals."""
    out: dict[str, Any] = {"value": round(float(value), 4)}
    if ci is not None and all(math.isfinite(c) for c in ci):
        out["ci95"] = [round(float(ci[0]), 4), round(float(ci[1]), 4)]
    return out


def proportion(successes: int, n: int) -> dict[str, Any]:
    """``successes / n`` with its Wilson 95 % interval (and the counts)."""
    if n == 0:
        return {"value": float("nan"), "k": 0, "n": 0}
    out = estimate(successes / n, M.wilson_ci(int(successes), int(n)))
    out.update(k=int(successes), n=int(n))
    return out


def binary_metrics(
    y: np.ndarray, p: np.ndarray, threshold: float, *, seed: int = 0, n_boot: int = 2000
) -> dict[str, Any]:
    """Discrimination, decision and calibration metrics of one score.

    Parameters
    ----------
    y
        Outcomes (1 positive, 0 negative), one per case.
    p
        Predicted probability of the positive outcome, one per case.
    threshold
        Operating point: ``p >= threshold`` is called positive.
    seed, n_boot
        Case bootstrap for the AUROC, ECE and Brier CIs.

    Returns
    -------
    dict
        ``metrics`` (estimates with 95 % CIs: ``auroc``, ``sensitivity``,
        ``specificity``, ``accuracy``, ``ppv``, ``npv``, ``ece``, ``brier``),
        ``confusion`` (``tp``, ``fp``, ``tn``, ``fn``) and ``reliability``.
        The AUROC is left out when only one outcome occurs.
    """
    y = np.asarray(y).astype(np.int64)
    p = np.asarray(p, dtype=np.float64)
    yb = y.astype(bool)
    pred = p >= threshold
    tp, fn = int((pred & yb).sum()), int((~pred & yb).sum())
    tn, fp = int((~pred & ~yb).sum()), int((pred & ~yb).sum())
    metrics: dict[str, Any] = {}
    if 0 < yb.sum() < len(yb):
        metrics["auroc"] = estimate(
            M.auroc(y, p), M.bootstrap_ci(M.auroc, y, p, seed=seed, n_boot=n_boot)
        )
    metrics["sensitivity"] = proportion(tp, tp + fn)
    metrics["specificity"] = proportion(tn, tn + fp)
    metrics["accuracy"] = proportion(tp + tn, len(y))
    metrics["ppv"] = proportion(tp, tp + fp)
    metrics["npv"] = proportion(tn, tn + fn)
    metrics["ece"] = ece_estimate(y, p, seed=seed, n_sim=n_boot)
    metrics["brier"] = estimate(
        _brier(y, p), M.bootstrap_ci(_brier, y, p, seed=seed, n_boot=n_boot)
    )
    return {
        "metrics": {k: v for k, v in metrics.items() if v.get("n", 1) > 0},
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "reliability": M.reliability_table(y, p),
    }


def ece_chance_level(p: np.ndarray, *, repeats: int = 1, seed: int = 0, n_sim: int = 2000) -> float:
    """95th percentile of the ECE a perfectly calibrated model would show by chance.

    Outcomes are drawn as ``Bernoulli(p)`` (one per case; with ``repeats``
    > 1, ``p`` is ``(repeats, n)`` out-of-fold predictions of the same ``n``
    patients, each patient drawn once from its mean prediction) and the ECE
    of ``p`` against them is recomputed. An observed ECE below this level is
    consistent with perfect calibration on this many cases. (ECE is biased
    upward on resamples, so a bootstrap percentile interval would not cover
    it; this consistency level is the interpretable yardstick.)
    """
    rng = np.random.default_rng(seed)
    P = np.asarray(p, dtype=np.float64).reshape(repeats, -1)
    mean = P.mean(axis=0)
    flat = P.ravel()
    sims = []
    for _ in range(n_sim):
        y_sim = (rng.random(len(mean)) < mean).astype(np.float64)
        sims.append(M.expected_calibration_error(np.tile(y_sim, repeats), flat))
    return float(np.percentile(sims, 95))


def ece_estimate(
    y: np.ndarray, p: np.ndarray, *, repeats: int = 1, seed: int = 0, n_sim: int = 2000
) -> dict[str, Any]:
    """``{"value": ECE, "chance_95": …}`` (see :func:`ece_chance_level`).

    ``p`` is ``(n,)``, or ``(repeats, n)`` pooled out-of-fold predictions with
    ``y`` the ``n`` outcomes.
    """
    P = np.asarray(p, dtype=np.float64).reshape(repeats, -1)
    value = M.expected_calibration_error(np.tile(np.asarray(y), repeats), P.ravel())
    chance = ece_chance_level(P, repeats=repeats, seed=seed, n_sim=n_sim)
    return {"value": round(value, 4), "chance_95": round(chance, 4)}


def _brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=np.float64) - np.asarray(y)) ** 2))


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class EvaluationReport:
    """A model's metrics on local data.

    Attributes
    ----------
    model_id, model_version
        The model evaluated.
    task
        ``"binary"`` (records, images) or ``"beats"``.
    data
        The paths given.
    n
        Cases in the metrics: records, images or reference beats.
    operating_point
        ``{"name", "threshold"}`` used for the decisions.
    metrics
        Name → ``{"value", "ci95", …}``.
    confusion
        ``{"labels": [...], "columns": [...], "matrix": [[...]]}`` (rows:
        reference, columns: the model).
    details
        Task-specific tables: ``reliability`` and ``positive_label``, or
        ``per_record``, ``ci_method`` and ``ppv_rule`` for beats.
    skipped
        ``(input, reason)`` for every input left out.
    """

    model_id: str
    model_version: str
    task: str
    data: tuple[str, ...]
    n: int
    operating_point: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    confusion: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    skipped: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (``nan`` becomes ``None``)."""
        return _finite(
            {
                "model": self.model_id,
                "version": self.model_version,
                "task": self.task,
                "data": list(self.data),
                "n": self.n,
                "operating_point": self.operating_point,
                "metrics": self.metrics,
                "confusion": self.confusion,
                **self.details,
                "skipped": [{"input": i, "reason": r} for i, r in self.skipped],
            }
        )

    def to_text(self) -> str:
        """A plain-text table for a terminal."""
        unit = {"beats": "reference beats"}.get(self.task, "cases")
        op = self.operating_point
        lines = [
            f"Model {self.model_id} {self.model_version} on {self.n} {unit} "
            f"({len(self.skipped)} inputs skipped)",
        ]
        if "threshold" in op:
            lines.append(f"Operating point: {op['name']} (threshold {op['threshold']:.3f})")
        else:
            lines.append(f"Operating point: {op['name']}")
        if "ci_method" in self.details:
            lines.append(f"95 % CIs: {self.details['ci_method']}")
        if "ppv_rule" in self.details:
            lines.append(f"+P: {self.details['ppv_rule']}")
        lines += ["", f"{'metric':<22} {'value':>7}  95 % CI        counts"]
        for name, est in self.metrics.items():
            value = est.get("value")
            ci = est.get("ci95")
            text = "—" if value is None or not math.isfinite(value) else f"{value:.3f}"
            ci_text = f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else ""
            if "chance_95" in est:
                ci_text = f"chance ≤ {est['chance_95']:.3f}"
            counts = f"{est['k']}/{est['n']}" if "n" in est else ""
            lines.append(f"{name:<22} {text:>7}  {ci_text:<14} {counts}".rstrip())
        conf = self.confusion
        if conf.get("matrix"):
            width = max(8, *(len(c) + 1 for c in conf["columns"]))
            lines += ["", "Confusion matrix (rows: reference, columns: model)"]
            lines.append(" " * 12 + "".join(f"{c:>{width}}" for c in conf["columns"]))
            for label, row in zip(conf["labels"], conf["matrix"], strict=True):
                lines.append(f"{label:<12}" + "".join(f"{v:>{width}}" for v in row))
        if self.skipped:
            lines += ["", "Skipped:"]
            lines += [f"  {i}: {r}" for i, r in self.skipped[:20]]
            if len(self.skipped) > 20:
                lines.append(f"  … and {len(self.skipped) - 20} more")
        return "\n".join(lines)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return _finite(obj.item())
    return obj


# --------------------------------------------------------------------------- entry point


def evaluate_model(
    model_id: str,
    data: str | Path | Sequence[str | Path],
    *,
    registry: ModelRegistry | None = None,
    device: str | None = "auto",
    operating_point: str | None = None,
    batch_size: int = 8,
    seed: int = 0,
    n_boot: int = 2000,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> EvaluationReport:
    """Recompute a model's card metrics on local labelled data.

    Parameters
    ----------
    model_id
        An installed model (``stethos-engine models list``).
    data
        A folder or file, or several: labelled image folders, WFDB records
        or record tables, as the model's input type calls for (see the
        module documentation).
    registry
        Where to find the model (default: bundled and imported models).
    device
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"`` (torch models).
    operating_point
        Operating point name (default: the model's default one).
    batch_size
        Images per model pass.
    seed, n_boot
        Bootstrap seed and resamples for the CIs.

    Returns
    -------
    EvaluationReport

    Raises
    ------
    ModelNotFoundError, ModelError
        Unknown model, or data that holds nothing usable for it (the
        message says what was expected).
    """
    from engine.api import load_model

    paths = [Path(data)] if isinstance(data, (str, Path)) else [Path(d) for d in data]
    if not paths:
        raise ModelError("Give a folder or file to evaluate the model on.")
    progress(0.0, "Loading the model")
    model = load_model(model_id, registry, device=device)
    bundle = model.bundle
    check_cancelled(cancel)
    step = sub_progress(progress, 0.02, 0.95)
    if bundle.input_type == "image":
        result = _evaluate_images(
            model, paths, operating_point, batch_size, seed, n_boot, step, cancel
        )
    elif bundle.input_type == "signal":
        result = _evaluate_beats(
            model, paths, operating_point, registry, device, seed, n_boot, step, cancel
        )
    else:
        result = _evaluate_records(model, paths, operating_point, seed, n_boot, step, cancel)
    progress(1.0, "Evaluation done")
    return result


def _report(model: Any, paths: list[Path], **fields: Any) -> EvaluationReport:
    return EvaluationReport(
        model_id=model.bundle.id,
        model_version=model.bundle.version,
        data=tuple(str(p) for p in paths),
        **fields,
    )


def _op_dict(bundle: Any, name: str | None) -> dict[str, Any]:
    op = bundle.operating_point(name)
    return {
        "name": op.name,
        "threshold": op.threshold,
        "card_sensitivity": op.sensitivity,
        "card_specificity": op.specificity,
    }


def _binary_report(
    model: Any,
    paths: list[Path],
    y: np.ndarray,
    p: np.ndarray,
    truth_labels: list[str],
    predicted: list[str],
    operating_point: str | None,
    skipped: list[tuple[str, str]],
    seed: int,
    n_boot: int,
    unit: str,
) -> EvaluationReport:
    bundle = model.bundle
    if len(y) == 0:
        reasons = "; ".join(f"{i}: {r}" for i, r in skipped[:3])
        raise ModelError(
            f"None of the {unit} could be evaluated with model “{bundle.id}”.",
            reasons or None,
        )
    op = _op_dict(bundle, operating_point)
    summary = binary_metrics(y, p, op["threshold"], seed=seed, n_boot=n_boot)
    rows = [lbl for lbl in bundle.labels if lbl in truth_labels]
    columns = list(bundle.labels)
    matrix = [
        [
            sum(1 for t, q in zip(truth_labels, predicted, strict=True) if t == r and q == c)
            for c in columns
        ]
        for r in rows
    ]
    return _report(
        model,
        paths,
        task="binary",
        n=len(y),
        operating_point=op,
        metrics=summary["metrics"],
        confusion={"labels": rows, "columns": columns, "matrix": matrix, **summary["confusion"]},
        details={
            "positive_label": bundle.positive_label,
            "prevalence": round(float(np.mean(y)), 4),
            "reliability": summary["reliability"],
        },
        skipped=tuple(skipped),
    )


# --------------------------------------------------------------------------- images


def _norm_label(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def _is_image_file(path: Path) -> bool:
    from engine.filetypes import FileKind, sniff

    return not path.name.startswith(".") and sniff(path) in (FileKind.DICOM, FileKind.PICTURE)


def labelled_images(
    folders: Sequence[Path], labels: Sequence[str]
) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """Images under one sub-folder per label, and sub-folders that name no label.

    Returns ``([(image, label), …], [(folder, reason), …])``; labels are
    matched ignoring case, spaces, ``_`` and ``-``.
    """
    by_name = {_norm_label(lbl): lbl for lbl in labels}
    found: list[tuple[Path, str]] = []
    skipped: list[tuple[str, str]] = []
    for folder in folders:
        if not folder.is_dir():
            raise ModelError(
                f"“{folder}” is not a folder. For an image model give a folder with one "
                f"sub-folder per label ({', '.join(labels)}).",
            )
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            label = by_name.get(_norm_label(sub.name))
            if label is None:
                skipped.append((str(sub), f"the folder names no label ({', '.join(labels)})"))
                continue
            for f in sorted(sub.rglob("*")):
                if f.is_file() and _is_image_file(f):
                    found.append((f, label))
    return found, skipped


def _evaluate_images(
    model: Any,
    paths: list[Path],
    operating_point: str | None,
    batch_size: int,
    seed: int,
    n_boot: int,
    progress: Progress,
    cancel: CancelToken | None,
) -> EvaluationReport:
    from engine.models.runtime import predict_many

    bundle = model.bundle
    items, skipped = labelled_images(paths, bundle.labels)
    if not items:
        raise ModelError(
            f"No labelled images were found in {', '.join(str(p) for p in paths)}. Put the images "
            f"in one sub-folder per label: {', '.join(bundle.labels)}.",
        )
    results = predict_many(
        model,
        [path for path, _ in items],
        batch_size=batch_size,
        explain=False,
        operating_point=operating_point,
        progress=progress,
        cancel=cancel,
    )
    pos = bundle.positive_label
    y, p, truth, predicted = [], [], [], []
    for (path, label), item in zip(items, results, strict=True):
        if item.prediction is None:
            reason = item.error.user_message if item.error else "no result"
            skipped.append((str(path), reason))
            continue
        y.append(int(label == pos))
        p.append(item.prediction.score)
        truth.append(label)
        predicted.append(item.prediction.label)
    return _binary_report(
        model,
        paths,
        np.asarray(y),
        np.asarray(p),
        truth,
        predicted,
        operating_point,
        skipped,
        seed,
        n_boot,
        "images",
    )


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class OutcomeTable:
    """Records with known outcomes read from a table.

    ``lines`` are 1-based file line numbers; ``skipped`` holds
    ``(line, reason)`` for rows that could not be read.
    """

    records: tuple[dict[str, float | None], ...]
    outcomes: np.ndarray
    lines: tuple[int, ...]
    skipped: tuple[tuple[int, str], ...] = ()


def _header_name(cell: str) -> str:
    m = re.match(r"\s*\(?\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*\)?\s*(\(.*)?$", cell)
    return m.group(1).strip().lower() if m else cell.strip().lower()


def _value(text: str) -> float | None:
    t = text.strip()
    if t.lower() in _MISSING:
        return None
    return float(t)


def read_outcome_table(path: str | Path) -> OutcomeTable:
    """Read records and outcomes from a CSV or a UCI heart-disease file.

    A header naming the record fields (any order, ignoring case and the
    parentheses some redistributors add) and an outcome column (one of
    :data:`OUTCOME_COLUMNS`) is read by name; a file without one is read in
    the UCI order (13 fields then ``num``). ``num`` is positive when > 0;
    other outcome columns must hold 0 or 1.

    Raises
    ------
    EngineError
        When the file cannot be read or has no outcome column.
    """
    from engine.records import HEART_RECORD

    p = Path(path)
    names = list(HEART_RECORD.names)
    try:
        text = p.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise EngineError(f"“{p.name}” cannot be read.", str(exc)) from exc
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    delimiter = "\t" if p.suffix.lower() == ".tsv" or "\t" in first else ","
    if delimiter == "," and ";" in first and "," not in first:
        delimiter = ";"
    rows = [
        (i, r)
        for i, r in enumerate(csv.reader(lines, delimiter=delimiter), start=1)
        if any(c.strip() for c in r)
    ]
    if not rows:
        raise EngineError(f"“{p.name}” holds no records.")
    header = [_header_name(c) for c in rows[0][1]]
    if set(names) <= set(header):
        outcome = next((c for c in OUTCOME_COLUMNS if c in header), None)
        if outcome is None:
            raise EngineError(
                f"“{p.name}” has no outcome column. Add one named “disease” (0 or 1) or "
                "“num” (0–4, UCI) to evaluate a model on it.",
            )
        index = {n: header.index(n) for n in names}
        out_idx = header.index(outcome)
        body = rows[1:]
    else:
        width = len(rows[0][1])
        if width == len(names):
            raise EngineError(
                f"“{p.name}” has the 13 record columns but no outcome. Add the UCI “num” column "
                "or a header with a “disease” column.",
            )
        if width != len(names) + 1:
            raise EngineError(
                f"“{p.name}” is neither a table with the record's columns and an outcome nor a "
                f"UCI heart-disease file (14 columns); its first line has {width} columns.",
            )
        index = {n: i for i, n in enumerate(names)}
        out_idx, outcome = len(names), "num"
        body = rows
        try:
            [_value(c) for c in rows[0][1]]
        except ValueError:
            body = rows[1:]  # a header line some redistributors add
    records: list[dict[str, float | None]] = []
    outcomes: list[int] = []
    kept: list[int] = []
    skipped: list[tuple[int, str]] = []
    for line, r in body:
        try:
            record = {n: _value(r[i]) if i < len(r) else None for n, i in index.items()}
            target = _value(r[out_idx]) if out_idx < len(r) else None
        except ValueError:
            skipped.append((line, "holds a value that is not a number"))
            continue
        if target is None:
            skipped.append((line, f"has no outcome ({outcome})"))
            continue
        if outcome == "num":
            y = int(target > 0)
        elif target in (0.0, 1.0):
            y = int(target)
        else:
            skipped.append((line, f"outcome “{outcome}” must be 0 or 1, not {target:g}"))
            continue
        records.append(record)
        outcomes.append(y)
        kept.append(line)
    return OutcomeTable(
        tuple(records), np.asarray(outcomes, dtype=np.int64), tuple(kept), tuple(skipped)
    )


def _table_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in (".csv", ".tsv", ".data")
            )
        else:
            files.append(p)
    return files


def _evaluate_records(
    model: Any,
    paths: list[Path],
    operating_point: str | None,
    seed: int,
    n_boot: int,
    progress: Progress,
    cancel: CancelToken | None,
) -> EvaluationReport:
    bundle = model.bundle
    files = _table_files(paths)
    if not files:
        raise ModelError(f"No record tables (.csv, .data) were found in {paths[0]}.")
    y: list[int] = []
    p: list[float] = []
    truth: list[str] = []
    predicted: list[str] = []
    skipped: list[tuple[str, str]] = []
    neg = next(lbl for lbl in bundle.labels if lbl != bundle.positive_label)
    for k, f in enumerate(files):
        check_cancelled(cancel)
        progress(k / len(files), f"Scoring {f.name}")
        if not f.is_file():
            skipped.append((str(f), "does not exist"))
            continue
        try:
            table = read_outcome_table(f)
        except EngineError as exc:
            skipped.append((str(f), exc.user_message))
            continue
        skipped += [(f"{f} line {line}", reason) for line, reason in table.skipped]
        prepared, outcomes = [], []
        for record, outcome, line in zip(table.records, table.outcomes, table.lines, strict=True):
            try:
                prepared.append(model.prepare(record, name=f"{f.name} line {line}"))
                outcomes.append(int(outcome))
            except RecordValidationError as exc:
                skipped.append((f"{f} line {line}", "; ".join(exc.problems.values())))
        for start in range(0, len(prepared), 256):
            check_cancelled(cancel)
            chunk = prepared[start : start + 256]
            preds = model.run(chunk, explain=False, operating_point=operating_point, cancel=cancel)
            for pred, outcome in zip(preds, outcomes[start : start + 256], strict=True):
                y.append(outcome)
                p.append(pred.score)
                truth.append(bundle.positive_label if outcome else neg)
                predicted.append(pred.label)
    return _binary_report(
        model,
        paths,
        np.asarray(y),
        np.asarray(p),
        truth,
        predicted,
        operating_point,
        skipped,
        seed,
        n_boot,
        "records",
    )


# --------------------------------------------------------------------------- beats


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


def _evaluate_beats(
    model: Any,
    paths: list[Path],
    operating_point: str | None,
    registry: ModelRegistry | None,
    device: str | None,
    seed: int,
    n_boot: int,
    progress: Progress,
    cancel: CancelToken | None,
) -> EvaluationReport:
    from engine.api import analyze_signal
    from engine.ecg import AAMI_CLASSES, read_signal

    bundle = model.bundle
    classes = list(AAMI_CLASSES)
    records = wfdb_records(paths)
    per_record: list[_RecordBeats] = []
    skipped: list[tuple[str, str]] = []
    for k, header in enumerate(records):
        check_cancelled(cancel)
        progress(k / max(len(records), 1), f"Record {header.stem}")
        try:
            signal = read_signal(header)
            if len(signal.annotations.beats()) == 0:
                skipped.append((str(header), "has no reference beat annotations (.atr)"))
                continue
            pred = analyze_signal(
                bundle.id,
                signal,
                explain=False,
                device=device,
                operating_point=operating_point,
                registry=registry,
                cancel=cancel,
            )
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
            seed=seed,
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
    op = bundle.operating_point(operating_point)
    return _report(
        model,
        paths,
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
