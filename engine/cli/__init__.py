"""``stethos-engine``: the engine from a terminal.

Exit codes: 0 success; 1 an input or model problem (message on stderr);
2 bad usage; 3 some inputs failed in a batch; 130 cancelled (Ctrl+C).
Each command group lives in its own module of this package exposing
``register(subparsers)``; the package sits above every other engine layer
and nothing below it imports it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from engine.cli.common import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    end_progress_line,
    quiet,
    stderr_progress,
)
from engine.errors import EngineError

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "build_parser",
    "join_signed_values",
    "main",
]

#: Modules contributing sub-commands, each with ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "engine.cli.train",
    "engine.cli.models",
    "engine.cli.ecg",
    "engine.cli.dicom",
    "engine.cli.store",
    "engine.cli.net",
)


def _cmd_self_test(args: argparse.Namespace) -> int:
    from engine.selftest import format_checks, run_self_test

    checks = run_self_test(progress=stderr_progress if not args.json else quiet)
    if args.json:
        rows = [{"check": c.name, "ok": c.ok, "detail": c.detail, "seconds": round(c.seconds, 3)}
                for c in checks]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        print(format_checks(checks))
    return EXIT_OK if checks and all(c.ok for c in checks) else EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="stethos-engine", description="Stethos engine: DICOM, ECG and local models."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    selftest = sub.add_parser(
        "self-test",
        help="verify models, open every sample, run each model, write/read a store; exit 1 on any failure",
    )
    selftest.add_argument("--json", action="store_true")
    selftest.set_defaults(func=_cmd_self_test)
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
        end_progress_line()
        sys.stderr.write(f"error: {exc.user_message}\n")
        if exc.detail:
            sys.stderr.write(f"  detail: {exc.detail}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        end_progress_line()
        sys.stderr.write("cancelled\n")
        return EXIT_CANCELLED
    except BrokenPipeError:
        # The reader went away (``stethos-engine info … | head``): stop quietly, as Unix tools
        # do. Python would flush stdout again at exit and fail once more: point it at devnull.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
