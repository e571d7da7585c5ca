"""Hostile files: bombs, absurd sizes, deep nesting, huge lengths, link loops, odd paths.

Every file here is built by the test (pydicom, zipfile, os.symlink) in a
temporary folder. Each is opened the way the application opens it, in a
forked child process with a time limit and an address-space limit; the
outcome must be a load or an :class:`~engine.errors.EngineError` whose user
message names the file. Anything else (another exception, a hang, a
crash, or more than :data:`MAX_GROWTH` of extra memory) fails.

:func:`hostile_table` produces the table ``benchmarks/hostile_files.py``
prints.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from engine.errors import EngineError

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "resources" / "samples"
MODELS = REPO / "resources" / "models"

#: Wall-clock limit per case (a hang fails).
TIMEOUT_S = 60
#: Extra resident memory a case may use (peak, over the parent's) before it fails.
MAX_GROWTH = 256 * 1024**2
#: Extra address space a case may map; beyond it allocations fail (a bomb cannot take the machine).
ADDRESS_SPACE = 3 * 1024**3


# --- building hostile files -------------------------------------------------------------------
def _testfile(name: str) -> Path:
    found = get_testdata_file(name)
    if found is None:
        pytest.skip(f"pydicom test file {name} is not installed")
    return Path(str(found))


def _base(rows: int = 8, cols: int = 8, *, spp: int = 1, bits: int = 8) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.PatientID = "HOSTILE"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SamplesPerPixel = spp
    ds.PhotometricInterpretation = "MONOCHROME2" if spp == 1 else "RGB"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    return ds


def _save(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _native(rows: int = 8, cols: int = 8) -> Dataset:
    ds = _base(rows, cols)
    ds.PixelData = bytes(range(256))[: rows * cols] * max(1, (rows * cols) // 256)
    ds.PixelData = (ds.PixelData + bytes(rows * cols))[: rows * cols]
    return ds


def _patch_frame(src: str, dst: Path, patch: Callable[[bytearray], None]) -> Path:
    """Copy a compressed pydicom test file with its first frame's codestream edited."""
    ds = dcmread(_testfile(src))
    frames = [bytearray(f) for f in generate_frames(ds.PixelData, number_of_frames=1)]
    patch(frames[0])
    ds.PixelData = encapsulate([bytes(f) for f in frames])
    return _save(ds, dst)


def j2k_bomb(tmp: Path) -> Path:
    """64 × 64 in the header; the JPEG 2000 codestream (SIZ) declares 12 000 × 12 000."""

    def patch(cs: bytearray) -> None:
        i = cs.find(b"\xff\x4f\xff\x51")
        cs[i + 8 : i + 32] = struct.pack(">6I", 12000, 12000, 0, 0, 12000, 12000)

    return _patch_frame("MR_small_jp2klossless.dcm", tmp / "j2k-bomb.dcm", patch)


def _patch_sof(cs: bytearray, rows: int, cols: int) -> None:
    i = 2
    while cs[i + 1] not in (0xC0, 0xC1, 0xC2, 0xC3, 0xF7):
        i += 2 + struct.unpack(">H", cs[i + 2 : i + 4])[0]
    cs[i + 5 : i + 9] = struct.pack(">HH", rows, cols)


def jpeg_bomb(tmp: Path) -> Path:
    """A small RGB JPEG whose start-of-frame declares 12 000 × 12 000."""
    return _patch_frame(
        "SC_rgb_jpeg_dcmtk.dcm", tmp / "jpeg-bomb.dcm", lambda cs: _patch_sof(cs, 12000, 12000)
    )


def jpegls_bomb(tmp: Path) -> Path:
    """A small JPEG-LS image whose SOF55 declares 16 000 × 16 000 (16 bit)."""
    return _patch_frame(
        "MR_small_jpeg_ls_lossless.dcm",
        tmp / "jpegls-bomb.dcm",
        lambda cs: _patch_sof(cs, 16000, 16000),
    )


def rle_absurd(tmp: Path) -> Path:
    """RLE with a header claiming 65 535 × 65 535 × 1 000 frames over 64 × 64 of data."""
    ds = dcmread(_testfile("MR_small_RLE.dcm"))
    ds.Rows = ds.Columns = 65535
    ds.NumberOfFrames = 1000
    return _save(ds, tmp / "rle-absurd.dcm")


def native_absurd(tmp: Path) -> Path:
    """Uncompressed: 65 535 × 65 535 × 99 999 frames × 3 samples over 64 bytes of pixels."""
    ds = _native()
    ds.Rows = ds.Columns = 65535
    ds.NumberOfFrames = 99999
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    return _save(ds, tmp / "native-absurd.dcm")


def frames_overflow(tmp: Path) -> Path:
    """Number of Frames = 2**62 on a 1 × 1 image."""
    ds = _native(1, 1)
    ds.NumberOfFrames = str(2**62)
    return _save(ds, tmp / "frames-overflow.dcm")


def deflate_bomb(tmp: Path) -> Path:
    """Deflated transfer syntax: 1.1 MB on disk, a data set of 1.1 GiB once inflated."""
    ds = _native()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.PixelData = b""
    path = _save(ds, tmp / "deflate-bomb.dcm")
    raw = path.read_bytes()
    meta_end = 132 + 12 + struct.unpack("<I", raw[140:144])[0]
    # one huge private OB element of zeros, then the (tiny) rest
    size = 1024**3 + 64 * 1024**2
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = [packer.compress(struct.pack("<HH2sHI", 0x0009, 0x1010, b"OB", 0, size))]
    zeros = bytes(1 << 24)
    for _ in range(size // len(zeros)):
        body.append(packer.compress(zeros))
    body.append(packer.flush())
    path.write_bytes(raw[:meta_end] + b"".join(body))
    return path


def _sequence_bytes(depth: int, *, defined: bool) -> bytes:
    """Content Sequence nested ``depth`` levels (explicit VR little endian)."""
    leaf = struct.pack("<HH2sH", 0x0040, 0xA040, b"CS", 4) + b"TEXT"
    if not defined:
        head = (
            struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, 0xFFFFFFFF)
            + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
        ) * depth
        tail = (
            struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
        ) * depth
        return head + leaf + tail
    body = leaf
    for _ in range(depth):
        item = struct.pack("<HHI", 0xFFFE, 0xE000, len(body)) + body
        body = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, len(item)) + item
    return body


def _with_raw_elements(tmp: Path, name: str, raw: bytes, *, pixels: bool = True) -> Path:
    """A small image file with ``raw`` (encoded elements, tags in (0040,xxxx)) spliced in."""
    ds = _native()
    pixel_data = ds.PixelData
    del ds.PixelData
    path = _save(ds, tmp / name)
    tail = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, len(pixel_data)) + pixel_data
    path.write_bytes(path.read_bytes() + raw + (tail if pixels else b""))
    return path


def deep_sequence(tmp: Path) -> Path:
    """Sequences nested 5 000 levels deep (undefined lengths)."""
    return _with_raw_elements(tmp, "deep-5000.dcm", _sequence_bytes(5000, defined=False))


def deep_sequence_defined(tmp: Path) -> Path:
    """Sequences nested 3 000 levels deep with defined lengths (read lazily, level by level)."""
    return _with_raw_elements(tmp, "deep-3000-defined.dcm", _sequence_bytes(3000, defined=True))


def nested_200(tmp: Path) -> Path:
    """Sequences nested 200 levels (readable; deeper than any genuine file)."""
    return _with_raw_elements(tmp, "deep-200.dcm", _sequence_bytes(200, defined=True))


def huge_length_text(tmp: Path) -> Path:
    """An Unlimited Text element declaring 0xFFFFFFF0 bytes in a 1 KB file."""
    raw = struct.pack("<HH2sHI", 0x0040, 0xA160, b"UT", 0, 0xFFFFFFF0) + b"hello world!"
    return _with_raw_elements(tmp, "huge-length-ut.dcm", raw, pixels=False)


def huge_length_pixels(tmp: Path) -> Path:
    """Pixel Data declaring 0xFFFFFFF0 bytes followed by 64."""
    ds = _native()
    del ds.PixelData
    path = _save(ds, tmp / "huge-length-pixels.dcm")
    raw = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFF0) + bytes(64)
    path.write_bytes(path.read_bytes() + raw)
    return path


def dicomdir_loop(tmp: Path) -> Path:
    """A DICOMDIR whose records point at each other in a loop and list the DICOMDIR itself."""
    folder = tmp / "dicomdir-loop"
    _save(_native(), folder / "IMG1")
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.FileSetID = "LOOP"
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = 0
    records = []
    for ref in ("DICOMDIR", "IMG1", "../../../etc/passwd"):
        rec = Dataset()
        rec.OffsetOfTheNextDirectoryRecord = 0  # every record points back at the first
        rec.OffsetOfReferencedLowerLevelDirectoryEntity = 0
        rec.DirectoryRecordType = "IMAGE"
        rec.ReferencedFileID = ref.split("/")
        records.append(rec)
    ds.DirectoryRecordSequence = records
    return _save(ds, folder / "DICOMDIR")


def link_loops(tmp: Path) -> Path:
    """A folder with a → b → a, a self loop, a link to its own parent, and one real image."""
    folder = tmp / "link-loops"
    folder.mkdir()
    _save(_native(), folder / "real.dcm")
    os.symlink("b", folder / "a")
    os.symlink("a", folder / "b")
    os.symlink("self", folder / "self")
    os.symlink("..", folder / "up")
    (folder / "sub").mkdir()
    os.symlink("../../link-loops", folder / "sub" / "back")
    return folder


def long_path(tmp: Path) -> Path:
    """A 250-character file name at the end of a path of more than 1 000 characters."""
    folder = tmp
    for i in range(5):
        folder = folder / (f"{i}-" + "d" * 200)
    return _save(_native(), folder / ("x" * 246 + ".dcm"))


def unicode_path(tmp: Path) -> Path:
    """Chinese and Arabic folder and file names (UTF-8)."""
    return _save(_native(), tmp / "患者 ملف" / "胸部 صورة الأشعة 像.dcm")


def latin1_path(tmp: Path) -> Path:
    """A file name in Latin-1 bytes (not UTF-8), as old CDs have."""
    folder = os.fsencode(tmp) + b"/caf\xe9"
    os.makedirs(folder, exist_ok=True)
    target = folder + b"/r\xe9sum\xe9.dcm"
    _native().save_as(os.fsdecode(target), enforce_file_format=True)
    return Path(os.fsdecode(target))


def named_pipe(tmp: Path) -> Path:
    """A named pipe (FIFO) called ``pipe.dcm``: opening it for reading would wait forever."""
    path = tmp / "pipe.dcm"
    os.mkfifo(path)
    return path


def _wfdb_copy(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = (SAMPLES / "mitdb" / "119.hea").read_text().replace("119", name)
    (folder / f"{name}.hea").write_text(text, encoding="utf-8")
    shutil.copyfile(SAMPLES / "mitdb" / "119.dat", folder / f"{name}.dat")
    shutil.copyfile(SAMPLES / "mitdb" / "119.atr", folder / f"{name}.atr")
    return folder / f"{name}.hea"


def wfdb_unicode_long(tmp: Path) -> Path:
    """A WFDB record under a > 1 000-character path of Chinese and Arabic folder names."""
    folder = tmp
    for i in range(5):
        folder = folder / (f"{i}-心电图-تخطيط-" + "e" * 180)
    return _wfdb_copy(folder, "r119")


def wfdb_unicode_name(tmp: Path) -> Path:
    """A WFDB record named 记录119 (WFDB allows only ASCII letters, digits and _)."""
    return _wfdb_copy(tmp / "wfdb-unicode", "记录119")


def _wfdb_header_field(tmp: Path, name: str, index: int, value: str) -> Path:
    """A copy of record 119 whose header's record line has field ``index`` set to ``value``."""
    header = _wfdb_copy(tmp / f"wfdb-{name}", name)
    lines = header.read_text().splitlines()
    fields = lines[0].split()
    fields[index] = value
    lines[0] = " ".join(fields)
    header.write_text("\n".join(lines) + "\n")
    return header


def wfdb_huge_length(tmp: Path) -> Path:
    """A WFDB header declaring 4 000 000 000 samples over a 1.9 MB signal file."""
    return _wfdb_header_field(tmp, "huge", 3, "4000000000")


def wfdb_many_signals(tmp: Path) -> Path:
    """A WFDB header declaring 100 000 signals with two signal lines."""
    return _wfdb_header_field(tmp, "many", 1, "100000")


def ecg_deep(tmp: Path) -> Path:
    """A DICOM "ECG" nesting its sequences 5 000 levels deep."""
    return _with_raw_elements(tmp, "ecg-deep.dcm", _sequence_bytes(5000, defined=False))


def _bundle_zip(tmp: Path, name: str, extra: Callable[[zipfile.ZipFile], None]) -> Path:
    source = MODELS / "heart-disease-tree-13"
    archive = tmp / name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(source.iterdir()):
            zf.write(f, f"{source.name}/{f.name}")
        extra(zf)
    return archive


def zip_bomb(tmp: Path) -> Path:
    """A model bundle zip with 200 MB of zeros packed into 200 KB."""
    return _bundle_zip(
        tmp, "bundle-zip-bomb.zip", lambda zf: zf.writestr("zeros.bin", bytes(200 * 1024**2))
    )


def zip_traversal(tmp: Path) -> Path:
    """A model bundle zip with a member ``../../evil.py``."""
    return _bundle_zip(tmp, "bundle-traversal.zip", lambda zf: zf.writestr("../../evil.py", "x"))


def zip_absolute(tmp: Path) -> Path:
    """A model bundle zip with a member ``/tmp/evil.py``."""
    return _bundle_zip(tmp, "bundle-absolute.zip", lambda zf: zf.writestr("/tmp/evil.py", "x"))


def zip_backslash(tmp: Path) -> Path:
    """A model bundle zip with a Windows-style member ``..\\evil.py``."""
    return _bundle_zip(tmp, "bundle-backslash.zip", lambda zf: zf.writestr("..\\evil.py", "x"))


def zip_symlink(tmp: Path) -> Path:
    """A model bundle zip with a symbolic-link member pointing at /etc/passwd."""

    def add(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo("heart-disease-tree-13/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")

    return _bundle_zip(tmp, "bundle-symlink.zip", add)


def folder_symlink(tmp: Path) -> Path:
    """A model bundle folder with a link to /etc/passwd inside."""
    folder = tmp / "bundle-with-link"
    shutil.copytree(MODELS / "heart-disease-tree-13", folder)
    os.symlink("/etc/passwd", folder / "card2.md")
    return folder


# --- opening them the way the application does ------------------------------------------------
def open_image(path: Path) -> str:
    from engine.dicom import read_image

    image = read_image(path)
    return f"loaded {image.shape[0]}×{image.shape[1]}"


def open_tags(path: Path) -> str:
    from engine.dicom.tags import dataset_tree

    return f"tag tree of {len(dataset_tree(path))} elements"


def deidentify(path: Path) -> str:
    from engine.dicom.deid import deidentify_file

    deidentify_file(path, path.with_name("deid-" + path.name))
    return "de-identified copy written"


def scan(path: Path) -> str:
    from engine.dicom import scan_paths

    result = scan_paths([path])
    names = "; ".join(message for _, message in result.problems)
    return f"scanned: {result.n_files} files, {len(result.series)} series; problems: {names or '-'}"


def open_series(path: Path) -> str:
    from engine.dicom import load_series, scan_paths

    series = scan_paths([path]).series
    if not series:
        return "no series"
    volume = load_series(series[0])
    return f"loaded series of {volume.n_slices} slices"


def open_ecg(path: Path) -> str:
    from engine.ecg import read_signal

    signal_ = read_signal(path)
    return f"loaded {signal_.n_leads} leads, {signal_.duration_s:.0f} s"


def import_bundle(path: Path) -> str:
    from engine.models.registry import ModelRegistry

    user = path.parent / "user-models"
    entry = ModelRegistry([(user, "user")]).import_bundle(path)
    return f"imported {entry.id}"


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Path]
    open: Callable[[Path], str]
    #: "refused": must raise an EngineError; "loads": must load; "either": both are fine.
    expect: str = "either"
    #: text the user message must contain (default: the file's name)
    names: Callable[[Path], str] | None = None


def _stem(path: Path) -> str:
    return path.stem


def _reports_loops(path: Path) -> str:
    return "“a” is a link that leads nowhere"


def _series(path: Path) -> str:
    return "Series"


CASES = [
    Case("JPEG 2000 bomb (SIZ 12000²)", j2k_bomb, open_image, "refused"),
    Case("JPEG bomb (SOF 12000²×3)", jpeg_bomb, open_image, "refused"),
    Case("JPEG-LS bomb (SOF55 16000²)", jpegls_bomb, open_image, "refused"),
    Case("RLE, 65535²×1000 frames", rle_absurd, open_image, "refused"),
    Case("native, 65535²×99999×3", native_absurd, open_image, "refused"),
    Case("native, 65535²×99999×3 (series)", native_absurd, open_series, "either", _series),
    Case("Number of Frames 2**62", frames_overflow, open_image, "refused"),
    Case("deflate bomb (1.1 GiB)", deflate_bomb, open_image, "refused"),
    Case("deflate bomb (1.1 GiB), scan", deflate_bomb, scan, "loads"),
    Case("SQ nested 5000 (undefined)", deep_sequence, open_image, "either"),
    Case("SQ nested 5000 (undefined), tags", deep_sequence, open_tags, "either"),
    Case("SQ nested 3000 (defined), tags", deep_sequence_defined, open_tags, "loads"),
    Case("SQ nested 3000 (defined), de-id", deep_sequence_defined, deidentify, "refused"),
    Case("SQ nested 3000 (defined), scan", deep_sequence_defined, scan, "loads"),
    Case("SQ nested 200, de-identify", nested_200, deidentify, "refused"),
    Case("UT length 0xFFFFFFF0", huge_length_text, open_tags, "either"),
    Case("UT length 0xFFFFFFF0, image", huge_length_text, open_image, "refused"),
    Case("Pixel Data length 0xFFFFFFF0", huge_length_pixels, open_image, "refused"),
    Case("Pixel Data length 0xFFFFFFF0, scan", huge_length_pixels, scan, "loads"),
    Case("DICOMDIR loop + self reference", dicomdir_loop, scan, "loads"),
    Case("symlink loops a→b→a, self, ..", link_loops, scan, "loads", _reports_loops),
    Case("path > 1000 chars, name 250", long_path, open_image, "loads"),
    Case("path > 1000 chars, name 250, scan", long_path, scan, "loads"),
    Case("Chinese/Arabic names", unicode_path, open_image, "loads"),
    Case("Chinese/Arabic names, scan", unicode_path, scan, "loads"),
    Case("Latin-1 (non-UTF-8) names", latin1_path, open_image, "loads"),
    Case("named pipe pipe.dcm", named_pipe, open_image, "refused"),
    Case("named pipe pipe.dcm, tags", named_pipe, open_tags, "refused"),
    Case("named pipe pipe.dcm, ECG", named_pipe, open_ecg, "refused"),
    Case("WFDB, Chinese/Arabic path > 1000", wfdb_unicode_long, open_ecg, "loads"),
    Case("WFDB record named 记录119", wfdb_unicode_name, open_ecg, "either", _stem),
    Case("WFDB, 4e9 samples declared", wfdb_huge_length, open_ecg, "refused", _stem),
    Case("WFDB, 100000 signals declared", wfdb_many_signals, open_ecg, "refused", _stem),
    Case("DICOM ECG nested 5000", ecg_deep, open_ecg, "refused"),
    Case("bundle zip bomb (200 MB)", zip_bomb, import_bundle, "refused"),
    Case("bundle zip ../../evil.py", zip_traversal, import_bundle, "refused"),
    Case("bundle zip /tmp/evil.py", zip_absolute, import_bundle, "refused"),
    Case("bundle zip ..\\evil.py", zip_backslash, import_bundle, "refused"),
    Case("bundle zip symlink member", zip_symlink, import_bundle, "refused"),
    Case("bundle folder with symlink", folder_symlink, import_bundle, "refused"),
]


# --- running one case in a child --------------------------------------------------------------
def _peak_rss() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(case: Case, path: Path) -> dict:
    vm = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (vm + ADDRESS_SPACE, vm + ADDRESS_SPACE))
    before = _peak_rss()
    started = time.perf_counter()
    try:
        detail = case.open(path)
        row = {"outcome": "loaded", "message": detail}
    except EngineError as exc:
        row = {"outcome": "refused", "message": exc.user_message, "type": type(exc).__name__}
    except BaseException as exc:  # what the test is looking for
        row = {"outcome": "CRASH", "message": f"{type(exc).__name__}: {exc}"[:500]}
    row["seconds"] = round(time.perf_counter() - started, 2)
    row["growth"] = max(_peak_rss() - before, 0)
    return row


def run_case(case: Case, path: Path, timeout: float = TIMEOUT_S) -> dict:
    """Open ``path`` as ``case`` says in a forked child; its outcome as a dict."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        try:
            row = _child(case, path)
            data = json.dumps(row, ensure_ascii=True).encode()
        except BaseException as exc:
            data = json.dumps({"outcome": "CRASH", "message": repr(exc)[:500]}).encode()
        os.write(write, data)
        os._exit(0)
    os.close(write)
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read)
        return {"outcome": "HANG", "message": f"no answer within {timeout:.0f} s"}
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.close(read)
    if not chunks:
        return {"outcome": "CRASH", "message": f"child died (wait status {status})"}
    return json.loads(b"".join(chunks))


def judge(case: Case, path: Path, row: dict) -> str | None:
    """Why the outcome is unacceptable, or ``None``."""
    if row["outcome"] not in ("loaded", "refused"):
        return f"{row['outcome']}: {row['message']}"
    if row.get("growth", 0) > MAX_GROWTH:
        return f"used {row['growth'] / 2**20:.0f} MiB more memory (bound {MAX_GROWTH / 2**20:.0f})"
    if case.expect == "refused" and row["outcome"] != "refused":
        return f"expected a refusal, got: {row['message']}"
    if case.expect == "loads" and row["outcome"] != "loaded":
        return f"expected it to load, got: {row['message']}"
    if row["outcome"] == "refused" or case.names is _reports_loops:
        wanted = (case.names or (lambda p: p.name))(path)
        if wanted not in row["message"]:
            return f"the message does not name {wanted!r}: {row['message']}"
    return None


def hostile_table(tmp: Path) -> list[tuple[str, str, str, float]]:
    """``(case, outcome, message, seconds)`` for every case (files built under ``tmp``)."""
    rows = []
    for i, case in enumerate(CASES):
        folder = tmp / f"case{i:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = case.build(folder)
        row = run_case(case, path)
        problem = judge(case, path, row)
        outcome = row["outcome"] if problem is None else f"FAIL ({problem})"
        rows.append((case.name, outcome, row["message"], float(row.get("seconds", 0.0))))
    return rows


@pytest.mark.skipif(not hasattr(os, "fork"), reason="runs each case in a forked child (POSIX)")
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_file_loads_or_is_refused_with_its_name(case: Case, tmp_path: Path) -> None:
    path = case.build(tmp_path)
    row = run_case(case, path)
    problem = judge(case, path, row)
    assert problem is None, problem
