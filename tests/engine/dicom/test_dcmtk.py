"""Stethos renders against an independent renderer, dcmtk, pixel for pixel.

Every file of ``../shared/data/dicom`` (pydicom-data and pylibjpeg-data),
``../shared/data/cxr/samples`` and pydicom's test files (the first frame of
multi-frame files) is rendered by Stethos and by ``dcmj2pnm``/``dcml2pnm`` (JPEG 2000 through
``gdcmconv --raw``): grayscale with the file's own window / VOI LUT /
min-max window and with an explicit window, colour as RGB. The 8-bit
outputs may differ by at most 1; every larger difference and every refusal
is listed below with its reason. Needs Debian's ``dcmtk`` and
``libgdcm-tools``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from engine.dicom import read_image
from engine.dicom.verify import (
    DIFF,
    OK,
    REFUSED_BOTH,
    REFUSED_DCMTK,
    REFUSED_OURS,
    SKIPPED,
    check_files,
    default_corpus,
)
from tests.engine.dicom._helpers import pydicom_file

pytestmark = pytest.mark.skipif(
    shutil.which("dcmj2pnm") is None,
    reason="dcmtk is not installed (apt-get install dcmtk libgdcm-tools)",
)

LOSSY_JPEG = (
    "lossy JPEG: pylibjpeg-libjpeg and dcmtk's IJG decoder reconstruct samples that differ "
    "by ±1 (IDCT rounding, within the ISO/IEC 10918-2 tolerance); a window steeper than "
    "1 grey level per unit multiplies the difference (checked below with dcmdjpeg)"
)
YBR_ROUNDING = "YBR_FULL → RGB: pydicom and dcmtk round the colour conversion differently"
BIG_ENDIAN_32 = (
    "32-bit pixels as OW in Explicit VR Big Endian: dcmtk swaps them as 16-bit words; "
    "Stethos (pydicom) reads 32-bit values and equals the little-endian copy of the same "
    "dose grid (asserted below)"
)

#: Files whose 8-bit output differs from dcmtk's by more than 1: (largest allowed, why).
CONVENTIONS: dict[str, tuple[int, str]] = {
    "JPEGBaseline_1s_1f_u_08_08.dcm": (2, LOSSY_JPEG),
    "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm": (2, LOSSY_JPEG),
    "Fake_MONOHR1.dcm": (2, LOSSY_JPEG),
    "JPEGExtended_1s_1f_u_16_12.dcm": (5, LOSSY_JPEG),
    "JPGExtended.dcm": (5, LOSSY_JPEG),
    "JPEGExtended_3s_1f_u_08_08.dcm": (3, LOSSY_JPEG),
    "SC_rgb_dcmtk_+eb+cy+n1.dcm": (2, LOSSY_JPEG),
    "SC_rgb_dcmtk_+eb+cy+np.dcm": (2, LOSSY_JPEG),
    "SC_rgb_jpeg_lossy_gdcm.dcm": (2, LOSSY_JPEG),
    "SC_ybr_full_uncompressed.dcm": (2, YBR_ROUNDING),
    "examples_ybr_color.dcm": (3, LOSSY_JPEG),
    "rtdose_expb_1frame.dcm": (255, BIG_ENDIAN_32),
    "rtdose_expb.dcm": (255, BIG_ENDIAN_32),
}

#: Files one or both renderers refuse: (status, why). Refusing is the right answer for
#: damaged files: never show garbage.
REFUSALS: dict[str, tuple[str, str]] = {
    "966.dcm": (REFUSED_BOTH, "damaged JPEG 2000 codestream (pylibjpeg-data ships 966_fixed.dcm)"),
    "JPEG2000-embedded-sequence-delimiter.dcm": (REFUSED_BOTH, "damaged encapsulation"),
    "MR_truncated.dcm": (REFUSED_BOTH, "truncated pixel data"),
    "meta_missing_tsyntax.dcm": (REFUSED_BOTH, "no image size in the header"),
    "nested_priv_SQ.dcm": (REFUSED_BOTH, "no image size in the header"),
    "badVR.dcm": (REFUSED_OURS, "Number of Frames is '1A'; dcmtk guesses 1, Stethos refuses"),
    "JLSL_08_07_0_1F.dcm": (REFUSED_DCMTK, "dcmtk rejects 7-bit JPEG-LS; CharLS decodes it"),
    "parametric_map_float.dcm": (REFUSED_DCMTK, "dcmtk has no Float Pixel Data support"),
    "parametric_map_double_float.dcm": (REFUSED_DCMTK, "dcmtk has no Double Float Pixel Data"),
    "SC_rgb_32bit.dcm": (REFUSED_DCMTK, "dcmtk does not render 32-bit RGB"),
    "SC_rgb_expb_32bit.dcm": (REFUSED_DCMTK, "dcmtk does not render 32-bit RGB"),
    "gdcm-US-ALOKA-16.dcm": (REFUSED_DCMTK, "dcmtk rejects this 16-bit palette descriptor"),
    "gdcm-US-ALOKA-16_big.dcm": (REFUSED_DCMTK, "dcmtk rejects this 16-bit palette descriptor"),
    "HTJ2KLossless_08_RGB.dcm": (REFUSED_DCMTK, "Debian's GDCM 3.0 has no HTJ2K"),
    "HTJ2K_08_RGB.dcm": (REFUSED_DCMTK, "Debian's GDCM 3.0 has no HTJ2K"),
    "SC_rgb_jpeg.dcm": (REFUSED_DCMTK, "dcmtk's IJG stops at the premature end of stream"),
    "SC_rgb_32bit_2frame.dcm": (REFUSED_DCMTK, "dcmtk does not render 32-bit RGB"),
    "SC_rgb_expb_32bit_2frame.dcm": (REFUSED_DCMTK, "dcmtk does not render 32-bit RGB"),
    "eCT_Supplemental.dcm": (
        REFUSED_DCMTK,
        "dcmtk 3.6.7 ignores the Frame VOI LUT functional group (+Wi 1: 'only 0 windows')",
    ),
    "emri_small_jpeg_2k_lossless_too_short.dcm": (REFUSED_BOTH, "data set unreadable"),
    "liver_deflate.dcm": (REFUSED_BOTH, "Deflated Image Frame Compression: no decoder"),
    "liver_nonbyte_aligned_deflate.dcm": (REFUSED_BOTH, "Deflated Image Frame Compression"),
    "liver_rle.dcm": (REFUSED_BOTH, "1-bit RLE: no RLE decoder supports it (gdcmconv aborts)"),
    "liver_nonbyte_aligned_rle.dcm": (REFUSED_BOTH, "1-bit RLE, as above"),
}


@pytest.fixture(scope="module")
def checks(shared_data: Path):
    corpus = default_corpus(shared_data)
    if not any("pydicom-data" in str(p) for p in corpus):
        pytest.skip("the shared DICOM corpora are missing")
    return check_files(corpus, workers=2, multiframe=True)


def test_every_grayscale_image_matches_dcmtk(checks):
    compared = [c for c in checks if c.status in (OK, DIFF) and c.photometric.startswith("MONO")]
    assert len(compared) >= 150  # both modes of ~80 grayscale files
    syntaxes = {c.syntax for c in compared}
    assert len(syntaxes) >= 11  # every transfer syntax the corpora hold
    for c in checks:
        if c.status == DIFF:
            assert c.path.name in CONVENTIONS, f"{c.path.name} [{c.mode}] differs by {c.max_diff}"
            assert c.max_diff <= CONVENTIONS[c.path.name][0], (c.path.name, c.mode, c.max_diff)


def test_colour_files_match_dcmtk(checks):
    colour = [c for c in checks if c.mode == "colour" and c.status in (OK, DIFF)]
    assert len(colour) >= 40
    assert sum(c.status == OK for c in colour) >= len(colour) - len(CONVENTIONS)


def test_refusals_are_the_documented_ones(checks):
    refused = {c.path.name: c for c in checks if c.status not in (OK, DIFF, SKIPPED)}
    for name, check in refused.items():
        assert name in REFUSALS, f"{name}: {check.status}: {check.message}"
        assert check.status == REFUSALS[name][0], (name, check.status)
        if check.status != REFUSED_DCMTK:
            assert name in check.message  # Stethos names the file in its refusal
    # files Stethos decodes only through the gdcmconv child process still match dcmtk
    for name in ("JPEG-lossy.dcm", "RG2_JPLY.dcm"):
        assert {c.status for c in checks if c.path.name == name} == {OK}


def test_lossy_jpeg_differences_are_decoder_rounding(tmp_path: Path, pylibjpeg_data: Path):
    if shutil.which("dcmdjpeg") is None:
        pytest.skip("dcmdjpeg (dcmtk) is not installed")
    for path in (
        pylibjpeg_data / "JPEGExtended" / "JPEGExtended_1s_1f_u_16_12.dcm",
        pylibjpeg_data / "JPEGBaseline" / "JPEGBaseline_1s_1f_u_08_08.dcm",
    ):
        out = tmp_path / path.name
        subprocess.run(["dcmdjpeg", str(path), str(out)], check=True, capture_output=True)
        ours = read_image(path).frames
        theirs = read_image(out).frames
        assert np.abs(ours - theirs).max() <= 1.0, path.name


def test_big_endian_dose_equals_its_little_endian_copy():
    big = read_image(pydicom_file("rtdose_expb_1frame.dcm")).frames
    little = read_image(pydicom_file("rtdose_1frame.dcm")).frames
    assert np.array_equal(big, little)
