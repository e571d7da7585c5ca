"""Installation self-test: is everything this installation needs inside it?

Run by ``stethos-engine self-test`` and ``stethos --self-test`` (the frozen
application's check after installation, with networking disabled). It
verifies every bundled model's hashes, opens every sample study (so each
pixel decoder the samples need is proven present), runs each model once,
and writes and reads an encrypted store in a temporary folder. Nothing
is written outside that folder.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from engine.errors import EngineError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

_RECORD = dict(
    age=63, sex=1, cp=1, trestbps=145, chol=233, fbs=1, restecg=2, thalach=150, exang=0,
    oldpeak=2.3, slope=3, ca=0, thal=6,
)  # fmt: skip


@dataclass(frozen=True)
class Check:
    """One check: what was checked, whether it passed, and what was found."""

    name: str
    ok: bool
    detail: str
    seconds: float


def run_check(name: str, fn: Callable[[], str]) -> Check:
    """Run one named check; any failure becomes a failed :class:`Check`, never an exception."""
    start = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except EngineError as exc:
        ok, detail = False, exc.user_message + (f" ({exc.detail})" if exc.detail else "")
    except Exception as exc:  # a self-test reports every failure, whatever its type
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Check(name, ok, detail, time.perf_counter() - start)


def _samples() -> tuple[list[Path], list[Path]]:
    from engine.resources import resource_path

    root = resource_path("samples")
    images: list[Path] = []
    signals: list[Path] = []
    for path in sorted(root.rglob("*")):
        if path.suffix == ".hea":
            signals.append(path)
        elif path.suffix == ".dcm":
            (signals if "ecg" in path.name else images).append(path)
    return images, signals


def run_self_test(
    *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> list[Check]:
    """Run every check; never raises for a failed check (each is reported)."""
    from engine.models.registry import ModelRegistry
    from engine.resources import resource_path

    checks: list[Check] = []
    registry = ModelRegistry([(resource_path("models"), "bundled")])
    entries = registry.entries()
    if not entries:
        checks.append(Check("models", False, "no bundled model found", 0.0))
    images, signals = _samples()
    total = len(entries) * 2 + len(images) + len(signals) + 5
    done = 0

    def step(text: str) -> None:
        nonlocal done
        check_cancelled(cancel)
        progress(done / max(total, 1), text)
        done += 1

    for e in entries:
        step(f"Verifying {e.id}")
        checks.append(run_check(f"model {e.id}: hashes", partial(_verify, registry, e)))
    for path in images:
        step(f"Opening {path.name}")
        checks.append(run_check(f"sample {path.name}", partial(_open_image, path)))
    for path in signals:
        step(f"Opening {path.name}")
        checks.append(run_check(f"sample {path.name}", partial(_open_signal, path)))
    for e in entries:
        step(f"Running {e.id}")
        checks.append(run_check(f"model {e.id}: runs", partial(_run_model, registry, e)))
    step("Looking for a GPU")
    checks.append(run_check("flavour: compute device", _compute_device))
    step("Decoding in a worker process")
    checks.append(run_check("DICOM: decoding workers", partial(_decoding_workers, images)))
    step("Writing a result as DICOM")
    checks.append(run_check("results as DICOM: write and read", partial(_dicom_result, images)))
    step("Loading the clinic-database driver")
    checks.append(run_check("store: PostgreSQL driver", _postgres_driver))
    step("Writing and reading the store")
    checks.append(run_check("store: write and read", _store_round_trip))
    progress(1.0, "Self-test done")
    return checks


def _verify(registry, entry) -> str:
    if entry.problem:
        raise EngineError(entry.problem)
    from engine.models.bundle import runtime_optional_files

    bundle = registry.verify(entry.id)
    absent = sorted(
        n for n in runtime_optional_files(bundle.manifest) if not (bundle.path / n).is_file()
    )
    text = (
        f"{bundle.version}, {len(bundle.manifest['files']) - len(absent)} files match their sha256"
    )
    if absent:  # the CPU flavour leaves out torch weights it cannot use
        text += f" ({', '.join(absent)} not installed: this flavour runs the ONNX graph)"
    return text


def _open_image(path: Path) -> str:
    from engine.dicom import read_image, render_8bit

    image = read_image(path)
    render_8bit(image)
    return f"{image.modality} {image.shape[0]}×{image.shape[1]}, decoder {image.decoder}"


def _open_signal(path: Path) -> str:
    from engine.ecg import read_signal

    signal = read_signal(path)
    return (
        f"{signal.n_leads} lead{'' if signal.n_leads == 1 else 's'} at {signal.fs:g} Hz, "
        f"{signal.duration_s:.0f} s"
    )


def _run_model(registry, entry) -> str:
    from engine.workflow import analyze

    manifest = registry.open(entry.id, verify=False).manifest
    kind = manifest["inputs"]["type"]
    default = "torch" if str(manifest["kind"]).startswith("torch") else "scikit-learn"
    images, signals = _samples()
    if kind == "record":
        source: object = _RECORD
    elif kind == "image":
        source = ([s for s in images if s.name.startswith("peds-")] or images)[0]
    else:
        # The first sample ECG the model takes (a beat model refuses the handheld lead "ECG").
        from engine.errors import InputRejectedError

        refusals = []
        for source in signals:
            try:
                p = analyze(source, model_id=entry.id, kind=kind, registry=registry,
                            explain=False).prediction  # fmt: skip
            except InputRejectedError as exc:
                refusals.append(exc)
                continue
            runtime = p.extra.get("runtime") or default
            return f"{p.label} on {source.name} on {p.device} ({runtime}) in {p.elapsed_ms:.0f} ms"
        raise refusals[0] if refusals else FileNotFoundError("no sample ECG is installed")
    p = analyze(
        source, model_id=entry.id, kind=kind, registry=registry, explain=kind == "image"
    ).prediction
    runtime = p.extra.get("runtime") or default
    return f"{p.label} (p={p.score:.3f}) on {p.device} ({runtime}) in {p.elapsed_ms:.0f} ms"


def _dicom_result(images: list[Path]) -> str:
    """A pediatric sample's result written as SR + heat-map SEG + capture and read back."""
    import tempfile

    from engine.workflow import ai_results_in, analyze, export_result_dicom

    sample = ([s for s in images if s.name.startswith("peds-")] or images)[0]
    outcome = analyze(sample, kind="image")
    with tempfile.TemporaryDirectory(prefix="stethos-selftest-") as folder:
        export = export_result_dicom(outcome, folder)
        if not export.written:
            raise EngineError(export.skipped)
        objects, problems = ai_results_in(export.paths)
        if problems or len(objects) != len(export.paths):
            raise EngineError(f"{len(problems)} of the written objects could not be read back")
        (sr,) = [o for o in objects if o.kind == "sr"]
        version = sr.findings[0].algorithm_version if sr.findings else ""
        if version != outcome.model.version:
            raise EngineError(f"the report names version {version!r}, not {outcome.model.version}")
    return f"{' + '.join(k.upper() for k in export.kinds)} written and read back ({sample.name})"


def _decoding_workers(images: list[Path]) -> str:
    """A compressed sample decoded by a worker process, as in this process.

    Series are decoded by worker processes (a fork server on Linux): a frozen
    application must start them and have the decoders inside them.
    """
    import numpy as np

    from engine.dicom.image import read_image
    from engine.dicom.volume import FORK_SERVER, decode_in_worker

    sample = ([s for s in images if "j2k" in s.name] or images)[0]
    start = time.perf_counter()
    there = decode_in_worker(sample)
    took = time.perf_counter() - start
    if not np.array_equal(there, read_image(sample).frames):
        raise EngineError(f"{sample.name} decoded differently in the worker process")
    how = "forked from a fork server" if FORK_SERVER else "spawned"
    return f"{sample.name} decoded in a worker process ({how}; {took:.2f} s), as here"


def _postgres_driver() -> str:
    """The driver of the shared clinic database loads (no connection is made)."""
    import psycopg

    return f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}, libpq {psycopg.pq.version()})"


def _compute_device() -> str:
    """The installation's flavour and where models run; proves the runtimes load.

    The full flavour has PyTorch (with its CUDA libraries): GPU use, training,
    and ONNX Runtime on the CPU. The CPU flavour has ONNX Runtime only.
    """
    from importlib import metadata

    import onnxruntime

    from engine.models.devices import flavour

    ort = f"ONNX Runtime {metadata.version('onnxruntime')} ({onnxruntime.get_device()})"
    if flavour() == "cpu":
        return (
            f"CPU flavour: models run on the CPU with {ort}; no PyTorch (a GPU, training and "
            "retraining need the full flavour)"
        )
    import torch

    from engine.models.devices import resolve_device

    device = resolve_device("auto")
    built = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only build"
    if device.type == "cuda":
        where = f"GPU {torch.cuda.get_device_name(device)}"
    else:
        where = "CPU (no usable NVIDIA GPU found)"
    return f"full flavour: torch {torch.__version__} ({built}) and {ort}; models run on {where}"


def _store_round_trip() -> str:
    from engine.store import KdfParams, create_store, open_store

    with tempfile.TemporaryDirectory(prefix="stethos-selftest-") as tmp:
        path = Path(tmp) / "selftest.db"
        # Production key-derivation cost: the self-test proves it runs here.
        store, _recovery = create_store(path, "selftest", "self-test password 1", kdf=KdfParams())
        with store:
            patient = store.add_patient("SELFTEST-1", "Test", "Self", None, "U")
        with open_store(path, "selftest", "self-test password 1") as again:
            found = again.search_patients("SELFTEST")
            report = again.verify_audit()
            ok = again.integrity_check()
        if [p.id for p in found] != [patient.id]:
            raise EngineError("The store did not return the patient it saved.")
        if not report.ok:
            raise EngineError("The store's audit trail did not verify.", report.message)
        return f"patient saved and read back; audit verified; integrity {ok}"


def format_checks(checks: list[Check]) -> str:
    """A plain-text table of the checks."""
    width = max((len(c.name) for c in checks), default=10)
    lines = [
        f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}  [{c.seconds:.2f} s]"
        for c in checks
    ]
    failed = [c for c in checks if not c.ok]
    lines.append(
        f"{len(checks) - len(failed)} passed, {len(failed)} failed"
        if checks
        else "0 passed, 1 failed"
    )
    return "\n".join(lines)
