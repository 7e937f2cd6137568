"""The model card dialog: what the model is, what it was trained on, how well it does.

Rendered as HTML from :class:`ModelCard` so it can be read, selected and copied. The card's
``metrics`` and ``training_data`` sections are written by the training code and may grow; they
are rendered generically (nested tables), with the figures clinicians ask for first —
per-class sensitivity/specificity/AUROC, per-source results, calibration and the
pediatric/adult shortcut audit — pulled to the top. "Who it works for" shows the
per-population figures (key figures, per age group, per source, each with its 95 % interval and
the images it rests on) and each finding's threshold curves on the TEST films per population
(:mod:`desktop_app.ui.card_curves`), or says plainly that an older card has none. Large
numeric arrays (the out-of-distribution statistics) are summarised, never dumped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app import DISCLAIMER
from desktop_app.core.metrics.figures import (
    FEW_IMAGES_NOTE,
    KEY_FIGURES,
    age_group_label,
    format_figure,
)
from desktop_app.core.model.calibration_line import calibration_line
from desktop_app.ui.calibration_tables import CARD_FIGURES_NOTE, section_html
from desktop_app.ui.card_curves import IMAGE_SCHEME, curve_images, curves_html
from desktop_app.ui.card_metrics import (
    calibration_summary,
    class_metrics,
    format_metric,
    leave_one_source_out_rows,
    plain_limits,
    split_section,
)
from desktop_app.ui.validation_history import validations_html

if TYPE_CHECKING:
    from desktop_app.core.model.model_card import ModelCard

__all__ = ["POPULATIONS_ANCHOR", "ModelCardDialog", "model_card_html"]

#: Anchor of the "Who it works for" section (the dialog can scroll straight to it).
POPULATIONS_ANCHOR = "populations"

_SHORTCUT_WORDS = ("pediatric", "paediatric", "child", "shortcut", "adult")


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return _esc(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _render(value: Any, depth: int = 0) -> str:
    """Nested tables for dicts, lists of scalars inline; big numeric lists summarised."""
    if _is_scalar(value):
        return "—" if value is None else _scalar(value)
    if isinstance(value, Mapping):
        if not value:
            return "—"
        rows = "".join(
            f"<tr><th align='left' valign='top'>{_esc(k)}</th><td>{_render(v, depth + 1)}</td></tr>"
            for k, v in value.items()
        )
        return f"<table cellspacing='0' cellpadding='3' border='0'>{rows}</table>"
    if isinstance(value, list | tuple):
        if not value:
            return "—"
        if all(_is_scalar(v) for v in value):
            if len(value) > 12 and all(isinstance(v, int | float) for v in value):
                return f"[{len(value)} numbers]"
            return ", ".join(_scalar(v) for v in value)
        if depth > 2:
            return f"[{len(value)} items]"
        return "<br>".join(_render(v, depth + 1) for v in value[:50])
    return _esc(value)


def _grid(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + f"<th align='left'>{row[0]}</th>"
        + "".join(f"<td align='right'>{cell}</td>" for cell in row[1:]) + "</tr>"
        for row in rows
    )
    return (f"<table class='grid' cellspacing='0' cellpadding='4' border='1'>"
            f"<tr>{head}</tr>{body}</table>")


def _pct(value: Any) -> str:
    text = format_metric(value)
    return "<i>not reported</i>" if text == "not reported" else text


def _num(value: Any) -> str:
    text = format_metric(value, percent=False)
    return "<i>—</i>" if text == "not reported" else text


def _per_class_section(card: ModelCard) -> str:
    rows = []
    where = ""
    for name in card.classes:
        measured = class_metrics(card, name)
        where = where or measured.where
        rows.append([_esc(name), _pct(measured.sensitivity), _pct(measured.specificity),
                     _num(measured.auroc)])
    if not where:
        return "<p><i>Per-class metrics: not reported.</i></p>"
    return (f"<p>Measured on the {_esc(where)}.</p>"
            + _grid(["class", "sensitivity", "specificity", "AUROC"], rows))


def _per_source_section(card: ModelCard) -> str:
    split, sources = split_section(card, "per_source")
    if not isinstance(sources, Mapping) or not sources:
        return "<p><i>not reported</i></p>"
    header = ["source", "images", "accuracy", "macro AUROC",
              *(f"sensitivity {c}" for c in card.classes)]
    rows = []
    for source, values in sources.items():
        if not isinstance(values, Mapping):
            rows.append([_esc(source), _render(values)])
            continue
        per_class = values.get("per_class") if isinstance(values.get("per_class"), Mapping) else {}
        rows.append([
            _esc(source), _esc(values.get("n", "—")), _pct(values.get("accuracy")),
            _num(values.get("macro_auroc")),
            *(_pct((per_class.get(c) or {}).get("sensitivity")) for c in card.classes),
        ])
    note = f"<p>On the {_esc(split)} set. Small sources give unstable figures.</p>" if split \
        else ""
    return note + _grid(header, rows)


def _shortcut_section(card: ModelCard) -> str:
    split, audit = split_section(card, "shortcut_audit")
    parts = []
    if isinstance(audit, Mapping):
        masked = audit.get("overall") if isinstance(audit.get("overall"), Mapping) else {}
        normal = card.metric(split, "overall") if split else card.metric("overall")
        normal = normal if isinstance(normal, Mapping) else {}
        if audit.get("mask"):
            parts.append(f"<p>Audit: the lung fields are masked ({_esc(audit['mask'])}) and the "
                         "model is evaluated again. A model that still finds a class without "
                         "the lungs relies on something else (age, hospital, text, "
                         "post-processing).</p>")
        rows = [["accuracy", _pct(normal.get("accuracy")), _pct(masked.get("accuracy"))]]
        masked_classes = masked.get("per_class") if isinstance(masked.get("per_class"),
                                                               Mapping) else {}
        normal_classes = normal.get("per_class") if isinstance(normal.get("per_class"),
                                                               Mapping) else {}
        for name in card.classes:
            rows.append([f"sensitivity {_esc(name)}",
                         _pct((normal_classes.get(name) or {}).get("sensitivity")),
                         _pct((masked_classes.get(name) or {}).get("sensitivity"))])
        parts.append(_grid(["", "whole image", "lungs masked"], rows))
    elif audit is not None:
        parts.append(_render(audit))
    _, pediatric = split_section(card, "pediatric")
    if pediatric is not None:
        parts.append("<p><b>Pediatric subset</b></p>" + _render(pediatric))
    return "".join(parts)


def _fig(entry: Any, *, percent: bool = True, with_n: bool = True) -> str:
    """A figure for an HTML cell; "—" when there was nothing to measure it on."""
    return _esc(format_figure(entry, percent=percent, with_n=with_n, missing="—"))


def _group_table(title: str, groups: Mapping[str, Any], *, label: Any = str) -> str:
    rows = []
    for group, figures in groups.items():
        if not isinstance(figures, Mapping):
            continue
        rows.append([
            _esc(label(group)), _esc(figures.get("n", "—")),
            _fig(figures.get("accuracy"), with_n=False),
            _fig(figures.get("labelled_covid_non_covid")),
            _fig(figures.get("ece"), percent=False, with_n=False),
        ])
    if not rows:
        return ""
    return _grid([title, "images", "accuracy (95 % CI)", "non-COVID labelled COVID-19 (95 % CI)",
                  "ECE (95 % CI)"], rows)


def _populations_section(card: ModelCard) -> str:
    """Key figures and tables per source and per age group, or why there are none.

    An overall score on the public data mostly measures children, so the card says for whom
    the model was measured to work, each figure with its interval and the images behind it.
    """
    split, populations = split_section(card, "populations")
    if not isinstance(populations, Mapping) or not isinstance(
            populations.get("key_figures"), Mapping):
        return (
            "<p class='warn'>This model's card has <b>no per-population figures</b> (by source "
            "and by age group, e.g. how often adults without COVID-19 are labelled COVID-19). "
            "Cards of older models do not have them; they are measured when a model is "
            "trained again (on its validation and test images), when the training wizard "
            "compares a new model with the installed one, and by "
            "<code>python -m model_training evaluate</code>.</p>"
        )
    overall = populations.get("overall")
    size = overall.get("n") if isinstance(overall, Mapping) else None
    where = {"test": "held-out test set", "validation": "validation set"}.get(split, "")
    measured = f"the {where}" if where else "the images the card reports"
    if isinstance(size, int):
        measured += f" ({size} images)"
    caveat = (" The card has no per-population figures from a test set; the validation images "
              "also chose the calibration and the operating point, so these figures are "
              "somewhat optimistic."
              if split == "validation" else "")
    bootstrap = populations.get("bootstrap") if isinstance(populations.get("bootstrap"),
                                                           Mapping) else {}
    rounds, unit = bootstrap.get("rounds"), bootstrap.get("unit")
    interval = (f" Intervals: 95 % bootstrap, {rounds} resamples of {unit}s."
                if isinstance(rounds, int) and rounds > 0 and unit else "")
    key_figures = populations["key_figures"]
    rows = [[_esc(figure.label),
             _esc(format_figure(key_figures.get(figure.key), percent=figure.percent,
                                missing="not measurable (no images)"))]
            for figure in KEY_FIGURES]
    parts = [
        f"<p>Measured on {_esc(measured)}, at the decision the app shows. Each figure: value, "
        f"95 % confidence interval in brackets, n = the images it rests on.{_esc(interval)}"
        f"{_esc(caveat)}</p>",
        "<h3>Key figures</h3>",
        _grid(["figure", "value (95 % CI), images"], rows),
    ]
    for title, key, label in (("Per age group", "per_age_group", age_group_label),
                              ("Per source", "per_source", str)):
        groups = populations.get(key)
        if isinstance(groups, Mapping) and groups:
            parts += [f"<h3>{title}</h3>",
                      _group_table(title.removeprefix("Per ").capitalize(), groups,
                                   label=label)]
    parts.append(f"<p><small>{_esc(FEW_IMAGES_NOTE)}. —: no images of that kind in the "
                 "group.</small></p>")
    return "".join(parts)


def _plain_limits_section(card: ModelCard) -> str:
    """What the figures mean for a clinic, in sentences (see ``card_metrics.plain_limits``)."""
    items = "".join(f"<li>{_esc(text)}</li>" for text in plain_limits(card))
    return f"<h3>What this means in practice</h3><ul>{items}</ul>"


def _leave_one_source_out_section(card: ModelCard) -> str:
    """The leave-one-source-out runs: how the recipe did on a hospital it never saw."""
    rows = leave_one_source_out_rows(card)
    if not rows:
        return ("<h3>A hospital the model never saw</h3><p><i>Not measured: this card records "
                "no leave-one-source-out test.</i></p>")
    study = card.metric("leave_one_source_out")
    what = study.get("what") if isinstance(study, Mapping) else None
    note = (f"<p>{_esc(what[:1].upper() + what[1:].rstrip('.'))}.</p>"
            if isinstance(what, str) and what else "")
    return ("<h3>A hospital the model never saw (leave one source out)</h3>" + note
            + _grid(["source left out", "test images", "COVID-19 found (95 % CI)",
                     "non-COVID labelled COVID-19 (95 % CI)", "accuracy (95 % CI)"],
                    [[_esc(cell) for cell in row] for row in rows]))


def _gate_section(card: ModelCard) -> str:
    """Films the gate refuses or labels with a caution: on TEST, and at unseen sources.

    Sensitivity is shown both ways because a clinic experiences the second: a refused
    COVID-19 film is a COVID-19 film not found.
    """
    parts = ["<h3>Films refused or labelled with a caution</h3>"]
    test = card.metric("test", "gate")
    if isinstance(test, Mapping) and isinstance(test.get("per_class"), Mapping):
        parts.append(f"<p>TEST split, through the app's own classify path: "
                     f"{_esc(test.get('refused'))} of {_esc(test.get('films'))} films refused, "
                     f"{_esc(test.get('cautioned'))} labelled with a caution.</p>")
        rows = [[_esc(name), _esc(entry.get("films")), _esc(entry.get("refused")),
                 _esc(entry.get("cautioned")), _fig(entry.get("sensitivity_labelled")),
                 _fig(entry.get("sensitivity_counting_refused"))]
                for name, entry in test["per_class"].items() if isinstance(entry, Mapping)]
        parts.append(_grid(["class", "films", "refused", "cautioned",
                            "found, of the films labelled",
                            "found, counting refused films as not found"], rows))
    else:
        parts.append("<p><i>This card records no gate figures on its TEST split.</i></p>")
    study = card.metric("leave_one_source_out_gate")
    if isinstance(study, Mapping) and isinstance(study.get("per_source"), Mapping):
        strict = study.get("strict") if isinstance(study.get("strict"), Mapping) else {}
        rows = []
        for source, entry in study["per_source"].items():
            other = strict.get(source, {}) if isinstance(strict, Mapping) else {}
            rows.append([_esc(source), _esc(entry.get("n")), _pct(entry.get("refused_one_tier")),
                         _pct(entry.get("refused_two_tiers")), _pct(entry.get("cautioned")),
                         _pct(other.get("refused_two_tiers")) if other else "—"])
        parts.append("<p>A hospital the gate never saw: the gate fitted without each source, "
                     "that source's real frontal films judged "
                     f"({_esc(study.get('measured', ''))}).</p>")
        parts.append(_grid(["source left out", "frontal films", "refused, refusing at the "
                            "usual limits", "refused, with the caution tier", "cautioned",
                            "refused, network also trained without it"], rows))
    parts.append(_category_table(card.metric("gate_by_category")))
    return "".join(parts)


def _category_table(study: Any) -> str:
    """What the gate does per kind of image: refused, labelled with or without a caution.

    Written into the card by ``benchmarks/gate_categories.py --model-card``: images that
    must be refused (CT, MR, ultrasound, laterals, photos, screenshots, figures) beside
    frontal films that must be answered, so the trade is visible.
    """
    if not isinstance(study, Mapping) or not isinstance(study.get("per_category"), Mapping):
        return ""
    rows = []
    for name, entry in study["per_category"].items():
        if not isinstance(entry, Mapping) or not entry.get("n"):
            continue
        n = float(entry["n"])
        rows.append([_esc(name), _esc(entry["n"]),
                     *(_pct(float(entry.get(key, 0)) / n)
                       for key in ("refused", "cautioned", "answered"))])
    held_out = study.get("held_out_categories")
    note = ("<p>Images of every kind, through the app's own classify path "
            f"({_esc(study.get('measured', ''))}, view model "
            f"{_esc(study.get('view_model', ''))}). Non-chest cases and lateral patients "
            "were never trained on.</p>")
    parts = ["<h3>What the gate does with each kind of image</h3>", note,
             _grid(["kind of image", "images", "refused", "labelled with a caution",
                    "labelled without a caution"], rows)]
    if isinstance(held_out, Mapping) and held_out:
        loco = []
        for model, table in held_out.items():
            if not isinstance(table, Mapping):
                continue
            for name, entry in table.items():
                if isinstance(entry, Mapping) and entry.get("n") and name.startswith("all "):
                    n = float(entry["n"])
                    loco.append([_esc(f"{name.removeprefix('all ')}, view check trained "
                                      f"without {model.split(' (')[0]}"), _esc(entry["n"]),
                                 *(_pct(float(entry.get(key, 0)) / n)
                                   for key in ("refused", "cautioned", "answered"))])
        if loco:
            parts += ["<p>A kind of image nobody thought of: the view check trained without "
                      "it.</p>",
                      _grid(["kind of image", "images", "refused", "labelled with a caution",
                             "labelled without a caution"], loco)]
    return "".join(parts)


def _without_populations(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics with each ``populations`` and curves block pointing to its section.

    Hundreds of curve points are a plot, not a table.
    """
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if key in ("populations", "threshold_curves"):
            out[key] = "shown under \"Who it works for\""
        elif isinstance(value, Mapping):
            out[key] = _without_populations(value)
        else:
            out[key] = value
    return out


def _ood_summary(ood: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ood.items() if _is_scalar(v)}


def _inference_model(card: ModelCard) -> str:
    """What the app runs: float32, or int8 with how far it is from the trained Keras model."""
    export = card.metric("export")
    if not isinstance(export, Mapping) or export.get("quantization") in (None, "none"):
        return "LiteRT, float32 (equal to the trained Keras model within 1e-4)"
    text = f"LiteRT, {export['quantization']} (quantized after training"
    difference = export.get("max_abs_probability_difference")
    agreement = export.get("argmax_agreement")
    if isinstance(difference, int | float) and isinstance(agreement, int | float):
        text += (f"; on {export.get('images', '?')} validation images its probabilities differ "
                 f"from the Keras model's by at most {difference:.3f} and the top class agrees "
                 f"on {agreement:.1%}")
    return text + "); every figure on this card is measured on this model"


def _site_calibration_section(card: ModelCard) -> str:
    """For a calibrated bundle: for which site, what moved, what it changed; else nothing."""
    section = getattr(card, "site_calibration", None)
    if not section or not calibration_line(card):
        return ""
    return ("<h2>Site calibration</h2>"
            f"<p class='warn'>{_esc(CARD_FIGURES_NOTE)}</p>"
            + section_html(section))


def model_card_html(card: ModelCard) -> str:
    """The whole card as an HTML document."""
    parts = [
        "<style>h2{margin-top:14px;} th{background:#eceff1;} "
        "table.grid{border-collapse:collapse;} .warn{background:#fff8e1;padding:6px;}</style>",
        f"<h1>{_esc(card.model_id)}</h1>",
        _render({
            "version": card.version, "created": card.created, "architecture": card.architecture,
            "task": card.task, "classes": card.classes,
            "trained with LungLens": card.software_version,
            "model the app runs": _inference_model(card),
        }),
        _site_calibration_section(card),
        "<h2>Intended use</h2>",
        f"<p>{_esc(card.intended_use)}</p>",
        f"<p><i>{_esc(DISCLAIMER)}</i></p>",
        "<h2>Limitations</h2>",
        _limitations_section(card),
        f"<h2><a name='{POPULATIONS_ANCHOR}'></a>Who it works for</h2>",
        _populations_section(card),
        curves_html(card),
        _plain_limits_section(card),
        _leave_one_source_out_section(card),
        _gate_section(card),
        validations_html(card.model_id),
        "<h2>Performance per class</h2>",
        _per_class_section(card),
        "<h2>Performance per source</h2>",
        _per_source_section(card),
        *_record_sections(card),
    ]
    return "".join(parts)


def _limitations_section(card: ModelCard) -> str:
    """The pediatric / adult shortcut first (audited or not), then the other limitations."""
    shortcut_limits = [t for t in card.limitations
                       if any(word in t.lower() for word in _SHORTCUT_WORDS)]
    other_limits = [t for t in card.limitations if t not in shortcut_limits]
    shortcut_html = _shortcut_section(card)
    if shortcut_limits or shortcut_html:
        text = ("<div class='warn'><b>Pediatric / adult shortcut.</b> "
                + "".join(f"<p>{_esc(t)}</p>" for t in shortcut_limits) + "</div>"
                + shortcut_html)
    else:
        text = (
            "<p class='warn'><b>Pediatric / adult shortcut:</b> this card reports no audit. "
            "Public pneumonia images are mostly pediatric and COVID-19 images mostly adult, so "
            "a model can learn age instead of disease; treat results on children with care.</p>"
        )
    if other_limits:
        text += "<ul>" + "".join(f"<li>{_esc(t)}</li>" for t in other_limits) + "</ul>"
    return text


def _record_sections(card: ModelCard) -> list[str]:
    """The card's records as they stand: calibration, operating point, data, metrics, files."""
    return [
        "<h2>Calibration</h2>",
        _render(calibration_summary(card)),
        "<h2>Operating point</h2>",
        _render(card.decision),
        "<h2>Training data</h2>",
        _render(card.training_data),
        "<h2>All reported metrics</h2>",
        _render(_without_populations(card.metrics)),
        "<h2>Preprocessing</h2>",
        _render(card.preprocessing.to_dict()),
        "<h2>Out-of-distribution gate</h2>",
        _render(_ood_summary(card.ood)),
        "<h2>Training configuration</h2>",
        _render(card.training_config),
        "<h2>Files (SHA-256)</h2>",
        "<table cellpadding='3'>" + "".join(
            f"<tr><th align='left'>{_esc(n)}</th><td><code>{_esc(h)}</code></td></tr>"
            for n, h in card.files.items()
        ) + "</table>",
    ]


class _CardBrowser(QtWidgets.QTextBrowser):
    """A text browser that serves the card's plots (``lunglens-curve:`` images)."""

    def __init__(self, images: Mapping[str, Any], parent: QtWidgets.QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.images = dict(images)

    def loadResource(self, kind: int, name: QtCore.QUrl) -> Any:
        """The plot for a ``lunglens-curve:`` URL; anything else as usual."""
        if name.scheme() == IMAGE_SCHEME and name.toString() in self.images:
            return self.images[name.toString()]
        return super().loadResource(kind, name)


class ModelCardDialog(QtWidgets.QDialog):
    """Shows a model card; resizable, text selectable, with "Copy" for reports."""

    def __init__(self, card: ModelCard, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.card = card
        self.setWindowTitle(f"Model card — {card.model_id}")
        self.setMinimumSize(560, 420)
        self.resize(940, 720)
        self.browser = _CardBrowser(curve_images(card, self.font()), self)
        self.browser.setOpenExternalLinks(True)
        self.browser.setAccessibleName("Model card")
        self.browser.setHtml(model_card_html(card))
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = buttons.addButton(
            "Copy as Text", QtWidgets.QDialogButtonBox.ButtonRole.ActionRole
        )
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)

        buttons.rejected.connect(self.reject)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)

    def text(self) -> str:
        """Plain-text content (for tests and the clipboard)."""
        return self.browser.toPlainText()

    def _on_copy_button_clicked(self) -> None:
        QtGui.QGuiApplication.clipboard().setText(self.text())

