"""ONNX exports of torch bundles: same results as torch, no torch import to predict."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.errors import BundleIntegrityError, BundleSchemaError
from engine.explain.cam import cam_from_arrays, cam_from_gradients, resize_bilinear
from engine.explain.signal import occlusion_1d, occlusion_1d_np
from engine.models.bundle import open_bundle, runtime_requirements, validate_manifest
from engine.models.loader import load_runner
from engine.models.onnx_runtime import (
    ONNX_NAME,
    TOLERANCE,
    OnnxBeatModel,
    OnnxImageModel,
    new_session,
)
from engine.resources import resource_path
from engine.train.onnx_export import _check_inputs, _torch_reference, add_onnx
from tests.engine.models.factory import FS, make_cnn_bundle, make_lstm_bundle, synthetic_ecg

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "resources" / "samples"
SHIPPED = [
    p.parent
    for p in sorted(resource_path("models").glob("*/manifest.json"))
    if json.loads(p.read_text())["kind"] in ("torch-cnn", "torch-lstm")
]


def _runners(path: Path, monkeypatch: pytest.MonkeyPatch):
    bundle = open_bundle(path)
    monkeypatch.setenv("STETHOS_RUNTIME", "torch")
    torch_runner = load_runner(bundle, "cpu")
    monkeypatch.setenv("STETHOS_RUNTIME", "auto")
    return load_runner(bundle, "cpu"), torch_runner


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_torch_bundles_carry_a_checked_graph_of_their_weights(path: Path) -> None:
    bundle = open_bundle(path)  # every hash, the graph's included
    block = bundle.manifest["onnx"]
    assert block["file"] == ONNX_NAME and ONNX_NAME in bundle.manifest["files"]
    assert block["exported_from"]["sha256"] == bundle.weights_sha256
    for name, diff in block["check"]["max_abs_diff"].items():
        assert diff <= TOLERANCE[name]
    # the same check, again here: ONNX Runtime against torch on the fixed input set
    from engine.models.architectures import load_torch_network

    inputs = _check_inputs(bundle)
    session = new_session(path / ONNX_NAME, threads=1)
    # idle threads sleep rather than spin (they would take the decoders' and the GUI's CPU)
    options = session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    names = {i.name for i in session.get_inputs()}
    got = session.run(None, {k: v for k, v in inputs.items() if k in names})
    want = _torch_reference(bundle, load_torch_network(bundle), inputs)
    assert np.max(np.abs(got[0] - want["logits"])) <= TOLERANCE["logits"]
    if "features" in want:
        scale = np.max(np.abs(want["features"]))
        assert np.max(np.abs(got[1] - want["features"])) <= TOLERANCE["features"] * scale


def test_shipped_cxr_model_gives_the_same_result_and_map_on_onnx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = resource_path("models") / "cxr-pneumonia-resnet18-224"
    onnx, torch_runner = _runners(path, monkeypatch)
    assert isinstance(onnx, OnnxImageModel) and not isinstance(torch_runner, OnnxImageModel)
    for sample in ("peds-cxr-normal.dcm", "peds-cxr-pneumonia-j2k.dcm"):
        for method in ("gradcam", "gradcam++"):
            a = onnx.predict(SAMPLES / sample, explain=True, method=method)
            b = torch_runner.predict(SAMPLES / sample, explain=True, method=method)
            assert a.label == b.label and a.model_version == b.model_version
            assert a.weights_sha256 == b.weights_sha256
            assert abs(a.score - b.score) <= TOLERANCE["probabilities"]
            assert a.extra["domain_score"] == pytest.approx(b.extra["domain_score"], abs=1e-3)
            assert a.heatmap is not None and b.heatmap is not None
            assert a.heatmap.shape == b.heatmap.shape
            assert np.max(np.abs(a.heatmap - b.heatmap)) <= TOLERANCE["gradcam"]
    record = a.to_json()
    assert record["runtime"].startswith("onnxruntime")
    assert record["graph_sha256"] == onnx.bundle.manifest["files"][ONNX_NAME]["sha256"]
    assert "runtime" not in b.to_json()


def test_shipped_beat_model_gives_the_same_beats_on_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.ecg import read_signal

    path = resource_path("models") / "ecg-beats-bilstm-360"
    onnx, torch_runner = _runners(path, monkeypatch)
    assert isinstance(onnx, OnnxBeatModel)
    signal = read_signal(SAMPLES / "mitdb" / "119.hea")
    a = onnx.predict(signal, explain=True)  # integrated gradients: torch, loaded lazily
    b = torch_runner.predict(signal, explain=True)
    assert [x.label for x in a.beats] == [x.label for x in b.beats]
    pa = np.array([list(x.probabilities.values()) for x in a.beats])
    pb = np.array([list(x.probabilities.values()) for x in b.beats])
    assert np.max(np.abs(pa - pb)) <= TOLERANCE["probabilities"]
    assert a.explanation_method == b.explanation_method == "integrated-gradients"
    assert np.allclose(a.attribution, b.attribution, atol=1e-5)
    c = onnx.predict(signal, explain=True, method="occlusion")  # on the graph
    d = torch_runner.predict(signal, explain=True, method="occlusion")
    assert np.allclose(c.attribution, d.attribution, atol=1e-4)


def test_tiny_bundles_export_and_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cnn = add_onnx(make_cnn_bundle(tmp_path))
    onnx, torch_runner = _runners(cnn, monkeypatch)
    image = np.random.default_rng(0).integers(0, 4096, (40, 52)).astype(np.uint16)
    a = onnx.predict(image, explain=True)
    b = torch_runner.predict(image, explain=True)
    assert abs(a.score - b.score) <= TOLERANCE["probabilities"]
    assert np.max(np.abs(a.heatmap - b.heatmap)) <= TOLERANCE["gradcam"]
    lstm = add_onnx(make_lstm_bundle(tmp_path))  # no template input: the graph has none
    onnx, torch_runner = _runners(lstm, monkeypatch)
    x, peaks = synthetic_ecg(20.0)
    a = onnx.predict(x[None, :], fs=FS, leads=["MLII"], beats=peaks)
    b = torch_runner.predict(x[None, :], fs=FS, leads=["MLII"], beats=peaks)
    assert a.probabilities == pytest.approx(b.probabilities, abs=TOLERANCE["probabilities"])


def test_an_altered_graph_is_refused(tmp_path: Path) -> None:
    path = add_onnx(make_lstm_bundle(tmp_path))
    graph = path / ONNX_NAME
    graph.write_bytes(graph.read_bytes()[:-1] + b"\0")
    with pytest.raises(BundleIntegrityError, match=r"model\.onnx"):
        open_bundle(path)


def test_a_graph_of_other_weights_is_refused(tmp_path: Path) -> None:
    manifest = json.loads((add_onnx(make_lstm_bundle(tmp_path)) / "manifest.json").read_text())
    manifest["onnx"]["exported_from"]["file"] = "other.safetensors"
    with pytest.raises(BundleSchemaError, match="not exported from its weights"):
        validate_manifest(manifest)


def test_without_torch_an_onnx_bundle_needs_onnxruntime_not_torch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine.models import devices

    manifest = open_bundle(resource_path("models") / "cxr-pneumonia-resnet18-224").manifest
    assert "torch" in runtime_requirements(manifest)
    monkeypatch.setattr(devices, "torch_installed", lambda: False)
    reqs = runtime_requirements(manifest)
    assert "torch" not in reqs and "torchvision" not in reqs and "onnxruntime" in reqs


def test_predicting_a_radiograph_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from engine.workflow import load_model\n"
        "m = load_model('cxr-pneumonia-resnet18-224')\n"
        f"p = m.predict({str(SAMPLES / 'peds-cxr-normal.dcm')!r}, explain=True)\n"
        "assert p.heatmap is not None and p.extra['runtime'].startswith('onnxruntime')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = {"STETHOS_DEVICE": "cpu", "PATH": "/usr/bin:/bin", "HOME": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_numpy_explanations_match_torch() -> None:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 8, 7, 7)).astype(np.float32)
    g = rng.normal(size=(2, 8, 7, 7)).astype(np.float32)
    for method in ("gradcam", "gradcam++"):
        want = cam_from_gradients(torch.from_numpy(a), torch.from_numpy(g), method).numpy()
        # as shown: scaled to the map's peak (Grad-CAM++'s α divides by near-zero sums here)
        got = cam_from_arrays(a, g, method)
        assert np.max(np.abs(got - want)) <= 1e-4 * np.max(want)
    m = rng.random((14, 14)).astype(np.float32)
    for rows, cols in ((1000, 700), (13, 9), (14, 14)):
        want = F.interpolate(torch.from_numpy(m)[None, None], size=(rows, cols), mode="bilinear")
        assert np.allclose(resize_bilinear(m, rows, cols), want[0, 0].numpy(), atol=1e-5)
    w = torch.from_numpy(rng.normal(size=(5, 40)).astype(np.float32))
    weights = torch.from_numpy(rng.normal(size=(40, 3)).astype(np.float32))
    target = torch.tensor([0, 1, 2, 0, 1])
    want = occlusion_1d(lambda x: x @ weights, w, (), target, width=6, stride=3)
    got = occlusion_1d_np(
        lambda x, s, e: x @ weights.numpy(), w.numpy(), target.numpy(), width=6, stride=3
    )
    assert np.allclose(got, want.numpy(), atol=1e-5)


def test_warm_up_loads_and_runs_the_default_image_model(data_dir: Path) -> None:
    from engine.workflow.models import _loaded, load_model_for, warm_up

    assert warm_up("image", "cpu")
    (runner,) = [r for k, r in _loaded.items() if k[0] == "cxr-pneumonia-resnet18-224"]
    assert isinstance(runner, OnnxImageModel)
    assert load_model_for("image", device="cpu").bundle.id == runner.bundle.id


def test_without_torch_a_bundle_runs_from_its_graph_without_its_torch_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.models import devices

    path = add_onnx(make_cnn_bundle(tmp_path))
    (path / "model.safetensors").unlink()  # the CPU flavour's installer leaves them out
    with pytest.raises(BundleIntegrityError, match="missing"):
        open_bundle(path)  # torch is here: its weights are needed
    monkeypatch.setattr(devices, "torch_installed", lambda: False)
    runner = load_runner(open_bundle(path), "auto")
    assert isinstance(runner, OnnxImageModel)
    image = np.random.default_rng(0).integers(0, 4096, (40, 52)).astype(np.uint16)
    pred = runner.predict(image, explain=True)
    assert pred.heatmap is not None and pred.weights_sha256 == runner.bundle.weights_sha256
    (path / ONNX_NAME).write_bytes(b"altered")  # what is there is still checked
    with pytest.raises(BundleIntegrityError):
        open_bundle(path)


def test_an_explanation_layer_the_graph_cannot_give_runs_on_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = {"method": "gradcam", "target_layer": "features.3"}  # inside the feature stack
    path = add_onnx(make_cnn_bundle(tmp_path, explanation=layer))
    assert open_bundle(path).manifest["onnx"]["cam_layer"] is None
    onnx, torch_runner = _runners(path, monkeypatch)
    image = np.random.default_rng(1).integers(0, 4096, (40, 52)).astype(np.uint16)
    a = onnx.predict(image, explain=False)  # the graph alone
    assert a.heatmap is None and a.extra["runtime"].startswith("onnxruntime")
    b = onnx.predict(image, explain=True)  # torch, loaded for the map
    assert "runtime" not in b.extra and "runtime" not in b.to_json()  # and the result says so
    c = torch_runner.predict(image, explain=True)
    assert abs(a.score - c.score) <= TOLERANCE["probabilities"]
    assert np.max(np.abs(b.heatmap - c.heatmap)) <= TOLERANCE["gradcam"]
