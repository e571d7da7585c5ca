"""A result as standard DICOM objects, and earlier results read back from a study.

:func:`export_result_dicom` writes, for one analysis of a DICOM input (a
live :class:`~engine.workflow.analysis.AnalysisOutcome` or a stored
:class:`~engine.workflow.saved.SavedResult`):

* a Comprehensive SR (TID 1500) with the finding, score, operating point,
  the model's identity and weights hash, the device observer and, when a
  clinician decided, the person, decision and comment
  (:mod:`engine.dicom.ai_sr`);
* for an image result with a heat map: a fractional Segmentation
  registered to the source frame and a Secondary Capture with the map
  burned in, marked as derived AI output (:mod:`engine.dicom.ai_maps`).

Each object kind is its own new series (DICOM's Modality is a series
attribute, so an SR, a SEG and a capture cannot share one series and stay
valid); the three series of one export share their Series Number and a
Series Description naming the model and version. Every export makes new
UIDs: a later export, or a newer model version, adds series and never
overwrites one. Nothing is written for an input that is not DICOM, a
refused input (no result) or an image whose label was withheld as out of
domain (there is no finding to report); :class:`DicomExport` says why.

:func:`ai_results_in` reads the SR and SEG objects in scanned studies back
(Stethos's own and, for SRs following TID 1500, other tools').
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import DicomError, EngineError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.workflow.analysis import AnalysisOutcome, InputRef
from engine.workflow.saved import SavedResult, decode_heatmap, result_payload

if TYPE_CHECKING:
    from engine.dicom.ai_read import AiObject
    from engine.dicom.ai_sr import ResultContent
    from engine.dicom.scan import ScanResult

#: Series Number of the series an export writes (SR, SEG and capture alike).
EXPORT_SERIES_NUMBER = 9901
_EVENT_KEYS = ("episodes", "pauses", "unconfirmed_pauses", "bradycardia", "tachycardia")


@dataclass(frozen=True)
class ResultReview:
    """A clinician's decision on a result, as the SR records it."""

    decision: str
    comment: str = ""
    clinician: str = ""
    login: str = ""


@dataclass(frozen=True)
class DicomExport:
    """What one export wrote: the files, and their series; or why nothing was written."""

    paths: tuple[Path, ...] = ()
    series_uids: tuple[str, ...] = ()
    skipped: str = ""
    kinds: tuple[str, ...] = ()

    @property
    def written(self) -> bool:
        return bool(self.paths)


def _model_name(outcome: AnalysisOutcome | SavedResult) -> str:
    if isinstance(outcome, AnalysisOutcome):
        return outcome.prediction.model_name
    return outcome.stored.model_name


def _payload(outcome: AnalysisOutcome | SavedResult) -> dict[str, Any]:
    if isinstance(outcome, AnalysisOutcome):
        return result_payload(outcome)
    return dict(outcome.stored.result) if isinstance(outcome.stored.result, Mapping) else {}


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _events(rhythm: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    out = []
    for key in _EVENT_KEYS:
        for e in rhythm.get(key) or ():
            start, end = _float(e.get("start")), _float(e.get("end"))
            if start is None or end is None:
                continue
            label = str(e.get("label") or key.rstrip("s"))
            out.append((label, start, end))
    return sorted(out, key=lambda e: e[1])


def _beat_counts(payload: Mapping[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for b in payload.get("beats") or ():
        label = str(b.get("label", "")) if isinstance(b, Mapping) else ""
        if label:
            counts[label] = counts.get(label, 0) + 1
    return counts


def result_content(
    outcome: AnalysisOutcome | SavedResult,
    review: ResultReview | None = None,
    source_ref: tuple[str, str, int] | None = None,
) -> ResultContent:
    """The SR's view of a result (model identity, finding, ECG summary, inputs, review)."""
    from engine.dicom.ai_sr import Event, ResultContent

    payload = _payload(outcome)
    ref = outcome.source
    kind = {"image": "image", "signal": "ecg", "record": "record"}.get(
        ref.kind if ref is not None else "record", "record"
    )
    probabilities = {str(k): float(v) for k, v in (payload.get("probabilities") or {}).items()}
    op = payload.get("operating_point") or {}
    label = str(payload.get("label") or "")
    positive = str(payload.get("positive_label") or "")
    if isinstance(outcome, AnalysisOutcome):
        positive = outcome.prediction.positive_label
    elif outcome.stored.positive_label:
        positive = outcome.stored.positive_label
    rhythm: Mapping[str, Any] = (
        payload["rhythm"] if isinstance(payload.get("rhythm"), Mapping) else {}
    )
    counts = _beat_counts(payload)
    burdens: dict[str, float] = {}
    if counts:
        total = sum(counts.values())
        burdens = {k: v / total for k, v in counts.items() if k != "N"}
    if rhythm:
        for label_, burden in (rhythm.get("burdens") or {}).items():
            if (b := _float(burden)) is not None:
                burdens[str(label_)] = b
        if not counts:
            for label_, ectopy in (rhythm.get("ectopy") or {}).items():
                if isinstance(ectopy, Mapping) and (n := _float(ectopy.get("count"))) is not None:
                    counts[str(label_)] = int(n)
    inputs = {}
    if kind == "record":
        for c in payload.get("contributions") or ():
            value = str(c.get("value", "")).strip()
            unit = str(c.get("unit", "")).strip()
            inputs[str(c.get("feature", ""))] = (
                f"{value} {unit}".strip() if value else "not recorded"
            )
    heart: Mapping[str, Any] = rhythm.get("heart_rate") or {}
    return ResultContent(
        kind=kind,  # type: ignore[arg-type]
        model_id=str(payload.get("model", "")),
        model_name=_model_name(outcome),
        model_version=str(payload.get("version", "")),
        weights_sha256=str(payload.get("weights_sha256", "")),
        label=label,
        positive_label=positive,
        score=probabilities.get(positive) if positive else None,
        operating_point=str(op.get("name", "")),
        threshold=_float(op.get("threshold")),
        rhythm=str(payload.get("rhythm_label") or "") if rhythm else "",
        heart_rate_bpm=_float(heart.get("mean_bpm")),
        beat_counts=counts,
        burdens=burdens,
        events=tuple(Event(*e) for e in _events(rhythm)),
        inputs=inputs,
        review=review,
        source_ref=source_ref,
        lead=ref.lead if ref is not None and kind == "ecg" else "",
    )


def _heatmap(outcome: AnalysisOutcome | SavedResult, rows: int, cols: int) -> np.ndarray | None:
    if isinstance(outcome, AnalysisOutcome):
        heat = outcome.prediction.heatmap
    else:
        heat = (
            outcome.heatmap
            if outcome.heatmap is not None
            else decode_heatmap((outcome.stored.result or {}).get("heatmap"))
        )
    if heat is None:
        return None
    heat = np.asarray(heat, dtype=np.float32)
    if heat.shape != (rows, cols):  # a kept (reduced) map: stretched back, bilinear
        from scipy.ndimage import zoom

        heat = zoom(heat, (rows / heat.shape[0], cols / heat.shape[1]), order=1)
        heat = heat[:rows, :cols]
        if heat.shape != (rows, cols):
            heat = np.pad(heat, ((0, rows - heat.shape[0]), (0, cols - heat.shape[1])), "edge")
    return np.clip(heat, 0.0, 1.0)


def _skip_reason(payload: Mapping[str, Any], ref: InputRef | None, study_source: str) -> str:
    if ref is None or (ref.kind != "record" and not ref.path):
        return "The result does not name the file it was made on."
    if ref.kind == "record" and not study_source:
        return (
            "A record result is written into a DICOM study: open or link the patient's study first."
        )
    if not payload.get("label"):
        return (
            "The model withheld its label (the image was outside what it was trained on): "
            "there is no finding to write."
        )
    return ""


def _read_source(path: str) -> Any:
    from engine.dicom import read_dataset

    try:
        return read_dataset(Path(path), headers_only=True)
    except EngineError:
        raise
    except (OSError, ValueError) as exc:
        raise DicomError(f"“{Path(path).name}” cannot be read: {exc}") from exc


def export_result_dicom(
    outcome: AnalysisOutcome | SavedResult,
    out_dir: str | Path,
    *,
    review: ResultReview | None = None,
    study_source: str = "",
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> DicomExport:
    """Write a result's SR (and, for an image with a heat map, its SEG and capture).

    ``study_source`` is, for a record result, a DICOM file of the study the
    SR joins (the record itself is no DICOM). Returns what was written, or a
    :class:`DicomExport` with ``skipped`` set and no files.

    Raises :class:`~engine.errors.DicomError` when the source cannot be read
    or is not DICOM; ``OSError`` from writing is reported as an
    :class:`~engine.errors.EngineError`.
    """
    with warnings.catch_warnings():
        # highdicom warns about the source's own oddities (a one-part patient name, ...);
        # they are the source's, copied as they are, and not the clinician's business here
        warnings.simplefilter("ignore", UserWarning)
        return _export(outcome, out_dir, review, study_source, progress, cancel)


def _export(
    outcome: AnalysisOutcome | SavedResult,
    out_dir: str | Path,
    review: ResultReview | None,
    study_source: str,
    progress: Progress,
    cancel: CancelToken | None,
) -> DicomExport:
    import highdicom as hd

    from engine.dicom._hd_tables import warm_tables
    from engine.dicom.ai_maps import build_heatmap_seg, build_overlay_capture
    from engine.dicom.ai_sr import build_result_sr

    payload = _payload(outcome)
    ref = outcome.source
    if reason := _skip_reason(payload, ref, study_source):
        return DicomExport(skipped=reason)
    assert ref is not None
    check_cancelled(cancel)
    progress(0.02, "Loading the DICOM tables")
    warm_tables()  # without stalling the UI thread (see engine.dicom._hd_tables)
    progress(0.05, "Reading the source")
    is_record = ref.kind == "record"
    source = _read_source(study_source if is_record else ref.path)
    if "SOPInstanceUID" not in source or "StudyInstanceUID" not in source:
        return DicomExport(skipped=f"“{Path(ref.path).name}” is not a DICOM object.")
    frame = int(ref.frame or 0)
    source_ref = (
        None if is_record else (str(source.SOPClassUID), str(source.SOPInstanceUID), frame + 1)
    )
    content = result_content(outcome, review, source_ref)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"stethos-{content.model_id}-{content.model_version}-{hd.UID()[-8:]}"
    objects: list[tuple[str, Any]] = []
    progress(0.2, "Writing the structured report")
    objects.append(("sr", build_result_sr(
        content, source, series_uid=hd.UID(), series_number=EXPORT_SERIES_NUMBER,
        record_evidence=not is_record, created=datetime.now(),
    )))  # fmt: skip
    check_cancelled(cancel)
    heat = None
    if ref.kind == "image" and "Rows" in source:
        heat = _heatmap(outcome, int(source.Rows), int(source.Columns))
    if heat is not None:
        progress(0.4, "Writing the heat map")
        objects.append(("seg", build_heatmap_seg(
            heat, source, content, frame=frame, series_uid=hd.UID(),
            series_number=EXPORT_SERIES_NUMBER,
        )))  # fmt: skip
        check_cancelled(cancel)
        progress(0.7, "Writing the overlay image")
        from engine.explain import burn_in
        from engine.workflow.studies import render_study_image

        method = str(payload.get("explanation_method", ""))
        rgb = burn_in(render_study_image(ref.path, frame), heat)
        objects.append(("capture", build_overlay_capture(
            rgb, source, content, series_uid=hd.UID(), series_number=EXPORT_SERIES_NUMBER,
            method=method,
        )))  # fmt: skip
    check_cancelled(cancel)
    paths = []
    try:
        for kind, ds in objects:
            path = out / f"{stem}-{kind}.dcm"
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    except OSError as exc:
        for p in paths:
            p.unlink(missing_ok=True)
        raise EngineError(f"The DICOM objects could not be written to {out}: {exc}") from exc
    progress(1.0, "Written")
    return DicomExport(
        paths=tuple(paths),
        series_uids=tuple(str(ds.SeriesInstanceUID) for _, ds in objects),
        kinds=tuple(kind for kind, _ in objects),
    )


def ai_results_in(
    scan: ScanResult | Iterable[str | Path],
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[list[AiObject], list[tuple[Path, str]]]:
    """The AI objects (SR, SEG, overlay captures) among a scan's series, or among paths.

    Returns the objects found and ``(path, reason)`` for those that could not
    be read (never raises for one bad object).
    """
    from engine.dicom.ai_read import is_sop_of_ai, read_ai_object

    if hasattr(scan, "series"):
        paths = [
            inst.path
            for series in scan.series
            for inst in series.instances
            if is_sop_of_ai(inst.sop_class_uid, inst.image_type)
        ]
    else:
        paths = [Path(p) for p in scan]
    found, problems = [], []
    for i, path in enumerate(paths):
        check_cancelled(cancel)
        try:
            obj = read_ai_object(path)
        except DicomError as exc:
            problems.append((Path(path), exc.user_message))
            continue
        if obj is not None:
            found.append(obj)
        progress((i + 1) / max(len(paths), 1), "Reading AI results")
    return found, problems


def heatmap_for(objects: Sequence[AiObject], sop_instance_uid: str) -> AiObject | None:
    """The latest SEG heat map registered to ``sop_instance_uid`` (``None`` if none)."""
    segs = [o for o in objects if o.kind == "seg" and o.heatmap is not None
            and sop_instance_uid in o.references]  # fmt: skip
    return max(segs, key=lambda o: o.content_datetime) if segs else None


def _number(value: float) -> str:
    return f"{value:.3g}"


def finding_lines(obj: AiObject) -> list[str]:
    """One plain line per finding of an SR (what the study browser lists).

    ``"<finding> — <evaluations>; <measurements> · <algorithm> <version>"``,
    e.g. ``"Pneumonia — Present; Model score 0.999 · Pneumonia CNN 1.1.1"``.
    """
    lines = []
    for f in obj.findings:
        who = " ".join(p for p in (f.algorithm, f.algorithm_version) if p) or (
            obj.observers[-1] if obj.observers else obj.series_description
        )
        parts = [v if c == f.finding or not c else f"{c}: {v}" for c, v in f.evaluations if v]
        parts += [
            f"{c} {_number(v)}{(' ' + u) if u and not u.startswith('{') else ''}"
            for c, v, u in f.measurements
        ]
        parts += [f"{c}: {t}" for c, t in f.texts if c == "Comment"]
        lines.append(f"{f.finding or 'finding'} — {'; '.join(parts)} · {who}")
    return lines
