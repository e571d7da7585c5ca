"""Network architectures a bundle may name, built in code, never unpickled.

A torch bundle states ``architecture: {"name": ..., "args": {...}}``; the
name must be one of :data:`ARCHITECTURES` and the arguments must be the
scalar ones that builder accepts. Weights are then read from the bundle's
``.safetensors`` file into the freshly built module with ``strict=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ModelError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from engine.models.bundle import Bundle


@dataclass(frozen=True)
class Architecture:
    """A builder with the arguments it accepts and its Grad-CAM layer."""

    name: str
    build: Callable[..., nn.Module]
    args: Mapping[str, type]
    required: tuple[str, ...] = ("num_classes",)
    cam_layer: str | None = None
    input_type: str = "image"
    notes: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)


def _torchvision(name: str) -> Callable[..., nn.Module]:
    def build(num_classes: int, **kwargs: Any) -> nn.Module:
        import torchvision.models as tvm

        factory = getattr(tvm, name)
        # weights=None always: nothing is ever downloaded.
        return factory(weights=None, num_classes=num_classes, **kwargs)

    return build


def _small_cnn(
    num_classes: int, in_channels: int = 3, width: int = 16, depth: int = 3
) -> nn.Module:
    from torch import nn

    layers: list[nn.Module] = []
    channels = in_channels
    for i in range(depth):
        out = width * (2**i)
        layers += [
            nn.Conv2d(channels, out, 3, padding=1, bias=False),
            nn.BatchNorm2d(out),
            nn.ReLU(inplace=True),
        ]
        if i < depth - 1:
            layers.append(nn.MaxPool2d(2))
        channels = out
    return _Classifier(nn.Sequential(*layers), channels, num_classes)


def _make_classifier_class():
    from torch import nn

    class Classifier(nn.Module):
        """``features`` → global average pool → linear head."""

        def __init__(self, features: nn.Module, channels: int, num_classes: int) -> None:
            super().__init__()
            self.features = features
            self.classifier = nn.Linear(channels, num_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.features(x)
            return self.classifier(f.mean(dim=(2, 3)))

    return Classifier


def _Classifier(features: nn.Module, channels: int, num_classes: int) -> nn.Module:
    return _make_classifier_class()(features, channels, num_classes)


def _make_beat_lstm_class():
    import torch
    from torch import nn

    class BeatLSTM(nn.Module):
        """A (bi)LSTM beat classifier.

        Input: ``window`` ``(batch, samples)`` of one lead centred on the R
        peak (mV, after the declared baseline filter) and ``rr``
        ``(batch, n_rr)`` standardised RR-interval features. A small strided
        convolution shortens the sequence, the LSTM reads it, the last
        hidden states of both directions are joined to the RR features and a
        two-layer head gives one logit per class. With ``template_channel``
        the network also takes ``template`` ``(batch, samples)``, the
        record's median beat, and reads ``window − template`` as a second
        input channel (patient-adaptive morphology).
        """

        def __init__(
            self,
            num_classes: int,
            window: int,
            n_rr: int = 4,
            hidden: int = 32,
            layers: int = 1,
            bidirectional: bool = True,
            conv_channels: int = 16,
            stride: int = 2,
            dropout: float = 0.0,
            template_channel: bool = False,
        ) -> None:
            super().__init__()
            self.window = window
            self.n_rr = n_rr
            self.template_channel = template_channel
            self.conv = nn.Sequential(
                nn.Conv1d(2 if template_channel else 1, conv_channels, 7, stride=stride, padding=3),
                nn.ReLU(),
            )
            self.lstm = nn.LSTM(
                conv_channels,
                hidden,
                num_layers=layers,
                batch_first=True,
                bidirectional=bidirectional,
                dropout=dropout if layers > 1 else 0.0,
            )
            directions = 2 if bidirectional else 1
            self.head = nn.Sequential(
                nn.Linear(hidden * directions + n_rr, hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, num_classes),
            )

        def forward(
            self,
            window: torch.Tensor,
            rr: torch.Tensor | None = None,
            template: torch.Tensor | None = None,
        ) -> torch.Tensor:
            if self.template_channel:
                if template is None:
                    template = torch.zeros_like(window)
                x = torch.stack([window, window - template], dim=1)
            else:
                x = window.unsqueeze(1)
            x = self.conv(x).transpose(1, 2)
            _, (h, _) = self.lstm(x)
            if self.lstm.bidirectional:
                last = torch.cat([h[-2], h[-1]], dim=1)
            else:
                last = h[-1]
            if self.n_rr:
                if rr is None:
                    rr = window.new_zeros((window.shape[0], self.n_rr))
                last = torch.cat([last, rr], dim=1)
            return self.head(last)

    return BeatLSTM


def _beat_lstm(num_classes: int, window: int, **kwargs: Any) -> nn.Module:
    return _make_beat_lstm_class()(num_classes, window, **kwargs)


def _rhythm_cnn(
    num_classes: int, width: int = 32, stem_kernel: int = 15, kernel: int = 9
) -> nn.Module:
    """A 1-D residual CNN over one ECG lead ``(n, 1, samples)`` → class logits."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            pad = kernel // 2
            self.conv1 = nn.Conv1d(c_in, c_out, kernel, stride=2, padding=pad, bias=False)
            self.bn1 = nn.BatchNorm1d(c_out)
            self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False)
            self.bn2 = nn.BatchNorm1d(c_out)
            self.skip = nn.Sequential(
                nn.Conv1d(c_in, c_out, 1, stride=2, bias=False), nn.BatchNorm1d(c_out)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + self.skip(x))

    class RhythmCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            chans = [width, width, 2 * width, 2 * width, 4 * width, 4 * width]
            self.stem = nn.Sequential(
                nn.Conv1d(1, width, stem_kernel, stride=2, padding=stem_kernel // 2, bias=False),
                nn.BatchNorm1d(width),
                nn.ReLU(inplace=True),
            )
            blocks, c_in = [], width
            for c in chans:
                blocks.append(Block(c_in, c))
                c_in = c
            self.blocks = nn.Sequential(*blocks)
            self.head = nn.Linear(2 * c_in, num_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.blocks(self.stem(x))
            pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
            return self.head(pooled)

    return RhythmCNN()


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            "densenet121",
            _torchvision("densenet121"),
            {"num_classes": int},
            cam_layer="features",
            notes="torchvision DenseNet-121, 3-channel input",
        ),
        Architecture(
            "resnet18",
            _torchvision("resnet18"),
            {"num_classes": int},
            cam_layer="layer4",
            notes="torchvision ResNet-18, 3-channel input",
        ),
        Architecture(
            "resnet34",
            _torchvision("resnet34"),
            {"num_classes": int},
            cam_layer="layer4",
            notes="torchvision ResNet-34, 3-channel input",
        ),
        Architecture(
            "resnet50",
            _torchvision("resnet50"),
            {"num_classes": int},
            cam_layer="layer4",
            notes="torchvision ResNet-50, 3-channel input",
        ),
        Architecture(
            "efficientnet_b0",
            _torchvision("efficientnet_b0"),
            {"num_classes": int},
            cam_layer="features",
            notes="torchvision EfficientNet-B0",
        ),
        Architecture(
            "mobilenet_v3_small",
            _torchvision("mobilenet_v3_small"),
            {"num_classes": int},
            cam_layer="features",
            notes="torchvision MobileNetV3-Small",
        ),
        Architecture(
            "small-cnn",
            _small_cnn,
            {"num_classes": int, "in_channels": int, "width": int, "depth": int},
            cam_layer="features",
            notes="Stethos: conv-BN-ReLU blocks, GAP, linear",
        ),
        Architecture(
            "beat-lstm",
            _beat_lstm,
            {
                "num_classes": int,
                "window": int,
                "n_rr": int,
                "hidden": int,
                "layers": int,
                "bidirectional": bool,
                "conv_channels": int,
                "stride": int,
                "dropout": float,
                "template_channel": bool,
            },
            required=("num_classes", "window"),
            input_type="signal",
            notes="Stethos: conv + (bi)LSTM over a beat window, with RR features",
        ),
        Architecture(
            "rhythm-cnn",
            _rhythm_cnn,
            {"num_classes": int, "width": int, "stem_kernel": int, "kernel": int},
            input_type="signal",
            notes="Stethos: 1-D residual CNN over 30 s of one lead (rhythm class)",
        ),
    )
}


def _check_args(arch: Architecture, args: Mapping[str, Any], model_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in args.items():
        expected = arch.args.get(key)
        if expected is None:
            raise ModelError(
                f"Model “{model_id}” gives the architecture {arch.name} an argument it does not "
                f"take: {key}.",
            )
        ok = (
            isinstance(value, bool)
            if expected is bool
            else isinstance(value, int | float) and not isinstance(value, bool)
            if expected is float
            else isinstance(value, expected) and not isinstance(value, bool)
        )
        if not ok:
            raise ModelError(
                f"Model “{model_id}”: the architecture argument {key} must be "
                f"{expected.__name__}, not {value!r}.",
            )
        out[key] = expected(value)
    missing = [k for k in arch.required if k not in out]
    if missing:
        raise ModelError(
            f"Model “{model_id}” does not give the architecture {arch.name} its "
            f"{', '.join(missing)}.",
        )
    return out


def get_architecture(name: str, model_id: str = "?") -> Architecture:
    """The :class:`Architecture` called ``name``; :class:`ModelError` if unknown."""
    arch = ARCHITECTURES.get(name)
    if arch is None:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ModelError(
            f"Model “{model_id}” needs the network “{name}”, which this Stethos cannot build. "
            "Update Stethos or use another model.",
            f"known: {known}",
        )
    return arch


def build_model(name: str, args: Mapping[str, Any], model_id: str = "?") -> nn.Module:
    """Build the named network with freshly initialised weights."""
    arch = get_architecture(name, model_id)
    return arch.build(**_check_args(arch, args, model_id))


def load_weights(model: nn.Module, path: Path, model_id: str = "?") -> nn.Module:
    """Read a ``.safetensors`` file into ``model`` (all keys, matching shapes).

    Raises
    ------
    ModelError
        When the file cannot be read or does not fit the network.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(
            f"The weights of model “{model_id}” cannot be read ({path.name}).", repr(exc)
        ) from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(
            f"The weights of model “{model_id}” do not fit its declared network; the bundle is "
            "inconsistent.",
            str(exc)[:2000],
        ) from exc
    return model


def save_weights(model: nn.Module, path: Path) -> None:
    """Write ``model``'s state as ``.safetensors`` (used by training and tests)."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path))


def load_torch_network(bundle: Bundle) -> torch.nn.Module:
    """Build the bundle's architecture and read its safetensors weights (frozen, eval)."""
    arch_spec = bundle.architecture
    arch = get_architecture(str(arch_spec.get("name")), bundle.id)
    if arch.input_type != bundle.input_type:
        raise ModelError(
            f"Model “{bundle.id}” pairs the network {arch.name} (for {arch.input_type}s) with "
            f"{bundle.input_type} inputs.",
        )
    net = build_model(arch.name, arch_spec.get("args", {}), bundle.id)
    load_weights(net, bundle.weights_path, bundle.id)
    net.eval()
    net.requires_grad_(False)
    return net
