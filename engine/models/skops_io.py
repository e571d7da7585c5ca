"""Reading a bundle's scikit-learn weights with skops (no pickle), trusted types only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import ModelError
from engine.models.bundle import Bundle

#: Types a skops file may contain beyond skops' own defaults. Anything else
#: found in a bundle is refused rather than instantiated.
TRUSTED_SKOPS_TYPES = frozenset(
    {
        "numpy.dtype",
        "numpy.float64",
        "numpy.int64",
        "numpy.ndarray",
        "builtins.slice",
        "builtins.float",
        "builtins.int",
        "builtins.str",
        "builtins.list",
        "builtins.dict",
        "builtins.tuple",
        "builtins.NoneType",
        # scikit-learn's own data-only helpers that skops does not trust by default:
        # the Cython tree structure of every tree ensemble, and the calibrators of
        # CalibratedClassifierCV (the supported way to give an SVM probabilities).
        "sklearn.tree._tree.Tree",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.isotonic.IsotonicRegression",
        # The fitted trees of histogram gradient boosting (node arrays only).
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)


def read_skops(bundle: Bundle) -> Any:
    """The bundle's fitted scikit-learn object; refused when it holds an untrusted type."""
    return read_skops_file(bundle, bundle.weights_path)


def read_skops_file(bundle: Bundle, path: Path) -> Any:
    """A skops file of ``bundle`` (its weights, or another file it lists), trusted types only."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises assorted types on a bad file
        raise ModelError(f"The weights of model “{bundle.id}” cannot be read.", repr(exc)) from exc
    refused = sorted(set(untrusted) - TRUSTED_SKOPS_TYPES)
    if refused:
        raise ModelError(
            f"Model “{bundle.id}” contains object types Stethos does not trust and was refused.",
            ", ".join(refused),
        )
    try:
        return sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelError(f"The weights of model “{bundle.id}” cannot be read.", repr(exc)) from exc
