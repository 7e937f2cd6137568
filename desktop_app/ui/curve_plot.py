"""A small square 0-1 chart drawn with QPainter: ROC curves and the calibration diagram.

PySide6-Essentials has no QtCharts and matplotlib is not in the classify-only build; both
plots of a validation live on the unit square, which takes a few dozen lines of ``QPainter``
(as :mod:`desktop_app.ui.training_chart` does for the training curves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["CLASS_COLOURS", "CurvePlot", "Series"]

#: One colour per class (colour-blind safe: Okabe-Ito), the same as in the PDF report.
CLASS_COLOURS = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7")
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Series:
    """One curve.

    Attributes:
        name: Legend text.
        points: ``(x, y)`` in [0, 1].
        colour: A colour name.
        dots: Mark each point (calibration bins) rather than only joining them.
    """

    name: str
    points: Sequence[tuple[float, float]]
    colour: str = CLASS_COLOURS[0]
    dots: bool = False


class CurvePlot(QtWidgets.QWidget):
    """Curves on the unit square with the diagonal (chance / perfect calibration) dashed."""

    def __init__(self, title: str, x_label: str, y_label: str,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._title, self._x_label, self._y_label = title, x_label, y_label
        self._series: list[Series] = []
        self.setMinimumSize(260, 260)
        self.setAccessibleName(title)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Expanding)

    def set_series(self, series: Sequence[Series]) -> None:
        """Replace the curves and repaint."""
        self._series = list(series)
        self.setAccessibleDescription("; ".join(s.name for s in self._series))
        self.update()

    def series(self) -> list[Series]:
        """The curves shown."""
        return list(self._series)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        """Axes, diagonal, curves and legend."""
        del event
        painter = QtGui.QPainter(self)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        metrics = painter.fontMetrics()
        left, top = metrics.height() * 2 + 30, metrics.height() * 2
        side = max(40, min(self.width() - left - 12, self.height() - top - metrics.height() * 3))
        left = max(left, (self.width() - side) / 2)  # centred when the widget is wide
        box = QtCore.QRectF(left, top, side, side)
        text = palette.text().color()
        painter.setPen(text)
        painter.drawText(QtCore.QRectF(0, 2, self.width(), metrics.height() * 1.5),
                         QtCore.Qt.AlignmentFlag.AlignHCenter, self._title)

        def to_point(x: float, y: float) -> QtCore.QPointF:
            return QtCore.QPointF(box.left() + x * side, box.bottom() - y * side)

        painter.drawRect(box)
        for tick in _TICKS:
            bottom, left_tick = to_point(tick, 0.0), to_point(0.0, tick)
            painter.drawLine(bottom, bottom + QtCore.QPointF(0, 4))
            painter.drawLine(left_tick, left_tick - QtCore.QPointF(4, 0))
            label = f"{tick:g}"
            painter.drawText(QtCore.QRectF(bottom.x() - 20, bottom.y() + 5, 40,
                                           metrics.height()),
                             QtCore.Qt.AlignmentFlag.AlignHCenter, label)
            painter.drawText(QtCore.QRectF(left_tick.x() - 40, left_tick.y() - metrics.height() / 2,
                                           34, metrics.height()),
                             QtCore.Qt.AlignmentFlag.AlignRight, label)
        painter.drawText(QtCore.QRectF(box.left(), box.bottom() + metrics.height() + 6, side,
                                       metrics.height()),
                         QtCore.Qt.AlignmentFlag.AlignHCenter, self._x_label)
        painter.save()
        painter.translate(box.left() - metrics.height() * 2 - 30 + metrics.height() * 0.2,
                          box.center().y())
        painter.rotate(-90)
        painter.drawText(QtCore.QRectF(-side / 2, 0, side, metrics.height()),
                         QtCore.Qt.AlignmentFlag.AlignHCenter, self._y_label)
        painter.restore()
        painter.setPen(QtGui.QPen(palette.mid().color(), 1, QtCore.Qt.PenStyle.DashLine))
        painter.drawLine(to_point(0, 0), to_point(1, 1))

        for index, series in enumerate(self._series):
            colour = QtGui.QColor(series.colour)
            painter.setPen(QtGui.QPen(colour, 2))
            points = [to_point(x, y) for x, y in series.points]
            if len(points) > 1:
                painter.drawPolyline(QtGui.QPolygonF(points))
            if series.dots:
                painter.setBrush(colour)
                for point in points:
                    painter.drawEllipse(point, 3.5, 3.5)
                painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            legend_y = box.bottom() - (len(self._series) - index) * (metrics.height() + 2) - 4
            painter.drawText(QtCore.QPointF(box.left() + side * 0.4, legend_y), series.name)
        painter.end()
