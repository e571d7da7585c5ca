"""``stethos-engine net …``: the clinic's DICOM network for IT staff and scripts.

The same functions the desktop uses (:mod:`engine.net`). ``NODE`` is a
configured node's name or ``AET@host:port``. Exit codes: 0 success, 1 the
peer refused or failed, 2 usage (including an unknown node).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from engine.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, stderr_progress


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``net`` command to ``stethos-engine``."""
    net = sub.add_parser("net", help="DICOM network: nodes, echo, find, get, send, listen")
    net.add_argument("--aet", help="our AE title (default: the configured one, else STETHOS)")
    cmds = net.add_subparsers(dest="net_command", required=True)

    nodes = cmds.add_parser("nodes", help="configure DICOM peers")
    ncmd = nodes.add_subparsers(dest="nodes_command", required=True)
    add = ncmd.add_parser("add", help="add (or with --replace, change) a peer")
    add.add_argument("name")
    add.add_argument("address", help="AET@host:port")
    add.add_argument("--tls-ca", help="CA file: talk TLS to this peer")
    add.add_argument("--dicomweb", help="DICOMweb base URL of this peer")
    add.add_argument("--no-store", action="store_true", help="this peer may not store to us")
    add.add_argument("--replace", action="store_true")
    ncmd.add_parser("list", help="list the configured peers").add_argument(
        "--json", action="store_true"
    )
    ncmd.add_parser("remove", help="remove a peer").add_argument("name")
    me = ncmd.add_parser("self", help="set our own AE title, listening port and TLS")
    me.add_argument("--set-aet")
    me.add_argument("--set-port", type=int)
    me.add_argument("--tls-cert", help="our certificate (PEM): the listener speaks TLS only")
    me.add_argument("--tls-key", help="the private key of --tls-cert (PEM)")
    me.add_argument("--tls-peer-ca", help="callers must show a certificate from this CA")
    me.add_argument("--no-tls", action="store_true", help="listen without TLS again")

    echo = cmds.add_parser("echo", help="C-ECHO a peer (or check its DICOMweb)")
    echo.add_argument("node")
    find = cmds.add_parser("find", help="C-FIND studies on a peer (one JSON object per study)")
    find.add_argument("node")
    find.add_argument("--patient-id", default="")
    find.add_argument("--patient-name", default="", help="a pattern: DOE^J*")
    find.add_argument("--study-date", default="", help="YYYYMMDD or YYYYMMDD-YYYYMMDD")
    find.add_argument("--modality", default="")
    find.add_argument("--accession", default="")
    find.add_argument("--json", action="store_true")
    for p in (echo, find):
        p.add_argument("--dicomweb", action="store_true", help="use the node's DICOMweb URL")
    get = cmds.add_parser("get", help="C-GET a study into a folder (instances named by hash)")
    get.add_argument("node")
    get.add_argument("--study", required=True, help="Study Instance UID")
    get.add_argument("--out", required=True, help="folder (the local DICOM cache layout)")
    get.add_argument("--dicomweb", action="store_true", help="WADO-RS instead of C-GET")
    get.add_argument("--move", action="store_true",
                     help="C-MOVE to our own listener (the configured port) instead of C-GET")  # fmt: skip
    get.add_argument("--port", type=int, help="with --move: the port our listener opens")
    send = cmds.add_parser("send", help="C-STORE files or folders to a peer")
    send.add_argument("node")
    send.add_argument("paths", nargs="+")
    send.add_argument("--dicomweb", action="store_true", help="STOW-RS instead of C-STORE")
    listen = cmds.add_parser("listen", help="receive C-STOREs until interrupted")
    listen.add_argument("--port", type=int, help="default: the configured port")
    listen.add_argument("--host", default="", help="address to listen on (default: all)")
    listen.add_argument("--out", required=True, help="folder to store received instances in")
    listen.add_argument("--allow", action="append", default=[], metavar="AET[@HOST]",
                        help="also accept stores from this caller (repeatable)")  # fmt: skip
    listen.add_argument("--tls-cert", help="TLS only, with this certificate (default: the "
                        "configured one)")  # fmt: skip
    listen.add_argument("--tls-key", help="the private key of --tls-cert")
    net.set_defaults(func=_cmd_net)


def _aet(args: argparse.Namespace, settings: Any) -> str:
    from engine.net.nodes import check_aet

    return check_aet(args.aet) if args.aet else settings.aet


def _cmd_net(args: argparse.Namespace) -> int:
    from engine.net import NetConfigError, PeerError, load_settings

    try:
        settings = load_settings()
        handler = {"nodes": _nodes, "echo": _echo, "find": _find, "get": _get,
                   "send": _send, "listen": _listen}[args.net_command]  # fmt: skip
        return handler(args, settings)
    except NetConfigError as exc:
        sys.stderr.write(f"error: {exc.user_message}\n")
        return EXIT_USAGE
    except PeerError as exc:
        sys.stderr.write(f"error: {exc.user_message}\n")
        return EXIT_ERROR


def _nodes(args: argparse.Namespace, settings: Any) -> int:
    from dataclasses import asdict, replace

    from engine.net import Node, add_node, listener_tls, remove_node, save_settings
    from engine.net.nodes import check_aet, check_port, resolve_node

    if args.nodes_command == "add":
        spec = resolve_node(args.address, settings.__class__())  # parse AET@host:port only
        node = Node(args.name, spec.aet, spec.host, spec.port, tls_ca=args.tls_ca,
                    dicomweb=args.dicomweb, may_store=not args.no_store)  # fmt: skip
        add_node(node, replace_existing=args.replace)
        print(f"node {node.name}: {node.address}")
    elif args.nodes_command == "remove":
        remove_node(args.name)
        print(f"node {args.name} removed")
    elif args.nodes_command == "self":
        tls = {k: getattr(args, k) or getattr(settings, k)
               for k in ("tls_cert", "tls_key", "tls_peer_ca")}  # fmt: skip
        if args.no_tls:
            tls = dict.fromkeys(tls)
        new = replace(settings, aet=check_aet(args.set_aet) if args.set_aet else settings.aet,
                      port=check_port(args.set_port) if args.set_port else settings.port, **tls)  # fmt: skip
        listener_tls(new)  # a certificate or key that cannot be loaded is refused now
        save_settings(new)
        print(f"this workstation: {new.aet} on port {new.port}{' (TLS)' if new.tls_cert else ''}")
    elif getattr(args, "json", False):
        print(json.dumps({"aet": settings.aet, "port": settings.port,
                          "nodes": [asdict(n) for n in settings.nodes]}))  # fmt: skip
    else:
        mark = " (TLS)" if settings.tls_cert else ""
        print(f"this workstation: {settings.aet} on port {settings.port}{mark}")
        for n in settings.nodes:
            extra = " TLS" if n.tls_ca else ""
            print(f"{n.name:<16} {n.address}{extra}{'' if n.may_store else ' (may not store)'}")
        if not settings.nodes:
            print("no node configured: nothing listens and nothing connects")
    return EXIT_OK


def _echo(args: argparse.Namespace, settings: Any) -> int:
    from engine.net import echo, resolve_node, web_echo

    node = resolve_node(args.node, settings)
    if args.dicomweb:
        ok, message = web_echo(node)
        print(message)
        return EXIT_OK if ok else EXIT_ERROR
    result = echo(node, aet=_aet(args, settings))
    print(result.message)
    return EXIT_OK if result.ok else EXIT_ERROR


def _find(args: argparse.Namespace, settings: Any) -> int:
    from engine.net import find_studies, resolve_node, web_find_studies

    if args.dicomweb:
        studies = web_find_studies(
            resolve_node(args.node, settings), patient_id=args.patient_id,
            patient_name=args.patient_name, study_date=args.study_date, modality=args.modality,
        )  # fmt: skip
        return _print_studies(args, studies)
    studies = find_studies(
        resolve_node(args.node, settings), patient_id=args.patient_id,
        patient_name=args.patient_name, study_date=args.study_date, modality=args.modality,
        accession=args.accession, aet=_aet(args, settings),
    )  # fmt: skip
    return _print_studies(args, studies)


def _print_studies(args: argparse.Namespace, studies: list[dict[str, Any]]) -> int:
    for s in studies:
        if args.json:
            print(json.dumps(s, ensure_ascii=False))
        else:
            print(f"{s['StudyDate'] or '--------'}  {s['PatientID']:<12} {s['PatientName']:<24} "
                  f"{'/'.join(s['ModalitiesInStudy']):<8} {s['NumberOfStudyRelatedInstances']!s:>5}  "
                  f"{s['StudyInstanceUID']}")  # fmt: skip
    return EXIT_OK


def _get(args: argparse.Namespace, settings: Any) -> int:
    from engine.net import (
        InstanceCache,
        get_study,
        listener_tls,
        move_study,
        resolve_node,
        web_get_study,
    )

    cache = InstanceCache(Path(args.out))
    if args.dicomweb:
        result = web_get_study(resolve_node(args.node, settings), args.study, cache,
                               progress=stderr_progress)  # fmt: skip
        print(result.message)
        return EXIT_OK
    if args.move:
        port = args.port if args.port is not None else settings.port  # the Listener checks it
        result = move_study(resolve_node(args.node, settings), args.study, cache,
                            aet=_aet(args, settings), port=port,
                            ssl_context=listener_tls(settings), progress=stderr_progress)  # fmt: skip
        print(result.message)
        return EXIT_OK
    result = get_study(resolve_node(args.node, settings), args.study, cache,
                       aet=_aet(args, settings), progress=stderr_progress)  # fmt: skip
    print(result.message)
    return EXIT_OK if not result.failed else EXIT_ERROR


def _send(args: argparse.Namespace, settings: Any) -> int:
    from engine.net import resolve_node, send_files, web_send_files

    files: list[Path] = []
    for raw in args.paths:
        p = Path(raw)
        files.extend(sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p])
    node = resolve_node(args.node, settings)
    if args.dicomweb:
        result = web_send_files(node, files, progress=stderr_progress)
    else:
        result = send_files(node, files, aet=_aet(args, settings), progress=stderr_progress)
    print(f"{result.sent} sent, {len(result.failed)} not sent")
    for path, why in result.failed:
        print(f"  {path}: {why}")
    return EXIT_OK if not result.failed else EXIT_ERROR


def _listen(args: argparse.Namespace, settings: Any) -> int:
    from dataclasses import replace

    from engine.net import InstanceCache, Listener, listener_tls

    allowed: list[tuple[str, str | None]] = [(n.aet, n.host) for n in settings.nodes if n.may_store]
    for spec in args.allow:
        aet, _, host = spec.partition("@")
        allowed.append((aet, host or None))
    port = args.port if args.port is not None else settings.port  # the Listener checks both
    if not allowed:
        sys.stderr.write("error: no caller may store here: configure a node or give --allow\n")
        return EXIT_USAGE
    if args.tls_cert or args.tls_key:
        settings = replace(settings, tls_cert=args.tls_cert, tls_key=args.tls_key,
                           tls_peer_ca=None)  # fmt: skip
    listener = Listener(InstanceCache(Path(args.out)), port=port,
                        aet=_aet(args, settings), host=args.host, allowed=allowed,
                        on_stored=lambda s: print(f"stored {s.path.name}", flush=True),
                        ssl_context=listener_tls(settings))  # fmt: skip
    listener.start()
    print(f"listening{' (TLS)' if listener.ssl_context else ''} as {listener.aet} on port "
          f"{listener.port}; stores from "
          f"{', '.join(a + ('@' + h if h else '') for a, h in allowed)}", flush=True)  # fmt: skip
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    listener.stop()  # finishes the instance being written
    print(f"stopped; {listener.received} instance(s) received", flush=True)
    return EXIT_OK
