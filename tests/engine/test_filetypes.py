"""One rule decides what a file is, for every entry point (issue 22, item 6).

"Dual-personality" DICOM files carry a TIFF header in their 128-byte
preamble (NEMA WG04, pydicom's MR2_UNCR.dcm). They are DICOM: the model's
modality gate must see them, never a picture reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from engine.api import analyze_image
from engine.errors import InputRejectedError
from engine.filetypes import FileKind, is_picture_file, sniff
from engine.models.registry import ModelRegistry
from tests.engine.models.dicom_files import write_dicom

BUNDLED_CNN = "cxr-pneumonia-resnet18-224"


def _dual_personality(path: Path, modality: str) -> Path:
    """A DICOM file whose preamble starts with a little-endian TIFF header."""
    y, x = np.mgrid[0:64, 0:64]
    write_dicom(path, (500 + 20 * x + 10 * y).astype(np.uint16), modality=modality, view="")
    ds = pydicom.dcmread(path)
    ds.preamble = b"II*\x00" + b"\x08\x00\x00\x00" + bytes(120)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_dicm_at_offset_128_wins_over_a_tiff_preamble(tmp_path: Path) -> None:
    path = _dual_personality(tmp_path / "MR1", "MR")
    assert path.read_bytes()[:4] == b"II*\x00"
    assert sniff(path) is FileKind.DICOM
    assert not is_picture_file(path)
    # the same with a picture suffix: content decides, not the name
    renamed = path.rename(tmp_path / "MR1.tif")
    assert sniff(renamed) is FileKind.DICOM


def test_plain_pictures_and_other_files(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "noext"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(png, format="PNG")
    assert sniff(png) is FileKind.PICTURE
    tif = tmp_path / "a.tif"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tif)
    assert sniff(tif) is FileKind.PICTURE
    (tmp_path / "r.hea").write_text("r 1 360 10\n")
    assert sniff(tmp_path / "r.hea") is FileKind.WFDB
    (tmp_path / "x.txt").write_text("hello")
    assert sniff(tmp_path / "x.txt") is FileKind.UNKNOWN


@pytest.mark.parametrize("modality", ["MR", "US", "NM", "XA"])
def test_the_bundled_cnn_refuses_dual_personality_non_radiographs(
    tmp_path: Path, modality: str
) -> None:
    path = _dual_personality(tmp_path / f"{modality}1", modality)
    with pytest.raises(InputRejectedError, match=modality):
        analyze_image(BUNDLED_CNN, path, registry=ModelRegistry(), device="cpu", explain=False)


def test_pydicom_mr2_uncr_is_refused_by_predict_and_evaluate(
    shared_data: Path, tmp_path: Path, capsys
) -> None:
    """The real file from pydicom's test data, through the command line's two paths."""
    from engine.cli import main

    source = shared_data / "dicom" / "pydicom-data" / "MR2_UNCR.dcm"
    if not source.is_file():
        pytest.skip("pydicom test data not in the shared data")
    assert source.read_bytes()[:4] == b"II*\x00"
    assert sniff(source) is FileKind.DICOM
    code = main(["predict", "--model", BUNDLED_CNN, "--json", str(source)])
    out = capsys.readouterr()
    assert code != 0
    assert "pneumonia" not in [r.get("label") for r in _json_lines(out.out)]
    assert "modality is MR" in out.out + out.err
    # evaluate: a labelled folder holding the MR file scores nothing as pneumonia
    folder = tmp_path / "cases" / "pneumonia"
    folder.mkdir(parents=True)
    (folder / "MR2_UNCR").write_bytes(source.read_bytes())
    (tmp_path / "cases" / "normal").mkdir()
    main(["evaluate", "--model", BUNDLED_CNN, "--json", str(tmp_path / "cases")])
    out = capsys.readouterr()
    assert "modality is MR" in out.out + out.err


def _json_lines(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        rows.extend(value if isinstance(value, list) else [value])
    return [r for r in rows if isinstance(r, dict)]
