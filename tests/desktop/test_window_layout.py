"""The main window comes back as it was left: size, position, docks."""

from __future__ import annotations

from desktop.main_window import MainWindow
from desktop.settings import restore_window_layout, save_window_layout, settings_path


def _window(qtbot, width: int | None = None, height: int | None = None, path=None):
    """A main window, sized and shown, and whether a layout saved at ``path`` was restored."""
    window = MainWindow()
    qtbot.addWidget(window)
    restored = restore_window_layout(window, path) if path is not None else False
    if width and height:
        window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)
    return window, restored


def test_size_and_docks_are_restored_on_the_next_start(qtbot, tmp_path) -> None:
    path = tmp_path / "settings.ini"
    probe = MainWindow()
    qtbot.addWidget(probe)
    screen = probe.screen().availableGeometry()
    size = (int(screen.width() * 0.7), int(screen.height() * 0.7))  # fits any test screen
    first, restored = _window(qtbot, *size, path=path)
    assert not restored  # a first start: nothing to restore
    first.record_dock.hide()
    save_window_layout(first, path)

    second, restored = _window(qtbot, path=path)
    assert restored
    # The height is the window's own (its width may be clamped by the small offscreen screen).
    assert abs(second.height() - first.height()) <= 2
    assert not second.record_dock.isVisible() and second.browser_dock.isVisible()


def test_closing_the_window_saves_its_layout(qtbot) -> None:
    window, _ = _window(qtbot, 1003, 701)
    window.close()
    assert "window" in settings_path().read_text(errors="replace")


def test_the_study_list_gets_most_of_the_left_column(qtbot) -> None:
    window, _ = _window(qtbot, 1400, 1000)
    assert window.browser_dock.height() > 2 * window.measurements_dock.height()


def test_reset_layout_puts_every_dock_back(qtbot) -> None:
    window, _ = _window(qtbot, 1400, 1000)
    window.record_dock.hide()
    window.measurements_dock.setFloating(True)
    window.reset_layout_action.trigger()
    for dock in (window.browser_dock, window.measurements_dock, window.record_dock):
        assert dock.isVisible() and not dock.isFloating()
    assert "first start" in window.reset_layout_action.toolTip()


def test_the_record_panel_gives_way_to_the_ecg_and_comes_back(qtbot) -> None:
    window, _ = _window(qtbot, 1400, 1000)
    assert window.record_dock.isVisible()
    window.tabs.setCurrentWidget(window.ecg)
    assert not window.record_dock.isVisible()  # the ECG tab has its own results panel
    window.tabs.setCurrentWidget(window.viewer_panel)
    assert window.record_dock.isVisible()
    # A panel the user closed stays closed.
    window.record_dock.hide()
    window.tabs.setCurrentWidget(window.ecg)
    window.tabs.setCurrentWidget(window.viewer_panel)
    assert not window.record_dock.isVisible()


def test_an_image_result_folds_the_record_form_so_it_shows_whole(qtbot) -> None:
    from engine.resources import resource_path
    from tests.desktop.conftest import open_and_wait

    window, _ = _window(qtbot, 1366, 768)
    open_and_wait(qtbot, window, [resource_path("samples", "peds-cxr-pneumonia-j2k.dcm")])
    with qtbot.waitSignal(window.analysis_jobs.finished, timeout=120_000):
        window.analyze_image_action.trigger()
    assert not window.form.isVisible() and not window.record_toggle.isChecked()
    assert window.results.intended_use.isVisible()
    viewport = window.results.parentWidget()
    assert (
        window.results.intended_use.mapTo(
            viewport, window.results.intended_use.rect().bottomLeft()
        ).y()
        <= window.record_dock.height()
    )
    window.record_toggle.click()  # unfolds again
    assert window.form.isVisible()


def test_a_study_of_42_series_shows_at_least_15_at_1080p(qtbot, tmp_path) -> None:
    from engine.dicom.synthetic import write_ct_series
    from tests.desktop.conftest import open_and_wait

    study = tmp_path / "ct"
    for n in range(42):
        write_ct_series(study / f"s{n:02d}", 1, rows=32, cols=32, seed=n,
                        study_uid="1.2.826.0.1.3680043.8.498.77", series_number=n + 1)  # fmt: skip
    window, _ = _window(qtbot, 1920, 1080)
    if window.height() < 1000:
        import pytest

        pytest.skip("the offscreen screen is smaller than 1080 pixels")
    open_and_wait(qtbot, window, [study])
    tree = window.browser.tree
    viewport = tree.viewport().rect()
    rows = [tree.visualItemRect(item) for item in window.browser._series_items.values()]
    visible = [
        r for r in rows if viewport.contains(r.topLeft()) and viewport.contains(r.bottomLeft())
    ]
    assert len(rows) == 42 and len(visible) >= 15, len(visible)
