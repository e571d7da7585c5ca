"""The main window comes back as it was left: size, position, docks."""

from __future__ import annotations

from desktop.main_window import MainWindow
from desktop.settings import restore_window_layout, save_window_layout


def test_size_and_docks_are_restored_on_the_next_start(qtbot, tmp_path) -> None:
    path = tmp_path / "settings.ini"
    first = MainWindow()
    qtbot.addWidget(first)
    assert not restore_window_layout(first, path)  # a first start: nothing to restore
    screen = first.screen().availableGeometry()
    size = (int(screen.width() * 0.7), int(screen.height() * 0.7))  # fits any test screen
    first.resize(*size)
    first.show()
    qtbot.waitExposed(first)
    first.record_dock.hide()
    save_window_layout(first, path)

    second = MainWindow()
    qtbot.addWidget(second)
    assert restore_window_layout(second, path)
    second.show()
    qtbot.waitExposed(second)
    # The height is the window's own (its width may be clamped by the small offscreen screen).
    assert abs(second.height() - first.height()) <= 2
    assert not second.record_dock.isVisible() and second.browser_dock.isVisible()


def test_closing_the_window_saves_its_layout(qtbot) -> None:
    from desktop.settings import settings_path

    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1003, 701)
    window.show()
    qtbot.waitExposed(window)
    window.close()
    assert "window" in settings_path().read_text(errors="replace")


def test_the_study_list_gets_most_of_the_left_column(qtbot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1400, 1000)
    window.show()
    qtbot.waitExposed(window)
    assert window.browser_dock.height() > 2 * window.measurements_dock.height()
