"""The shipped CNN and beat bundles reproduce their stored validation outputs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from engine.api import analyze_image, analyze_signal
from engine.resources import resource_path

CXR = "cxr-pneumonia-resnet18-224"
BEATS = "ecg-beats-bilstm-360"


def _manifest(model_id: str) -> dict:
    return json.loads((resource_path("models", model_id) / "manifest.json").read_text())


def test_cnn_reproduces_its_stored_held_out_predictions(shared_data):
    root = shared_data / "cxr" / "kermany-224"
    sample = _manifest(CXR)["validation"]["reproduce_sample"]
    assert len(sample) >= 8
    for entry in sample:
        p = analyze_image(CXR, root / entry["path"], explain=False, device="cpu")
        assert p.score == pytest.approx(entry["probability"], abs=1e-4), entry["path"]


def test_cnn_gives_the_same_answer_on_full_resolution_images(shared_data):
    """The declared preprocessing turns a full-size radiograph into what training saw."""
    full = shared_data / "cxr" / "kermany-fullres-samples"
    small = shared_data / "cxr" / "kermany-224"
    with (full / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    diffs, correct = [], 0
    for row in rows:
        a = analyze_image(CXR, full / row["path"], explain=False, device="cpu")
        b = analyze_image(CXR, small / row["path"], explain=False, device="cpu")
        diffs.append(abs(a.score - b.score))
        correct += (a.label == "pneumonia") == (row["label"] == "PNEUMONIA")
    assert max(diffs) < 0.05
    assert correct >= len(rows) - 1


def test_cnn_on_the_sample_dicoms_with_heatmap_in_source_geometry():
    from engine.dicom import read_image

    path = resource_path("samples", "peds-cxr-pneumonia-j2k.dcm")
    pneumonia = analyze_image(CXR, path)
    normal = analyze_image(CXR, resource_path("samples", "peds-cxr-normal-jls.dcm"), explain=False)
    assert pneumonia.label == "pneumonia" and normal.label == "normal"
    assert pneumonia.heatmap is not None
    assert pneumonia.heatmap.shape == read_image(path).shape
    assert 0.0 <= float(pneumonia.heatmap.min()) and float(pneumonia.heatmap.max()) <= 1.0
    # The model sees the image cropped to the body outline: most of the map lies inside it
    # (the card's held-out figure for images with pneumonia is about 86 %).
    from PIL import Image

    from engine.models.body import body_mask
    from engine.models.preprocess import ImageSpec, load_image_input

    shown = load_image_input(path, ImageSpec(size=224, channels=1, mean=(0.0,), std=(1.0,)))
    small = np.asarray(Image.fromarray(shown.pixels).resize((224, 224), Image.Resampling.BILINEAR))
    mask = Image.fromarray(body_mask(small).astype(np.uint8) * 255).resize(shown.pixels.shape[::-1])
    inside = np.asarray(mask) > 127
    assert pneumonia.heatmap[inside].sum() / pneumonia.heatmap.sum() > 0.8


@pytest.mark.parametrize("model_id", [BEATS, "ecg-rhythm-features-300"])
def test_both_ecg_models_refuse_a_record_sampled_below_125_hz(shared_data, model_id):
    """Beat model 4.0.0 declared its sampling-rate gate under a key the gates never read and
    labelled the beats of this 100 Hz copy of MIT-BIH 101; both models now refuse it alike."""
    from scipy.signal import resample_poly

    from engine.ecg import read_signal
    from engine.errors import InputRejectedError

    rec = read_signal(shared_data / "ecg" / "mitdb" / "101")
    x = resample_poly(rec.data[:, : 360 * 60], 5, 18, axis=1).astype(np.float32)  # 360 → 100 Hz
    low = rec.replace_data(x, fs=100.0, annotations=type(rec.annotations)())
    assert _manifest(model_id)["gates"]["sampling_rate"] == {
        "min": 125, "action": "refuse", "message": "The QRS detector needs at least 125 Hz."
    }  # fmt: skip
    with pytest.raises(InputRejectedError) as info:
        analyze_signal(model_id, low, explain=False, device="cpu")
    assert (
        "sampling rate is 100 Hz, below the model's minimum of 125 Hz. "
        "The QRS detector needs at least 125 Hz."
    ) in info.value.user_message


@pytest.mark.parametrize("gain", [1.0, 0.1, 10.0])
def test_a_record_outside_the_trained_amplitudes_is_scaled_back_with_a_warning(shared_data, gain):
    """Beat model 4.0.1 turned all 80 V beats of 119's first 5 minutes into S at a tenth of
    the gain (a wrong gain in a file, a low-voltage patient); 4.1.0 scales the record to the
    nearest amplitude it was trained on, labels them V again and says so."""
    from collections import Counter

    from engine.ecg import read_signal

    rec = read_signal(shared_data / "ecg" / "mitdb" / "119")
    x = (rec.data[:, : 360 * 300] * gain).astype(np.float32)
    p = analyze_signal(BEATS, rec.replace_data(x, annotations=type(rec.annotations)()),
                       explain=False, device="cpu")  # fmt: skip
    bounds = _manifest(BEATS)["preprocessing"]["amplitude_range"]
    assert p.extra["amplitude_mv"] == pytest.approx(2.376 * gain, rel=0.01)
    assert Counter(b.label for b in p.beats) == {"N": 246, "V": 80}
    warned = [w for w in p.warnings if "lies outside the amplitudes" in w]
    if gain == 1.0:
        assert p.extra["amplitude_scale"] == 1.0 and not warned
    else:
        nearer = bounds["min_mv"] if gain < 1 else bounds["max_mv"]
        assert p.extra["amplitude_scale"] == pytest.approx(nearer / (2.376 * gain), rel=0.01)
        assert len(warned) == 1 and f"scaled ×{p.extra['amplitude_scale']:.2f}" in warned[0]


def test_beat_model_reproduces_its_stored_sample(shared_data):
    m = _manifest(BEATS)
    stored = np.asarray(m["validation"]["reproduce_sample"]["probabilities"])
    from engine.ecg import read_signal

    record = shared_data / "ecg" / "mitdb" / m["validation"]["reproduce_sample"]["record"]
    p = analyze_signal(BEATS, read_signal(record), explain=False, device="cpu")
    classes = ("N", "S", "V", "F", "Q")
    got = np.array([[b.probabilities[c] for c in classes] for b in p.beats[: len(stored)]])
    assert np.allclose(got, stored, atol=1e-4)


def test_beat_model_veto_fires_on_dominant_shaped_v_calls_only(shared_data):
    """Record 203's normal beats shaped like its dominant beat lose V (the result says how
    many); record 119's bigeminy V beats, whose QRS differs, all keep it."""
    from engine.ecg import read_signal

    mitdb = shared_data / "ecg" / "mitdb"
    noisy = analyze_signal(BEATS, read_signal(mitdb / "203"), explain=False, device="cpu")
    notes = [n for n in noisy.extra.get("notes", []) if "QRS has the shape" in n]
    assert len(notes) == 1 and "usual beat" in notes[0]
    assert not any("lost that label" in w for w in noisy.warnings)  # a note, not a warning
    # The note also says which beats keep V whatever their QRS: early ones followed by a full
    # compensatory pause in a regular rhythm (up to the N/S split's gate).
    veto, _, split = _manifest(BEATS)["postprocessing"]
    assert veto["spare_compensated"]["max_irregularity"] == split["gate"]["above"]
    assert "followed by a full compensatory pause keep V while the rhythm is regular" in notes[0]
    assert "correlation" not in notes[0] and "irregularity" not in notes[0]  # plain words
    assert noisy.to_json()["notes"] == noisy.extra["notes"]
    bigeminy = analyze_signal(BEATS, read_signal(mitdb / "119"), explain=False, device="cpu")
    assert not any("QRS has the shape" in n for n in bigeminy.extra.get("notes", []))
    n_v = sum(b.label == "V" for b in bigeminy.beats)
    assert 430 <= n_v <= 460  # the reference annotates 444 V beats


def test_beat_model_conducted_veto_relabels_pre_excited_beats(shared_data):
    """Record 230's pre-excited normal beats that the network calls V come on time after a
    P wave: the conducted-beat veto relabels them N and says so (the reference holds one V
    beat). Record 119's premature V beats are not touched (the test above)."""
    from engine.ecg import read_signal

    wpw = analyze_signal(BEATS, read_signal(shared_data / "ecg" / "mitdb" / "230"),
                         explain=False, device="cpu")  # fmt: skip
    notes = [n for n in wpw.extra.get("notes", []) if "came on time after" in n]
    assert len(notes) == 1 and "conducted from the atria" in notes[0]
    assert int(notes[0].split(" of ")[0].replace(",", "")) >= 3
    assert sum(b.label == "V" for b in wpw.beats) <= 3


def test_beat_model_card_reports_its_s_operating_points():
    """The card shows how S sensitivity and +P trade against each other as the N/S split's
    threshold moves (the same leave-one-record-out outputs), with the shipped threshold among
    them: fewer S beats found, and fewer false ones, as the threshold rises."""
    m = _manifest(BEATS)
    points = m["validation"]["s_operating_points"]
    split = m["postprocessing"][-1]
    assert split["threshold"] in [e["threshold"] for e in points]
    se = [e["sensitivity"]["value"] for e in points]
    ppv = [e["positive_predictivity"]["value"] for e in points]
    assert se == sorted(se, reverse=True) and se[0] > se[-1]
    assert ppv[-1] > ppv[0]
    card = (resource_path("models", BEATS) / "card.md").read_text()
    assert "| threshold | S sensitivity | S +P |" in card
    for e in points:
        assert f"| {e['threshold']} | {e['sensitivity']['value'] * 100:.1f} (" in card
