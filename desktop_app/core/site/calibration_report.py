"""The PDF report of a site calibration (reportlab; no Qt, so ``calibrate --report`` writes it).

One document a clinic files with its decision to use a calibrated model: for which site, from
which films, the model's and the site's thresholds (and which were set by hand), the figures
before and after (cross-validated by patient), each finding's trade-off on the site's films
with the targets and the chosen point, the gate limits, the non-chest check set and every
warning. Everything comes from the calibrated card's ``site_calibration`` section, so the
report of a calibration equals what its card says.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from desktop_app import APP_NAME, DISCLAIMER, __version__
from desktop_app.core.model.calibration_line import SITE_CALIBRATION, calibration_line
from desktop_app.core.site.site_tables import (
    AFTER_NOTE,
    check_set_lines,
    figure_rows,
    gate_rows,
    threshold_rows,
)
from desktop_app.core.validation.report_drawings import (
    CURVES_NOTE,
    section_drawings,
    table,
    write_pdf,
)

__all__ = ["write_calibration_pdf"]


def _para(text: str, style: Any) -> Any:
    """A paragraph of plain text (escaped: site names and paths may hold ``<`` or ``&``)."""
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(escape(text), style)


def _story(section: Mapping[str, Any], model_id: str) -> list[Any]:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table

    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    small = body.clone("small", fontSize=7.5, leading=9)
    heading = styles["Heading3"]
    films = section["films"]
    line = calibration_line({SITE_CALIBRATION: section}) or ""
    story: list[Any] = [
        Paragraph(f"{APP_NAME} — calibration to this site", styles["Title"]),
        _para(f"Model: {model_id}, {line}; made from {section.get('model_id', '?')}", body),
        _para(f"Films: {section.get('data', '?')} — {films['used']} used of "
              f"{films['given']} given ({films['unreadable']} unreadable; "
              f"{films['site_look']} frontal films made the site's look); by label: "
              + ", ".join(f"{k} {v}" for k, v in (films.get("by_class") or {}).items()), body),
        _para(f"{section.get('by', '')}; report written with {APP_NAME} {__version__}.", body),
        Paragraph("Thresholds (model → site)", heading),
        table([["finding", "model", "site"], *threshold_rows(section)], [170, 90, 160]),
        Paragraph("Figures before and after", heading),
        table([["figure", "before (model as trained)", "after (cross-validated)"],
               *figure_rows(section)], [190, 150, 150]),
        _para(AFTER_NOTE.removesuffix(DISCLAIMER), small),
    ]
    drawings = section_drawings(section.get("threshold_curves"))
    if drawings:
        story.append(KeepTogether([
            Paragraph("Threshold curves on the site's films", heading),
            _para(CURVES_NOTE + " Measured as the \"after\" column: cross-validated by "
                  "patient, the finding's threshold set for every age group. Dashed: the "
                  "targets; black diamond: the chosen point with its 95 % intervals.", small),
            Table([drawings], hAlign="LEFT")]))
    story += [Paragraph("Gate limits (model → site)", heading),
              table([["check", "usual", "refusal", "moved"], *gate_rows(section)],
                    [130, 100, 100, 180]),
              Paragraph("Non-chest check set", heading),
              *(_para(text, body) for text in check_set_lines(section))]
    warnings = section.get("warnings") or []
    story.append(Paragraph("Warnings" if warnings else "No warnings", heading))
    story += [_para(f"• {warning}", body) for warning in warnings]
    story += [Spacer(1, 8), _para(DISCLAIMER, small)]
    return story


def write_calibration_pdf(path: Path | str, section: Mapping[str, Any], model_id: str
                          ) -> Path:
    """Write the report of a calibrated card's section (temporary name first, then renamed).

    Args:
        path: The PDF to write.
        section: The calibrated card's ``site_calibration`` section.
        model_id: The calibrated bundle's model id.

    Returns:
        The PDF's path.

    Raises:
        OSError: If the file cannot be written.
    """
    return write_pdf(path, _story(section, model_id), f"{APP_NAME} calibration {model_id}")
