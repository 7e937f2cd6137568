"""One finding's threshold trade-off drawn with QPainter: found (y) against wrongly called (x).

Each curve is a population's (or a site's) :class:`~desktop_app.core.metrics.threshold_curves.
ThresholdCurve`: the line through its points as the threshold moves, the 95 % intervals of both
figures as a shaded ribbon, the operating point as a ring. A site's plot also draws its targets
as dashed lines and the chosen point as a black diamond with its intervals; it is interactive:
a click (or a drag, released) on the curve chooses the nearest point's threshold.

PySide6-Essentials has no QtCharts and matplotlib is not in the classify-only build; the same
painting serves the widget and the still images the model card embeds (:meth:`ThresholdPlot.
image`). Colours are Okabe-Ito (colour-blind safe), the PDFs' own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.core.metrics.threshold_curves import (
    CurveSeries,
    threshold_curve_title,
)

__all__ = ["ThresholdPlot"]

_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
_TARGET_COLOUR = "#546e7a"


class ThresholdPlot(QtWidgets.QWidget):
    """A finding's found-against-wrongly-called plot (see module docs).

    Signals:
        threshold_chosen(float): The user clicked the curve (or released a drag on it): the
            threshold of the nearest point of the first curve. Interactive plots only.
    """

    threshold_chosen = QtCore.Signal(float)

    def __init__(self, finding: str, positives: str, negatives: str, *,
                 interactive: bool = False, legend: bool = True,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.finding = finding
        self.legend = legend
        self._x_label = f"{negatives} labelled {finding}"
        self._y_label = f"{positives} labelled {finding}"
        self._curves: list[CurveSeries] = []
        self._targets: Mapping[str, Any] = {}
        self._chosen: Mapping[str, Any] | None = None
        self._preview: float | None = None
        self._message = ""
        self.interactive = interactive
        self.setMinimumSize(260, 260)
        self.setAccessibleName(threshold_curve_title(finding))
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Expanding)
        if interactive:
            self.setCursor(QtCore.Qt.CursorShape.CrossCursor)
            self.setToolTip("Click the curve (or drag along it) to choose the threshold.")

    # -- what is drawn -------------------------------------------------------------------

    def set_curves(self, curves: Sequence[CurveSeries], *,
                   targets: Mapping[str, Any] | None = None,
                   chosen: Mapping[str, Any] | None = None) -> None:
        """Replace what is drawn and repaint.

        Args:
            curves: The curves, the first one the one a click chooses on.
            targets: A site's ``{"sensitivity", "max_false_rate"}``, drawn as dashed lines.
            chosen: A site's chosen point: ``threshold``, ``set_by`` and the
                ``sensitivity`` and ``false_rate`` figures (the after column's).
        """
        self._curves = list(curves)
        self._targets = dict(targets or {})
        self._chosen = chosen
        self._preview = None
        self.setAccessibleDescription("; ".join(c.name for c in self._curves))
        self.update()

    def set_message(self, text: str) -> None:
        """A sentence shown in the plot area (when there is no curve to draw, say why)."""
        self._message = text
        self.update()

    def set_preview(self, threshold: float | None) -> None:
        """Mark the first curve's point at ``threshold`` while a slider is dragged."""
        self._preview = threshold
        self.update()

    def curves(self) -> list[CurveSeries]:
        """The curves shown."""
        return list(self._curves)

    def message(self) -> str:
        """The sentence shown instead of (or over) the curves."""
        return self._message

    def image(self, width: int = 440, height: int = 420) -> QtGui.QImage:
        """The plot as a still image (the model card embeds these)."""
        image = QtGui.QImage(width, height, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(self.palette().base().color())
        painter = QtGui.QPainter(image)
        painter.setFont(self.font())
        self._paint(painter, width, height)
        painter.end()
        return image

    # -- geometry ------------------------------------------------------------------------

    def _box(self, width: float, height: float) -> QtCore.QRectF:
        """The unit square's place in a ``width`` x ``height`` area."""
        metrics = QtGui.QFontMetricsF(self.font())
        line = metrics.height()
        left = line * 1.6 + metrics.horizontalAdvance("100 %") + 10
        # The legend goes under the axis label, a line per curve, clear of the curves.
        top, right = line * 2.0, metrics.horizontalAdvance("100 %") / 2 + 6
        bottom = line * 2.8 + 8 + (len(self._curves) * (line + 2) if self.legend else 0)
        tall = max(60.0, height - top - bottom)
        # Square when there is room; wider (up to 1.6:1) where the height is short, which
        # also spreads out the small false rates the targets sit among.
        wide = max(60.0, min(width - left - right, 1.6 * tall))
        tall = min(tall, wide)
        x = left + max(0.0, (width - left - right - wide) / 2)
        return QtCore.QRectF(x, top, wide, tall)

    def point_position(self, threshold: float) -> QtCore.QPoint:
        """Where the first curve's point nearest ``threshold`` is drawn (tests click it)."""
        box = self._box(self.width(), self.height())
        xy = self._curves[0].curve.nearest(threshold).xy if self._curves else None
        x, y = xy if xy is not None else (0.0, 0.0)
        return QtCore.QPointF(box.left() + x * box.width(),
                              box.bottom() - y * box.height()).toPoint()

    def _nearest_threshold(self, position: QtCore.QPointF) -> float | None:
        if not self._curves:
            return None
        box = self._box(self.width(), self.height())
        best, best_distance = None, float("inf")
        for point in self._curves[0].curve.points:
            xy = point.xy
            if xy is None:
                continue
            where = QtCore.QPointF(box.left() + xy[0] * box.width(),
                                   box.bottom() - xy[1] * box.height())
            distance = QtCore.QLineF(where, position).length()
            if distance < best_distance:
                best, best_distance = point.threshold, distance
        return best

    # -- interaction ---------------------------------------------------------------------

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        """Start choosing: mark the nearest point."""
        if self.interactive and event.button() == QtCore.Qt.MouseButton.LeftButton:
            self.set_preview(self._nearest_threshold(event.position()))
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        """Follow the curve while the button is held."""
        if self.interactive and event.buttons() & QtCore.Qt.MouseButton.LeftButton:
            self.set_preview(self._nearest_threshold(event.position()))
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        """Choose the marked point's threshold."""
        if self.interactive and event.button() == QtCore.Qt.MouseButton.LeftButton:
            threshold = self._nearest_threshold(event.position())
            if threshold is not None:
                self.threshold_chosen.emit(threshold)
        super().mouseReleaseEvent(event)

    # -- painting ------------------------------------------------------------------------

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        """Axes, targets, curves, points and legend."""
        del event
        painter = QtGui.QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        self._paint(painter, self.width(), self.height())
        painter.end()

    def _paint(self, painter: QtGui.QPainter, width: float, height: float) -> None:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        box = self._box(width, height)
        self._paint_axes(painter, box, width)
        painter.save()
        painter.setClipRect(box.adjusted(-6, -6, 6, 6))
        self._paint_targets(painter, box)
        for curve in self._curves:
            self._paint_curve(painter, box, curve)
        painter.restore()
        self._paint_points(painter, box)
        self._paint_legend(painter, box)
        if self._message:
            painter.setPen(self.palette().text().color())
            painter.drawText(box.adjusted(16, 16, -16, -16),
                             int(QtCore.Qt.AlignmentFlag.AlignCenter
                                 | QtCore.Qt.TextFlag.TextWordWrap), self._message)

    def _to(self, box: QtCore.QRectF, x: float, y: float) -> QtCore.QPointF:
        return QtCore.QPointF(box.left() + x * box.width(), box.bottom() - y * box.height())

    def _paint_axes(self, painter: QtGui.QPainter, box: QtCore.QRectF, width: float) -> None:
        text = self.palette().text().color()
        metrics = painter.fontMetrics()
        line = metrics.height()
        grid = QtGui.QColor(text)
        grid.setAlpha(40)
        for tick in _TICKS:
            label = f"{100 * tick:.0f} %"
            bottom, left = self._to(box, tick, 0.0), self._to(box, 0.0, tick)
            painter.setPen(QtGui.QPen(grid, 1))
            if 0.0 < tick < 1.0:
                painter.drawLine(bottom, self._to(box, tick, 1.0))
                painter.drawLine(left, self._to(box, 1.0, tick))
            painter.setPen(text)
            painter.drawLine(bottom, bottom + QtCore.QPointF(0, 4))
            painter.drawLine(left, left - QtCore.QPointF(4, 0))
            painter.drawText(QtCore.QRectF(bottom.x() - 30, bottom.y() + 5, 60, line),
                             QtCore.Qt.AlignmentFlag.AlignHCenter, label)
            painter.drawText(QtCore.QRectF(left.x() - 66, left.y() - line / 2, 60, line),
                             QtCore.Qt.AlignmentFlag.AlignRight, label)
        painter.setPen(QtGui.QPen(text, 1))
        painter.drawRect(box)
        title_font = QtGui.QFont(painter.font())
        title_font.setBold(True)
        painter.save()
        painter.setFont(title_font)
        title = QtGui.QFontMetrics(title_font).elidedText(
            threshold_curve_title(self.finding), QtCore.Qt.TextElideMode.ElideRight,
            int(width) - 8)
        painter.drawText(QtCore.QRectF(4, 2, width - 8, line * 1.5),
                         QtCore.Qt.AlignmentFlag.AlignHCenter, title)
        painter.restore()
        painter.drawText(QtCore.QRectF(box.left() - 40, box.bottom() + line + 8,
                                       box.width() + 80, line),
                         QtCore.Qt.AlignmentFlag.AlignHCenter,
                         metrics.elidedText(self._x_label, QtCore.Qt.TextElideMode.ElideRight,
                                            int(box.width()) + 80))
        painter.save()
        painter.translate(box.left() - metrics.horizontalAdvance("100 %") - line - 10,
                          box.center().y())
        painter.rotate(-90)
        painter.drawText(QtCore.QRectF(-box.height() / 2 - 30, 0, box.height() + 60, line),
                         QtCore.Qt.AlignmentFlag.AlignHCenter,
                         metrics.elidedText(self._y_label, QtCore.Qt.TextElideMode.ElideRight,
                                            int(box.height()) + 60))
        painter.restore()

    def _paint_targets(self, painter: QtGui.QPainter, box: QtCore.QRectF) -> None:
        colour = QtGui.QColor(_TARGET_COLOUR)
        painter.setPen(QtGui.QPen(colour, 1.2, QtCore.Qt.PenStyle.DashLine))
        line = painter.fontMetrics().height()
        found = self._targets.get("sensitivity")
        if isinstance(found, int | float):
            y = self._to(box, 0, float(found)).y()
            painter.drawLine(QtCore.QPointF(box.left(), y), QtCore.QPointF(box.right(), y))
            painter.drawText(QtCore.QRectF(box.left(), y + 2, box.width() - 6, line),
                             QtCore.Qt.AlignmentFlag.AlignRight,
                             f"target: {100 * found:.0f} % found")
        most = self._targets.get("max_false_rate")
        if isinstance(most, int | float):
            x = self._to(box, float(most), 0).x()
            painter.drawLine(QtCore.QPointF(x, box.top()), QtCore.QPointF(x, box.bottom()))
            painter.drawText(QtCore.QRectF(x + 4, box.top() + box.height() * 0.55, 160, line),
                             QtCore.Qt.AlignmentFlag.AlignLeft,
                             f"at most {100 * most:.0f} % called")

    def _paint_curve(self, painter: QtGui.QPainter, box: QtCore.QRectF,
                     item: CurveSeries) -> None:
        colour = QtGui.QColor(item.colour)
        band = item.curve.band()
        if len(band) >= 3:
            shade = QtGui.QColor(colour)
            shade.setAlpha(48)
            painter.setPen(QtCore.Qt.PenStyle.NoPen)
            painter.setBrush(shade)
            painter.drawPolygon(QtGui.QPolygonF([self._to(box, x, y) for x, y in band]))
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        points = [self._to(box, *xy) for xy in (p.xy for p in item.curve.points)
                  if xy is not None]
        painter.setPen(QtGui.QPen(colour, 2.2))
        if len(points) > 1:
            painter.drawPolyline(QtGui.QPolygonF(points))

    def _paint_points(self, painter: QtGui.QPainter, box: QtCore.QRectF) -> None:
        """Operating rings, the chosen diamond and the point being chosen."""
        for item in self._curves:
            operating = item.curve.operating_point if item.mark_operating else None
            xy = operating.xy if operating is not None else None
            if xy is not None:
                painter.setPen(QtGui.QPen(QtGui.QColor(item.colour), 2.4))
                painter.setBrush(QtGui.QColor("white"))
                painter.drawEllipse(self._to(box, *xy), 5.0, 5.0)
                painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        if self._chosen is not None:
            self._paint_chosen(painter, box)
        if self._preview is not None and self._curves:
            xy = self._curves[0].curve.nearest(self._preview).xy
            if xy is not None:
                self._diamond(painter, self._to(box, *xy), filled=False)
                self._label(painter, box, self._to(box, *xy), f"{self._preview:.2f}")

    def _paint_chosen(self, painter: QtGui.QPainter, box: QtCore.QRectF) -> None:
        chosen = self._chosen or {}
        found, called = chosen.get("sensitivity"), chosen.get("false_rate")
        if not isinstance(found, Mapping) or not isinstance(called, Mapping):
            return
        centre = self._to(box, float(called["value"]), float(found["value"]))
        painter.setPen(QtGui.QPen(QtGui.QColor("black"), 1.2))
        if called.get("ci95"):  # both intervals, as error bars
            low, high = (float(v) for v in called["ci95"])
            painter.drawLine(self._to(box, low, float(found["value"])),
                             self._to(box, high, float(found["value"])))
        if found.get("ci95"):
            low, high = (float(v) for v in found["ci95"])
            painter.drawLine(self._to(box, float(called["value"]), low),
                             self._to(box, float(called["value"]), high))
        self._diamond(painter, centre, filled=True)
        how = "set here" if chosen.get("set_by") == "hand" else "from the targets"
        self._label(painter, box, centre, f"chosen {float(chosen['threshold']):.2f} ({how})")

    def _diamond(self, painter: QtGui.QPainter, centre: QtCore.QPointF, *,
                 filled: bool) -> None:
        r = 6.5
        shape = QtGui.QPolygonF([centre + QtCore.QPointF(0, -r), centre + QtCore.QPointF(r, 0),
                                 centre + QtCore.QPointF(0, r), centre + QtCore.QPointF(-r, 0)])
        painter.setPen(QtGui.QPen(QtGui.QColor("white" if filled else "black"), 1.5))
        painter.setBrush(QtGui.QColor("black") if filled else QtCore.Qt.BrushStyle.NoBrush)
        painter.drawPolygon(shape)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)

    def _label(self, painter: QtGui.QPainter, box: QtCore.QRectF, at: QtCore.QPointF,
               text: str) -> None:
        """A label beside a point, kept inside the plot, on a light backing so it reads."""
        metrics = painter.fontMetrics()
        size = QtCore.QSizeF(metrics.horizontalAdvance(text) + 8, metrics.height() + 2)
        x = min(at.x() + 10, box.right() - size.width() - 2)
        y = min(max(at.y() + 8, box.top() + 2), box.bottom() - size.height() - 2)
        rect = QtCore.QRectF(QtCore.QPointF(x, y), size)
        backing = QtGui.QColor(self.palette().base().color())
        backing.setAlpha(220)
        painter.fillRect(rect, backing)
        painter.setPen(QtGui.QColor("black"))
        painter.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, text)

    def _paint_legend(self, painter: QtGui.QPainter, box: QtCore.QRectF) -> None:
        """A line per curve under the axis label: its colour, name and operating threshold."""
        if not self.legend:
            return
        metrics = painter.fontMetrics()
        line = metrics.height() + 2
        top = box.bottom() + metrics.height() * 2.8 + 6
        for index, curve in enumerate(self._curves):
            name = curve.name
            if curve.mark_operating and curve.curve.operating_threshold is not None:
                name += f": threshold {curve.curve.operating_threshold:.2f} (ring)"
            y = top + index * line + line / 2
            painter.setPen(QtGui.QPen(QtGui.QColor(curve.colour), 3))
            painter.drawLine(QtCore.QPointF(box.left(), y), QtCore.QPointF(box.left() + 18, y))
            painter.setPen(self.palette().text().color())
            painter.drawText(QtCore.QRectF(box.left() + 24, y - line / 2, box.width() + 60,
                                           line), QtCore.Qt.AlignmentFlag.AlignVCenter,
                             metrics.elidedText(name, QtCore.Qt.TextElideMode.ElideRight,
                                                int(box.width()) + 40))
