"""engine.dicom loads pydicom only when a file is read (the desktop shows its window first)."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def test_the_pixel_pipeline_geometry_and_measurements_need_no_pydicom():
    out = _run(
        "import sys\n"
        "import engine.dicom\n"
        "from engine.dicom import SpacingInfo, Window, apply_window, distance, full_range_window\n"
        "from engine.dicom import window_to_8bit, roi_stats\n"
        "print('pydicom' in sys.modules)\n"
    )
    assert out == "False"


def test_loading_pydicom_through_engine_dicom_fixes_the_decoding_plugins():
    out = _run(
        "from engine.dicom import read_dataset\n"
        "from pydicom.pixels import get_decoder\n"
        "from pydicom.uid import JPEG2000Lossless\n"
        "decoder = get_decoder(JPEG2000Lossless)\n"
        "print('stethos-openjpeg' in decoder.available_plugins, 'gdcm' in decoder.available_plugins)\n"
    )
    assert out == "True False"


def test_public_names_resolve_to_their_modules():
    import engine.dicom as dicom
    from engine.dicom.pixels import Window
    from engine.dicom.stream import scan_and_load

    assert dicom.Window is Window and dicom.scan_and_load is scan_and_load
    assert set(dicom.__all__) <= set(dir(dicom))
