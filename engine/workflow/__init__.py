"""The clinic workflow without the GUI: what every button does, callable from anywhere.

The desktop, the command line, tests and scripts all go through this layer
(3D Slicer's Logic/Widget split): studies (scan, open, load views,
thumbnails, tags), analysis of images, ECG signals and records with one
entry point (:func:`analyze`), the installed models (default choice,
cards, management), the encounter session (records, results, decisions,
study links in the local store) and the report's data.
"""

from __future__ import annotations

from engine.models.results import SUPPORT_STATEMENT, BeatResult, Contribution, Prediction
from engine.workflow.analysis import (
    AnalysisOutcome,
    InputRef,
    ModelIdentity,
    analyze,
    analyze_many,
)
from engine.workflow.models import (
    Device,
    InputKind,
    clear_model_cache,
    default_model,
    import_model,
    intended_use,
    list_models,
    load_model,
    model_attributions,
    model_card,
    remove_model,
    verify_model,
)
from engine.workflow.studies import (
    FirstSliceLoaded,
    LoadedView,
    OpenOutcome,
    ScanFound,
    SeriesRef,
    StudyOpened,
    dataset_tree,
    load_view,
    open_first_image,
    open_image,
    open_signal,
    open_study,
    render_study_image,
    series_refs,
    series_thumbnails,
)

__all__ = [
    "SUPPORT_STATEMENT",
    "AnalysisOutcome",
    "BeatResult",
    "Contribution",
    "Device",
    "FirstSliceLoaded",
    "InputKind",
    "InputRef",
    "LoadedView",
    "ModelIdentity",
    "OpenOutcome",
    "Prediction",
    "ScanFound",
    "SeriesRef",
    "StudyOpened",
    "analyze",
    "analyze_many",
    "clear_model_cache",
    "dataset_tree",
    "default_model",
    "import_model",
    "intended_use",
    "list_models",
    "load_model",
    "load_view",
    "model_attributions",
    "model_card",
    "open_first_image",
    "open_image",
    "open_signal",
    "open_study",
    "remove_model",
    "render_study_image",
    "series_refs",
    "series_thumbnails",
    "verify_model",
]
