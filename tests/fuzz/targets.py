"""Fuzz targets: one ``check_<target>(data: bytes)`` per reader, without atheris.

Each check writes the input where the engine expects a file, calls the
engine's public entry points the way the application does, and enforces the
property of :mod:`tests.fuzz.harness` (loads, or refuses with an
``EngineError`` that has a user message). Any other exception propagates: it
is a finding. Used by the ``fuzz_<target>.py`` atheris drivers and by the
pytest replay of ``tests/fuzz/corpus/<target>/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from tests.fuzz.harness import FUZZ_MAX_BYTES, check_engine_error, expect, fresh_dir, workdir

#: Separates the parts of a WFDB input: header, signal file, annotations, second signal file.
WFDB_SEPARATOR = b"\n#--stethos-fuzz-part--#\n"
#: File names the parts of a WFDB input are written to (record "r").
WFDB_FILES = ("r.hea", "r.dat", "r.atr", "r.xyz")
#: Record id the bundle seeds use; fixed weights and card bytes whose hashes they list.
BUNDLE_WEIGHTS = b"not real weights: the importer checks hashes, it never loads them\n"
BUNDLE_CARD = b"# Fuzz bundle\n\nA model card.\n"


# --- DICOM files ------------------------------------------------------------------
def check_dicom(data: bytes) -> None:
    """One file through the header reader, the image loader (+ rendering) and the ECG reader."""
    from engine.dicom import read_dataset, read_header, read_image, render_8bit
    from engine.dicom.files import SCAN_TAGS
    from engine.ecg.io import read_dicom_ecg

    path = fresh_dir("dicom") / "input.dcm"
    path.write_bytes(data)
    expect(read_header, path)
    expect(read_header, path, tags=SCAN_TAGS)
    expect(read_dataset, path)
    image = expect(read_image, path, max_bytes=FUZZ_MAX_BYTES, external=False)
    if image is not None:
        for frame in {0, image.n_frames - 1}:
            render_8bit(image, frame)
            image.default_window(frame)
            image.info(frame)
    expect(read_dicom_ecg, path)


# --- series scanner ----------------------------------------------------------------
def _load_image_series(result: Any) -> None:
    from engine.dicom import load_series

    for path, message in result.problems:
        if not isinstance(message, str) or not message.strip():
            raise AssertionError(f"scan problem without a message for {path}")
    for series in result.image_series:
        _ = series.label, series.shape
        volume = expect(
            load_series, series, workers=1, use_processes=False, max_bytes=FUZZ_MAX_BYTES
        )
        if volume is not None and volume.n_slices:
            volume.render(0)


def check_scan(data: bytes) -> None:
    """A folder holding the input (next to a valid slice) scanned, then its series loaded."""
    from engine.dicom import scan_paths

    folder = fresh_dir("scan")
    (folder / "IM0001").write_bytes(data)
    shutil.copyfile(_neighbour_slice(), folder / "IM0002")
    result = expect(scan_paths, folder)
    if result is not None:
        _load_image_series(result)


@cache
def _neighbour_slice() -> Path:
    """A small valid CT slice (pydicom's ``CT_small.dcm``), so that series have two files."""
    from pydicom.data import get_testdata_file

    return Path(str(get_testdata_file("CT_small.dcm")))


# --- DICOMDIR -----------------------------------------------------------------------
def check_dicomdir(data: bytes) -> None:
    """The input as the DICOMDIR of a small disc tree (pydicom's TINY_ALPHA, 3 images)."""
    from engine.dicom import scan_paths

    disc = _disc_tree()
    dicomdir = disc / "DICOMDIR"
    dicomdir.write_bytes(data)
    result = expect(scan_paths, [dicomdir])
    if result is not None:
        _load_image_series(result)


@cache
def _disc_tree() -> Path:
    from pydicom.data import get_testdata_file

    source = Path(str(get_testdata_file("DICOMDIR", read=False))).parent / "TINY_ALPHA"
    disc = workdir() / "disc"
    series = Path("PT000000", "ST000000", "SE000000")
    (disc / series).mkdir(parents=True, exist_ok=True)
    for name in ("IM000000", "IM000001", "IM000002"):
        shutil.copyfile(source / series / name, disc / series / name)
    return disc


# --- WFDB ---------------------------------------------------------------------------
def split_wfdb(data: bytes) -> list[bytes | None]:
    """The input's parts for :data:`WFDB_FILES` (``None``: that file is absent)."""
    parts: list[bytes | None] = list(data.split(WFDB_SEPARATOR, len(WFDB_FILES) - 1))
    return parts + [None] * (len(WFDB_FILES) - len(parts))


def join_wfdb(parts: list[bytes]) -> bytes:
    """The inverse of :func:`split_wfdb` (to build seeds)."""
    return WFDB_SEPARATOR.join(parts)


def check_wfdb(data: bytes) -> None:
    """Header, signal file(s) and annotations of one record, read as the ECG panel does."""
    from engine.ecg.io import read_signal

    folder = fresh_dir("wfdb")
    for name, part in zip(WFDB_FILES, split_wfdb(data), strict=True):
        if part is not None:
            (folder / name).write_bytes(part)
    signal = expect(read_signal, folder / "r.hea")
    if signal is not None:
        _ = signal.data.shape, signal.leads, signal.fs


# --- record import ------------------------------------------------------------------
@cache
def _record_model() -> Any:
    from engine.api import load_model

    return load_model("heart-disease-tree-13", device="cpu")


def check_records(data: bytes) -> None:
    """The input as a record table (CSV and TSV) and as a UCI file, then scored."""
    from engine.cli.models import read_record_table
    from engine.records.uci import read_uci_heart

    folder = fresh_dir("records")
    model = _record_model()
    for name in ("records.csv", "records.tsv"):
        path = folder / name
        path.write_bytes(data)
        prepared = []
        for item in read_record_table(path):
            if item.error is not None:
                check_engine_error(item.error)
                continue
            ready = expect(model.prepare, item.record)
            if ready is not None:
                prepared.append(ready)
        if prepared:
            predictions = model.run(prepared[:8], explain=False)
            for p in predictions:
                _ = p.label, p.probabilities
    expect(read_uci_heart, folder / "records.csv")


# --- model bundles -------------------------------------------------------------------
def check_bundle(data: bytes) -> None:
    """A ``.zip`` (input starts with ``PK``) or a manifest.json (bundle folder) imported."""
    from engine.models.registry import ModelRegistry

    root = fresh_dir("bundle")
    user = root / "user-models"
    registry = ModelRegistry([(user, "user")])
    if data[:2] == b"PK":
        source = root / "bundle.zip"
        source.write_bytes(data)
    else:
        source = root / "incoming"
        source.mkdir()
        (source / "manifest.json").write_bytes(data)
        (source / _weights_name(data)).write_bytes(BUNDLE_WEIGHTS)
        (source / "card.md").write_bytes(BUNDLE_CARD)
    entry = expect(registry.import_bundle, source)
    if entry is None:
        return
    bundle = registry.open(entry.id)
    _ = (
        bundle.operating_points,
        bundle.default_operating_point,
        bundle.labels,
        bundle.positive_label,
        bundle.input_type,
        bundle.exclusive,
        bundle.calibration,
        bundle.weights_sha256,
        bundle.card_text(),
    )
    registry.default_for(bundle.input_type)
    registry.remove(entry.id)


def _weights_name(manifest: bytes) -> str:
    """The weights file a manifest names, when it is a plain file name (else model.skops)."""
    import json
    import re

    try:
        name = json.loads(manifest).get("weights")
    except Exception:
        return "model.skops"
    plain = isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,60}", name)
    if plain and name not in ("card.md", "manifest.json"):
        return name
    return "model.skops"


#: Every target by name.
# --- what the network listener does with a received dataset --------------------------
def check_received(data: bytes) -> None:
    """A dataset as the listener gets it: decoded, stored by hash, indexed, scanned,
    thumbnailed. Storing refuses with a message or writes a whole file inside the cache."""
    import io

    from pydicom import dcmread

    from engine.net import InstanceCache
    from engine.workflow import series_thumbnails

    try:
        ds = dcmread(io.BytesIO(data), force=True)  # pynetdicom's decoding of the P-DATA
    except Exception:
        return  # the association layer refuses what pydicom cannot decode
    if not hasattr(ds, "file_meta"):
        from pydicom.dataset import FileMetaDataset

        ds.file_meta = FileMetaDataset()
    root = fresh_dir("received")
    cache = InstanceCache(root / "cache")
    try:
        stored = expect(cache.store, ds)
        if stored is None:
            return
        if not stored.path.resolve().is_relative_to((root / "cache").resolve()):
            raise AssertionError(f"stored outside the cache: {stored.path}")
        if len(stored.path.stem) != 64 or not stored.path.is_file():
            raise AssertionError(f"not a hash-named whole file: {stored.path}")
        if list((root / "cache").rglob(".part-*")):
            raise AssertionError("a partial file was left behind")
        from engine.dicom import scan_paths

        result = expect(scan_paths, [stored.path])
        if result is not None and result.image_series:
            expect(series_thumbnails, list(result.image_series), 32)
    finally:
        cache.close()


TARGETS: dict[str, Callable[[bytes], None]] = {
    "dicom": check_dicom,
    "scan": check_scan,
    "dicomdir": check_dicomdir,
    "wfdb": check_wfdb,
    "records": check_records,
    "bundle": check_bundle,
    "received": check_received,
}


def warm_up(target: str) -> None:
    """Import everything a target uses (so atheris instruments it) and build fixtures."""
    import engine.cli.models
    import engine.dicom
    import engine.dicom.volume
    import engine.dicom.waveform
    import engine.ecg.io
    import engine.ecg.wfdb_io
    import engine.models.registry
    import engine.records.uci  # noqa: F401

    if target in ("dicom", "scan", "dicomdir"):
        import pydicom.pixels  # noqa: F401

        _neighbour_slice()
        _disc_tree()
    if target == "wfdb":
        import wfdb
        import wfdb.io.annotation  # noqa: F401
    if target == "records":
        _record_model()
    if target == "bundle":
        import jsonschema  # noqa: F401
        import packaging.specifiers  # noqa: F401
