"""Local validation of image models: one sub-folder of images per label."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from engine.errors import ModelError
from engine.validation.report import BinaryCases, Evaluation, EvaluationReport, binary_report


def norm_label(text: str) -> str:
    """A label as folders may spell it: lower case, runs of spaces, ``_`` and ``-`` as one space."""
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
    by_name = {norm_label(lbl): lbl for lbl in labels}
    found: list[tuple[Path, str]] = []
    skipped: list[tuple[str, str]] = []
    for folder in folders:
        if not folder.is_dir():
            raise ModelError(
                f"“{folder}” is not a folder. For an image model give a folder with one "
                f"sub-folder per label ({', '.join(labels)}).",
            )
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            label = by_name.get(norm_label(sub.name))
            if label is None:
                skipped.append((str(sub), f"the folder names no label ({', '.join(labels)})"))
                continue
            for f in sorted(sub.rglob("*")):
                if f.is_file() and _is_image_file(f):
                    found.append((f, label))
    return found, skipped


def evaluate_images(job: Evaluation) -> EvaluationReport:
    """An image model's metrics on labelled image folders."""
    from engine.models.runtime import predict_many

    bundle = job.bundle
    items, skipped = labelled_images(job.paths, bundle.labels)
    if not items:
        raise ModelError(
            f"No labelled images were found in {', '.join(str(p) for p in job.paths)}. Put the images "
            f"in one sub-folder per label: {', '.join(bundle.labels)}.",
        )
    results = predict_many(
        job.model,
        [path for path, _ in items],
        batch_size=job.batch_size,
        explain=False,
        operating_point=job.operating_point,
        progress=job.progress,
        cancel=job.cancel,
    )
    cases = BinaryCases(bundle.positive_label, skipped=skipped)
    flagged: list[str] = []
    checked = 0
    by_label: dict[str, dict[str, int]] = {}
    for (path, label), item in zip(items, results, strict=True):
        p = item.prediction
        if p is None:
            reason = item.error.user_message if item.error else "no result"
            cases.skipped.append((str(path), reason))
            continue
        if "out_of_domain" in p.extra:
            checked += 1
            counts = by_label.setdefault(label, {"checked": 0, "flagged": 0})
            counts["checked"] += 1
            counts["flagged"] += bool(p.extra.get("out_of_domain"))
        if p.extra.get("out_of_domain"):
            flagged.append(str(path))
        # Metrics count every image with the label the model gives or would give (withheld
        # for out-of-domain images), so discrimination is measured on all of them.
        cases.add(label, p.score, p.label or str(p.extra.get("withheld_label", "")))
    report = binary_report(job, cases, "images")
    if not checked:
        return report
    domain = {
        "checked": checked,
        "flagged": len(flagged),
        "share_flagged": round(len(flagged) / checked, 4),
        # The site's own images are in domain: a check that withholds one label's images more
        # often than the other's withholds results where they matter (the card's own figures).
        "by_label": {
            k: {**v, "share_flagged": round(v["flagged"] / v["checked"], 4)}
            for k, v in sorted(by_label.items())
        },
        "flagged_images": flagged[:50],
    }
    return replace(report, details={**report.details, "out_of_domain": domain})
