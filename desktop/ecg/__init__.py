"""ECG reading: 12-lead print and scrolling strips on real-millimetre paper, beat model.

Integration into a main window::

    from desktop.ecg import EcgPanel, install_ecg_panel
    self.ecg = install_ecg_panel(tabs, file_menu=file_menu, analysis_menu=analysis_menu)
    # status bar: connect self.ecg.jobs like any other JobRunner;
    # closeEvent: self.ecg.shutdown()
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMenu, QTabWidget

from desktop.ecg.panel import EcgPanel
from desktop.ecg.views import CaliperReading, StripView, TwelveLeadView

__all__ = ["CaliperReading", "EcgPanel", "StripView", "TwelveLeadView", "install_ecg_panel"]


def install_ecg_panel(
    tabs: QTabWidget,
    *,
    file_menu: QMenu | None = None,
    analysis_menu: QMenu | None = None,
) -> EcgPanel:
    """Add an :class:`EcgPanel` as an "ECG" tab and its actions to the given menus.

    ``file_menu`` gets Open ECG…, Open sample 12-lead ECG and Open sample
    Holter ECG; ``analysis_menu`` gets Analyze ECG. Opening or analysing
    brings the ECG tab to the front.
    """
    panel = EcgPanel()
    tabs.addTab(panel, QCoreApplication.translate("EcgPanel", "ECG"))
    if file_menu is not None:
        file_menu.addSeparator()
        for action in (panel.open_action, panel.open_sample_action, panel.open_holter_action):
            file_menu.addAction(action)
    if analysis_menu is not None:
        analysis_menu.addAction(panel.analyze_action)
    panel.jobs.started.connect(lambda _name: tabs.setCurrentIndex(tabs.indexOf(panel)))
    return panel
