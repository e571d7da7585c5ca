"""Beat models: signals in, one output per beat at its sample, attribution per sample, gates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.api import analyze_signal
from engine.errors import InputRejectedError
from engine.models.beat_inputs import SignalSpec, prepare_beats, rr_features
from engine.models.registry import ModelRegistry
from tests.engine.models.factory import FS, WINDOW, lstm_manifest, synthetic_ecg


def test_every_given_beat_gets_an_output_at_its_sample(registry: ModelRegistry) -> None:
    x, peaks = synthetic_ecg(20.0)
    pred = analyze_signal(
        "test-beats", x[None, :], fs=FS, leads=["MLII"], beats=peaks, registry=registry,
        device="cpu",
    )  # fmt: skip
    assert [b.sample for b in pred.beats] == peaks.tolist()
    for b in pred.beats:
        assert sum(b.probabilities.values()) == pytest.approx(1.0)
        assert b.label in ("N", "S", "V", "F", "Q")
    assert pred.attribution is not None and pred.attribution.shape == x.shape
    assert np.isfinite(pred.attribution).all() and np.abs(pred.attribution).max() > 0
    assert pred.explanation_method == "integrated-gradients"
    assert sum(pred.extra["beat_counts"].values()) == len(peaks)
    assert pred.extra["beat_source"] == "given" and pred.device == "cpu"
    assert pred.to_json()["beats"][0] == {
        "sample": int(peaks[0]),
        "label": pred.beats[0].label,
        "probabilities": pred.beats[0].probabilities,
    }


def test_wrong_sampling_rate_is_refused(registry: ModelRegistry) -> None:
    x, peaks = synthetic_ecg(10.0, fs=500.0)
    with pytest.raises(InputRejectedError) as err:
        analyze_signal("test-beats", x, fs=500.0, leads=["II"], beats=peaks, registry=registry)
    assert "sampling rate is 500 Hz" in err.value.user_message
    assert "360 Hz" in err.value.user_message


def test_missing_leads_are_refused(registry: ModelRegistry) -> None:
    x, peaks = synthetic_ecg(10.0)
    with pytest.raises(InputRejectedError, match="none of the leads MLII, II"):
        analyze_signal(
            "test-beats", np.stack([x, x]), fs=FS, leads=["V1", "V2"], beats=peaks,
            registry=registry,
        )  # fmt: skip


def test_resampling_keeps_beats_in_source_samples(tmp_path: Path) -> None:
    from engine.models.architectures import build_model
    from engine.models.authoring import write_bundle

    m = lstm_manifest("resampling-beats")
    m["gates"] = {"sampling_rate": {"min": 250, "max": 1000, "action": "refuse"}}
    write_bundle(tmp_path, m, net=build_model("beat-lstm", m["architecture"]["args"]))
    reg = ModelRegistry([(tmp_path, "bundled")])
    x, peaks = synthetic_ecg(8.0, fs=1000.0)
    pred = analyze_signal(
        "resampling-beats", x, fs=1000.0, leads=["II"], beats=peaks, registry=reg,
        device="cpu", method="occlusion",
    )  # fmt: skip
    assert [b.sample for b in pred.beats] == peaks.tolist()
    assert pred.attribution.shape == x.shape
    assert pred.explanation_method == "occlusion"


def test_prepare_beats_cuts_centred_windows() -> None:
    x, peaks = synthetic_ecg(6.0)
    spec = SignalSpec(fs=FS, before_s=0.1, after_s=0.15, leads=("MLII",))
    from engine.models.beat_inputs import ArraySignal

    pb = prepare_beats(ArraySignal(x, FS, ("MLII",)), spec, peaks)
    assert pb.windows.shape == (len(peaks), WINDOW)
    # the R peak sits at index `before` of every window
    assert (np.abs(pb.windows.argmax(axis=1) - spec.before) <= 1).all()


def test_rr_features_against_hand_computation() -> None:
    samples = np.array([0, 360, 720, 1260])  # RR 1.0, 1.0, 1.5 s at 360 Hz
    f = rr_features(samples, 360.0, ["pre_rr", "post_rr", "local_rr", "pre_rr_ratio"])
    assert f[:, 0] == pytest.approx([1.0, 1.0, 1.0, 1.5])  # first: median RR
    assert f[:, 1] == pytest.approx([1.0, 1.0, 1.5, 1.0])  # last: median RR
    assert f[3, 2] == pytest.approx((1.0 + 1.0 + 1.0 + 1.5) / 4)
    assert f[3, 3] == pytest.approx(1.5 / f[3, 2])


def test_mitbih_record_is_scored_on_detected_beats_not_its_annotations(
    registry: ModelRegistry, shared_data: Path
) -> None:
    header = shared_data / "ecg" / "mitdb" / "101.hea"
    if not header.is_file():
        pytest.skip("MIT-BIH record 101 not in the shared data")
    from engine.ecg import read_signal

    signal = read_signal(header)
    pred = analyze_signal("test-beats", signal, registry=registry, device="cpu", explain=False)
    from engine.ecg import match_beats

    reference = signal.annotations.beats().samples
    assert pred.extra["beat_source"] == "detected"
    detected = np.array([b.sample for b in pred.beats])
    match = match_beats(reference, detected, signal.fs)
    # Record 101 has 1,865 reference beats; the detector finds nearly all of them.
    assert match.sensitivity > 0.99 and match.positive_predictivity > 0.99
    assert pred.extra["lead"] == "MLII"


def test_progress_and_cancel(registry: ModelRegistry) -> None:
    from engine.errors import OperationCancelled
    from engine.progress import CancelToken

    x, peaks = synthetic_ecg(10.0)
    reports: list[float] = []
    analyze_signal(
        "test-beats", x, fs=FS, leads=["MLII"], beats=peaks, registry=registry, device="cpu",
        progress=lambda f, t="": reports.append(f),
    )  # fmt: skip
    assert reports[0] == 0.0 and reports[-1] == 1.0 and reports == sorted(reports)
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelled):
        analyze_signal("test-beats", x, fs=FS, leads=["MLII"], beats=peaks, registry=registry,
                       cancel=token)  # fmt: skip


def test_global_rr_ratios_against_hand_computation() -> None:
    samples = np.array([0, 360, 720, 1260])  # RR 1.0, 1.0, 1.5 s; record mean 3.5 / 3
    names = ["pre_rr_global_ratio", "post_rr_global_ratio", "local_rr_global_ratio",
             "pre_post_ratio"]  # fmt: skip
    f = rr_features(samples, 360.0, names)
    mean = 3.5 / 3
    assert f[3, 0] == pytest.approx(1.5 / mean)
    assert f[2, 1] == pytest.approx(1.5 / mean)
    assert f[3, 2] == pytest.approx((4.5 / 4) / mean)
    assert f[2, 3] == pytest.approx(1.0 / 1.5)


@pytest.mark.parametrize("method", ["integrated-gradients", "occlusion"])
def test_template_channel_compares_each_beat_with_the_record_median(
    tmp_path: Path, method: str
) -> None:
    import torch

    from engine.models.architectures import build_model
    from engine.models.authoring import write_bundle
    from engine.models.beat_inputs import ArraySignal

    m = lstm_manifest("template-beats")
    m["architecture"]["args"]["template_channel"] = True
    m["preprocessing"]["beat_template"] = "median"
    torch.manual_seed(0)
    net = build_model("beat-lstm", m["architecture"]["args"]).eval()
    with torch.no_grad():  # an untrained net barely reacts to its input: make it
        net.conv[0].weight.mul_(50.0)
    write_bundle(tmp_path, m, net=net)
    reg = ModelRegistry([(tmp_path, "bundled")])
    x, peaks = synthetic_ecg(10.0)
    pred = analyze_signal("template-beats", x, fs=FS, leads=["MLII"], beats=peaks,
                          registry=reg, device="cpu", method=method)  # fmt: skip
    assert pred.attribution is not None and pred.attribution.shape == x.shape
    # The runner feeds the record's median beat: same scores as by hand, not as without it.
    spec = SignalSpec.from_manifest(m)
    pb = prepare_beats(ArraySignal(x, FS, ("MLII",)), spec, peaks)
    assert pb.template is not None and pb.template.shape == (WINDOW,)
    assert np.allclose(pb.template, np.median(pb.windows, axis=0))
    w, rr = torch.from_numpy(pb.windows), torch.from_numpy(pb.rr)
    t = torch.from_numpy(pb.template).expand_as(w)
    with torch.no_grad():
        by_hand = torch.softmax(net(w, rr, t), dim=1).numpy()
        blind = torch.softmax(net(w, rr), dim=1).numpy()
    got = np.array([[b.probabilities[c] for c in ("N", "S", "V", "F", "Q")] for b in pred.beats])
    assert np.allclose(got, by_hand, atol=1e-5)
    assert not np.allclose(got, blind, atol=1e-3)


def test_template_network_without_a_declared_template_is_refused(tmp_path: Path) -> None:
    from engine.errors import ModelError
    from engine.models.architectures import build_model
    from engine.models.authoring import write_bundle

    m = lstm_manifest("no-template-beats")
    m["architecture"]["args"]["template_channel"] = True
    write_bundle(tmp_path, m, net=build_model("beat-lstm", m["architecture"]["args"]))
    reg = ModelRegistry([(tmp_path, "bundled")])
    x, peaks = synthetic_ecg(4.0)
    with pytest.raises(ModelError, match="median beat"):
        analyze_signal("no-template-beats", x, fs=FS, leads=["MLII"], beats=peaks,
                       registry=reg, device="cpu")  # fmt: skip
