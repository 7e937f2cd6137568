"""The calibration dialog's trade-off: a plot and a slider per finding to choose the point.

A site calibration chooses each finding's threshold from targets typed in as numbers; where
the trade-off is the whole decision, a clinician would rather look at it and choose (as
CAD4TB's threshold setting shows sensitivity and specificity as the threshold moves). Each
finding gets the site's cross-validated curve (:mod:`desktop_app.core.site.site_curves`), the
targets as dashed lines and the chosen point; clicking the curve, or moving the slider under
it, chooses that finding's threshold. This widget only shows the card section it is given and
says what was chosen: the dialog re-decides the films for the new threshold
(:func:`desktop_app.core.site.site_calibration.recalibrate`) and gives it the new section, so
the before/after table, the warnings and the other finding's curve follow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6 import QtCore, QtWidgets

from desktop_app.core.metrics.figures import AGE_GROUP_LABELS, figure_text
from desktop_app.core.metrics.threshold_curves import (
    CurveSeries,
    ThresholdCurve,
    curves_from_section,
)
from desktop_app.ui.curve_plot import CLASS_COLOURS
from desktop_app.ui.threshold_plot import ThresholdPlot

__all__ = ["ThresholdChooser"]

_NO_CURVES = ("No labelled films: there is no trade-off to show, and the thresholds are the "
              "model's. Give labelled films (a folder per class) to choose them here.")


def _caption(finding: str, curve: ThresholdCurve, chosen: Mapping[str, Any],
             preview: float | None = None) -> str:
    """What the chosen (or previewed) point means, in words."""
    if preview is not None:
        point = curve.nearest(preview)
        found, called = point.sensitivity, point.false_rate
        head = f"At {point.threshold:.2f} (release to choose)"
    else:
        found, called = chosen.get("sensitivity"), chosen.get("false_rate")
        how = ("set here, for every age group" if chosen.get("set_by") == "hand"
               else "from the targets, per fold and age group")
        groups = {group: value for group, value in (chosen.get("by_age_group") or {}).items()
                  if abs(value - float(chosen["threshold"])) > 5e-3}
        own = "".join(f", {AGE_GROUP_LABELS.get(group, group).lower()} {value:.2f}"
                      for group, value in groups.items())
        head = f"{finding} threshold {float(chosen['threshold']):.2f}{own} ({how})"
    return (f"{head}: {curve.positives} found {figure_text(found, decimals=0, missing='—')}; "
            f"{curve.negatives} labelled {finding} "
            f"{figure_text(called, decimals=0, missing='—')}.")


class ThresholdChooser(QtWidgets.QWidget):
    """A plot, a slider and a caption per finding, and a way back to the targets' choice.

    Signals:
        threshold_chosen(str, float): A finding's threshold was chosen on its curve or slider.
        reset_requested(): Back to the thresholds the targets choose.
    """

    threshold_chosen = QtCore.Signal(str, float)
    reset_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots: dict[str, ThresholdPlot] = {}
        self.sliders: dict[str, QtWidgets.QSlider] = {}
        self.captions: dict[str, QtWidgets.QLabel] = {}
        self._curves: dict[str, ThresholdCurve] = {}
        self._chosen: dict[str, Mapping[str, Any]] = {}
        self.empty = QtWidgets.QLabel(_NO_CURVES)
        self.empty.setWordWrap(True)
        self.empty.hide()
        self.reset_button = QtWidgets.QPushButton("Back to the Targets' Choice")
        self.reset_button.setToolTip("Choose every threshold from the targets again")
        self.reset_button.setEnabled(False)
        self._panels = QtWidgets.QHBoxLayout()
        hint = QtWidgets.QLabel(
            "Click a curve or move its slider to choose that threshold (for every age group); "
            "the figures and warnings follow.")
        hint.setWordWrap(True)
        hint.setToolTip("Up: more of the finding's films found; right: more films without it "
                        "labelled with it. Shaded: the 95 % intervals of both figures; dashed: "
                        "the targets; diamond: the chosen point. Measured as the after column: "
                        "cross-validated by patient.")
        footer = QtWidgets.QHBoxLayout()
        footer.addWidget(hint, 1)
        footer.addWidget(self.reset_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._panels, 1)
        layout.addWidget(self.empty)
        layout.addLayout(footer)

        self.reset_button.clicked.connect(self.reset_requested)

    def show_section(self, section: Mapping[str, Any], classes: Sequence[str]) -> None:
        """Show a calibration's curves (its card section), creating a panel per finding."""
        curves = section.get("threshold_curves") or {}
        sets = curves_from_section(curves) if curves.get("populations") else {}
        site = sets.get("all")
        self.empty.setVisible(site is None)
        self.reset_button.setEnabled(bool((section.get("settings") or {})
                                          .get("thresholds_set_by_hand")))
        for finding, curve in (site.curves.items() if site is not None else ()):
            if finding not in self.plots:
                self._add_panel(finding, curve)
            self._curves[finding] = curve
            self._chosen[finding] = curves["chosen"][finding]
            colour = CLASS_COLOURS[list(classes).index(finding) % len(CLASS_COLOURS)]
            plot = self.plots[finding]
            plot.set_curves([CurveSeries(f"the site's {site.films} films, cross-validated; "
                                       "shaded: 95 % intervals", curve, colour,
                                       mark_operating=False)],
                            targets=curves["targets"].get(finding),
                            chosen=self._chosen[finding])
            plot.set_message("" if any(p.sensitivity for p in curve.points) else
                             f"No {curve.positives}: how many are found is not measured here")
            slider = self.sliders[finding]
            slider.blockSignals(True)
            slider.setValue(min(99, max(1, round(100 * self._chosen[finding]["threshold"]))))
            slider.blockSignals(False)
            self.captions[finding].setText(_caption(finding, curve, self._chosen[finding]))
        for finding, plot in self.plots.items():
            plot.parentWidget().setVisible(site is not None and finding in site.curves)

    def _add_panel(self, finding: str, curve: ThresholdCurve) -> None:
        panel = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(panel)
        box.setContentsMargins(0, 0, 0, 0)
        plot = ThresholdPlot(finding, curve.positives, curve.negatives, interactive=True)
        slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        slider.setRange(1, 99)
        slider.setPageStep(5)
        slider.setAccessibleName(f"{finding} threshold")
        caption = QtWidgets.QLabel()
        caption.setWordWrap(True)
        caption.setMinimumHeight(caption.fontMetrics().height() * 3 + 4)  # panels align
        caption.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        caption.setToolTip("A threshold chosen from the targets is chosen again by each fold "
                           "of the cross-validation and each age group the model has "
                           "thresholds for, so its point may lie off the curve, which sets "
                           "one threshold for every film.")
        caption.setAccessibleName(f"{finding} threshold, what it gives")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel(f"{finding} threshold:"))
        row.addWidget(slider, 1)
        box.addWidget(plot, 1)
        box.addLayout(row)
        box.addWidget(caption)
        self._panels.addWidget(panel, 1)
        self.plots[finding], self.sliders[finding], self.captions[finding] = plot, slider, caption

        plot.threshold_chosen.connect(lambda value, f=finding: self._choose(f, value))
        slider.valueChanged.connect(lambda value, f=finding: self._on_slider_value_changed(
            f, value))
        slider.sliderReleased.connect(lambda f=finding: self._choose(
            f, self.sliders[f].value() / 100))

    def _on_slider_value_changed(self, finding: str, value: int) -> None:
        """Dragging previews the point; a step by keyboard or a click on the groove chooses."""
        if self.sliders[finding].isSliderDown():
            self.plots[finding].set_preview(value / 100)
            self.captions[finding].setText(_caption(finding, self._curves[finding],
                                                    self._chosen[finding], value / 100))
        else:
            self._choose(finding, value / 100)

    def _choose(self, finding: str, threshold: float) -> None:
        self.plots[finding].set_preview(None)
        self.threshold_chosen.emit(finding, float(threshold))
