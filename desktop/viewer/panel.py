"""The image viewer as a panel: tool bar, the view, slice slider and cine controls.

The panel owns the viewer's actions (with their shortcuts); the main window
puts them in its menus. Single-key shortcuts only act while the focus is in
the panel, so typing in the record form never scrolls slices.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QSpinBox,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.viewer.image_view import (
    ANGLE,
    DISTANCE,
    ELLIPSE,
    MAX_FPS,
    MIN_FPS,
    PAN,
    RECTANGLE,
    ImageView,
)
from desktop.viewer.presets import Preset, presets_for

#: Slices moved by PageUp / PageDown.
PAGE_STEP = 10


class ViewerPanel(QWidget):
    """An :class:`ImageView` with its controls and actions."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ImageView()
        self.view.setObjectName("viewer")
        self.presets: list[Preset] = []
        self.preset_actions: list[QAction] = []
        self._build_actions()

        self.toolbar = QToolBar(self.tr("Image tools"))
        self.toolbar.setObjectName("viewer_toolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.preset_menu = QMenu(self.tr("Window presets"), self)
        self.preset_button = QToolButton()
        self.preset_button.setText(self.tr("W/L presets"))
        self.preset_button.setMenu(self.preset_menu)
        self.preset_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        for a in self.tool_actions:
            self.toolbar.addAction(a)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.preset_button)
        for a in (self.invert_action, self.fit_action, self.actual_size_action):
            self.toolbar.addAction(a)
        for a in (self.rotate_left_action, self.rotate_right_action):
            self.toolbar.addAction(a)
        for a in (self.flip_h_action, self.flip_v_action):
            self.toolbar.addAction(a)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.heatmap_action)
        self.heat_opacity = QSlider(Qt.Orientation.Horizontal)
        self.heat_opacity.setObjectName("heat_opacity")
        self.heat_opacity.setRange(0, 100)
        self.heat_opacity.setValue(round(self.view.heatmap_opacity * 100))
        self.heat_opacity.setMaximumWidth(110)
        self.heat_opacity.setToolTip(self.tr("Heat-map opacity"))
        self.heat_opacity_label = QLabel(self.tr("Opacity"))
        self.toolbar.addWidget(self.heat_opacity_label)
        self.toolbar.addWidget(self.heat_opacity)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("slice_slider")
        self.slider.setRange(0, 0)
        self.slice_label = QLabel("")
        self.slice_label.setMinimumWidth(90)
        self.play_button = QToolButton()
        self.play_button.setDefaultAction(self.cine_action)
        self.fps = QSpinBox()
        self.fps.setObjectName("cine_fps")
        self.fps.setRange(MIN_FPS, MAX_FPS)
        self.fps.setValue(self.view.fps)
        self.fps.setSuffix(self.tr(" fps"))
        self.fps.setToolTip(self.tr("Cine speed (frames per second)"))
        bottom = QHBoxLayout()
        bottom.setContentsMargins(4, 0, 4, 0)
        bottom.addWidget(self.play_button)
        bottom.addWidget(self.fps)
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.slice_label)
        self.controls = QWidget()
        self.controls.setLayout(bottom)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.controls)

        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.fps.valueChanged.connect(self._on_fps_value_changed)
        self.heat_opacity.valueChanged.connect(self._on_heat_opacity_value_changed)
        self.view.frame_changed.connect(self._on_view_frame_changed)
        self.view.image_changed.connect(self._on_view_image_changed)
        self.view.heatmap_changed.connect(self._on_view_heatmap_changed)
        self.view.cine_changed.connect(self.cine_action.setChecked)
        self.view.tool_changed.connect(self._on_view_tool_changed)
        self.view.view_changed.connect(self._on_view_view_changed)
        self._on_view_image_changed()
        self._on_view_heatmap_changed()

    # --- actions -------------------------------------------------------------------
    def _action(
        self,
        text: str,
        shortcuts: str | QKeySequence.StandardKey | list,
        slot: Callable | None = None,
        *,
        checkable: bool = False,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        keys = shortcuts if isinstance(shortcuts, list) else [shortcuts]
        action.setShortcuts([QKeySequence(k) for k in keys if k])
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setCheckable(checkable)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        v = self.view
        self.fit_action = self._action(self.tr("&Fit to window"), "F", v.fit_to_window)
        self.actual_size_action = self._action(
            self.tr("Actual size (&1:1)"), "Ctrl+0", v.actual_size
        )
        self.zoom_in_action = self._action(
            self.tr("Zoom &in"), ["+", "=", QKeySequence.StandardKey.ZoomIn], lambda: v.zoom_by(1)
        )
        self.zoom_out_action = self._action(
            self.tr("Zoom &out"), ["-", QKeySequence.StandardKey.ZoomOut], lambda: v.zoom_by(-1)
        )
        self.rotate_right_action = self._action(
            self.tr("Rotate &right 90°"), "]", lambda: v.rotate(90)
        )
        self.rotate_left_action = self._action(
            self.tr("Rotate &left 90°"), "[", lambda: v.rotate(-90)
        )
        self.flip_h_action = self._action(self.tr("Flip &horizontal"), "Shift+H", v.flip_horizontal)
        self.flip_v_action = self._action(self.tr("Flip &vertical"), "Shift+V", v.flip_vertical)
        self.reset_view_action = self._action(self.tr("Reset &view"), "Shift+R", v.reset_view)

        self.reset_window_action = self._action(self.tr("&Reset window/level"), "R", v.reset_window)
        self.auto_window_action = self._action(
            self.tr("&Automatic window (1–99 %)"), "0", self._on_auto_window_triggered
        )
        self.invert_action = self._action(self.tr("&Invert"), "I", v.set_inverted, checkable=True)

        self.next_slice_action = self._action(
            self.tr("&Next image"), ["Down", "Right"], lambda: v.step_frame(1)
        )
        self.previous_slice_action = self._action(
            self.tr("&Previous image"), ["Up", "Left"], lambda: v.step_frame(-1)
        )
        self.page_down_action = self._action(
            self.tr("Forward {0} images").format(PAGE_STEP),
            "PgDown",
            lambda: v.step_frame(PAGE_STEP),
        )
        self.page_up_action = self._action(
            self.tr("Back {0} images").format(PAGE_STEP), "PgUp", lambda: v.step_frame(-PAGE_STEP)
        )
        self.first_slice_action = self._action(
            self.tr("&First image"), "Home", lambda: v.set_frame(0)
        )
        self.last_slice_action = self._action(
            self.tr("&Last image"), "End", lambda: v.set_frame(v.n_frames - 1)
        )
        self.cine_action = self._action(
            self.tr("&Play cine"), "Space", self._on_cine_triggered, checkable=True
        )
        self.faster_action = self._action(
            self.tr("Cine &faster"), "Ctrl+Up", lambda: self.fps.setValue(self.fps.value() + 2)
        )
        self.slower_action = self._action(
            self.tr("Cine &slower"), "Ctrl+Down", lambda: self.fps.setValue(self.fps.value() - 2)
        )

        self.tool_group = QActionGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_actions = []
        for tool, text, key in (
            (PAN, self.tr("&Pan"), "P"),
            (DISTANCE, self.tr("&Distance"), "D"),
            (ANGLE, self.tr("&Angle"), "A"),
            (RECTANGLE, self.tr("&Rectangle region"), "B"),
            (ELLIPSE, self.tr("&Ellipse region"), "E"),
        ):
            action = self._action(text, key, checkable=True)
            action.setData(tool)
            action.triggered.connect(lambda _checked=False, t=tool: self.view.set_tool(t))
            self.tool_group.addAction(action)
            self.tool_actions.append(action)
        self.tool_actions[0].setChecked(True)
        self.delete_measurement_action = self._action(
            self.tr("&Delete measurement"), ["Del", "Backspace"], v.remove_selected_measurement
        )
        self.clear_measurements_action = self._action(
            self.tr("Delete &all measurements"), "Shift+Del", v.clear_measurements
        )

        self.overlay_action = self._action(
            self.tr("Show &overlay text"), "O", v.set_overlay_visible, checkable=True
        )
        self.overlay_action.setChecked(True)
        self.identity_action = self._action(
            self.tr("&Hide patient identity"), "Shift+O", v.set_identity_hidden, checkable=True
        )
        self.heatmap_action = self._action(
            self.tr("&Heat map"), "H", v.set_heatmap_visible, checkable=True,
            tip=self.tr("Show the AI relevance map over the image (H)"),
        )  # fmt: skip

    def view_actions(self) -> list[QAction | None]:
        """Actions for a View menu (``None`` is a separator)."""
        return [
            self.fit_action,
            self.actual_size_action,
            self.zoom_in_action,
            self.zoom_out_action,
            None,
            self.rotate_right_action,
            self.rotate_left_action,
            self.flip_h_action,
            self.flip_v_action,
            self.reset_view_action,
            None,
            self.overlay_action,
            self.identity_action,
        ]

    def image_actions(self) -> list[QAction | None]:
        """Actions for an Image menu (``None`` is a separator)."""
        return [
            self.reset_window_action,
            self.auto_window_action,
            self.invert_action,
            None,
            self.next_slice_action,
            self.previous_slice_action,
            self.page_down_action,
            self.page_up_action,
            self.first_slice_action,
            self.last_slice_action,
            None,
            self.cine_action,
            self.faster_action,
            self.slower_action,
        ]

    def measure_actions(self) -> list[QAction | None]:
        """Actions for a Measure menu."""
        return [
            *self.tool_actions,
            None,
            self.delete_measurement_action,
            self.clear_measurements_action,
        ]

    # --- presets -------------------------------------------------------------------------
    def preset_label(self, preset: Preset) -> str:
        """The translated name of a preset."""
        names = {
            "Lung": self.tr("Lung"),
            "Mediastinum": self.tr("Mediastinum"),
            "Abdomen": self.tr("Abdomen"),
            "Bone": self.tr("Bone"),
            "Brain": self.tr("Brain"),
            "Auto": self.tr("Automatic (1–99 %)"),
            "Full range": self.tr("Full range"),
        }
        name = names.get(preset.key, preset.key)
        w = preset.window
        if preset.kind == "file":
            name = self.tr("File: {0}").format(name)
            if w.explanation and w.lut is None:
                name += f"  (W {w.width:g} / L {w.center:g})"
        elif preset.kind in ("auto", "full"):
            name += f"  (W {w.width:.0f} / L {w.center:.0f})"
        else:
            name += f"  (W {w.width:g} / L {w.center:g})"
        return name

    def _rebuild_presets(self) -> None:
        for a in self.preset_actions:
            self.removeAction(a)
            a.deleteLater()
        self.preset_actions = []
        self.preset_menu.clear()
        stack = self.view.stack
        if stack is None or stack.is_color:
            self.presets = []
        else:
            frame = self.view.frame
            self.presets = presets_for(
                stack.info.modality, stack.windows(frame), stack.values(frame)
            )
        for i, preset in enumerate(self.presets):
            action = QAction(self.preset_label(preset), self)
            if i < 9:
                action.setShortcut(QKeySequence(str(i + 1)))
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setData(preset.key)
            action.triggered.connect(lambda _checked=False, p=preset: self.view.apply_preset(p))
            self.addAction(action)
            self.preset_menu.addAction(action)
            self.preset_actions.append(action)
        self.preset_button.setEnabled(bool(self.presets))

    def preset_action(self, key: str) -> QAction | None:
        """The action of the preset named ``key`` (``Lung``, ``Auto``…)."""
        return next((a for a in self.preset_actions if a.data() == key), None)

    # --- slots -----------------------------------------------------------------------------
    @Slot()
    def _on_auto_window_triggered(self) -> None:
        action = self.preset_action("Auto")
        if action is not None:
            action.trigger()

    @Slot(bool)
    def _on_cine_triggered(self, checked: bool) -> None:
        if checked:
            self.view.start_cine()
        else:
            self.view.stop_cine()
        self.cine_action.setChecked(self.view.cine_running)

    @Slot(int)
    def _on_fps_value_changed(self, fps: int) -> None:
        self.view.set_fps(fps)

    @Slot(int)
    def _on_heat_opacity_value_changed(self, value: int) -> None:
        self.view.set_heatmap_opacity(value / 100.0)

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        self.view.set_frame(value)

    @Slot(int)
    def _on_view_frame_changed(self, frame: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(frame)
        self.slider.blockSignals(False)
        n = self.view.n_frames
        self.slice_label.setText(self.tr("{0} / {1}").format(frame + 1, n) if n else "")

    @Slot()
    def _on_view_image_changed(self) -> None:
        n = self.view.n_frames
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(n - 1, 0))
        self.slider.setPageStep(PAGE_STEP)
        self.slider.setValue(self.view.frame)
        self.slider.blockSignals(False)
        multi = n > 1
        for w in (self.slider, self.play_button, self.fps):
            w.setEnabled(multi)
        for a in (
            self.cine_action,
            self.next_slice_action,
            self.previous_slice_action,
            self.page_down_action,
            self.page_up_action,
            self.first_slice_action,
            self.last_slice_action,
            self.faster_action,
            self.slower_action,
        ):
            a.setEnabled(multi)
        self._on_view_frame_changed(self.view.frame)
        self._rebuild_presets()
        self.invert_action.setChecked(self.view.inverted)

    @Slot()
    def _on_view_heatmap_changed(self) -> None:
        has = self.view.heatmap is not None
        self.heatmap_action.setEnabled(has)
        self.heatmap_action.setToolTip(
            self.tr("Show or hide the model's heat map (H).")
            if has
            else self.tr(
                "Analyse the image first (Analysis ▸ Analyze image): the heat map comes with the result."
            )
        )
        self.heatmap_action.setChecked(has and self.view.heatmap_visible)
        self.heat_opacity.setEnabled(has)
        self.heat_opacity_label.setEnabled(has)

    @Slot(str)
    def _on_view_tool_changed(self, tool: str) -> None:
        for a in self.tool_actions:
            if a.data() == tool:
                a.setChecked(True)

    @Slot()
    def _on_view_view_changed(self) -> None:
        self.invert_action.setChecked(self.view.inverted)
