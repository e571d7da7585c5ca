"""Building blocks of the model card: its per-kind sections and the tables they are made of.

:mod:`engine.train.card` fills its template with these; the section writers
of each kind of model (in :mod:`engine.train.card` and
:mod:`engine.train.beat_card`) build on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: How the metrics are named on the card (others by their manifest key).
METRIC_NAMES = {
    "auroc": "AUROC",
    "ece": "ECE (10 equal-width bins)",
    "brier": "Brier score",
    "masked_auroc": "AUROC, mean over the 8 declared missingness patterns",
    "masked_ece": "ECE over the 8 declared missingness patterns",
}


@dataclass(frozen=True)
class Sections:
    """The parts of a card that depend on the kind of model (Markdown; empty: left out)."""

    caution: str = ""
    data: str = ""
    model: str = ""
    validation: str = ""
    operating_points: str = ""
    calibration: str = ""
    explanation: str = ""


# --------------------------------------------------------------------------- formatting


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def paragraphs(*parts: str) -> str:
    """Non-empty parts joined as Markdown paragraphs."""
    return "\n\n".join(p.strip("\n") for p in parts if p and p.strip())


def estimate_text(est: Mapping[str, Any], digits: int = 3) -> str:
    """``value (low–high)``; an ECE with its chance level; ``—`` for no value."""
    if est.get("value") is None:
        return "—"
    text = f"{est['value']:.{digits}f}"
    ci = est.get("ci95")
    if ci:
        return f"{text} ({ci[0]:.{digits}f}–{ci[1]:.{digits}f})"
    if "chance_95" in est:
        return f"{text} (perfect calibration: ≤ {est['chance_95']:.{digits}f} by chance)"
    return text


def percent_text(est: Mapping[str, Any]) -> str:
    """A proportion in % with its CI: ``72.7 (37.1–89.5)``; ``—`` for no value."""
    if est.get("value") is None:
        return "—"
    ci = est.get("ci95")
    text = f"{est['value'] * 100:.1f}"
    return f"{text} ({ci[0] * 100:.1f}–{ci[1] * 100:.1f})" if ci else text


# --------------------------------------------------------------------------- shared sections


def metrics_table(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """Every metric of the manifest with its 95 % CI."""
    return table(
        ["metric", "value (95 % CI)"],
        [[METRIC_NAMES.get(k, k), estimate_text(e)] for k, e in metrics.items()],
    )


def operating_points_table(manifest: Mapping[str, Any]) -> str:
    """Each operating point's threshold, Se and Sp (95 % CIs) and rationale."""
    return table(
        ["name", "threshold", "sensitivity (95 % CI)", "specificity (95 % CI)", "why"],
        [
            [
                op["name"],
                f"{op['threshold']:.3f}",
                estimate_text(op["sensitivity"]),
                estimate_text(op["specificity"]),
                op["rationale"],
            ]
            for op in manifest["operating_points"]
        ],
    )


def reliability_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Mean predicted probability against the observed rate, per bin."""
    return table(
        ["bin", "mean predicted", "observed", "n"],
        [
            [f"{r['bin_low']:.1f}–{r['bin_high']:.1f}", f"{r['mean_predicted']:.2f}",
             f"{r['observed']:.2f}", r["n"]]
            for r in rows
        ],
    )  # fmt: skip


def experiments_text(validation: Mapping[str, Any]) -> str:
    """The design experiments of a validation record (its lab notebook), as a table; or ``""``."""
    rows = validation.get("experiments") or []
    if not rows:
        return ""
    columns = list(rows[0])
    return paragraphs(
        validation.get("experiments_design", ""),
        table(columns, [[row.get(c, "—") for c in columns] for row in rows]),
        validation.get("experiments_discussion", ""),
    )
