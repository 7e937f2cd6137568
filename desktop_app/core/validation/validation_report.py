"""The PDF report of a local validation (reportlab; no Qt, so the command line writes it too).

One document a clinic can file with its decision to use (or not use) the model: which model,
which films (with the data fingerprint), what was excluded and why, how many films carried a
caution, each class's sensitivity also counting refused films as not found, every figure with its
95 % interval and the number of films it rests on, the confusion matrix at the app's
decision, ROC curves and the calibration diagram.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from desktop_app import APP_NAME, DISCLAIMER, __version__
from desktop_app.core.metrics.figures import KEY_FIGURES, figure_text
from desktop_app.core.metrics.refusals import cautioned_text, refusal_lines
from desktop_app.core.validation.report_drawings import (
    CLASS_COLOURS,
    CURVES_NOTE,
    axes,
    section_drawings,
    table,
    write_pdf,
)
from desktop_app.core.validation.validation import ValidationResult

__all__ = ["write_validation_pdf"]

_PLOT = 210.0


def _text(entry: Any, *, percent: bool = True) -> str:
    return figure_text(entry, percent=percent)


def _roc_drawing(roc: Mapping[str, Any], classes: Sequence[str],
                 auroc: Mapping[str, Any]) -> Any:
    from reportlab.graphics.shapes import Drawing, PolyLine, String
    from reportlab.lib import colors

    drawing = Drawing(_PLOT + 60, _PLOT + 60)
    x0, y0 = 40.0, 40.0
    axes(drawing, x0, y0, _PLOT, "false-positive rate (1 - specificity)",
          "true-positive rate (sensitivity)")
    drawing.add(String(x0, y0 + _PLOT + 8, "ROC, one class against the rest", fontSize=8,
                       fontName="Helvetica-Bold"))
    for i, name in enumerate(classes):
        curve = roc.get(name)
        if not curve:
            continue
        colour = colors.HexColor(CLASS_COLOURS[i % len(CLASS_COLOURS)])
        points: list[float] = []
        for fpr, tpr in zip(curve["fpr"], curve["tpr"], strict=True):
            points += [x0 + fpr * _PLOT, y0 + tpr * _PLOT]
        drawing.add(PolyLine(points, strokeColor=colour, strokeWidth=1.2))
        value = (auroc.get(name) or {}).get("auroc")
        legend = f"{name}: AUROC {value['value']:.3f}" if value else name
        drawing.add(String(x0 + _PLOT * 0.45, y0 + 10 + 10 * i, legend, fontSize=7,
                           fillColor=colour))
    return drawing


def _reliability_drawing(reliability: Mapping[str, Any] | None) -> Any:
    from reportlab.graphics.shapes import Circle, Drawing, PolyLine, String
    from reportlab.lib import colors

    drawing = Drawing(_PLOT + 60, _PLOT + 60)
    x0, y0 = 40.0, 40.0
    axes(drawing, x0, y0, _PLOT, "confidence of the top class", "share labelled correctly")
    drawing.add(String(x0, y0 + _PLOT + 8, "Calibration (dashed: perfect)", fontSize=8,
                       fontName="Helvetica-Bold"))
    if not reliability:
        return drawing
    points: list[float] = []
    total = sum(c for c in reliability["count"] if c) or 1.0
    for confidence, accuracy, count in zip(reliability["confidence"], reliability["accuracy"],
                                           reliability["count"], strict=True):
        if confidence is None or accuracy is None or not count:
            continue
        x, y = x0 + confidence * _PLOT, y0 + accuracy * _PLOT
        points += [x, y]
        # Dot area grows with the share of films in the bin.
        drawing.add(Circle(x, y, 1.5 + 6.0 * (count / total) ** 0.5,
                           fillColor=colors.HexColor("#0072B2"), strokeColor=None))
    if len(points) >= 4:
        drawing.add(PolyLine(points, strokeColor=colors.HexColor("#0072B2"), strokeWidth=1))
    return drawing


def _story(result: ValidationResult) -> list[Any]:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, Spacer, Table

    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=7.5,
                                                                  leading=9)
    heading = styles["Heading3"]
    metrics = result.metrics
    counts = metrics["counts"]
    populations = metrics["populations"]
    classes = result.classes
    story: list[Any] = [
        *_opening(result, styles["Title"], body),
        Paragraph("Overall", heading),
        table([["figure", "value (95 % CI), n"],
                ["accuracy", _text(metrics["overall"]["accuracy"])],
                ["macro AUROC", _text(metrics["overall"]["macro_auroc"], percent=False)],
                ["calibration error (ECE)", _text(metrics["overall"]["ece"], percent=False)]],
               [150, 200]),
        Paragraph("Per class", heading),
        table([["class", "films", "sensitivity", "specificity", "AUROC"]]
               + [[name, str(populations["per_class"][name]["n"]),
                   _text(populations["per_class"][name]["sensitivity"]),
                   _text(populations["per_class"][name].get("specificity")),
                   _text(populations["per_class"][name].get("auroc"), percent=False)]
                  for name in classes], [70, 35, 130, 130, 120]),
    ]
    found = refusal_lines(metrics.get("refusals"))
    if found:
        story += [Paragraph("Found per class, counting refused films", heading),
                  _para(found[0], small), *(_para(line, body) for line in found[1:])]
    story += _population_sections(populations, classes, metrics, heading)
    refused = counts.get("out_of_distribution_by_class") or {}
    if refused:
        story.append(_para("Refused as not a chest X-ray, by true label: "
                           + ", ".join(f"{k} {v}" for k, v in sorted(refused.items())), small))
    story += [Spacer(1, 8),
              Table([[_roc_drawing(metrics["roc"], classes, populations["per_class"]),
                      _reliability_drawing(metrics["reliability"])]], hAlign="LEFT"),
              *_curves(metrics.get("threshold_curves"), heading, small),
              Spacer(1, 8), _para(DISCLAIMER, small)]
    return story


def _curves(section: dict[str, Any] | None, heading: Any, small: Any) -> list[Any]:
    """Each finding's threshold trade-off on these films, per age group (see CURVES_NOTE)."""
    from reportlab.platypus import KeepTogether, Paragraph, Table

    drawings = section_drawings(section)
    if not drawings:
        return []
    note = (CURVES_NOTE + " Each age group at its own thresholds (films of unknown age at the "
            "thresholds for all ages); ring: the model's operating threshold.")
    return [KeepTogether([Paragraph("Threshold curves", heading), _para(note, small),
                          Table([drawings], hAlign="LEFT")])]


def _para(text: str, style: Any) -> Any:
    """A paragraph of plain text (escaped: file names may hold ``<`` or ``&``)."""
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(escape(text), style)


def _opening(result: ValidationResult, title: Any, body: Any) -> list[Any]:
    """The title, what was validated on which data, the counts and how to read a figure."""
    from reportlab.platypus import Paragraph, Spacer

    counts = result.metrics["counts"]
    bootstrap = result.metrics["populations"]["bootstrap"]
    return [
        Paragraph(f"{APP_NAME} — validation on local data", title),
        _para(f"Model: {result.model_id}", body),
        _para(f"Data: {result.data_path}", body),
        _para(f"Validated: {result.created} (UTC) with {APP_NAME} {__version__}", body),
        _para(f"Data fingerprint (sha256 of file names, labels and file contents): "
              f"{result.fingerprint['sha256']} — {result.fingerprint['images']} films", body),
        Spacer(1, 6),
        _para(f"{counts.get('labelled', counts['validated'])} labelled films: "
              f"{counts['measured']} measured; {counts['out_of_distribution']} refused as not "
              f"a chest X-ray and {counts['failed']} unreadable, both excluded"
              + (f"; {counts['other_classes']} of classes this model does not have, left out"
                 if counts.get("other_classes") else "") + ". " + result.metrics["excluded"],
              body),
        _para(cautioned_text(counts), body),
        _para("Every figure: value (95 % interval from "
              f"{bootstrap['rounds']} bootstrap resamples by "
              f"{bootstrap['unit']}), n = films it rests on. Rates are at the "
              "app's decision (what the app shows), not at a threshold chosen afterwards.",
              body),
    ]


def _population_sections(populations: dict[str, Any], classes: Sequence[str],
                         metrics: dict[str, Any], heading: Any) -> list[Any]:
    """Per source and age group, the key figures and the confusion matrix."""
    from reportlab.platypus import Paragraph

    story: list[Any] = []
    for title, key in (("Per source", "per_source"), ("Per age group", "per_age_group")):
        story += [Paragraph(title, heading), table(
            [["group", "films", "accuracy", "non-COVID labelled COVID-19", "ECE"]]
            + [[group, str(figures["n"]), _text(figures.get("accuracy")),
                _text(figures.get("labelled_covid_non_covid")),
                _text(figures.get("ece"), percent=False)]
               for group, figures in populations[key].items()], [80, 35, 130, 130, 110])]
    key_rows = [[figure.label, _text(populations["key_figures"].get(figure.key),
                                     percent=figure.percent)]
                for figure in KEY_FIGURES]
    story += [Paragraph("Key figures (n/a: the data has no films for it)", heading),
              table([["figure", "value (95 % CI), n"], *key_rows], [300, 200])]
    matrix = [["true \\ app's label", *classes]] + [
        [name, *(str(v) for v in row)]
        for name, row in zip(classes, metrics["confusion_matrix"], strict=True)]
    story += [Paragraph("Confusion matrix at the app's decision", heading),
              table(matrix, [90] + [70] * len(classes))]
    return story


def write_validation_pdf(path: Path | str, result: ValidationResult) -> Path:
    """Write the report (to a temporary name first, so a failure leaves no half file).

    Returns:
        The PDF's path.

    Raises:
        OSError: If the file cannot be written.
    """
    return write_pdf(path, _story(result), f"{APP_NAME} validation of {result.model_id}")
