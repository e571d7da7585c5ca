"""ECG reading: 12-lead print and scrolling strips on real-millimetre paper, beat model.

Integration into a main window::

    from desktop.ecg import install_ecg_panel
    self.ecg = install_ecg_panel(
        self.tabs, file_menu=self.file_menu, analysis_menu=self.analysis_menu,
        inline_progress=False,  # the status bar shows self.ecg.jobs
    )
    # connect self.ecg.jobs like any other JobRunner; cancel and wait for it on close
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
    inline_progress: bool = True,
) -> EcgPanel:
    """Add an :class:`EcgPanel` as an "ECG" tab and its actions to the given menus.

    ``file_menu`` gets Open ECG…, Open sample 12-lead ECG, Open sample
    Holter ECG and Open sample handheld ECG; ``analysis_menu`` gets Analyze ECG
    and Rhythm report. Opening or analysing
    brings the ECG tab to the front. Pass ``inline_progress=False`` when the
    window shows ``panel.jobs``' progress and Cancel in its status bar.
    """
    panel = EcgPanel(inline_progress=inline_progress)
    tabs.addTab(panel, QCoreApplication.translate("EcgPanel", "ECG"))
    if file_menu is not None:
        file_menu.addSeparator()
        for action in (panel.open_action, panel.open_sample_action, panel.open_holter_action,
                       panel.open_handheld_action):  # fmt: skip
            file_menu.addAction(action)
    if analysis_menu is not None:
        analysis_menu.addAction(panel.analyze_action)
        analysis_menu.addAction(panel.rhythm_action)
    panel.jobs.started.connect(lambda _name: tabs.setCurrentIndex(tabs.indexOf(panel)))
    return panel
