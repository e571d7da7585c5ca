"""User preferences: what they are, where they live, and the dialog that edits them.

Preferences are an INI file (``settings.ini``) in the user's configuration
folder (:func:`engine.resources.user_config_dir`, overridden by
``STETHOS_CONFIG_DIR``), read and written through :class:`QSettings`. A bad
or hand-edited value falls back to its default; it never stops the start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QCoreApplication,
    QObject,
    QPointF,
    QSettings,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QMainWindow,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.theme import THEMES
from engine.resources import user_config_dir

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.ini"
#: Version of the main window's dock layout: raise it when docks are added or renamed, so
#: that a layout saved by an older Stethos is not restored into the new one.
LAYOUT_VERSION = 1
LANGUAGES = ("en", "zh_CN")
SPEEDS_MM_S = (12.5, 25.0, 50.0)
GAINS_MM_MV = (5.0, 10.0, 20.0)
DEVICES = ("auto", "cpu", "cuda")
#: Allowed range of the screen calibration factor (1.0 = trust the screen's DPI).
CALIBRATION_RANGE = (0.5, 2.0)
#: Allowed range of the inactivity lock (minutes without input before patient data is hidden).
LOCK_MINUTES_RANGE = (1, 120)
DEFAULT_LOCK_MINUTES = 10


@dataclass(frozen=True)
class Preferences:
    """Everything the user can set in Settings.

    Attributes
    ----------
    theme
        ``"light"`` or ``"dark"``.
    language
        ``"en"`` or ``"zh_CN"``; applied when the application starts.
    ecg_speed_mm_s, ecg_gain_mm_mv
        Default ECG paper speed (12.5, 25 or 50 mm/s) and gain (5, 10 or 20 mm/mV).
    screen_calibration
        Multiplies the screen's physical DPI so that 10 mm on screen measure
        10 mm with a ruler.
    device
        Where models run: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    lock_minutes
        Minutes without keyboard or mouse input before a signed-in session
        locks (1 to 120); applied at once.
    """

    theme: str = "light"
    language: str = "en"
    ecg_speed_mm_s: float = 25.0
    ecg_gain_mm_mv: float = 10.0
    screen_calibration: float = 1.0
    device: str = "auto"
    lock_minutes: int = DEFAULT_LOCK_MINUTES


class PreferencesNotifier(QObject):
    """Tells parts of the application that do not own the Settings dialog about new values."""

    saved = Signal(object)  # Preferences


_notifier: PreferencesNotifier | None = None


def preferences_notifier() -> PreferencesNotifier:
    """The application-wide notifier; its ``saved`` fires after Settings ▸ OK."""
    global _notifier
    if _notifier is None:
        _notifier = PreferencesNotifier()
    return _notifier


def settings_path() -> Path:
    """The INI file preferences are kept in."""
    return user_config_dir() / SETTINGS_FILE


def _qsettings(path: Path | None) -> QSettings:
    return QSettings(str(path or settings_path()), QSettings.Format.IniFormat)


def _choice(value: object, allowed: tuple, default):
    if isinstance(default, float):
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
        return number if number in allowed else default
    return value if value in allowed else default


def _in_range(value: object, kind: type, bounds: tuple, default):
    """``value`` as ``kind`` when it lies within ``bounds``, else ``default``."""
    try:
        number = kind(value)
    except (TypeError, ValueError):
        return default
    return number if bounds[0] <= number <= bounds[1] else default


def load_preferences(path: Path | None = None) -> Preferences:
    """Read preferences (defaults for anything missing or invalid)."""
    s = _qsettings(path)
    d = Preferences()
    return Preferences(
        theme=_choice(s.value("display/theme", d.theme), THEMES, d.theme),
        language=_choice(s.value("display/language", d.language), LANGUAGES, d.language),
        ecg_speed_mm_s=_choice(s.value("ecg/speed_mm_s"), SPEEDS_MM_S, d.ecg_speed_mm_s),
        ecg_gain_mm_mv=_choice(s.value("ecg/gain_mm_mv"), GAINS_MM_MV, d.ecg_gain_mm_mv),
        screen_calibration=_in_range(
            s.value("display/screen_calibration"), float, CALIBRATION_RANGE, d.screen_calibration
        ),
        device=_choice(s.value("models/device", d.device), DEVICES, d.device),
        lock_minutes=_in_range(
            s.value("security/lock_minutes"), int, LOCK_MINUTES_RANGE, d.lock_minutes
        ),
    )


def save_preferences(prefs: Preferences, path: Path | None = None) -> None:
    """Write preferences to the INI file (its folder is created when missing)."""
    target = path or settings_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("cannot create the settings folder %s: %s", target.parent, exc)
        return
    s = _qsettings(target)
    s.setValue("display/theme", prefs.theme)
    s.setValue("display/language", prefs.language)
    s.setValue("display/screen_calibration", float(prefs.screen_calibration))
    s.setValue("ecg/speed_mm_s", float(prefs.ecg_speed_mm_s))
    s.setValue("ecg/gain_mm_mv", float(prefs.ecg_gain_mm_mv))
    s.setValue("models/device", prefs.device)
    s.setValue("security/lock_minutes", int(prefs.lock_minutes))
    s.sync()
    if s.status() != QSettings.Status.NoError:
        log.warning("cannot write the settings file %s", target)


def record_unit(field: str, allowed: tuple[str, ...], path: Path | None = None) -> str:
    """The unit the record form last took ``field`` in (``allowed[0]``, the model's, if none)."""
    return _choice(_qsettings(path).value(f"record_units/{field}"), allowed, allowed[0])


def save_record_unit(field: str, unit: str, path: Path | None = None) -> None:
    """Remember the unit ``field`` is entered in (a clinic's laboratory reports one)."""
    target = path or settings_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("cannot create the settings folder %s: %s", target.parent, exc)
        return
    s = _qsettings(target)
    s.setValue(f"record_units/{field}", unit)
    s.sync()


def save_window_layout(window: QMainWindow, path: Path | None = None) -> None:
    """Keep the main window's size, position, docks and toolbars for the next start."""
    s = _qsettings(path)
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/state", window.saveState(LAYOUT_VERSION))
    s.sync()


def restore_window_layout(window: QMainWindow, path: Path | None = None) -> bool:
    """Put the main window back as it was left; ``False`` (nothing changed) on a first
    start or a layout saved by a different version or screen set-up Qt refuses."""
    s = _qsettings(path)
    geometry, state = s.value("window/geometry"), s.value("window/state")
    restored = isinstance(geometry, QByteArray) and window.restoreGeometry(geometry)
    if isinstance(state, QByteArray):
        restored = window.restoreState(state, LAYOUT_VERSION) or restored
    return bool(restored)


def apply_startup_preferences(app: QApplication) -> Preferences:
    """Load preferences and apply the theme and language to ``app`` (call before windows)."""
    from desktop.i18n import install_translator
    from desktop.theme import apply_theme

    prefs = load_preferences()
    install_translator(app, prefs.language)
    apply_theme(app, prefs.theme)
    return prefs


class RulerWidget(QWidget):
    """A 50 mm bar drawn at the calibrated scale, to check with a real ruler."""

    LENGTH_MM = 50.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.calibration = 1.0
        self.setMinimumHeight(28)

    def set_calibration(self, value: float) -> None:
        self.calibration = float(value)
        self.update()

    def px_per_mm(self) -> float:
        screen = self.screen() or QApplication.primaryScreen()
        dpi = screen.physicalDotsPerInchX() if screen is not None else 96.0
        return dpi / 25.4 * self.calibration

    def sizeHint(self) -> QSize:
        return QSize(round(self.LENGTH_MM * self.px_per_mm()) + 8, 28)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        pen = QPen(self.palette().windowText().color())
        pen.setWidthF(1.0)
        painter.setPen(pen)
        mm = self.px_per_mm()
        x0, y = 4.0, self.height() - 6.0
        painter.drawLine(QPointF(x0, y), QPointF(x0 + self.LENGTH_MM * mm, y))
        for i in range(int(self.LENGTH_MM) + 1):
            tick = 10 if i % 10 == 0 else (7 if i % 5 == 0 else 4)
            x = x0 + i * mm
            painter.drawLine(QPointF(x, y), QPointF(x, y - tick))
        painter.end()


class SettingsDialog(QDialog):
    """Edits :class:`Preferences`; ``preferences_saved`` fires after OK."""

    preferences_saved = Signal(object)

    def __init__(self, prefs: Preferences | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settings_dialog")
        self.setWindowTitle(self.tr("Settings"))
        self.initial = prefs or load_preferences()

        self.theme_box = QComboBox()
        self.theme_box.setObjectName("theme_box")
        self.theme_box.addItem(self.tr("Light"), "light")
        self.theme_box.addItem(self.tr("Dark"), "dark")
        self.language_box = QComboBox()
        self.language_box.setObjectName("language_box")
        # Each language is named in itself, so that anyone can find their own.
        self.language_box.addItem("English", "en")
        self.language_box.addItem("简体中文", "zh_CN")
        self.speed_box = QComboBox()
        self.speed_box.setObjectName("speed_box")
        for v in SPEEDS_MM_S:
            self.speed_box.addItem(self.tr("{0:g} mm/s").format(v), v)
        self.gain_box = QComboBox()
        self.gain_box.setObjectName("gain_box")
        for v in GAINS_MM_MV:
            self.gain_box.addItem(self.tr("{0:g} mm/mV").format(v), v)
        self.calibration_box = QDoubleSpinBox()
        self.calibration_box.setObjectName("calibration_box")
        self.calibration_box.setRange(*CALIBRATION_RANGE)
        self.calibration_box.setSingleStep(0.01)
        self.calibration_box.setDecimals(3)
        self.ruler = RulerWidget()
        ruler_help = QLabel(
            self.tr(
                "Hold a ruler to the screen: the bar below should measure 50 mm. "
                "If it does not, change the factor until it does."
            )
        )
        ruler_help.setWordWrap(True)
        self.device_box = QComboBox()
        self.device_box.setObjectName("device_box")
        self.device_box.addItem(self.tr("Automatic (GPU when available)"), "auto")
        self.device_box.addItem(self.tr("CPU only"), "cpu")
        self.device_box.addItem(self.tr("NVIDIA GPU (CUDA)"), "cuda")
        self.lock_box = QSpinBox()
        self.lock_box.setObjectName("lock_box")
        self.lock_box.setRange(*LOCK_MINUTES_RANGE)
        self.lock_box.setSuffix(self.tr(" min"))
        self.lock_box.setToolTip(
            self.tr(
                "After this many minutes without keyboard or mouse input, patient data is "
                "hidden until the password is typed again."
            )
        )
        self.notice = QLabel("")
        self.notice.setObjectName("settings_notice")
        self.notice.setWordWrap(True)

        form = QFormLayout()
        form.addRow(self.tr("Theme:"), self.theme_box)
        form.addRow(self.tr("Language:"), self.language_box)
        form.addRow(self.tr("ECG paper speed:"), self.speed_box)
        form.addRow(self.tr("ECG gain:"), self.gain_box)
        form.addRow(self.tr("Screen calibration factor:"), self.calibration_box)
        form.addRow(ruler_help)
        form.addRow(self.ruler)
        form.addRow(self.tr("Run models on:"), self.device_box)
        form.addRow(self.tr("Lock patient data after:"), self.lock_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.notice)
        layout.addWidget(buttons)

        self.calibration_box.valueChanged.connect(self.ruler.set_calibration)
        self.language_box.currentIndexChanged.connect(self._on_language_box_changed)
        self.set_preferences(self.initial)

    def set_preferences(self, prefs: Preferences) -> None:
        """Show ``prefs`` in the editors."""
        for box, value in (
            (self.theme_box, prefs.theme),
            (self.language_box, prefs.language),
            (self.speed_box, prefs.ecg_speed_mm_s),
            (self.gain_box, prefs.ecg_gain_mm_mv),
            (self.device_box, prefs.device),
        ):
            index = box.findData(value)
            box.setCurrentIndex(max(index, 0))
        self.calibration_box.setValue(prefs.screen_calibration)
        self.ruler.set_calibration(prefs.screen_calibration)
        self.lock_box.setValue(int(prefs.lock_minutes))

    def preferences(self) -> Preferences:
        """The preferences as edited."""
        return replace(
            self.initial,
            theme=self.theme_box.currentData(),
            language=self.language_box.currentData(),
            ecg_speed_mm_s=float(self.speed_box.currentData()),
            ecg_gain_mm_mv=float(self.gain_box.currentData()),
            screen_calibration=float(self.calibration_box.value()),
            device=self.device_box.currentData(),
            lock_minutes=int(self.lock_box.value()),
        )

    @Slot(int)
    def _on_language_box_changed(self, _: int) -> None:
        changed = self.language_box.currentData() != self.initial.language
        self.notice.setText(
            self.tr("The new language is used when Stethos starts again.") if changed else ""
        )

    def accept(self) -> None:
        prefs = self.preferences()
        save_preferences(prefs)
        app = QApplication.instance()
        if isinstance(app, QApplication) and prefs.theme != self.initial.theme:
            from desktop.theme import apply_theme

            apply_theme(app, prefs.theme)
        self.preferences_saved.emit(prefs)
        preferences_notifier().saved.emit(prefs)
        super().accept()


def open_settings(
    parent: QWidget | None = None, on_saved: Callable[[Preferences], None] | None = None
) -> SettingsDialog:
    """Open the settings dialog (window-modal) and return it.

    ``on_saved`` is called with the new :class:`Preferences` after OK (the
    theme is already applied by then; the language applies at the next start).
    """
    dialog = SettingsDialog(parent=parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if on_saved is not None:
        dialog.preferences_saved.connect(on_saved)
    dialog.open()
    return dialog


def make_settings_action(
    parent: QWidget, on_saved: Callable[[Preferences], None] | None = None
) -> QAction:
    """A "Settings…" action (Preferences role on macOS) that opens :func:`open_settings`."""
    action = QAction(QCoreApplication.translate("SettingsDialog", "&Settings…"), parent)
    action.setObjectName("settings_action")
    action.setMenuRole(QAction.MenuRole.PreferencesRole)
    action.triggered.connect(lambda: open_settings(parent, on_saved))
    return action
