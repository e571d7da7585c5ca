"""DIMSE with configured peers (pynetdicom): verify, query, retrieve, send and receive.

No protocol code here: :mod:`pynetdicom` does the associations and messages;
this module chooses what to ask for, turns peers' answers into plain results
and messages, and puts every instance that arrives into the
:class:`~engine.net.cache.InstanceCache`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import EngineError, OperationCancelled
from engine.net.audit import audit
from engine.net.cache import BackgroundWriter, CacheFullError, InstanceCache, Stored
from engine.net.guard import MAX_ASSOCIATIONS, guard_connection, received_instance
from engine.net.nodes import (
    DEFAULT_AET,
    NetConfigError,
    NetSettings,
    Node,
    check_aet,
    check_port,
)
from engine.net.problems import cannot_connect, listen_problem, no_association
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

log = logging.getLogger(__name__)

#: Seconds to wait for a peer to answer an association, a message or the network.
TIMEOUT_S = 10.0
#: The study-level keys a query asks for (returned as the peer has them).
STUDY_KEYS = (
    "StudyInstanceUID", "PatientID", "PatientName", "PatientBirthDate", "StudyDate",
    "StudyTime", "StudyDescription", "AccessionNumber", "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
)  # fmt: skip


class PeerError(EngineError):
    """A peer refused, failed or did not answer."""


def accepted_syntaxes() -> list[str]:
    """Transfer syntaxes Stethos decodes: offered when retrieving, accepted when receiving."""
    from pydicom import uid

    from engine.dicom.decoders import PLUGIN_ORDER

    plain = [uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian,
             uid.DeflatedExplicitVRLittleEndian, uid.ExplicitVRBigEndian]  # fmt: skip
    return plain + [ts for ts in PLUGIN_ORDER if ts not in plain]


def _ae(aet: str) -> Any:
    from pynetdicom import AE

    ae = AE(ae_title=aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT_S
    ae.connection_timeout = TIMEOUT_S
    return ae


def _tls(node: Node) -> tuple[Any, str] | None:
    if not node.tls_ca:
        return None
    import ssl

    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=node.tls_ca)
    return context, node.host


def listener_tls(settings: NetSettings) -> Any:
    """The TLS context of our listener from the settings (``None``: plain DICOM).

    Raises
    ------
    NetConfigError
        When the certificate or key cannot be loaded (named, with the reason).
    """
    if not settings.tls_cert or not settings.tls_key:
        return None
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
        if settings.tls_peer_ca:
            context.load_verify_locations(cafile=settings.tls_peer_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise NetConfigError(
            f"This workstation's TLS certificate or key cannot be used: {exc}. Check the files "
            "in the DICOM network settings."
        ) from exc
    return context


def _associate(ae: Any, node: Node, **kwargs: Any) -> Any:
    """An established association with ``node``, or a :class:`PeerError` saying why not.

    The peer's reject is read from the PDU as it arrives, not from the association's state:
    a peer that closes the connection right after its A-ASSOCIATE-RJ (Orthanc does) can
    leave pynetdicom reporting an abort instead of the rejection it received. Without a
    reject, :func:`~engine.net.problems.no_association` tells apart a connection that could
    not be made, one that was made and then ended without an answer, and a silent peer.
    """
    from pynetdicom import evt
    from pynetdicom.pdu import A_ASSOCIATE_RJ

    rejects: list[Any] = []
    opened: list[bool] = []
    handlers = [*kwargs.pop("evt_handlers", []),
                (evt.EVT_CONN_OPEN, lambda event: opened.append(True)),
                (evt.EVT_PDU_RECV, lambda event: rejects.append(event.pdu)
                 if isinstance(event.pdu, A_ASSOCIATE_RJ) else None)]  # fmt: skip
    started = time.monotonic()
    try:
        assoc = ae.associate(node.host, node.port, ae_title=node.aet, tls_args=_tls(node),
                             evt_handlers=handlers, **kwargs)  # fmt: skip
    except OSError as exc:  # pynetdicom looks the host name up before it connects
        raise PeerError(cannot_connect(node, exc)) from exc
    if assoc.is_established:
        return assoc
    why = no_association(node, rejected=assoc.is_rejected or bool(rejects),
                         reject=rejects[-1] if rejects else None, opened=bool(opened),
                         waited_s=time.monotonic() - started, timeout_s=TIMEOUT_S)  # fmt: skip
    raise PeerError(why)


@dataclass(frozen=True)
class EchoResult:
    node: str
    ok: bool
    milliseconds: float
    message: str


def echo(node: Node, *, aet: str = DEFAULT_AET) -> EchoResult:
    """C-ECHO: whether ``node`` answers, and how fast (never raises for a peer problem)."""
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = _ae(aet)
    ae.add_requested_context(Verification)
    started = time.perf_counter()
    try:
        assoc = _associate(ae, node)
    except PeerError as exc:
        audit("echo", node.name, result="failed", detail=exc.user_message)
        return EchoResult(node.name, False, 0.0, exc.user_message)
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    ms = (time.perf_counter() - started) * 1000.0
    ok = bool(status) and int(status.Status) == 0
    message = (f"connected to {node.address} in {ms:.0f} ms" if ok
               else f"{node.name} answered the echo with status {_status(status)}")  # fmt: skip
    audit("echo", node.name, result="ok" if ok else "failed", detail=message)
    return EchoResult(node.name, ok, ms, message)


def _status(status: Any) -> str:
    return f"0x{int(status.Status):04X}" if status and "Status" in status else "none (aborted)"


def _value(ds: Any, key: str) -> Any:
    v = ds.get(key, "")
    if hasattr(v, "value"):
        v = v.value
    if key == "ModalitiesInStudy":
        return (
            list(v)
            if isinstance(v, list | tuple) or (hasattr(v, "__iter__") and not isinstance(v, str))
            else ([v] if v else [])
        )
    if key.startswith("NumberOf"):
        try:
            return int(v)
        except (TypeError, ValueError):
            return None
    return str(v)


def find_studies(
    node: Node, *, patient_id: str = "", patient_name: str = "", study_date: str = "",
    modality: str = "", accession: str = "", aet: str = DEFAULT_AET,
    progress: Progress = no_progress, cancel: CancelToken | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """C-FIND at study level (study root): one dict per study, with :data:`STUDY_KEYS`."""
    progress(0.0, f"Asking {node.name}")
    from pydicom.dataset import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND  # type: ignore[attr-defined]

    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    for key in STUDY_KEYS:
        setattr(query, key, "")
    query.PatientID = patient_id
    query.PatientName = patient_name
    query.StudyDate = study_date
    query.ModalitiesInStudy = modality
    query.AccessionNumber = accession
    ae = _ae(aet)
    ae.add_requested_context(FIND)
    assoc = _associate(ae, node)
    out = []
    try:
        for status, identifier in assoc.send_c_find(query, FIND):
            check_cancelled(cancel)
            if not status:
                raise PeerError(f"{node.name} stopped answering the query.")
            code = int(status.Status)
            if code in (0xFF00, 0xFF01) and identifier is not None:
                out.append({k: _value(identifier, k) for k in STUDY_KEYS})
            elif code not in (0x0000, 0xFF00, 0xFF01):
                raise PeerError(f"{node.name} failed the query (status 0x{code:04X}).")
    finally:
        if assoc.is_established:
            assoc.release()
    audit("find", node.name, count=len(out), detail=_query_text(patient_id, patient_name,
                                                                study_date, modality))  # fmt: skip
    return out


#: The series-level keys a series query asks for.
SERIES_KEYS = ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
               "NumberOfSeriesRelatedInstances")  # fmt: skip


def find_series(
    node: Node, study_instance_uid: str, *, aet: str = DEFAULT_AET,
    progress: Progress = no_progress, cancel: CancelToken | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """C-FIND at series level: one dict per series of the study (:data:`SERIES_KEYS`),
    in series-number order."""
    from pydicom.dataset import Dataset

    progress(0.0, f"Asking {node.name} for the series")
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_instance_uid
    for key in SERIES_KEYS:
        setattr(query, key, "")
    out = [{k: _value(ident, k) for k in SERIES_KEYS} for ident in _find(node, aet, query)]
    check_cancelled(cancel)
    out.sort(key=series_order)
    audit("find", node.name, study=study_instance_uid, count=len(out), detail="series")
    return out


def series_order(series: dict[str, Any]) -> tuple[float, str]:
    """Sort key of a series found by a query: its number (none last), then its UID."""
    try:
        number = float(series.get("SeriesNumber") or "inf")
    except ValueError:
        number = float("inf")
    return number, str(series.get("SeriesInstanceUID", ""))


def _query_text(*parts: str) -> str:
    return " ".join(p for p in parts if p) or "all studies"


@dataclass
class RetrieveResult:
    """What a retrieve or a receive brought."""

    node: str
    study_instance_uid: str = ""
    received: int = 0
    already_here: int = 0
    failed: int = 0
    files: list[Path] = field(default_factory=list)
    message: str = ""


def _storage_contexts(ae: Any, *, scp: bool) -> None:
    from pynetdicom import StoragePresentationContexts

    syntaxes = accepted_syntaxes()
    for context in StoragePresentationContexts:
        if scp:
            ae.add_supported_context(context.abstract_syntax, syntaxes)
        else:
            ae.add_requested_context(context.abstract_syntax, syntaxes)


def get_study(
    node: Node, study_instance_uid: str, cache: InstanceCache, *, aet: str = DEFAULT_AET,
    series_instance_uid: str = "", on_stored: Callable[[Stored], None] | None = None,
    progress: Progress = no_progress, cancel: CancelToken | None = None,
) -> RetrieveResult:  # fmt: skip
    """C-GET a study (or one of its series) into ``cache``; instances already there are not
    fetched again. ``on_stored`` is called (on the network thread) with each instance stored.

    Raises
    ------
    PeerError
        The peer refused or failed (what arrived is kept).
    CacheFullError
        The disk filled up (what arrived is kept).
    OperationCancelled
        ``cancel`` was set (a C-CANCEL is sent; what arrived is kept).
    """
    from pydicom.dataset import Dataset
    from pynetdicom import build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET  # type: ignore[attr-defined]

    result = RetrieveResult(node.name, study_instance_uid)
    series = series_instance_uid
    known = None if cache.study_files(study_instance_uid, series) else _study_classes(
        node, study_instance_uid, aet, series
    )  # fmt: skip
    if known is not None:  # nothing of it here yet: no need to list every instance first
        instances, expected = [("", c) for c in known[0]], known[1]
        uids, missing = [], []
    else:
        instances = _study_instances(node, study_instance_uid, aet, series)
        uids = [u for u, _ in instances]
        missing = [u for u in uids if not cache.has(u)]
        expected = len(missing)
    result.already_here = len(uids) - len(missing)
    if uids and not missing:
        result.files = cache.study_files(study_instance_uid, series)
        result.message = f"all {len(uids)} instances are already here"
        audit("retrieve", node.name, study=study_instance_uid, count=0, detail=result.message)
        return result
    total = max(expected, 1)
    problem: list[BaseException] = []
    arrived = [0]

    def on_store(event: Any) -> int:
        if problem:
            return 0xA700
        try:
            check_cancelled(cancel)
            ds, encoded = received_instance(event)
            writer.put(ds, source=f"get:{node.name}", encoded=encoded)
        except (CacheFullError, OperationCancelled) as exc:
            problem.append(exc)
            return 0xA700
        except Exception as exc:  # a dataset that cannot be read: refuse it, go on
            log.warning("instance from %s not stored: %r", node.name, exc)
            result.failed += 1
            return 0xC000
        arrived[0] += 1
        progress(arrived[0] / total, f"{arrived[0]} of {total} instances")
        return 0x0000

    ae = _ae(aet)
    ae.add_requested_context(GET)
    classes = sorted({c for _, c in instances if c})
    syntaxes = accepted_syntaxes()
    if classes and len(classes) * len(syntaxes) < 127:
        # One context per class and transfer syntax: the peer sends each instance as it is
        # stored, without transcoding (which a peer may not do).
        for cls in classes:
            for ts in syntaxes:
                ae.add_requested_context(cls, [ts])
    else:
        _storage_contexts(ae, scp=False)
    roles = [build_role(c, scp_role=True)
             for c in dict.fromkeys(cx.abstract_syntax for cx in ae.requested_contexts) if c != GET]  # fmt: skip
    writer = BackgroundWriter(cache, on_stored=on_stored)
    try:
        assoc = _associate(ae, node, ext_neg=roles[:127],
                           evt_handlers=[(evt.EVT_C_STORE, on_store)])  # fmt: skip
    except PeerError:
        writer.close()
        raise
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES" if series else "STUDY"
    query.StudyInstanceUID = study_instance_uid
    if series:
        query.SeriesInstanceUID = series
    if result.already_here:  # fetch only what is missing (a list of UIDs, PS3.4 C.2.2.2.2)
        query.QueryRetrieveLevel = "IMAGE"
        query.SOPInstanceUID = missing
    last = None
    try:
        for status, _ in assoc.send_c_get(query, GET):
            if problem and isinstance(problem[0], OperationCancelled):
                assoc.send_c_cancel(1, None)
            last = status
    finally:
        if assoc.is_established:
            assoc.release()
        writer.close()  # everything acknowledged is written and indexed before we go on
    result.received, result.failed = writer.stored, result.failed + writer.failed
    if writer.error is not None and not problem:
        problem.append(writer.error)
    result.files = cache.study_files(study_instance_uid, series)
    if problem:
        audit("retrieve", node.name, study=study_instance_uid, count=result.received,
              result="stopped", detail=str(problem[0]))  # fmt: skip
        raise problem[0]
    if last is None or not last:
        result.message = f"{node.name} stopped during the transfer; {result.received} received"
        audit("retrieve", node.name, study=study_instance_uid, count=result.received,
              result="failed", detail=result.message)  # fmt: skip
        raise PeerError(result.message + " (kept; a new retrieve fetches the rest).")
    result.message = f"{result.received} instances received, {result.already_here} already here"
    audit("retrieve", node.name, study=study_instance_uid, count=result.received,
          result="ok" if not result.failed else "partial", detail=result.message)  # fmt: skip
    cache.evict()  # least recently used studies beyond the cache's limit (never this one)
    return result


def _find(node: Node, aet: str, query: Any) -> list[Any]:
    """Every identifier a study-root C-FIND returns."""
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND  # type: ignore[attr-defined]

    ae = _ae(aet)
    ae.add_requested_context(FIND)
    out = []
    assoc = _associate(ae, node)
    try:
        for status, ident in assoc.send_c_find(query, FIND):
            if status and int(status.Status) in (0xFF00, 0xFF01) and ident is not None:
                out.append(ident)
    finally:
        if assoc.is_established:
            assoc.release()
    return out


def _study_classes(
    node: Node, study_instance_uid: str, aet: str, series_instance_uid: str = ""
) -> tuple[list[str], int] | None:
    """``(SOP classes, number of instances)`` of a study (or series) from C-FINDs, when the
    peer returns the optional keys SOPClassesInStudy and NumberOf…RelatedInstances;
    ``None`` when it does not."""
    from pydicom.dataset import Dataset

    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = study_instance_uid
    q.SOPClassesInStudy = ""
    q.NumberOfStudyRelatedInstances = ""
    found = _find(node, aet, q)
    if len(found) != 1:
        return None
    value = found[0].get("SOPClassesInStudy")
    values = [str(v) for v in ([value] if value is None or isinstance(value, str) else value) if v]
    n = _value(found[0], "NumberOfStudyRelatedInstances") or 0
    if series_instance_uid:
        q = Dataset()
        q.QueryRetrieveLevel = "SERIES"
        q.StudyInstanceUID = study_instance_uid
        q.SeriesInstanceUID = series_instance_uid
        q.NumberOfSeriesRelatedInstances = ""
        found = _find(node, aet, q)
        n = (_value(found[0], "NumberOfSeriesRelatedInstances") or 0) if len(found) == 1 else 0
    return (values, n) if values and n else None


def _study_instances(
    node: Node, study_instance_uid: str, aet: str, series_instance_uid: str = ""
) -> list[tuple[str, str]]:
    """``(SOP Instance UID, SOP Class UID)`` of a study's (or one series') instances."""
    from pydicom.dataset import Dataset

    q = Dataset()
    q.QueryRetrieveLevel = "SERIES"
    q.StudyInstanceUID = study_instance_uid
    q.SeriesInstanceUID = ""
    listed = (
        [str(s.get("SeriesInstanceUID", "")) for s in _find(node, aet, q)]
        if not series_instance_uid
        else [series_instance_uid]
    )
    out = []
    for series in listed:
        qi = Dataset()
        qi.QueryRetrieveLevel = "IMAGE"
        qi.StudyInstanceUID = study_instance_uid
        qi.SeriesInstanceUID = series
        qi.SOPInstanceUID = ""
        qi.SOPClassUID = ""
        for ident in _find(node, aet, qi):
            out.append((str(ident.get("SOPInstanceUID", "")), str(ident.get("SOPClassUID", ""))))
    return [(u, c) for u, c in out if u]


def move_study(
    node: Node, study_instance_uid: str, cache: InstanceCache, *, aet: str = DEFAULT_AET,
    port: int, host: str = "", series_instance_uid: str = "",
    listener: Listener | None = None, ssl_context: Any = None,
    on_stored: Callable[[Stored], None] | None = None, progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> RetrieveResult:  # fmt: skip
    """C-MOVE a study (or one series) to our own listener (AE ``aet`` on ``port``), which
    writes into ``cache``.

    The peer must know ``aet`` as a move destination (its own configuration).
    Without ``listener``, one runs for the duration of the move and accepts only
    ``node``; with the application's running ``listener`` (which must accept
    ``node``), that one receives.
    """
    from pydicom.dataset import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE  # type: ignore[attr-defined]

    result = RetrieveResult(node.name, study_instance_uid)
    series = series_instance_uid
    before = len(cache.study_files(study_instance_uid, series))
    own = listener is None
    if listener is None:
        listener = Listener(cache, port=port, aet=aet, host=host, allowed=[(node.aet, None)],
                            ssl_context=ssl_context, on_stored=on_stored)  # fmt: skip
        listener.start()
    elif not listener._allowed(node.aet, node.host):
        raise PeerError(
            f"The running listener does not accept stores from {node.name}: allow the node to "
            "store to this workstation, or retrieve by C-GET."
        )
    try:
        ae = _ae(aet)
        ae.add_requested_context(MOVE)
        assoc = _associate(ae, node)
        query = Dataset()
        query.QueryRetrieveLevel = "SERIES" if series else "STUDY"
        query.StudyInstanceUID = study_instance_uid
        if series:
            query.SeriesInstanceUID = series
        last = None
        try:
            for status, _ in assoc.send_c_move(query, aet, MOVE):
                if cancel is not None and cancel.cancelled:
                    assoc.send_c_cancel(1, None)
                if status and "NumberOfCompletedSuboperations" in status:
                    done = int(status.NumberOfCompletedSuboperations)
                    left = int(status.get("NumberOfRemainingSuboperations", 0) or 0)
                    progress(done / max(done + left, 1), f"{done} of {done + left} instances")
                last = status
        finally:
            if assoc.is_established:
                assoc.release()
    finally:
        if own:
            listener.stop()
    check_cancelled(cancel)
    code = int(last.Status) if last else -1
    result.files = cache.study_files(study_instance_uid, series)
    result.received = max(len(result.files) - before, 0)
    if code not in (0x0000, 0xB000):
        result.message = (f"{node.name} ended the move with status "
                          f"{'none' if code < 0 else f'0x{code:04X}'}; {result.received} received")  # fmt: skip
        audit("retrieve", node.name, study=study_instance_uid, count=result.received,
              result="failed", detail=result.message)  # fmt: skip
        raise PeerError(
            result.message + ". Check that the peer knows our AE title as a destination."
        )
    cache.evict()
    result.message = f"{result.received} instances received by C-MOVE"
    audit("retrieve", node.name, study=study_instance_uid, count=result.received,
          detail=result.message)  # fmt: skip
    return result


@dataclass
class SendResult:
    node: str
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def send_files(
    node: Node, paths: Sequence[Path], *, aet: str = DEFAULT_AET,
    progress: Progress = no_progress, cancel: CancelToken | None = None,
) -> SendResult:  # fmt: skip
    """C-STORE DICOM files to ``node`` (each in its own transfer syntax)."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    result = SendResult(node.name)
    datasets = []
    for p in paths:
        try:
            datasets.append((p, dcmread(p)))
        except (InvalidDicomError, OSError, ValueError) as exc:
            result.failed.append((str(p), f"not a DICOM file ({exc})"))
    ae = _ae(aet)
    pairs = sorted(
        {(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for _, ds in datasets}
    )
    for abstract, ts in pairs[:128]:
        ae.add_requested_context(abstract, ts)
    if datasets:
        assoc = _associate(ae, node)
        try:
            for n, (p, ds) in enumerate(datasets):
                check_cancelled(cancel)
                try:
                    status = assoc.send_c_store(ds)
                except ValueError:  # no accepted context for its class and transfer syntax
                    syntax = ds.file_meta.TransferSyntaxUID
                    result.failed.append((str(p), f"{node.name} does not accept "
                                          f"{getattr(syntax, 'name', syntax)} for this kind of object"))  # fmt: skip
                    continue
                if status and int(status.Status) in (0x0000, 0xB000, 0xB007, 0xB006):
                    result.sent += 1
                else:
                    result.failed.append((str(p), f"refused (status {_status(status)})"))
                progress((n + 1) / len(datasets), f"{n + 1} of {len(datasets)} sent")
        finally:
            if assoc.is_established:
                assoc.release()
    audit("send", node.name, count=result.sent, result="ok" if not result.failed else "partial",
          detail=f"{len(result.failed)} failed")  # fmt: skip
    return result


def _addresses(host: str) -> frozenset[str]:
    """A host's addresses on the clinic's network (its name too, when it cannot be looked up)."""
    import ipaddress
    import socket

    try:
        ipaddress.ip_address(host)
        return frozenset({host})  # an address: nothing to look up
    except ValueError:
        pass
    try:
        _, _, found = socket.gethostbyname_ex(host)
    except OSError:
        found = []
    return frozenset({host, *found})


class Listener:
    """A C-STORE listener (storage SCP) writing into an :class:`InstanceCache`.

    Accepts associations only from ``allowed`` callers: ``(AE title, host or
    None)``; others are rejected (and audited). Offers exactly the transfer
    syntaxes Stethos decodes, so an undecodable one is refused in the
    association. ``on_stored`` is called with each :class:`~engine.net.cache.Stored`.
    With ``ssl_context`` (:func:`listener_tls`) it accepts TLS connections only.
    """

    def __init__(
        self, cache: InstanceCache, *, port: int, aet: str = DEFAULT_AET, host: str = "",
        allowed: Iterable[tuple[str, str | None]] = (), on_stored: Any = None,
        ssl_context: Any = None,
    ) -> None:  # fmt: skip
        self.ssl_context = ssl_context
        self.cache = cache
        # Checked here, for every caller (a port over 65535 was an OverflowError at bind, an
        # AE title over 16 characters pynetdicom's ValueError).
        self.port = check_port(port)
        self.aet = check_aet(aet)
        self.host = host
        self.allowed = [(check_aet(a), (h or "").strip() or None) for a, h in allowed]
        #: The allowed callers with their hosts' addresses (a host name is looked up once).
        self._callers = [(a, None if h is None else _addresses(h)) for a, h in self.allowed]
        self.on_stored = on_stored
        self.received = 0
        self._server: Any = None
        self._busy = threading.Lock()
        self._tally: dict[int, dict[str, Any]] = {}
        self._tally_lock = threading.Lock()
        self._timeout_s = TIMEOUT_S

    def _allowed(self, aet: str, host: str) -> bool:
        return any(a == aet and (h is None or host in h) for a, h in self._callers)

    def start(self) -> None:
        """Start listening in background threads.

        Raises
        ------
        PeerError
            When the port cannot be opened (in use, or not allowed).
        """
        from pynetdicom import evt

        ae = _ae(self.aet)
        ae.require_calling_aet = [a for a, _ in self.allowed] or ["(nobody)"]
        _storage_contexts(ae, scp=True)
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

        ae.add_supported_context(Verification)
        ae.maximum_associations = MAX_ASSOCIATIONS
        self._timeout_s = TIMEOUT_S  # the AE's timeouts, fixed now
        handlers = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_REJECTED, self._on_rejected),
                    (evt.EVT_RELEASED, self._on_ended), (evt.EVT_ABORTED, self._on_ended),
                    (evt.EVT_CONN_CLOSE, self._on_ended),
                    (evt.EVT_CONN_OPEN, self._on_connected)]  # fmt: skip
        try:
            self._server = ae.start_server((self.host, self.port), block=False,
                                           evt_handlers=handlers,
                                           ssl_context=self.ssl_context)  # fmt: skip
        except OSError as exc:
            raise PeerError(listen_problem(self.host, self.port, exc), str(exc)) from exc

    def _on_connected(self, event: Any) -> None:
        """A new connection: bounded reads, and a host no allowed caller has is closed at once
        (when every allowed caller names its host)."""
        guard_connection(event, self._timeout_s)
        hosts = [h for _, h in self._callers]
        address = str(event.address[0])
        if hosts and None not in hosts and not any(address in h for h in hosts if h):
            audit("receive", address, result="rejected",
                  detail=f"a connection from {address}, which no allowed caller has")  # fmt: skip
            event.assoc.dul.socket.close()

    def _on_rejected(self, event: Any) -> None:
        requestor = event.assoc.requestor
        caller = str(requestor.ae_title).strip()
        why = (
            "the listener was serving its most connections"
            if any(a == caller for a, _ in self.allowed)
            else "is not allowed to store here"
        )
        audit("receive", caller, result="rejected",
              detail=f"{caller}@{requestor.address}: {why}")  # fmt: skip

    def _on_store(self, event: Any) -> int:
        requestor = event.assoc.requestor
        if not self._allowed(str(requestor.ae_title).strip(), str(requestor.address)):
            audit("receive", str(requestor.ae_title).strip(), result="refused",
                  detail=f"not allowed from {requestor.address}")  # fmt: skip
            return 0x0124  # refused: not authorised
        caller = str(requestor.ae_title).strip()
        with self._busy:  # SIGTERM waits for the instance being written
            try:
                ds, encoded = received_instance(event)  # kept as it arrived
                stored = self.cache.store(ds, source=f"store:{caller}", encoded=encoded)
            except CacheFullError:
                self._count(event.assoc, caller, "", 0, "disk full")
                return 0xA700
            except Exception as exc:  # malformed dataset: refused, the listener goes on
                log.warning("received instance not stored: %r", exc)
                self._count(event.assoc, caller, "", 0, "refused")
                return 0xC000
            self.received += 1
            self._count(event.assoc, caller, stored.study_instance_uid, 1, "")
            if self.received % 100 == 0:
                self.cache.evict()
        if self.on_stored is not None:
            self.on_stored(stored)
        return 0x0000

    def _count(self, assoc: Any, caller: str, study: str, stored: int, problem: str) -> None:
        """Tally an association's instances by study (audited once, when it ends)."""
        with self._tally_lock:
            tally = self._tally.setdefault(id(assoc), {"caller": caller, "studies": {}})
            row = tally["studies"].setdefault(study, {"count": 0, "problems": {}})
            row["count"] += stored
            if problem:
                row["problems"][problem] = row["problems"].get(problem, 0) + 1

    def _on_ended(self, event: Any) -> None:
        with self._tally_lock:
            tally = self._tally.pop(id(event.assoc), None)
        if tally is not None:
            self._audit_tally(tally)

    def _audit_tally(self, tally: dict[str, Any]) -> None:
        """One audit entry per study an association stored: who, which study, how many."""
        for study, row in tally["studies"].items():
            problems = ", ".join(f"{n} {why}" for why, n in row["problems"].items())
            audit("receive", tally["caller"], study=study, count=row["count"],
                  result="ok" if not problems else "partial" if row["count"] else "failed",
                  detail=problems)  # fmt: skip

    def stop(self) -> None:
        """Stop listening, after the instance being written (if any) is done."""
        with self._busy:
            if self._server is not None:
                self._server.shutdown()
                self._server = None
        with self._tally_lock:  # associations cut short by the stop
            tallies, self._tally = list(self._tally.values()), {}
        for tally in tallies:
            self._audit_tally(tally)
