"""``stethos-engine info|render``: DICOM files from a terminal.

``info PATH...`` tells what files, folders and DICOMDIRs hold (patients,
studies, series, image counts, geometry problems, unreadable files);
``render FILE --out OUT.png`` writes a frame exactly as the viewer shows it,
or with ``--raw`` its modality values as a 16-bit PGM.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from engine.cli.common import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE

RAW_HELP = (
    "write the frame's modality values (e.g. HU) as a 16-bit PGM instead of the 8-bit "
    "display image. PGM holds 0..65535, so values are rounded and stored as value - OFFSET, "
    "where OFFSET = min(0, lowest value of the frame): CT at -1024 HU is stored as 0 and "
    "OFFSET is printed and written into the PGM header as a '# offset' comment; values "
    "above 65535 + OFFSET are clipped. Grayscale only."
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``info`` and ``render`` to ``stethos-engine``."""
    p = sub.add_parser(
        "info",
        help="what DICOM files, folders and DICOMDIRs hold",
        description="List patients, studies and series (with image counts and geometry "
        "problems) in DICOM files, folders (searched recursively) and DICOMDIRs, and the "
        "files that could not be read. Exit 0: all read; 3: some files failed; 1: nothing usable.",
    )
    p.add_argument("paths", nargs="+", help="DICOM files, folders or DICOMDIR files")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "render",
        help="write a DICOM frame as the viewer shows it (PNG) or its raw values (PGM)",
        description="Render one frame of a DICOM image to an image file, exactly as the "
        "viewer shows it: the file's own window by default (else its full range), "
        "MONOCHROME1 and Presentation LUT inversion applied.",
    )
    p.add_argument("file", help="a DICOM image file")
    p.add_argument("--out", required=True, help="output file: .png (or .pgm/.ppm, .bmp, .tif)")
    p.add_argument("--frame", type=int, default=0, help="frame index, from 0 (default 0)")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--window",
        metavar="CENTER,WIDTH",
        help="explicit window in modality units, e.g. --window 40,400 "
        "or the lung window --window -600,1500",
    )
    group.add_argument(
        "--no-window",
        action="store_true",
        help="ignore the file's window; map the frame's minimum..maximum to black..white",
    )
    p.add_argument("--raw", action="store_true", help=RAW_HELP)
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser(
        "deidentify",
        help="write de-identified copies (PS3.15 Annex E basic profile) of DICOM files",
        description="De-identify DICOM files and folders into OUT following the Basic "
        "Application Level Confidentiality Profile (table E.1-1): identifying attributes "
        "removed, emptied or replaced, UIDs remapped consistently within this export, "
        "private tags removed. Originals are never modified. Exit 0: all exported; "
        "3: some files failed; 1: nothing exported.",
    )
    p.add_argument("paths", nargs="+", help="DICOM files or folders")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="for composite actions (X/Z, X/D…) remove rather than blank the attribute",
    )
    p.set_defaults(func=_cmd_deidentify)


def _cmd_deidentify(args: argparse.Namespace) -> int:
    from engine.dicom.deid import export_deidentified

    report = export_deidentified(
        [Path(p) for p in args.paths],
        Path(args.out),
        composite="strict" if args.strict else "valid",
    )
    sys.stdout.write(f"{len(report.results)} file(s) de-identified into {report.out_dir}\n")
    for warning in report.warnings:
        sys.stdout.write(f"  warning: {warning}\n")
    for failure in report.failures:
        sys.stderr.write(f"  {failure.path}: {failure.message}\n")
    for path in report.skipped:
        why = ("a DICOMDIR (the copies are written without one)" if path.name.upper() == "DICOMDIR"
               else "it is inside the output folder; choose an output folder apart from the "
               "originals")  # fmt: skip
        sys.stderr.write(f"  {path}: skipped: {why}\n")
    if not report.results:
        return EXIT_ERROR
    return EXIT_PARTIAL if report.failures else EXIT_OK


# --- info -------------------------------------------------------------------------
def _series_dict(series) -> dict[str, Any]:
    first = series.instances[0] if series.instances else None
    return {
        "series_instance_uid": series.series_instance_uid,
        "number": series.series_number,
        "description": series.description,
        "modality": series.modality,
        "body_part": series.body_part,
        "files": len(series.instances),
        "images": series.n_images,
        "rows_columns": list(series.shape) if series.shape else None,
        "photometric": first.photometric if first else None,
        "transfer_syntax": first.transfer_syntax if first else None,
        "pixel_spacing_mm": list(series.spacing.spacing) if series.spacing.spacing else None,
        "spacing_source": series.spacing.source,
        "slice_spacing_mm": series.slice_spacing,
        "ordered_by": series.ordered_by,
        "flags": {
            "gaps": series.has_gaps,
            "non_uniform_spacing": series.non_uniform_spacing,
            "mixed_orientations": series.mixed_orientations,
            "duplicate_instances": series.duplicate_instances,
            "inconsistent_pixel_spacing": series.inconsistent_pixel_spacing,
            "mixed_sizes": series.mixed_sizes,
        },
        "problems": list(series.problems),
    }


def scan_to_dict(result) -> dict[str, Any]:
    """A :class:`~engine.dicom.scan.ScanResult` as plain JSON-ready data."""
    return {
        "files": result.n_files,
        "patients": [
            {
                "patient_id": p.patient_id,
                "name": p.name,
                "birth_date": p.birth_date,
                "sex": p.sex,
                "studies": [
                    {
                        "study_instance_uid": s.study_instance_uid,
                        "date": s.date,
                        "time": s.time,
                        "description": s.description,
                        "accession_number": s.accession_number,
                        "series": [_series_dict(se) for se in s.series],
                    }
                    for s in p.studies
                ],
            }
            for p in result.patients
        ],
        "problems": [{"path": str(path), "message": msg} for path, msg in result.problems],
    }


def _print_info(result) -> None:
    from engine.dicom.files import syntax_name

    n_series = len(result.series)
    print(
        f"{result.n_files} file(s): {len(result.patients)} patient(s), "
        f"{len(result.studies)} study(ies), {n_series} series"
    )
    for p in result.patients:
        extra = ", ".join(x for x in (p.birth_date and f"born {p.birth_date}", p.sex) if x)
        print(
            f"Patient {p.name or '(no name)'} [{p.patient_id or 'no ID'}]"
            + (f" {extra}" if extra else "")
        )
        for s in p.studies:
            print(f"  Study {s.date or '(no date)'} {s.description or ''}".rstrip())
            for se in s.series:
                line = f"    Series {se.label}"
                if se.shape:
                    first = se.instances[0]
                    line += f", {se.shape[0]}×{se.shape[1]} {first.photometric}, {syntax_name(first.transfer_syntax)}"
                print(line)
                if se.spacing.spacing:
                    a, b = se.spacing.spacing
                    print(f"      pixel spacing {a:g}×{b:g} mm ({se.spacing.source})")
                if se.slice_spacing:
                    print(
                        f"      slices every {se.slice_spacing:.3g} mm, ordered by {se.ordered_by}"
                    )
                for problem in se.problems:
                    print(f"      ! {problem}")
    if result.problems:
        print(f"{len(result.problems)} file(s) could not be used:")
        for path, message in result.problems:
            print(f"  {path}: {message}")


def _cmd_info(args: argparse.Namespace) -> int:
    from engine.dicom.scan import scan_paths

    result = scan_paths(args.paths)
    if args.json:
        print(json.dumps(scan_to_dict(result), indent=2, ensure_ascii=False))
    else:
        _print_info(result)
    if not result.series:
        if not args.json:
            sys.stderr.write("error: no DICOM files found\n")
        return EXIT_ERROR
    return EXIT_PARTIAL if result.problems else EXIT_OK


# --- render -------------------------------------------------------------------------
def _parse_window(text: str):
    from engine.dicom.pixels import Window

    try:
        center_text, width_text = text.split(",")
        center, width = float(center_text), float(width_text)
    except ValueError:
        return None
    if not (math.isfinite(center) and math.isfinite(width)) or width <= 0:
        return None
    return Window(center, width, "command line")


def write_pgm16(path: Path, values: np.ndarray) -> int:
    """Write modality values as a 16-bit PGM (value - offset); return the offset."""
    rounded = np.rint(values.astype(np.float64))
    offset = int(min(0.0, float(rounded.min()))) if rounded.size else 0
    data = np.clip(rounded - offset, 0, 65535).astype(">u2")
    rows, cols = data.shape
    header = f"P5\n# offset {offset}\n{cols} {rows}\n65535\n".encode("ascii")
    path.write_bytes(header + data.tobytes())
    return offset


def _cannot_write(out: Path, exc: OSError) -> int:
    sys.stderr.write(f"error: cannot write {out}: {exc.strerror or exc}\n")
    return EXIT_ERROR


def _cmd_render(args: argparse.Namespace) -> int:
    from engine.dicom.image import read_image, render_8bit
    from engine.dicom.pixels import full_range_window

    window = None
    if args.window is not None:
        window = _parse_window(args.window)
        if window is None:
            sys.stderr.write("error: --window takes CENTER,WIDTH with WIDTH > 0, e.g. 40,400\n")
            return EXIT_USAGE
    image = read_image(args.file)
    if not 0 <= args.frame < image.n_frames:
        sys.stderr.write(
            f"error: {Path(args.file).name} has {image.n_frames} frame(s); "
            f"--frame must be 0..{image.n_frames - 1}\n"
        )
        return EXIT_USAGE
    out = Path(args.out)
    if args.raw:
        if image.is_color:
            sys.stderr.write("error: --raw needs a grayscale image; this one is colour\n")
            return EXIT_USAGE
        try:
            offset = write_pgm16(out, image.frames[args.frame])
        except OSError as exc:
            return _cannot_write(out, exc)
        print(f"{out}: 16-bit modality values, stored as value - ({offset})")
        return EXIT_OK
    if args.no_window and not image.is_color:
        window = full_range_window(image.frames[args.frame])
    pixels = render_8bit(image, args.frame, window)
    from PIL import Image

    try:
        Image.fromarray(pixels).save(out)
    except OSError as exc:
        return _cannot_write(out, exc)
    except ValueError:  # Pillow cannot tell the format from the name
        sys.stderr.write(f"error: {out.name}: give the output a .png, .tif or .jpg name\n")
        return EXIT_USAGE
    used = ""
    if not image.is_color:
        shown = window or image.default_window(args.frame)
        used = f", window {shown.center:g},{shown.width:g}"
    print(f"{out}: {pixels.shape[1]}×{pixels.shape[0]}{used}")
    return EXIT_OK
