"""``stethos-engine store …`` and ``stethos-engine audit …`` sub-commands.

The same for both kinds of store: ``--db`` takes the workstation's database
file or the clinic database's ``postgresql://role@host/db`` URL (never
taken for a path) and defaults to the configured database
(``STETHOS_DATABASE_URL``, ``store use``, else the workstation's file).

The password comes from the ``STETHOS_PASSWORD`` environment variable, from
standard input when that is not a terminal (one line, so that IT can script
``store init``), or is asked for without echo. The database role's own
password, when the server asks for one, comes from libpq
(``PGPASSWORD``, a client certificate or a password file), never from the URL.
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
    check = store_sub.add_parser(
        "check", help="integrity check (SQLite's, or the server's tables, triggers and grants)"
    )
    _common(check)
    check.set_defaults(func=_cmd_check)
    migrate = store_sub.add_parser(
        "migrate",
        help="copy a workstation's database into the clinic's PostgreSQL database, or with "
        "--merge add it to one holding another workstation's (again: only what is new); "
        "verifies the audit chain there",
    )
    migrate.add_argument("--from", dest="source", help="database file (default: the workstation's)")
    migrate.add_argument("--to", required=True, help="postgresql://owner@host/db")
    migrate.add_argument("--user", required=True, help="an administrator of the database file")
    migrate.add_argument(
        "--merge",
        action="store_true",
        help="when the clinic database already holds another workstation's store, add this "
        "one's records to it (users matched by name, patients by MRN and demographics; "
        "refused, nothing written, where an MRN names another person)",
    )
    migrate.set_defaults(func=_cmd_migrate)
    remember = store_sub.add_parser(
        "remember",
        help="save the clinic database's password on this workstation for a user, after "
        "checking both: in the system keyring where there is a secure one, else wrapped under "
        "that user's password (Argon2id)",
    )
    _common(remember)
    remember.set_defaults(func=_cmd_remember)
    forget = store_sub.add_parser(
        "forget",
        help="remove the clinic database's password saved on this workstation for a user "
        "(from the system keyring and the wrapped file); no password needed",
    )
    _common(forget)
    forget.set_defaults(func=_cmd_forget)
    backup = store_sub.add_parser(
        "backup",
        help="write a consistent copy of the workstation's database, its key file and audit "
        "anchor into a new folder, then open and check it (administrators; safe while "
        "Stethos runs)",
        description="Copying the data folder while Stethos runs can catch the database "
        "without its latest changes next to an audit anchor that counts them; restored, that "
        "copy fails its audit check. This command copies one snapshot and checks the copy. "
        "Put it back with `store restore`.",
    )
    _common(backup)
    backup.add_argument(
        "--to", required=True, metavar="FOLDER", help="a new or empty folder (one per backup)"
    )
    backup.set_defaults(func=_cmd_backup)
    restore = store_sub.add_parser(
        "restore",
        help="make a backup the workstation's database again, after checking it; the files it "
        "replaces (write-ahead log included) are kept in a 'replaced …' folder beside it",
        description="Close Stethos on this workstation first (the command refuses while the "
        "database is open). The backup is copied beside the database and opened with an "
        "administrator's password valid when it was made; it must pass SQLite's integrity "
        "check and the audit check. Then every file of the database it replaces is moved "
        "into a new 'replaced …' folder, and the copy takes its place.",
    )
    restore.add_argument("--db", help="the database file to replace (default: the workstation's)")
    restore.add_argument("--user", required=True, help="an administrator of the backup")
    restore.add_argument(
        "--from", dest="source", required=True, metavar="FOLDER", help="a `store backup` folder"
    )
    restore.set_defaults(func=_cmd_restore)
    use = store_sub.add_parser(
        "use", help="make this workstation use a database (a postgresql:// URL or a file)"
    )
    use.add_argument("--db", help="the database; omit to go back to the workstation's own file")
    use.set_defaults(func=_cmd_use)

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
    parser.add_argument(
        "--db",
        help="database file or postgresql://role@host/db URL (default: the configured database)",
    )
    parser.add_argument("--user", required=True, help="user name to sign in with")


def _db_path(args: argparse.Namespace) -> str | Path:
    """The ``--db`` location: a URL stays a URL, anything else is a path."""
    from engine.store.location import as_location, configured_location

    return as_location(args.db) if args.db else configured_location()


def _interactive() -> bool:
    return PASSWORD_ENV not in os.environ and sys.stdin is not None and sys.stdin.isatty()


def _password(prompt: str = "Password: ") -> str:
    value = os.environ.get(PASSWORD_ENV)
    if value is not None:
        return value
    if sys.stdin is not None and not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
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
    if _interactive() and getpass.getpass("Repeat it: ") != password:
        sys.stderr.write("error: the two passwords differ; nothing was created\n")
        return 1
    store, recovery = create_store(_db_path(args), args.user, password, full_name=args.full_name)
    location = store.location
    store.close()
    print(f"Created {location} with administrator {args.user}.")
    print("Recovery key (shown once; print it and keep it locked away):")
    print(f"  {recovery}")
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from engine.store import default_store_path, is_database_url, open_store
    from engine.store.location import as_location
    from engine.store.transfer import copy_to_server

    if not is_database_url(args.to):
        sys.stderr.write("error: --to must be a postgresql://owner@host/db address\n")
        return 2
    source = as_location(args.source) if args.source else default_store_path()
    with open_store(source, args.user, _password()) as store:
        report = copy_to_server(store, args.to, merge=args.merge, progress=stderr_progress)
    if report.merged:
        print(f"  {'':<17} {'new':>8} {'matched':>8}")
        for table, count in report.rows.items():
            print(f"  {table:<17} {count:>8} {report.matched.get(table, 0):>8}")
    else:
        for table, count in report.rows.items():
            print(f"  {table:<17} {count:>8} rows")
    print(f"  {'audit entries':<17} {report.audit_entries:>8} new")
    if report.deleted:
        print("Patients deleted on this workstation (never attached to a live patient):")
        for line in report.deleted:
            print(f"  {line}")
    if report.recovery_key:
        print(f"Created the clinic database {report.location}.")
        print("Its recovery key (shown once; print it and keep it locked away):")
        print(f"  {report.recovery_key}")
    verified = report.verified
    if verified is None or not verified.ok:
        print(f"FAILED: the audit trail on the server does not verify: {verified}")
        return 1
    done = "merged into" if report.merged else "copied to"
    print(f"ok: {done} {report.location}; audit trail verified there ({verified.entries} entries)")
    return 0


def _clinic_database(args: argparse.Namespace) -> str | None:
    """The ``--db`` (or configured) clinic database URL; ``None`` (said on stderr) if a file."""
    from engine.store import is_database_url

    location = _db_path(args)
    if not is_database_url(location):
        sys.stderr.write("error: --db must be the clinic database's postgresql:// address\n")
        return None
    return str(location)


def _cmd_remember(args: argparse.Namespace) -> int:
    from engine.store import open_store
    from engine.store.credentials import remember

    location = _clinic_database(args)
    if location is None:
        return 2
    password = _password()
    server_password = _password("Database password (the workstation's role): ")
    with open_store(location, args.user, password, server_password=server_password) as store:
        saved = remember(store.location, args.user, password, server_password, store.kdf)
    print(f"Saved the database password for {args.user} on this workstation in {saved.describe()}.")
    return 0


def _cmd_forget(args: argparse.Namespace) -> int:
    from engine.store.credentials import forget
    from engine.store.server import connection_params

    location = _clinic_database(args)
    if location is None:
        return 2
    _, shown = connection_params(location)
    removed = forget(shown, args.user)
    if not removed:
        print(f"No database password was saved for {args.user} and {shown} on this workstation.")
        return 0
    places = "; ".join(saved.describe() for saved in removed)
    print(f"Removed the database password saved for {args.user} and {shown} from {places}.")
    return 0


def _cmd_use(args: argparse.Namespace) -> int:
    from engine.store import set_configured_location

    path = set_configured_location(args.db or None)
    print(f"This workstation now uses {args.db or 'its own database file'} (saved in {path}).")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from engine.store import is_database_url

    with _open(args) as store:
        result = store.integrity_check()
        print(f"schema version {store.schema_version()}; integrity_check: {result}")
        if is_database_url(store.location):
            from engine.store.credentials import saved_in

            saved = saved_in(store.location, args.user)
            where = "none saved on this workstation" if saved is None else saved.describe()
            print(f"database password for {args.user}: {where}")
    return 0 if result == "ok" else 1


def _cmd_backup(args: argparse.Namespace) -> int:
    with _open(args) as store:
        report = store.backup(args.to, progress=stderr_progress)
    size = report.database_bytes / 2**20
    print(
        f"ok: {report.files[0]} ({size:.1f} MiB), its key file and audit anchor written; "
        f"opened and checked there (integrity ok, audit trail verified, {report.audit_entries} "
        "entries)."
    )
    print(
        f"Restore: close Stethos, then `stethos-engine store restore --from {report.folder} "
        "--user ADMIN`. The copy opens with the passwords and recovery key valid when it was "
        "made."
    )
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    from engine.store import is_database_url
    from engine.store.restore import restore_backup

    target = _db_path(args)
    if is_database_url(target):
        sys.stderr.write(
            "error: this workstation uses the clinic's PostgreSQL database; restore it on the "
            "server with the clinic's PostgreSQL tools\n"
        )
        return 2
    report = restore_backup(args.source, Path(target), args.user, _password())
    print(
        f"ok: {report.database} restored from {args.source}; integrity and audit trail "
        f"checked, the restore logged as entry {report.audit_entries}."
    )
    if report.replaced is not None:
        print(f"The files it replaced are kept in {report.replaced}.")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    with _open(args) as store:
        report = store.verify_audit()
    if report.ok:
        waiting = (
            f"; {report.awaiting_seal} more awaiting their seal" if report.awaiting_seal else ""
        )
        print(
            f"ok: {report.entries} entries, chain intact, anchored at entry "
            f"{report.anchor_seq}{waiting}"
        )
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
    elif not rows:
        which = f" of model {args.model}" if args.model else ""
        print(f"No analysis results{which} are stored yet: nothing to report.")
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
