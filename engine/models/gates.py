"""Input-validity gates: refuse or warn about inputs a model was not made for.

A manifest's ``gates`` block names the checks, e.g.::

    "gates": {
      "modality": {"allowed": ["CR", "DX"], "action": "refuse"},
      "view_position": {"refused": ["LL", "RL", "LATERAL"], "action": "refuse"},
      "presentation_intent": {"refused": ["FOR PROCESSING"], "action": "refuse",
                              "if_missing": "allow"},
      "body_part": {"allowed": ["CHEST"], "action": "warn", "if_missing": "allow"},
      "age_years": {"min": 1, "max": 6, "action": "refuse", "if_missing": "warn"},
      "sampling_rate": {"min": 250, "max": 1000, "action": "refuse"},
      "leads": {"allowed": ["MLII", "II"], "action": "refuse"}
    }

``action: "refuse"`` raises :class:`~engine.errors.InputRejectedError` (the
input is not scored); ``"warn"`` scores it and returns the message with the
result. ``if_missing`` (default ``"warn"``) says what happens when the input
does not carry the attribute at all (a PNG has no modality).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import InputRejectedError

#: The warning for an input that does not record what a gate checks (``{what}`` is one of
#: :data:`DESCRIBE`'s values); the desktop shows it in the interface language.
MISSING_WARNING = (
    "“{input}” does not record its {what}; check that it is what model “{model}” was made for."
)
DESCRIBE = {
    "modality": "modality",
    "view_position": "view position",
    "presentation_intent": "presentation intent",
    "body_part": "body part",
    "photometric": "photometric interpretation",
    "sampling_rate": "sampling rate",
    "leads": "leads",
    "duration_s": "duration",
    "image_size": "image size",
    "age_years": "patient's age",
}
_UNITS = {
    "sampling_rate": " Hz",
    "duration_s": " s",
    "image_size": " pixels",
    "age_years": " years",
}
_AGE_UNITS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}


def age_years(patient_age: str = "", birth_date: str = "", study_date: str = "") -> float | None:
    """The patient's age in years at the study, from DICOM PatientAge or the two dates.

    ``PatientAge`` (AS: ``nnnD``, ``nnnW``, ``nnnM`` or ``nnnY``; a bare number
    as years) wins; else
    ``StudyDate − PatientBirthDate`` (DA: ``YYYYMMDD``). ``None`` when neither
    is there or readable.
    """
    import datetime as _dt
    import re

    m = re.fullmatch(r"\s*(\d{1,3})\s*([DWMY]?)\s*", patient_age or "", flags=re.IGNORECASE)
    if m:  # a bare number (a common deviation from the AS format) is read as years
        return int(m.group(1)) * _AGE_UNITS[(m.group(2) or "Y").upper()]
    try:
        born = _dt.datetime.strptime((birth_date or "").strip()[:8], "%Y%m%d").date()
        seen = _dt.datetime.strptime((study_date or "").strip()[:8], "%Y%m%d").date()
    except ValueError:
        return None
    years = (seen - born).days / 365.25
    return years if years >= 0 else None


def _fmt(value: Any, key: str) -> str:
    if key == "age_years" and isinstance(value, int | float):
        value = f"{value:.1f}".removesuffix(".0") if value >= 1 else f"{value:.2f}"
    elif key == "duration_s" and isinstance(value, int | float):
        value = f"{value:.1f}".removesuffix(".0")  # 2.8 s, not 2.77778 s
    elif isinstance(value, float):
        value = f"{value:g}"
    return f"{value}{_UNITS.get(key, '')}"


def _problem(key: str, gate: Mapping[str, Any], value: Any) -> str | None:
    """The reason ``value`` fails ``gate``, or ``None``."""
    what = DESCRIBE.get(key, key)
    if key == "leads":
        present = {str(v).strip().upper() for v in value}
        required = [str(v) for v in gate.get("required", ())]
        missing = [r for r in required if r.upper() not in present]
        if missing:
            return f"it lacks the lead(s) {', '.join(missing)}"
        allowed = [str(v) for v in gate.get("allowed", ())]
        if allowed and not any(a.upper() in present for a in allowed):
            return f"it has none of the leads {', '.join(allowed)}"
        return None
    if "allowed" in gate:
        allowed = gate["allowed"]
        if isinstance(value, int | float) and not isinstance(value, bool):
            ok = any(
                abs(float(value) - float(a)) <= 1e-6 * max(1.0, abs(float(a))) for a in allowed
            )
        else:
            ok = str(value).upper() in {str(a).upper() for a in allowed}
        if not ok:
            names = ", ".join(_fmt(a, key) for a in allowed)
            return f"its {what} is {_fmt(value, key)}; the model takes {names}"
    if "refused" in gate and str(value).upper() in {str(a).upper() for a in gate["refused"]}:
        return f"its {what} is {_fmt(value, key)}, which the model does not take"
    if "min" in gate and float(value) < float(gate["min"]):
        return (
            f"its {what} is {_fmt(value, key)}, below the model's minimum of "
            f"{_fmt(gate['min'], key)}"
        )
    if "max" in gate and float(value) > float(gate["max"]):
        return (
            f"its {what} is {_fmt(value, key)}, above the model's maximum of "
            f"{_fmt(gate['max'], key)}"
        )
    return None


def check_gates(
    gates: Mapping[str, Mapping[str, Any]],
    values: Mapping[str, Any],
    *,
    input_name: str,
    model_id: str,
) -> tuple[str, ...]:
    """Apply ``gates`` to an input's attributes.

    Parameters
    ----------
    gates
        The manifest's ``gates`` block.
    values
        The input's attributes by gate name; an empty string or ``None``
        means the input does not carry it.
    input_name
        How the input is named in messages (a file name).
    model_id
        The model, for messages.

    Returns
    -------
    tuple of str
        Warnings for the result (empty when every gate passed).

    Raises
    ------
    InputRejectedError
        For the first gate that refuses, naming the input, the attribute and
        what the model takes.
    """
    warnings: list[str] = []
    for key, gate in gates.items():
        if key not in values:
            continue
        value = values[key]
        action = gate.get("action", "refuse")
        if (
            value is None
            or value == ""
            or (isinstance(value, Sequence | set) and not value and not isinstance(value, str))
        ):
            missing = gate.get("if_missing", "warn")
            if missing == "allow":
                continue
            text = MISSING_WARNING.format(
                input=input_name, what=DESCRIBE.get(key, key), model=model_id
            )
            if missing == "refuse":
                raise InputRejectedError(text)
            warnings.append(text)
            continue
        reason = _problem(key, gate, value)
        if reason is None:
            continue
        advice = gate.get("message", "")
        text = f"“{input_name}” was not analysed by model “{model_id}”: {reason}."
        if action == "refuse":
            raise InputRejectedError(f"{text} {advice}".strip())
        warnings.append(
            f"“{input_name}”: {reason}. Model “{model_id}” was not made for this input; "
            f"read the result with care. {advice}".strip()
        )
    return tuple(warnings)


def image_gate_values(inp: Any) -> dict[str, Any]:
    """Gate attributes of an :class:`~engine.models.preprocess.ImageInput`."""
    rows, cols = inp.shape
    return {
        "modality": inp.modality,
        "view_position": inp.view_position,
        "presentation_intent": inp.presentation_intent,
        "body_part": inp.body_part,
        "photometric": inp.photometric,
        "image_size": min(rows, cols),
        "age_years": inp.age_years,
    }


def signal_gate_values(signal: Any) -> dict[str, Any]:
    """Gate attributes of a signal or stream (``n_samples``, ``leads``, ``fs``).

    Unnamed leads (a WFDB signal without a description) are left out, so a
    record that names none of its leads does not record its leads: the lead
    gate's ``if_missing`` applies (warned by default) instead of a refusal.
    """
    n = int(signal.n_samples if hasattr(signal, "n_samples") else signal.data.shape[-1])
    return {
        "sampling_rate": float(signal.fs),
        "leads": tuple(lead for lead in signal.leads if str(lead).strip()),
        "duration_s": n / float(signal.fs) if signal.fs else 0.0,
    }
