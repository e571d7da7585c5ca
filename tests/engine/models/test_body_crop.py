"""The body-crop preprocessing: outline, crop box, black air, heat map mapped back."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from engine.explain.cam import cam_to_source
from engine.models.body import WHOLE, CropBox, body_crop, body_mask
from engine.models.preprocess import ImageSpec, array_to_input, prepare_image
from tests.engine.models.factory import cnn_manifest, make_cnn_bundle


def _radiograph(rows: int = 120, cols: int = 160) -> np.ndarray:
    """Dark air, a bright elliptical 'body' in the middle-left, a white marker in a corner."""
    y, x = np.mgrid[0:rows, 0:cols]
    body = ((y - 60) / 45.0) ** 2 + ((x - 70) / 40.0) ** 2 <= 1.0
    img = np.where(body, 170, 12).astype(np.uint8)
    img[body & (np.abs(x - 70) < 10)] = 230  # a brighter "spine" inside
    img[2:10, 140:155] = 255  # a burned-in marker outside the body
    return img


def test_body_mask_is_the_outline_without_the_marker() -> None:
    img = _radiograph()
    mask = body_mask(img)
    y, x = np.mgrid[0:120, 0:160]
    truth = ((y - 60) / 45.0) ** 2 + ((x - 70) / 40.0) ** 2 <= 1.0
    assert (mask == truth).mean() > 0.97
    assert not mask[2:10, 140:155].any()  # the marker is a separate, smaller component


def test_body_mask_of_a_flat_image_is_everything() -> None:
    assert body_mask(np.zeros((20, 20), np.uint8)).all()


def test_body_crop_boxes_the_body_and_blacks_out_the_air() -> None:
    img = np.asarray(
        __import__("PIL.Image", fromlist=["Image"]).fromarray(_radiograph()).resize((64, 64))
    )
    out, box = body_crop(img)
    assert out.shape == (64, 64) and out.dtype == np.uint8
    # The ellipse spans rows 15–105 of 120 and columns 30–110 of 160 (plus the 2 % margin).
    assert box.top == pytest.approx(15 / 120, abs=0.04) and box.bottom == pytest.approx(
        105 / 120, abs=0.04
    )
    assert box.left == pytest.approx(30 / 160, abs=0.04) and box.right == pytest.approx(
        110 / 160, abs=0.04
    )
    # The corners of the crop are air outside the ellipse: black, not the source's dark grey 12.
    assert out[0, 0] == 0 and out[-1, -1] == 0
    assert out[32, 32] >= 160  # the body's middle is kept


def test_prepare_image_reports_the_box_only_for_body_crop() -> None:
    inp = array_to_input(_radiograph())
    squash = ImageSpec(size=32, channels=3, mean=(0.0,), std=(1.0,))
    crop = ImageSpec(size=32, channels=3, mean=(0.0,), std=(1.0,), resize="body-crop")
    xs, box_s = prepare_image(inp, squash)
    xc, box_c = prepare_image(inp, crop)
    assert box_s == WHOLE and not box_c.whole
    assert xs.shape == xc.shape == (3, 32, 32)
    assert xc[0, 0, 0] == 0.0 and xs[0, 0, 0] > 0.0  # air blacked out only in the crop


def test_box_pixels_cover_at_least_one_pixel() -> None:
    assert CropBox(0.5, 0.5, 0.99, 1.0).pixels(10, 10) == (5, 6, 9, 10)
    assert WHOLE.pixels(7, 9) == (0, 7, 0, 9)


def test_cam_to_source_puts_the_map_in_its_box() -> None:
    cam = np.array([[0.0, 1.0], [2.0, 0.0]], dtype=np.float32)
    out = cam_to_source(cam, (40, 60), (10, 30, 20, 50))
    assert out.shape == (40, 60)
    assert not out[:10].any() and not out[30:].any()
    assert not out[:, :20].any() and not out[:, 50:].any()
    assert out[10:30, 20:50].max() == pytest.approx(1.0)
    assert out[29, 20] > out[10, 49]  # the 2.0 cell is the box's bottom-left


def test_a_body_crop_model_draws_its_heat_map_only_inside_the_box(tmp_path: Path) -> None:
    from engine.api import analyze_image
    from engine.models.registry import ModelRegistry

    m = cnn_manifest("crop-cnn")
    pre = copy.deepcopy(m["preprocessing"])
    pre["resize"] = "body-crop"
    make_cnn_bundle(tmp_path / "models", "crop-cnn", preprocessing=pre)
    registry = ModelRegistry([(tmp_path / "models", "bundled")])
    pred = analyze_image("crop-cnn", _radiograph(), registry=registry, device="cpu")
    heat = pred.heatmap
    assert heat is not None and heat.shape == (120, 160)
    rows, cols = np.flatnonzero(heat.any(axis=1)), np.flatnonzero(heat.any(axis=0))
    if rows.size:  # a random net may push nothing towards the class: then the map is empty
        assert rows[0] >= 10 and rows[-1] <= 110 and cols[0] >= 24 and cols[-1] <= 116


def test_a_preprocessing_stethos_cannot_apply_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="resize mode"):
        ImageSpec(size=32, channels=3, mean=(0.0,), std=(1.0,), resize="zoom")
    with pytest.raises(ValueError, match="grey"):
        ImageSpec(size=32, channels=3, mean=(0.0,), std=(1.0,), resize="body-crop", color="rgb")
