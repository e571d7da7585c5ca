"""Site calibration from the command line.

``stethos-engine evaluate --model ID DATA --save-site-calibration`` evaluates
the model as its bundle defines it, fits the clinic's recalibration and
operating point on the evaluated cases and saves them for that model
version (:mod:`engine.models.site`); ``--user NAME`` (and ``--db``) also
writes the audit entry into the local store. ``stethos-engine models site
list|remove`` shows and deletes saved calibrations.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.cli.common import EXIT_ERROR, EXIT_OK
from engine.errors import EngineError, ModelError

NO_AUDIT = (
    "Not in the audit trail: no --user was given to sign in to the local store. The file "
    "records who saved it ({user}) and the sha256 of the data; give --user (and --db) to "
    "audit the save."
)


def add_evaluate_options(p: argparse.ArgumentParser) -> None:
    """``evaluate``'s site-calibration options."""
    p.add_argument(
        "--save-site-calibration",
        action="store_true",
        help="fit this site's recalibration and operating point on the evaluated cases and save "
        "them for this model version (the model is evaluated without any saved one)",
    )
    p.add_argument(
        "--no-site-calibration",
        action="store_true",
        help="evaluate the model as its bundle defines it, ignoring a saved site calibration",
    )
    _audit_options(p)


def _audit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", help="sign in to the local store as USER to audit the change")
    p.add_argument("--db", help="database file for the audit entry (default: the workstation's)")


def register_models(msub: argparse._SubParsersAction) -> None:
    """``models site list|remove``."""
    site = msub.add_parser("site", help="saved site calibrations (operating point, recalibration)")
    ssub = site.add_subparsers(dest="site_command", required=True)
    p = ssub.add_parser("list", help="saved site calibrations and whether the model uses them")
    p.add_argument("--json", action="store_true", help="JSON Lines output")
    p.set_defaults(func=_cmd_list)
    p = ssub.add_parser("remove", help="delete a model's site calibration (audited with --user)")
    p.add_argument("model")
    p.add_argument("--version", help="only this model version (default: every version)")
    _audit_options(p)
    p.set_defaults(func=_cmd_remove)


def check_model(model_id: str) -> None:
    """Refuse, before evaluating, a model a site calibration cannot serve (the beat model)."""
    from engine.models.registry import ModelRegistry
    from engine.models.site import check_binary

    check_binary(ModelRegistry().open(model_id, verify=False))


def _store(args: argparse.Namespace) -> Any:
    if not getattr(args, "user", None):
        return None
    from engine.cli.store import open_signed_in

    return open_signed_in(args)


def saved_lines(cal: Any, path: Any, audited: bool) -> list[str]:
    """What the terminal shows after a save."""
    from engine.workflow.models import local_user

    se, sp = cal.sensitivity, cal.specificity

    def ci(est: Any) -> str:
        return f" (95 % CI {est.ci95[0]:.3f}–{est.ci95[1]:.3f})" if est.ci95 else ""

    lines = [
        "",
        "(The metrics above are the model's own, without a site calibration: the new one is "
        "fitted on them.)",
        f"Site calibration saved for {cal.model_id} {cal.model_version} → {path}",
        f"  {cal.note}",
        f"  recalibration: p' = sigmoid({cal.intercept:.4f} + {cal.slope:.4f} · logit(p))",
        f"  site operating point: threshold {cal.threshold:.4f} on p' ({cal.rule_text})",
        f"  local sensitivity {se.value:.3f}{ci(se)}, specificity {sp.value:.3f}{ci(sp)}",
        f"  local AUROC {cal.auroc.value:.3f}{ci(cal.auroc)}; "
        f"{cal.n_positive} of {cal.n} {cal.unit} positive",
        f"  weights sha256 {cal.weights_sha256[:16]}…; only this version and weights use it",
    ]
    if audited:
        lines.append(f"  audited in the local store as {cal.created_by}")
    else:
        lines.append("  " + NO_AUDIT.format(user=cal.created_by or local_user() or "unknown"))
    return lines


def save_from_report(args: argparse.Namespace, report: Any) -> tuple[Any, Any, bool]:
    """Fit and save the site calibration of ``report``'s cases; returns (calibration, path, audited).

    Raises
    ------
    ModelError
        For a report without per-case scores (beat models) or too few cases.
    """
    from engine.models.site import describe_data
    from engine.validation.site import fit_site_calibration
    from engine.workflow import save_site_calibration, verify_model
    from engine.workflow.models import local_user

    bundle = verify_model(report.model_id)
    if report.task not in ("binary", "rhythm") or not report.scores:
        from engine.models.site import check_binary

        check_binary(bundle)  # the beat model's precise reason
        raise ModelError(f"Model “{bundle.id}” gave no per-case scores to calibrate on.")
    store = _store(args)
    try:
        user = (store.user.username if store is not None else "") or local_user()
        cal = fit_site_calibration(
            report.scores,
            report.outcomes,
            bundle,
            data=describe_data(report.data),
            created_by=user,
            always_positive=report.always_positive or None,
            seed=getattr(args, "seed", 0),
        )
        path = save_site_calibration(cal, store=store)
    finally:
        if store is not None:
            store.close()
    return cal, path, store is not None


def saved_json(cal: Any, path: Any, audited: bool) -> dict[str, Any]:
    """The ``saved_site_calibration`` member of ``evaluate --json``."""
    return {**cal.summary(), "file": str(path), "audited": audited}


def _cmd_list(args: argparse.Namespace) -> int:
    from engine.models.bundle import read_manifest
    from engine.models.registry import ModelRegistry
    from engine.workflow import list_site_calibrations

    registry = ModelRegistry()
    items = list_site_calibrations()
    for item in items:
        cal = item.calibration
        status = item.problem
        if cal is not None:
            try:
                m = read_manifest(registry.find(cal.model_id).path)
                installed = (str(m["version"]), str(m["files"][m["weights"]]["sha256"]))
                if installed == (cal.model_version, cal.weights_sha256):
                    status = "in use"
                else:
                    status = f"not used: the installed model is version {installed[0]}"
                    if installed[0] == cal.model_version:
                        status = "not used: the installed model has other weights"
            except EngineError:
                status = "not used: the model is not installed"
        if args.json:
            row = {"file": str(item.path), "status": status}
            if cal is not None:
                row.update(cal.summary())
            print(json.dumps(row, ensure_ascii=False))
        elif cal is None:
            print(f"{item.path.name:<44} PROBLEM: {status}")
        else:
            print(
                f"{cal.model_id:<32} {cal.model_version:<8} threshold {cal.threshold:.4f}  "
                f"Se {cal.sensitivity.value:.3f} Sp {cal.specificity.value:.3f}  n={cal.n}  "
                f"{cal.created}  by {cal.created_by or '?'}  [{status}]"
            )
    if not items and not args.json:
        print("No site calibrations saved.")
    return EXIT_OK


def _cmd_remove(args: argparse.Namespace) -> int:
    from engine.workflow import remove_site_calibration

    store = _store(args)
    try:
        gone = remove_site_calibration(args.model, version=args.version, store=store)
    finally:
        if store is not None:
            store.close()
    if not gone:
        which = f" {args.version}" if args.version else ""
        print(f"No site calibration of {args.model}{which} is saved.")
        return EXIT_ERROR
    for item in gone:
        print(f"removed {item.path}")
    if store is None:
        print("Not in the audit trail: give --user (and --db) to audit the removal.")
    return EXIT_OK
