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
  AUROC, sensitivity/specificity at the operating point, ECE and Brier;
* **rhythm models** — ECG recordings with a reference rhythm each (a
  ``REFERENCE.csv`` of ``record,rhythm`` lines, or one sub-folder per
  rhythm): AF against the rest and every rhythm's F1
  (:mod:`engine.validation.rhythms`).

Inputs that cannot be used (unreadable files, records out of range, images
a gate refuses) are listed in the report's ``skipped`` with the reason and
leave the metrics; they never stop the evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ModelError
from engine.models.bundle import RHYTHM_TASK
from engine.progress import CancelToken, Progress, check_cancelled, no_progress, sub_progress
from engine.validation.beats import evaluate_beats
from engine.validation.images import evaluate_images
from engine.validation.records import evaluate_records
from engine.validation.report import Evaluation, EvaluationReport
from engine.validation.rhythms import evaluate_rhythms

if TYPE_CHECKING:
    from engine.models.registry import ModelRegistry


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
    site_calibration: bool = True,
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
    site_calibration
        Use the clinic's saved site calibration of this model version, as
        its results do (the report says which); ``False`` evaluates the
        model as its bundle defines it (what a new site calibration is
        fitted on).

    Returns
    -------
    EvaluationReport

    Raises
    ------
    ModelNotFoundError, ModelError
        Unknown model, or data that holds nothing usable for it (the
        message says what was expected).
    """
    from engine.workflow import load_model

    paths = [Path(data)] if isinstance(data, (str, Path)) else [Path(d) for d in data]
    if not paths:
        raise ModelError("Give a folder or file to evaluate the model on.")
    progress(0.0, "Loading the model")
    model = load_model(model_id, registry, device=device, site_calibration=site_calibration)
    check_cancelled(cancel)
    job = Evaluation(
        model, paths, operating_point, seed, n_boot, sub_progress(progress, 0.02, 0.95),
        cancel, registry, device, batch_size,
    )  # fmt: skip
    evaluate = {"image": evaluate_images, "signal": evaluate_beats}.get(
        job.bundle.input_type, evaluate_records
    )
    if job.bundle.task == RHYTHM_TASK:
        evaluate = evaluate_rhythms
    result = evaluate(job)
    progress(1.0, "Evaluation done")
    return result
