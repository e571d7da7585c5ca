"""The pneumonia CNN's domain: out-of-domain score, age gate, and where Grad-CAM looks.

Run by :func:`engine.train.cxr.train_cxr` on the trained network (design in
docs/experiments/cxr-generalisation-plan.md):

* **Out-of-domain score** — Mahalanobis distance of the pooled last-stage
  features to those of the training images (Ledoit–Wolf covariance),
  threshold at the 95th percentile of the tuning patients. Checked on the
  held-out test patients (in domain), the adult radiographs of
  ``cxr/adult-ood`` in two patient-grouped halves, the adult CR samples, the
  CT/MR/US/XA images of the DICOM corpora and synthetic noise.
* **Age gate** — children aged 1 to 5 years (DICOM PatientAge or birth and
  study dates): refused outside, warned when not recorded.
* **Grad-CAM inside the body** — share of each test image's Grad-CAM mass
  inside the body outline (Otsu threshold, largest component, holes filled).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.resources import resource_path
from engine.train.cxr_cam import CAM_LAYER, gradcam_body_share
from engine.train.data import shared_data_dir

DOMAIN_FILE = "domain.safetensors"
#: Share of in-domain tuning images allowed above the threshold.
FLAG_RATE = 0.05
AGE_GATE = {
    "min": 1,
    "max": 6,
    "action": "refuse",
    "if_missing": "warn",
    "message": "The model was trained on children aged 1 to 5 years (up to their 6th birthday).",
}
#: Modalities of the DICOM corpora used as out-of-domain examples.
OTHER_MODALITIES = ("CT", "MR", "US", "XA", "NM", "PT", "MG", "OT")


@dataclass(frozen=True)
class DomainFit:
    """What the bundle gets: gates, the card's summary, the validation details, the file."""

    gates: dict[str, Any]
    summary: dict[str, Any]
    details: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def _forward(net: Any, arrays: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and logits of float32 network inputs ``(n, 3, s, s)``."""
    import torch

    from engine.models.domain import pooled_features

    net.eval()
    feats, logits = [], []
    with pooled_features(net, "avgpool") as seen, torch.inference_mode():
        for s in range(0, len(arrays), batch):
            logits.append(net(torch.from_numpy(arrays[s : s + batch])).float().numpy())
    feats = seen
    return np.concatenate(feats), np.concatenate(logits)


def _inputs_from_u8(pixels_u8: np.ndarray, mean: float, std: float) -> np.ndarray:
    x = (pixels_u8.astype(np.float32) / 255.0 - mean) / std
    return np.repeat(x[:, None], 3, axis=1)


def _files_as_inputs(paths: Sequence[Path], spec: Any) -> tuple[np.ndarray, list[str], list[str]]:
    """Network inputs of image files through the bundle's preprocessing; unreadable skipped."""
    from engine.errors import EngineError
    from engine.models.preprocess import image_to_array, load_image_input

    arrays, kept, skipped = [], [], []
    for p in paths:
        try:
            arrays.append(image_to_array(load_image_input(p, spec), spec))
            kept.append(p.name)
        except (EngineError, OSError, ValueError) as exc:
            skipped.append(f"{p.name}: {exc}")
    out = np.stack(arrays).astype(np.float32) if arrays else np.zeros((0, 3, 1, 1), np.float32)
    return out, kept, skipped


#: The adult set the shipped adult-likeness score is fitted on (half of its CC BY patients).
ADULT_FIT = "adult radiographs, CC BY, half A (fitted on)"


def _adult_sets(root: Path) -> dict[str, list[Path]]:
    """``cxr/adult-ood`` by licence and patient: a fitting half and two check sets.

    Only CC BY images (Hannover, CC BY 3.0; five CC BY 4.0 figures) may shape
    weights that ship in a product, so the adult-likeness score is fitted on
    half of their patients (sorted ids, alternating); the other half and
    every CC BY-NC-SA image (another source) are checks only.
    """
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_patient: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_patient[r["patient_id"]].append(r)
    sets: dict[str, list[Path]] = {
        ADULT_FIT: [],
        "adult radiographs, CC BY, half B": [],
        "adult radiographs, other source (CC BY-NC-SA, check only)": [],
    }
    open_ids = sorted(
        pid for pid, rs in by_patient.items() if all("NC" not in r["license"] for r in rs)
    )
    for pid, rs in sorted(by_patient.items()):
        if pid in open_ids:
            name = ADULT_FIT if open_ids.index(pid) % 2 == 0 else "adult radiographs, CC BY, half B"
        else:
            name = "adult radiographs, other source (CC BY-NC-SA, check only)"
        sets[name] += [root / r["path"] for r in rs]
    return sets


def _other_modalities(folders: Sequence[Path], limit: int = 40) -> list[Path]:
    """Readable single images of other modalities in the DICOM corpora (up to ``limit``)."""
    import pydicom

    out = []
    for folder in folders:
        for p in sorted(folder.rglob("*.dcm")):
            try:
                ds = pydicom.dcmread(p, stop_before_pixels=True)
            except Exception:
                continue
            if str(getattr(ds, "Modality", "")).upper() in OTHER_MODALITIES:
                out.append(p)
            if len(out) >= limit:
                return out
    return out


def _noise(size: int, n: int, seed: int, mean: float, std: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    imgs = [
        rng.integers(0, 256, (size, size)),  # uniform noise
        np.clip(rng.normal(128, 40, (size, size)), 0, 255),  # Gaussian noise
        np.full((size, size), 128),  # flat grey
        np.tile(np.kron([[0, 255], [255, 0]], np.ones((16, 16))), (size // 32 + 1,) * 2)[
            :size, :size
        ],  # checkerboard
        np.clip(rng.normal(0, 1, (size, size)).cumsum(0).cumsum(1), -3e3, 3e3),  # smooth field
    ]
    out = []
    for k in range(n):
        a = np.asarray(imgs[k % len(imgs)], dtype=np.float64)
        a = (a - a.min()) / max(float(np.ptp(a)), 1e-9) * 255.0
        out.append(a)
    return _inputs_from_u8(np.stack(out).astype(np.uint8), mean, std)


def fit_adult_score(
    pediatric: np.ndarray, adult: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Logistic regression (standardised features, C = 0.1, balanced) of adult vs pediatric.

    Returns ``(center, weights, intercept)``: the log-odds of "adult" are
    ``(f − center) · weights + intercept`` (:meth:`DomainScorer.adult_score`).
    """
    from sklearn.linear_model import LogisticRegression

    X = np.concatenate([pediatric, adult]).astype(np.float64)
    y = np.r_[np.zeros(len(pediatric)), np.ones(len(adult))]
    center, scale = X.mean(axis=0), X.std(axis=0) + 1e-6
    lr = LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000)
    lr.fit((X - center) / scale, y)
    return center, lr.coef_[0] / scale, float(lr.intercept_[0])


def joint_thresholds(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Thresholds at one common quantile of each score, the lowest at which the union of
    the two flags at most :data:`FLAG_RATE` of the in-domain tuning images."""
    q = 1 - FLAG_RATE
    while True:
        ta, tb = float(np.quantile(a, q)), float(np.quantile(b, q))
        if np.mean((a > ta) | (b > tb)) <= FLAG_RATE or q >= 1.0:
            return ta, tb
        q = min(1.0, q + 0.0025)


def body_share_summary(shares: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Mean, median and share ≥ 90 % of the Grad-CAM mass inside the body, overall and by class."""
    out: dict[str, Any] = {
        "mean": round(float(shares.mean()), 4),
        "median": round(float(np.median(shares)), 4),
        "share_of_images_at_least_90": round(float((shares >= 0.9).mean()), 4),
        "n": len(shares),
    }
    for value, name in ((1, "pneumonia"), (0, "normal")):
        part = shares[labels == value]
        if part.size:
            out[f"mean_{name}"] = round(float(part.mean()), 4)
            out[f"n_{name}"] = int(part.size)
    return out


@dataclass
class DomainFeatures:
    """Pooled features of every set the out-of-domain fit and its checks use."""

    train: np.ndarray
    tune: np.ndarray
    adult_fit: np.ndarray
    sets: dict[str, np.ndarray]
    covered: dict[str, list[str]]
    #: Features of ``augment`` acquisition-like variants of each fitting image (plan, sixth change).
    train_augmented: np.ndarray | None = None
    adult_fit_augmented: np.ndarray | None = None
    #: Labels (1 pneumonia, 0 normal) of the pediatric sets, by set name: their checks are
    #: also reported by class (which in-domain images the check withholds).
    labels: dict[str, np.ndarray] = field(default_factory=dict)


def pediatric_labels(
    items: Sequence[Any], split: Mapping[str, Sequence[int]]
) -> dict[str, np.ndarray]:
    """Labels of the tuning and test patients' images, keyed like :class:`DomainFeatures`' sets."""
    return {name: np.array([items[int(i)].label for i in split[key]], dtype=np.int64)
            for name, key in ((TUNE_SET, "tune"), (PED_TEST, "test"))}  # fmt: skip


def _squashed_u8(inp: Any, size: int) -> np.ndarray:
    """An image squashed to ``size`` as uint8, before the body-crop (the bundle's own code)."""
    from engine.models.preprocess import ImageSpec, prepare_image

    spec = ImageSpec(size=size, channels=1, mean=(0.0,), std=(1.0,), resize="squash")
    return np.rint(prepare_image(inp, spec)[0][0] * 255.0).astype(np.uint8)


def _augmented_features(
    net: Any,
    load: Any,
    n: int,
    k: int,
    rng: np.random.Generator,
    preprocessing: Mapping[str, Any],
    *,
    chunk: int = 64,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Features of ``k`` acquisition-like variants of each of ``n`` squashed images ``load(i)``.

    Each variant goes through the bundle's body-crop and normalisation, as at inference.
    """
    from engine.models.body import body_crop
    from engine.train.cxr_augment import acquisition_jitter_u8

    mean, std = float(preprocessing["mean"][0]), float(preprocessing["std"][0])
    out = []
    for s in range(0, n, chunk):
        check_cancelled(cancel)
        batch = []
        for i in range(s, min(n, s + chunk)):
            square = load(i)
            for _ in range(k):
                batch.append(body_crop(acquisition_jitter_u8(square, rng))[0])
        out.append(_forward(net, _inputs_from_u8(np.stack(batch), mean, std))[0])
    return np.concatenate(out) if out else np.zeros((0, 512), np.float32)


def domain_features(
    net: Any,
    items: Sequence[Any],
    pixels: np.ndarray,
    split: dict[str, list[int]],
    *,
    preprocessing: Mapping[str, Any],
    seed: int = 0,
    augment: int = 0,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> DomainFeatures:
    """Features of the training, tuning and fitting images and of every check set."""
    from engine.models.preprocess import ImageSpec, load_image_input, read_picture

    MEAN, STD = float(preprocessing["mean"][0]), float(preprocessing["std"][0])
    net = net.cpu().eval()
    size = pixels.shape[-1]
    tr, tu, te = (np.asarray(split[k]) for k in ("train", "tune", "test"))
    progress(0.0, "Out-of-domain score: training features")
    f_train, _ = _forward(net, _inputs_from_u8(pixels[tr], MEAN, STD))
    check_cancelled(cancel)
    progress(0.3, "Out-of-domain score: thresholds and checks")
    f_tune = _forward(net, _inputs_from_u8(pixels[tu], MEAN, STD))[0]
    spec = ImageSpec.from_manifest(preprocessing)
    data = shared_data_dir()
    adults = _adult_sets(data / "cxr" / "adult-ood")
    adult_paths = adults.pop(ADULT_FIT)
    adult_fit, covered_fit, _ = _files_as_inputs(adult_paths, spec)
    f_adult = _forward(net, adult_fit)[0]
    sets: dict[str, np.ndarray] = {
        PED_TEST: _inputs_from_u8(pixels[te], MEAN, STD),
    }
    covered: dict[str, list[str]] = {ADULT_FIT: covered_fit}
    for name, paths in adults.items():
        sets[name], covered[name], _ = _files_as_inputs(paths, spec)
    samples = resource_path("samples")
    sets["adult CR samples"], covered["adult CR samples"], _ = _files_as_inputs(
        sorted(samples.glob("chest-cr-*.dcm")), spec
    )
    other = _other_modalities([data / "dicom" / "pydicom-data", data / "dicom" / "pylibjpeg-data"])
    sets["CT/MR/US/XA/NM images"], covered["CT/MR/US/XA/NM images"], _ = _files_as_inputs(
        other, spec
    )
    sets["synthetic noise and patterns"] = _noise(size, 20, seed, MEAN, STD)
    features: dict[str, np.ndarray] = {}
    for name, arrays in sets.items():
        check_cancelled(cancel)
        if len(arrays):
            features[name] = _forward(net, arrays)[0]
    out = DomainFeatures(f_train, f_tune, f_adult, features, covered,
                         labels=pediatric_labels(items, split))  # fmt: skip
    if augment:
        progress(0.45, "Out-of-domain score: acquisition-augmented fitting images")
        rng = np.random.default_rng([seed, 6])
        kept = [p for p in adult_paths if p.name in set(covered_fit)]
        out.train_augmented = _augmented_features(
            net, lambda i: _squashed_u8(read_picture(items[int(tr[i])].path), size), len(tr),
            augment, rng, preprocessing, cancel=cancel,
        )  # fmt: skip
        out.adult_fit_augmented = _augmented_features(
            net, lambda i: _squashed_u8(load_image_input(kept[i], spec), size), len(kept),
            augment, rng, preprocessing, cancel=cancel,
        )  # fmt: skip
    return out


@dataclass(frozen=True)
class DomainScores:
    """The fitted out-of-domain scores, their thresholds, checks and per-image flags."""

    threshold: float
    adult_threshold: float
    checks: list[dict[str, Any]]
    flags: dict[str, np.ndarray]
    stats: bytes
    augment: int
    #: The combined rule's standardisation and threshold (plan, seventh change), or ``None``.
    combined: dict[str, float] | None = None


def combined_rule(appearance: np.ndarray, adult: np.ndarray) -> dict[str, float]:
    """The seventh change's rule from the tuning patients' two scores: each standardised by
    its mean and SD there, one threshold on their sum, the lowest at which at most
    :data:`FLAG_RATE` of them are above it."""
    rule = {"appearance_mean": float(appearance.mean()), "appearance_sd": float(appearance.std()),
            "adult_mean": float(adult.mean()), "adult_sd": float(adult.std())}  # fmt: skip
    s = np.sort(combined_statistic(rule, appearance, adult))
    allowed = int(np.floor(FLAG_RATE * len(s)))  # tuning images that may lie above it
    return {**rule, "threshold": float(s[len(s) - 1 - allowed])}


def combined_statistic(
    rule: Mapping[str, float], appearance: np.ndarray, adult: np.ndarray
) -> np.ndarray:
    """The sum of the two standardised scores."""
    return (appearance - rule["appearance_mean"]) / rule["appearance_sd"] + (
        adult - rule["adult_mean"]
    ) / rule["adult_sd"]


def score_domain(
    feats: DomainFeatures, *, augment: bool = False, combined: bool = False
) -> DomainScores:
    """Fit the Mahalanobis and adult-likeness scores, set the thresholds, run the checks.

    With ``augment`` the adult-likeness regression is fitted on the images and
    their acquisition-augmented variants (both classes alike; plan, sixth change).
    With ``combined`` an image is out of domain when the sum of the two scores,
    standardised on the tuning patients, is above one threshold (seventh
    change); otherwise when either is above its own threshold.
    """
    from safetensors.numpy import save

    from engine.models.domain import DomainScorer, fit_gaussian

    mean, precision = fit_gaussian(feats.train)
    ped, adl = feats.train, feats.adult_fit
    k = 0
    if augment:
        if feats.train_augmented is None or feats.adult_fit_augmented is None:
            raise ValueError("augmented features were not computed")
        ped = np.concatenate([ped, feats.train_augmented])
        adl = np.concatenate([adl, feats.adult_fit_augmented])
        k = len(feats.train_augmented) // max(1, len(feats.train))
    center, weights, intercept = fit_adult_score(ped, adl)
    fitted = DomainScorer(mean, precision, math.inf, adult_center=center,
                          adult_weights=weights, adult_intercept=intercept)  # fmt: skip
    score = fitted.score

    def adult(f: np.ndarray) -> np.ndarray:
        out = fitted.adult_score(f)
        assert out is not None
        return out

    threshold, adult_threshold = joint_thresholds(score(feats.tune), adult(feats.tune))
    rule = combined_rule(score(feats.tune), adult(feats.tune)) if combined else None
    checks, flags = [], {}
    for name, f in {ADULT_FIT + ", not a check": feats.adult_fit, **feats.sets,
                    TUNE_SET: feats.tune}.items():  # fmt: skip
        s_maha, s_adult = score(f), adult(f)
        if rule is None:
            flagged = (s_maha > threshold) | (s_adult > adult_threshold)
            by_appearance, by_adult = s_maha > threshold, s_adult > adult_threshold
        else:  # which standardised score is the larger part of the flag
            flagged = combined_statistic(rule, s_maha, s_adult) > rule["threshold"]
            z_maha = (s_maha - rule["appearance_mean"]) / rule["appearance_sd"]
            z_adult = (s_adult - rule["adult_mean"]) / rule["adult_sd"]
            by_appearance, by_adult = flagged & (z_maha >= z_adult), flagged & (z_adult > z_maha)
        flags[name] = flagged
        groups: list[tuple[dict[str, Any], np.ndarray]] = []
        if name != TUNE_SET:
            groups.append(({"set": name}, np.ones(len(f), dtype=bool)))
        labels = feats.labels.get(name)
        if labels is not None:  # which in-domain images it withholds (plan, eighth change)
            groups += [({"set": f"{name}: {text}", "of": name, "class": text}, labels == value)
                       for value, text in CLASSES]  # fmt: skip
        for head, keep in groups:
            checks.append({
                **head,
                "n": int(keep.sum()),
                "flagged": int(flagged[keep].sum()),
                "share_flagged": round(float(flagged[keep].mean()), 4) if keep.any() else None,
                "by_appearance": int(by_appearance[keep].sum()),
                "by_adult_likeness": int(by_adult[keep].sum()),
                "median_score": round(float(np.median(s_maha[keep])), 2) if keep.any() else None,
            })  # fmt: skip
    stats = save({
        "mean": mean.astype(np.float64),
        "precision": precision.astype(np.float64),
        "adult_center": center,
        "adult_weights": weights,
        "adult_intercept": np.asarray([intercept]),
    })  # fmt: skip
    return DomainScores(threshold, adult_threshold, checks, flags, stats, k, rule)


#: The tuning patients (the thresholds are set on them; in the flags, and in the checks only
#: by class).
TUNE_SET = "pediatric tuning patients (thresholds set here)"
#: The held-out test patients (in domain).
PED_TEST = "pediatric test patients (in domain)"
#: The pediatric sets' classes, as their checks are reported by class.
CLASSES = ((1, "with pneumonia"), (0, "normal"))
#: Acquisition-augmented variants per image in the adult-likeness fit (plan, sixth change: adopted).
AUGMENT = 4
#: One threshold on the two standardised scores together (plan, seventh change: adopted).
COMBINED = True


def domain_gates_and_summary(sc: DomainScores) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest's ``gates`` entries and the card's out-of-domain summary."""
    gates = {
        "age_years": dict(AGE_GATE),
        "appearance": {
            "method": "mahalanobis",
            "layer": "avgpool",
            "file": DOMAIN_FILE,
            "threshold": round(sc.threshold, 4),
            "adult_threshold": round(sc.adult_threshold, 4),
            "action": "withhold",
        },
    }
    if sc.combined is not None:
        gates["appearance"]["rule"] = "combined"
        gates["appearance"]["combined"] = {k: round(v, 6) for k, v in sc.combined.items()}
    fitted_on = (
        "against the pediatric training images, on the standardised pooled features"
        if not sc.augment
        else f"against the pediatric training images, each image of both classes also in {sc.augment} "
        "random acquisition-like variants (crop, gamma, contrast, blur, noise), on the "
        "standardised pooled features"
    )
    summary = {
        "score": "Mahalanobis distance of the pooled last-stage features to the training "
        "images' (Ledoit–Wolf covariance)",
        "threshold": round(sc.threshold, 4),
        "adult_score": "logistic regression of adult (half of the CC BY adult-ood patients) "
        + fitted_on,
        "adult_threshold": round(sc.adult_threshold, 4),
        "threshold_rule": "one common quantile of each score on the tuning patients, the "
        f"lowest at which at most {FLAG_RATE:.0%} of them are above either threshold; out "
        "of domain when either score is above its threshold",
        "checks": sc.checks,
    }
    if sc.combined is not None:
        c = sc.combined
        summary["threshold_rule"] = (
            "each score standardised by its mean and SD on the tuning patients (Mahalanobis "
            f"{c['appearance_mean']:.2f} ± {c['appearance_sd']:.2f}, adult-likeness "
            f"{c['adult_mean']:.2f} ± {c['adult_sd']:.2f}); out of domain when their sum is "
            f"above {c['threshold']:.3f}, the lowest threshold at which at most {FLAG_RATE:.0%} "
            "of the tuning patients are above it (plan, seventh change; the per-score "
            "thresholds above are those of the earlier rule, shown for comparison). In the "
            "table, “by appearance” and “by adult-likeness” count the flagged images by the "
            "larger of the two standardised scores"
        )
        summary["combined_threshold"] = round(c["threshold"], 4)
    return gates, summary


def fit_domain(
    net: Any,
    items: Sequence[Any],
    pixels: np.ndarray,
    split: dict[str, list[int]],
    *,
    preprocessing: Mapping[str, Any],
    seed: int = 0,
    augment: int = AUGMENT,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> DomainFit:
    """Fit the out-of-domain score on the training images and run every check of the plan.

    ``pixels`` are the images as uint8 ``(n, size, size)``; ``preprocessing``
    is the bundle's block (its grey mean and std turn them into network inputs).
    ``augment`` > 0 fits the adult-likeness score with that many
    acquisition-like variants of each fitting image (plan, sixth change).
    """
    MEAN, STD = float(preprocessing["mean"][0]), float(preprocessing["std"][0])
    net = net.cpu().eval()
    te = np.asarray(split["test"])
    feats = domain_features(
        net, items, pixels, split, preprocessing=preprocessing, seed=seed, augment=augment,
        progress=progress, cancel=cancel,
    )  # fmt: skip
    sc = score_domain(feats, augment=bool(augment), combined=COMBINED)
    gates, ood = domain_gates_and_summary(sc)
    check_cancelled(cancel)
    progress(0.6, "Where Grad-CAM looks")
    shares = gradcam_body_share(net, pixels[te], MEAN, STD, CAM_LAYER)
    shares4 = gradcam_body_share(net, pixels[te], MEAN, STD, "layer4")  # before the fifth change
    labels = np.array([items[int(i)].label for i in te])
    body = {"layer": CAM_LAYER, **body_share_summary(shares, labels)}
    body4 = {"layer": "layer4", **body_share_summary(shares4, labels)}
    summary = {
        "out_of_domain": ood,
        "gradcam_inside_body": body,
        "gradcam_inside_body_layer4": body4,
    }
    details = {"gradcam_inside_body_per_test_image": [round(float(v), 4) for v in shares],
               "covered": feats.covered}  # fmt: skip
    progress(1.0, "Domain checks done")
    return DomainFit(gates=gates, summary=summary, details=details, files={DOMAIN_FILE: sc.stats})
