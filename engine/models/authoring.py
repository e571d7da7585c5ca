"""Writing bundles: what training pipelines (and tests) call to produce one.

The folder is assembled in a temporary sibling, every file is hashed into
the manifest, the manifest is validated, and the folder is renamed into
place in one step, so a half-written bundle is never visible.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.models.architectures import save_weights
from engine.models.bundle import (
    MANIFEST_DIGEST_NAME,
    MANIFEST_NAME,
    SCHEMA_VERSION,
    open_bundle,
    write_manifest,
)

if TYPE_CHECKING:
    from torch import nn


#: Node fields of histogram gradient boosting that prediction never reads: training
#: statistics (split gain, sample count, depth) and the binned threshold used while fitting.
UNREAD_NODE_FIELDS = ("gain", "count", "depth", "bin_threshold")


def inference_copy(estimator: Any) -> Any:
    """A copy of a fitted scikit-learn object without what prediction never reads.

    Every tree node of histogram gradient boosting (alone, or as a step of a
    ``Pipeline``) keeps :data:`UNREAD_NODE_FIELDS` and, in inner nodes, a value;
    ``predict_proba`` and ``decision_function`` read only the split (feature,
    threshold, missing-value side, children) and the leaves' values. Zeroed,
    they deflate to almost nothing — the rhythm classifier's file shrinks from
    3.0 to 2.0 MiB — and the probabilities stay bit for bit the same. Other
    objects come back as a plain copy.
    """
    import copy

    out = copy.deepcopy(estimator)
    stack = [out]
    while stack:
        obj = stack.pop()
        stack.extend(step for _, step in getattr(obj, "steps", ()))
        for trees in getattr(obj, "_predictors", ()):
            for tree in trees:
                nodes = tree.nodes
                for field in UNREAD_NODE_FIELDS:
                    nodes[field] = 0
                nodes["value"][nodes["is_leaf"] == 0] = 0
    return out


def skops_bytes(estimator: Any) -> bytes:
    """A fitted scikit-learn object as a bundle stores it: skops (no pickle), deflated, without
    the node fields prediction never reads (:func:`inference_copy`)."""
    import skops.io as sio

    # deflated: a boosted ensemble's node arrays shrink several-fold
    return sio.dumps(inference_copy(estimator), compression=zipfile.ZIP_DEFLATED, compresslevel=9)


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
    with _assembled(target) as tmp:
        if net is not None:
            save_weights(net, tmp / str(m["weights"]))
        elif pipeline is not None:
            (tmp / str(m["weights"])).write_bytes(skops_bytes(pipeline))
        text = card or f"# {m.get('name', m['id'])}\n\n{m.get('intended_use', '')}\n"
        (tmp / str(m["card"])).write_text(text, encoding="utf-8")
        _write_files(tmp, files or {})
        write_manifest(tmp, m)
    return target


def update_bundle(
    folder: str | Path,
    files: Mapping[str, bytes],
    edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Path:
    """Replace (or add) files of an existing bundle other than its weights; re-hash the manifest.

    For documents derived from a bundle's data (its card, its validation
    record) rewritten without retraining. The bundle is verified first, so a
    damaged or altered bundle is refused rather than re-hashed; the new
    folder is assembled in a temporary sibling and swapped in, as
    :func:`write_bundle` does. The manifest keeps every field but ``files``;
    ``edit``, when given, may change its documentation (a limitation, a
    summary derived from the stored validation record) — never the weights'
    hash, which is rewritten from the files.
    """
    path = Path(folder)
    bundle = open_bundle(path)
    protected = {str(bundle.manifest["weights"]), MANIFEST_NAME, MANIFEST_DIGEST_NAME}
    if protected & set(files):
        raise ValueError(f"update_bundle does not replace {sorted(protected & set(files))}")
    manifest = json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest.pop("files", None)
    if edit is not None:
        manifest = edit(manifest)
        manifest.pop("files", None)
    with _assembled(path) as tmp:
        shutil.copytree(path, tmp, dirs_exist_ok=True)
        _write_files(tmp, files)
        write_manifest(tmp, manifest)
    return path


@contextmanager
def _assembled(target: Path) -> Iterator[Path]:
    """A temporary sibling of ``target`` to assemble a bundle in, renamed into place when the
    block ends without error (replacing ``target``) and removed otherwise."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _write_files(folder: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
