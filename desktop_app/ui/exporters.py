"""Exports of the worklist: a CSV table and a PDF report with one page per image.

The CSV is written from the table's light records (instant, on the UI thread). The PDF needs
pixels and heat maps, which the table deliberately does not keep, so
:func:`write_pdf_report` re-classifies the files one small batch at a time in a worker thread
(the same deterministic classify path, so the report matches the table) and draws each page
with reportlab; nothing here touches a widget. Images are embedded as JPEG so that a report
of hundreds of films stays a manageable file. Each page gives the measured figures for the
patient's age group (from the DICOM header) or for adults and children, and when the card
has per-population figures a last page says who the model was measured to work for.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app import APP_NAME, DISCLAIMER, __version__
from desktop_app.core.classify.analysis import ImageResult
from desktop_app.core.classify.heatmap import colourise, heatmap_for_input
from desktop_app.core.metrics.figures import age_group_label
from desktop_app.core.model.calibration_line import calibration_line
from desktop_app.core.model.model_bundle import ModelBundle
from desktop_app.core.model.model_card import ModelCard
from desktop_app.core.preprocessing import to_uint8
from desktop_app.core.session.session import is_from_model
from desktop_app.ui.card_metrics import (
    age_group_populations,
    group_table,
    leave_one_source_out_rows,
    plain_limits,
    population_lines,
)
from desktop_app.ui.results_table import RowRecord
from desktop_app.ui.workers import analyzer_for

__all__ = ["csv_rows", "write_csv", "write_pdf_report"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PAGE_IMAGE_MAX = 900


def _safe_cell(value: str) -> str:
    # A file name like "=HYPERLINK(...)" must not become a formula in a spreadsheet.
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def csv_rows(records: Sequence[RowRecord], classes: Sequence[str],
             model_id: str | None, calibration: str | None = None) -> list[list[str]]:
    """Header plus one row per record, as strings.

    Args:
        records: The worklist rows, in the order to write.
        classes: The model's classes (one probability column each).
        model_id: The model in use (for rows not yet analysed).
        calibration: Its :func:`~desktop_app.core.model.calibration_line.calibration_line`
            (``None``: a model as trained). Filled in only on rows answered by that model, so
            a row answered before a switch never claims a calibration it was not given; the
            column comes after the columns readers already relied on, so they keep their places;
            ``thresholds`` (which operating thresholds decided, and why: 2026-12-07) after it.
    """
    header = ["name", "path", "status", "label", "uncertain",
              *(f"p_{name}" for name in classes), "out_of_distribution", "ood_reason", "caution",
              "error", "decision_reason", "model_id", "patient_age_years", "age_group",
              "sop_instance_uid", "calling_ae", "received", "site_calibration", "thresholds"]
    rows = [header]
    for record in records:
        result = record.result
        probabilities = (result.probabilities or {}) if result is not None else {}
        decision = result.decision if result is not None and result.ok else None
        ood = bool(result is not None and result.out_of_distribution)
        rows.append([
            _safe_cell(record.path.name),
            _safe_cell(str(record.path)),
            record.status.value,
            (result.label or "") if result is not None else "",
            "" if decision is None or ood else ("yes" if decision.uncertain else "no"),
            *("" if ood or name not in probabilities else f"{probabilities[name]:.4f}"
              for name in classes),
            "yes" if ood else ("no" if result is not None and result.ok else ""),
            _safe_cell(_refusal(result)),
            _safe_cell((result.caution or "") if result is not None else ""),
            _safe_cell((result.error or "could not be read")
                       if result is not None and not result.ok else ""),
            _safe_cell(result.decision.reason if decision is not None and not ood else ""),
            (result.model_id if result is not None else model_id) or "",
            *_age_cells(result),
            record.sop_instance_uid or "",
            _safe_cell(record.calling_ae or ""),
            record.received.isoformat(timespec="seconds") if record.received else "",
            _safe_cell(calibration or "") if result is not None
            and is_from_model(result, model_id) else "",
            _safe_cell(result.thresholds_note if result is not None else ""),
        ])
    return rows


def _refusal(result: ImageResult | None) -> str:
    """Why a refused film got no label (``classify --json``'s ``ood_reason``); else empty."""
    if result is None or not result.ok or not result.out_of_distribution:
        return ""
    return (result.ood.reason if result.ood is not None else None) \
        or "outside what the model was trained on"


def _age_cells(result: ImageResult | None) -> list[str]:
    """Age in years (one decimal) and age group; empty when the file was not analysed."""
    age = result.age if result is not None else None
    if age is None:
        return ["", ""]
    return ["" if age.years is None else f"{age.years:.1f}", age.age_group]


def write_csv(path: Path | str, records: Sequence[RowRecord], classes: Sequence[str],
              model_id: str | None, calibration: str | None = None) -> int:
    """Write the worklist as CSV (UTF-8 with BOM so spreadsheets detect the encoding).

    Returns:
        Number of data rows written.
    """
    rows = csv_rows(records, classes, model_id, calibration)
    with open(path, "w", encoding="utf-8-sig", newline="") as stream:
        csv.writer(stream).writerows(rows)
    return len(rows) - 1


def _jpeg_reader(image: Image.Image):
    from reportlab.lib.utils import ImageReader

    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    buffer.seek(0)
    return ImageReader(buffer)


def _original_image(result: ImageResult) -> Image.Image | None:
    if result.loaded is None:
        return None
    image = Image.fromarray(to_uint8(result.loaded.pixels))
    image.thumbnail((_PAGE_IMAGE_MAX, _PAGE_IMAGE_MAX), Image.Resampling.LANCZOS)
    return image


def _input_with_heatmap(result: ImageResult, class_index: int | None) -> Image.Image | None:
    if result.prepared is None:
        return None
    gray = to_uint8(result.prepared.array).astype(np.float32)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    if result.cams is not None and class_index is not None:
        rgba = colourise(heatmap_for_input(result.cams[..., class_index],
                                           result.prepared.array.shape[0])).astype(np.float32)
        alpha = rgba[..., 3:4] / 255.0 * 0.55
        rgb = rgb * (1.0 - alpha) + rgba[..., :3] * alpha
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    size = max(image.size)
    if size < 448:  # upscale small model inputs without smoothing: show the real pixels
        factor = max(1, 448 // size)
        image = image.resize((image.width * factor, image.height * factor),
                             Image.Resampling.NEAREST)
    return image


def _draw_image(canvas, image: Image.Image | None, x: float, y: float,
                box: float, caption: str) -> None:
    canvas.setFont("Helvetica", 8)
    canvas.drawString(x, y - 12, caption)
    if image is None:
        canvas.rect(x, y - box - 16, box, box)
        canvas.drawCentredString(x + box / 2, y - box / 2 - 16, "not available")
        return
    scale = box / max(image.size)
    width, height = image.width * scale, image.height * scale
    canvas.drawImage(_jpeg_reader(image), x + (box - width) / 2, y - 16 - height,
                     width=width, height=height)


def _draw_wrapped(canvas, text: str, x: float, y: float, width: float,
                  font: str = "Helvetica", size: float = 9, leading: float = 11.5) -> float:
    from reportlab.lib.utils import simpleSplit

    canvas.setFont(font, size)
    for line in simpleSplit(text, font, size, width):
        canvas.drawString(x, y, line)
        y -= leading
    return y


def _draw_page(canvas, result: ImageResult, card: ModelCard, generated: str,
               page: int, pages: int) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4

    width, height = A4
    margin = 40
    inner = width - 2 * margin
    y = _draw_heading(canvas, result, card, generated, margin, height - margin, inner)
    # A refused (OOD) image gets no label, so no class's heat map either.
    shown = result.label
    class_index = card.classes.index(shown) if shown in card.classes else None
    box = (inner - 20) / 2
    _draw_image(canvas, _original_image(result), margin, y, box, "Original image")
    heat_caption = (f"Model input with heat map ({shown})" if shown
                    else "Model input (exactly what the model saw)")
    _draw_image(canvas, _input_with_heatmap(result, class_index), margin + box + 20, y, box,
                heat_caption)
    y -= box + 36

    if not result.ok:
        canvas.setFillColor(colors.HexColor("#c62828"))
        y = _draw_wrapped(canvas, f"This file could not be read: {result.error}", margin, y,
                          inner, font="Helvetica-Bold", size=11, leading=14)
        canvas.setFillColor(colors.black)
    elif result.out_of_distribution:
        y = _draw_refused(canvas, result, margin, y, inner)
    else:
        y = _draw_answer(canvas, result, card, margin, y, inner)

    canvas.setFillColor(colors.HexColor("#37474f"))
    _draw_wrapped(canvas, DISCLAIMER, margin, margin + 30, inner, size=8, leading=10)
    canvas.setFont("Helvetica", 7.5)
    canvas.drawRightString(width - margin, margin - 8, f"Page {page} of {pages}")
    canvas.setFillColor(colors.black)


def _draw_heading(canvas, result: ImageResult, card: ModelCard, generated: str,
                  margin: float, y: float, inner: float) -> float:
    """The title, file, model and date lines (and the site calibration); the y below."""
    canvas.setFont("Helvetica-Bold", 14)
    canvas.drawString(margin, y - 10, f"{APP_NAME} report — {result.path.name}")
    y -= 26
    y = _draw_wrapped(canvas, f"File: {result.path}", margin, y, inner, size=8, leading=10)
    canvas.setFont("Helvetica", 8)
    canvas.drawString(margin, y, f"Model: {result.model_id}    Generated: {generated}    "
                                 f"{APP_NAME} {__version__}")
    y -= 10
    calibrated = calibration_line(card) if is_from_model(result, card.model_id) else None
    if calibrated:
        y = _draw_wrapped(canvas, f"Model {calibrated} (thresholds and gate limits set from "
                                  "the site's films; the measured figures are the model's as "
                                  "trained).", margin, y, inner, font="Helvetica-Bold",
                          size=8, leading=10)
    return y


def _draw_refused(canvas, result: ImageResult, margin: float, y: float, inner: float) -> float:
    """The "not labelled" box of an image the gate refused; the y below it."""
    from reportlab.lib import colors

    reason = (result.ood.reason if result.ood else None) or "outside the training data"
    canvas.setFillColor(colors.HexColor("#fff3e0"))
    canvas.setStrokeColor(colors.HexColor("#e65100"))
    canvas.rect(margin, y - 40, inner, 50, fill=1)
    canvas.setFillColor(colors.HexColor("#5d2a00"))
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(margin + 8, y - 6, "NOT LABELLED — out of distribution")
    _draw_wrapped(canvas, f"Reason: {reason}. No label or probabilities are reported.",
                  margin + 8, y - 22, inner - 16)
    canvas.setFillColor(colors.black)
    canvas.setStrokeColor(colors.black)
    return y - 56


def _draw_answer(canvas, result: ImageResult, card: ModelCard, margin: float, y: float,
                 inner: float) -> float:
    """The decision, its reason, the caution, the probabilities and the population lines."""
    decision = result.decision
    canvas.setFont("Helvetica-Bold", 16)
    label = decision.label if decision else "—"
    if decision is not None and decision.uncertain:
        label += "  (UNCERTAIN)"
    canvas.drawString(margin, y, f"Decision at the operating point: {label}")
    y -= 16
    if decision is not None:
        y = _draw_wrapped(canvas, decision.reason, margin, y, inner)
    if result.caution:
        y = _draw_caution(canvas, result.caution, margin, y - 4, inner)
    y -= 6
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawString(margin, y, "Calibrated probabilities")
    y -= 16
    y = _draw_bars(canvas, result.probabilities or {}, card.classes,
                   decision.label if decision else None, margin, y, inner)
    if result.label is not None:
        y -= 4
        for line in population_lines(card, result.label, result.age):
            y = _draw_wrapped(canvas, line, margin, y, inner, size=8.5, leading=10.5)
    return y


def _draw_bars(canvas, probabilities: dict[str, float], classes: list[str], chosen: str | None,
               margin: float, y: float, inner: float) -> float:
    """One bar per class, the chosen one coloured; the y below them."""
    from reportlab.lib import colors

    bar_x, bar_w = margin + 110, inner - 170
    for name in classes:
        value = probabilities.get(name, 0.0)
        canvas.setFont("Helvetica", 10)
        canvas.drawString(margin, y, name)
        canvas.setStrokeColor(colors.HexColor("#90a4ae"))
        canvas.rect(bar_x, y - 2, bar_w, 11)
        colour = "#1e88e5" if chosen and name == chosen else "#90a4ae"
        canvas.setFillColor(colors.HexColor(colour))
        canvas.rect(bar_x, y - 2, bar_w * value, 11, stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        canvas.setStrokeColor(colors.black)
        canvas.drawRightString(margin + inner, y, f"{value:.1%}")
        y -= 17
    return y


def _draw_caution(canvas, caution: str, x: float, y: float, width: float) -> float:
    """An amber box with the gate's caution under the label; returns the y below it.

    The box is as tall as the wrapped text, so a long caution is never cut off.
    """
    from reportlab.lib import colors
    from reportlab.lib.utils import simpleSplit

    text = f"CAUTION — {caution}."
    lines = simpleSplit(text, "Helvetica-Bold", 9.5, width - 16)
    height = 12 * len(lines) + 10
    canvas.setFillColor(colors.HexColor("#fff3e0"))
    canvas.setStrokeColor(colors.HexColor("#ef8f00"))
    canvas.rect(x, y - height + 10, width, height, fill=1)
    canvas.setFillColor(colors.HexColor("#5d2a00"))
    _draw_wrapped(canvas, text, x + 8, y - 2, width - 16, font="Helvetica-Bold", size=9.5,
                  leading=12)
    canvas.setFillColor(colors.black)
    canvas.setStrokeColor(colors.black)
    return y - height - 4


def write_pdf_report(
    path: Path | str,
    bundle: ModelBundle,
    files: Sequence[Path],
    *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    results: Iterable[ImageResult] | None = None,
) -> int:
    """Classify ``files`` again with pixels and write one A4 page per image.

    Args:
        path: The PDF to write (written to a temporary name first, then renamed, so a
            cancelled export leaves no half file).
        bundle: The model (its card supplies classes and measured metrics).
        files: Images in worklist order.
        progress: Called with (pages done, total).
        cancelled: Polled between images.
        results: Pre-computed full results (tests); by default the files are classified here.

    Returns:
        Pages written (0 when cancelled: no file is left behind).
    """
    from reportlab.pdfgen import canvas as pdf_canvas

    target = Path(path)
    temp = target.with_name(f".{target.name}.part")
    total = len(files)
    generated = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    if results is None:
        results = analyzer_for(bundle).analyse(list(files), batch_size=4, keep_loaded=True,
                                               cancelled=cancelled, workers=1)
    canvas = pdf_canvas.Canvas(str(temp), pagesize=_a4())
    canvas.setTitle(f"{APP_NAME} report")
    canvas.setAuthor(f"{APP_NAME} {__version__}")
    canvas.setSubject(DISCLAIMER)
    pages = 0
    for result in results:
        if cancelled is not None and cancelled():
            break
        pages += 1
        _draw_page(canvas, result, bundle.card, generated, pages, total)
        canvas.showPage()
        if progress is not None:
            progress(pages, total)
    if pages < total or (cancelled is not None and cancelled()):
        temp.unlink(missing_ok=True)
        return 0
    if age_group_populations(bundle.card)[1] is not None or leave_one_source_out_rows(
            bundle.card):
        _draw_model_page(canvas, bundle.card, generated)
        canvas.showPage()
    canvas.save()
    temp.replace(target)
    return pages


def _draw_table(canvas, header: list[str], rows: list[list[str]], x: float, y: float,
                widths: list[float]) -> float:
    """A plain text table (first column left, the rest right-aligned); returns the new y."""
    for rows_, font in (([header], "Helvetica-Bold"), (rows, "Helvetica")):
        canvas.setFont(font, 7.5)
        for row in rows_:
            left = x
            for column, (cell, width) in enumerate(zip(row, widths, strict=False)):
                if column == 0:
                    canvas.drawString(left, y, cell)
                else:
                    canvas.drawRightString(left + width - 4, y, cell)
                left += width
            y -= 10
    return y - 4


def _draw_model_page(canvas, card: ModelCard, generated: str) -> None:
    """A last page: who the model was measured to work for, from its card.

    Per age group, per source, a hospital it never saw (leave one source out) and the limits
    in plain words, so a printed report carries the figures its labels should be read with.
    """
    from reportlab.lib import colors

    width, height = _a4()
    margin = 40
    inner = width - 2 * margin
    y = height - margin
    canvas.setFont("Helvetica-Bold", 14)
    canvas.drawString(margin, y - 10, f"Who the model works for — {card.model_id}")
    y -= 28
    split, populations = age_group_populations(card)
    where = {"test": "held-out test", "validation": "validation"}.get(split, "reported")
    y = _draw_wrapped(canvas, f"From the model card, measured on the model's {where} images at "
                              "the decision the app shows: value (95 % CI), n = films. "
                              f"Generated {generated}.", margin, y, inner, size=8.5)
    header = ["", "films", "accuracy", "non-COVID labelled COVID-19", "ECE"]
    widths = [110, 40, 110, 150, 105]
    if populations is not None:
        for title, key, label in (("Per age group", "per_age_group", age_group_label),
                                  ("Per source", "per_source", str)):
            groups = populations.get(key)
            if not isinstance(groups, Mapping) or not groups:
                continue
            canvas.setFont("Helvetica-Bold", 10)
            canvas.drawString(margin, y - 6, title)
            y -= 20
            y = _draw_table(canvas, header, group_table(groups, label=label), margin, y, widths)
    loso = leave_one_source_out_rows(card)
    if loso:
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(margin, y - 6, "A hospital the model never saw (leave one source out)")
        y -= 20
        y = _draw_table(canvas, ["source left out", "films", "COVID-19 found",
                                 "non-COVID labelled COVID-19", "accuracy"], loso, margin, y,
                        [90, 40, 125, 125, 125])
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawString(margin, y - 6, "What this means in practice")
    y -= 20
    for text in plain_limits(card):
        y = _draw_wrapped(canvas, f"• {text}", margin, y, inner, size=8.5) - 3
    canvas.setFillColor(colors.HexColor("#37474f"))
    _draw_wrapped(canvas, DISCLAIMER, margin, margin + 30, inner, size=8, leading=10)
    canvas.setFillColor(colors.black)


def _a4() -> tuple[float, float]:
    from reportlab.lib.pagesizes import A4

    return A4
