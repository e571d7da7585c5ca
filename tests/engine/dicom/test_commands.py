"""``stethos-engine info`` and ``render``, called in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from engine.cli import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, main
from engine.dicom import read_image, render_8bit
from engine.dicom.pixels import Window
from tests.engine.dicom._helpers import pydicom_file


def test_info_lists_patients_studies_series(ct_folder: Path, capsys):
    assert main(["info", str(ct_folder)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "SYNTHETIC PHANTOM" in out
    assert "CT 1 — Synthetic axial CT (12 images)" in out
    assert "slices every 1.25 mm, ordered by position" in out


def test_info_json_of_a_dicomdir(capsys):
    assert main(["info", str(pydicom_file("DICOMDIR")), "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert len(data["patients"]) == 2
    series = [se for p in data["patients"] for st in p["studies"] for se in st["series"]]
    brain = next(se for se in series if se["description"] == "Routine Brain")
    assert brain["images"] == 4 and brain["flags"]["gaps"] is True
    assert data["problems"] == []


def test_info_reports_bad_files_with_partial_exit(ct_folder: Path, capsys):
    (ct_folder / "junk.dcm").write_text("not dicom")
    assert main(["info", str(ct_folder), "--json"]) == EXIT_PARTIAL
    data = json.loads(capsys.readouterr().out)
    assert [Path(p["path"]).name for p in data["problems"]] == ["junk.dcm"]
    assert "not a DICOM file" in data["problems"][0]["message"]


def test_info_of_nothing_usable_fails(tmp_path: Path, capsys):
    (tmp_path / "a.txt").write_text("x")
    assert main(["info", str(tmp_path)]) == EXIT_ERROR
    assert "a.txt" in capsys.readouterr().out


def test_render_matches_the_viewer(tmp_path: Path, pydicom_data: Path):
    source = pydicom_data / "693_J2KR.dcm"
    out = tmp_path / "ct.png"
    assert main(["render", str(source), "--out", str(out)]) == EXIT_OK
    png = np.asarray(Image.open(out))
    assert np.array_equal(png, render_8bit(read_image(source)))


def test_render_with_explicit_window_and_no_window(tmp_path: Path, pydicom_data: Path):
    source = pydicom_data / "693_J2KR.dcm"
    image = read_image(source)
    out = tmp_path / "lung.png"
    assert main(["render", str(source), "--out", str(out), "--window=-600,1500"]) == EXIT_OK
    expected = render_8bit(image, window=Window(-600, 1500))
    assert np.array_equal(np.asarray(Image.open(out)), expected)
    # the lung window written as a person types it: a negative centre after a space
    spaced = tmp_path / "lung-spaced.png"
    assert main(["render", str(source), "--out", str(spaced), "--window", "-600,1500"]) == EXIT_OK
    assert np.array_equal(np.asarray(Image.open(spaced)), expected)
    full = tmp_path / "full.png"
    assert main(["render", str(source), "--out", str(full), "--no-window"]) == EXIT_OK
    shown = np.asarray(Image.open(full))
    assert shown.min() == 0 and shown.max() == 255


def test_render_raw_writes_16_bit_pgm_with_offset(tmp_path: Path, capsys):
    source = pydicom_file("CT_small.dcm")
    out = tmp_path / "ct.pgm"
    assert main(["render", str(source), "--out", str(out), "--raw"]) == EXIT_OK
    data = out.read_bytes()
    header, _, _ = data.partition(b"65535\n")
    assert header.startswith(b"P5\n# offset ")
    offset = int(header.split(b"\n")[1].split()[-1])
    hu = read_image(source).frames[0]
    assert offset == min(0, int(hu.min()))
    pixels = np.frombuffer(data[len(header) + 6 :], dtype=">u2").reshape(hu.shape)
    assert np.array_equal(pixels.astype(np.int64) + offset, np.rint(hu).astype(np.int64))
    assert f"value - ({offset})" in capsys.readouterr().out


def test_render_frame_of_a_multiframe(tmp_path: Path, pydicom_data: Path):
    source = pydicom_data / "emri_small.dcm"
    out = tmp_path / "f9.png"
    assert main(["render", str(source), "--out", str(out), "--frame", "9"]) == EXIT_OK
    assert np.array_equal(np.asarray(Image.open(out)), render_8bit(read_image(source), 9))
    assert main(["render", str(source), "--out", str(out), "--frame", "10"]) == EXIT_USAGE


def test_render_usage_and_file_errors(tmp_path: Path, capsys):
    source = pydicom_file("CT_small.dcm")
    assert (
        main(["render", str(source), "--out", str(tmp_path / "x.png"), "--window=40"]) == EXIT_USAGE
    )
    bad = tmp_path / "bad.dcm"
    bad.write_text("nope")
    assert main(["render", str(bad), "--out", str(tmp_path / "y.png")]) == EXIT_ERROR
    assert "“bad.dcm” is not a DICOM file" in capsys.readouterr().err
    colour = pydicom_file("SC_rgb_rle.dcm")
    assert main(["render", str(colour), "--out", str(tmp_path / "c.pgm"), "--raw"]) == EXIT_USAGE
    capsys.readouterr()
    nowhere = tmp_path / "no-such-folder"
    for raw in ([], ["--raw"]):
        out = nowhere / "x.png"
        assert main(["render", str(source), "--out", str(out), *raw]) == EXIT_ERROR
        assert f"error: cannot write {out}: No such file or directory" in capsys.readouterr().err
    assert main(["render", str(source), "--out", str(tmp_path / "x.nope")]) == EXIT_USAGE
    assert "x.nope: give the output a .png, .tif or .jpg name" in capsys.readouterr().err
