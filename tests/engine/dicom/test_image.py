"""Reading images: every photometric interpretation and transfer syntax, multi-frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import get_decoder
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

from engine.dicom import PLUGIN_ORDER, read_dataset, read_image, render_8bit
from engine.dicom.decoders import FORBIDDEN_PLUGINS, configure_decoders, plugins_for
from tests.engine.dicom._helpers import pydicom_file

# Lossless copies that must decode to exactly the same modality values as
# their uncompressed reference, one per transfer syntax (and byte order).
LOSSLESS_PAIRS = [
    # (file, reference, what it exercises)
    ("pydicom:MR_small_RLE.dcm", "pydicom:MR_small.dcm", "RLE Lossless, signed 16-bit"),
    ("pydicom:MR_small_jpeg_ls_lossless.dcm", "pydicom:MR_small.dcm", "JPEG-LS lossless, signed"),
    ("pydicom:MR_small_jp2klossless.dcm", "pydicom:MR_small.dcm", "JPEG 2000 lossless, signed"),
    ("pydicom:MR_small_bigendian.dcm", "pydicom:MR_small.dcm", "Explicit VR Big Endian"),
    ("pydicom:MR_small_implicit.dcm", "pydicom:MR_small.dcm", "Implicit VR Little Endian"),
    ("pydicom:JPEG2000.dcm", "data:JPEG2000_UNC.dcm", "JPEG 2000 (lossy syntax, lossless data)"),
    ("data:693_J2KR.dcm", "data:693_UNCR.dcm", "JPEG 2000 lossless CT"),
    ("data:MR2_J2KR.dcm", "data:MR2_UNCR.dcm", "JPEG 2000 lossless, fractional rescale"),
    (
        "ljd:JPEGLossless/JPEGLossless_1s_1f_u_16_12.dcm",
        "data:MR2_UNCR.dcm",
        "JPEG Lossless 12-bit",
    ),
    ("ljd:JPEGLosslessSV1/RG2_JPLL.dcm", "ljd:JPEGLSLossless/RG2_JLSL.dcm", "JPEG Lossless SV1"),
    (
        "ljd:JPEGLosslessSV1/JPEGLosslessP14SV1_1s_1f_u_08_08.dcm",
        "data:JPGLosslessP14SV1_1s_1f_8b.dcm",
        "JPEG Lossless SV1 8-bit",
    ),
    ("data:US1_J2KR.dcm", "data:US1_UNCR.dcm", "JPEG 2000 lossless YBR_RCT colour"),
    ("data:JLSL_RGB_ILV0.dcm", "data:JLSL_RGB_ILV1.dcm", "JPEG-LS colour, interleave 0 vs 1"),
    ("data:JLSL_RGB_ILV2.dcm", "data:JLSL_RGB_ILV1.dcm", "JPEG-LS colour, interleave 2 vs 1"),
    ("pydicom:SC_rgb_rle.dcm", "data:SC_rgb.dcm", "RLE colour"),
    ("data:SC_rgb_16bit.dcm", "data:SC_rgb.dcm", "16-bit RGB to 8 bits"),
    ("data:SC_rgb_32bit.dcm", "data:SC_rgb.dcm", "32-bit RGB to 8 bits"),
    ("data:color-pl.dcm", "data:color-px.dcm", "planar configuration 1 vs 0"),
    ("ljd:JPEG2000/SC_rgb_gdcm_KY.dcm", "data:SC_rgb.dcm", "JPEG 2000 colour"),
    ("data:OBXXXX1A_rle.dcm", "data:OBXXXX1A.dcm", "PALETTE COLOR, RLE"),
    ("data:OBXXXX1A_expb.dcm", "data:OBXXXX1A.dcm", "PALETTE COLOR, big endian"),
    ("data:gdcm-US-ALOKA-16_big.dcm", "data:gdcm-US-ALOKA-16.dcm", "16-bit palette, big endian"),
    ("data:emri_small_RLE.dcm", "data:emri_small.dcm", "enhanced MR, 10 frames, RLE"),
    ("data:emri_small_big_endian.dcm", "data:emri_small.dcm", "enhanced MR, big endian"),
    ("data:emri_small_jpeg_2k_lossless.dcm", "data:emri_small.dcm", "enhanced MR, JPEG 2000"),
    ("data:emri_small_jpeg_ls_lossless.dcm", "data:emri_small.dcm", "enhanced MR, JPEG-LS"),
    ("data:liver_j2k.dcm", "data:liver.dcm", "1-bit segmentation, JPEG 2000"),
    ("data:liver_expb.dcm", "data:liver.dcm", "1-bit segmentation, big endian"),
]


@pytest.fixture
def resolve(pydicom_data: Path, pylibjpeg_data: Path):
    def _resolve(spec: str) -> Path:
        kind, name = spec.split(":", 1)
        if kind == "pydicom":
            return pydicom_file(name)
        return (pydicom_data if kind == "data" else pylibjpeg_data) / name

    return _resolve


@pytest.mark.parametrize(
    ("name", "reference", "what"), LOSSLESS_PAIRS, ids=[p[2] for p in LOSSLESS_PAIRS]
)
def test_lossless_syntaxes_decode_to_the_uncompressed_values(resolve, name, reference, what):
    image = read_image(resolve(name))
    expected = read_image(resolve(reference))
    assert image.frames.shape == expected.frames.shape
    assert np.array_equal(image.frames, expected.frames), what


def test_lossy_syntaxes_stay_close_to_their_source(pydicom_data: Path, pylibjpeg_data: Path):
    cases = [
        (pydicom_data / "HTJ2K_08_RGB.dcm", pydicom_data / "HTJ2KLossless_08_RGB.dcm", 5, 1.0),
        (pydicom_file("SC_rgb_dcmtk_+eb+cy+s2.dcm"), pydicom_data / "SC_rgb.dcm", 40, 3.0),
        (pydicom_data / "MR2_J2KI.dcm", pydicom_data / "MR2_UNCR.dcm", None, 0.02),
        (
            pylibjpeg_data / "JPEGLS" / "RG2_JLSN.dcm",
            pylibjpeg_data / "JPEGLSLossless" / "RG2_JLSL.dcm",
            None,
            0.01,
        ),
    ]
    for lossy, source, max_abs, max_mean_rel in cases:
        a = read_image(lossy).frames.astype(np.float64)
        b = read_image(source).frames.astype(np.float64)
        diff = np.abs(a - b)
        if max_abs is not None:
            assert diff.max() <= max_abs, lossy.name
            assert diff.mean() <= max_mean_rel, lossy.name
        else:
            assert diff.mean() <= max_mean_rel * (b.max() - b.min()), lossy.name


def test_deflated_syntax_matches_its_inflated_copy(tmp_path: Path):
    path = pydicom_file("image_dfl.dcm")
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    plain = tmp_path / "plain.dcm"
    ds.save_as(plain, enforce_file_format=True)
    assert np.array_equal(read_image(path).frames, read_image(plain).frames)
    assert read_image(path).transfer_syntax == "1.2.840.10008.1.2.1.99"


def test_each_photometric_interpretation(pydicom_data: Path, shared_data: Path):
    mono1 = read_image(shared_data / "cxr" / "samples" / "Fake_MONOHR1.dcm")
    mono2 = read_image(pydicom_file("CT_small.dcm"))
    rgb = read_image(pydicom_data / "SC_rgb.dcm")
    ybr_full = read_image(pydicom_data / "SC_ybr_full_uncompressed.dcm")
    ybr_422 = read_image(pydicom_file("SC_ybr_full_422_uncompressed.dcm"))
    palette = read_image(pydicom_data / "OT-PAL-8-face.dcm")
    assert (mono1.photometric, mono1.inverted) == ("MONOCHROME1", True)
    assert (mono2.photometric, mono2.inverted) == ("MONOCHROME2", False)
    for image, stored in [
        (rgb, "RGB"),
        (ybr_full, "YBR_FULL"),
        (ybr_422, "YBR_FULL_422"),
        (palette, "PALETTE COLOR"),
    ]:
        assert image.photometric == "RGB" and image.stored_photometric == stored
        assert image.is_color and image.frames.dtype == np.uint8 and image.frames.shape[-1] == 3
    # SC_rgb is eight colour bars: red is (255, 0, 0) and the YBR copies convert back to it
    red = rgb.frames[0, 5, 5]
    assert tuple(red) == (255, 0, 0)
    for ybr in (ybr_full, ybr_422):
        assert np.abs(ybr.frames.astype(int) - rgb.frames.astype(int)).max() <= 6
    # PALETTE COLOR: every output pixel is the palette entry of its stored index
    ds = read_dataset(pydicom_data / "OT-PAL-8-face.dcm")  # no preamble: bare data set
    index = ds.pixel_array
    red_lut = np.frombuffer(ds.RedPaletteColorLookupTableData, dtype="<u2")
    assert np.array_equal(palette.frames[0, ..., 0], (red_lut[index] >> 8).astype(np.uint8))


def test_monochrome1_radiograph_shows_low_values_bright(shared_data: Path):
    image = read_image(shared_data / "cxr" / "samples" / "Fake_MONOHR1.dcm")
    values = image.frames[0]
    shown = render_8bit(image)
    assert image.monochrome1
    assert shown[values == values.min()].min() == 255
    assert shown[values == values.max()].max() == 0
    assert image.pixel_spacing == (0.168, 0.168)


def test_signed_ct_with_rescale_gives_hounsfield_units(pydicom_data: Path):
    path = pydicom_data / "693_UNCR.dcm"
    ds = pydicom.dcmread(path)
    # 14 bits stored in 16, signed: negative stored values must be sign-extended
    assert (ds.PixelRepresentation, ds.BitsStored) == (1, 14)
    raw = np.frombuffer(ds.PixelData, dtype="<i2").reshape(ds.Rows, ds.Columns).astype(np.int32)
    raw = np.where(raw & 0x2000, raw | ~0x3FFF, raw & 0x3FFF)  # sign-extend bit 13 by hand
    assert raw.min() < 0
    image = read_image(path)
    expected = raw * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.array_equal(image.frames[0], expected.astype(np.float32))
    assert image.units == "HU"
    # outside the reconstruction circle: the vendor's padding value; inside: air near -1000 HU
    hu = image.frames[0]
    assert hu[0, 0] == -3024.0
    assert np.count_nonzero((hu > -1100) & (hu < -900)) > 5000


def test_modality_lut_sequence_and_voi_lut_sequence(pydicom_data: Path):
    image = read_image(pydicom_data / "mlut_18.dcm")
    ds = pydicom.dcmread(pydicom_data / "mlut_18.dcm")
    item = ds.ModalityLUTSequence[0]
    n, first, _ = item.LUTDescriptor
    lut = np.asarray(item.LUTData)
    index = np.clip(ds.pixel_array.astype(int) - first, 0, n - 1)
    assert np.array_equal(image.frames[0], lut[index].astype(np.float32))

    voi = read_image(pydicom_data / "vlut_04.dcm")
    window = voi.default_window()
    assert window.function == "LUT" and window.lut is not None
    ds = pydicom.dcmread(pydicom_data / "vlut_04.dcm")
    table = np.asarray(ds.VOILUTSequence[0].LUTData, dtype=np.float64)
    expected = np.rint(table[ds.pixel_array] * 255.0 / 65535.0)
    assert np.array_equal(render_8bit(voi), expected.astype(np.uint8))


def test_multiple_windows_are_selectable(pydicom_data: Path):
    image = read_image(pydicom_data / "MR-SIEMENS-DICOM-WithOverlays.dcm")
    assert [(w.center, w.width) for w in image.windows] == [(450.0, 790.0), (200.0, 443.0)]
    first = render_8bit(image, window=image.windows[0])
    second = render_8bit(image, window=image.windows[1])
    assert not np.array_equal(first, second)
    assert np.array_equal(render_8bit(image), first)


def _enhanced_ct(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 3-frame enhanced CT whose frames have their own rescale, window, spacing and position."""
    rng = np.random.default_rng(1)
    stored = rng.integers(0, 4096, size=(3, 8, 10), dtype=np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 8, 10, 3
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    shared = Dataset()
    orientation = Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = [orientation]
    ds.SharedFunctionalGroupsSequence = [shared]
    frames = []
    for i in range(3):
        item = Dataset()
        transform = Dataset()
        transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = (
            [1, 2, 0.5][i],
            -1024 + 10 * i,
            "HU",
        )
        item.PixelValueTransformationSequence = [transform]
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = 40 + i, 400 + i
        item.FrameVOILUTSequence = [voi]
        measures = Dataset()
        measures.PixelSpacing = [0.5 + i / 10, 0.5 + i / 10]
        measures.SliceThickness = 2
        item.PixelMeasuresSequence = [measures]
        position = Dataset()
        position.ImagePositionPatient = [0, 0, -2.0 * i]
        item.PlanePositionSequence = [position]
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = frames
    ds.PixelData = stored.tobytes()
    path = tmp_path / "enhanced.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, stored


def test_enhanced_multiframe_uses_per_frame_functional_groups(tmp_path: Path):
    path, stored = _enhanced_ct(tmp_path)
    image = read_image(path)
    assert image.n_frames == 3
    for i, (slope, intercept) in enumerate([(1, -1024), (2, -1014), (0.5, -1004)]):
        assert np.allclose(image.frames[i], stored[i].astype(np.float64) * slope + intercept)
        info = image.info(i)
        assert info.position == (0.0, 0.0, -2.0 * i)
        assert info.orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
        assert info.spacing.spacing == (0.5 + i / 10, 0.5 + i / 10)
        assert image.default_window(i).center == 40 + i
    assert image.pixel_spacing == (0.5, 0.5) and image.spacing_source == "PixelSpacing"


def test_enhanced_ct_from_the_corpus(pydicom_data: Path):
    path = pydicom_data / "eCT_Supplemental.dcm"
    image = read_image(path)
    ds = pydicom.dcmread(path)
    assert image.n_frames == 2
    shared = ds.SharedFunctionalGroupsSequence[0]
    window = shared.FrameVOILUTSequence[0]
    assert (image.default_window(1).center, image.default_window(1).width) == (
        float(window.WindowCenter),
        float(window.WindowWidth),
    )
    rescale = shared.PixelValueTransformationSequence[0]
    expected_values = ds.pixel_array[1] * float(rescale.RescaleSlope) + float(
        rescale.RescaleIntercept
    )
    assert np.array_equal(image.frames[1], expected_values.astype(np.float32))
    for i in (0, 1):
        group = ds.PerFrameFunctionalGroupsSequence[i]
        expected = tuple(float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient)
        assert image.info(i).position == expected


def test_classic_multiframe_and_frame_selection(pydicom_data: Path):
    image = read_image(pydicom_data / "SC_rgb_2frame.dcm")
    assert image.frames.shape == (2, 100, 100, 3)
    assert np.array_equal(render_8bit(image, frame=1), image.frames[1])
    with pytest.raises(IndexError):
        render_8bit(image, frame=2)


def test_ultrasound_ybr_422_jpeg_multiframe():
    image = read_image(pydicom_file("examples_ybr_color.dcm"))
    assert image.frames.shape == (30, 240, 320, 3)
    assert image.stored_photometric == "YBR_FULL_422"


def test_float_pixel_data_keeps_real_values(pydicom_data: Path):
    image = read_image(pydicom_data / "parametric_map_float.dcm")
    raw = pydicom.dcmread(pydicom_data / "parametric_map_float.dcm").pixel_array
    assert np.array_equal(image.frames[0], raw.astype(np.float32))


def test_pixel_spacing_sources_for_measurement(tmp_path: Path):
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    del ds.PixelSpacing
    ds.ImagerPixelSpacing = [0.2, 0.2]
    detector = tmp_path / "detector.dcm"
    ds.save_as(detector)
    image = read_image(detector)
    assert (image.pixel_spacing, image.spacing_source) == ((0.2, 0.2), "ImagerPixelSpacing")
    assert "overestimated" in image.info().spacing.note

    ds.EstimatedRadiographicMagnificationFactor = 1.25
    corrected = tmp_path / "corrected.dcm"
    ds.save_as(corrected)
    image = read_image(corrected)
    assert image.pixel_spacing == pytest.approx((0.16, 0.16))
    assert image.spacing_source == "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"

    ds.PixelSpacing = [0.15, 0.15]
    calibrated = tmp_path / "calibrated.dcm"
    ds.save_as(calibrated)
    image = read_image(calibrated)
    assert (image.pixel_spacing, image.spacing_source) == ((0.15, 0.15), "PixelSpacing")


def test_presentation_lut_inverse_inverts_monochrome2(tmp_path: Path):
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.PresentationLUTShape = "INVERSE"
    path = tmp_path / "inverse.dcm"
    ds.save_as(path)
    plain = read_image(pydicom_file("CT_small.dcm"))
    inverse = read_image(path)
    assert inverse.inverted and not plain.inverted
    assert np.array_equal(render_8bit(inverse), 255 - render_8bit(plain))


def test_decoders_are_fixed_and_never_gdcm():
    configure_decoders()
    for ts, order in PLUGIN_ORDER.items():
        assert not set(order) & set(FORBIDDEN_PLUGINS)
        available = get_decoder(ts).available_plugins
        assert "gdcm" not in available
        assert plugins_for(ts), f"no decoder installed for {ts.name}"
    assert plugins_for(JPEG2000Lossless)[0] == "stethos-openjpeg"
    assert plugins_for(RLELossless) == ("stethos-rle", "pydicom")


def test_decoder_used_is_recorded(pydicom_data: Path):
    assert read_image(pydicom_data / "693_J2KR.dcm").decoder == "stethos-openjpeg"
    assert read_image(pydicom_data / "emri_small_jpeg_ls_lossless.dcm").decoder == "stethos-jpegls"
    assert read_image(pydicom_data / "emri_small_RLE.dcm").decoder == "stethos-rle"
    assert read_image(pydicom_data / "693_UNCR.dcm").decoder == "pydicom"
