"""Beat classifiers (``torch-lstm``): one output per beat, attributions per sample."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.ecg.quality import (
    AMPLITUDE_WARNING,
    NOISE_WARNING,
    NoiseStretches,
    amount,
    gap_warning,
    no_beats_error,
    noise_stretches,
)
from engine.errors import EngineError, ModelError
from engine.explain.signal import (
    SIGNAL_METHODS,
    integrated_gradients,
    occlusion_1d,
    windows_to_samples,
)
from engine.models import beat_split, beat_veto
from engine.models.beat_inputs import PreparedBeats, SignalSpec, as_signal, prepare_beats
from engine.models.bundle import Bundle
from engine.models.gates import check_gates, signal_gate_values
from engine.models.outputs import build_prediction, decide, logits_to_probabilities
from engine.models.results import BeatResult, Prediction
from engine.models.runtime import RunRequest, TorchRunner
from engine.models.skops_io import read_skops_file
from engine.progress import CancelToken, Progress, check_cancelled, no_progress, sub_progress

if TYPE_CHECKING:
    import torch

#: Beats per forward pass.
BEAT_BATCH = 512
#: Said when an installation without torch explains beats by another method than asked.
FALLBACK_NOTE = (
    "The beat explanation is by {used}: {asked} needs PyTorch, which this installation "
    "does not include."
)


@dataclass(frozen=True, eq=False)
class PreparedSignal:
    """One record's beats after gating and preprocessing."""

    beats: PreparedBeats
    name: str
    warnings: tuple[str, ...]
    prepare_ms: float
    #: The 10-s stretches that look like noise (kSQI), or ``None`` when not measured.
    quality: NoiseStretches | None = None


class BeatModel(TorchRunner):
    """A beat-classifier bundle ready to score ECG records.

    The record-level ``probabilities`` are the mean of the beats'
    probabilities; the record-level ``label`` is the positive label when at
    least one beat reaches the operating point, else the most frequent beat
    label. Every beat's label and probabilities are in ``Prediction.beats``;
    ``extra["beat_counts"]`` counts beats per label.
    """

    kind = "torch-lstm"

    def __init__(self, bundle: Bundle, net: torch.nn.Module, device: torch.device) -> None:
        super().__init__(bundle, net, device)
        self._configure(bundle)

    @property
    def template_channel(self) -> bool:
        """Whether the network reads the record's median beat too."""
        return bool(getattr(self.net, "template_channel", False))

    def _configure(self, bundle: Bundle) -> None:
        """Check and set what every runtime of the kind needs."""
        try:
            self.spec = SignalSpec.from_manifest(bundle.manifest)
        except EngineError as exc:
            raise ModelError(f"Model “{bundle.id}”: {exc.user_message}") from exc
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(
                f"Model “{bundle.id}” declares a signal preprocessing Stethos cannot use.",
                repr(exc),
            ) from exc
        args = bundle.architecture.get("args", {})
        if int(args.get("window", self.spec.window)) != self.spec.window:
            raise ModelError(
                f"Model “{bundle.id}”: its network takes {args.get('window')} samples per beat "
                f"but its preprocessing cuts {self.spec.window}.",
            )
        n_features = len(self.spec.rr_features) + len(self.spec.morph_features)
        if int(args.get("n_rr", 4)) != n_features:
            raise ModelError(
                f"Model “{bundle.id}”: its network takes {args.get('n_rr', 4)} RR features but "
                f"its preprocessing declares {n_features}.",
            )
        if bool(args.get("template_channel", False)) and self.spec.beat_template == "none":
            raise ModelError(
                f"Model “{bundle.id}”: its network compares each beat with the record's median "
                "beat but its preprocessing declares no beat template.",
            )
        try:
            self.split = beat_split.from_manifest(
                bundle.manifest,
                bundle.labels,
                lambda name: read_skops_file(bundle, bundle.member_path(name)),
            )
            self.veto = beat_veto.from_manifest(bundle.manifest, bundle.labels)
            self.conducted = beat_veto.conducted_from_manifest(bundle.manifest, bundle.labels)
            for v in (self.veto, self.conducted):
                if v is not None:
                    v.span(self.spec.before, self.spec.fs, self.spec.window)
        except (ValueError, TypeError) as exc:
            raise ModelError(
                f"Model “{bundle.id}” declares a beat postprocessing Stethos cannot use: {exc}.",
            ) from exc
        method = str(bundle.explanation.get("method", "integrated-gradients"))
        self.attr_method = method if method in SIGNAL_METHODS else "integrated-gradients"
        self.method_default = self.attr_method
        self.ig_steps = int(bundle.explanation.get("steps", 32))

    def prepare(
        self,
        source: Any,
        *,
        fs: float | None = None,
        leads: Sequence[str] | None = None,
        beats: Sequence[int] | np.ndarray | None = None,
    ) -> PreparedSignal:
        """Gate and preprocess one record (a Signal, or an array with ``fs``).

        ``beats`` are R-peak sample positions in the source signal; without
        them the engine's QRS detector finds them.

        Raises
        ------
        InputRejectedError
            Wrong sampling rate, missing leads, unknown beat positions.
        """
        start = time.perf_counter()
        signal = as_signal(source, fs, leads)
        name = str(
            getattr(signal, "record_name", "")
            or getattr(signal, "name", "")
            or getattr(getattr(signal, "source", None), "name", "")
            or "the ECG"
        )
        warnings = check_gates(
            self.bundle.gates,
            signal_gate_values(signal),
            input_name=name,
            model_id=self.bundle.id,
        )
        prepared = prepare_beats(signal, self.spec, beats)
        if prepared.n_beats == 0:  # nothing to classify: no label, not "N" of no beats
            seconds = prepared.n_source / prepared.fs_source
            raise no_beats_error(name, prepared.lead, seconds, self.bundle.id)
        lead_gaps = getattr(signal, "lead_gaps", None)  # a Signal read from a file
        gaps = lead_gaps(list(signal.leads).index(prepared.lead)) if lead_gaps else ()
        if gaps:
            warnings = (*warnings, gap_warning(gaps, prepared.lead, name))
        if prepared.amplitude_scale != 1.0:
            bounds = self.spec.amplitude_range
            warnings = (*warnings, AMPLITUDE_WARNING.format(
                lead=prepared.lead, name=name, amplitude=amount(prepared.amplitude_mv),
                model=self.bundle.id, low=float(bounds["min_mv"]), high=float(bounds["max_mv"]),
                scale=amount(prepared.amplitude_scale),
            ))  # fmt: skip
        quality = noise_stretches(prepared.filtered, prepared.fs_model, gaps)
        if quality.noisy:
            warnings = (*warnings, NOISE_WARNING.format(
                name=name, share=quality.share, n=len(quality.noisy), total=quality.stretches
            ))  # fmt: skip
        return PreparedSignal(
            prepared, name, warnings, (time.perf_counter() - start) * 1000.0, quality
        )

    def _extras(
        self, rr: torch.Tensor, template: torch.Tensor | None, s: int, device: torch.device
    ) -> tuple[torch.Tensor, ...]:
        """The network's inputs besides the window, for beats ``s`` on."""
        r = rr[s : s + BEAT_BATCH].to(device)
        if template is None:
            return (r,)
        return (r, template.to(device).expand(len(r), -1))

    def _template(self, pb: PreparedBeats) -> np.ndarray | None:
        if not self.template_channel or pb.template is None:
            return None
        return np.asarray(pb.template)[None, :]

    def _logits_np(
        self, windows: np.ndarray, rr: np.ndarray, template: np.ndarray | None
    ) -> np.ndarray:
        """The beats' logits (the runtime's entry point; numpy in and out)."""
        import torch

        t = None if template is None else torch.from_numpy(template)
        return self._logits(torch.from_numpy(windows), torch.from_numpy(rr), t)

    def _attributions_np(
        self,
        windows: np.ndarray,
        rr: np.ndarray,
        target: np.ndarray,
        method: str,
        cancel: CancelToken | None,
        progress: Progress,
        template: np.ndarray | None,
    ) -> tuple[np.ndarray, str]:
        """Per-beat attributions and the method that made them (numpy in and out)."""
        import torch

        t = None if template is None else torch.from_numpy(template)
        windows_t, rr_t = torch.from_numpy(windows), torch.from_numpy(rr)
        return (
            self._attributions(windows_t, rr_t, target, method, cancel, progress, t),
            method,
        )

    def _logits(
        self, windows: torch.Tensor, rr: torch.Tensor, template: torch.Tensor | None = None
    ) -> np.ndarray:
        import torch

        def go(device: torch.device) -> np.ndarray:
            out = []
            with torch.inference_mode():
                for s in range(0, len(windows), BEAT_BATCH):
                    w = windows[s : s + BEAT_BATCH].to(device)
                    out.append(self.net(w, *self._extras(rr, template, s, device)).float().cpu())
            if not out:
                return np.zeros((0, len(self.bundle.labels)), dtype=np.float32)
            return torch.cat(out).numpy()

        return self._run_on_device(go)

    def _attributions(
        self,
        windows: torch.Tensor,
        rr: torch.Tensor,
        target: np.ndarray,
        method: str,
        cancel: CancelToken | None,
        progress: Progress = no_progress,
        template: torch.Tensor | None = None,
    ) -> np.ndarray:
        import torch

        def go(device: torch.device) -> np.ndarray:
            out = []
            # cuDNN's LSTM has no backward in eval mode; the native kernel does.
            with torch.backends.cudnn.flags(enabled=False):
                for s in range(0, len(windows), BEAT_BATCH):
                    check_cancelled(cancel)
                    progress(s / len(windows), f"Explaining beats {s + 1}–{len(windows)}")
                    w = windows[s : s + BEAT_BATCH].to(device)
                    extras = self._extras(rr, template, s, device)
                    t = torch.as_tensor(target[s : s + BEAT_BATCH], device=device)
                    if method == "occlusion":
                        a = occlusion_1d(
                            self.net,
                            w,
                            extras,
                            t,
                            width=max(4, self.spec.window // 16),
                            stride=max(2, self.spec.window // 32),
                        )
                    else:
                        # The template is its own baseline: only the window is attributed.
                        a = integrated_gradients(
                            self.net,
                            (w, *extras),
                            (torch.zeros_like(w[:1]), torch.zeros_like(extras[0][:1]), *extras[1:]),
                            t,
                            steps=self.ig_steps,
                        )[0]
                    out.append(a.float().cpu())
            return torch.cat(out).numpy() if out else np.zeros((0, self.spec.window), np.float32)

        return self._run_on_device(go)

    explain_methods = SIGNAL_METHODS
    explained_input = "a signal"

    def _run(self, items: list[PreparedSignal], req: RunRequest) -> list[Prediction]:
        """Score every beat of each record (and attribute when ``explain``)."""
        op, method, explain = req.op, req.method, req.explain
        cancel, progress = req.cancel, req.progress
        labels = self.bundle.labels
        out = []
        for item in items:
            check_cancelled(cancel)
            pb = item.beats
            start = time.perf_counter()
            windows, rr = pb.windows, pb.rr
            template = self._template(pb)
            probs = logits_to_probabilities(self._logits_np(windows, rr, template), self.bundle)
            # What the post-processing changed: notes for the clinician, not input warnings.
            notes: list[str] = []
            for veto in (self.veto, self.conducted):
                if veto is None:
                    continue
                probs, vetoed = veto.apply(
                    probs, pb.windows, pb.samples, pb.fs_source, self.spec.before, pb.fs_model,
                    labels,
                )  # fmt: skip
                if vetoed.any():
                    notes.append(veto.note(int(vetoed.sum()), len(probs)))
            if self.split is not None:
                probs, above = self.split.apply_gated(probs, pb.samples, pb.fs_source, labels)
                n_gated = int(above.sum())
                if n_gated:
                    notes.append(self.split.gate_note(n_gated, len(probs)))
            model_ms = (time.perf_counter() - start) * 1000.0
            beat_results = []
            targets = np.zeros(len(probs), dtype=np.int64)
            for b in range(len(probs)):
                pdict = {lbl: float(p) for lbl, p in zip(labels, probs[b], strict=True)}
                label = decide(pdict, self.bundle, op)
                targets[b] = labels.index(label)
                beat_results.append(BeatResult(int(pb.samples[b]), label, pdict))
            attribution = None
            attr_ms = 0.0
            used = method
            if explain and len(probs):
                t0 = time.perf_counter()
                if self._n_outputs() == 1:
                    targets[:] = 0
                per_beat, used = self._attributions_np(
                    windows, rr, targets, method, cancel,
                    sub_progress(progress, 0.2, 1.0) if len(items) == 1 else no_progress,
                    template,
                )  # fmt: skip
                attribution = windows_to_samples(
                    per_beat,
                    pb.model_samples,
                    self.spec.before,
                    len(pb.filtered),
                    pb.fs_model,
                    pb.fs_source,
                    pb.n_source,
                )
                attr_ms = (time.perf_counter() - t0) * 1000.0
                if used != method:
                    notes.append(FALLBACK_NOTE.format(asked=method, used=used))
            counts = {lbl: 0 for lbl in labels}
            for br in beat_results:
                counts[br.label] += 1
            mean = probs.mean(axis=0) if len(probs) else np.full(len(labels), np.nan)
            if counts[self.bundle.positive_label]:
                record_label = self.bundle.positive_label
            elif len(probs):
                record_label = max(labels, key=lambda lbl: counts[lbl])
            else:
                record_label = next(lbl for lbl in labels if lbl != self.bundle.positive_label)
            extra = self._extra()
            if item.quality is not None:
                extra["signal_quality"] = item.quality.to_json()
            if np.isfinite(pb.amplitude_mv):
                extra["amplitude_mv"] = round(pb.amplitude_mv, 4)
                extra["amplitude_scale"] = round(pb.amplitude_scale, 4)
            extra.update(
                {
                    "beat_counts": counts,
                    "beat_source": pb.beat_source,
                    "lead": pb.lead,
                    "fs_model": pb.fs_model,
                    "fs_source": pb.fs_source,
                    "input_name": item.name,
                    "timing_ms": {
                        "prepare": round(item.prepare_ms, 3),
                        "model": round(model_ms, 3),
                        "attribution": round(attr_ms, 3),
                    },
                }
            )
            if notes:
                extra["notes"] = notes
            out.append(
                build_prediction(
                    self.bundle,
                    mean,
                    op=op,
                    label=record_label,
                    device=self.device,
                    elapsed_ms=item.prepare_ms + model_ms + attr_ms,
                    input_hash=pb.input_hash,
                    extra=extra,
                    beats=tuple(beat_results),
                    attribution=attribution,
                    explanation_method=used if attribution is not None else "",
                    warnings=item.warnings,
                )
            )
        return out

    def _n_outputs(self) -> int:
        args = self.bundle.architecture.get("args", {})
        return int(args.get("num_classes", len(self.bundle.labels)))
