"""Classifier families for record models, with hyper-parameters fixed a priori.

Every family is one scikit-learn estimator placed after the record
pipeline's own preprocessing (imputation, scaling, one-hot encoding), so a
bundle is a single pipeline and imputation is refitted inside every
cross-validation fold. Hyper-parameters are conventional small-data
settings chosen before looking at any validation result and are not tuned
on the data; the outer repeated cross-validation is therefore an unbiased
estimate for these fixed settings and no inner (nested) loop is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Family:
    """One kind of classifier and how its bundle describes itself.

    Attributes
    ----------
    key
        Short name used on the command line (``logreg``, ``rf``, ``svm``, ``tree``).
    title
        Human-readable name of the estimator.
    make
        ``make(seed, rows_per_patient)`` returns a fresh, unfitted estimator.
        Training uses each patient ``rows_per_patient`` times (as recorded
        and masked copies, each weighted ``1 / rows_per_patient``), so
        minimum leaf sizes, stated per patient, are scaled by it.
    hyperparameters
        The fixed settings, for the model card.
    calibration
        The manifest's ``outputs.calibration`` block.
    explanation
        ``"linear-exact"`` (log-odds contributions of a linear final step)
        or ``"shapley-exact"`` (interventional Shapley values of the
        probability over the record's fields).
    notes
        Family-specific sentences for the model card.
    """

    key: str
    title: str
    make: Callable[[int, int], Any]
    hyperparameters: dict[str, Any]
    calibration: dict[str, Any] = field(default_factory=lambda: {"method": "none"})
    explanation: str = "shapley-exact"
    notes: tuple[str, ...] = ()

    @property
    def calibrated(self) -> bool:
        """Whether the bundle's probabilities pass through a calibration step."""
        return self.calibration.get("method", "none") != "none"


def _logreg(seed: int, rows_per_patient: int = 1) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.3, max_iter=2000, random_state=seed)


def _forest(seed: int, rows_per_patient: int = 1) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=200,
        min_samples_leaf=5 * rows_per_patient,
        max_features="sqrt",
        n_jobs=1,
        random_state=seed,
    )


def _svm(seed: int, rows_per_patient: int = 1) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    # One SVC fitted on all training rows; its decision values are mapped to
    # probabilities by a sigmoid fitted on 5-fold internal predictions (the
    # trainer replaces ``cv`` by folds grouped by patient for the fit).
    return CalibratedClassifierCV(
        SVC(C=1.0, kernel="rbf", gamma="scale", random_state=seed),
        method="sigmoid",
        cv=5,
        ensemble=False,
    )


def _tree(seed: int, rows_per_patient: int = 1) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(
        max_depth=4, min_samples_leaf=10 * rows_per_patient, random_state=seed
    )


def _boosting(seed: int, rows_per_patient: int = 1) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=200,
        max_depth=3,
        min_samples_leaf=10 * rows_per_patient,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


FAMILIES: dict[str, Family] = {
    "logreg": Family(
        key="logreg",
        title="logistic regression",
        make=_logreg,
        hyperparameters={"penalty": "L2", "C": 0.3, "solver": "lbfgs"},
        calibration={"method": "none"},
        explanation="linear-exact",
        notes=(
            "Probabilities come straight from the maximum-likelihood fit; no "
            "calibration step is applied.",
            "Per-field contributions are exact for this linear model: the change in "
            "log-odds relative to the average training patient.",
        ),
    ),
    "rf": Family(
        key="rf",
        title="random forest",
        make=_forest,
        hyperparameters={
            "trees": 200,
            "min_samples_leaf": "5 patients",
            "max_features": "sqrt",
        },
        calibration={"method": "none"},
        notes=(
            "Probabilities are the mean of the trees' leaf frequencies; no calibration "
            "step is applied (forests tend to pull probabilities towards the middle).",
            "Per-field contributions are exact interventional Shapley values of the "
            "probability against a fixed background sample of training patients.",
        ),
    ),
    "svm": Family(
        key="svm",
        title="support-vector machine",
        make=_svm,
        hyperparameters={
            "kernel": "rbf",
            "C": 1.0,
            "gamma": "scale",
            "calibration": "sigmoid (Platt) on 5-fold internal predictions",
        },
        calibration={
            "method": "intrinsic",
            "fitted_on": "sigmoid (Platt) scaling fitted inside the pipeline on 5-fold "
            "internal cross-validation predictions of the training rows",
        },
        notes=(
            "An SVM gives no probabilities of its own: a sigmoid fitted on internal "
            "5-fold predictions of the training rows maps its decision value to one. "
            "This calibration is part of the pipeline and is refitted in every "
            "outer cross-validation fold.",
            "Per-field contributions are exact interventional Shapley values of the "
            "probability against a fixed background sample of training patients.",
        ),
    ),
    "tree": Family(
        key="tree",
        title="decision tree",
        make=_tree,
        hyperparameters={"max_depth": 4, "min_samples_leaf": "10 patients"},
        calibration={"method": "none"},
        notes=(
            "A shallow tree a clinician can follow; its probability is the share of "
            "training patients with disease in the leaf, so it takes few distinct values.",
            "Per-field contributions are exact interventional Shapley values of the "
            "probability against a fixed background sample of training patients.",
        ),
    ),
    "hgb": Family(
        key="hgb",
        title="gradient boosting",
        make=_boosting,
        hyperparameters={
            "learning_rate": 0.05,
            "iterations": 200,
            "max_depth": 3,
            "min_samples_leaf": "10 patients",
            "l2_regularization": 1.0,
            "early_stopping": "none",
        },
        calibration={"method": "none"},
        notes=(
            "Histogram gradient boosting of shallow trees (scikit-learn's "
            "HistGradientBoostingClassifier); it models interactions, e.g. how much the "
            "exercise test matters when the thallium scan is missing. No calibration step "
            "is applied.",
            "Per-field contributions are exact interventional Shapley values of the "
            "probability against a fixed background sample of training patients.",
        ),
    ),
}


def family(key: str) -> Family:
    """The family called ``key`` (``logreg``, ``rf``, ``svm``, ``tree`` or ``hgb``)."""
    try:
        return FAMILIES[key]
    except KeyError:
        raise ValueError(f"unknown model family {key!r}; known: {', '.join(FAMILIES)}") from None
