"""``stethos-engine train …``: rebuild a bundled model from ``../shared/data``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engine.cli.common import EXIT_OK, stderr_progress

#: ``stethos-engine train`` targets; ``heart`` trains every record-model family.
HEART_TARGETS = ("heart-logreg", "heart-rf", "heart-svm", "heart-tree", "heart-hgb")
TRAIN_TARGETS = (
    "heart",
    *HEART_TARGETS,
    "beats",
    "rhythm",
    "cxr",
    "cxr-domain",
    "all",
    "cards",
    "onnx",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` command to ``stethos-engine``."""
    train = sub.add_parser("train", help="train a bundled model from ../shared/data")
    train.add_argument(
        "target",
        choices=TRAIN_TARGETS,
        help="heart: all five record models (or heart-logreg|rf|svm|tree|hgb alone); all: every "
        "model; cards: no training, rewrite every bundle's card in --out from its manifest and "
        "validation.json (and re-hash it); onnx: no training, (re)export the ONNX graph of "
        "every torch bundle in --out from its weights, checked against torch; cxr-domain: no training, score the pneumonia CNN's "
        "current and augmented out-of-domain design (the plan's sixth change)",
    )
    train.add_argument("--augment", type=int, default=4,
                       help="cxr-domain: acquisition-like variants per fitting image")  # fmt: skip
    train.add_argument("--json", help="cxr-domain: also write the outcome to this file")
    train.add_argument("--combined", action="store_true",
                       help="cxr-domain: the plan's seventh change instead (one threshold on the "
                       "two standardised scores), on the features saved by --cache")  # fmt: skip
    train.add_argument("--write", action="store_true",
                       help="cxr-domain: replace the bundle's score when the plan's rule adopts it")  # fmt: skip
    train.add_argument("--out", help="folder to write the bundle into (default: resources/models)")
    train.add_argument("--data", help="training data file (default: from ../shared/data)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=int, help="training epochs (CNN)")
    train.add_argument("--size", type=int, help="input size in pixels (CNN)")
    train.add_argument("--subset", type=int, help="use only this many patient groups (quick check)")
    train.add_argument("--repeats", type=int, help="cross-validation repeats (record models; 10)")
    train.add_argument(
        "--folds",
        type=int,
        help="record folds for validation (beats; default: 10, or one record out at a time "
        "with --ds1-only)",
    )
    train.add_argument(
        "--ds1-only",
        action="store_true",
        help="beats: train version 3.6.1's recipe on MIT-BIH DS1 alone (the shipped 4.0.0 adds "
        "the Supraventricular Arrhythmia Database and a boosted N/S split)",
    )
    train.add_argument(
        "--cache",
        help="rhythm: a .npz file keeping the CinC features between runs (computed when absent)",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="CNN: start from the network a previous run kept (.<id>-trained.safetensors in "
        "--out) instead of training again",
    )
    train.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from engine.models.devices import flavour
    from engine.resources import resource_path

    if flavour() == "cpu":
        from engine.errors import EngineError

        raise EngineError(
            "Training and re-exporting models need PyTorch, which this installation (the CPU "
            "flavour of Stethos) does not include. Use the full flavour of Stethos (with "
            "PyTorch) to train models; this one runs them."
        )

    out = Path(args.out) if args.out else resource_path("models")
    if args.target == "cards":
        return _rewrite_cards(out)
    if args.target == "onnx":
        return _export_onnx(out)
    if args.target == "cxr-domain":
        return _refit_cxr_domain(args)
    targets = ["heart", "beats", "rhythm", "cxr"] if args.target == "all" else [args.target]
    for target in targets:
        if target == "heart" or target in HEART_TARGETS:
            from engine.train.heart import FAMILY_KEYS, train_heart_models

            families = FAMILY_KEYS if target == "heart" else (target.split("-", 1)[1],)
            paths = train_heart_models(
                out,
                families=families,
                data_path=args.data,
                seed=args.seed,
                repeats=args.repeats or 10,
                progress=stderr_progress,
            )
        elif target == "beats":
            from engine.train.beats import train_beats

            paths = [
                train_beats(
                    out,
                    data_root=args.data,
                    seed=args.seed,
                    epochs=args.epochs or 6,
                    folds=args.folds or None,
                    svdb=not args.ds1_only,
                    progress=stderr_progress,
                )
            ]
        elif target == "rhythm":
            from engine.train.rhythm_bundle import train_rhythm

            paths = [
                train_rhythm(
                    out,
                    data_root=args.data,
                    cache=args.cache,
                    seed=args.seed,
                    progress=stderr_progress,
                )
            ]
        else:
            from engine.train.cxr import train_cxr

            paths = [
                train_cxr(
                    out,
                    data_root=args.data,
                    seed=args.seed,
                    epochs=args.epochs or 10,
                    size=args.size or 224,
                    subset=args.subset,
                    resume=args.resume,
                    progress=stderr_progress,
                )
            ]
        for path in paths:
            _print_bundle_metrics(path)
    return EXIT_OK


def _refit_cxr_domain(args: argparse.Namespace) -> int:
    from engine.train.cxr_domain_refit import BUNDLE, refit_domain

    bundle = Path(args.out) / BUNDLE.name if args.out else BUNDLE
    if args.combined:
        return _refit_cxr_combined(args, bundle)
    result = refit_domain(bundle, augment=args.augment, seed=args.seed,
                          cache=Path(args.cache) if args.cache else None,
                          smoke=args.subset or 0, write=args.write,
                          progress=stderr_progress)  # fmt: skip
    text = json.dumps(result, indent=1)
    if args.json:
        Path(args.json).write_text(text, encoding="utf-8")
    return _print_refit(result, "augmented", f"augmented (K = {args.augment})", bundle)


def _print_refit(result: dict[str, Any], after: str, heading: str, bundle: Path) -> int:
    """A refit's table (current against ``after``, every set) and what was decided."""
    from engine.train.cxr_domain_refit import TABLE_SETS

    print(f"| set | current | {heading} |\n|---|---|---|")
    for name in TABLE_SETS:
        c, a = result["current"]["sets"][name], result[after]["sets"][name]
        print(f"| {name} | {c['flagged']}/{c['n']} ({100 * c['flagged'] / c['n']:.1f} %) "
              f"| {a['flagged']}/{a['n']} ({100 * a['flagged'] / a['n']:.1f} %) |")  # fmt: skip
    print("adopted by the plan's rule" if result["decision"]["adopted"] else "not adopted")
    if result["written"]:
        print(f"bundle updated: {bundle}")
    return EXIT_OK


def _refit_cxr_combined(args: argparse.Namespace, bundle: Path) -> int:
    from engine.errors import EngineError
    from engine.train.cxr_domain_refit import refit_combined

    if not args.cache or not Path(args.cache).is_file():
        raise EngineError("--combined needs the features file of an earlier run (--cache FILE).")
    result = refit_combined(bundle, cache=Path(args.cache), write=args.write)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return _print_refit(result, "combined", "combined (one threshold on both scores)", bundle)


def _rewrite_cards(folder: Path) -> int:
    from engine.train.card import VALIDATION_NAME, refresh_bundle

    bundles = sorted(
        p.parent
        for p in folder.glob(f"*/{VALIDATION_NAME}")
        if (p.parent / "manifest.json").is_file()
    )
    for path in bundles:
        refresh_bundle(path)
        manifest = json.loads((path / "manifest.json").read_text())
        print(f"card rewritten: {manifest['id']} {manifest['version']} → {path}")
    if not bundles:
        print(f"No bundles with a {VALIDATION_NAME} in {folder}.")
    return EXIT_OK


def _export_onnx(folder: Path) -> int:
    from engine.train.card import VALIDATION_NAME, refresh_bundle
    from engine.train.onnx_export import add_onnx

    bundles = sorted(
        p.parent
        for p in folder.glob("*/manifest.json")
        if json.loads(p.read_text(encoding="utf-8")).get("kind") in ("torch-cnn", "torch-lstm")
    )
    for path in bundles:
        add_onnx(path)
        if (path / VALIDATION_NAME).is_file():
            refresh_bundle(path)  # the card states the runtime and the check's figures
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        check = manifest["onnx"]["check"]
        print(f"ONNX graph exported: {manifest['id']} {manifest['version']} → {path}")
        print(f"  largest differences from torch: {check['max_abs_diff']}")
    if not bundles:
        print(f"No torch bundles in {folder}.")
    return EXIT_OK


def _print_bundle_metrics(path: Path) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    print(f"{manifest['id']} {manifest['version']} → {path}")
    for name, est in manifest["metrics"].items():
        ci = est.get("ci95")
        ci_text = f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else ""
        print(f"  {name}: {est['value']:.3f}{ci_text}")
