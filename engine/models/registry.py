"""The model registry: bundled models plus the user's imported ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ModelError, ModelNotFoundError
from engine.models.bundle import MANIFEST_NAME, Bundle, open_bundle, read_manifest
from engine.resources import resource_path, user_models_dir


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
                        RegistryEntry(folder.name, "?", folder.name, "?", folder, source,
                                      exc.user_message)
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

    def open(self, model_id: str, *, verify: bool = True) -> Bundle:
        """Open (and by default verify) the bundle for ``model_id``."""
        return open_bundle(self.find(model_id).path, verify=verify)

    def default_for(self, input_type: str) -> str | None:
        """Id of the first usable model taking ``input_type`` ("record", "image", "signal")."""
        for e in self.entries():
            if e.problem is None:
                m = read_manifest(e.path)
                if m["inputs"]["type"] == input_type:
                    return e.id
        return None
