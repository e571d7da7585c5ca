"""The rhythm model's card (Markdown), from its manifest and validation record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.train.card_parts import experiments_text, table
from engine.train.rhythm import CLASSES

_GROUPS = {"mitdb_ds1": "22 MIT-BIH DS1 records (MLII)", "svdb": "78 svdb records (ECG1)"}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def report_check_text(check: Mapping[str, Any]) -> str:
    """The card's section on the report's heart rate, pauses and brady/tachycardia against the
    annotators' beats (``engine.train.rhythm_report_check``); ``""`` without a check."""
    if not check:
        return ""
    groups = [g for g in _GROUPS if g in check]
    pauses = [check[g]["pauses"] for g in groups]
    cells = {
        "minutes compared": [f"{check[g]['minutes']:,}" for g in groups],
        "heart rate per minute, absolute difference: median / 95th percentile": [
            f"{check[g]['minute_abs_difference_median_bpm']:.1f} / "
            f"{check[g]['minute_abs_difference_p95_bpm']:.1f} bpm"
            for g in groups
        ],
        "minutes within 5 bpm": [_pct(check[g]["minutes_within_5_bpm"]) for g in groups],
        **{
            f"{kind}, duration-weighted Se / +P (reference time)": [
                f"{_pct(check[g][kind]['sensitivity'])} / "
                f"{_pct(check[g][kind]['positive_predictivity'])} "
                f"({check[g][kind]['reference_s']:,.0f} s)"
                for g in groups
            ]
            for kind in ("bradycardia", "tachycardia")
        },
        "pauses > 2 s: reference / reported": [
            f"{p['reference']} / {p['reported']}" for p in pauses
        ],
        "pauses, Se / +P by event": [
            f"{_pct(p['sensitivity'])} / {_pct(p['positive_predictivity'])}" for p in pauses
        ],
        "possible pauses listed apart (matching a reference pause)": [
            f"{p['possible']} ({p['possible_matching_a_reference_pause']})" for p in pauses
        ],
    }
    rows = table(["", *(_GROUPS[g] for g in groups)], [[k, *v] for k, v in cells.items()])
    return f"""
### The report's heart rate and pauses against the annotators' beats

Each record run by the application's own runtime, its report compared with the same
arithmetic on the record's reference beat annotations (what differs is the QRS detection).
svdb's rhythm annotations are not in the data here, so it checks everything but AF.

{rows}

Before the pauses were checked on the recording's other leads, 11 of the 32 pauses reported
here were false, up to 11 s long: the rhythm lead had lost its amplitude or was noisy while the
other lead kept the beats. The check lists 7 of them apart as possible pauses (all 3 over 5 s
among them) and no true pause; 4 false ones of 2.1–4.7 s remain. It was designed after looking
at those pauses, on these records: the pause figures are in-sample
(docs/experiments/rhythm-af-plan.md). The four reference pauses not reported are 207's
ventricular flutter, where the annotators mark no beats and the detector reads the flutter
waves as beats. A single-lead recording has no other lead to check a pause on.
"""


def rhythm_card(m: Mapping[str, Any], v: Mapping[str, Any]) -> str:
    """The rhythm model's card (Markdown) from its manifest and validation record."""
    cv, conf, long = v["cross_validation"], v["confusion"], v["long_records"]
    af = cv["af_vs_rest"]
    rows = "\n".join(
        f"| {c} | {cv[c]['n']:,} | {cv[c]['predicted']:,} | {cv[c]['f1']:.3f} |" for c in CLASSES
    )
    conf_rows = "\n".join(
        f"| {c} | " + " | ".join(f"{x:,}" for x in conf[i]) + " |" for i, c in enumerate(CLASSES)
    )
    long_rows = "\n".join(
        f"| {name} | {r['reference_af_s']:.0f} | {r['detected_af_s']:.0f} | {r['overlap_s']:.0f} "
        f"| {r['reference_episodes']} | {r['episodes']} |"
        for name, r in long["records"].items()
    )
    notebook = experiments_text(v)
    designs = f"\n### Designs compared on the same folds\n\n{notebook}\n" if notebook else ""
    checked = report_check_text(v.get("report_check") or {})
    lims = "\n".join(f"- {x}" for x in m["limitations"])
    contra = "\n".join(f"- {x}" for x in m["contraindications"])
    mt = m["metrics"]
    return f"""# {m["name"]}

`{m["id"]}` version {m["version"]} · task: rhythm classification · runs on the CPU

**Intended use.** {m["intended_use"]}

**Intended users.** {m["intended_users"]}

This result supports, and does not replace, the judgement of a qualified clinician.

**Do not use for:**
{contra}

## What it reads and says

One lead (the first present of {", ".join(m["preprocessing"]["lead_preference"])}) at any rate
of 125 Hz or more, at least 9 s. The engine detects the QRS complexes itself and computes
{len(m["preprocessing"]["features"])} features. Named rhythm features: RR irregularity
(variability, successive differences, Poincaré plot, sample entropy), premature-beat
patterns, atrial activity (P-wave consistency, 4–10 Hz fibrillatory energy between beats), QRS
consistency and signal quality. Generic descriptors: the median beat's shape (P wave, QRS,
ST-T in 20-ms steps), beat-to-beat variation before the QRS and of the T wave, the share of
the ECG's power in six frequency bands, the spread of RR intervals and of their changes, and
the variation of R-peak amplitudes. A gradient-boosting classifier turns them into
probabilities of **normal**, **AF**, **other** and **noisy**.

- Recordings up to {m["preprocessing"]["short_max_s"]:.0f} s are classified whole.
- Longer recordings are classified in 30-s windows every 10 s, read 10 minutes at a time;
  AF windows become **AF episodes** (onset, offset; shorter than 30 s dropped, gaps under 30 s
  joined) and the **AF burden** is their share of the recording. The report adds the heart-rate
  trend (per minute, minimum and maximum with their times), pauses over 2 s (each checked on
  the recording's other leads: one that another lead fills with beats is listed apart as a
  possible pause, and counts in neither the pauses nor the heart rate), brady- and
  tachycardia, and — from the beat model
  `{m["companions"]["ectopy"]}` — ventricular and supraventricular ectopic counts, burden, couplets, runs, bigeminy and trigeminy.
- **Operating point `af-f1`:** AF when P(AF) ≥ {m["operating_points"][0]["threshold"]:.2f},
  else the most probable class.
- **Explanation:** the features that moved P(AF) most (each set in turn to the training
  median), and P(AF) of every window along the recording.

## Validation

{v["design"]}

| class | recordings | decided | F1 |
|---|---|---|---|
{rows}

Challenge score (mean F1 of normal, AF, other): **{cv["challenge_f1"]:.3f}**.
AF against everything else: F1 **{af["f1"]:.3f}** (95 % CI {mt["af_f1"]["ci95"][0]:.3f}–{mt["af_f1"]["ci95"][1]:.3f}),
sensitivity {af["sensitivity"]:.3f}, positive predictivity {af["positive_predictivity"]:.3f},
specificity {af["specificity"]:.3f}. Fold thresholds for AF: {min(v["fold_thresholds"]):.2f}–{max(v["fold_thresholds"]):.2f}.

Confusion (rows: reference; columns: decided, in the order {", ".join(CLASSES)}):

| reference | {" | ".join(CLASSES)} |
|---|---|---|---|---|
{conf_rows}

### Long recordings, another source (MIT-BIH Arrhythmia 201 and 203, never used to fit or choose)

The shipped bundle, run by the application's own runtime on the MLII lead (360 Hz):

| record | reference AF (s) | detected AF (s) | overlap (s) | reference episodes | detected episodes |
|---|---|---|---|---|---|
{long_rows}

Duration-weighted (EC57) AF sensitivity **{long["sensitivity"]:.3f}**, positive predictivity
**{long["positive_predictivity"]:.3f}**. Two records of two patients: a check that the windows
work, not an estimate for a population.
{checked}{designs}
## Limitations

{lims}

## Training data

{m["training_data"]["name"]}. {m["training_data"]["citation"]} Licence {m["training_data"]["licence"]}.

Rebuild: `{m["training_command"]}` ({v["seconds"]:.0f} s on this machine's 2 CPU cores,
features cached).

## Check on local data, and a site's own AF threshold

`stethos-engine evaluate --model {m["id"]} FOLDER`, where FOLDER holds a `REFERENCE.csv` of
`record,rhythm` lines (a class name, or a Challenge 2017 code N, A, O, ~: the Challenge's own
files work as they come) or one sub-folder of WFDB records per rhythm
({", ".join(f"{c}/" for c in CLASSES)}). Each recording is run as the app runs it; the report
gives AF against everything else (AUROC of P(AF); sensitivity, specificity and positive
predictivity of the model's own AF calls, with 95 % CIs), the F1 of every rhythm and the
confusion matrix.

With `--save-site-calibration` the clinic's recalibration of P(AF) and its own AF threshold
are fitted on those recordings (at least 20 with AF and 20 without) by the rule of `af-f1`:
the best F1 of AF on the local recordings. It serves this version and these weights only;
the other rhythms keep their proportions, and every result made with it names it.
"""
