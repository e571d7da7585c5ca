"""ECG engine calls the views run through :mod:`desktop.jobs`.

Every function takes ``progress`` and ``cancel`` and runs on a worker thread.
"""

from __future__ import annotations

from pathlib import Path

from engine.ecg import Signal
from engine.models.results import Prediction
from engine.progress import CancelToken, Progress, check_cancelled, no_progress


def open_signal(
    path: str | Path, *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> Signal:
    """Read an ECG record (WFDB header/record or DICOM ECG waveform) in mV."""
    from engine.ecg import read_signal

    return read_signal(Path(path), progress=progress, cancel=cancel)


def default_signal_model() -> str:
    """Id of the default beat model (raises ModelNotFoundError when none is installed)."""
    from engine.errors import ModelNotFoundError
    from engine.models.registry import ModelRegistry

    model_id = ModelRegistry().default_for("signal")
    if model_id is None:
        raise ModelNotFoundError("No ECG model is installed. Reinstall Stethos.")
    return model_id


def analyze_signal(
    signal: Signal,
    model_id: str | None = None,
    *,
    device: str = "auto",
    explain: bool = True,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Prediction:
    """Label every beat of ``signal`` with ``model_id`` or the default beat model.

    The prediction's ``beats`` are at sample positions of ``signal``; its
    ``attribution`` (when ``explain``) has one value per sample of the lead
    named in ``extra["lead"]``.
    """
    from engine.api import analyze_signal as run

    check_cancelled(cancel)
    progress(0.0, "Loading the ECG model")
    return run(
        model_id or default_signal_model(),
        signal,
        device=device,
        explain=explain,
        progress=progress,
        cancel=cancel,
    )
