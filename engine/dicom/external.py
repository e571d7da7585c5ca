"""Last-resort decoding in a child process with GDCM's ``gdcmconv --raw``.

GDCM decodes some damaged or unusual streams that the in-process decoders
refuse (e.g. JPEG with a wrong header, vendor quirks), but it aborts the
whole process on others (assertions on fuzzed JPEG 2000 or 1-bit RLE). It
therefore never runs inside Stethos: ``gdcmconv`` (Debian package
``libgdcm-tools``) rewrites the file uncompressed into a temporary folder,
in a child process with a timeout, and the result is read like any other
file. ``gdcmconv`` exits 0 even when it fails, so success is judged by the
output file.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

from pydicom import Dataset

from engine.dicom.files import read_dataset, transfer_syntax
from engine.errors import EngineError

#: Seconds a ``gdcmconv`` run may take before it is stopped.
GDCMCONV_TIMEOUT_S = 60


def gdcmconv_path() -> str | None:
    """Where ``gdcmconv`` is installed, or ``None``."""
    return shutil.which("gdcmconv")


def decompress_with_gdcm(path: str | Path) -> tuple[Dataset | None, str]:
    """Rewrite ``path`` uncompressed with ``gdcmconv --raw`` in a child process.

    Returns
    -------
    (Dataset | None, str)
        The uncompressed data set read into memory, or ``None`` and why not.
    """
    exe = gdcmconv_path()
    if exe is None:
        return None, "gdcmconv is not installed"
    with tempfile.TemporaryDirectory(prefix="stethos-gdcm-") as tmp:
        out = Path(tmp) / "raw.dcm"
        try:
            proc = subprocess.run(
                [exe, "--raw", str(path), str(out)],
                capture_output=True,
                text=True,
                timeout=GDCMCONV_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, f"gdcmconv took longer than {GDCMCONV_TIMEOUT_S} s"
        except OSError as exc:
            return None, f"gdcmconv could not run: {exc}"
        lines = (proc.stderr or "").strip().splitlines()
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            return None, f"gdcmconv failed: {why}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = read_dataset(out)
        except EngineError as exc:
            return None, f"gdcmconv output unreadable: {exc.detail or exc.user_message}"
    if transfer_syntax(ds).is_compressed:
        return None, "gdcmconv left the pixel data compressed"
    return ds, ""
