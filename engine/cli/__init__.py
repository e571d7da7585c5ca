"""``stethos-engine``: the engine from a terminal.

Exit codes: 0 success; 1 an input or model problem (message on stderr);
2 bad usage; 3 some inputs failed in a batch; 130 cancelled (Ctrl+C).
Each command group lives in its own module exposing ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.errors import EngineError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_CANCELLED = 130

#: Modules contributing sub-commands, each with ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "engine.models.cli",
    "engine.ecg.cli",
    "engine.dicom.cli",
    "engine.store.cli",
)


def _stderr_progress(fraction: float, text: str = "") -> None:
    sys.stderr.write(f"\r[{fraction:6.1%}] {text[:70]:<70}")
    sys.stderr.flush()
    if fraction >= 1.0:
        sys.stderr.write("\n")


#: ``stethos-engine train`` targets; ``heart`` trains every record-model family.
HEART_TARGETS = ("heart-logreg", "heart-rf", "heart-svm", "heart-tree")
TRAIN_TARGETS = ("heart", *HEART_TARGETS, "beats", "cxr", "all")


def _cmd_train(args: argparse.Namespace) -> int:
    from engine.resources import resource_path

    out = Path(args.out) if args.out else resource_path("models")
    targets = ["heart", "beats", "cxr"] if args.target == "all" else [args.target]
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
                progress=_stderr_progress,
            )
        elif target == "beats":
            from engine.train.beats import train_beats

            paths = [
                train_beats(
                    out,
                    data_root=args.data,
                    seed=args.seed,
                    epochs=args.epochs or 6,
                    folds=args.folds,
                    progress=_stderr_progress,
                )
            ]
        else:
            from engine.train.cxr import train_cxr

            paths = [
                train_cxr(
                    out,
                    data_root=args.data,
                    seed=args.seed,
                    epochs=args.epochs or 8,
                    size=args.size or 128,
                    subset=args.subset,
                    progress=_stderr_progress,
                )
            ]
        for path in paths:
            _print_bundle_metrics(path)
    return EXIT_OK


def _print_bundle_metrics(path: Path) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    print(f"{manifest['id']} {manifest['version']} → {path}")
    for name, est in manifest["metrics"].items():
        ci = est.get("ci95")
        ci_text = f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else ""
        print(f"  {name}: {est['value']:.3f}{ci_text}")


def _cmd_self_test(args: argparse.Namespace) -> int:
    from engine.selftest import format_checks, run_self_test

    checks = run_self_test(progress=_stderr_progress if not args.json else _quiet)
    if args.json:
        rows = [{"check": c.name, "ok": c.ok, "detail": c.detail, "seconds": round(c.seconds, 3)}
                for c in checks]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        print(format_checks(checks))
    return EXIT_OK if checks and all(c.ok for c in checks) else EXIT_ERROR


def _quiet(fraction: float, text: str = "") -> None:
    """A progress sink for machine output."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="stethos-engine", description="Stethos engine: DICOM, ECG and local models."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a bundled model from ../shared/data")
    train.add_argument(
        "target",
        choices=TRAIN_TARGETS,
        help="heart: all four record models (or heart-logreg|rf|svm|tree alone); all: everything",
    )
    train.add_argument("--out", help="folder to write the bundle into (default: resources/models)")
    train.add_argument("--data", help="training data file (default: from ../shared/data)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=int, help="training epochs (CNN)")
    train.add_argument("--size", type=int, help="input size in pixels (CNN)")
    train.add_argument("--subset", type=int, help="use only this many patient groups (quick check)")
    train.add_argument("--repeats", type=int, help="cross-validation repeats (record models; 10)")
    train.add_argument(
        "--folds", type=int, help="record folds for validation (beats; default: one per record)"
    )
    train.set_defaults(func=_cmd_train)
    selftest = sub.add_parser(
        "self-test",
        help="verify models, open every sample, run each model, write/read a store; exit 1 on any failure",
    )
    selftest.add_argument("--json", action="store_true")
    selftest.set_defaults(func=_cmd_self_test)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


#: Options whose value may start with a minus sign (a negative window centre:
#: the lung window is ``-600,1500``), which argparse would take for an option.
SIGNED_VALUE_OPTIONS: tuple[str, ...] = ("--window",)


def join_signed_values(argv: Sequence[str]) -> list[str]:
    """``["--window", "-600,1500"]`` → ``["--window=-600,1500"]`` (argparse reads it then)."""
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else ""
        if (
            arg in SIGNED_VALUE_OPTIONS
            and len(nxt) > 1
            and nxt[0] == "-"
            and (nxt[1].isdigit() or nxt[1] == ".")
        ):
            out.append(f"{arg}={nxt}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``stethos-engine``."""
    args = build_parser().parse_args(join_signed_values(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args))
    except EngineError as exc:
        sys.stderr.write(f"error: {exc.user_message}\n")
        if exc.detail:
            sys.stderr.write(f"  detail: {exc.detail}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("cancelled\n")
        return EXIT_CANCELLED


if __name__ == "__main__":
    raise SystemExit(main())
