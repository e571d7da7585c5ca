"""DICOMweb with a configured node (``dicomweb-client``): QIDO-RS, WADO-RS and STOW-RS.

The node's ``dicomweb`` base URL is the only address contacted (the clinic's
own server on its LAN); a session that ignores proxy settings from the
environment keeps requests from leaving through a proxy. Results have the
same shapes as the DIMSE functions of :mod:`engine.net.dimse`, and retrieved
instances go into the same :class:`~engine.net.cache.InstanceCache`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.net.audit import audit
from engine.net.cache import InstanceCache, Stored
from engine.net.dimse import (
    SERIES_KEYS,
    STUDY_KEYS,
    PeerError,
    RetrieveResult,
    SendResult,
    series_order,
)
from engine.net.nodes import NetConfigError, Node
from engine.net.problems import web_problem
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

TIMEOUT_S = 20.0


def _client(node: Node) -> Any:
    """dicomweb-client's client for the node's configured base URL, and for nothing else:
    its session ignores proxies from the environment and trusts the node's CA file."""
    if not node.dicomweb:
        raise NetConfigError(f"Node “{node.name}” has no DICOMweb address configured.")
    from dicomweb_client.api import DICOMwebClient
    from dicomweb_client.session_utils import create_session

    session = create_session()
    session.trust_env = False  # no proxy from the environment: only the configured server
    if node.tls_ca:
        session.verify = node.tls_ca
    client = DICOMwebClient(url=node.dicomweb.rstrip("/"), session=session, timeout=TIMEOUT_S)
    # One attempt, as for DIMSE: its default retries with back-off made "no answer" take 30 s.
    client.set_http_retry_params(retry=False)
    return client


def _call(node: Node, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, its transport errors (OSErrors) turned into a :class:`PeerError`."""
    try:
        return fn(*args, **kwargs)
    except OSError as exc:  # dicomweb-client's HTTP errors are OSErrors
        response = getattr(exc, "response", None)
        if response is not None:
            raise PeerError(
                f"{node.name} ({node.dicomweb}) refused the {what}: HTTP "
                f"{getattr(response, 'status_code', '?')}."
            ) from exc
        raise PeerError(web_problem(node, what, exc, TIMEOUT_S)) from exc


def _json_value(item: dict[str, Any], key: str) -> Any:
    from pydicom.datadict import tag_for_keyword

    tag = f"{tag_for_keyword(key):08X}"
    values = item.get(tag, {}).get("Value", [])
    if key == "ModalitiesInStudy":
        return [str(v) for v in values]
    if key.startswith("NumberOf"):
        return int(values[0]) if values else None
    if not values:
        return ""
    if key == "SeriesNumber":
        return str(values[0])
    v = values[0]
    return str(v.get("Alphabetic", "")) if isinstance(v, dict) else str(v)


def web_echo(node: Node) -> tuple[bool, str]:
    """A QIDO-RS request that must answer: whether the server speaks DICOMweb, and how fast."""
    started = time.perf_counter()
    try:
        _call(node, "capability check", _client(node).search_for_studies, limit=1)
    except PeerError as exc:
        audit("echo", node.name, result="failed", detail=exc.user_message)
        return False, exc.user_message
    message = (
        f"DICOMweb at {node.dicomweb} answered in {(time.perf_counter() - started) * 1000:.0f} ms"
    )
    audit("echo", node.name, detail=message)
    return True, message


def web_find_studies(node: Node, *, patient_id: str = "", patient_name: str = "",
                     study_date: str = "", modality: str = "",
                     progress: Progress = no_progress,
                     cancel: CancelToken | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """QIDO-RS study search: one dict per study, with :data:`~engine.net.dimse.STUDY_KEYS`."""
    filters = {k: v for k, v in (("PatientID", patient_id), ("PatientName", patient_name),
                                 ("StudyDate", study_date), ("ModalitiesInStudy", modality)) if v}  # fmt: skip
    found = _call(node, "query", _client(node).search_for_studies,
                  search_filters=filters, fields=list(STUDY_KEYS))  # fmt: skip
    out = [{k: _json_value(item, k) for k in STUDY_KEYS} for item in found]
    audit(
        "find",
        node.name,
        count=len(out),
        detail="DICOMweb " + (" ".join(filters.values()) or "all studies"),
    )
    return out


def web_find_series(node: Node, study_instance_uid: str, *, progress: Progress = no_progress,
                    cancel: CancelToken | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """QIDO-RS series search of a study: one dict per series, with
    :data:`~engine.net.dimse.SERIES_KEYS`, in series-number order."""
    found = _call(node, "query", _client(node).search_for_series,
                  study_instance_uid=study_instance_uid, fields=list(SERIES_KEYS))  # fmt: skip
    out = [{k: _json_value(item, k) for k in SERIES_KEYS} for item in found]
    out.sort(key=series_order)
    audit("find", node.name, study=study_instance_uid, count=len(out), detail="DICOMweb series")
    return out


def web_get_study(node: Node, study_instance_uid: str, cache: InstanceCache, *,
                  series_instance_uid: str = "",
                  on_stored: Callable[[Stored], None] | None = None,
                  progress: Progress = no_progress,
                  cancel: CancelToken | None = None) -> RetrieveResult:  # fmt: skip
    """WADO-RS: the study's (or one series') instances into ``cache`` (instances already here
    are skipped)."""
    client = _client(node)
    result = RetrieveResult(node.name, study_instance_uid)
    scope = {"series_instance_uid": series_instance_uid} if series_instance_uid else {}
    listed = _call(node, "query", client.search_for_instances, study_instance_uid=study_instance_uid,
                   fields=["SOPInstanceUID", "SeriesInstanceUID"], **scope)  # fmt: skip
    wanted = [
        (_json_value(i, "SeriesInstanceUID"), _json_value(i, "SOPInstanceUID")) for i in listed
    ]
    missing = [(se, sop) for se, sop in wanted if not cache.has(sop)]
    result.already_here = len(wanted) - len(missing)
    for n, (series, sop) in enumerate(missing):
        check_cancelled(cancel)
        ds = _call(node, "retrieve", client.retrieve_instance, study_instance_uid, series, sop,
                   media_types=(("application/dicom", "*"),))  # fmt: skip
        stored = cache.store(ds, source=f"wado:{node.name}")
        if on_stored is not None:
            on_stored(stored)
        result.received += 1
        progress((n + 1) / max(len(missing), 1), f"{n + 1} of {len(missing)} instances")
    result.files = cache.study_files(study_instance_uid, series_instance_uid)
    result.message = f"{result.received} instances received, {result.already_here} already here"
    audit("retrieve", node.name, study=study_instance_uid, count=result.received,
          detail="DICOMweb " + result.message)  # fmt: skip
    cache.evict()
    return result


def web_send_files(node: Node, paths: Sequence[Path], *, progress: Progress = no_progress,
                   cancel: CancelToken | None = None) -> SendResult:  # fmt: skip
    """STOW-RS the files (one request per file, so one bad file does not sink the rest)."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    client = _client(node)
    result = SendResult(node.name)
    for n, p in enumerate(paths):
        check_cancelled(cancel)
        try:
            ds = dcmread(p)
        except (InvalidDicomError, OSError, ValueError) as exc:
            result.failed.append((str(p), f"not a DICOM file ({exc})"))
            continue
        try:
            _call(node, "store", client.store_instances, [ds])
            result.sent += 1
        except PeerError as exc:
            result.failed.append((str(p), exc.user_message))
        progress((n + 1) / max(len(paths), 1), f"{n + 1} of {len(paths)} sent")
    audit("send", node.name, count=result.sent, result="ok" if not result.failed else "partial",
          detail=f"DICOMweb; {len(result.failed)} failed")  # fmt: skip
    return result
