"""Tables and plots of the PDF reports (reportlab), shared by validation and site calibration.

Both reports (``validate --report``, ``calibrate --report``) show figures as tables and the
threshold trade-off as a plot per finding: its sensitivity against the films wrongly called as
its threshold moves (:mod:`desktop_app.core.metrics.threshold_curves`), with the 95 %
intervals shaded, the operating or chosen point marked and, for a site, its targets as lines.
Drawn with reportlab's own graphics (no plotting library in the classify-only build), in the
colour-blind-safe Okabe-Ito colours the window uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from desktop_app import APP_NAME, DISCLAIMER, __version__
from desktop_app.core.metrics.threshold_curves import (
    POPULATION_COLOURS,
    CurveSeries,
    curves_from_section,
    threshold_curve_title,
)

__all__ = [
    "CLASS_COLOURS",
    "CURVES_NOTE",
    "CurveSeries",
    "axes",
    "section_drawings",
    "table",
    "threshold_curve_drawing",
    "write_pdf",
]

#: Line colours, one per class (colour-blind safe: Okabe-Ito), as in the window.
CLASS_COLOURS = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7")
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def table(rows: Sequence[Sequence[str]], widths: Sequence[float] | None = None) -> Any:
    """A grid table with a bold, shaded header row that repeats on a new page."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    grid = Table([list(r) for r in rows], colWidths=widths, hAlign="LEFT", repeatRows=1)
    grid.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eceff1")),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#90a4ae")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return grid


def axes(drawing: Any, x0: float, y0: float, size: float, x_label: str, y_label: str, *,
         diagonal: bool = True, percent: bool = False) -> None:
    """A unit-square frame with ticks, axis labels and (optionally) the dashed diagonal."""
    from reportlab.graphics.shapes import Group, Line, Rect, String
    from reportlab.lib import colors

    drawing.add(Rect(x0, y0, size, size, fillColor=None, strokeColor=colors.black,
                     strokeWidth=0.6))
    for tick in _TICKS:
        offset = tick * size
        text = f"{100 * tick:.0f} %" if percent else f"{tick:g}"
        drawing.add(Line(x0 + offset, y0, x0 + offset, y0 - 3))
        drawing.add(Line(x0, y0 + offset, x0 - 3, y0 + offset))
        drawing.add(String(x0 + offset, y0 - 12, text, fontSize=6, textAnchor="middle"))
        drawing.add(String(x0 - 5, y0 + offset - 2, text, fontSize=6, textAnchor="end"))
    if diagonal:
        drawing.add(Line(x0, y0, x0 + size, y0 + size, strokeColor=colors.HexColor("#b0bec5"),
                         strokeDashArray=[2, 2], strokeWidth=0.5))
    drawing.add(String(x0 + size / 2, y0 - 24, x_label, fontSize=7, textAnchor="middle"))
    group = Group(String(0, 0, y_label, fontSize=7, textAnchor="middle"))
    group.translate(x0 - 24, y0 + size / 2)
    group.rotate(90)
    drawing.add(group)


def threshold_curve_drawing(finding: str, series: Sequence[CurveSeries], *,
                            positives: str, negatives: str,
                            targets: Mapping[str, Any] | None = None,
                            chosen: Mapping[str, Any] | None = None, size: float = 175.0
                            ) -> Any:
    """One finding's plot: each series' curve with its band and operating point.

    Args:
        finding: The finding whose threshold moves.
        series: The curves (one per population).
        positives: The films found, in words (the y axis).
        negatives: The films wrongly called, in words (the x axis).
        targets: A site's ``{"sensitivity", "max_false_rate"}``, drawn as dashed lines.
        chosen: A site's chosen point ``{"threshold", "sensitivity", "false_rate"}``.
        size: Side of the plot square, in points.
    """
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(size + 70, size + 62)
    x0, y0 = 44.0, 36.0
    axes(drawing, x0, y0, size, f"{negatives} labelled {finding}",
         f"{positives} labelled {finding}", diagonal=False, percent=True)
    drawing.add(String(x0 - 36, y0 + size + 14, threshold_curve_title(finding), fontSize=7.5,
                       fontName="Helvetica-Bold"))
    if targets:
        _target_lines(drawing, x0, y0, size, targets)
    for index, item in enumerate(series):
        colour = colors.HexColor(item.colour)
        _curve(drawing, x0, y0, size, item, colour)
        operating = item.curve.operating_threshold
        legend = item.name + (f": threshold {operating:.2f} (ring)" if item.mark_operating
                              and operating is not None else "")
        drawing.add(String(x0 + size - 4, y0 + 6 + 9 * (len(series) - 1 - index), legend,
                           fontSize=6.5, fillColor=colour, textAnchor="end"))
    if chosen:
        _chosen_point(drawing, x0, y0, size, chosen)
    return drawing


def _curve(drawing: Any, x0: float, y0: float, size: float, item: CurveSeries,
           colour: Any) -> None:
    from reportlab.graphics.shapes import Circle, Polygon, PolyLine
    from reportlab.lib import colors

    def at(x: float, y: float) -> list[float]:
        return [x0 + x * size, y0 + y * size]

    band = item.curve.band()
    if len(band) >= 3:
        shade = colors.Color(colour.red, colour.green, colour.blue, alpha=0.16)
        drawing.add(Polygon([v for x, y in band for v in at(x, y)], fillColor=shade,
                            strokeColor=None))
    points = [xy for xy in (p.xy for p in item.curve.points) if xy is not None]
    if len(points) >= 2:
        drawing.add(PolyLine([v for x, y in points for v in at(x, y)], strokeColor=colour,
                             strokeWidth=1.2))
    operating = item.curve.operating_point
    xy = operating.xy if operating is not None and item.mark_operating else None
    if xy is not None:
        cx, cy = at(*xy)
        drawing.add(Circle(cx, cy, 3.2, fillColor=colors.white, strokeColor=colour,
                           strokeWidth=1.4))


def _target_lines(drawing: Any, x0: float, y0: float, size: float,
                  targets: Mapping[str, Any]) -> None:
    from reportlab.graphics.shapes import Line, String
    from reportlab.lib import colors

    grey = colors.HexColor("#546e7a")
    found = targets.get("sensitivity")
    if isinstance(found, int | float):
        y = y0 + float(found) * size
        drawing.add(Line(x0, y, x0 + size, y, strokeColor=grey, strokeDashArray=[3, 2],
                         strokeWidth=0.7))
        drawing.add(String(x0 + size - 2, y + 2, f"target: {100 * found:.0f} % found", fontSize=6,
                           fillColor=grey, textAnchor="end"))
    most = targets.get("max_false_rate")
    if isinstance(most, int | float):
        x = x0 + float(most) * size
        drawing.add(Line(x, y0, x, y0 + size, strokeColor=grey, strokeDashArray=[3, 2],
                         strokeWidth=0.7))
        drawing.add(String(x + 2, y0 + size * 0.42, f"at most {100 * most:.0f} %", fontSize=6,
                           fillColor=grey))


def _chosen_point(drawing: Any, x0: float, y0: float, size: float,
                  chosen: Mapping[str, Any]) -> None:
    from reportlab.graphics.shapes import Line, Polygon, String
    from reportlab.lib import colors

    found, called = chosen.get("sensitivity"), chosen.get("false_rate")
    if not isinstance(found, Mapping) or not isinstance(called, Mapping):
        return
    x, y = x0 + float(called["value"]) * size, y0 + float(found["value"]) * size
    black = colors.black
    called_ci, found_ci = called.get("ci95"), found.get("ci95")
    if called_ci:  # the interval of both figures, as error bars
        drawing.add(Line(x0 + float(called_ci[0]) * size, y, x0 + float(called_ci[1]) * size,
                         y, strokeColor=black, strokeWidth=0.8))
    if found_ci:
        drawing.add(Line(x, y0 + float(found_ci[0]) * size, x, y0 + float(found_ci[1]) * size,
                         strokeColor=black, strokeWidth=0.8))
    drawing.add(Polygon([x, y + 4.5, x + 4.5, y, x, y - 4.5, x - 4.5, y], fillColor=black,
                        strokeColor=colors.white, strokeWidth=0.6))
    drawing.add(String(x + 6, y + 4, f"chosen {float(chosen['threshold']):.2f}", fontSize=6.5,
                       fontName="Helvetica-Bold"))


def section_drawings(section: Mapping[str, Any] | None) -> list[Any]:
    """A plot per finding of a curves section, every population a series.

    A site's section also holds its targets and chosen point per finding; they are drawn when
    present. Empty for a section that is missing or has no curves (an older record).
    """
    sets = curves_from_section(section)
    if not sets:
        return []
    findings = list(dict.fromkeys(f for curve_set in sets.values() for f in curve_set.curves))
    targets = (section or {}).get("targets") or {}
    chosen = (section or {}).get("chosen") or {}
    drawings = []
    for finding in findings:
        series = [CurveSeries(f"{curve_set.words} (n={curve_set.films})",
                              curve_set.curves[finding],
                              POPULATION_COLOURS.get(key, CLASS_COLOURS[-1]),
                              mark_operating=not chosen)
                  for key, curve_set in sets.items() if finding in curve_set.curves]
        first = series[0].curve
        drawings.append(threshold_curve_drawing(
            finding, series, positives=first.positives, negatives=first.negatives,
            targets=targets.get(finding), chosen=chosen.get(finding)))
    return drawings


#: How to read a threshold plot, under the plots of either report.
CURVES_NOTE = ("Each finding's threshold moved from 1 % to 99 % with the other thresholds kept, "
               "every film labelled at each threshold by the app's own rule. Up: more of the "
               "finding's films found; right: more films without it called it. A lower "
               "threshold moves the point up and right. Shaded: the 95 % intervals of both "
               "figures.")


def write_pdf(path: Path | str, story: list[Any], title: str) -> Path:
    """Build ``story`` into an A4 PDF at ``path``, through a temporary name.

    One way for every report LungLens writes (validation, site calibration): a failure
    leaves no half-written file, and each PDF names the program and says it is decision
    support in its properties.

    Raises:
        OSError: If the file cannot be written.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    target = Path(path)
    temp = target.with_name(f".{target.name}.part")
    document = SimpleDocTemplate(str(temp), pagesize=A4, leftMargin=40, rightMargin=40,
                                 topMargin=40, bottomMargin=40, title=title,
                                 author=f"{APP_NAME} {__version__}", subject=DISCLAIMER)
    try:
        document.build(story)
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)
    return target
