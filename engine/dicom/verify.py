"""Cross-check Stethos renders against an independent renderer (dcmtk).

For a grayscale single-frame file, the 8-bit image Stethos shows is compared
pixel for pixel with ``dcmj2pnm`` (``dcml2pnm`` for JPEG-LS; JPEG 2000 is
first decompressed by ``gdcmconv --raw`` in a child process, as dcmtk has no
JPEG 2000 codec), once with the file's own window (``+Wi 1``), VOI LUT
(``+Wl 1``) or, without either, the min-max window (``+Wm``), and once with
an explicit window (``+Ww C W``). Everything runs in child processes; the
tools are Debian's ``dcmtk`` and ``libgdcm-tools``.

Used by the test suite and ``benchmarks/dicom_dcmtk_table.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom import uid as uids

from engine.dicom.files import integer, read_header, syntax_name, text, transfer_syntax
from engine.dicom.image import DicomImage, read_image
from engine.dicom.pixels import Window, window_to_8bit
from engine.errors import EngineError

#: Child-process timeout for one tool run, in seconds.
TOOL_TIMEOUT_S = 60

OK = "ok"
DIFF = "diff"
REFUSED_BOTH = "refused by both"
REFUSED_OURS = "refused by Stethos only"
REFUSED_DCMTK = "refused by dcmtk only"
SKIPPED = "skipped"


@dataclass(frozen=True)
class RenderCheck:
    """One comparison of a Stethos render with dcmtk's.

    ``status`` is one of ``ok``, ``diff``, ``refused by both``, ``refused by
    Stethos only``, ``refused by dcmtk only`` or ``skipped``; ``max_diff`` is
    the largest absolute difference of 8-bit values when both rendered.
    """

    path: Path
    syntax: str
    photometric: str
    mode: str
    status: str
    max_diff: int | None = None
    n_different: int = 0
    message: str = ""


def tools_available() -> bool:
    """Whether dcmtk's ``dcmj2pnm`` is installed."""
    return shutil.which("dcmj2pnm") is not None


def _run(cmd: list[str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{cmd[0]}: {exc}"
    message = (proc.stderr or proc.stdout).strip().splitlines()
    return proc.returncode == 0, (message[-1] if message else f"exit {proc.returncode}")


def _read_pnm(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("L") if im.mode not in ("L", "RGB") else im)


def _dcmtk_input(path: Path, ts: str, tmp: Path) -> tuple[Path | None, str, str]:
    """(file for dcmtk, tool, message): JPEG 2000 goes through gdcmconv --raw first."""
    if ts in uids.JPEG2000TransferSyntaxes:
        gdcmconv = shutil.which("gdcmconv")
        if gdcmconv is None:
            return None, "", "gdcmconv is not installed (needed for JPEG 2000)"
        out = tmp / "raw.dcm"
        ok, message = _run([gdcmconv, "--raw", str(path), str(out)])
        if not ok or not out.exists():
            return None, "", f"gdcmconv --raw failed: {message}"
        return out, "dcmj2pnm", ""
    if ts in uids.JPEGLSTransferSyntaxes:
        return path, "dcml2pnm", ""
    return path, "dcmj2pnm", ""


def dcmtk_render(path: Path, tool: str, voi: list[str], out: Path) -> tuple[np.ndarray | None, str]:
    """Render frame 1 with dcmtk (``-O``: no overlays) → 8-bit array, or ``None`` and why."""
    exe = shutil.which(tool)
    if exe is None:
        return None, f"{tool} is not installed"
    ok, message = _run([exe, "-q", "-O", "+op", *voi, str(path), str(out)])
    if not ok or not out.exists():
        return None, message
    return _read_pnm(out), ""


def explicit_window(image: DicomImage) -> Window:
    """A window from the 2nd to the 98th percentile of the first frame (rounded)."""
    lo, hi = np.percentile(image.frames[0], [2.0, 98.0])
    center = round(float(lo + hi) / 2.0, 1)
    width = round(max(float(hi - lo), 2.0), 1)
    return Window(center, width, "explicit")


def _compare(ours: np.ndarray, theirs: np.ndarray) -> tuple[int, int]:
    if ours.shape != theirs.shape:
        return 255, int(ours.size)
    diff = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
    return int(diff.max()), int(np.count_nonzero(diff > 1))


def _check_colour(p: Path, ts: str, syntax: str, photometric: str) -> RenderCheck:
    mode = "colour"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = read_image(p)
    except EngineError as exc:
        image, ours_error = None, exc.user_message
    with tempfile.TemporaryDirectory(prefix="stethos-dcmtk-") as tmp_name:
        tmp = Path(tmp_name)
        source, tool, why = _dcmtk_input(p, ts, tmp)
        theirs, message = (
            (None, why) if source is None else dcmtk_render(source, tool, [], tmp / "out.ppm")
        )
    if image is None:
        status = REFUSED_BOTH if theirs is None else REFUSED_OURS
        return RenderCheck(p, syntax, photometric, mode, status, message=ours_error)
    if theirs is None:
        return RenderCheck(p, syntax, photometric, mode, REFUSED_DCMTK, message=message)
    max_diff, n_diff = _compare(image.frames[0], theirs)
    return RenderCheck(
        p, syntax, photometric, mode, OK if max_diff <= 1 else DIFF, max_diff, n_diff
    )


def check_file(
    path: str | Path, *, colour: bool = True, multiframe: bool = False
) -> list[RenderCheck]:
    """Compare Stethos and dcmtk on one file (its first frame).

    Grayscale files get two checks (own window, explicit window); colour
    files (RGB, YBR, PALETTE COLOR) one, of the RGB image, when ``colour``.
    Multi-frame files are skipped unless ``multiframe``.
    """
    p = Path(path)
    try:
        header = read_header(p)
    except EngineError as exc:
        return [RenderCheck(p, "", "", "", SKIPPED, message=exc.user_message)]
    ds = header.ds
    ts = str(transfer_syntax(ds))
    syntax = syntax_name(ts)
    photometric = text(ds, "PhotometricInterpretation").upper()
    if not header.has_pixel_data:
        return [RenderCheck(p, syntax, photometric, "", SKIPPED, message="no pixel data")]
    if integer(ds, "NumberOfFrames", 1) > 1 and not multiframe:
        return [RenderCheck(p, syntax, photometric, "", SKIPPED, message="multi-frame")]
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        if not colour:
            return [RenderCheck(p, syntax, photometric, "", SKIPPED, message="colour")]
        return [_check_colour(p, ts, syntax, photometric)]

    ours_error = ""
    image = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = read_image(p)
    except EngineError as exc:
        ours_error = exc.user_message

    with tempfile.TemporaryDirectory(prefix="stethos-dcmtk-") as tmp_name:
        tmp = Path(tmp_name)
        source, tool, why = _dcmtk_input(p, ts, tmp)
        modes: list[tuple[str, list[str], Window | None]] = []
        if image is None:
            modes.append(("file window", ["+Wm"], None))
        else:
            windows = image.frame_windows(0)
            if windows and windows[0].lut is not None:
                modes.append(("file VOI LUT", ["+Wl", "1"], windows[0]))
            elif windows:
                modes.append(("file window", ["+Wi", "1"], windows[0]))
            else:
                modes.append(("min-max", ["+Wm"], None))
            win = explicit_window(image)
            modes.append(
                (
                    f"window {win.center:g},{win.width:g}",
                    ["+Ww", f"{win.center:g}", f"{win.width:g}"],
                    win,
                )
            )
        out = []
        for i, (mode, voi, window) in enumerate(modes):
            theirs, message = (
                (None, why)
                if source is None
                else dcmtk_render(source, tool, voi, tmp / f"out{i}.pgm")
            )
            if image is None and theirs is None:
                out.append(
                    RenderCheck(p, syntax, photometric, mode, REFUSED_BOTH, message=ours_error)
                )
                continue
            if image is None:
                out.append(
                    RenderCheck(p, syntax, photometric, mode, REFUSED_OURS, message=ours_error)
                )
                continue
            if theirs is None:
                out.append(
                    RenderCheck(p, syntax, photometric, mode, REFUSED_DCMTK, message=message)
                )
                continue
            win = window if window is not None else image.default_window(0)
            ours = window_to_8bit(image.frames[0], win, invert=image.inverted)
            max_diff, n_diff = _compare(ours, theirs)
            status = OK if max_diff <= 1 else DIFF
            out.append(RenderCheck(p, syntax, photometric, mode, status, max_diff, n_diff))
        return out


def default_corpus(shared_data: Path) -> list[Path]:
    """The files the cross-check covers: ``dicom/`` and ``cxr/samples`` of the shared
    data folder, and pydicom's bundled test files (never downloaded)."""
    import pydicom.data

    files = sorted((shared_data / "dicom").rglob("*.dcm"))
    files += sorted((shared_data / "cxr" / "samples").glob("*.dcm"))
    files += sorted((Path(pydicom.data.__file__).parent / "test_files").glob("*.dcm"))
    return files


def check_files(
    paths: Iterable[str | Path], *, workers: int = 2, colour: bool = True, multiframe: bool = False
) -> list[RenderCheck]:
    """:func:`check_file` over many files, ``workers`` at a time (tools run as child processes)."""
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        results = pool.map(
            lambda f: check_file(f, colour=colour, multiframe=multiframe), list(paths)
        )
        return [check for checks in results for check in checks]
