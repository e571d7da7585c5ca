"""Find the files behind paths: folders walked recursively, DICOMDIRs followed.

Symlink loops are guarded; a DICOMDIR's file IDs are resolved case-insensitively;
what is missing or leads nowhere is reported as ``(path, user message)``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from engine.dicom.files import is_dicomdir, quoted, read_dataset, read_header
from engine.errors import CorruptDicomError, EngineError

#: File names skipped silently while walking folders (system clutter, not patient data).
_IGNORED_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}


def _walk(
    root: Path, seen_dirs: set[tuple[int, int]], problems: list[tuple[Path, str]] | None = None
) -> Iterator[Path]:
    """Files under ``root``, following symlinks but never entering a folder twice.

    Links that lead nowhere (a loop such as a → b → a, or a missing target)
    are reported in ``problems``.
    """
    try:
        st = root.stat()
    except OSError:
        return
    key = (st.st_dev, st.st_ino)
    if key in seen_dirs:
        return
    seen_dirs.add(key)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.lower() in _IGNORED_NAMES or entry.name.startswith("._"):
            continue
        try:
            if entry.is_dir(follow_symlinks=True):
                yield from _walk(Path(entry.path), seen_dirs, problems)
                continue
            if entry.is_file(follow_symlinks=True):
                yield Path(entry.path)
                continue
        except OSError:
            pass
        if problems is not None and entry.is_symlink() and not os.path.exists(entry.path):
            problems.append(
                (
                    Path(entry.path),
                    f"{quoted(entry.path)} is a link that leads nowhere (a link loop or a "
                    "missing target); it was skipped.",
                )
            )


def _resolve_case_insensitive(root: Path, parts: list[str]) -> Path | None:
    """DICOMDIR file IDs are upper case; media copied to Linux may not be."""
    current = root
    for part in parts:
        candidate = current / part
        try:
            if candidate.exists():
                current = candidate
                continue
        except OSError:  # a name too long for the file system (fuzzing)
            return None
        try:
            match = next((e for e in os.scandir(current) if e.name.upper() == part.upper()), None)
        except OSError:
            return None
        if match is None:
            return None
        current = Path(match.path)
    return current


def _dicomdir_files(path: Path, problems: list[tuple[Path, str]]) -> list[Path]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = read_dataset(path)
        try:
            file_ids = []
            for record in ds.get("DirectoryRecordSequence") or ():
                value = record.get("ReferencedFileID")
                if value:
                    file_ids.append([value] if isinstance(value, str) else [str(v) for v in value])
        except Exception as exc:  # pydicom parses the records lazily, here (fuzzing)
            raise CorruptDicomError(
                f"{quoted(path)} is a damaged DICOMDIR: its list of files cannot be read. "
                "Open the folder of the disc instead.",
                f"{type(exc).__name__}: {exc}",
            ) from exc
    out = []
    for file_id in file_ids:
        parts = [p for part in file_id for p in part.replace("\\", "/").split("/") if p]
        if any(p in (".", "..") or ":" in p for p in parts):  # PS3.10: names on the medium only
            problems.append(
                (
                    path,
                    f"The DICOMDIR lists “{'/'.join(parts)}”, which points outside the disc or "
                    "folder; it was not opened.",
                )
            )
            continue
        resolved = _resolve_case_insensitive(path.parent, parts)
        if resolved is None:
            problems.append(
                (
                    path.parent.joinpath(*parts),
                    f"“{'/'.join(parts)}” is listed in the DICOMDIR but missing from the disc "
                    "or folder.",
                )
            )
            continue
        out.append(resolved)
    return out


def collect_files(
    paths: Iterable[str | os.PathLike[str]], problems: list[tuple[Path, str]]
) -> list[Path]:
    """The files behind ``paths`` (folders walked, DICOMDIRs followed), each once."""
    files: list[Path] = []
    seen_dirs: set[tuple[int, int]] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(_walk(p, seen_dirs, problems))
        elif p.is_file():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if is_dicomdir(read_header(p).ds):
                        try:
                            files.extend(_dicomdir_files(p, problems))
                        except EngineError as exc:
                            problems.append((p, exc.user_message))
                        continue
            except EngineError:
                pass  # reported when the file itself is read
            files.append(p)
        else:
            problems.append((p, f"{quoted(p)} does not exist."))
    unique: dict[Path, None] = {}
    for f in files:
        unique.setdefault(f.resolve() if f.is_symlink() else f, None)
    return list(unique)
