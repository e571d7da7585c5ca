"""The model registry: bundled models plus the user's imported ones.

Importing a bundle (a folder or a ``.zip``) works offline and never runs
anything from it: the archive is checked member by member (no absolute
names, no ``..``, no links, a bounded number of members and of uncompressed
bytes, counted while extracting), unpacked into a temporary folder beside
the user's models folder, opened with every hash checked and no unlisted
file allowed, and only then renamed into place in one step.
"""

from __future__ import annotations

import math
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.errors import BundleIntegrityError, BundleSchemaError, ModelError, ModelNotFoundError
from engine.models.bundle import (
    MANIFEST_NAME,
    RHYTHM_TASK,
    Bundle,
    open_bundle,
    read_manifest,
)
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.resources import resource_path, user_models_dir

#: Limits on an imported archive (a real bundle is one weights file, a card
#: and a manifest; DenseNet-121 weights are ~30 MB).
MAX_ZIP_MEMBERS = 256
MAX_ZIP_BYTES = 2 * 1024**3
MAX_COMPRESSION_RATIO = 200
#: Tasks whose models are used only when asked for (by id or by task), never as the default.
NOT_DEFAULT_TASKS = frozenset({RHYTHM_TASK})


@dataclass(frozen=True)
class RegistryEntry:
    """A bundle found on disk; ``problem`` is set when it cannot be used."""

    id: str
    version: str
    name: str
    kind: str
    path: Path
    source: str  # "bundled" or "user"
    problem: str | None = None


class ModelRegistry:
    """Finds bundles in ``resources/models`` and the user's models folder."""

    def __init__(self, roots: Iterable[tuple[Path, str]] | None = None) -> None:
        if roots is None:
            roots = [(resource_path("models"), "bundled"), (user_models_dir(), "user")]
        self._roots = list(roots)

    def entries(self) -> list[RegistryEntry]:
        """Every bundle folder found, usable or not (hashes are not checked here)."""
        found: list[RegistryEntry] = []
        for root, source in self._roots:
            if not root.is_dir():
                continue
            for folder in sorted(p for p in root.iterdir() if (p / MANIFEST_NAME).is_file()):
                try:
                    m = read_manifest(folder)
                    found.append(
                        RegistryEntry(m["id"], m["version"], m["name"], m["kind"], folder, source)
                    )
                except ModelError as exc:
                    found.append(
                        RegistryEntry(
                            folder.name, "?", folder.name, "?", folder, source, exc.user_message
                        )
                    )
        return found

    def find(self, model_id: str) -> RegistryEntry:
        """The usable entry for ``model_id`` (user bundles shadow bundled ones)."""
        matches = [e for e in self.entries() if e.id == model_id and e.problem is None]
        if not matches:
            known = ", ".join(sorted({e.id for e in self.entries()})) or "none"
            raise ModelNotFoundError(
                f"No usable model “{model_id}” is installed. Installed models: {known}."
            )
        return matches[-1]

    @property
    def user_root(self) -> Path | None:
        """The folder imported bundles go to (``None`` when this registry has none)."""
        for root, source in self._roots:
            if source == "user":
                return root
        return None

    def open(self, model_id: str, *, verify: bool = True) -> Bundle:
        """Open (and by default verify) the bundle for ``model_id``."""
        return open_bundle(self.find(model_id).path, verify=verify)

    def default_for(self, input_type: str, task: str | None = None) -> str | None:
        """Id of the default model taking ``input_type`` ("record", "image", "signal").

        ``task`` narrows the choice to models of that task; without it, models
        of the tasks in :data:`NOT_DEFAULT_TASKS` (the rhythm report, asked for
        by name) are never the default.

        The best-calibrated usable one: the lowest out-of-fold expected
        calibration error its manifest states (``metrics.ece``, or
        ``metrics.masked_ece`` with ``metrics.masked_auroc`` for a record model
        validated on masked inputs, the records it will meet), compared at
        a resolution of 0.01 — finer differences are below what a few
        hundred validation patients can tell apart — with ties going to the
        higher AUROC. Models without an ECE come after, in folder order
        (user bundles after bundled ones). ``None`` when no usable model
        takes ``input_type``.
        """
        best: tuple[float, float, int, str] | None = None
        for order, e in enumerate(self.entries()):
            if e.problem is not None:
                continue
            m = read_manifest(e.path)
            if m["inputs"]["type"] != input_type:
                continue
            model_task = str(m.get("task", ""))
            if (task is not None and model_task != task) or (
                task is None and model_task in NOT_DEFAULT_TASKS
            ):
                continue
            metrics = m.get("metrics", {})
            masked = "masked_ece" in metrics and "masked_auroc" in metrics
            ece = metrics.get("masked_ece" if masked else "ece", {}).get("value")
            auroc = metrics.get("masked_auroc" if masked else "auroc", {}).get("value")
            known = isinstance(ece, int | float) and math.isfinite(ece)
            ece_rank = round(float(ece), 2) if known else math.inf
            auc_rank = -float(auroc) if isinstance(auroc, int | float) else 0.0
            rank = (ece_rank, auc_rank, order, e.id)
            if best is None or rank[:3] < best[:3]:
                best = rank
        return None if best is None else best[3]

    def verify(self, model_id: str) -> Bundle:
        """Open ``model_id`` with every hash and requirement checked (raises on a problem)."""
        entry = self._any_entry(model_id)
        if entry.problem:
            raise BundleSchemaError(entry.problem, str(entry.path))
        return open_bundle(entry.path, verify=True)

    def _any_entry(self, model_id: str) -> RegistryEntry:
        matches = [e for e in self.entries() if e.id == model_id]
        if not matches:
            known = ", ".join(sorted({e.id for e in self.entries()})) or "none"
            raise ModelNotFoundError(
                f"No model “{model_id}” is installed. Installed models: {known}."
            )
        return matches[-1]

    def import_bundle(
        self,
        source: str | Path,
        *,
        replace: bool = False,
        progress: Progress = no_progress,
        cancel: CancelToken | None = None,
    ) -> RegistryEntry:
        """Import a bundle folder or ``.zip`` into the user's models folder.

        Parameters
        ----------
        source
            A bundle folder (holding ``manifest.json``) or a zip of one (the
            manifest at the top or inside a single top-level folder).
        replace
            Replace an imported bundle with the same id (bundled models are
            never replaced; an import with their id shadows them).

        Raises
        ------
        BundleSchemaError, BundleIntegrityError, BundleCompatibilityError
            For an unsafe archive or an invalid, altered or incompatible bundle;
            nothing is installed then.
        """
        root = self.user_root
        if root is None:
            raise ModelError("This model registry has no folder for imported models.")
        src = Path(source)
        if not src.exists():
            raise ModelError(f"“{src.name}” does not exist.", str(src))
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=root))
        try:
            progress(0.0, f"Reading {src.name}")
            if src.is_dir():
                _copy_folder(src, staging / "bundle", cancel)
            elif _is_zip(src):
                _extract_zip(src, staging / "bundle", cancel)
            else:
                raise BundleSchemaError(
                    f"“{src.name}” is neither a model bundle folder nor a .zip of one.", str(src)
                )
            folder = _bundle_folder(staging / "bundle", src.name)
            check_cancelled(cancel)
            progress(0.5, "Checking the bundle")
            bundle = open_bundle(folder, verify=True, strict=True)
            target = root / bundle.id
            if target.exists():
                if not replace:
                    raise ModelError(
                        f"A model “{bundle.id}” is already imported. Remove it first or import "
                        "with replace.",
                    )
                old = Path(tempfile.mkdtemp(prefix=".old-", dir=root))
                target.rename(old / bundle.id)
            folder.rename(target)
            progress(1.0, f"Imported {bundle.id}")
            m = bundle.manifest
            return RegistryEntry(m["id"], m["version"], m["name"], m["kind"], target, "user")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            for leftover in root.glob(".old-*"):
                shutil.rmtree(leftover, ignore_errors=True)

    def remove(self, model_id: str) -> Path:
        """Delete an imported bundle; bundled models cannot be removed.

        Raises
        ------
        ModelNotFoundError, ModelError
        """
        user = [e for e in self.entries() if e.id == model_id and e.source == "user"]
        if not user:
            if any(e.id == model_id for e in self.entries()):
                raise ModelError(
                    f"Model “{model_id}” comes with Stethos and cannot be removed; only imported "
                    "models can.",
                )
            raise ModelNotFoundError(f"No imported model “{model_id}” is installed.")
        path = user[-1].path
        root = self.user_root
        if root is None or path.resolve().parent != root.resolve():
            raise ModelError(f"Model “{model_id}” is not in the imported-models folder.")
        trash = Path(tempfile.mkdtemp(prefix=".old-", dir=root))
        path.rename(trash / path.name)
        shutil.rmtree(trash, ignore_errors=True)
        return path


def _copy_folder(src: Path, dst: Path, cancel: CancelToken | None) -> None:
    """Copy a bundle folder, refusing links and bounding size and count."""
    dst.mkdir(parents=True)
    total = 0
    count = 0
    for member in sorted(src.rglob("*")):
        check_cancelled(cancel)
        rel = member.relative_to(src)
        if member.is_symlink():
            raise BundleIntegrityError(
                f"The bundle “{src.name}” contains a symbolic link ({rel.as_posix()}) and was "
                "refused.",
            )
        count += 1
        if count > MAX_ZIP_MEMBERS:
            raise BundleSchemaError(f"The bundle “{src.name}” has too many files.")
        if member.is_dir():
            (dst / rel).mkdir(parents=True, exist_ok=True)
        elif member.is_file():
            total += member.stat().st_size
            if total > MAX_ZIP_BYTES:
                raise BundleSchemaError(f"The bundle “{src.name}” is too large to import.")
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(member, dst / rel)


def _is_zip(src: Path) -> bool:
    """Whether ``src`` looks like a zip archive (a damaged one too: reading it says why)."""
    try:
        return zipfile.is_zipfile(src)
    except Exception:  # zipfile.BadZipFile for an archive spanning disks (fuzzing)
        return True


def _check_member_name(info: zipfile.ZipInfo, archive: str) -> PurePosixPath:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if (
        not name
        or name.startswith("/")
        or (len(name) > 1 and name[1] == ":")
        or any(part == ".." for part in path.parts)
        or "\x00" in name
    ):
        raise BundleSchemaError(
            f"The archive “{archive}” contains an unsafe file name ({info.filename}) and was "
            "refused.",
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise BundleIntegrityError(
            f"The archive “{archive}” contains a symbolic link ({info.filename}) and was refused."
        )
    return path


def _extract_zip(src: Path, dst: Path, cancel: CancelToken | None) -> None:
    """Extract a zip safely (names, links, member count, streamed byte budget)."""
    dst.mkdir(parents=True)
    try:
        zf = zipfile.ZipFile(src)
    except Exception as exc:  # zipfile raises many types on malformed archives (fuzzing)
        raise BundleSchemaError(f"“{src.name}” is not a readable zip archive.", repr(exc)) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise BundleSchemaError(
                f"The archive “{src.name}” has {len(infos)} members, more than a model bundle "
                f"can have ({MAX_ZIP_MEMBERS}); it was refused.",
            )
        declared = sum(i.file_size for i in infos)
        packed = max(sum(i.compress_size for i in infos), 1)
        if declared > MAX_ZIP_BYTES or (
            declared / packed > MAX_COMPRESSION_RATIO and declared > (64 * 1024**2)
        ):
            raise BundleSchemaError(
                f"The archive “{src.name}” would unpack to {declared / 1024**2:.0f} MB, too much "
                "for a model bundle (possible zip bomb); it was refused.",
            )
        names = [_check_member_name(i, src.name) for i in infos]
        budget = MAX_ZIP_BYTES
        for info, rel in zip(infos, names, strict=True):
            check_cancelled(cancel)
            target = dst.joinpath(*rel.parts)
            if dst.resolve() not in target.resolve().parents and target.resolve() != dst.resolve():
                raise BundleSchemaError(
                    f"The archive “{src.name}” names a file outside its folder ({info.filename}).",
                )
            try:
                (target if info.is_dir() else target.parent).mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file and a folder of one name, a name too long
                raise BundleSchemaError(
                    f"The archive “{src.name}” holds a file name that cannot be unpacked "
                    f"({info.filename}); it was refused.",
                    repr(exc),
                ) from exc
            if info.is_dir():
                continue
            try:
                with zf.open(info) as fin, target.open("xb") as fout:
                    while block := fin.read(1 << 20):
                        budget -= len(block)
                        if budget < 0:
                            raise BundleSchemaError(
                                f"The archive “{src.name}” unpacks to more than "
                                f"{MAX_ZIP_BYTES // 1024**2} MB (possible zip bomb); it was "
                                "refused.",
                            )
                        fout.write(block)
            except FileExistsError as exc:
                raise BundleSchemaError(
                    f"The archive “{src.name}” lists {info.filename} twice.",
                ) from exc
            except BundleSchemaError:
                raise
            except Exception as exc:  # bad CRC, bad deflate stream, unknown method, encrypted
                raise BundleIntegrityError(
                    f"The archive “{src.name}” is damaged ({info.filename}).", repr(exc)
                ) from exc


def _bundle_folder(extracted: Path, name: str) -> Path:
    """The folder holding ``manifest.json``: the top or its single sub-folder."""
    if (extracted / MANIFEST_NAME).is_file():
        return extracted
    subs = [p for p in extracted.iterdir() if p.is_dir() and not p.name.startswith("__MACOSX")]
    files = [p for p in extracted.iterdir() if p.is_file()]
    if len(subs) == 1 and not files and (subs[0] / MANIFEST_NAME).is_file():
        return subs[0]
    raise BundleSchemaError(f"“{name}” does not contain a model bundle (no manifest.json).")
