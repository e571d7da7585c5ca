"""The saved-result format: what an analysis leaves in the store, and reading it back.

A result is saved as a :class:`engine.store.ResultInput` whose ``payload``
is the prediction's JSON (:meth:`Prediction.to_json`) plus

- ``"input"``: what the analysis was made on (:meth:`InputRef.to_json`:
  ``kind`` ``image``/``ecg``/``record``, the file's ``path``, the image
  ``frame`` or the ECG ``lead``, the DICOM UIDs), so that a report can read
  the image or ECG again from its file;
- ``"heatmap"`` (image results): the heat map reduced to at most
  :data:`HEATMAP_KEPT` ² bytes, ``{"rows", "cols", "uint8_base64"}``.

Results saved by earlier versions of Stethos (by the desktop, with the same
blocks) read back with :func:`read_saved`.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.models.results import BeatResult, Prediction
from engine.store import ResultInput, StoredResult
from engine.workflow.analysis import AnalysisOutcome, InputRef

#: Side of the largest heat map kept with a saved image result (enough for a report).
HEATMAP_KEPT = 64
#: Contributions named in a result's one-line explanation summary.
SUMMARY_CONTRIBUTIONS = 3
#: Fields a saved result takes from the prediction as they are.
_SAME_FIELDS = (
    "model_id", "model_version", "model_name", "weights_sha256", "input_hash", "label",
    "operating_point", "threshold", "sensitivity", "specificity", "device", "elapsed_ms",
)  # fmt: skip


def encode_heatmap(heatmap: np.ndarray) -> dict[str, Any]:
    """A heat map in ``[0, 1]`` reduced to at most :data:`HEATMAP_KEPT` ² bytes, as JSON.

    Every ``ceil(rows / HEATMAP_KEPT)``-th row and column is kept; NaN counts
    as 0 and values are clipped to ``[0, 1]`` then quantised to ``uint8``.
    """
    h = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    step_r = max(1, math.ceil(h.shape[0] / HEATMAP_KEPT))
    step_c = max(1, math.ceil(h.shape[1] / HEATMAP_KEPT))
    small = h[::step_r, ::step_c]
    data = np.rint(np.clip(small, 0.0, 1.0) * 255.0).astype(np.uint8)
    return {
        "rows": int(data.shape[0]),
        "cols": int(data.shape[1]),
        "uint8_base64": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def decode_heatmap(kept: object) -> np.ndarray | None:
    """The ``float32`` heat map of :func:`encode_heatmap`'s JSON (``None`` when unreadable)."""
    if not isinstance(kept, Mapping):
        return None
    try:
        rows, cols = int(kept["rows"]), int(kept["cols"])
        raw = base64.b64decode(kept["uint8_base64"])
        data = np.frombuffer(raw, dtype=np.uint8).reshape(rows, cols)
    except (KeyError, TypeError, ValueError):  # binascii.Error is a ValueError
        return None
    return data.astype(np.float32) / 255.0


def explanation_summary(prediction: Prediction) -> str:
    """One line for lists: the largest contributions, after the explanation method.

    ``"{label or name} = {value} ({contribution:+.2f})"`` for the
    :data:`SUMMARY_CONTRIBUTIONS` largest ``|contribution|``, joined by
    ``"; "``, prefixed by ``"{explanation_method}: "`` when the prediction
    names one.
    """
    top = sorted(prediction.contributions, key=lambda c: -abs(float(c.contribution)))
    summary = "; ".join(
        f"{c.label or c.name} = {c.value} ({float(c.contribution):+.2f})"
        for c in top[:SUMMARY_CONTRIBUTIONS]
    )
    method = prediction.explanation_method
    if method:
        return f"{method}: {summary}" if summary else method
    return summary


def result_payload(outcome: AnalysisOutcome) -> dict[str, Any]:
    """The JSON saved with an analysis: the prediction, its ``input`` and heat map."""
    prediction = outcome.prediction
    payload = prediction.to_json()
    payload["input"] = outcome.source.to_json()
    if outcome.kind == "image" and prediction.heatmap is not None:
        payload["heatmap"] = encode_heatmap(prediction.heatmap)
    return payload


def result_input(outcome: AnalysisOutcome) -> ResultInput:
    """What the store saves of an analysis (see the module's description of the payload).

    Raises
    ------
    StoreError
        The prediction lacks its model's identity, input hash, label or
        probabilities.
    """
    p = outcome.prediction
    return ResultInput(
        **{name: getattr(p, name) for name in _SAME_FIELDS},
        probabilities=dict(p.probabilities),
        positive_label=p.positive_label or None,
        explanation_summary=explanation_summary(p),
        payload=result_payload(outcome),
    )


@dataclass(frozen=True)
class SavedResult:
    """A stored result read back: what it was made on and its explanation.

    Attributes
    ----------
    stored
        The result as the store returns it (model identity, label, decision).
    source
        The input it was made on, or ``None`` when the result does not say
        (record results saved before the ``input`` block existed).
    heatmap
        The kept heat map of an image result (``float32`` in ``[0, 1]``,
        at most :data:`HEATMAP_KEPT` on a side), or ``None``.
    beats
        The labelled beats of an ECG result.
    """

    stored: StoredResult
    source: InputRef | None = None
    heatmap: np.ndarray | None = field(default=None, compare=False, repr=False)
    beats: tuple[BeatResult, ...] = field(default=(), repr=False)

    @property
    def kind(self) -> str:
        """``image``, ``signal``, ``record``, or ``""`` when the input is not known."""
        return self.source.kind if self.source is not None else ""

    @property
    def path(self) -> str:
        """The file the result was made on (``""`` when none is known)."""
        return self.source.path if self.source is not None else ""


def _beats(items: object) -> tuple[BeatResult, ...]:
    beats = []
    for b in items if isinstance(items, list | tuple) else ():
        try:
            probabilities = {
                str(k): float(v) for k, v in dict(b.get("probabilities") or {}).items()
            }
            beats.append(BeatResult(int(b["sample"]), str(b["label"]), probabilities))
        except (AttributeError, KeyError, TypeError, ValueError):
            continue  # one damaged beat does not hide the others
    return tuple(beats)


def read_saved(stored: StoredResult) -> SavedResult:
    """Read the ``input`` block, heat map and beats of a stored result."""
    data = stored.result if isinstance(stored.result, Mapping) else {}
    return SavedResult(
        stored=stored,
        source=InputRef.from_json(data.get("input")),
        heatmap=decode_heatmap(data.get("heatmap")),
        beats=_beats(data.get("beats")),
    )
