"""The image viewer: the original X-ray or exactly what the model saw, plus the heat map.

:class:`ImageView` (:mod:`desktop_app.ui.image_canvas`) is a ``QGraphicsView`` (fit, wheel
zoom about the cursor, drag to pan, right-drag for window/level as on a radiology
workstation). :class:`ImageViewer` adds the toolbar: original / model-input switch, heat-map
toggle with its class and opacity, and window/level sliders for dim DICOMs.

Window/level is applied through a 4096-entry lookup table on a 12-bit copy of the pixels, so
dragging stays smooth on large films and keeps the precision of 12-bit DICOM data.
"""

from __future__ import annotations

import enum
import threading
import weakref
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.ui.image_canvas import FRAME_TOOLTIP, ImageView
from desktop_app.ui.results_table import gray_qimage

if TYPE_CHECKING:
    from desktop_app.core.classify.analysis import ImageResult

__all__ = [
    "FRAME_TOOLTIP",
    "ImageView",
    "ImageViewer",
    "ViewMode",
    "prepare_display",
    "rgba_qimage",
]

_LEVELS = 4096
_display_lock = threading.Lock()
# (pixels, 12-bit levels, full-range image) of the latest images prepared for display; the
# pixels are held weakly, so an entry never keeps a film in memory.
_prepared: list[tuple[weakref.ref[np.ndarray], np.ndarray, QtGui.QImage]] = []
_PREPARED_KEPT = 1  # the image being prepared; the viewer holds the one it shows


def _full_range_lut() -> np.ndarray:
    ramp = np.arange(_LEVELS, dtype=np.float32) / (_LEVELS - 1)
    return np.clip(np.rint(ramp * 255.0), 0, 255).astype(np.uint8)


def prepare_display(pixels: np.ndarray) -> tuple[np.ndarray, QtGui.QImage]:
    """The viewer's 12-bit levels of ``pixels`` and their full-range image, made once.

    Safe in any thread (a ``QImage`` is not tied to the GUI thread). The image loader calls
    it right after decoding a film, so that showing a 3,000 px film costs the UI thread a
    pixmap upload only instead of ~0.3 s of conversions (measured with
    ``benchmarks/gui_responsiveness.py``). The image is 32-bit RGB because that is what a
    pixmap holds; a gray image would be converted on the UI thread.
    """
    with _display_lock:
        for ref, levels, image in _prepared:
            if ref() is pixels:
                return levels, image
    levels = np.empty(pixels.shape, dtype=np.uint16)
    for top in range(0, pixels.shape[0], 256):  # in bands: no film-sized float temporary
        band = np.multiply(pixels[top:top + 256], _LEVELS - 1, dtype=np.float32)
        np.rint(band, out=band)
        np.clip(band, 0, _LEVELS - 1, out=band)
        levels[top:top + 256] = band
    image = gray_qimage(_full_range_lut()[levels]).convertToFormat(
        QtGui.QImage.Format.Format_RGB32)
    with _display_lock:
        _prepared.append((weakref.ref(pixels), levels, image))
        del _prepared[:-_PREPARED_KEPT]
    return levels, image


class ViewMode(enum.Enum):
    """What the view shows."""

    ORIGINAL = "original"
    MODEL_INPUT = "model_input"


def rgba_qimage(rgba: np.ndarray) -> QtGui.QImage:
    """Wrap an RGBA uint8 array in a QImage that owns its memory."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    height, width, _ = rgba.shape
    image = QtGui.QImage(rgba.data, width, height, width * 4, QtGui.QImage.Format.Format_RGBA8888)
    return image.copy()


class ImageViewer(QtWidgets.QWidget):
    """The view with its toolbar; owns the display state of the current result.

    Signals:
        shown_class_changed(str): The class whose heat map (and metrics) is shown.
        heatmap_toggled(bool): The heat map was switched on or off.
        opacity_changed(int): Heat-map opacity in percent.
    """

    shown_class_changed = QtCore.Signal(str)
    heatmap_toggled = QtCore.Signal(bool)
    opacity_changed = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ImageView(self)
        self._result: ImageResult | None = None
        self._levels: np.ndarray | None = None  # 12-bit copy of the original pixels
        self._full_range_image: QtGui.QImage | None = None  # the levels at full range
        self._mode = ViewMode.ORIGINAL
        self._overlay_cache: dict[tuple[ViewMode, int], QtGui.QImage] = {}

        self._make_actions()
        self._make_controls()
        self.toolbar = self._make_toolbar()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view, 1)
        self._update_enabled()
        self._connect()

    def _make_actions(self) -> None:
        """The view's actions (zoom, heat map, original / model input, window/level)."""
        self.fit_action = QtGui.QAction("&Fit to Window", self)
        self.fit_action.setIconText("Fit")
        self.fit_action.setShortcut(QtGui.QKeySequence("F"))
        self.fit_action.setToolTip("Fit the image in the view (F)")
        self.zoom_in_action = QtGui.QAction("Zoom &In", self)
        self.zoom_in_action.setIconText("+")
        self.zoom_in_action.setShortcuts([QtGui.QKeySequence("+"), QtGui.QKeySequence("="),
                                          QtGui.QKeySequence.StandardKey.ZoomIn])
        self.zoom_in_action.setToolTip("Zoom in (+)")
        self.zoom_out_action = QtGui.QAction("Zoom &Out", self)
        self.zoom_out_action.setIconText("−")
        self.zoom_out_action.setShortcuts([QtGui.QKeySequence("-"),
                                           QtGui.QKeySequence.StandardKey.ZoomOut])
        self.zoom_out_action.setToolTip("Zoom out (-)")
        self.actual_size_action = QtGui.QAction("&Actual Size", self)
        self.actual_size_action.setShortcut(QtGui.QKeySequence("1"))
        self.heatmap_action = QtGui.QAction("&Heat Map", self)
        self.heatmap_action.setCheckable(True)
        self.heatmap_action.setShortcut(QtGui.QKeySequence("H"))
        self.heatmap_action.setToolTip(
            "Show where the model looked for the selected class (H). A heat map is not a "
            "segmentation of disease."
        )
        self.original_action = QtGui.QAction("&Original", self)
        self.original_action.setCheckable(True)
        self.original_action.setChecked(True)
        self.original_action.setShortcut(QtGui.QKeySequence("O"))
        self.original_action.setToolTip("Show the original image (O)")
        self.model_input_action = QtGui.QAction("&Model Input", self)
        self.model_input_action.setCheckable(True)
        self.model_input_action.setShortcut(QtGui.QKeySequence("M"))
        self.model_input_action.setToolTip(
            "Show the preprocessed image exactly as the model sees it (M)"
        )
        self._mode_group = QtGui.QActionGroup(self)
        self._mode_group.addAction(self.original_action)
        self._mode_group.addAction(self.model_input_action)
        self.reset_window_action = QtGui.QAction("&Reset Window/Level", self)
        self.reset_window_action.setIconText("Reset")
        self.reset_window_action.setShortcut(QtGui.QKeySequence("R"))
        self.auto_window_action = QtGui.QAction("A&uto Window/Level", self)
        self.auto_window_action.setIconText("Auto")
        self.auto_window_action.setShortcut(QtGui.QKeySequence("A"))
        self.auto_window_action.setToolTip(
            "Stretch the contrast to the image's own range (useful for dim DICOMs) (A)"
        )

    def _make_controls(self) -> None:
        """The heat-map class box and the opacity and window/level sliders."""
        self.class_combo = QtWidgets.QComboBox(self)
        self.class_combo.setAccessibleName("Heat-map class")
        self.class_combo.setToolTip("Class whose heat map and measured performance are shown")
        self.class_combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents
        )
        self.opacity_slider = _slider(0, 100, 45, "Heat-map opacity", self)
        self.opacity_slider.setFixedWidth(90)
        self.level_slider = _slider(0, 1000, 500, "Window level (brightness)", self)
        self.width_slider = _slider(20, 1000, 1000, "Window width (contrast)", self)
        for slider in (self.level_slider, self.width_slider):
            slider.setFixedWidth(80)

    def _make_toolbar(self) -> QtWidgets.QToolBar:
        """The toolbar above the view, holding the actions and controls."""
        toolbar = QtWidgets.QToolBar("Image", self)
        toolbar.setIconSize(QtCore.QSize(16, 16))
        toolbar.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addAction(self.original_action)
        toolbar.addAction(self.model_input_action)
        toolbar.addSeparator()
        toolbar.addAction(self.heatmap_action)
        toolbar.addWidget(self.class_combo)
        toolbar.addWidget(_caption("Opacity", self))
        toolbar.addWidget(self.opacity_slider)
        toolbar.addSeparator()
        self._level_caption = toolbar.addWidget(_caption("Level", self))
        self._level_widget = toolbar.addWidget(self.level_slider)
        self._width_caption = toolbar.addWidget(_caption("Width", self))
        self._width_widget = toolbar.addWidget(self.width_slider)
        toolbar.addAction(self.auto_window_action)
        toolbar.addAction(self.reset_window_action)
        toolbar.addSeparator()
        toolbar.addAction(self.fit_action)
        toolbar.addAction(self.zoom_out_action)
        toolbar.addAction(self.zoom_in_action)
        return toolbar

    def _connect(self) -> None:
        """Connect the actions, controls and view to their slots."""
        self.fit_action.triggered.connect(self.view.fit)
        self.zoom_in_action.triggered.connect(self.view.zoom_in)
        self.zoom_out_action.triggered.connect(self.view.zoom_out)
        self.actual_size_action.triggered.connect(self.view.actual_size)
        self.heatmap_action.toggled.connect(self._on_heatmap_action_toggled)
        self.original_action.triggered.connect(self._on_original_action_triggered)
        self.model_input_action.triggered.connect(self._on_model_input_action_triggered)
        self.reset_window_action.triggered.connect(self.reset_window)
        self.auto_window_action.triggered.connect(self.auto_window)
        self.class_combo.currentIndexChanged.connect(self._on_class_combo_current_index_changed)
        self.opacity_slider.valueChanged.connect(self._on_opacity_slider_value_changed)
        self.level_slider.valueChanged.connect(self._on_window_slider_value_changed)
        self.width_slider.valueChanged.connect(self._on_window_slider_value_changed)
        self.view.window_changed.connect(self._on_view_window_changed)

    # -- public API ----------------------------------------------------------------------------

    @property
    def result(self) -> ImageResult | None:
        """The result shown (with pixels), if any."""
        return self._result

    @property
    def mode(self) -> ViewMode:
        """Original or model input."""
        return self._mode

    def shown_class(self) -> str | None:
        """The class whose heat map is shown."""
        return self.class_combo.currentText() or None

    def set_classes(self, classes: list[str]) -> None:
        """Fill the class selector (when the model is loaded)."""
        current = self.class_combo.currentText()
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItems(classes)
        if current in classes:
            self.class_combo.setCurrentText(current)
        self.class_combo.blockSignals(False)

    def set_opacity_percent(self, percent: int) -> None:
        """Set the heat-map opacity (also moves the slider)."""
        self.opacity_slider.setValue(percent)
        self.view.set_overlay_opacity(percent / 100.0)

    def clear(self, placeholder: str | None = None) -> None:
        """Show nothing (and optionally a message in the view)."""
        self._result = None
        self._levels = None
        self._full_range_image = None
        self._overlay_cache.clear()
        self.view.set_image(None)
        if placeholder is not None:
            self.view.set_placeholder(placeholder)
        self._update_enabled()

    def set_result(self, result: ImageResult) -> None:
        """Show a full result (with ``loaded`` pixels) in the current mode.

        The same film at full resolution after its reduced preview keeps the window the user
        may already have set; any other film starts at its full range.
        """
        previous = self._result
        same_film = (previous is not None and previous.path == result.path
                     and previous.loaded is not None and previous.loaded.reduced)
        self._result = result
        self._overlay_cache.clear()
        self._levels = None
        if not same_film:
            # Each film starts at its full range, as on a reading workstation.
            for slider, value in ((self.level_slider, 500), (self.width_slider, 1000)):
                slider.blockSignals(True)
                slider.setValue(value)
                slider.blockSignals(False)
            self.view.set_window_values(0.5, 1.0)
        self._full_range_image = None
        if result.loaded is not None:
            self._levels, self._full_range_image = prepare_display(result.loaded.pixels)
        if result.ok:
            self.view.set_placeholder("")
        else:
            self.view.set_placeholder(f"Could not read this file:\n{result.error}")
        if result.ok and result.probabilities:
            default = result.label or max(result.probabilities,
                                          key=result.probabilities.__getitem__)
            self.class_combo.blockSignals(True)
            self.class_combo.setCurrentText(default)
            self.class_combo.blockSignals(False)
            self.shown_class_changed.emit(self.class_combo.currentText())
        self._render(keep_view=False)
        self._update_enabled()

    def set_mode(self, mode: ViewMode) -> None:
        """Switch between the original and the model input."""
        self._mode = mode
        (self.original_action if mode is ViewMode.ORIGINAL else self.model_input_action)\
            .setChecked(True)
        self._render(keep_view=False)
        self._update_enabled()

    def set_heatmap_visible(self, visible: bool) -> None:
        """Switch the heat map on or off."""
        self.heatmap_action.setChecked(visible)
        self._update_overlay()

    def set_window(self, level: float, width: float) -> None:
        """Set window/level in 0..1 units (moves the sliders and redraws)."""
        self.level_slider.blockSignals(True)
        self.width_slider.blockSignals(True)
        self.level_slider.setValue(round(level * 1000))
        self.width_slider.setValue(round(width * 1000))
        self.level_slider.blockSignals(False)
        self.width_slider.blockSignals(False)
        self.view.set_window_values(level, width)
        self._render(keep_view=True)

    def window(self) -> tuple[float, float]:
        """Current level and width in 0..1 units."""
        return self.level_slider.value() / 1000.0, self.width_slider.value() / 1000.0

    def reset_window(self) -> None:
        """Full range: the image as loaded."""
        self.set_window(0.5, 1.0)

    def auto_window(self) -> None:
        """Window to the 1st..99th percentile of the image (brings out dim DICOMs)."""
        if self._levels is None:
            return
        sample = self._levels[:: max(1, self._levels.shape[0] // 512),
                              :: max(1, self._levels.shape[1] // 512)]
        low, high = np.percentile(sample, [1.0, 99.0]) / (_LEVELS - 1)
        width = max(0.02, float(high - low))
        self.set_window(float(low + high) / 2.0, width)

    # -- rendering -----------------------------------------------------------------------------

    def _render(self, *, keep_view: bool) -> None:
        result = self._result
        if result is None or not result.ok:
            self.view.set_image(None)
            return
        if self._mode is ViewMode.MODEL_INPUT and result.prepared is not None:
            from desktop_app.core.preprocessing import to_uint8  # after the window is up

            image = gray_qimage(to_uint8(result.prepared.array))
            self.view.set_image(image, smooth=False, keep_view=keep_view)
        elif self._levels is not None:
            full_range = self.window() == (0.5, 1.0) and self._full_range_image is not None
            image = self._full_range_image if full_range else gray_qimage(self._windowed())
            self.view.set_image(image, smooth=True, keep_view=keep_view)
            # The pixmap now holds the picture; a later full-range view is windowed afresh.
            self._full_range_image = None
        else:
            self.view.set_image(None)
        self.view.set_frame(self._read_box())
        self._update_overlay()

    def _read_box(self) -> tuple[int, int, int, int] | None:
        """The part of the original the model read, when it is not the whole film."""
        result = self._result
        if (self._mode is not ViewMode.ORIGINAL or result is None or result.prepared is None
                or result.loaded is None):
            return None
        width, height = result.loaded.original_size
        box = result.prepared.source_box  # in the original's coordinates
        if tuple(box) == (0, 0, width, height):
            return None
        shown_height, shown_width = result.loaded.pixels.shape
        scale_x, scale_y = shown_width / width, shown_height / height
        return (round(box[0] * scale_x), round(box[1] * scale_y),
                round(box[2] * scale_x), round(box[3] * scale_y))

    def _windowed(self) -> np.ndarray:
        level, width = self.window()
        low = level - width / 2.0
        ramp = (np.arange(_LEVELS, dtype=np.float32) / (_LEVELS - 1) - low) / max(width, 1e-6)
        lut = np.clip(np.rint(ramp * 255.0), 0, 255).astype(np.uint8)
        return lut[self._levels]

    def _update_overlay(self) -> None:
        result = self._result
        visible = self.heatmap_action.isChecked()
        if not visible or result is None or result.cams is None or result.prepared is None \
                or result.out_of_distribution:
            # A refused image has no label, so no class's evidence is shown on it either.
            self.view.set_overlay(None)
            return
        name = self.class_combo.currentText()
        if result.probabilities is None or name not in result.probabilities:
            self.view.set_overlay(None)
            return
        index = list(result.probabilities).index(name)
        key = (self._mode, index)
        overlay = self._overlay_cache.get(key)
        if overlay is None:
            from desktop_app.core.classify.heatmap import (
                colourise,
                heatmap_for_input,
                heatmap_for_original,
            )

            cam = result.cams[..., index]
            if self._mode is ViewMode.MODEL_INPUT or result.loaded is None:
                heat = heatmap_for_input(cam, result.prepared.array.shape[0])
            else:
                # In the original's coordinates (the overlay is scaled onto the shown pixels,
                # which are the reduced decode while the full image is being read).
                width, height = result.loaded.original_size
                heat = heatmap_for_original(cam, result.prepared, (width, height))
                # The overlay is smooth anyway: a quarter-size image keeps big films light.
                step = max(1, max(height, width) // 1024)
                heat = heat[::step, ::step]
            overlay = rgba_qimage(colourise(heat))
            self._overlay_cache[key] = overlay
        self.view.set_overlay(overlay)
        self.view.set_overlay_visible(True)
        self.view.set_overlay_opacity(self.opacity_slider.value() / 100.0)

    def _update_enabled(self) -> None:
        has_image = self._result is not None and self._result.ok
        original = self._mode is ViewMode.ORIGINAL
        for widget in (self.level_slider, self.width_slider):
            widget.setEnabled(has_image and original)
        for action in (self.reset_window_action, self.auto_window_action):
            action.setEnabled(has_image and original)
        for action in (self.fit_action, self.zoom_in_action, self.zoom_out_action,
                       self.actual_size_action):
            action.setEnabled(has_image)

    # -- slots ---------------------------------------------------------------------------------

    def _on_heatmap_action_toggled(self, checked: bool) -> None:
        self._update_overlay()
        self.heatmap_toggled.emit(checked)

    def _on_original_action_triggered(self) -> None:
        self.set_mode(ViewMode.ORIGINAL)

    def _on_model_input_action_triggered(self) -> None:
        self.set_mode(ViewMode.MODEL_INPUT)

    def _on_class_combo_current_index_changed(self, _index: int) -> None:
        self._update_overlay()
        if self.class_combo.currentText():
            self.shown_class_changed.emit(self.class_combo.currentText())

    def _on_opacity_slider_value_changed(self, value: int) -> None:
        self.view.set_overlay_opacity(value / 100.0)
        self.opacity_changed.emit(value)

    def _on_window_slider_value_changed(self, _value: int) -> None:
        level, width = self.window()
        self.view.set_window_values(level, width)
        self._render(keep_view=True)

    def _on_view_window_changed(self, level: float, width: float) -> None:
        if self._mode is ViewMode.ORIGINAL:
            self.set_window(level, width)


def _slider(minimum: int, maximum: int, value: int, name: str,
            parent: QtWidgets.QWidget) -> QtWidgets.QSlider:
    slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal, parent)
    slider.setRange(minimum, maximum)
    slider.setValue(value)
    slider.setAccessibleName(name)
    slider.setToolTip(name)
    return slider


def _caption(text: str, parent: QtWidgets.QWidget) -> QtWidgets.QLabel:
    return QtWidgets.QLabel(f" {text} ", parent)
