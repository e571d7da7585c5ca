"""Site calibration: a clinic's own operating point and recalibration for one model version.

A clinic runs a model on its own labelled cases (``stethos-engine evaluate
--save-site-calibration``) and keeps, for that model **version and weights**,

* a logistic recalibration of the positive-label probability,
  ``q = sigmoid(intercept + slope · logit(p))`` (maximum likelihood on the
  local outcomes), and
* a site operating point: a threshold on ``q`` chosen by the same rule as the
  model's default operating point (its sensitivity target, otherwise
  Youden's J), with its local sensitivity and specificity (Wilson 95 % CIs)
  and the local AUROC (bootstrap 95 % CI).

:class:`SiteCalibration` is that data (strict JSON, one file per model id
and version under ``user_data_dir()/site-calibration``); a stored one is used
only by a bundle with the same id, version **and** weights hash
(:func:`load_for`), so another version never inherits it; it is fitted on
local cases by :func:`engine.validation.site.fit_site_calibration`. The runtime
(:class:`engine.models.runtime.RunnerBase`) applies it to any model with one
positive score per input, whatever its kind (:class:`SitePlan`): image,
record or a binary signal model, and the rhythm model, whose positive label
(AF) is scored against the three other rhythms: its P(AF) is recalibrated
and the other classes keep their proportions. The beat classifier (a class
per beat, no positive label) is refused (:func:`check_binary`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, overload

import numpy as np

from engine.errors import ModelError
from engine.models.bundle import RHYTHM_TASK, Bundle, OperatingPoint, sha256_file
from engine.models.results import BeatResult, Prediction

#: The operating point name a site calibration adds.
SITE_OP = "site"
#: The one recalibration method so far.
METHOD = "logistic"
#: Fewest local cases of each outcome a site calibration is fitted on.
MIN_PER_CLASS = 20
#: Version of the stored JSON.
FORMAT = 1
#: Sub-folder of :func:`engine.resources.user_data_dir` holding the files.
FOLDER = "site-calibration"
_EPS = 1e-6

_FIELDS = {
    "format": int,
    "model_id": str,
    "model_version": str,
    "weights_sha256": str,
    "method": str,
    "intercept": float,
    "slope": float,
    "threshold": float,
    "rule": str,
    "n": int,
    "n_positive": int,
    "unit": str,
    "auroc": dict,
    "sensitivity": dict,
    "specificity": dict,
    "created": str,
    "created_by": str,
    "data": list,
}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p))


@dataclass(frozen=True)
class Estimate:
    """A local estimate with its 95 % interval (``None`` when it could not be computed)."""

    value: float
    ci95: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value}
        if self.ci95 is not None:
            out["ci95"] = [self.ci95[0], self.ci95[1]]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], name: str) -> Estimate:
        if not isinstance(data, Mapping) or set(data) - {"value", "ci95"} or "value" not in data:
            raise _bad(f"“{name}” must be {{value, ci95}}")
        value = _number(data["value"], name)
        ci = data.get("ci95")
        if ci is None:
            return cls(value)
        if not isinstance(ci, list) or len(ci) != 2:
            raise _bad(f"“{name}.ci95” must be two numbers")
        return cls(value, (_number(ci[0], name), _number(ci[1], name)))


@dataclass(frozen=True)
class SiteCalibration:
    """A clinic's recalibration and operating point for one model version (see the module).

    ``threshold`` is on the recalibrated probability; ``rule`` is how it was
    chosen (``"youden"``, ``"f1"`` or ``"sensitivity>=0.9"``); ``n``/``n_positive``
    count the local cases; ``data`` holds ``{"name", "sha256", "files"}`` of
    each file or folder they came from.
    """

    model_id: str
    model_version: str
    weights_sha256: str
    intercept: float
    slope: float
    threshold: float
    rule: str
    n: int
    n_positive: int
    auroc: Estimate
    sensitivity: Estimate
    specificity: Estimate
    created: str
    created_by: str = ""
    data: tuple[Mapping[str, Any], ...] = ()
    unit: str = "records"
    method: str = METHOD

    @overload
    def apply(self, p: float) -> float: ...
    @overload
    def apply(self, p: np.ndarray) -> np.ndarray: ...
    def apply(self, p: float | np.ndarray) -> float | np.ndarray:
        """The recalibrated probability ``sigmoid(intercept + slope · logit(clip(p)))``."""
        q = sigmoid(self.intercept + self.slope * logit(np.asarray(p, dtype=np.float64)))
        return float(q) if np.ndim(p) == 0 else q

    def inverse(self, q: float) -> float:
        """The model probability that :meth:`apply` maps to ``q`` (slope > 0: monotone)."""
        z = (float(logit(np.asarray(q))) - self.intercept) / self.slope
        return float(sigmoid(np.asarray(z)))

    @property
    def date(self) -> str:
        return self.created[:10]

    @property
    def note(self) -> str:
        """What a result shows: "Site operating point and calibration, validated on N …"."""
        return (
            f"Site operating point and calibration, validated on {self.n} local {self.unit} "
            f"({self.date})"
        )

    @property
    def rule_text(self) -> str:
        if self.rule.startswith("sensitivity>="):
            target = float(self.rule.split(">=", 1)[1])
            return f"highest threshold with ≥ {target:.0%} sensitivity on the local {self.unit}"
        if self.rule == "f1":
            return f"maximises the F1 of the positive label on the local {self.unit}"
        return f"maximises Youden's J on the local {self.unit}"

    def operating_point(self) -> OperatingPoint:
        """The site operating point (threshold on the recalibrated probability)."""
        return OperatingPoint(
            name=SITE_OP,
            threshold=self.threshold,
            sensitivity=self.sensitivity.value,
            specificity=self.specificity.value,
            sensitivity_ci=self.sensitivity.ci95,
            specificity_ci=self.specificity.ci95,
            rationale=f"{self.note}: {self.rule_text}.",
        )

    def matches(self, bundle: Bundle) -> bool:
        """Whether ``bundle`` is the model this was fitted for (id, version and weights)."""
        return (self.model_id, self.model_version, self.weights_sha256) == (
            bundle.id,
            bundle.version,
            bundle.weights_sha256,
        )

    def summary(self) -> dict[str, Any]:
        """What every result made with it carries in ``extra["site_calibration"]``."""
        return {
            "note": self.note,
            "model_id": self.model_id,
            "model_version": self.model_version,
            "weights_sha256": self.weights_sha256,
            "method": self.method,
            "intercept": self.intercept,
            "slope": self.slope,
            "threshold": self.threshold,
            "rule": self.rule,
            "n": self.n,
            "n_positive": self.n_positive,
            "auroc": self.auroc.to_json(),
            "sensitivity": self.sensitivity.to_json(),
            "specificity": self.specificity.to_json(),
            "created": self.created,
            "created_by": self.created_by,
        }

    def to_json(self) -> dict[str, Any]:
        """The stored form (see :func:`save`)."""
        out = {"format": FORMAT, **self.summary(), "unit": self.unit, "data": list(self.data)}
        del out["note"]
        out["data"] = [dict(d) for d in self.data]
        return out

    @classmethod
    def from_json(cls, data: Any) -> SiteCalibration:
        """Read the stored form, refusing unknown, missing or ill-typed fields.

        Raises
        ------
        ModelError
            Naming the first problem.
        """
        if not isinstance(data, Mapping):
            raise _bad("it is not a JSON object")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise _bad(f"unknown field(s) {', '.join(unknown)}")
        missing = sorted(set(_FIELDS) - set(data))
        if missing:
            raise _bad(f"missing field(s) {', '.join(missing)}")
        for name, kind in _FIELDS.items():
            value = data[name]
            if kind is float:
                _number(value, name)
            elif kind is int:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise _bad(f"“{name}” must be a whole number")
            elif not isinstance(value, kind):
                raise _bad(f"“{name}” must be a {kind.__name__}")
        if data["format"] != FORMAT:
            raise _bad(f"format {data['format']} is not {FORMAT}")
        if data["method"] != METHOD:
            raise _bad(f"method “{data['method']}” is not “{METHOD}”")
        if not re.fullmatch(r"youden|f1|sensitivity>=(0(\.\d+)?|1(\.0+)?)", data["rule"]):
            raise _bad(f"rule “{data['rule']}” is not “youden”, “f1” or “sensitivity>=T”")
        if not re.fullmatch(r"[0-9a-f]{64}", data["weights_sha256"]):
            raise _bad("“weights_sha256” is not a sha256")
        for d in data["data"]:
            if not isinstance(d, Mapping) or set(d) - {"name", "sha256", "files"}:
                raise _bad("“data” must hold {name, sha256, files} entries")
        try:
            datetime.fromisoformat(data["created"])
        except ValueError as exc:
            raise _bad("“created” is not an ISO date and time") from exc
        cal = cls(
            model_id=data["model_id"],
            model_version=data["model_version"],
            weights_sha256=data["weights_sha256"],
            intercept=float(data["intercept"]),
            slope=float(data["slope"]),
            threshold=float(data["threshold"]),
            rule=data["rule"],
            n=data["n"],
            n_positive=data["n_positive"],
            auroc=Estimate.from_json(data["auroc"], "auroc"),
            sensitivity=Estimate.from_json(data["sensitivity"], "sensitivity"),
            specificity=Estimate.from_json(data["specificity"], "specificity"),
            created=data["created"],
            created_by=data["created_by"],
            data=tuple(dict(d) for d in data["data"]),
            unit=data["unit"],
            method=data["method"],
        )
        if not cal.slope > 0:
            raise _bad(f"slope {cal.slope:g} is not positive")
        if not 0.0 < cal.threshold < 1.0:
            raise _bad(f"threshold {cal.threshold:g} is not between 0 and 1")
        if not 0 < cal.n_positive < cal.n:
            raise _bad("“n_positive” must be between 0 and “n”")
        return cal


def _bad(problem: str) -> ModelError:
    return ModelError(
        f"The site calibration file cannot be used: {problem}. Save the site calibration again "
        "(stethos-engine evaluate --save-site-calibration) or remove it "
        "(stethos-engine models site remove MODEL).",
    )


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(f"“{name}” must be a finite number")
    return float(value)


# --------------------------------------------------------------------------- checks


def check_binary(bundle: Bundle) -> None:
    """Refuse a model without one positive score per input (site calibration needs one).

    Served: two exclusive labels, and the rhythm model (exclusive classes,
    one positive label scored against the rest, one result per recording).
    """
    labels = bundle.labels
    if bundle.kind == "torch-lstm" and len(labels) > 2:
        raise ModelError(
            f"Model “{bundle.id}” classifies every beat into {len(labels)} classes "
            f"({', '.join(labels)}): it gives per-beat classes, not one positive score per "
            "record, so a site operating point and recalibration cannot be fitted for it. "
            "Site calibration serves models with one positive label (image and record models, "
            "the rhythm model's AF, or a binary signal model).",
        )
    one_against_rest = (
        bundle.task == RHYTHM_TASK and len(labels) > 2 and bundle.positive_label in labels
    )
    if not bundle.exclusive or (len(labels) != 2 and not one_against_rest):
        raise ModelError(
            f"Model “{bundle.id}” has {len(labels)} "
            f"{'exclusive' if bundle.exclusive else 'non-exclusive'} labels "
            f"({', '.join(labels)}), not one positive label against one other, so a site "
            "operating point and recalibration cannot be fitted for it.",
        )


def describe_data(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """``{"name", "sha256", "files"}`` of each data file or folder (a folder: every file in it).

    A folder's digest is the sha256 of its sorted ``relative-path  sha256``
    lines, so the same files give the same digest wherever they are.
    """
    out = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            lines = [
                f"{f.relative_to(p).as_posix()}  {sha256_file(f)}\n"
                for f in sorted(p.rglob("*"))
                if f.is_file()
            ]
            digest = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
            out.append({"name": str(p), "sha256": digest, "files": len(lines)})
        elif p.is_file():
            out.append({"name": str(p), "sha256": sha256_file(p), "files": 1})
    return out


# --------------------------------------------------------------------------- applying


@dataclass(frozen=True)
class SitePlan:
    """How one ``run`` uses a site calibration.

    ``kind_op`` is the operating point the model kind decides with, on its
    own probability scale; ``shown`` is the one each result reports, on the
    recalibrated scale. For the site point the label is decided on the
    recalibrated probability (the very computation the local Se/Sp came
    from); a bundle operating point asked by name keeps the kind's decision
    and reports its threshold mapped through the (monotone) recalibration.
    """

    site: SiteCalibration
    kind_op: OperatingPoint
    shown: OperatingPoint

    @classmethod
    def make(cls, bundle: Bundle, site: SiteCalibration, name: str | None) -> SitePlan:
        """The plan for operating point ``name`` (``None`` or ``"site"``: the site one)."""
        if not site.matches(bundle):
            raise ModelError(
                f"The site calibration of {site.model_id} {site.model_version} does not belong "
                f"to model “{bundle.id}” {bundle.version} and is not used.",
            )
        check_binary(bundle)
        if name is None or name == SITE_OP:
            shown = site.operating_point()
            kind_op = replace(shown, threshold=site.inverse(shown.threshold))
            return cls(site, kind_op, shown)
        op = bundle.operating_point(name)
        return cls(site, op, replace(op, threshold=site.apply(op.threshold)))

    @property
    def is_site(self) -> bool:
        return self.shown.name == SITE_OP

    def _probs(self, probabilities: Mapping[str, float], positive: str) -> dict[str, float]:
        """The positive probability recalibrated; the others keep their proportions."""
        q = self.site.apply(float(probabilities[positive]))
        out = {lbl: float(v) for lbl, v in probabilities.items()}
        others = [lbl for lbl in out if lbl != positive]
        rest = sum(out[lbl] for lbl in others)
        for lbl in others:
            share = out[lbl] / rest if len(others) > 1 and rest > 0 else 1.0 / len(others)
            out[lbl] = (1.0 - q) * share
        out[positive] = q
        return out

    def _label(self, probs: Mapping[str, float], positive: str, kind_label: str) -> str:
        if not self.is_site or len(probs) != 2:
            # A multi-class kind (rhythm) decided with ``kind_op``, the site threshold mapped
            # back onto its own scale: the same calls as the recalibrated probability gives.
            return kind_label
        (other,) = [lbl for lbl in probs if lbl != positive]
        return positive if probs[positive] >= self.shown.threshold else other

    def _beat(self, beat: BeatResult, positive: str) -> BeatResult:
        if positive not in beat.probabilities:  # another model's beat (the rhythm's ectopy)
            return beat
        probs = self._probs(beat.probabilities, positive)
        return BeatResult(beat.sample, self._label(probs, positive, beat.label), probs)

    def apply(self, pred: Prediction) -> Prediction:
        """``pred`` with recalibrated probabilities, the shown operating point and the note.

        Beats another model classified (the rhythm report's ectopy) are left
        as that model gave them.
        """
        pos = pred.positive_label
        probs = self._probs(pred.probabilities, pos)
        beats = tuple(self._beat(b, pos) for b in pred.beats)
        label = pred.label if beats else self._label(probs, pos, pred.label)
        extra = {**pred.extra}
        if pred.extra.get("out_of_domain"):  # the label stays withheld; say what it would be
            label = ""
            extra["withheld_label"] = self._label(probs, pos, str(pred.extra.get("withheld_label")))
        summary = self.site.summary()
        summary["model_score"] = float(pred.probabilities[pos])
        extra["site_calibration"] = summary
        if self.is_site:  # the site point was validated on the clinic's cases, not the card's
            extra.pop("validation_design", None)
        if self.shown.sensitivity_ci is not None and self.shown.specificity_ci is not None:
            extra["operating_point_ci"] = {
                "sensitivity": list(self.shown.sensitivity_ci),
                "specificity": list(self.shown.specificity_ci),
            }
        return replace(
            pred,
            probabilities=probs,
            label=label,
            operating_point=self.shown.name,
            threshold=self.shown.threshold,
            sensitivity=self.shown.sensitivity,
            specificity=self.shown.specificity,
            beats=beats,
            extra=extra,
        )


# --------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class StoredSiteCalibration:
    """One file of the site-calibration folder: its calibration, or why it cannot be read."""

    path: Path
    calibration: SiteCalibration | None
    problem: str = ""


def folder() -> Path:
    """Where site calibrations are kept (under ``STETHOS_DATA_DIR`` when it is set)."""
    from engine.resources import user_data_dir

    return user_data_dir() / FOLDER


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def path_for(model_id: str, version: str) -> Path:
    """The file of ``model_id`` version ``version``."""
    return folder() / f"{_safe(model_id)}@{_safe(version)}.json"


def save(cal: SiteCalibration) -> Path:
    """Write ``cal`` to its file atomically (replacing one for the same id and version)."""
    target = path_for(cal.model_id, cal.model_version)
    text = json.dumps(cal.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ModelError(
            f"The site calibration could not be written to {target.parent}.", str(exc)
        ) from exc
    return target


def read(path: Path) -> SiteCalibration:
    """Read one stored site calibration (raises :class:`ModelError` naming the file)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return SiteCalibration.from_json(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"The site calibration file {path.name} cannot be read. Save the site calibration "
            "again or remove it (stethos-engine models site remove MODEL).",
            str(exc),
        ) from exc
    except ModelError as exc:
        raise ModelError(exc.user_message, str(path)) from exc


def load_for(bundle: Bundle) -> SiteCalibration | None:
    """The stored site calibration of ``bundle``: same id, version and weights hash, or ``None``.

    Raises
    ------
    ModelError
        When the bundle's file exists but cannot be read or is invalid: a
        clinic's operating point is never dropped silently.
    """
    path = path_for(bundle.id, bundle.version)
    if not path.is_file():
        return None
    cal = read(path)
    return cal if cal.matches(bundle) else None


def list_stored() -> list[StoredSiteCalibration]:
    """Every stored site calibration file, readable or not, by file name."""
    root = folder()
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.glob("*.json")):
        if path.name.startswith(".tmp-"):
            continue
        try:
            out.append(StoredSiteCalibration(path, read(path)))
        except ModelError as exc:
            out.append(StoredSiteCalibration(path, None, exc.user_message))
    return out


def remove(model_id: str, version: str | None = None) -> list[StoredSiteCalibration]:
    """Delete the site calibration(s) of ``model_id`` (one version, or all); returns them.

    An unreadable file counts as ``model_id``'s when its name says so.
    """

    def wanted(item: StoredSiteCalibration) -> bool:
        cal = item.calibration
        if cal is None:
            if version is not None:
                return item.path == path_for(model_id, version)
            return item.path.name.startswith(f"{_safe(model_id)}@")
        return cal.model_id == model_id and version in (None, cal.model_version)

    gone = [item for item in list_stored() if wanted(item)]
    for item in gone:
        item.path.unlink(missing_ok=True)
    return gone
