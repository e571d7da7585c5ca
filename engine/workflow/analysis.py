"""One analysis entry point for images, ECG signals and patient records.

:func:`analyze` is what every "Analyze" button, the command line and a
script call: it decides what the input is (with :mod:`engine.filetypes`,
the same rule everywhere), picks the default model for that kind of input
(:func:`engine.workflow.models.default_model`, the one place), loads it on
the requested device (the "Run models on" setting reaches every model kind)
and returns an :class:`AnalysisOutcome`: the prediction, its explanation,
a reference to the input it was made on and the model's identity.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import InputRejectedError
from engine.filetypes import FileKind, sniff
from engine.models.registry import ModelRegistry
from engine.models.results import BeatResult, Contribution, Prediction
from engine.models.runtime import BatchItem, predict_many
from engine.progress import CancelToken, Progress, check_cancelled, no_progress, sub_progress
from engine.workflow.models import InputKind, load_model, load_model_for

if TYPE_CHECKING:
    from engine.dicom import DicomImage

#: The JSON name of each input kind in a saved result's ``input`` block.
_SAVED_KIND = {"image": "image", "signal": "ecg", "record": "record"}


@dataclass(frozen=True)
class InputRef:
    """What an analysis was made on: enough to find and show the input again.

    ``path`` is the file (a DICOM image, a picture, a WFDB header or a DICOM
    ECG); ``frame`` the image frame; ``lead`` the ECG lead the model read;
    the UIDs are those of a DICOM input (empty otherwise).
    """

    kind: InputKind
    path: str = ""
    frame: int = 0
    lead: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    sop_instance_uid: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``input`` block of a saved result (``kind`` is ``image``, ``ecg`` or ``record``)."""
        out: dict[str, Any] = {"kind": _SAVED_KIND[self.kind]}
        if self.path:
            out["path"] = self.path
        if self.kind == "image":
            out["frame"] = int(self.frame)
        if self.kind == "signal":
            out["lead"] = self.lead
        for key in ("study_instance_uid", "series_instance_uid", "sop_instance_uid"):
            if value := getattr(self, key):
                out[key] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> InputRef | None:
        """Read an ``input`` block back (``None`` when absent or of an unknown kind)."""
        if not isinstance(data, Mapping):
            return None
        kinds = {v: k for k, v in _SAVED_KIND.items()}
        kind = kinds.get(str(data.get("kind", "")))
        if kind is None:
            return None
        try:
            frame = int(data.get("frame", 0) or 0)
        except (TypeError, ValueError):
            frame = 0
        return cls(
            kind=kind,  # type: ignore[arg-type]
            path=str(data.get("path", "")),
            frame=frame,
            lead=str(data.get("lead", "")),
            study_instance_uid=str(data.get("study_instance_uid", "")),
            series_instance_uid=str(data.get("series_instance_uid", "")),
            sop_instance_uid=str(data.get("sop_instance_uid", "")),
        )


@dataclass(frozen=True)
class ModelIdentity:
    """Which model made a result: what every result shows beside its score."""

    id: str
    version: str
    name: str
    weights_sha256: str
    intended_use: str


@dataclass(frozen=True)
class AnalysisOutcome:
    """One analysis: the prediction, its explanation, the input and the model.

    ``record`` holds the record values analysed (record analyses only), so
    that the record saved with the result is the one the model saw.
    """

    prediction: Prediction
    source: InputRef
    record: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def kind(self) -> InputKind:
        """``image``, ``signal`` or ``record``."""
        return self.source.kind

    @property
    def model(self) -> ModelIdentity:
        """The model's id, version, name, weights hash and intended use."""
        p = self.prediction
        return ModelIdentity(
            p.model_id, p.model_version, p.model_name, p.weights_sha256, p.intended_use
        )

    @property
    def heatmap(self) -> np.ndarray | None:
        """Image analyses: the heat map in the source image's geometry, in ``[0, 1]``."""
        return self.prediction.heatmap

    @property
    def beats(self) -> tuple[BeatResult, ...]:
        """Signal analyses: one labelled beat per detected beat."""
        return self.prediction.beats

    @property
    def contributions(self) -> tuple[Contribution, ...]:
        """Record analyses: each finding's contribution to the risk."""
        return self.prediction.contributions


def _image_ref(image: DicomImage, frame: int) -> InputRef:
    return InputRef(
        "image",
        path=str(image.path),
        frame=int(frame),
        study_instance_uid=image.study_instance_uid,
        series_instance_uid=image.series_instance_uid,
        sop_instance_uid=image.sop_instance_uid,
    )


def _resolve(source: Any, kind: InputKind | None, frame: int) -> tuple[InputKind, Any, InputRef]:
    """The input kind, what the runner is given, and the reference saved with the result."""
    image_module = sys.modules.get("engine.dicom.image")  # pydicom: not loaded for records
    if image_module is not None and isinstance(source, image_module.DicomImage):
        return "image", source, _image_ref(source, frame)
    if isinstance(source, Mapping):
        return "record", source, InputRef("record")
    if isinstance(source, str | Path):
        path = Path(source)
        found = sniff(path)
        if kind == "signal" or (kind is None and found is FileKind.WFDB):
            from engine.ecg import read_signal

            signal = read_signal(path)
            return "signal", signal, InputRef("signal", path=str(signal.source))
        if found is FileKind.PICTURE:
            return "image", path, InputRef("image", path=str(path))
        # DICOM, or unknown: the DICOM reader decides (bare data sets) and says
        # plainly when the file is not one.
        from engine.dicom import read_image

        image = read_image(path)
        return "image", image, _image_ref(image, frame)
    if hasattr(source, "data") and hasattr(source, "leads") and hasattr(source, "fs"):
        return "signal", source, InputRef("signal", path=str(getattr(source, "source", "") or ""))
    if isinstance(source, np.ndarray) and kind in (None, "image", "signal"):
        return kind or "image", source, InputRef(kind or "image")
    raise InputRejectedError(f"Stethos cannot analyse a {type(source).__name__}.")


def analyze(
    source: Any,
    *,
    model_id: str | None = None,
    kind: InputKind | None = None,
    device: str | None = "auto",
    operating_point: str | None = None,
    explain: bool = True,
    method: str | None = None,
    frame: int = 0,
    registry: ModelRegistry | None = None,
    task: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    **options: Any,
) -> AnalysisOutcome:
    """Analyse an image, an ECG or a patient record with its model.

    Parameters
    ----------
    source
        A DICOM or picture file path, a :class:`~engine.dicom.DicomImage`, an
        image array; a WFDB record path or an :class:`engine.ecg.Signal` (or
        anything with ``data``, ``leads`` and ``fs``); or a record mapping
        (field name → value).
    model_id
        The model to use; by default the default model for the input kind.
    kind
        Force the input kind (``"signal"`` for a DICOM ECG file path, or an
        array that is a signal); guessed from ``source`` otherwise.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``: honoured by every
        torch model (record models run on the CPU).
    operating_point
        A named operating point of the model (its default otherwise).
    explain, method
        Compute the explanation (heat map, per-sample attribution,
        contributions are always computed), and which method.
    frame
        The image frame to analyse.
    task
        Without ``model_id``: the default model of this task rather than of the
        input kind (``"rhythm-classification"``: the rhythm report of an ECG).
    options
        Kind-specific inputs passed to the model: ``fs``, ``leads`` and
        ``beats`` for signals.

    Returns
    -------
    AnalysisOutcome

    Raises
    ------
    InputRejectedError, RecordValidationError, DicomError, ModelError,
    ModelNotFoundError, OperationCancelled
    """
    check_cancelled(cancel)
    progress(0.0, "Reading the input")
    resolved_kind, model_input, ref = _resolve(source, kind, frame)
    progress(0.05, "Loading the model")
    model = load_model_for(resolved_kind, model_id, device=device, registry=registry, task=task)
    check_cancelled(cancel)
    run_options: dict[str, Any] = dict(options)
    if resolved_kind != "record":
        run_options.update(explain=explain, method=method)
    if resolved_kind == "image":
        run_options["frame"] = frame
    prediction = model.predict(
        model_input,
        operating_point=operating_point,
        progress=sub_progress(progress, 0.2, 1.0),
        cancel=cancel,
        **run_options,
    )
    if resolved_kind == "signal":
        ref = InputRef("signal", path=ref.path, lead=str(prediction.extra.get("lead", "")))
    record = dict(source) if resolved_kind == "record" else None
    return AnalysisOutcome(prediction, ref, record)


def analyze_many(
    model_id: str,
    inputs: Sequence[object],
    *,
    batch_size: int = 8,
    device: str | None = "auto",
    explain: bool = False,
    operating_point: str | None = None,
    registry: ModelRegistry | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> list[BatchItem]:
    """Run one model over many inputs; one :class:`BatchItem` (prediction or error) each."""
    progress(0.0, "Loading the model")
    model = load_model(model_id, registry, device=device)
    return predict_many(
        model,
        inputs,
        batch_size=batch_size,
        explain=explain,
        operating_point=operating_point,
        progress=sub_progress(progress, 0.05, 1.0),
        cancel=cancel,
    )
