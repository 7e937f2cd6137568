"""A live loss / accuracy chart drawn with QPainter.

PySide6-Essentials has no QtCharts, and matplotlib's Qt backend would pull a second plotting
stack into the GUI process; two line panels are a few dozen lines of ``QPainter``. Training
curves are updated per batch report (x = fractional epoch), validation points per epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["TrainingChart"]

_PANELS: tuple[tuple[str, str], ...] = (("loss", "Loss"), ("accuracy", "Accuracy"))
_TRAIN_COLOUR = QtGui.QColor("#1f77b4")
_VAL_COLOUR = QtGui.QColor("#d62728")


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering ``[low, high]``."""
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return [low]
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= step * factor:
            step *= factor
            break
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.01:
        if value >= low - step * 0.01:
            ticks.append(round(value, 10))
        value += step
    return ticks


class TrainingChart(QtWidgets.QWidget):
    """Two panels (loss, accuracy) with train (solid) and validation (dashed) curves."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._series: dict[str, list[tuple[float, float]]] = {}
        self._epochs = 1
        self.setMinimumSize(420, 170)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Training chart")
        self.setAccessibleDescription("Loss and accuracy per epoch, training and validation")

    # -- data ---------------------------------------------------------------------------------

    def clear(self, epochs: int = 1) -> None:
        """Forget all points; the x axis spans ``epochs``."""
        self._series.clear()
        self._epochs = max(1, epochs)
        self.update()

    def add_point(self, x: float, metrics: Mapping[str, float]) -> None:
        """Add the metrics known at fractional epoch ``x`` (``loss``, ``val_loss``...)."""
        for key, value in metrics.items():
            if key.removeprefix("val_") in dict(_PANELS) and math.isfinite(float(value)):
                points = self._series.setdefault(key, [])
                if points and points[-1][0] == x:
                    points[-1] = (x, float(value))
                else:
                    points.append((x, float(value)))
        self._update_description()
        self.update()

    def series(self, key: str) -> Sequence[tuple[float, float]]:
        """The points of one curve (e.g. ``"val_accuracy"``)."""
        return tuple(self._series.get(key, ()))

    def _update_description(self) -> None:
        latest = [f"{key} {points[-1][1]:.3f}" for key, points in sorted(self._series.items())
                  if points]
        self.setAccessibleDescription("Latest: " + ", ".join(latest) if latest else
                                      "No training data yet")
        self.setToolTip("\n".join(latest))

    # -- painting -----------------------------------------------------------------------------

    def sizeHint(self) -> QtCore.QSize:
        """Wide enough for two readable panels."""
        return QtCore.QSize(640, 220)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        """Draw the loss and accuracy panels side by side."""
        painter = QtGui.QPainter(self)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().color(QtGui.QPalette.ColorRole.Base))
        width = self.width() / len(_PANELS)
        for index, (key, title) in enumerate(_PANELS):
            area = QtCore.QRectF(index * width, 0, width, self.height())
            self._paint_panel(painter, area.adjusted(4, 4, -4, -4), key, title)
        painter.end()

    def _paint_panel(self, painter: QtGui.QPainter, area: QtCore.QRectF, key: str,
                     title: str) -> None:
        text = self.palette().color(QtGui.QPalette.ColorRole.Text)
        metrics = QtGui.QFontMetricsF(self.font())
        line = metrics.height()
        # Room for the title above, the tick labels and the axis title below.
        plot = area.adjusted(metrics.horizontalAdvance("0.000") + 8, line + 6, -8,
                             -2 * line - 6)
        painter.setPen(text)
        painter.drawText(QtCore.QRectF(area.left(), area.top(), area.width(), line),
                         QtCore.Qt.AlignmentFlag.AlignHCenter, title)
        curves = [(key, _TRAIN_COLOUR, QtCore.Qt.PenStyle.SolidLine, "train"),
                  (f"val_{key}", _VAL_COLOUR, QtCore.Qt.PenStyle.DashLine, "validation")]
        values = [v for name, *_ in curves for _, v in self._series.get(name, ())]
        if key == "accuracy":
            low, high = 0.0, 1.0
        elif values:
            low, high = min(0.0, min(values)), max(values) * 1.1 or 1.0
        else:
            low, high = 0.0, 1.0
        x_max = float(self._epochs)

        def to_point(x: float, y: float) -> QtCore.QPointF:
            return QtCore.QPointF(plot.left() + plot.width() * x / x_max,
                                  plot.bottom() - plot.height() * (y - low) / (high - low))

        self._paint_axes(painter, area, plot, (low, high), to_point)
        self._paint_curves(painter, plot, curves, to_point)

    def _paint_axes(self, painter: QtGui.QPainter, area: QtCore.QRectF, plot: QtCore.QRectF,
                    y_range: tuple[float, float],
                    to_point: Callable[[float, float], QtCore.QPointF]) -> None:
        """Grid lines with their values, epoch ticks, the axis title and the frame."""
        text = self.palette().color(QtGui.QPalette.ColorRole.Text)
        line = QtGui.QFontMetricsF(self.font()).height()
        low, high = y_range
        grid = QtGui.QPen(self.palette().color(QtGui.QPalette.ColorRole.Mid), 0.5,
                          QtCore.Qt.PenStyle.DotLine)
        for tick in _nice_ticks(low, high):
            y = to_point(0, tick).y()
            painter.setPen(grid)
            painter.drawLine(QtCore.QPointF(plot.left(), y), QtCore.QPointF(plot.right(), y))
            painter.setPen(text)
            painter.drawText(QtCore.QRectF(area.left(), y - line / 2, plot.left() - area.left()
                                           - 4, line),
                             QtCore.Qt.AlignmentFlag.AlignRight, f"{tick:g}")
        step = max(1, math.ceil(self._epochs / 6))
        for epoch in range(0, self._epochs + 1, step):
            x = to_point(epoch, low).x()
            painter.drawText(QtCore.QRectF(x - 20, plot.bottom() + 2, 40, line),
                             QtCore.Qt.AlignmentFlag.AlignHCenter, str(epoch))
        painter.drawText(QtCore.QRectF(plot.left(), area.bottom() - line, plot.width(), line),
                         QtCore.Qt.AlignmentFlag.AlignHCenter, "epoch")
        painter.setPen(QtGui.QPen(text, 1))
        painter.drawRect(plot)

    def _paint_curves(self, painter: QtGui.QPainter, plot: QtCore.QRectF,
                      curves: list[tuple[str, QtGui.QColor, QtCore.Qt.PenStyle, str]],
                      to_point: Callable[[float, float], QtCore.QPointF]) -> None:
        """The train and validation curves (validation points marked) and their legend."""
        text = self.palette().color(QtGui.QPalette.ColorRole.Text)
        metrics = QtGui.QFontMetricsF(self.font())
        line = metrics.height()
        legend_x = plot.left() + 6
        for name, colour, style, label in curves:
            points = self._series.get(name, [])
            pen = QtGui.QPen(colour, 2, style)
            painter.setPen(pen)
            if len(points) > 1:
                painter.drawPolyline(QtGui.QPolygonF([to_point(x, y) for x, y in points]))
            if name.startswith("val_"):
                painter.setBrush(colour)
                for x, y in points:
                    painter.drawEllipse(to_point(x, y), 2.5, 2.5)
                painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            elif len(points) == 1:
                painter.drawEllipse(to_point(*points[0]), 2.5, 2.5)
            y = plot.top() + 4 + line / 2 + (0 if label == "train" else line)
            painter.drawLine(QtCore.QPointF(legend_x, y), QtCore.QPointF(legend_x + 18, y))
            painter.setPen(text)
            painter.drawText(QtCore.QPointF(legend_x + 22, y + metrics.ascent() / 2 - 1), label)
