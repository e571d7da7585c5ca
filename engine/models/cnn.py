"""Image classifiers (``torch-cnn``): gates, preprocessing, batched forward, Grad-CAM."""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ModelError
from engine.explain.cam import CAM_METHODS, cam_to_source, class_activation_maps, find_layer
from engine.models.architectures import get_architecture
from engine.models.body import WHOLE, CropBox
from engine.models.bundle import Bundle
from engine.models.domain import OUT_OF_DOMAIN_NOTE, DomainScorer, pooled_features
from engine.models.gates import check_gates, image_gate_values
from engine.models.outputs import build_prediction, logits_to_probabilities
from engine.models.preprocess import ImageInput, ImageSpec, load_image_input, prepare_image
from engine.models.results import Prediction
from engine.models.runtime import RunRequest, TorchRunner

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, eq=False)
class PreparedImage:
    """One image after decoding, gating and preprocessing."""

    image: ImageInput
    array: np.ndarray
    warnings: tuple[str, ...]
    prepare_ms: float
    #: The part of the source the network saw (a body-crop model sees less than all of it).
    box: CropBox = WHOLE

    @property
    def name(self) -> str:
        return self.image.name


class ImageModel(TorchRunner):
    """A CNN bundle ready to score images.

    Explanations: ``gradcam`` (default) or ``gradcam++`` on the layer named
    by the manifest's ``explanation.target_layer`` (else the architecture's
    last convolutional block), as a float32 map in ``[0, 1]`` with the
    source image's rows × columns.
    """

    kind = "torch-cnn"

    def __init__(self, bundle: Bundle, net: torch.nn.Module, device: torch.device) -> None:
        super().__init__(bundle, net, device)
        layer_name = self._configure(bundle)
        try:
            self.cam_layer = find_layer(net, layer_name) if layer_name else None
        except KeyError as exc:
            raise ModelError(
                f"Model “{bundle.id}” names an explanation layer its network does not have.",
                str(layer_name),
            ) from exc

    def _configure(self, bundle: Bundle) -> str | None:
        """Set what every runtime of the kind needs; return the explanation layer's name."""
        try:
            self.spec = ImageSpec.from_manifest(bundle.preprocessing)
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(
                f"Model “{bundle.id}” declares an image preprocessing Stethos cannot use.",
                repr(exc),
            ) from exc
        arch = get_architecture(str(bundle.architecture.get("name")), bundle.id)
        layer_name = bundle.explanation.get("target_layer") or arch.cam_layer
        self.cam_method = str(bundle.explanation.get("method", "gradcam"))
        if self.cam_method not in CAM_METHODS:
            self.cam_method = "gradcam"
        self.method_default = self.cam_method
        labels = bundle.labels
        self._target = 0 if self._n_outputs() == 1 else labels.index(bundle.positive_label)
        self.domain = DomainScorer.from_bundle(bundle)
        return str(layer_name) if layer_name else None

    def _withhold_if_out_of_domain(
        self, pred: Prediction, score: float, adult: float | None
    ) -> Prediction:
        """``pred`` with the out-of-domain fields; its label withheld when out of domain."""
        assert self.domain is not None
        dom = self.domain
        extra = dict(pred.extra)
        extra["domain_score"] = round(score, 3)
        extra["domain_threshold"] = round(dom.threshold, 3)
        if adult is not None:
            extra["adult_score"] = round(adult, 3)
            extra["adult_threshold"] = round(dom.adult_threshold, 3)
        verdict = dom.verdict(score, adult)
        if verdict.statistic is not None and dom.combined is not None:  # the one that decides
            extra["domain_statistic"] = round(verdict.statistic, 3)
            extra["domain_statistic_threshold"] = round(dom.combined.threshold, 3)
        extra["out_of_domain"] = verdict.out_of_domain
        if not verdict.out_of_domain:
            return replace(pred, extra=extra)
        extra["withheld_label"] = pred.label
        why = "; ".join(verdict.reasons)
        extra["out_of_domain_note"] = OUT_OF_DOMAIN_NOTE.format(why=f" ({why})")
        return replace(pred, label="", extra=extra)

    def _features(self) -> Any:
        """Collect pooled features for the out-of-domain score (nothing without one)."""
        if self.domain is None:
            return nullcontext([])
        return pooled_features(self.net, self.domain.layer)

    def _n_outputs(self) -> int:
        args = self.bundle.architecture.get("args", {})
        return int(args.get("num_classes", len(self.bundle.labels)))

    def prepare(self, source: Any, *, frame: int = 0) -> PreparedImage:
        """Decode (path, DicomImage, array), apply the gates and preprocess one image.

        Raises
        ------
        DicomError, InputRejectedError
            For an unreadable file or an input the model was not made for.
        """
        start = time.perf_counter()
        image = load_image_input(source, self.spec, frame)
        warnings = check_gates(
            self.bundle.gates,
            image_gate_values(image),
            input_name=image.name or "the image",
            model_id=self.bundle.id,
        )
        array, box = prepare_image(image, self.spec)
        return PreparedImage(image, array, warnings, (time.perf_counter() - start) * 1000.0, box)

    explain_methods = CAM_METHODS
    explained_input = "an image"

    def warm_up(self) -> None:
        """One pass with a heat map on a synthetic image: buffers allocated, libraries loaded."""
        ramp = np.linspace(0.0, 4095.0, 256)
        image = (np.add.outer(ramp, ramp[::-1]) / 2).astype(np.uint16)
        self.run([self.prepare(image)], explain=True)

    def _infer(
        self, batch: np.ndarray, explain: bool, method: str
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Logits, the maps (``None`` without ``explain``) and the pooled features (or ``None``)."""
        import torch

        explain = explain and self.cam_layer is not None
        x_cpu = torch.from_numpy(batch)
        features: list[np.ndarray] = []

        def forward(device: torch.device) -> tuple[np.ndarray, np.ndarray | None]:
            x = x_cpu.to(device)
            features.clear()
            result: tuple[np.ndarray, np.ndarray | None]
            with self._features() as seen:
                if explain and self.cam_layer is not None:
                    logits, maps = class_activation_maps(
                        self.net, x, self.cam_layer, self._target, (method,)
                    )
                    result = logits.float().cpu().numpy(), maps[method].float().cpu().numpy()
                else:
                    with torch.inference_mode():
                        result = self.net(x).float().cpu().numpy(), None
            features.extend(seen)
            return result

        logits, cams = self._run_on_device(forward)
        pooled = np.concatenate(features)[: len(batch)] if features else None
        return logits, cams, pooled

    def _run(self, items: list[PreparedImage], req: RunRequest) -> list[Prediction]:
        """Score prepared images in one batch (and their heat maps when ``explain``)."""
        op, method, explain = req.op, req.method, req.explain
        start = time.perf_counter()
        logits, cams, pooled = self._infer(np.stack([it.array for it in items]), explain, method)
        model_ms = (time.perf_counter() - start) * 1000.0 / len(items)
        probs = logits_to_probabilities(logits, self.bundle)
        scores = adult_scores = None
        if self.domain is not None and pooled is not None:
            scores, adult_scores = self.domain.score(pooled), self.domain.adult_score(pooled)
        out = []
        for i, item in enumerate(items):
            t0 = time.perf_counter()
            heatmap = (
                cam_to_source(cams[i], item.image.shape, item.box.pixels(*item.image.shape))
                if cams is not None
                else None
            )
            map_ms = (time.perf_counter() - t0) * 1000.0
            extra = self._extra()
            extra["timing_ms"] = {
                "prepare": round(item.prepare_ms, 3),
                "model": round(model_ms, 3),
                "heatmap": round(map_ms, 3),
            }
            extra["input_name"] = item.name
            pred = build_prediction(
                self.bundle,
                probs[i],
                op=op,
                device=self.device,
                elapsed_ms=item.prepare_ms + model_ms + map_ms,
                input_hash=item.image.input_hash,
                extra=extra,
                heatmap=heatmap,
                explanation_method=method if heatmap is not None else "",
                warnings=item.warnings,
            )
            if scores is not None:
                adult = None if adult_scores is None else float(adult_scores[i])
                pred = self._withhold_if_out_of_domain(pred, float(scores[i]), adult)
            out.append(pred)
        return out
