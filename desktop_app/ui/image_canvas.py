"""The image canvas: one film with an optional heat-map overlay and the model's frame.

:class:`ImageView` is a ``QGraphicsView``: fit, wheel zoom about the cursor, drag to pan,
right-drag for window/level as on a radiology workstation.
:class:`desktop_app.ui.image_view.ImageViewer` puts it under its toolbar.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["FRAME_TOOLTIP", "ImageView"]

_ZOOM_STEP = 1.25
_MIN_SCALE = 0.02
_MAX_SCALE = 40.0

#: What the dashed outline on the original means.
FRAME_TOOLTIP = ("The model read only the part of the film inside this outline (for a "
                 "lung-framed model: the lung fields with a margin); nothing outside it played "
                 "a part in the answer.")


class ImageView(QtWidgets.QGraphicsView):
    """Shows one image with an optional heat-map overlay.

    Signals:
        window_changed(float, float): Level and width (0..1 units) after a right-drag.
        zoom_changed(float): The view scale (1.0 = one image pixel per screen pixel).
    """

    window_changed = QtCore.Signal(float, float)
    zoom_changed = QtCore.Signal(float)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QtWidgets.QGraphicsScene(self)
        self.setScene(self._scene)
        self._base = QtWidgets.QGraphicsPixmapItem()
        self._overlay = QtWidgets.QGraphicsPixmapItem()
        self._overlay.setZValue(1)
        # The part of the film the model read, when it read only a part (the lung box).
        self._frame = QtWidgets.QGraphicsRectItem()
        pen = QtGui.QPen(QtGui.QColor(80, 200, 255, 200))
        pen.setCosmetic(True)  # the same width at every zoom
        pen.setWidthF(1.5)
        pen.setStyle(QtCore.Qt.PenStyle.DashLine)
        self._frame.setPen(pen)
        self._frame.setZValue(2)
        self._frame.setVisible(False)
        self._frame.setToolTip(FRAME_TOOLTIP)
        self._scene.addItem(self._base)
        self._scene.addItem(self._overlay)
        self._scene.addItem(self._frame)
        self._fit_mode = True
        self._placeholder = "Drop chest X-rays or folders here, or use File › Open (Ctrl+O)"
        self._drag_origin: QtCore.QPointF | None = None
        self._drag_window = (0.5, 1.0)
        self._level = 0.5
        self._width = 1.0
        self.setBackgroundBrush(QtGui.QColor("#111418"))
        self.setDragMode(QtWidgets.QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setAcceptDrops(False)  # the main window takes drops anywhere
        self.viewport().setAcceptDrops(False)
        self.setMinimumSize(320, 240)
        self.setAccessibleName("Image view")
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)

    # -- content -------------------------------------------------------------------------------

    def has_image(self) -> bool:
        """True when an image is shown."""
        return not self._base.pixmap().isNull()

    def set_placeholder(self, text: str) -> None:
        """Text drawn when there is no image (e.g. "Analysing…")."""
        self._placeholder = text
        self.viewport().update()

    def set_image(self, image: QtGui.QImage | None, *, smooth: bool = True,
                  keep_view: bool = False) -> None:
        """Show ``image`` (``None`` clears the view)."""
        if image is None or image.isNull():
            self._base.setPixmap(QtGui.QPixmap())
            self._overlay.setPixmap(QtGui.QPixmap())
            self._scene.setSceneRect(QtCore.QRectF())
            self.viewport().update()
            return
        mode = (QtCore.Qt.TransformationMode.SmoothTransformation if smooth
                else QtCore.Qt.TransformationMode.FastTransformation)
        self._base.setTransformationMode(mode)
        self._overlay.setTransformationMode(QtCore.Qt.TransformationMode.SmoothTransformation)
        self.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, smooth)
        self._base.setPixmap(QtGui.QPixmap.fromImage(image))
        self._scene.setSceneRect(QtCore.QRectF(0, 0, image.width(), image.height()))
        if not keep_view:
            self.fit()

    def set_overlay(self, image: QtGui.QImage | None) -> None:
        """Set the heat-map image (scaled to the base image's size)."""
        if image is None or image.isNull() or not self.has_image():
            self._overlay.setPixmap(QtGui.QPixmap())
            return
        pixmap = QtGui.QPixmap.fromImage(image)
        base = self._base.pixmap()
        self._overlay.setPixmap(pixmap)
        self._overlay.setTransform(QtGui.QTransform.fromScale(
            base.width() / max(1, pixmap.width()), base.height() / max(1, pixmap.height())
        ))

    def set_frame(self, box: tuple[int, int, int, int] | None) -> None:
        """Outline ``(left, top, right, bottom)`` in image pixels; None hides the outline."""
        if box is None or not self.has_image():
            self._frame.setVisible(False)
            return
        left, top, right, bottom = box
        self._frame.setRect(QtCore.QRectF(left, top, right - left, bottom - top))
        self._frame.setVisible(True)

    def frame(self) -> tuple[int, int, int, int] | None:
        """The outlined box, or None."""
        if not self._frame.isVisible():
            return None
        rect = self._frame.rect()
        return (round(rect.left()), round(rect.top()), round(rect.right()),
                round(rect.bottom()))

    def set_overlay_visible(self, visible: bool) -> None:
        """Show or hide the heat map."""
        self._overlay.setVisible(visible)

    def overlay_visible(self) -> bool:
        """Whether the heat map is visible (and present)."""
        return self._overlay.isVisible() and not self._overlay.pixmap().isNull()

    def set_overlay_opacity(self, opacity: float) -> None:
        """Heat-map opacity 0..1."""
        self._overlay.setOpacity(max(0.0, min(1.0, opacity)))

    def overlay_opacity(self) -> float:
        """Heat-map opacity 0..1."""
        return self._overlay.opacity()

    def set_window_values(self, level: float, width: float) -> None:
        """Remember the window used by right-drag (the viewer applies it)."""
        self._level, self._width = level, width

    # -- zoom ----------------------------------------------------------------------------------

    def scale_factor(self) -> float:
        """Current scale (screen pixels per image pixel)."""
        return self.transform().m11()

    def fit(self) -> None:
        """Fit the whole image in the view (and keep fitting on resize)."""
        self._fit_mode = True
        if self.has_image():
            self.fitInView(self._base, QtCore.Qt.AspectRatioMode.KeepAspectRatio)
            self.zoom_changed.emit(self.scale_factor())

    def zoom_by(self, factor: float) -> None:
        """Zoom by ``factor`` about the mouse (or the centre)."""
        if not self.has_image():
            return
        current = self.scale_factor()
        target = max(_MIN_SCALE, min(_MAX_SCALE, current * factor))
        self._fit_mode = False
        self.scale(target / current, target / current)
        self.zoom_changed.emit(self.scale_factor())

    def zoom_in(self) -> None:
        """One step closer."""
        self.zoom_by(_ZOOM_STEP)

    def zoom_out(self) -> None:
        """One step further."""
        self.zoom_by(1 / _ZOOM_STEP)

    def actual_size(self) -> None:
        """One image pixel per screen pixel."""
        if self.has_image():
            self._fit_mode = False
            self.resetTransform()
            self.zoom_changed.emit(1.0)

    # -- Qt overrides --------------------------------------------------------------------------

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        """Keep the image fitted while the user has not zoomed."""
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:
        """Wheel zooms about the cursor, as in most image viewers."""
        delta = event.angleDelta().y()
        if delta == 0 or not self.has_image():
            super().wheelEvent(event)
            return
        self.zoom_by(_ZOOM_STEP ** (delta / 120.0))
        event.accept()

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        """Right button starts a window/level drag; left pans (ScrollHandDrag)."""
        if event.button() == QtCore.Qt.MouseButton.RightButton and self.has_image():
            self._drag_origin = event.position()
            self._drag_window = (self._level, self._width)
            self.viewport().setCursor(QtCore.Qt.CursorShape.SizeAllCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        """Horizontal drag changes the window width, vertical the level."""
        if self._drag_origin is not None:
            delta = event.position() - self._drag_origin
            level0, width0 = self._drag_window
            width = max(0.02, min(1.0, width0 + delta.x() / 400.0))
            level = max(0.0, min(1.0, level0 - delta.y() / 400.0))
            self._level, self._width = level, width
            self.window_changed.emit(level, width)
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        """End a window/level drag."""
        if self._drag_origin is not None and event.button() == QtCore.Qt.MouseButton.RightButton:
            self._drag_origin = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def contextMenuEvent(self, event: QtGui.QContextMenuEvent) -> None:
        """Right button is window/level here, not a context menu."""
        event.accept()

    def drawForeground(self, painter: QtGui.QPainter, rect: QtCore.QRectF) -> None:
        """Draw the placeholder text when there is nothing to show."""
        super().drawForeground(painter, rect)
        if self.has_image() or not self._placeholder:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(QtGui.QColor("#9aa4ae"))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        painter.setFont(font)
        painter.drawText(self.viewport().rect().adjusted(24, 24, -24, -24),
                         int(QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap),
                         self._placeholder)
        painter.restore()
