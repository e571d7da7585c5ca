"""Receive a 300-slice 512² CT series by C-STORE: Stethos' listener against dcmtk's storescp.

Usage::

    .venv/bin/python benchmarks/net_receive.py [--slices 300] [--repeats 3]

Writes a synthetic CT series (``engine.dicom.synthetic``, Explicit VR Little
Endian, about 0.5 MB a slice) into a temporary folder, then for each repeat
sends it twice with dcmtk's ``storescu`` over loopback — once to dcmtk's
``storescp`` and once to Stethos' :class:`engine.net.Listener` (in this
process, writing into a fresh :class:`engine.net.InstanceCache`) — and times
each ``storescu`` run end to end (association, every C-STORE and its response,
release). For scale it also sends it to a bare pynetdicom storage SCP whose
handler answers success and keeps nothing: the most any listener built on
pynetdicom can reach here. The order rotates from one repeat to the next. It
prints each time and rate, and the ratio of the median rates (Stethos /
storescp; the issue's target is ≥ 0.9).

The baseline is ``storescp`` in its default single-process mode with default
options (``-aet STORESCP -od DIR PORT``: max receive PDU 16 KiB, files named
from the SOP Instance UID, written as received in the file format), run with
dcmtk's environment variable ``TCP_NODELAY=1`` (so is ``storescu``, for both
receivers). Without it this Debian build of dcmtk leaves Nagle's algorithm on,
and every C-STORE response of storescp waits for the sender's delayed ACK
(about 40 ms an instance, ~20 instances/s here) — a network stall, not the cost
of writing to disk; ``--dcmtk-defaults`` measures that configuration. It writes
each file before answering the C-STORE, but does *not* fsync it (storescp has
no option to), writes it in place (no temporary file and rename) and keeps no
index. Stethos writes each instance as it arrived to a temporary file, fsyncs
it, renames it to the SHA-256 of its bytes and indexes it in SQLite (write-ahead
log, synced), all before answering; the audit entry is written once per
association and study. Afterwards every instance must be in the index
(``InstanceCache.study_files``) and storescp's folder must hold every file.

The network audit trail goes to the temporary folder (``STETHOS_DATA_DIR``).
Exit status: 0 (whether or not the target is met), 1 when instances were
lost, 2 when dcmtk (``storescu``, ``storescp``) is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.dicom.synthetic import write_ct_series  # noqa: E402
from engine.net import InstanceCache, Listener  # noqa: E402

TARGET = 0.9


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"storescp exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"storescp is not listening on port {port}")


def _env(nodelay: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    if nodelay:
        env["TCP_NODELAY"] = "1"  # dcmtk: set TCP_NODELAY on its sockets (Nagle off)
    return env


def _send(storescu: str, port: int, aec: str, series: Path, nodelay: bool) -> tuple[float, int]:
    """Seconds for one storescu run of the whole series, and its exit status."""
    cmd = [storescu, "-aet", "STORESCU", "-aec", aec, "+sd", "127.0.0.1", str(port), str(series)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, check=False, env=_env(nodelay))
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
    return elapsed, done.returncode


def _run_storescp(
    storescp: str, storescu: str, series: Path, out: Path, nodelay: bool
) -> tuple[float, int, int]:
    out.mkdir()
    port = _port()
    proc = subprocess.Popen([storescp, "-aet", "STORESCP", "-od", str(out), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env(nodelay))  # fmt: skip
    try:
        _wait_listening(port, proc)
        elapsed, rc = _send(storescu, port, "STORESCP", series, nodelay)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return elapsed, rc, sum(1 for f in out.iterdir() if f.is_file())


def _run_ours(
    storescu: str, series: Path, root: Path, study: str, nodelay: bool
) -> tuple[float, int, int, int]:
    cache = InstanceCache(root)
    port = _port()
    listener = Listener(cache, port=port, aet="STETHOS", host="127.0.0.1",
                        allowed=[("STORESCU", None)])  # fmt: skip
    listener.start()
    try:
        elapsed, rc = _send(storescu, port, "STETHOS", series, nodelay)
    finally:
        listener.stop()
    indexed = len(cache.study_files(study))
    cache.close()
    return elapsed, rc, listener.received, indexed


def _run_bare(storescu: str, series: Path, nodelay: bool) -> tuple[float, int, int]:
    """A pynetdicom storage SCP that answers every C-STORE with success and keeps nothing."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import CTImageStorage  # type: ignore[attr-defined]

    count = [0]

    def on_store(event: object) -> int:
        count[0] += 1
        return 0x0000

    ae = AE(ae_title="BARE")
    ae.add_supported_context(CTImageStorage, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    port = _port()
    server = ae.start_server(("127.0.0.1", port), block=False,
                             evt_handlers=[(evt.EVT_C_STORE, on_store)])  # fmt: skip
    assert server is not None  # block=False returns the running server
    try:
        elapsed, rc = _send(storescu, port, "BARE", series, nodelay)
    finally:
        server.shutdown()
    return elapsed, rc, count[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--dcmtk-defaults",
        action="store_true",
        help="run storescp and storescu without TCP_NODELAY=1 (Nagle on)",
    )
    args = parser.parse_args(argv)
    nodelay = not args.dcmtk_defaults
    storescp, storescu = shutil.which("storescp"), shutil.which("storescu")
    if not storescp or not storescu:
        print("needs dcmtk (storescp, storescu)")
        return 2
    with tempfile.TemporaryDirectory(prefix="stethos-recv-bench-") as tmp:
        folder = Path(tmp)
        os.environ["STETHOS_DATA_DIR"] = str(folder / "data")  # the audit trail goes here
        files = write_ct_series(folder / "ct", args.slices, rows=512, cols=512, seed=3)
        import pydicom

        study = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        n = len(files)
        print(
            f"series: {n} slices 512×512, {size_mb:.0f} MB, sent by storescu over loopback "
            f"({'dcmtk defaults: Nagle on' if args.dcmtk_defaults else 'TCP_NODELAY=1'})"
        )
        t_dcmtk: list[float] = []
        t_ours: list[float] = []
        t_bare: list[float] = []
        lost = False
        kinds = ["dcmtk", "ours", "bare"]
        for r in range(args.repeats):
            line = {}
            for which in kinds[r % 3 :] + kinds[: r % 3]:
                if which == "bare":
                    t, rc, got = _run_bare(storescu, folder / "ct", nodelay)
                    t_bare.append(t)
                    line[which] = f"bare pynetdicom {t:5.2f} s {n / t:6.1f}/s ({got} answered)"
                elif which == "dcmtk":
                    t, rc, got = _run_storescp(storescp, storescu, folder / "ct",
                                               folder / f"storescp-{r}", nodelay)  # fmt: skip
                    t_dcmtk.append(t)
                    lost |= got != n or rc != 0
                    line[which] = (f"storescp {t:6.2f} s {n / t:6.1f}/s ({got} files"
                                   f"{'' if rc == 0 else f', storescu exit {rc}'})")  # fmt: skip
                else:
                    t, rc, received, indexed = _run_ours(storescu, folder / "ct",
                                                         folder / f"ours-{r}", study, nodelay)  # fmt: skip
                    t_ours.append(t)
                    lost |= indexed != n or rc != 0
                    line[which] = (f"stethos {t:6.2f} s {n / t:6.1f}/s ({received} received, "
                                   f"{indexed} indexed{'' if rc == 0 else f', storescu exit {rc}'})")  # fmt: skip
            print(f"run {r + 1}: {line['dcmtk']}   {line['ours']}   {line['bare']}")
            shutil.rmtree(folder / f"storescp-{r}", ignore_errors=True)
            shutil.rmtree(folder / f"ours-{r}", ignore_errors=True)
        rate_dcmtk = n / statistics.median(t_dcmtk)
        rate_ours = n / statistics.median(t_ours)
        rate_bare = n / statistics.median(t_bare)
        ratio = rate_ours / rate_dcmtk
        print(f"median: storescp {rate_dcmtk:.1f} instances/s, stethos {rate_ours:.1f} "
              f"instances/s; ratio {ratio:.2f} (target ≥ {TARGET}: "
              f"{'met' if ratio >= TARGET else 'NOT met'})")  # fmt: skip
        print(f"for scale: bare pynetdicom (stores nothing) {rate_bare:.1f} instances/s, "
              f"{rate_bare / rate_dcmtk:.2f} of storescp")  # fmt: skip
        if lost:
            print("instances were LOST (see the counts above)")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
