"""Engine calls the views run through :mod:`desktop.jobs`.

Views import this module, not engine internals; every function here takes
``progress`` and ``cancel`` and runs on a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.dicom import DicomImage
from engine.errors import DicomError, NotDicomError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

#: Upper bound of files inspected when a folder is opened.
MAX_FOLDER_FILES = 20000


@dataclass(frozen=True)
class OpenOutcome:
    """The image shown, and the files skipped with the reason."""

    image: DicomImage
    skipped: tuple[tuple[Path, str], ...]


def _candidate_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            count = 0
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    count += 1
                    if count > MAX_FOLDER_FILES:
                        return
                    yield Path(root) / name
        else:
            yield path


def open_first_image(
    paths: list[Path], *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> OpenOutcome:
    """Read the first DICOM image among ``paths`` (files or folders)."""
    from engine.api import open_image

    skipped: list[tuple[Path, str]] = []
    last_error: DicomError | None = None
    for path in _candidate_files(paths):
        check_cancelled(cancel)
        try:
            image = open_image(path, progress=progress, cancel=cancel)
        except DicomError as exc:
            skipped.append((path, exc.user_message))
            last_error = exc
            continue
        return OpenOutcome(image=image, skipped=tuple(skipped))
    if last_error is not None and len(skipped) == 1:
        raise last_error
    names = ", ".join(p.name for p in paths[:3])
    raise NotDicomError(
        f"No readable DICOM image was found in {names}."
        + (f" {len(skipped)} file(s) could not be read." if skipped else "")
    )


def analyze_record(
    record: Mapping[str, object],
    model_id: str | None = None,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
):
    """Score a record with ``model_id`` or the default record model."""
    from engine.api import analyze_record as run
    from engine.errors import ModelNotFoundError
    from engine.models.registry import ModelRegistry

    registry = ModelRegistry()
    model_id = model_id or registry.default_for("record")
    if model_id is None:
        raise ModelNotFoundError("No record model is installed. Reinstall Stethos.")
    return run(model_id, record, registry=registry, progress=progress, cancel=cancel)
