"""Refit the pneumonia CNN bundle's out-of-domain score from its saved weights (no retraining).

The plan's sixth change (docs/experiments/cxr-generalisation-plan.md): the
adult-likeness regression fitted on acquisition-augmented features. This
module rebuilds the training run's items, 224-px pixels and by-series split
with the same code as :func:`engine.train.cxr.train_cxr`, computes the
features of every set once, scores the current design and the augmented one
with the same code, and reports both on the same sets — with the other
source's adult images split by patient into the decision half D and the
check half E. ``write=True`` replaces the bundle's domain file, thresholds,
checks and card (weights untouched).

Run: ``stethos-engine train cxr-domain [--augment 4] [--write] [--json out.json]``
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.progress import Progress, no_progress
from engine.resources import resource_path
from engine.train.cxr_domain import (
    ADULT_FIT,
    DOMAIN_FILE,
    PED_TEST,
    TUNE_SET,
    DomainFeatures,
    DomainScores,
    domain_features,
    domain_gates_and_summary,
    pediatric_labels,
    score_domain,
)
from engine.train.data import shared_data_dir

BUNDLE = resource_path("models", "cxr-pneumonia-resnet18-224")
OTHER_SOURCE = "adult radiographs, other source (CC BY-NC-SA, check only)"
HALF_B = "adult radiographs, CC BY, half B"
D_SET, E_SET = "other source, half D (decides)", "other source, half E (check only)"


def other_source_halves(root: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Masks over ``names`` (file names of the other source) for D and E: sorted patient ids,
    alternating (D the first)."""
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        patient = {Path(r["path"]).name: r["patient_id"] for r in csv.DictReader(fh)}
    ids = sorted({patient[n] for n in names})
    in_d = {pid for k, pid in enumerate(ids) if k % 2 == 0}
    d = np.array([patient[n] in in_d for n in names])
    return d, ~d


def _row(flags: np.ndarray) -> dict[str, Any]:
    return {"n": int(flags.size), "flagged": int(flags.sum()),
            "share": round(float(flags.mean()), 4) if flags.size else None}  # fmt: skip


def outcome(sc: DomainScores, covered: Mapping[str, list[str]]) -> dict[str, Any]:
    """Flagged counts of every reported set, D and E included."""
    d, e = other_source_halves(shared_data_dir() / "cxr" / "adult-ood", covered[OTHER_SOURCE])
    rows = {
        D_SET: _row(sc.flags[OTHER_SOURCE][d]),
        E_SET: _row(sc.flags[OTHER_SOURCE][e]),
        **{name: _row(f) for name, f in sc.flags.items()},
    }
    return {"threshold": round(sc.threshold, 4), "adult_threshold": round(sc.adult_threshold, 4),
            "augment": sc.augment, "sets": rows}  # fmt: skip


def decide(current: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The plan's rule: D up by ≥ 3 points, tuning ≤ 5 %, half B ≥ 95 %."""
    gain = new["sets"][D_SET]["share"] - current["sets"][D_SET]["share"]
    tune = new["sets"][TUNE_SET]["share"]
    half_b = new["sets"][HALF_B]["share"]
    ok = gain >= 0.03 - 1e-9 and tune <= 0.05 and half_b >= 0.95
    return {"d_gain_points": round(100 * gain, 2), "tune_share": tune, "half_b_share": half_b,
            "adopted": bool(ok)}  # fmt: skip


def load_bundle_net(bundle: Path) -> Any:
    from safetensors.torch import load_file

    from engine.models.architectures import build_model
    from engine.train.cxr import ARCHITECTURE

    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    net = build_model(ARCHITECTURE, {"num_classes": 2})
    net.load_state_dict(load_file(str(bundle / manifest["weights"])))
    return net.eval()


def training_items(data_root: Path | None = None) -> tuple[list, dict]:
    """The training run's items and split (the code path of ``train_cxr``)."""
    from engine.train.cxr import read_manifest, split_by_series

    items = read_manifest(data_root or shared_data_dir() / "cxr" / "kermany-224")
    return items, split_by_series(items)


def training_data(size: int, data_root: Path | None = None) -> tuple[list, np.ndarray, dict]:
    """The training run's items, pixels and split (the code path of ``train_cxr``)."""
    from engine.train.cxr import load_pixels

    items, split = training_items(data_root)
    return items, load_pixels(items, size), split


def save_features(path: Path, feats: DomainFeatures) -> None:
    """The features as a plain ``.npz`` (no pickle)."""
    maybe: dict[str, np.ndarray | None] = {"train": feats.train, "tune": feats.tune, "adult_fit": feats.adult_fit,
              "train_augmented": feats.train_augmented, "adult_fit_augmented":
              feats.adult_fit_augmented}  # fmt: skip
    arrays: dict[str, Any] = {k: v for k, v in maybe.items() if v is not None}
    names = list(feats.sets)
    arrays.update({f"set{i}": feats.sets[n] for i, n in enumerate(names)})
    labelled = list(feats.labels)
    arrays.update({f"labels{i}": feats.labels[n] for i, n in enumerate(labelled)})
    meta = json.dumps({"sets": names, "covered": feats.covered, "labelled": labelled})
    np.savez(path, meta=np.frombuffer(meta.encode(), dtype=np.uint8), **arrays)


def load_features(path: Path) -> DomainFeatures:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        get = {k: z[k] for k in z.files}
    sets = {n: get[f"set{i}"] for i, n in enumerate(meta["sets"])}
    labels = {n: get[f"labels{i}"] for i, n in enumerate(meta.get("labelled", []))}
    if not labels:  # a features file saved before the classes were kept: the split's own labels
        labels = pediatric_labels(*training_items())
    return DomainFeatures(get["train"], get["tune"], get["adult_fit"], sets, meta["covered"],
                          get.get("train_augmented"), get.get("adult_fit_augmented"), labels)  # fmt: skip


#: The sets a refit's card note reports before → after (label in the note, set name).
_NOTE_SETS = (
    ("the other source's decision half D (by patient)", D_SET),
    ("its check half E (never used for a decision)", E_SET),
    ("the other source as a whole", OTHER_SOURCE),
    ("the pediatric test patients", PED_TEST),
)


def _changes(record: Mapping[str, Any], after: str) -> str:
    """ "set before → after; …" from a refit's outcome (``current`` against ``after``)."""

    def pct(design: str, name: str) -> str:
        r = record[design]["sets"][name]
        return f"{r['flagged'] / r['n']:.1%} ({r['flagged']}/{r['n']})"

    return "; ".join(f"{text} {pct('current', n)} → {pct(after, n)}" for text, n in _NOTE_SETS)


def _above_target(record: Mapping[str, Any], after: str) -> bool:
    return bool(record[after]["sets"][PED_TEST]["share"] > 0.05)


def refit_note(record: Mapping[str, Any]) -> str:
    """The card's sentence on the sixth change: before and after, on the same sets."""
    return (
        "Since the plan's sixth change the adult-likeness score is fitted with "
        f"{record['augmented']['augment']} acquisition-like variants of every fitting image of "
        "both classes, refitted from the same weights without retraining; it was adopted by a "
        "rule fixed before the run (flagged share on half D up ≥ 3 points). Flagged: "
        f"{_changes(record, 'augmented')}."
        + (
            " The pediatric test patients' share is above the 5 % target."
            if _above_target(record, "augmented")
            else ""
        )
    )


def combined_note(record: Mapping[str, Any]) -> str:
    """The card's sentence on the seventh change: the union against the combined statistic."""
    return (
        "Since the plan's seventh change an image is out of domain when the sum of the two "
        "scores, each standardised on the tuning patients, is above one threshold, instead of "
        "either score above its own; same scores and weights; adopted by a rule fixed before "
        f"the run (flagged share on half D up ≥ 3 points). Flagged: {_changes(record, 'combined')}."
        + (
            " The pediatric test patients' share is still above the 5 % target."
            if _above_target(record, "combined")
            else ""
        )
    )


def write_bundle_domain(
    bundle: Path,
    sc: DomainScores,
    record: Mapping[str, Any] | None = None,
    *,
    combined_record: Mapping[str, Any] | None = None,
    version: str | None = None,
) -> Path:
    """Replace the bundle's domain file, thresholds, checks and card; weights untouched.

    ``record`` (the sixth change's refit, both designs) and ``combined_record``
    (the seventh change's) go into the validation record and the card's note;
    ``version``, when given, is the bundle's new version.
    """
    from engine.models.authoring import update_bundle
    from engine.train.card import VALIDATION_NAME, read_validation, render_card, validation_bytes
    from engine.train.model_texts import with_translations

    gates, ood = domain_gates_and_summary(sc)
    validation = read_validation(bundle)
    record = record or validation.get("domain", {}).get("out_of_domain_refit")
    notes = []
    if record is not None:
        notes.append(refit_note(record))
        validation.setdefault("domain", {})["out_of_domain_refit"] = dict(record)
    if combined_record is not None:
        notes.append(combined_note(combined_record))
        validation.setdefault("domain", {})["out_of_domain_refit_combined"] = dict(combined_record)
    if notes:
        ood["note"] = " ".join(notes)
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    manifest["gates"]["appearance"] = gates["appearance"]
    manifest["validation"]["domain"]["out_of_domain"] = ood
    if version:
        manifest["version"] = version
    manifest.pop("files", None)

    def edit(m: dict[str, Any]) -> dict[str, Any]:
        m["gates"]["appearance"] = gates["appearance"]
        m["validation"]["domain"]["out_of_domain"] = ood
        if version:
            m["version"] = version
        return with_translations(m)

    return update_bundle(
        bundle,
        {
            DOMAIN_FILE: sc.stats,
            str(manifest.get("card", "card.md")): render_card(manifest, validation).encode(),
            VALIDATION_NAME: validation_bytes(validation),
        },
        edit=edit,
    )


#: The sets of the refit's table, in the order the plan and the CLI show them.
TABLE_SETS = (D_SET, E_SET, OTHER_SOURCE, HALF_B, TUNE_SET, PED_TEST,
              "adult CR samples", "CT/MR/US/XA/NM images", "synthetic noise and patterns",
              ADULT_FIT + ", not a check")  # fmt: skip


def refit_domain(
    bundle: Path = BUNDLE, *, augment: int = 4, seed: int = 0, cache: Path | None = None,
    smoke: int = 0, write: bool = False, progress: Progress = no_progress,
) -> dict[str, Any]:  # fmt: skip
    """Score the current and the augmented out-of-domain design of ``bundle`` on the same
    features; with ``write``, replace the bundle's score when the plan's rule adopts it.

    Returns the outcome: ``shipped_thresholds``, ``current``, ``augmented`` (each with its
    thresholds and every set's flagged share), ``decision`` and ``written``.
    ``cache`` keeps the features between runs (.npz); ``smoke`` uses only the first N
    images of each split (a quick check).
    """
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    pre = manifest["preprocessing"]
    net = load_bundle_net(bundle)
    items, pixels, split = training_data(int(pre["size"]))
    if smoke:
        split = {k: v[:smoke] for k, v in split.items()}
    if cache is not None and cache.is_file():
        feats = load_features(cache)
    else:
        feats = domain_features(net, items, pixels, split, preprocessing=pre, seed=seed,
                                augment=augment, progress=progress)  # fmt: skip
        if cache is not None:
            save_features(cache, feats)
    current = score_domain(feats)
    new = score_domain(feats, augment=True)
    shipped = manifest["gates"]["appearance"]
    result: dict[str, Any] = {
        "shipped_thresholds": [shipped["threshold"], shipped["adult_threshold"]],
        "current": outcome(current, feats.covered),
        "augmented": outcome(new, feats.covered),
    }
    result["decision"] = decide(result["current"], result["augmented"])
    result["written"] = bool(write and result["decision"]["adopted"])
    if result["written"]:
        write_bundle_domain(bundle, new, result)
    return result


def refit_combined(
    bundle: Path = BUNDLE, *, cache: Path, write: bool = False, version: str | None = None
) -> dict[str, Any]:
    """The plan's seventh change on the saved features: the shipped union of two thresholds
    against one threshold on the two standardised scores; with ``write``, the bundle takes the
    combined rule (as ``version``, default the training's) when the plan's rule adopts it.

    ``cache`` is the features file of an earlier :func:`refit_domain` run (``--cache``).
    """
    feats = load_features(cache)
    current = score_domain(feats, augment=True)
    new = score_domain(feats, augment=True, combined=True)
    result: dict[str, Any] = {
        "current": outcome(current, feats.covered),
        "combined": {**outcome(new, feats.covered), "rule": new.combined},
    }
    result["decision"] = decide(result["current"], result["combined"])
    result["written"] = bool(write and result["decision"]["adopted"])
    if result["written"]:
        from engine.train.cxr import MODEL_VERSION

        write_bundle_domain(bundle, new, combined_record=result, version=version or MODEL_VERSION)
    return result
