"""Retrieve a 300-slice 512² CT study from a local Orthanc: Stethos against dcmtk's getscu.

Usage::

    .venv/bin/python benchmarks/net_retrieve.py [--slices 300] [--repeats 3]

Starts a throw-away Orthanc (Debian package ``orthanc``) on free loopback
ports in a temporary folder, loads a synthetic CT series (``engine.dicom.
synthetic``), then alternately retrieves the whole study with dcmtk's
``getscu`` and with Stethos' ``get_study`` (C-GET into a fresh cache each
time) and prints each time and the ratio of the medians (target ≤ 1.1).
getscu runs with dcmtk's ``TCP_NODELAY=1``: without it this Debian build leaves
Nagle's algorithm on and waits ~40 ms for a delayed ACK at each response
(``--dcmtk-defaults`` measures that). For scale it also times a bare pynetdicom
C-GET whose store handler keeps nothing: the most any retrieve built on
pynetdicom reaches here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import _orthanc  # noqa: E402
from engine.dicom.synthetic import write_ct_series  # noqa: E402
from engine.net import InstanceCache, Node, get_study  # noqa: E402


def bare_get(port: int, study: str, sop_class: str) -> tuple[float, int]:
    """A pynetdicom C-GET of the study whose store handler keeps nothing: the most any
    retrieve built on pynetdicom can reach here (for scale)."""
    from pydicom.dataset import Dataset
    from pydicom.uid import ExplicitVRLittleEndian
    from pynetdicom import AE, build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET  # type: ignore[attr-defined]

    count = [0]

    def on_store(_event: object) -> int:
        count[0] += 1
        return 0x0000

    ae = AE(ae_title="STETHOS")
    ae.add_requested_context(GET)
    ae.add_requested_context(sop_class, [ExplicitVRLittleEndian])
    t0 = time.perf_counter()
    assoc = ae.associate("127.0.0.1", port, ae_title="ORTHANC",
                         ext_neg=[build_role(sop_class, scp_role=True)],
                         evt_handlers=[(evt.EVT_C_STORE, on_store)])  # fmt: skip
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study
    for _ in assoc.send_c_get(query, GET):
        pass
    assoc.release()
    return time.perf_counter() - t0, count[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dcmtk-defaults", action="store_true",
                        help="run getscu without TCP_NODELAY=1 (Nagle on: ~40 ms a response)")  # fmt: skip
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    if not args.dcmtk_defaults:
        env["TCP_NODELAY"] = "1"  # dcmtk: Nagle off on its sockets (as net_receive.py)
    getscu = shutil.which("getscu")
    if not shutil.which("Orthanc") or not getscu:
        print("needs the Debian packages orthanc and dcmtk")
        return 2
    with tempfile.TemporaryDirectory(prefix="stethos-net-bench-") as tmp:
        folder = Path(tmp)
        server = _orthanc.start(folder / "orthanc")
        assert server is not None
        dicom_port = server.dicom_port
        try:
            files = write_ct_series(folder / "ct", args.slices, rows=512, cols=512, seed=3)
            server.upload(files)
            import pydicom

            study = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
            size_mb = sum(f.stat().st_size for f in files) / 1e6
            print(f"study: {args.slices} slices 512×512, {size_mb:.0f} MB, on Orthanc (loopback)")
            node = Node("bench", "ORTHANC", "127.0.0.1", dicom_port)
            t_dcmtk, t_ours, t_bare = [], [], []
            sop_class = str(pydicom.dcmread(files[0], stop_before_pixels=True).SOPClassUID)
            for r in range(args.repeats):
                out = folder / f"getscu-{r}"
                out.mkdir()
                t0 = time.perf_counter()
                subprocess.run([getscu, "-aet", "STETHOS", "-aec", "ORTHANC", "-S", "-k",
                                "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}",
                                "-od", str(out), "127.0.0.1", str(dicom_port)],
                               check=True, capture_output=True, env=env)  # fmt: skip
                t_dcmtk.append(time.perf_counter() - t0)
                got = len(list(out.iterdir()))
                t0 = time.perf_counter()
                result = get_study(node, study, InstanceCache(folder / f"ours-{r}"))
                t_ours.append(time.perf_counter() - t0)
                t_bare_r, n_bare = bare_get(dicom_port, study, sop_class)
                t_bare.append(t_bare_r)
                print(
                    f"run {r + 1}: getscu {t_dcmtk[-1]:6.2f} s ({got} files)   "
                    f"stethos {t_ours[-1]:6.2f} s ({result.received} instances)   "
                    f"bare pynetdicom {t_bare_r:5.2f} s ({n_bare} answered)"
                )
            ratio = statistics.median(t_ours) / statistics.median(t_dcmtk)
            print(f"median: getscu {statistics.median(t_dcmtk):.2f} s, stethos "
                  f"{statistics.median(t_ours):.2f} s; ratio {ratio:.2f} (target ≤ 1.1: "
                  f"{'met' if ratio <= 1.1 else 'NOT met'})")  # fmt: skip
            print(f"for scale: bare pynetdicom C-GET (stores nothing) "
                  f"{statistics.median(t_bare):.2f} s, "
                  f"{statistics.median(t_bare) / statistics.median(t_dcmtk):.2f} of getscu")  # fmt: skip
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
