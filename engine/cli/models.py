"""``stethos-engine models …`` and ``stethos-engine predict …``.

``models list|show|verify|import|remove`` manage bundles; ``predict`` runs
one model over files and folders (DICOM and PNG/JPEG images, WFDB or DICOM
ECG records, CSV tables of patient records or UCI heart-disease files) and
prints one line per input, or JSON Lines with ``--json``; ``evaluate``
recomputes a model's card metrics on local labelled data (see
:mod:`engine.validation`) and prints a table, or one JSON object.

Exit codes follow :mod:`engine.cli`: 0 every input succeeded, 1 an error
(or every input failed), 3 some inputs failed (for ``evaluate``: some
inputs were skipped; the metrics cover the rest).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.cli import site as site_cli
from engine.cli.common import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, stderr_progress
from engine.errors import EngineError, InputRejectedError, ModelError, OperationCancelled
from engine.filetypes import is_dicom_file
from engine.progress import no_progress
from engine.records.table import (
    TABLE_FORMATS,
    CellError,
    Column,
    TextTable,
    read_fields,
    read_text_table,
    record_columns,
)

_SIGNAL_SUFFIXES = {".hea"}
_RECORD_SUFFIXES = {".csv", ".data", ".tsv"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``models`` and ``predict`` commands to ``stethos-engine``."""
    models = sub.add_parser("models", help="list, inspect, verify, import and remove models")
    msub = models.add_subparsers(dest="models_command", required=True)

    p = msub.add_parser("list", help="installed models (bundled and imported)")
    p.add_argument("--json", action="store_true", help="JSON Lines output")
    p.set_defaults(func=_cmd_list)

    p = msub.add_parser("show", help="a model's card (or its manifest with --json)")
    p.add_argument("model")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=_cmd_show)

    p = msub.add_parser("verify", help="check schema, package versions and every file hash")
    p.add_argument("model", nargs="*", help="model ids (default: every installed model)")
    p.set_defaults(func=_cmd_verify)

    p = msub.add_parser("import", help="import a bundle folder or .zip (checked, offline)")
    p.add_argument("path")
    p.add_argument("--replace", action="store_true", help="replace an imported bundle")
    p.set_defaults(func=_cmd_import)

    p = msub.add_parser("remove", help="remove an imported model")
    p.add_argument("model")
    p.set_defaults(func=_cmd_remove)

    site_cli.register_models(msub)

    p = sub.add_parser(
        "predict",
        help="run a model over files and folders",
        description="Images: DICOM files and pictures. ECG: WFDB records (.hea) and DICOM ECGs. "
        "Records: a CSV with the record columns as its header, or a UCI heart-disease file. "
        f"{TABLE_FORMATS}",
    )
    p.add_argument("--model", required=True, help="model id (see `models list`)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--json", action="store_true", help="JSON Lines output, one line per input")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--operating-point", default=None, help="operating point name")
    p.add_argument(
        "--explain", action="store_true", help="compute explanations (contributions, saliency)"
    )
    p.add_argument(
        "--dicom-out",
        metavar="DIR",
        default=None,
        help="also write each result on a DICOM input as DICOM objects into DIR: a structured "
        "report (TID 1500), and for an image its heat map as a segmentation and an overlay "
        "capture (explanations are computed for it); each in a new series of the source's study",
    )
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "evaluate",
        help="a model's card metrics (with 95%% CIs) on local labelled data",
        description=(
            "Image models: a folder with one sub-folder per label (NORMAL/, PNEUMONIA/ …). "
            "Beat models: WFDB records with reference .atr annotations, or a folder of them. "
            "Rhythm models: a folder with REFERENCE.csv (record,rhythm lines; CinC 2017 codes "
            "N/A/O/~ work) or one sub-folder of WFDB records per rhythm (normal/, AF/ …). "
            "Record models: a CSV with the record columns and an outcome column (disease 0/1 or "
            "num), or a UCI heart-disease file as it comes. "
            f"{TABLE_FORMATS}"
        ),
    )
    p.add_argument("--model", required=True, help="model id (see `models list`)")
    p.add_argument("paths", nargs="+", metavar="DATA", help="folders or files with known labels")
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--operating-point", default=None, help="operating point name")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    site_cli.add_evaluate_options(p)
    p.set_defaults(func=_cmd_evaluate)


# --------------------------------------------------------------------------- models


def _cmd_list(args: argparse.Namespace) -> int:
    from engine.workflow import list_models

    entries = list_models()
    for e in entries:
        if args.json:
            row = {
                "id": e.id,
                "version": e.version,
                "kind": e.kind,
                "name": e.name,
                "source": e.source,
                "path": str(e.path),
                "problem": e.problem,
            }
            print(json.dumps(row, ensure_ascii=False))
        else:
            status = f"  PROBLEM: {e.problem}" if e.problem else ""
            print(f"{e.id:<36} {e.version:<8} {e.kind:<10} {e.source:<8} {e.name}{status}")
    if not entries and not args.json:
        print("No models installed.")
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    from engine.workflow import verify_model

    bundle = verify_model(args.model)
    if args.json:
        print(json.dumps(bundle.manifest, indent=2, ensure_ascii=False))
    else:
        print(bundle.card_text())
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    from engine.workflow import list_models, verify_model

    ids = args.model or sorted({e.id for e in list_models()})
    failed = 0
    for model_id in ids:
        try:
            b = verify_model(model_id)
            print(f"ok      {b.id} {b.version} ({len(b.manifest['files'])} files)")
        except EngineError as exc:
            failed += 1
            print(f"FAILED  {model_id}: {exc.user_message}")
            if exc.detail:
                print(f"        {exc.detail}")
    if not ids:
        print("No models installed.")
    return EXIT_OK if failed == 0 else EXIT_ERROR


def _cmd_import(args: argparse.Namespace) -> int:
    from engine.workflow import import_model

    entry = import_model(args.path, replace=args.replace)
    print(f"imported {entry.id} {entry.version} → {entry.path}")
    return EXIT_OK


def _cmd_remove(args: argparse.Namespace) -> int:
    from engine.workflow import remove_model

    path = remove_model(args.model)
    print(f"removed {args.model} ({path})")
    return EXIT_OK


# --------------------------------------------------------------------------- predict


@dataclass(frozen=True)
class _Input:
    """One unit of work: a file, or one row of a table."""

    path: Path
    row: int | None = None
    record: dict[str, Any] | None = None
    error: EngineError | None = None
    #: What reading the input changed (e.g. a UCI 0 read as not measured), shown as warnings.
    notes: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": str(self.path)}
        if self.row is not None:
            out["row"] = self.row
        return out

    def label(self) -> str:
        return f"{self.path}" + (f" row {self.row}" if self.row is not None else "")


def _walk(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in f.parts[-1:]):
                    yield f
        else:
            yield p


def _image_inputs(paths: list[str]) -> Iterator[_Input]:
    from engine.filetypes import FileKind, sniff

    explicit = {Path(p) for p in paths if not Path(p).is_dir()}
    for f in _walk(paths):
        if f in explicit or sniff(f) in (FileKind.DICOM, FileKind.PICTURE):
            yield _Input(f)


def _signal_inputs(paths: list[str]) -> Iterator[_Input]:
    explicit = {Path(p) for p in paths if not Path(p).is_dir()}
    for f in _walk(paths):
        if (
            f.suffix.lower() in _SIGNAL_SUFFIXES
            or f in explicit
            or (f.suffix.lower() in (".dcm", "") and is_dicom_file(f))
        ):
            yield _Input(f)


def read_record_table(path: Path) -> Iterator[_Input]:
    """Rows of a CSV with the app's record columns, or of a UCI heart-disease file.

    A header naming the record fields (any order, case-insensitive, a unit in
    parentheses converted; extra columns ignored) is read as such; a file
    without one is read in the UCI column order (13 fields, optionally the
    ``num`` target). Separators, decimal commas, units and missing values are
    read as :mod:`engine.records.table` says, as ``evaluate`` reads them.
    """
    from engine.records import HEART_RECORD

    names = list(HEART_RECORD.names)
    try:
        table = read_text_table(path)
    except EngineError as exc:
        yield _Input(path, error=exc)
        return
    if not table.rows:
        yield _Input(path, error=EngineError(f"“{path.name}” holds no records."))
        return
    try:
        columns = record_columns(table, path, HEART_RECORD)
    except EngineError as exc:
        yield _Input(path, error=exc)
        return
    if columns is not None:
        for line, r in table.rows[1:]:
            try:
                record = read_fields(table, r, columns)
            except CellError as exc:
                yield _Input(
                    path, row=line, error=EngineError(f"“{path.name}” line {line}: {exc}.")
                )
                continue
            yield _Input(path, row=line, record=record)
        return
    # No header with the record's names: the UCI heart-disease format.
    yield from _uci_rows(path, table, names)


def _uci_rows(path: Path, table: TextTable, names: list[str]) -> Iterator[_Input]:
    """Rows without a header naming the record's fields, in the UCI column order.

    13 columns, or 14 with UCI's ``num`` (not read); a first line that is not
    numbers is a header some redistributors add, and skipped.
    """
    from engine.records import HEART_RECORD
    from engine.records.uci import UCI_COLUMNS, zero_as_missing

    columns = {spec.name: Column(i, spec=spec) for i, spec in enumerate(HEART_RECORD.fields)}
    width = len(table.rows[0][1])
    if width not in (len(names), len(UCI_COLUMNS)):
        yield _Input(
            path,
            error=EngineError(
                f"“{path.name}” is neither a table with the record's columns "
                f"({', '.join(names)}) nor a UCI heart-disease file.",
                f"Its first line has {width} columns; the UCI format has {len(names)} "
                f"or {len(UCI_COLUMNS)}.",
            ),
        )
        return
    for k, (line, cells) in enumerate(table.rows):
        if len(cells) < len(names):
            yield _Input(
                path,
                row=line,
                error=EngineError(
                    f"“{path.name}” line {line} has {len(cells)} columns; a record has "
                    f"{len(names)}."
                ),
            )
            continue
        try:
            record = read_fields(table, cells, columns)
        except CellError as exc:
            if k == 0:
                continue  # a header line
            yield _Input(path, row=line, error=EngineError(f"“{path.name}” line {line}: {exc}."))
            continue
        yield _Input(path, row=line, record=record, notes=zero_as_missing(record))


def _record_inputs(paths: list[str]) -> Iterator[_Input]:
    explicit = {Path(p) for p in paths if not Path(p).is_dir()}
    for f in _walk(paths):
        if f in explicit or f.suffix.lower() in _RECORD_SUFFIXES:
            if not f.is_file():
                yield _Input(f, error=EngineError(f"“{f}” does not exist."))
                continue
            yield from read_record_table(f)


def _emit(
    inp: _Input, pred: Any, error: EngineError | None, as_json: bool, dicom: Any = None
) -> None:
    if as_json:
        if error is not None:
            row = {"input": inp.describe(), "error": error.user_message}
            if error.detail:
                row["detail"] = error.detail
            row["error_type"] = type(error).__name__
            problems = getattr(error, "problems", None)
            if problems:
                row["problems"] = dict(problems)
        else:
            row = {"input": inp.describe(), **pred.to_json()}
            if inp.notes:
                row["warnings"] = [*inp.notes, *row.get("warnings", [])]
            if dicom is not None:
                out: dict[str, Any] = {"paths": [str(p) for p in dicom.paths]}
                out["kinds"] = list(dicom.kinds)
                if dicom.skipped:
                    out["skipped"] = dicom.skipped
                row["dicom_out"] = out
        print(json.dumps(row, ensure_ascii=False, allow_nan=False, default=_json_default))
        return
    if error is not None:
        print(f"{inp.label()}: ERROR {error.user_message}")
        for message in (getattr(error, "problems", None) or {}).values():
            print(f"  {message}")
        return
    if pred.extra.get("out_of_domain"):
        print(f"{inp.label()}: NO RESULT  {pred.extra.get('out_of_domain_note', '')}")
        _dicom_line(dicom)
        return
    spec = f", Sp {pred.specificity:.2f}" if pred.specificity >= 0 else ""
    per_beat = bool(pred.beats) and "rhythm" not in pred.extra  # the beat model's mean
    line = (
        f"{inp.label()}: {pred.label}  {'mean per beat ' if per_beat else ''}"
        f"p({pred.positive_label})={pred.score:.3f}  "
        f"[{pred.operating_point} ≥ {pred.threshold:.3f}; Se {pred.sensitivity:.2f}{spec}; "
        f"{pred.device}]"
    )
    counts = ", ".join(f"{k} {v}" for k, v in pred.extra.get("beat_counts", {}).items() if v)
    if pred.beats and counts:
        line += f"  beats: {counts}"
    print(line)
    if "rhythm" in pred.extra:
        print(_rhythm_line(pred.extra["rhythm_label"], pred.extra["rhythm"]))
    units = pred.extra.get("contribution_units", "")
    for c in pred.contributions[:5]:
        print(f"  {c.label}: {c.value}  {c.contribution:+.3f} {units}".rstrip())
    for w in (*inp.notes, *pred.warnings):
        print(f"  warning: {w}")
    for n in pred.extra.get("notes", []):
        print(f"  note: {n}")
    if "notice" in pred.extra:
        print(f"  notice: {pred.extra['notice']}")
    _dicom_line(dicom)


def _dicom_line(dicom: Any) -> None:
    if dicom is None:
        return
    if dicom.skipped:
        print(f"  DICOM: nothing written: {dicom.skipped}")
    else:
        print(f"  DICOM: {', '.join(str(p) for p in dicom.paths)}")


def _write_dicom(inp: _Input, pred: Any, input_type: str, out_dir: str) -> Any:
    """The result's DICOM objects (``--dicom-out``), or ``None`` for a non-DICOM input."""
    from engine.workflow import InputRef
    from engine.workflow.analysis import AnalysisOutcome
    from engine.workflow.dicom_results import export_result_dicom

    if input_type == "record" or not inp.path.is_file() or not is_dicom_file(inp.path):
        return None
    ref = InputRef(
        kind="image" if input_type == "image" else "signal",
        path=str(inp.path),
        lead=str(pred.extra.get("lead", "")),
    )
    return export_result_dicom(AnalysisOutcome(pred, ref), out_dir)


def _rhythm_line(label: str, r: dict[str, Any]) -> str:
    """One line of a rhythm report: rhythm, AF burden and episodes, heart rate, ectopy."""
    hr = r.get("heart_rate", {})
    parts = [f"  rhythm: {label}", f"AF burden {100 * r['af_burden']:.1f} %",
             f"{len(r['episodes'])} AF episode(s)"]  # fmt: skip
    if hr.get("mean_bpm") is not None:
        parts.append(
            f"heart rate {hr['mean_bpm']:.0f} bpm ({hr['min_bpm']:.0f}–{hr['max_bpm']:.0f})"
        )
    parts.append(f"{len(r.get('pauses', []))} pause(s) > 2 s")
    if r.get("unconfirmed_pauses"):
        parts.append(f"{len(r['unconfirmed_pauses'])} possible, not confirmed on another lead")
    ect = r.get("ectopy")
    if ect:
        parts.append(f"V {ect['V']['count']}, S {ect['S']['count']} ectopic beats")
    ex = r.get("explanation") or {}
    if ex.get("rr_changes"):
        parts.append(
            f"{len(ex['irregular_rr'])} of {ex['rr_changes']} RR changes over 10 % in the "
            f"explained stretch {ex['start']:.0f}–{ex['end']:.0f} s"
        )
    return "; ".join(parts)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def _cmd_predict(args: argparse.Namespace) -> int:
    from engine.models.runtime import predict_many
    from engine.workflow import load_model

    model = load_model(args.model, device=args.device)
    input_type = model.bundle.input_type
    progress = stderr_progress if sys.stderr.isatty() and not args.json else no_progress
    if input_type == "image":
        inputs = list(_image_inputs(args.paths))
    elif input_type == "signal":
        inputs = list(_signal_inputs(args.paths))
    else:
        inputs = list(_record_inputs(args.paths))
    if not inputs:
        raise ModelError(
            f"No {input_type} inputs were found in {', '.join(args.paths)} for model "
            f"“{args.model}”."
        )
    ok = failed = 0
    for start in range(0, len(inputs), max(1, args.batch_size)):
        chunk = inputs[start : start + max(1, args.batch_size)]
        runnable = []
        for inp in chunk:
            source: Any = None
            error = inp.error
            if error is None:
                try:
                    source = _source(inp, input_type)
                except OperationCancelled:
                    raise
                except EngineError as exc:
                    error = exc
            if error is not None:
                failed += 1
                _emit(inp, None, error, args.json)
            else:
                runnable.append((inp, source))
        if not runnable:
            continue
        results = predict_many(
            model,
            [s for _, s in runnable],
            batch_size=args.batch_size,
            # a heat map is one of the DICOM objects of an image result
            explain=args.explain or bool(args.dicom_out and input_type == "image"),
            operating_point=args.operating_point,
        )
        for (inp, _), item in zip(runnable, results, strict=True):
            dicom, error = None, item.error
            if item.ok and args.dicom_out:
                try:
                    dicom = _write_dicom(inp, item.prediction, input_type, args.dicom_out)
                except EngineError as exc:
                    error = exc
            if item.ok and error is None:
                ok += 1
            else:
                failed += 1
            _emit(inp, item.prediction if error is None else None, error, args.json, dicom)
        progress(min(1.0, (start + len(chunk)) / len(inputs)), f"{ok + failed} of {len(inputs)}")
    sys.stdout.flush()
    if failed and not ok:
        return EXIT_ERROR
    return EXIT_PARTIAL if failed else EXIT_OK


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from engine.validation import evaluate_model

    progress = stderr_progress if sys.stderr.isatty() and not args.json else no_progress
    save = args.save_site_calibration
    if save:
        site_cli.check_model(args.model)  # before a long evaluation
    report = evaluate_model(
        args.model,
        args.paths,
        device=args.device,
        operating_point=args.operating_point,
        batch_size=max(1, args.batch_size),
        seed=args.seed,
        site_calibration=not (save or args.no_site_calibration),
        progress=progress,
    )
    if args.json:
        out = report.to_json()
        if save:
            out["saved_site_calibration"] = site_cli.saved_json(
                *site_cli.save_from_report(args, report)
            )
        print(json.dumps(out, ensure_ascii=False, allow_nan=False))
    else:
        print(report.to_text())
        sys.stdout.flush()
        if save:  # after the metrics, which stand even if the fit is refused
            print("\n".join(site_cli.saved_lines(*site_cli.save_from_report(args, report))))
    sys.stdout.flush()
    return EXIT_PARTIAL if report.skipped else EXIT_OK


def _source(inp: _Input, input_type: str) -> Any:
    if input_type == "signal" and not inp.path.exists() and Path(f"{inp.path}.hea").is_file():
        from engine.ecg import read_signal

        return read_signal(Path(f"{inp.path}.hea"))  # a WFDB record named without extension
    if not inp.path.exists():
        raise InputRejectedError(f"“{inp.path}” does not exist.")
    if input_type == "image":
        return inp.path
    if input_type == "signal":
        from engine.ecg import read_signal

        return read_signal(inp.path)
    return inp.record
