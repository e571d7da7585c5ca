"""``stethos-engine store …`` and ``stethos-engine audit …`` sub-commands.

The password comes from the ``STETHOS_PASSWORD`` environment variable (for
scripts) or is asked for without echo. ``--db`` defaults to the
workstation's database.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import os
import sys
from pathlib import Path

from engine.cli.common import stderr_progress

PASSWORD_ENV = "STETHOS_PASSWORD"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``store`` and ``audit`` command groups."""
    store = sub.add_parser("store", help="the local encrypted database")
    store_sub = store.add_subparsers(dest="store_command", required=True)
    init = store_sub.add_parser(
        "init", help="create a database; prints the recovery key once (keep it on paper)"
    )
    _common(init)
    init.add_argument("--full-name", default="")
    init.set_defaults(func=_cmd_init)
    check = store_sub.add_parser("check", help="SQLite integrity check and schema version")
    _common(check)
    check.set_defaults(func=_cmd_check)

    audit = sub.add_parser("audit", help="the audit trail of the local database")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check that no entry was altered or removed (exit 1 if one was)"
    )
    _common(verify)
    verify.set_defaults(func=_cmd_verify)
    export = audit_sub.add_parser("export", help="write the audit trail to a CSV file")
    _common(export)
    export.add_argument("--csv", required=True, help="output CSV file")
    export.set_defaults(func=_cmd_export)
    drift = audit_sub.add_parser(
        "drift", help="per model version and period: share of positive results and overrides"
    )
    _common(drift)
    drift.add_argument("--period", choices=["month", "week"], default="month")
    drift.add_argument("--model", help="only this model id")
    drift.add_argument("--format", choices=["table", "csv", "json"], default="table")
    drift.set_defaults(func=_cmd_drift)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="database file (default: the workstation's)")
    parser.add_argument("--user", required=True, help="user name to sign in with")


def _db_path(args: argparse.Namespace) -> Path:
    from engine.store import default_store_path

    return Path(args.db) if args.db else default_store_path()


def _password(prompt: str = "Password: ") -> str:
    value = os.environ.get(PASSWORD_ENV)
    if value is not None:
        return value
    return getpass.getpass(prompt)


def _open(args: argparse.Namespace):
    from engine.store import open_store

    return open_store(_db_path(args), args.user, _password())


def open_signed_in(args: argparse.Namespace):
    """The store of ``args.db`` (default: the workstation's), signed in as ``args.user``.

    For other command groups that audit into the store (the password as for
    every ``store`` command: ``STETHOS_PASSWORD`` or asked for).
    """
    return _open(args)


def _cmd_init(args: argparse.Namespace) -> int:
    from engine.store import create_store

    password = _password("New administrator password: ")
    if PASSWORD_ENV not in os.environ and getpass.getpass("Repeat it: ") != password:
        sys.stderr.write("error: the two passwords differ; nothing was created\n")
        return 1
    store, recovery = create_store(_db_path(args), args.user, password, full_name=args.full_name)
    store.close()
    print(f"Created {_db_path(args)} with administrator {args.user}.")
    print("Recovery key (shown once; print it and keep it locked away):")
    print(f"  {recovery}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    with _open(args) as store:
        result = store.integrity_check()
        print(f"schema version {store.schema_version()}; integrity_check: {result}")
    return 0 if result == "ok" else 1


def _cmd_verify(args: argparse.Namespace) -> int:
    with _open(args) as store:
        report = store.verify_audit()
    if report.ok:
        print(f"ok: {report.entries} entries, chain intact, anchored at entry {report.anchor_seq}")
        return 0
    bad = report.first_bad_seq if report.first_bad_seq is not None else "anchor"
    print(f"FAILED at seq {bad}: {report.problem}")
    return 1


def _cmd_export(args: argparse.Namespace) -> int:
    with _open(args) as store:
        count = store.export_audit_csv(args.csv, progress=stderr_progress)
    print(f"{count} entries written to {args.csv}")
    return 0


def _cmd_drift(args: argparse.Namespace) -> int:
    with _open(args) as store:
        rows = store.drift_report(args.period, model_id=args.model)
    if args.format == "json":
        print(json.dumps([r.to_json() for r in rows], indent=2))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        fields = list(rows[0].to_json()) if rows else ["model_id"]
        writer.writerow(fields)
        for r in rows:
            writer.writerow([r.to_json()[f] for f in fields])
    else:
        print(
            f"{'model':<32} {'version':<10} {'period':<9} {'results':>7} {'positive':>9} "
            f"{'decided':>7} {'overridden':>10}"
        )
        for r in rows:
            print(
                f"{r.model_id:<32} {r.model_version:<10} {r.period:<9} {r.results:>7} "
                f"{_share(r.positive_share):>9} {r.decided:>7} {_share(r.override_share):>10}"
            )
    return 0


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"
