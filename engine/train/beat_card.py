"""The beat model's card sections: per-class figures, the post-processing, the S trade-off.

Filled from the manifest (per-class, subgroup and per-record figures, the
fitted post-processing, the S operating points) and the validation record
(detection counts, how the post-processing was fitted, notes); the rest of
the card is :mod:`engine.train.card`'s template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.models.beat_split import step as declared_step
from engine.train.beat_scores import false_labels, worst_record
from engine.train.card_parts import Sections, paragraphs, percent_text, table

PER_CLASS_CAPTION = (
    "Leave-records-out results on {0} (Se / +P in %, 95 % CI from a 2000-sample record "
    "bootstrap). +P follows EC57's gross statistics as its comparator (bxb) counts them: "
    "fusion (F) and unclassifiable (Q) beats labelled V do not count against V +P, Q beats "
    "labelled S not against S +P. The last column counts them too (every detection with "
    "that label outside flutter episodes)."
)


def record_v_lines(per_record: Mapping[str, Any]) -> list[str]:
    """The limitations on records 203, 223 and 230, with this run's counts (a record the
    run did not validate on gets the sentence without its count)."""
    false = false_labels(per_record, "V")
    total = sum(false.values())

    def share(name: str) -> str:
        return (
            f" (in validation, record {name} gave {false[name]} of the {total} false V labels)"
            if name in false
            else ""
        )

    missed = ""
    if "223" in per_record:
        tp, ref = per_record["223"]["V"][:2]
        missed = f" (in validation, {ref - tp} of record 223's {ref} V beats were not labelled V)"
    return [
        "Noisy recordings with atrial fibrillation/flutter and multiform ectopy give false V "
        "labels: early, aberrant-looking normal beats in an irregular rhythm are often labelled "
        f"V{share('203')}. The V veto removes those whose QRS matches the record's dominant "
        "beat, not those whose QRS noise or aberration changes.",
        "A V beat whose QRS in this lead looks like the patient's dominant beat (only its ST–T "
        "differs) is labelled N: the network misses many such beats, and the V veto withdraws V "
        "from the rest unless they came early and were followed by a full compensatory pause "
        f"in a regular rhythm{missed}. On a recording where nearly every beat is called V "
        "there is no "
        "dominant beat to compare with, and the veto does nothing.",
        "Pre-excited beats (Wolff–Parkinson–White) are wide and the network labels many of them "
        "V; the conducted-beat veto withdraws V from those that come on time after the "
        "patient's P wave, not from pre-excited beats that come early or whose P wave is "
        f"hidden by noise{share('230')}. For the same reason a late-coupled V beat that "
        "falls after a sinus P wave (end-diastolic) can lose its V label.",
    ]


def _worst_lines(per_record: Mapping[str, Any]) -> str:
    """Sentences on the record that gave most false V and most false S labels."""
    lines = []
    for label in ("V", "S"):
        w = worst_record(per_record, label)
        if not w or not w["false"]:
            continue
        without = " / ".join(
            "—" if v is None else f"{100 * v:.1f}"
            for v in (w["sensitivity_without"], w["ppv_without"])
        )
        lines.append(
            f"Record {w['record']} gave {w['false']} of the {w['false_total']} false {label} "
            f"labels; without it, {label} Se / +P would be {without} %."
        )
    return " ".join(lines)


def _gate_sentence(
    gate: Mapping[str, Any] | None, fitting: Mapping[str, Any], how: str = "leave-one-record-out"
) -> str:
    """The sentence on the split's gate (empty without one); ``how`` it was chosen."""
    if not gate:
        return ""
    tried = ", ".join("none" if g is None else f"{g:g}" for g in fitting["split_gates"])
    return (
        f"Where the RR pattern irregularity ({gate['feature']}: the median over the 101 "
        "centred beats of each interval's change from the nearest of the three before it, "
        f"over the median interval) lies above {gate['above']:g}, as in atrial fibrillation, no "
        "beat is labelled S: beats in fibrillation are N by the AAMI convention, and an early "
        "beat there is not a premature one. The bound is the highest whose S F1 in that "
        f"{how} lies within {100 * fitting['split_gate_slack']:g} points of the "
        f"best (tried: {tried}); in the training records its median was 0.08–0.11 in "
        "fibrillation and 0.02–0.05 in sinus rhythm with frequent ventricular ectopy. "
    )


def _veto_sentence(veto: Mapping[str, Any] | None, fitting: Mapping[str, Any]) -> str:
    """The sentence on the V veto (empty without one)."""
    if not veto:
        return ""
    lo, hi = (round(1000 * t) for t in veto["window_s"])
    return (
        f"A beat the network calls V loses that label (its other classes renormalised) when "
        f"its QRS ({lo:+d} to {hi:+d} ms around the R peak) correlates with the median of the "
        f"record's beats not called V at {veto['min_correlation']:.3f} or above: a V beat is "
        "conducted abnormally, so its QRS differs from the patient's dominant beat. The bound "
        f"is the correlation that all but {100 * fitting['veto_v_share']:g} % of the training "
        "records' reference V beats stay below (against the median of their record's other "
        f"beats), and at least {fitting['veto_floor']:g}. "
        f"With fewer than {veto['min_template_beats']} beats not called V nothing is withdrawn. "
        + _spare_sentence(veto.get("spare_compensated"))
    )


def _spare_sentence(spare: Mapping[str, Any] | None) -> str:
    """The sentence on the beats the V veto spares (empty without any)."""
    if not spare:
        return ""
    rhythm = (
        f" while the RR pattern irregularity is at most {spare['max_irregularity']:g} (the N/S "
        "split's gate, below: in fibrillation there is no cycle to compensate)"
        if "max_irregularity" in spare
        else ""
    )
    return (
        f"The veto spares a beat that came early (its interval under "
        f"{100 * spare['pre_below']:g} % of the patient's rhythm, the median of the 101 centred "
        "intervals) and was followed by a full compensatory pause (its two intervals add up to "
        f"two of the patient's cycles within {100 * spare['pause_within']:g} %){rhythm}: the "
        "timing of a V beat, which does not reset the sinus node, where an S beat usually does. "
        "In leave-one-record-out validation of 3.5.0, which spared none, the veto took V from "
        "premature V beats of record 223, whose QRS in MLII is close to the dominant beat's. "
    )


def _conducted_sentence(veto: Mapping[str, Any] | None, fitting: Mapping[str, Any]) -> str:
    """The sentence on the conducted-beat veto (empty without one)."""
    if not veto:
        return ""
    lo, hi = (round(1000 * t) for t in veto["p_window_s"])
    return (
        f"A beat still called V then loses {' and '.join(veto.get('withdraw', ['V']))} (the "
        "rest renormalised: a beat conducted from the atria is N or S) when it came on time, "
        "both its "
        f"intervals within {100 * veto['max_rr_deviation']:g} % of the patient's rhythm (the "
        "median of the 101 centred intervals), and the stretch before its QRS "
        f"({lo:+d} to {hi:+d} ms: the P wave) correlates with the same stretch of the median of "
        f"the record's beats not called V at {veto['min_p_correlation']:.3f} or above: such a "
        "beat was conducted from the atria, however wide its QRS (aberrant conduction, "
        "pre-excitation), and a V beat is not. The bound is the lowest at which at most "
        f"{100 * fitting['conducted_v_share']:g} % of the training records' reference V beats "
        f"would lose the label, and at least {fitting['conducted_floor']:g}. "
    )


def _split_sentence(split: Mapping[str, Any] | None, fitting: Mapping[str, Any]) -> str:
    """How the network's P(N) + P(S) is shared (or that it is not)."""
    if not split:
        return ""
    if split.get("method") == "rr-boosted-split":
        beats = sorted({int(i.get("beat", 0)) for i in split["inputs"]})
        return (
            "The network's P(N) + P(S) is then shared between N and S by gradient-boosted trees "
            f"on the timing of the beat and of its neighbours (beats {beats[0]:+d} to "
            f"{beats[-1]:+d}; {len(split['inputs'])} inputs: the RR features "
            f"{', '.join(dict.fromkeys(i['feature'] for i in split['inputs']))}), shifted so "
            f"that S outranks N when the trees' probability reaches {split['threshold']} (chosen "
            f"for the best S F1 by {fitting.get('boosted_inner_folds', 5)} inner record folds "
            "of the training records): a premature beat's pause, a run or a bigeminal pattern "
            "shows in the beats around it. "
            + _gate_sentence(split.get("gate"), fitting, "those inner folds")
        )
    return (
        "The network's P(N) + P(S) is then shared between N and S by the logistic model on the "
        f"beat's RR intervals (log of: {', '.join(split['features'])}), shifted so that S "
        f"outranks N when that model's probability reaches {split['threshold']} (chosen by "
        "leave-one-record-out on the training records for the best S F1). "
        + _gate_sentence(split.get("gate"), fitting)
    )


def _sv_row(label: str, n: int, per_class: Mapping[str, Any]) -> list[Any]:
    """A table row: label, number of records, S and V sensitivity and +P."""
    return [label, n] + [
        percent_text(per_class[c][k])
        for c in "SV"
        for k in ("sensitivity", "positive_predictivity")
    ]


def _held_back_text(v: Mapping[str, Any]) -> str:
    """By database, and the held-back records against the cross-validation (the optimism)."""
    by_db = v.get("per_database") or {}
    held = v.get("held_back")
    if not by_db and not held:
        return ""
    rows = [_sv_row(f"{k} (cross-validated)", len(d["records"]), d["per_class"])
            for k, d in by_db.items()]  # fmt: skip
    rows.append(_sv_row("all design records (cross-validated)", sum(
        len(d["records"]) for d in by_db.values()), v["per_class"]))  # fmt: skip
    text = ""
    if held:
        rows.append(_sv_row("held-back svdb records", len(held["records"]), held["per_class"]))
        cv_s = v["per_class"]["S"]["sensitivity"]["value"]
        held_s = held["per_class"]["S"]["sensitivity"]["value"]
        cv_p = v["per_class"]["S"]["positive_predictivity"]["value"]
        held_p = held["per_class"]["S"]["positive_predictivity"]["value"]
        if None not in (cv_s, held_s, cv_p, held_p):
            text = (
                f"The held-back records ({', '.join(held['records'])}) took part in no design "
                "choice; the recipe fitted on the design records scored them once. Against the "
                f"cross-validated figures, S sensitivity moved by {100 * (held_s - cv_s):+.1f} "
                f"points and S +P by {100 * (held_p - cv_p):+.1f} points: the optimism (or "
                "pessimism) of the design's selection, as far as 16 records can show it."
            )
    return paragraphs(
        "By database, and on the held-back records (S and V Se / +P in %, EC57, with "
        "record-bootstrap CIs):",
        table(["records", "n", "S sensitivity", "S +P", "V sensitivity", "V +P"], rows),
        text,
    )


def _validation(manifest: Mapping[str, Any], validation: Mapping[str, Any]) -> str:
    v = manifest["validation"]
    per_class = table(
        ["class", "reference beats", "sensitivity", "positive predictivity (EC57)",
         "+P, every detection"],
        [
            [c, s["reference_beats"], percent_text(s["sensitivity"]),
             percent_text(s["positive_predictivity"]), percent_text(s["positive_predictivity_all"])]
            for c, s in v["per_class"].items()
        ],
    )  # fmt: skip
    subgroups = table(
        ["group", "records", "S sensitivity", "S +P", "V sensitivity", "V +P"],
        [_sv_row(label, len(g["records"]), g["per_class"]) for label, g in v["subgroups"].items()],
    )
    d = validation.get("detections")
    detections = (
        f"QRS detection on the same records found {d['detected']} beats; {d['no_reference']} "
        "detections had no reference beat within 150 ms (they count against +P); "
        f"{d['in_flutter']} fell inside the reference's ventricular flutter episodes, where no "
        "beats are annotated, and are left out, as EC57 does."
        if d
        else ""
    )
    return paragraphs(
        PER_CLASS_CAPTION.format("all design records" if v.get("per_database") else "DS1"),
        per_class,
        _held_back_text(v),
        "By subgroup (from the record headers, where they give age and sex; S and V Se / +P "
        "in %, EC57, with record-bootstrap CIs). Each group holds only a few patients, so "
        "these are rough:",
        subgroups,
        _worst_lines(v["per_record"]),
        *validation.get("notes", []),
        detections,
    )


def _operating_points(manifest: Mapping[str, Any], validation: Mapping[str, Any]) -> str:
    fitting = validation.get("fitting", {})
    points = manifest["validation"].get("s_operating_points") or []
    return paragraphs(
        "The network gives each beat five probabilities. "
        + _veto_sentence(declared_step(manifest, "qrs-template-veto"), fitting)
        + _conducted_sentence(declared_step(manifest, "conducted-beat-veto"), fitting)
        + _split_sentence(
            declared_step(manifest, "rr-logistic-split")
            or declared_step(manifest, "rr-boosted-split"),
            fitting,
        )
        + "Each beat gets the most probable class. A record is flagged when it holds at least "
        "one V beat.",
        "How S moves with the split's threshold, on the same held-out outputs (each fold's split "
        "and gate with that threshold instead of the one it chose; Se / +P in %, EC57, with "
        "record-bootstrap CIs). A lower threshold finds more S beats at the cost of many more "
        "normal beats labelled S; the shipped threshold is the one with the best S F1:"
        if points
        else "",
        table(
            ["threshold", "S sensitivity", "S +P"],
            [[e["threshold"], percent_text(e["sensitivity"]),
              percent_text(e["positive_predictivity"])] for e in points],
        ) if points else "",
    )  # fmt: skip


def signal_sections(manifest: Mapping[str, Any], validation: Mapping[str, Any]) -> Sections:
    """Sections of a beat-classification model validated leaving records out."""
    return Sections(
        caution="Every beat label is a suggestion to be checked on the trace.",
        validation=_validation(manifest, validation),
        operating_points=_operating_points(manifest, validation),
        explanation="For S beats most of the evidence is the timing (the RR intervals), which "
        "the trace attribution does not show: look at the intervals around the beat.",
    )


def amplitude_limitation(bounds: Mapping[str, float]) -> str:
    """The card's limitation on the record amplitude (the bundle's ``amplitude_range``)."""
    return (
        "The network reads beats in millivolts and learnt the QRS amplitudes of its training "
        f"records (gain varied by ±20 % in training). A record whose QRS amplitude lies outside "
        f"{bounds['min_mv']:.2f}–{bounds['max_mv']:.2f} mV is scaled to the nearer bound, with "
        "a warning. Within that range the labels still move with the gain: on the DS1 records "
        "at half their gain V F1 fell from 0.95 to 0.73, and at three times their gain the "
        "share of V labels that were right fell from 96 % to 79 % (measured for version 4.1.0, "
        "docs/experiments/beat-amplitude-range.md). A low-voltage patient's V beats may be "
        "missed and a high-voltage patient's normal beats called V; check the trace's "
        "calibration."
    )
