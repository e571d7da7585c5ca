"""What a result rests on: inputs present and their validated AUROC; the site calibration used.

Shared by the result panel and the encounter report, from the structured
``inputs`` block of a prediction (``Prediction.extra["inputs"]``, kept in
the stored result's JSON), so both read the same in every language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QCoreApplication

from desktop.i18n import QT_TRANSLATE_NOOP
from engine.records import HEART_RECORD

_BASED_ON = QT_TRANSLATE_NOOP("ResultPanel", "Based on {0} of {1} inputs")
_NOT_RECORDED = QT_TRANSLATE_NOOP("ResultPanel", "; not recorded: {0}.")
_COMPLETE = QT_TRANSLATE_NOOP("ResultPanel", " (complete record).")
_VALIDATED_MISSING = QT_TRANSLATE_NOOP(
    "ResultPanel",
    "Validated for records missing these inputs: AUROC {0:.2f} (95 % CI {1:.2f}–{2:.2f}); at "
    "this operating point sensitivity {3:.0%}, specificity {4:.0%}.",
)
_VALIDATED_COMPLETE = QT_TRANSLATE_NOOP(
    "ResultPanel",
    "Validated on complete records: AUROC {0:.2f} (95 % CI {1:.2f}–{2:.2f}); at this "
    "operating point sensitivity {3:.0%}, specificity {4:.0%}.",
)

_SITE = QT_TRANSLATE_NOOP(
    "ResultPanel",
    "Site operating point and calibration of this model version, validated on {0} local "
    "cases ({1}, by {2}); the model's own probability was {3:.1%}.",
)


def _tr(text: str) -> str:
    return QCoreApplication.translate("ResultPanel", text)


def _field_label(name: str) -> str:
    try:
        label = HEART_RECORD.field(name).label
    except KeyError:
        return name
    return QCoreApplication.translate("RecordForm", label)


def basis_text(inputs: Mapping[str, Any] | None) -> str:
    """ "Based on 3 of 13 inputs; not recorded: …. Validated …" (empty without an inputs block)."""
    if not isinstance(inputs, Mapping) or "present" not in inputs:
        return ""
    missing = [str(n) for n in inputs.get("missing") or []]
    text = _tr(_BASED_ON).format(inputs["present"], inputs["total"])
    if missing:
        text += _tr(_NOT_RECORDED).format(", ".join(_field_label(n) for n in missing))
    else:
        text += _tr(_COMPLETE)
    stats = inputs.get("validated")
    if isinstance(stats, Mapping) and "auroc" in stats:
        auc, lo, hi = stats["auroc"]
        validated = _tr(_VALIDATED_MISSING if missing else _VALIDATED_COMPLETE)
        text += " " + validated.format(auc, lo, hi, stats["sensitivity"], stats["specificity"])
    return text


def site_text(site: Mapping[str, Any] | None) -> str:
    """The clinic's site calibration a result used (empty when none)."""
    if not isinstance(site, Mapping) or "n" not in site or "model_score" not in site:
        return ""
    return _tr(_SITE).format(
        site["n"],
        str(site.get("created", ""))[:10],
        site.get("created_by", "?"),
        float(site["model_score"]),
    )
