"""Build the seed corpora of every fuzz target (outside the repository).

Run: ``.venv/bin/python tests/fuzz/make_seeds.py [/tmp/fuzz/corpus]``

Seeds come from ``../shared/data`` (DICOM conformance files, MIT-BIH and PTB
WFDB records cut to a few KB, UCI heart rows), pydicom's own test files (read
from its installed ``test_files`` folder: nothing is downloaded) and the
bundled heart-disease models.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fuzz.targets import BUNDLE_CARD, BUNDLE_WEIGHTS, join_wfdb

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
MAX_DICOM_SEED = 48 * 1024


def _pydicom_files() -> Path:
    import pydicom

    return Path(pydicom.__file__).parent / "data" / "test_files"


def _write(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", name)
    (folder / safe).write_bytes(data)


def _small_waveform() -> bytes:
    """pydicom's 12-lead ECG cut to 200 samples per channel (valid DICOM, ~10 KB)."""
    import numpy as np
    import pydicom

    ds = pydicom.dcmread(_pydicom_files() / "waveform_ecg.dcm")
    for group in ds.WaveformSequence:
        n_ch = int(group.NumberOfWaveformChannels)
        bits = int(group.WaveformBitsAllocated)
        dtype = np.dtype(f"<i{bits // 8}")
        data = np.frombuffer(group.WaveformData, dtype=dtype).reshape(-1, n_ch)[:200]
        group.NumberOfWaveformSamples = data.shape[0]
        group.WaveformData = data.tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def dicom_seeds(out: Path) -> None:
    sources = [_pydicom_files(), SHARED / "dicom"]
    n = 0
    for root in sources:
        for f in sorted(root.rglob("*")):
            if not f.is_file() or f.stat().st_size > MAX_DICOM_SEED:
                continue
            if f.suffix.lower() in (".txt", ".rst", ".json", ".dump", ".md", ".icc", ".gz"):
                continue
            if f.name.upper().startswith("DICOMDIR") or "LICENSE" in f.name.upper():
                continue
            head = f.read_bytes()
            if head[128:132] != b"DICM" and not f.suffix.lower() == ".dcm":
                continue
            _write(out / "dicom", f"{root.name}-{f.name}", head)
            n += 1
    _write(out / "dicom", "waveform_ecg_small.dcm", _small_waveform())
    print(f"dicom: {n + 1} seeds")
    # the scanner looks at headers: the smaller files are enough
    m = 0
    for f in sorted((out / "dicom").iterdir()):
        if f.stat().st_size <= 12 * 1024:
            _write(out / "scan", f.name, f.read_bytes())
            m += 1
    print(f"scan: {m} seeds")


def dicomdir_seeds(out: Path) -> None:
    root = _pydicom_files() / "dicomdirtests"
    n = 0
    for f in sorted(root.rglob("DICOMDIR*")):
        _write(out / "dicomdir", f"{f.parent.name}-{f.name}", f.read_bytes())
        n += 1
    print(f"dicomdir: {n} seeds")


def _rename_record(header: str, old: str) -> str:
    return re.sub(rf"(?m)^{re.escape(old)}(?=[ ./])", "r", header)


def _set_sig_len(header: str, n: int) -> str:
    lines = header.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#"))
    fields = lines[first].split()
    if len(fields) >= 4:
        fields[3] = str(n)
    lines[first] = " ".join(fields)
    return "\n".join(lines) + "\n"


def wfdb_seeds(out: Path) -> None:
    import numpy as np
    import wfdb

    folder = out / "wfdb"
    n = 0
    mitdb = SHARED / "ecg" / "mitdb"
    for rec in ("101", "106", "203", "217"):
        header = (mitdb / f"{rec}.hea").read_text()
        frames = 680  # format 212, 2 channels: 3 bytes a frame, ~2 KB
        header = _set_sig_len(_rename_record(header, rec), frames)
        dat = (mitdb / f"{rec}.dat").read_bytes()[: frames * 3]
        atr = (mitdb / f"{rec}.atr").read_bytes()[:600]
        _write(folder, f"mitdb-{rec}", join_wfdb([header.encode(), dat, atr]))
        _write(folder, f"mitdb-{rec}-noatr", join_wfdb([header.encode(), dat]))
        n += 2
    ptb = SHARED / "ecg" / "samples"
    header = _set_sig_len(_rename_record((ptb / "s0010_re.hea").read_text(), "s0010_re"), 60)
    dat = (ptb / "s0010_re.dat").read_bytes()[: 60 * 12 * 2]
    xyz = (ptb / "s0010_re.xyz").read_bytes()[: 60 * 3 * 2]
    _write(folder, "ptb-s0010", join_wfdb([header.encode(), dat, b"", xyz]))
    n += 1
    # other storage formats, written by wfdb from a slice of MIT-BIH 101
    record = wfdb.rdrecord(str(mitdb / "101"), sampto=300, physical=False)
    tmp = out / ".wfdb-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    for fmt in ("16", "80", "24", "32"):
        d = np.asarray(record.d_signal, dtype=np.int64) - 1024
        if fmt in ("8", "80"):
            d = np.clip(d, -127, 127)
        elif fmt in ("310", "311"):
            d = np.clip(d, -511, 511)
        for f in tmp.iterdir():
            f.unlink()
        wfdb.wrsamp(
            "r",
            fs=360,
            units=["mV", "mV"],
            sig_name=["MLII", "V1"],
            d_signal=d.astype(np.int32),
            fmt=[fmt, fmt],
            adc_gain=[200.0, 200.0],
            baseline=[0, 0],
            write_dir=str(tmp),
            comments=["69 M 1085 1629 x1", "age: 69", "sex: male"],
        )
        parts = [(tmp / "r.hea").read_bytes(), (tmp / "r.dat").read_bytes()]
        _write(folder, f"fmt-{fmt}", join_wfdb(parts))
        n += 1
    # formats wfdb reads but does not write: the 16-bit header relabelled, bytes resized
    sixteen = (folder / "fmt-16").read_bytes().split(b"\n#--", 1)[0].decode()
    raw = (mitdb / "101.dat").read_bytes()
    per_frame = {"8": 2, "61": 4, "160": 4, "310": 8 / 3, "311": 8 / 3, "212": 3}
    for fmt, size in per_frame.items():
        header = re.sub(r"(?m)^(r\.dat) 16\b", rf"\1 {fmt}", sixteen)
        _write(folder, f"fmt-{fmt}", join_wfdb([header.encode(), raw[: int(300 * size) + 2]]))
        n += 1
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    # headers wfdb cannot parse as they are (base time / date), read from a sanitised copy
    header = _set_sig_len(_rename_record((mitdb / "101.hea").read_text(), "101"), 680)
    odd = header.replace("r 2 360 680", "r 2 360 680 25:61:00 1990-10-01")
    dat = (mitdb / "101.dat").read_bytes()[: 680 * 3]
    _write(folder, "odd-base-time", join_wfdb([odd.encode(), dat]))
    print(f"wfdb: {n + 1} seeds")


def records_seeds(out: Path) -> None:
    folder = out / "records"
    lines = (SHARED / "tabular" / "uci-heart" / "processed.cleveland.data").read_text().splitlines()
    _write(folder, "uci-head", ("\n".join(lines[:12]) + "\n").encode())
    _write(folder, "uci-missing", ("\n".join(ln for ln in lines if "?" in ln) + "\n").encode())
    _write(folder, "uci-noheader", ("\n".join(lines[1:8]) + "\n").encode())
    thirteen = "\n".join(",".join(ln.split(",")[:13]) for ln in lines[1:6]) + "\n"
    _write(folder, "uci-13-columns", thirteen.encode())
    names = "age,sex,cp,trestbps,chol,fbs,restecg,thalach,exang,oldpeak,slope,ca,thal"
    shuffled = names.split(",")[::-1]
    body = "\n".join(",".join(ln.split(",")[:13][::-1]) for ln in lines[1:6])
    _write(folder, "record-columns.csv", f"{','.join(shuffled)},note\n{body}\n".encode())
    _write(folder, "record-columns-tab", (names.replace(",", "\t") + "\n").encode())
    print("records: 6 seeds")


def _fake_manifest(source: Path) -> dict:
    manifest = json.loads((source / "manifest.json").read_text())
    weights = str(manifest["weights"])
    manifest["files"] = {
        weights: {
            "sha256": hashlib.sha256(BUNDLE_WEIGHTS).hexdigest(),
            "bytes": len(BUNDLE_WEIGHTS),
        },
        "card.md": {"sha256": hashlib.sha256(BUNDLE_CARD).hexdigest(), "bytes": len(BUNDLE_CARD)},
    }
    manifest["card"] = "card.md"
    return manifest


def _zip(members: dict[str, bytes], prefix: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(prefix + name, data)
    return buf.getvalue()


def bundle_seeds(out: Path) -> None:
    folder = out / "bundle"
    models = REPO / "resources" / "models"
    n = 0
    for name in ("heart-disease-tree-13", "heart-disease-logreg-13", "ecg-beats-bilstm-360"):
        manifest = _fake_manifest(models / name)
        text = json.dumps(manifest, indent=1).encode()
        _write(folder, f"manifest-{name}.json", text)
        members = {"manifest.json": text, manifest["weights"]: BUNDLE_WEIGHTS}
        members["card.md"] = BUNDLE_CARD
        _write(folder, f"zip-{name}", _zip(members))
        _write(folder, f"zip-nested-{name}", _zip(members, prefix=f"{name}/"))
        n += 3
    # v1 manifest (migrated on load)
    manifest = _fake_manifest(models / "heart-disease-logreg-13")
    manifest["schema_version"] = 1
    manifest["outputs"] = {k: v for k, v in manifest["outputs"].items() if k != "calibration"}
    manifest["outputs"]["calibrated"] = False
    for key in ("default_operating_point", "gates"):
        manifest.pop(key, None)
    _write(folder, "manifest-v1.json", json.dumps(manifest).encode())
    # the real, smallest bundle as shipped
    real = models / "heart-disease-tree-13"
    _write(folder, "zip-real-tree", _zip({f.name: f.read_bytes() for f in real.iterdir()}))
    print(f"bundle: {n + 2} seeds")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/fuzz/corpus")
    dicom_seeds(out)
    dicomdir_seeds(out)
    wfdb_seeds(out)
    records_seeds(out)
    bundle_seeds(out)


if __name__ == "__main__":
    main()
