"""The result panel: what the model says about the shown image, and how far to trust it.

Shows a bar per class with the calibrated percentage, the decision at the model's operating
point, an *uncertain* state when no class is confidently ahead, an amber caution under the
label when the gate accepted an unusual film (never hidden: the label alone would look as
sure as any other), a banner (and no label) for inputs the out-of-distribution gate
refused, the model's measured performance for the shown class — for the patient's age
group when the DICOM header tells it, else for adults and children side by side, each with
its 95 % interval and images — the decision-support disclaimer and a link to the model card.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtWidgets

from desktop_app import DISCLAIMER
from desktop_app.core.metrics.figures import FEW_IMAGES, age_group_label, format_figure, is_few
from desktop_app.core.model.calibration_line import calibration_line
from desktop_app.ui.card_metrics import (
    age_group_figures,
    age_group_populations,
    class_metrics,
    format_metric,
)

if TYPE_CHECKING:
    from desktop_app.core.classify.analysis import ImageResult
    from desktop_app.core.model.model_card import ModelCard
    from desktop_app.core.patient_age import PatientAge

__all__ = ["ResultPanel", "format_metric", "population_html"]

_FEW_COLOUR = "#b26a00"

_OOD_STYLE = (
    "QFrame#oodBanner { background: #fff3e0; border: 1px solid #e65100; border-radius: 4px; }"
    "QFrame#oodBanner QLabel { color: #5d2a00; }"
)
_ERROR_STYLE = (
    "QFrame#oodBanner { background: #ffebee; border: 1px solid #c62828; border-radius: 4px; }"
    "QFrame#oodBanner QLabel { color: #5f1010; }"
)
_BAR_STYLE = (
    "QProgressBar { border: 1px solid palette(mid); border-radius: 3px; text-align: center;"
    " min-height: 18px; }"
    "QProgressBar::chunk { background-color: %s; border-radius: 2px; }"
)
_CAUTION_STYLE = (
    "background: #fff3e0; color: #5d2a00; border: 2px solid #ef8f00;"
    " border-radius: 3px; padding: 4px 6px;"
)
_CHOSEN_COLOUR = "#1e88e5"
_OTHER_COLOUR = "#90a4ae"


class ResultPanel(QtWidgets.QScrollArea):
    """Read-only summary of one image's result.

    Signals:
        model_card_requested(): The user clicked the model-card link.
    """

    model_card_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(280)
        self.setAccessibleName("Result")
        self._card: ModelCard | None = None
        self._result: ImageResult | None = None
        self._shown_class: str | None = None
        self._bars: dict[str, QtWidgets.QProgressBar] = {}

        body = QtWidgets.QWidget(self)
        layout = QtWidgets.QVBoxLayout(body)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(8)

        self._make_header(body, layout)
        self._make_answer(body, layout)
        self._make_boxes(body, layout)
        layout.addStretch(1)
        self.disclaimer_label = QtWidgets.QLabel(DISCLAIMER, body)
        self.disclaimer_label.setWordWrap(True)
        self.disclaimer_label.setStyleSheet(
            "background: palette(alternate-base); border-left: 3px solid #1e88e5;"
            " padding: 6px; font-size: 11px;"
        )
        self.disclaimer_label.setAccessibleName("Disclaimer")
        layout.addWidget(self.disclaimer_label)
        self.setWidget(body)
        self._refresh()

        self.model_label.linkActivated.connect(self._on_model_label_link_activated)

    def _make_header(self, body: QtWidgets.QWidget, layout: QtWidgets.QVBoxLayout) -> None:
        """The file name and the banner of a refused or unreadable file."""
        self.file_label = QtWidgets.QLabel("No image selected", body)
        self.file_label.setWordWrap(True)
        self.file_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.file_label.font()
        font.setBold(True)
        self.file_label.setFont(font)
        self.file_label.setAccessibleName("File name")
        layout.addWidget(self.file_label)

        self.ood_banner = QtWidgets.QFrame(body)
        self.ood_banner.setObjectName("oodBanner")
        self.ood_banner.setStyleSheet(_OOD_STYLE)
        banner_layout = QtWidgets.QVBoxLayout(self.ood_banner)
        banner_layout.setContentsMargins(10, 8, 10, 8)
        self.ood_title = QtWidgets.QLabel(self.ood_banner)
        title_font = self.ood_title.font()
        title_font.setBold(True)
        self.ood_title.setFont(title_font)
        self.ood_title.setWordWrap(True)
        self.ood_reason = QtWidgets.QLabel(self.ood_banner)
        self.ood_reason.setWordWrap(True)
        self.ood_reason.setAccessibleName("Reason the image was not labelled")
        banner_layout.addWidget(self.ood_title)
        banner_layout.addWidget(self.ood_reason)
        self.ood_banner.hide()
        layout.addWidget(self.ood_banner)

    def _make_answer(self, body: QtWidgets.QWidget, layout: QtWidgets.QVBoxLayout) -> None:
        """The decision, the uncertain and caution notes, the reason."""
        self.decision_label = QtWidgets.QLabel(body)
        decision_font = self.decision_label.font()
        decision_font.setPointSizeF(decision_font.pointSizeF() * 1.6)
        decision_font.setBold(True)
        self.decision_label.setFont(decision_font)
        self.decision_label.setWordWrap(True)
        self.decision_label.setAccessibleName("Decision")
        layout.addWidget(self.decision_label)

        self.uncertain_label = QtWidgets.QLabel("UNCERTAIN — no class is confidently ahead", body)
        self.uncertain_label.setStyleSheet(
            "background: #fff8e1; color: #6d4c00; border: 1px solid #ffb300;"
            " border-radius: 3px; padding: 3px 6px; font-weight: bold;"
        )
        self.uncertain_label.setWordWrap(True)
        self.uncertain_label.setAccessibleName("Uncertain result")
        self.uncertain_label.hide()
        layout.addWidget(self.uncertain_label)

        self.caution_label = QtWidgets.QLabel(body)
        self.caution_label.setStyleSheet(_CAUTION_STYLE)
        self.caution_label.setWordWrap(True)
        self.caution_label.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caution_label.setAccessibleName("Caution: unusual film")
        self.caution_label.hide()
        layout.addWidget(self.caution_label)

        self.reason_label = QtWidgets.QLabel(body)
        self.reason_label.setWordWrap(True)
        self.reason_label.setAccessibleName("Reason for the decision")
        layout.addWidget(self.reason_label)

    def _make_boxes(self, body: QtWidgets.QWidget, layout: QtWidgets.QVBoxLayout) -> None:
        """The probabilities, the measured performance and the model line."""
        self.bars_box = QtWidgets.QGroupBox("Calibrated probabilities", body)
        self._bars_layout = QtWidgets.QFormLayout(self.bars_box)
        self._bars_layout.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow
        )
        layout.addWidget(self.bars_box)

        self.metrics_box = QtWidgets.QGroupBox("Measured performance", body)
        metrics_layout = QtWidgets.QVBoxLayout(self.metrics_box)
        self.metrics_label = QtWidgets.QLabel(self.metrics_box)
        self.metrics_label.setWordWrap(True)
        self.metrics_label.setAccessibleName("Measured sensitivity and specificity")
        metrics_layout.addWidget(self.metrics_label)
        layout.addWidget(self.metrics_box)

        self.model_label = QtWidgets.QLabel(body)
        self.model_label.setWordWrap(True)
        self.model_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.model_label.setOpenExternalLinks(False)
        self.model_label.setAccessibleName("Model")
        layout.addWidget(self.model_label)

    # -- public API ----------------------------------------------------------------------------

    @property
    def result(self) -> ImageResult | None:
        """The result shown."""
        return self._result

    def set_model_card(self, card: ModelCard | None) -> None:
        """Use this model's classes and metrics."""
        self._card = card
        for name in list(self._bars):
            bar = self._bars.pop(name)
            self._bars_layout.removeRow(bar)
        for name in card.classes if card else []:
            bar = QtWidgets.QProgressBar(self.bars_box)
            bar.setRange(0, 1000)
            bar.setAccessibleName(f"Probability of {name}")
            bar.setStyleSheet(_BAR_STYLE % _OTHER_COLOUR)
            self._bars_layout.addRow(name, bar)
            self._bars[name] = bar
        self._refresh()

    def set_result(self, result: ImageResult | None) -> None:
        """Show a result (``None`` clears the panel)."""
        self._result = result
        self._refresh()

    def set_message(self, title: str, text: str = "") -> None:
        """Show a status message instead of a result (e.g. "Analysing…")."""
        self._result = None
        self._refresh()
        self.file_label.setText(_breakable(title))
        self.reason_label.setText(text)

    def set_shown_class(self, name: str | None) -> None:
        """The class whose measured performance is shown (follows the heat-map class)."""
        self._shown_class = name
        self._refresh_metrics()

    def bar_value(self, name: str) -> float:
        """Probability shown for ``name`` (0..1), for tests and accessibility checks."""
        return self._bars[name].value() / 1000.0

    # -- rendering -----------------------------------------------------------------------------

    def _refresh(self) -> None:
        result = self._result
        self.ood_banner.hide()
        self.uncertain_label.hide()
        self.caution_label.hide()
        self.caution_label.clear()
        self.decision_label.clear()
        self.reason_label.clear()
        self._refresh_model_label()
        if result is None:
            self.file_label.setText("No image selected")
            self.bars_box.setVisible(bool(self._bars))
            self._set_bars(None, None)
        else:
            self.file_label.setText(_breakable(result.path.name))
            self.file_label.setToolTip(str(result.path))
            if not result.ok:
                self._show_banner(_ERROR_STYLE, "This file could not be read", result.error or "")
            elif result.out_of_distribution:
                reason = result.ood.reason if result.ood else None
                self._show_banner(
                    _OOD_STYLE,
                    "Not labelled: this image does not look like the frontal chest X-rays the "
                    "model was trained on",
                    f"Reason: {reason or 'outside the training distribution'}.\n"
                    "The model's output would not be meaningful, so no label or probabilities "
                    "are shown.")
            else:
                self._show_answer(result)
        self._refresh_metrics()

    def _refresh_model_label(self) -> None:
        card = self._card
        if card is None:
            self.model_label.setText("<i>Model not loaded yet.</i>")
            return
        calibrated = calibration_line(card)
        # The figures above are the card's, measured at the model's own thresholds.
        site = (f"<br><b>{_escape(calibrated[:1].upper() + calibrated[1:])}</b> "
                "(thresholds and gate limits set from the site's films; the measured "
                "figures above are the model's as trained)" if calibrated else "")
        self.model_label.setText(
            f"Model <b>{_escape(_breakable(card.model_id))}</b> — "
            "<a href='card'>model card: training data, metrics, limitations…</a>" + site
        )

    def _show_banner(self, style: str, title: str, reason: str) -> None:
        """No label: the banner says why (unreadable, or refused by the gate)."""
        self.ood_banner.setStyleSheet(style)
        self.ood_title.setText(title)
        self.ood_reason.setText(reason)
        self.ood_banner.show()
        self.bars_box.hide()

    def _show_answer(self, result: ImageResult) -> None:
        """The label, its reason, the uncertain and caution notes, the probabilities."""
        self.bars_box.show()
        decision = result.decision
        if decision is not None:
            self.decision_label.setText(decision.label)
            self.reason_label.setText(decision.reason + _thresholds_note(result))
            self.uncertain_label.setVisible(decision.uncertain)
            colour = "#8d6e00" if decision.uncertain else "palette(text)"
            self.decision_label.setStyleSheet(f"color: {colour};")
        if result.caution:
            self.caution_label.setText(
                f"<b>Caution — {_escape(result.caution)}.</b><br>The label and probabilities "
                "below are shown, but the model saw few films like this one: read them with "
                "care.")
            self.caution_label.show()
        self._set_bars(result.probabilities, decision.label if decision else None)

    def _set_bars(self, probabilities: dict[str, float] | None, chosen: str | None) -> None:
        for name, bar in self._bars.items():
            value = None if probabilities is None else probabilities.get(name)
            if value is None:
                bar.setValue(0)
                bar.setFormat("—")
                bar.setAccessibleDescription("no result")
                continue
            bar.setValue(round(value * 1000))
            bar.setFormat(f"{value:.1%}")
            bar.setAccessibleDescription(f"{name}: {value:.1%}")
            bar.setStyleSheet(_BAR_STYLE % (_CHOSEN_COLOUR if name == chosen else _OTHER_COLOUR))

    def _refresh_metrics(self) -> None:
        card = self._card
        name = self._shown_class
        result = self._result
        refused = result is not None and (not result.ok or result.out_of_distribution)
        if card is None or refused:
            # No label was given, so the performance of a label would only distract.
            self.metrics_box.hide()
            return
        self.metrics_box.show()
        if name is None or name not in card.classes:
            name = card.classes[-1]
        self.metrics_box.setTitle(f"Measured performance — {name}")
        age = result.age if result is not None else None
        split, populations = age_group_populations(card)
        if populations is not None:
            self.metrics_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
            self.metrics_label.setText(population_html(name, populations, split, age))
            return
        # Older cards: one set of figures over all test images, and what is missing.
        self.metrics_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        measured = class_metrics(card, name)
        missing = ("This model's card has no figures per age group (older model), so these "
                   "are over all its test images together and may not hold for this "
                   "patient's age group.")
        patient = f"Patient's age: {_age_words(age)}.\n" if age is not None else ""
        if not measured.reported:
            self.metrics_label.setText(
                "Sensitivity: not reported\nSpecificity: not reported\nAUROC: not reported\n"
                f"(this model card reports no per-class figures)\n{patient}{missing}"
            )
            return
        self.metrics_label.setText(
            f"Sensitivity: {format_metric(measured.sensitivity)}\n"
            f"Specificity: {format_metric(measured.specificity)}\n"
            f"AUROC: {format_metric(measured.auroc, percent=False)}\n"
            f"(measured on the {measured.where}; per-source figures and limitations are in "
            f"the model card)\n{patient}{missing}"
        )

    def _on_model_label_link_activated(self, _link: str) -> None:
        self.model_card_requested.emit()


def _thresholds_note(result: ImageResult) -> str:
    """Which thresholds decided the label, and why that set (the core's one wording).

    A card may hold thresholds per age group; the same probabilities can then give a child
    and an adult different labels, so the reader is told which rule applied and why.
    """
    note = result.thresholds_note
    return f"\nDecided at the {note}." if note else ""


def _age_words(age: PatientAge | None) -> str:
    """"45 years (DICOM PatientAge 045Y)" or "unknown (PNG files carry no patient age)"."""
    if age is None:
        return "unknown (no image shown)"
    if age.known:
        return f"{age.describe()} ({age.source})" if age.source else age.describe()
    return f"unknown ({age.reason})" if age.reason else "unknown"


def _figure_cell(entry: Any, percent: bool) -> str:
    """Value in bold, then its 95 % interval and the images it rests on, on a second line."""
    text = format_figure(entry, percent=percent, with_n=False, flag_few=False, missing="")
    if not text:
        return "<i>no images</i>"
    value, _, interval = text.partition(" (")
    n = entry.get("n") if isinstance(entry, Mapping) else None
    details = [_escape(interval.rstrip(")"))] if interval else []
    if isinstance(n, int):
        details.append(f"n={n}")
    # Non-breaking: a narrow panel wraps between cells, not inside "52.9-79.1 n=69".
    cell = f"<b>{_escape(value)}</b><br><small>{'&nbsp;&nbsp;'.join(details)}</small>"
    return f"<span style='color:{_FEW_COLOUR}'>{cell}</span>" if is_few(entry) else cell


def population_html(class_name: str, populations: Mapping[str, Any], split: str,
                    age: PatientAge | None) -> str:
    """The measured figures for the patient's age group, or adults and children side by side.

    An overall figure on the public test images mostly measures children, and the model does
    far worse on adults, so the panel shows the figures of the population the image belongs
    to when the DICOM header says (adults are 18 and over), else both. A figure resting on
    fewer than :data:`FEW_IMAGES` images gets a one-line warning.

    Args:
        class_name: The class whose figures are shown (the label, or the heat-map class).
        populations: The card's ``populations`` section (with ``per_age_group``).
        split: Which images it was measured on (``"test"`` or ``"validation"``).
        age: The patient's age, or None when no image is shown.
    """
    per_age = populations.get("per_age_group")
    measured_groups = set(per_age) if isinstance(per_age, Mapping) else set()
    group = age.age_group if age is not None else "unknown"
    if group in ("adult", "child") and group in measured_groups:
        groups: tuple[str, ...] = (group,)
        who = (f"Patient: {_escape(_age_words(age))}. Figures for "
               f"<b>{_escape(age_group_label(group).lower())}</b>:")
    else:
        groups = tuple(g for g in ("adult", "child") if g in measured_groups)
        why = (f"Patient's age {_escape(_age_words(age))}"
               if age is not None else "No image shown")
        if group in ("adult", "child"):
            why += f"; the card has no figures for {_escape(age_group_label(group).lower())}"
        names = " and ".join(_escape(age_group_label(g).lower()) for g in groups)
        who = f"{why}. Figures for {names}:"
    figures = age_group_figures(populations, class_name, groups)
    head = "".join(f"<th align='right'>{_escape(age_group_label(g))}</th>" for g in groups)
    rows = "".join(
        f"<tr><td valign='top'>{_escape(figure.label)}</td>"
        + "".join(f"<td align='right' valign='top'>"
                  f"{_figure_cell(figure.per_group.get(g), figure.percent)}</td>"
                  for g in groups) + "</tr>"
        for figure in figures)
    few = [f"{figure.label.split(' (')[0]}, {age_group_label(g).lower()} "
           f"(n={figure.per_group[g].get('n')})"
           for figure in figures for g in groups if is_few(figure.per_group.get(g))]
    warning = (f"<p style='color:{_FEW_COLOUR}'>&#9888; Few images (under {FEW_IMAGES}), "
               f"so wide uncertainty: {_escape('; '.join(few))}.</p>" if few else "")
    where = {"test": "held-out test images", "validation": "validation images"}.get(
        split, "images the card reports")
    return (f"<p>{who}</p>"
            f"<table cellspacing='0' cellpadding='3'><tr><th></th>{head}</tr>{rows}</table>"
            f"{warning}"
            f"<p><small>Each figure: value, 95 % confidence interval, n = films it rests on. "
            f"Measured on the model's {_escape(where)} at the decision the app shows; adults "
            "are 18 and over. Per-source figures and limits are in the model card.</small></p>")


def _breakable(text: str) -> str:
    """Let long file names (DICOM UIDs, PACS exports) wrap instead of widening the panel."""
    out = []
    run = 0
    for char in text:
        out.append(char)
        run = 0 if char.isspace() else run + 1
        if char in "_-." or run >= 24:
            out.append("\u200b")  # zero-width space: a line-break opportunity
            run = 0
    return "".join(out)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
