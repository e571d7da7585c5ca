"""What the patient controllers need from the window they live in.

The controllers never reach into the main window's attributes, layouts or
menu positions: they ask for this interface, which
:class:`~desktop.main_window.MainWindow` provides (a test may provide a
small fake instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import SignalInstance
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QDockWidget, QMenu, QWidget

from engine.workflow import Prediction, SeriesRef


@dataclass(frozen=True)
class ScreenViews:
    """What the window shows now, for the report of the current encounter.

    ``image`` is the rendered image shown (8-bit grayscale or RGB) with its
    ``image_caption``; ``heatmap`` the heat map drawn on that frame (``None``
    when none is) at ``heatmap_opacity``; ``ecg`` the ECG view as drawn,
    recorded at ``ecg_fs`` Hz, with ``ecg_beats_by`` the ``(model id,
    version)`` that labelled its beats (``None`` when none did).
    """

    image: np.ndarray | None = field(default=None, repr=False)
    image_caption: str = ""
    heatmap: np.ndarray | None = field(default=None, repr=False)
    heatmap_opacity: float = 0.5
    ecg: QImage | None = None
    ecg_fs: float = 0.0
    ecg_beats_by: tuple[str, str] | None = None


class PatientHost(Protocol):
    """The window's side of the Patient menu, dock and actions.

    Signals
    -------
    analysis_completed(AnalysisOutcome)
        Every image, record and ECG analysis made in the window.
    image_shown()
        The viewer shows another image, or none.
    """

    analysis_completed: SignalInstance
    image_shown: SignalInstance

    @property
    def record_dock(self) -> QDockWidget:
        """The record-and-results dock (hidden while the session is locked)."""
        ...

    def show_status(self, text: str) -> None:
        """Show a one-line message in the status bar."""
        ...

    def add_patient_menu(self, menu: QMenu, file_actions: list[QAction]) -> None:
        """Put the Patient menu in the menu bar and ``file_actions`` in the File menu."""
        ...

    def add_patients_dock(self, dock: QDockWidget) -> None:
        """Dock the Patients list beside the studies (hidden until signed in)."""
        ...

    def show_patients_dock(self, dock: QDockWidget, width: int) -> None:
        """Show and raise the Patients dock at ``width`` pixels."""
        ...

    def add_record_widgets(self, below_analyze: QWidget, below_results: QWidget) -> None:
        """Place widgets under the Analyze button and under the result panel."""
        ...

    def add_status_widget(self, widget: QWidget) -> None:
        """Add a permanent widget to the status bar."""
        ...

    def current_record(self) -> dict[str, Any]:
        """The record form's values (field name → value)."""
        ...

    def record_problems(self) -> list[str]:
        """Why the record form's values cannot be saved (empty when they can)."""
        ...

    def record_saved(self, record: Mapping[str, Any]) -> None:
        """``record`` was saved for the patient selected (the form may still hold it)."""
        ...

    def shown_prediction(self) -> Prediction | None:
        """The prediction the result panel shows."""
        ...

    def shown_study(self) -> SeriesRef | None:
        """The series the viewer shows, with its patient and study (``None``: none)."""
        ...

    def screen_views(self) -> ScreenViews:
        """The image, heat map and ECG on screen now."""
        ...
