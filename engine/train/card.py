"""Model cards: one template, filled from a bundle's manifest and its validation record.

Every bundle's ``card.md`` is :func:`render_card` of its ``manifest.json`` and
``validation.json``, so a card never says anything its data does not hold:
numbers (metrics, intervals, operating points, per-record counts, training
run facts) and the design experiments tried come from the data; the wording
is here, in :data:`TEMPLATE` and the section writers (record and image models
below, beat models in :mod:`engine.train.beat_card`, both built from the
tables of :mod:`engine.train.card_parts`).

The training pipelines write bundles through :func:`write_model_bundle`;
:func:`refresh_bundle` (``stethos-engine train cards``) rewrites the card of
an existing bundle from its data, without retraining, and re-hashes it into
the manifest as the bundle writer does.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.train.beat_card import signal_sections
from engine.train.card_parts import (
    Sections,
    estimate_text,
    experiments_text,
    metrics_table,
    operating_points_table,
    paragraphs,
    reliability_table,
    table,
)
from engine.train.record_card import (
    coverage_text,
    domain_section,
    missingness_section,
    prevalence_section,
)

if TYPE_CHECKING:
    from torch import nn

#: Name of the validation record in a bundle.
VALIDATION_NAME = "validation.json"

#: The one model card. ``$…_section`` placeholders hold a whole section (heading
#: included) or nothing; blank lines left by empty ones are folded.
TEMPLATE = string.Template("""\
# Model card — ${name}

**Id** `${id}` · **Version** ${version} · **Architecture** ${architecture}

## Intended use

${intended_use}

Intended users: ${intended_users}

**This model supports, and does not replace, clinical judgement.** ${caution}

Do not use it for: ${contraindications}.

## Data

${data}

${model_section}

## Validation

${validation}

## Operating points

${operating_points}

${calibration_section}

${experiments_section}

## Limitations

${limitations}

${explanation_section}

${training_section}

${runtime_section}

## Reproduce

${reproduce}
""")

#: What each explanation method shows, for the card's Explanation section.
EXPLANATIONS = {
    "gradcam": "Grad-CAM on the last residual stage, mapped back onto the source image; it "
    "shows where the network looked, not where disease is.",
    "integrated-gradients": "Integrated gradients over the beat window, mapped back onto the "
    "trace: where the signal pushed the network towards the beat's class.",
}


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _data(manifest: Mapping[str, Any], extra: str) -> str:
    td = manifest["training_data"]
    source = f"{_sentence(td['name'])} {_sentence(td['source'])}"
    return paragraphs(
        f"{source}\nLicence: {td['licence']}. Attribution: {_sentence(td['citation'])}", extra
    )


def _training(manifest: Mapping[str, Any], validation: Mapping[str, Any]) -> str:
    run = validation.get("run")
    if not run:
        return ""
    kept = f"; epoch kept: {run['best_epoch']} (best tuning AUROC)" if "best_epoch" in run else ""
    history = manifest["validation"].get("history") or []
    return paragraphs(
        f"{run['seconds']:.0f} s on {run['device']}{kept}.",
        table(
            ["epoch", "train loss", "tuning AUROC", "seconds"],
            [[h["epoch"], f"{h['train_loss']:.4f}", f"{h['tune_auroc']:.4f}", h["seconds"]]
             for h in history],
        ) if history else "",
    )  # fmt: skip


def _runtime(manifest: Mapping[str, Any]) -> str:
    """Which runtime computes results: ONNX Runtime on the CPU when the bundle has a graph."""
    onnx = manifest.get("onnx")
    if not onnx:
        return ""
    check = onnx["check"]
    diffs = ", ".join(
        f"{k} {v:.1e} (≤ {check['tolerance'][k]:g})" for k, v in check["max_abs_diff"].items()
    )
    return paragraphs(
        f"On the CPU, results are computed by ONNX Runtime from `{onnx['file']}`, exported from "
        f"these weights (`{onnx['exported_from']['file']}`, same sha256) without retraining; on "
        "a GPU, and for explanations the graph does not give, by PyTorch. Every result names "
        "the runtime and the graph's sha256.",
        f"Export check against PyTorch on {check.get('inputs', 'fixed inputs')}: largest "
        f"differences {diffs}. Re-export: `stethos-engine train onnx`.",
    )


def _reproduce(manifest: Mapping[str, Any]) -> str:
    command = f"`{manifest['training_command']}`"
    data_file = manifest["training_data"].get("file")
    if data_file:
        command += (
            f" (reads `{data_file}` from the shared data folder; same data and seed give the "
            "same model)."
        )
    what, example = _local_check(manifest)
    return paragraphs(
        command,
        f"Check on local data ({what}):\n"
        f"`stethos-engine evaluate --model {manifest['id']} {example}`",
    )


def _local_check(manifest: Mapping[str, Any]) -> tuple[str, str]:
    """What ``stethos-engine evaluate`` takes for this model, and an example argument."""
    kind = manifest["inputs"]["type"]
    if kind == "record":
        return "other hospitals' files in the UCI format work as they come", (
            "processed.hungarian.data"
        )
    if kind == "image":
        labels = ", ".join(f"{label}/" for label in manifest["outputs"]["labels"])
        return f"a folder with one sub-folder of images per label: {labels}", "FOLDER"
    return "WFDB records with their reference beat annotations, or a folder of them", "RECORDS"


def _section(title: str, body: str) -> str:
    return f"## {title}\n\n{body}" if body.strip() else ""


# --------------------------------------------------------------------------- record models


def record_sections(manifest: Mapping[str, Any], validation: Mapping[str, Any]) -> Sections:
    """Sections of a record model validated by repeated cross-validation."""
    v = manifest["validation"]
    m = manifest["metrics"]
    positive = manifest["outputs"]["positive_label"]
    missing = validation.get("missing_values") or {}
    missing_text = (
        f"The {sum(missing.values())} missing values ("
        + ", ".join(f"{k} ×{n}" for k, n in missing.items())
        + ") are imputed inside the pipeline."
        if missing
        else "No value is missing."
    )
    outcome = f" ({validation['outcome']})" if "outcome" in validation else ""
    subgroups = table(
        ["group", "n", "prevalence", "mean predicted", "AUROC (95 % CI)", "sensitivity",
         "specificity"],
        [
            [name, g["n"], f"{g['prevalence']:.2f}", f"{g['mean_predicted']:.2f}",
             estimate_text(g["auroc"]), estimate_text(g["sensitivity"]),
             estimate_text(g["specificity"])]
            for name, g in v["subgroups"].items()
        ],
    )  # fmt: skip
    calibration = manifest["outputs"]["calibration"]
    fitted = f" ({calibration['fitted_on']})" if "fitted_on" in calibration else ""
    ece = m["ece"]
    verdict = (
        "consistent with good calibration."
        if ece["value"] <= ece["chance_95"]
        else "more miscalibration than chance alone explains."
    )
    return Sections(
        data=paragraphs(
            f"{v['n']} patients, prevalence of {positive}{outcome} {v['prevalence']:.1%}. "
            + missing_text,
            coverage_text(manifest),
        ),
        model=paragraphs(*validation.get("model", {}).get("notes", [])),
        validation=paragraphs(
            metrics_table(m),
            f"AUROC of each repeat: {', '.join(f'{a:.3f}' for a in v['auroc_by_repeat'])}. "
            "Sensitivity, specificity and accuracy are at the default operating point.",
            "### Subgroups (out-of-fold, at the default operating point)",
            subgroups,
            missingness_section(manifest, validation),
        ),
        operating_points=paragraphs(
            operating_points_table(manifest),
            f"The default is **{manifest['default_operating_point']}**: as a risk flag before "
            "further work-up, a missed disease costs more than an extra test. Thresholds were "
            "chosen on the same out-of-fold predictions their sensitivity and specificity are "
            "reported on, so these are slightly optimistic."
            + (
                " Those predictions are the eight declared missingness patterns pooled (see "
                "Validation): the records the model will meet, not only complete ones."
                if "missingness" in v
                else ""
            ),
        ),
        calibration=paragraphs(
            f"Calibration step: {calibration['method']}{fitted}. Expected calibration error "
            f"(10 equal-width bins) {ece['value']:.3f}; a perfectly calibrated model would show "
            f"up to {ece['chance_95']:.3f} on these {v['n']} patients by chance (95th "
            f"percentile of simulated outcomes), so this is {verdict} Brier score "
            f"{estimate_text(m['brier'])}. Stethos offers, as the default record model, the "
            "installed one with the lowest out-of-fold ECE"
            + (" over the declared missingness patterns" if "masked_ece" in m else "")
            + "; the others can be chosen.",
            f"Reliability (10 equal-width bins; out-of-fold predictions pooled over the "
            f"{v['repeats']} repeats, so n counts each patient once per repeat):",
            reliability_table(v["reliability"]),
            prevalence_section(validation),
        ),
    )


# --------------------------------------------------------------------------- image models


def image_sections(manifest: Mapping[str, Any], validation: Mapping[str, Any]) -> Sections:
    """Sections of an image model validated on held-out patients."""
    test = manifest["validation"]["test"]
    split = validation.get("split", {})
    parts = [f"{k} {s['images']} / {s['groups']}" for k, s in split.items()]
    parts.append(f"test {test['n_images']} / {test['n_patients']}")
    default = next(
        op
        for op in manifest["operating_points"]
        if op["name"] == manifest["default_operating_point"]
    )
    c = test["confusion"]
    pos = manifest["outputs"]["positive_label"]
    neg = next(label for label in manifest["outputs"]["labels"] if label != pos)
    subtypes = [
        [name, s["n"], f"sensitivity {estimate_text(s['sensitivity'])}"]
        if "sensitivity" in s
        else [name, s["n"], f"specificity {estimate_text(s['specificity'])}"]
        for name, s in test["subtypes"].items()
    ]
    calibration = manifest["outputs"]["calibration"]
    return Sections(
        caution="It flags; a clinician reads the image.",
        data=f"Split (images / patient groups): {', '.join(parts)}.",
        validation=paragraphs(
            "Held-out test results (patients never seen in training or tuning):",
            metrics_table(manifest["metrics"]),
            f"Accuracy, sensitivity and specificity are at the default operating point "
            f"“{default['name']}” (threshold {default['threshold']:.3f} on the calibrated "
            "probability).",
            "Confusion matrix (test):",
            table(
                ["", f"predicted {pos}", f"predicted {neg}"],
                [[pos, c["tp"], c["fn"]], [neg, c["fp"], c["tn"]]],
            ),
            "By subtype (test):",
            table(["subtype", "n", "rate (95 % CI)"], subtypes),
            domain_section(manifest),
        ),
        operating_points=paragraphs(
            operating_points_table(manifest),
            f"Thresholds were chosen on the tuning patients; sensitivity and specificity are "
            f"on the held-out test patients. The default is **{default['name']}**.",
        ),
        calibration=paragraphs(
            f"Temperature scaling fitted on the {calibration['fitted_on']} "
            f"(T = {calibration['temperature']:.3f}). Reliability on the test patients:",
            reliability_table(test["reliability"]),
        ),
    )


# --------------------------------------------------------------------------- the card


#: The section writer of each input type.
SECTIONS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Sections]] = {
    "record": record_sections,
    "image": image_sections,
    "signal": signal_sections,
}


def render_card(manifest: Mapping[str, Any], validation: Mapping[str, Any]) -> str:
    """The model card (Markdown) of a bundle, from its manifest and validation record."""
    if manifest.get("task") == "rhythm-classification":
        from engine.train.rhythm_card import rhythm_card

        return rhythm_card(manifest, validation)
    s = SECTIONS[manifest["inputs"]["type"]](manifest, validation)
    method = manifest.get("explanation", {}).get("method", "")
    described = EXPLANATIONS.get(method, "")
    layer = manifest.get("explanation", {}).get("target_layer")
    if method == "gradcam" and layer:
        described = described.replace("the last residual stage", f"the network's `{layer}` stage")
    explanation = paragraphs(" ".join(t for t in (described, s.explanation) if t))
    text = TEMPLATE.substitute(
        name=manifest["name"],
        id=manifest["id"],
        version=manifest["version"],
        architecture=validation.get("model", {}).get("architecture", manifest["kind"]),
        intended_use=manifest["intended_use"],
        intended_users=manifest["intended_users"],
        caution=s.caution,
        contraindications="; ".join(manifest["contraindications"]),
        data=_data(manifest, s.data),
        model_section=_section("Model", s.model),
        validation=paragraphs(manifest["validation"]["design"], s.validation),
        operating_points=s.operating_points,
        calibration_section=_section("Calibration", s.calibration),
        experiments_section=_section("Design experiments", experiments_text(validation)),
        limitations="\n".join(f"- {x}" for x in manifest["limitations"]),
        explanation_section=_section("Explanation", explanation),
        training_section=_section("Training", _training(manifest, validation)),
        runtime_section=_section("Runtime", _runtime(manifest)),
        reproduce=_reproduce(manifest),
    )
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text)


# --------------------------------------------------------------------------- bundles


def validation_bytes(validation: Mapping[str, Any]) -> bytes:
    """``validation.json`` as every bundle stores it."""
    text = json.dumps(validation, indent=1, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def read_validation(folder: str | Path) -> dict[str, Any]:
    """A bundle's validation record (``{}`` when it has none)."""
    path = Path(folder) / VALIDATION_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_model_bundle(
    out_dir: str | Path,
    manifest: Mapping[str, Any],
    validation: Mapping[str, Any],
    *,
    net: nn.Module | None = None,
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a trained bundle with its validation record and the card rendered from both."""
    from engine.models.authoring import write_bundle
    from engine.train.model_texts import with_translations

    path = write_bundle(
        out_dir,
        with_translations(manifest),
        net=net,
        card=render_card(manifest, validation),
        files={**(files or {}), VALIDATION_NAME: validation_bytes(validation)},
    )
    if net is not None and manifest.get("kind") in ("torch-cnn", "torch-lstm"):
        from engine.train.onnx_export import add_onnx

        add_onnx(path)  # the inference graph ONNX Runtime runs, checked against torch
        refresh_bundle(path)  # the card states it
    return path


def refresh_bundle(folder: str | Path) -> Path:
    """Rewrite an existing bundle's card (and its validation record, normalised) from its data.

    The weights are not touched: the bundle is verified first, the two files
    are replaced and the manifest's hashes rewritten as the bundle writer
    does (:func:`engine.models.authoring.update_bundle`).
    """
    from engine.models.authoring import update_bundle
    from engine.train.model_texts import with_translations

    path = Path(folder)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    validation = read_validation(path)
    return update_bundle(
        path,
        {
            str(manifest.get("card", "card.md")): render_card(manifest, validation).encode(),
            VALIDATION_NAME: validation_bytes(validation),
        },
        edit=with_translations,
    )


def carried_notebook(folder: str | Path) -> dict[str, Any]:
    """The design experiments recorded in an existing bundle's validation record.

    A retrained bundle carries its predecessor's lab notebook (the variants
    tried and their figures): they were measured once, by experiments that
    are not part of the training command.
    """
    record = read_validation(folder)
    keys = ("experiments_design", "experiments", "experiments_discussion")
    return {k: record[k] for k in keys if k in record}
