"""Model-card parts about the inputs a model meets: what it needs and what it refuses.

Record models: the coverage rule, the per-pattern table and the prevalence
shift, from the manifest's ``validation.missingness`` and the validation
record's ``masked_patterns`` and ``prevalence_shift``. Image models: the
out-of-domain checks, the age gate and where the Grad-CAM looks
(:func:`domain_section`, from ``validation.domain``). A bundle without those
blocks gets none of these parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.train.card_parts import paragraphs, table


def coverage_text(manifest: Mapping[str, Any]) -> str:
    """The coverage rule: which inputs a record needs to be scored."""
    block = manifest.get("validation", {}).get("missingness")
    if not block:
        return ""
    labels = {f["name"]: f["label"] for f in manifest["inputs"]["fields"]}
    required = ", ".join(labels.get(n, n) for n in block["required"])
    return (
        f"**Coverage rule:** every record with {required} gets a result; every other input may "
        "be “not recorded”. A value outside its physiological range is refused with a message. "
        "In UCI files a cholesterol or resting blood pressure of 0 is read as not measured."
    )


def missingness_section(manifest: Mapping[str, Any], validation: Mapping[str, Any]) -> str:
    """The table of validated performance by declared missingness pattern."""
    rows = validation.get("masked_patterns") or []
    block = manifest.get("validation", {}).get("missingness")
    if not rows or not block:
        return ""
    m = manifest["metrics"]
    body = table(
        ["missing inputs", "fields not recorded", "AUROC (95 % CI)", "sensitivity",
         "specificity"],
        [
            [r["name"], ", ".join(r["missing"]) or "—",
             f"{r['auroc'][0]:.3f} ({r['auroc'][1]:.3f}–{r['auroc'][2]:.3f})",
             f"{r['sensitivity']:.1%}", f"{r['specificity']:.1%}"]
            for r in rows
        ],
    )  # fmt: skip
    summary = ""
    if "masked_auroc" in m and "masked_ece" in m:
        summary = (
            f"Over these eight patterns: mean AUROC {m['masked_auroc']['value']:.3f}, ECE "
            f"{m['masked_ece']['value']:.3f} (chance level {m['masked_ece']['chance_95']:.3f})."
        )
    return paragraphs(
        "### By missing inputs (masked cross-validation)",
        block["design"],
        body,
        summary,
        f"Sensitivity and specificity are at the default operating point "
        f"(“{manifest['default_operating_point']}”). All 256 combinations of missing units are "
        "stored in the bundle, and every result shows the row for its own combination.",
    )


def prevalence_section(validation: Mapping[str, Any]) -> str:
    """Calibration as trained and after a simulated change of prevalence."""
    rows = validation.get("prevalence_shift") or []
    if not rows:
        return ""

    def cell(v: float | None) -> str:
        return "—" if v is None else f"{v:.3f}"

    body = table(
        ["prevalence", "mean predicted risk", "ECE as trained", "ECE after intercept",
         "ECE after intercept + slope"],
        [
            [f"{r['prevalence']:.0%}" + (" (Cleveland)" if r["as_trained"] else ""),
             f"{r['mean_predicted']:.3f}", cell(r["ece"]), cell(r["ece_intercept"]),
             cell(r["ece_intercept_slope"])]
            for r in rows
        ],
    )  # fmt: skip
    return paragraphs(
        "### When the prevalence differs (simulated)",
        "Out-of-fold predictions over the declared missingness patterns, resampled by patient "
        "to a higher prevalence (other hospitals' referral populations had 75–94 %). A "
        "recalibration is fitted on one resample and measured on an independent one; the "
        "numbers are means over the resamples. The intercept is what a site calibration "
        "(`stethos-engine evaluate --save-site-calibration`) corrects first.",
        body,
    )


def domain_section(manifest: Mapping[str, Any]) -> str:
    """An image model's out-of-domain checks, age gate and where its Grad-CAM looks."""
    domain = manifest.get("validation", {}).get("domain")
    if not domain:
        return ""
    ood = domain["out_of_domain"]
    rows = [
        [c["set"], c["n"], c["flagged"], f"{c['flagged'] / c['n']:.1%}",
         c.get("by_appearance", "—"), c.get("by_adult_likeness", "—")]
        for c in ood["checks"]
        if c["n"]
    ]  # fmt: skip
    age = manifest.get("gates", {}).get("age_years")
    age_text = (
        f"**Age gate:** DICOM images of patients younger than {age['min']:g} or older than "
        f"{age['max']:g} years (PatientAge, else birth and study dates) are refused; an "
        "image that does not record the age is scored with a warning. " + age.get("message", "")
        if age
        else ""
    )
    body = domain.get("gradcam_inside_body")
    body_text = _body_text(body, manifest.get("preprocessing", {}).get("resize") == "body-crop")
    before = domain.get("gradcam_inside_body_layer4")
    if body and before and body.get("layer") != "layer4":
        body_text += (
            f" The map is taken at `{body.get('layer')}` (a 14 × 14 map; chosen on the tuning "
            f"patients, plan's fifth change); at `layer4` (7 × 7), as before, {before['mean']:.1%} "
            f"lay inside (pneumonia {before.get('mean_pneumonia', float('nan')):.1%}, normal "
            f"{before.get('mean_normal', float('nan')):.1%})."
        )
    return paragraphs(
        "### Out of domain: what the model refuses or gives no result for",
        f"Score 1: {ood['score']} (threshold {ood['threshold']:.2f}). "
        + (
            f"Score 2: {ood['adult_score']} (threshold {ood['adult_threshold']:.2f}). "
            if "adult_score" in ood
            else ""
        )
        + f"Thresholds: {ood['threshold_rule']}. An out-of-domain image gets no label; the "
        "probability is kept for audit, and the app shows it only on request (audited).",
        table(
            ["check set", "images", "flagged", "share", "by appearance", "by adult-likeness"], rows
        ),
        "The adult CR samples record a patient age of 62 and are refused by the age gate "
        "before this check; the table shows the check alone. Not covered: lateral views and "
        "photographs (none in the data here); lateral DICOM views are refused by the view gate"
        + (
            ", and raw detector images (Presentation Intent Type FOR PROCESSING) by the "
            "presentation gate."
            if "presentation_intent" in manifest.get("gates", {})
            else "."
        ),
        _size_text(manifest.get("gates", {}).get("image_size")),
        ood.get("note", ""),
        _withheld_by_class(ood["checks"]),
        age_text,
        body_text,
    )


def _size_text(gate: Mapping[str, Any] | None) -> str:
    """The size gate's sentence (none without the gate)."""
    if not gate:
        return ""
    n = int(gate["min"])
    return (
        f"Images with fewer than {n} pixels on their shorter side (thumbnails, reduced copies) "
        f"are refused by the size gate: the model reads images reduced to {n} × {n}."
    )


def _withheld_by_class(checks: Sequence[Mapping[str, Any]]) -> str:
    """Which in-domain images the check withholds, by class (rows with ``of`` and ``class``)."""
    sets: dict[str, dict[str, Mapping[str, Any]]] = {}
    for c in checks:
        if "of" in c and c["n"]:
            sets.setdefault(str(c["of"]), {})[str(c["class"])] = c
    parts = [
        f"{name}: "
        + ", ".join(
            f"{c['flagged'] / c['n']:.1%} of the {c['n']} {cls}" for cls, c in by_class.items()
        )
        for name, by_class in sets.items()
    ]
    if not parts:
        return ""
    return (
        "**Which in-domain images get no result:** " + "; ".join(parts) + ". A result withheld "
        "as out of domain says nothing about whether the image is normal: the image is read "
        "without the model."
    )


def _body_text(body: Mapping[str, Any] | None, cropped: bool) -> str:
    """The card's "where it looks" paragraph."""
    if not body:
        return ""
    by_class = (
        f" By class: {body['mean_pneumonia']:.1%} on the {body['n_pneumonia']} images with "
        f"pneumonia (where the map is the evidence for the flag), {body['mean_normal']:.1%} on "
        f"the {body['n_normal']} normal images."
        if "mean_pneumonia" in body and "mean_normal" in body
        else ""
    )
    if body["mean"] >= 0.9:
        verdict = "; it is met."
    elif cropped:
        verdict = (
            "; it is **not met**. The network sees the image cropped to the body outline with "
            "the air outside blacked out, so nothing outside the outline can drive the score: "
            "the mass there is the coarse map (7 × 7 cells over the image) spilling over the "
            "outline, more so on normal images, whose pneumonia map is weak and diffuse."
        )
    else:
        verdict = (
            "; it is **not met**: part of what drives the score lies outside the body "
            "(borders, background, markers), which is a reason for the out-of-domain check "
            "and for reading the heat map with care."
        )
    return (
        f"**Where it looks:** on the {body['n']} held-out test images, on average "
        f"{body['mean']:.1%} of the Grad-CAM mass (median {body['median']:.1%}) lies inside the "
        f"body outline (Otsu threshold, largest component, holes filled); "
        f"{body['share_of_images_at_least_90']:.1%} of the images have at least 90 % inside. "
        "The design target is ≥ 90 % on average" + verdict + by_class
    )
