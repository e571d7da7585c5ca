"""Writing bundles: what training pipelines (and tests) call to produce one.

The folder is assembled in a temporary sibling, every file is hashed into
the manifest, the manifest is validated, and the folder is renamed into
place in one step, so a half-written bundle is never visible.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.models.architectures import save_weights
from engine.models.bundle import SCHEMA_VERSION, write_manifest

if TYPE_CHECKING:
    from torch import nn


def torch_requirements() -> dict[str, str]:
    """Package requirements for a torch bundle written by this installation."""
    torch_version = metadata.version("torch").split("+")[0]
    major_minor = ".".join(torch_version.split(".")[:2])
    reqs = {"torch": f">={major_minor}", "safetensors": ">=0.4"}
    try:
        tv = metadata.version("torchvision").split("+")[0]
        reqs["torchvision"] = f">={'.'.join(tv.split('.')[:2])}"
    except metadata.PackageNotFoundError:  # pragma: no cover - torchvision is a dependency
        pass
    return reqs


def write_bundle(
    out_dir: str | Path,
    manifest: Mapping[str, Any],
    *,
    net: nn.Module | None = None,
    pipeline: Any = None,
    card: str | None = None,
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a bundle folder ``out_dir/<id>`` and return its path.

    Parameters
    ----------
    out_dir
        Folder the bundle folder is created in (replaced if it exists).
    manifest
        Every manifest field except ``files`` (and ``weights``/``card``,
        which default to ``model.safetensors``/``model.skops`` and
        ``card.md``); ``schema_version`` defaults to the current one.
    net, pipeline
        A torch module (saved as safetensors) or a scikit-learn pipeline
        (saved with skops).
    card
        The model card text (Markdown); a minimal one is written if absent.
    files
        Other files to include (name → bytes), e.g. validation tables.
    """
    m = dict(manifest)
    m.setdefault("schema_version", SCHEMA_VERSION)
    if net is not None:
        m.setdefault("weights", "model.safetensors")
    elif pipeline is not None:
        m.setdefault("weights", "model.skops")
    m.setdefault("card", "card.md")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / str(m["id"])
    tmp = Path(tempfile.mkdtemp(prefix=f".{m['id']}-", dir=out))
    tmp.chmod(0o755)
    try:
        if net is not None:
            save_weights(net, tmp / str(m["weights"]))
        elif pipeline is not None:
            import skops.io as sio

            sio.dump(pipeline, tmp / str(m["weights"]))
        text = card or f"# {m.get('name', m['id'])}\n\n{m.get('intended_use', '')}\n"
        (tmp / str(m["card"])).write_text(text, encoding="utf-8")
        for name, data in (files or {}).items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        write_manifest(tmp, m)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
