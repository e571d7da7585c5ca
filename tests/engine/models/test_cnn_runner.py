"""Image models end to end: DICOM/PNG in, calibrated probabilities, gates, heat maps, batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.api import analyze_image, analyze_many, load_model
from engine.errors import InputRejectedError, NotDicomError, OperationCancelled
from engine.models.bundle import open_bundle
from engine.models.outputs import logits_to_probabilities
from engine.models.preprocess import ImageSpec, dicom_to_input, image_to_array
from engine.models.registry import ModelRegistry
from engine.models.runtime import predict_many
from engine.progress import CancelToken
from tests.engine.models.dicom_files import write_dicom
from tests.engine.models.factory import make_cnn_bundle


def _phantom(rows: int = 40, cols: int = 56) -> np.ndarray:
    y, x = np.mgrid[0:rows, 0:cols]
    return (400 + 3000 * np.exp(-((x - 15) ** 2 + (y - 20) ** 2) / 40.0)).astype(np.uint16)


def test_real_radiographs_give_full_results(registry: ModelRegistry, cxr_samples) -> None:
    for path in cxr_samples:
        pred = analyze_image("test-cnn", path, registry=registry, device="cpu")
        assert set(pred.probabilities) == {"normal", "pneumonia"}
        assert sum(pred.probabilities.values()) == pytest.approx(1.0)
        assert pred.label == ("pneumonia" if pred.score >= 0.5 else "normal")
        assert (pred.model_id, pred.model_version, pred.device) == ("test-cnn", "0.1.0", "cpu")
        assert pred.operating_point == "balanced" and pred.sensitivity == 0.9
        assert len(pred.weights_sha256) == 64 and len(pred.input_hash) == 64
        assert pred.heatmap is not None and pred.heatmap.shape == (1024, 1024)
        assert pred.heatmap.dtype == np.float32
        assert 0.0 <= pred.heatmap.min() and pred.heatmap.max() <= 1.0
        assert pred.explanation_method == "gradcam"
        assert pred.elapsed_ms > 0
        assert pred.to_json()["probabilities"] == pred.probabilities


def test_monochrome1_is_inverted_before_the_model(tmp_path: Path) -> None:
    pixels = _phantom()
    mono2 = write_dicom(tmp_path / "m2.dcm", pixels, photometric="MONOCHROME2")
    mono1 = write_dicom(tmp_path / "m1.dcm", pixels, photometric="MONOCHROME1")
    from engine.dicom import read_image

    spec = ImageSpec(size=16, channels=1, mean=(0.0,), std=(1.0,))
    a2 = dicom_to_input(read_image(mono2), spec).pixels.astype(int)
    a1 = dicom_to_input(read_image(mono1), spec).pixels.astype(int)
    assert np.abs(a1 - (255 - a2)).max() <= 1  # rounding ties may differ by one level
    # The full-range window maps the phantom's min/max to 0/255 (independent reference).
    lo, hi = pixels.min(), pixels.max()
    expected = np.rint((pixels - lo) / (hi - lo) * 255)
    assert np.abs(a2 - expected).max() <= 1


def test_image_to_array_squashes_and_normalises() -> None:
    spec = ImageSpec(size=8, channels=3, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    from engine.models.preprocess import array_to_input

    flat = array_to_input(np.full((20, 40), 255, dtype=np.uint8))
    x = image_to_array(flat, spec)
    assert x.shape == (3, 8, 8) and x.dtype == np.float32
    assert np.allclose(x, (1.0 - 0.5) / 0.25)


def test_lateral_view_is_refused(registry: ModelRegistry, tmp_path: Path) -> None:
    lateral = write_dicom(tmp_path / "lat.dcm", _phantom(), view="LL")
    with pytest.raises(InputRejectedError) as err:
        analyze_image("test-cnn", lateral, registry=registry, device="cpu")
    msg = err.value.user_message
    assert "lat.dcm" in msg and "LL" in msg and "test-cnn" in msg


def test_ct_is_refused_by_a_radiograph_model(registry: ModelRegistry, tmp_path: Path) -> None:
    ct = write_dicom(tmp_path / "ct.dcm", _phantom(), modality="CT", view="")
    with pytest.raises(InputRejectedError, match=r"modality is CT; the model takes CR, DX"):
        analyze_image("test-cnn", ct, registry=registry, device="cpu")


def test_warn_gate_scores_and_reports(tmp_path: Path) -> None:
    root = tmp_path / "m"
    make_cnn_bundle(
        root,
        "warn-cnn",
        gates={"body_part": {"allowed": ["CHEST"], "action": "warn"}},
    )
    reg = ModelRegistry([(root, "bundled")])
    knee = write_dicom(tmp_path / "knee.dcm", _phantom(), body_part="KNEE")
    pred = analyze_image("warn-cnn", knee, registry=reg, device="cpu")
    assert len(pred.warnings) == 1 and "KNEE" in pred.warnings[0]
    assert pred.to_json()["warnings"] == list(pred.warnings)


def test_png_without_metadata_is_scored_with_a_warning(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    from PIL import Image

    png = tmp_path / "cxr.png"
    Image.fromarray((_phantom() // 16).astype(np.uint8)).save(png)
    pred = analyze_image("test-cnn", png, registry=registry, device="cpu")
    assert pred.heatmap.shape == (40, 56)
    assert any("does not record its modality" in w for w in pred.warnings)


def test_unreadable_file_raises_a_dicom_error(registry: ModelRegistry, tmp_path: Path) -> None:
    bad = tmp_path / "notes.dcm"
    bad.write_text("not an image")
    with pytest.raises(NotDicomError, match=r"notes\.dcm"):
        analyze_image("test-cnn", bad, registry=registry, device="cpu")


def test_a_broken_picture_says_so_apart_from_a_file_that_is_no_picture(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    """A JPEG cut short while copying used to be called "not an image file Stethos can
    read (PNG, JPEG, …)", which sends the user looking for a converter, not the original."""
    from PIL import Image

    whole = tmp_path / "whole.jpg"
    Image.fromarray((_phantom(400, 560) // 16).astype(np.uint8)).save(whole, quality=95)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    expected = {
        cut: "“cut.jpg” could not be decoded: the file is damaged or incomplete",
        text: "“notes.png” is not an image file Stethos can read",
        tmp_path / "gone.png": "“gone.png” does not exist.",
    }
    for path, message in expected.items():
        with pytest.raises(NotDicomError) as info:
            analyze_image("test-cnn", path, registry=registry, device="cpu")
        assert message in info.value.user_message


def test_batch_keeps_order_reports_errors_and_progress(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    good = [write_dicom(tmp_path / f"g{i}.dcm", _phantom() + i * 50) for i in range(3)]
    lateral = write_dicom(tmp_path / "lat.dcm", _phantom(), view="RL")
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\0" * 10)
    inputs = [good[0], lateral, good[1], junk, good[2]]
    reports: list[float] = []
    items = analyze_many(
        "test-cnn", inputs, registry=registry, device="cpu", batch_size=2,
        progress=lambda f, t="": reports.append(f),
    )  # fmt: skip
    assert [it.ok for it in items] == [True, False, True, False, True]
    assert [it.input for it in items] == inputs
    assert isinstance(items[1].error, InputRejectedError)
    assert reports[-1] == 1.0 and reports == sorted(reports)
    # Batched and single results agree.
    single = analyze_image("test-cnn", good[1], registry=registry, device="cpu", explain=False)
    assert items[2].prediction.probabilities == pytest.approx(single.probabilities, abs=1e-6)


def test_batch_can_be_cancelled(registry: ModelRegistry, tmp_path: Path) -> None:
    model = load_model("test-cnn", registry, device="cpu")
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelled):
        predict_many(model, [write_dicom(tmp_path / "a.dcm", _phantom())], cancel=token)


def test_other_operating_point(registry: ModelRegistry, cxr_samples) -> None:
    pred = analyze_image(
        "test-cnn", cxr_samples[0], registry=registry, device="cpu",
        operating_point="high-sensitivity", explain=False,
    )  # fmt: skip
    assert pred.operating_point == "high-sensitivity" and pred.threshold == 0.2
    assert pred.heatmap is None


def test_temperature_and_platt_calibration(tmp_path: Path) -> None:
    logits = np.array([[0.0, 2.0], [1.0, -1.0]])
    path = make_cnn_bundle(
        tmp_path, outputs={
            "labels": ["normal", "pneumonia"], "positive_label": "pneumonia",
            "exclusive": True, "calibrated": True,
            "calibration": {"method": "temperature", "temperature": 2.0},
        },
    )  # fmt: skip
    p = logits_to_probabilities(logits, open_bundle(path))
    assert p[0, 1] == pytest.approx(1 / (1 + np.exp(-1.0)))
    path = make_cnn_bundle(
        tmp_path, "platt-cnn", outputs={
            "labels": ["normal", "pneumonia"], "positive_label": "pneumonia",
            "exclusive": True, "calibrated": True,
            "calibration": {"method": "platt", "a": 0.5, "b": -1.0},
        },
    )  # fmt: skip
    p = logits_to_probabilities(logits, open_bundle(path))
    assert p[0, 1] == pytest.approx(1 / (1 + np.exp(-(0.5 * 2.0 - 1.0))))
    assert p[1, 1] == pytest.approx(1 / (1 + np.exp(-(0.5 * -2.0 - 1.0))))
    assert np.allclose(p.sum(axis=1), 1.0)


def test_model_input_is_rendered_exactly_as_the_viewer_shows_it(cxr_samples, tmp_path) -> None:
    """The in-place LINEAR window gives the same 8-bit levels as engine.dicom.render_8bit."""
    from engine.dicom import Window, read_image, render_8bit

    spec = ImageSpec(size=16, channels=1, mean=(0.0,), std=(1.0,))
    files = [*cxr_samples, write_dicom(tmp_path / "m1.dcm", _phantom(), photometric="MONOCHROME1")]
    for path in files:
        image = read_image(path)
        assert np.array_equal(dicom_to_input(image, spec).pixels, render_8bit(image))
        # and with an arbitrary window, odd widths and out-of-range values included
        win = Window(center=1234.5, width=777.0)
        image2 = read_image(path)
        from engine.models.preprocess import _linear_window_in_place

        assert np.array_equal(
            _linear_window_in_place(image2.frames[0], win, image2.inverted),
            render_8bit(image2, 0, win),
        )


def test_concurrent_jobs_on_one_cached_model_give_their_own_maps(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    paths = [write_dicom(tmp_path / f"c{i}.dcm", np.roll(_phantom(), 9 * i, axis=1))
             for i in range(4)]  # fmt: skip
    alone = [analyze_image("test-cnn", p, registry=registry, device="cpu") for p in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(
            pool.map(lambda p: analyze_image("test-cnn", p, registry=registry, device="cpu"), paths)
        )
    for a, b in zip(alone, together, strict=True):
        assert np.allclose(a.heatmap, b.heatmap, atol=1e-6)
        assert a.probabilities == pytest.approx(b.probabilities)
