"""The model card's "Validations on local data" section: what each site measured, when, on what.

Read from the records :func:`desktop_app.core.validation.validation.validate` keeps in
the user data folder, so a clinician opening the card sees beside the developer's test figures
the figures measured on the site's own films (date, dataset and its fingerprint, films measured and
refused, accuracy, macro AUROC and the adult false-COVID rate with their intervals).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from desktop_app.core.metrics.figures import format_figure
from desktop_app.core.validation.validation_records import stored_validations

__all__ = ["VALIDATIONS_ANCHOR", "validations_html"]

VALIDATIONS_ANCHOR = "validations"


def _get(record: Mapping[str, Any], *keys: str) -> Any:
    value: Any = record
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def validations_html(model_id: str) -> str:
    """HTML heading and table of the stored validations of ``model_id`` (newest first)."""
    heading = f"<h2><a name='{VALIDATIONS_ANCHOR}'></a>Validations on local data</h2>"
    stored = stored_validations(model_id)
    if not stored:
        return (heading + "<p><i>None yet. Analysis › Validate on Local Data… measures this "
                "model on your own labelled films; each validation is listed here.</i></p>")
    header = ["date (UTC)", "data", "films measured", "with a caution",
              "refused / unreadable", "accuracy", "macro AUROC", "adults: false COVID-19"]
    rows = []
    for validation in stored:
        record = validation.record
        counts = _get(record, "metrics", "counts") or {}
        fingerprint = str(_get(record, "data_fingerprint", "sha256") or "")[:12]
        cells = [
            validation.created.replace("T", " ")[:16],
            f"{validation.dataset} ({fingerprint})",
            str(counts.get("measured", "?")),
            str(counts.get("cautioned", "—")),  # records before 2026-12-06 did not count them
            f"{counts.get('out_of_distribution', '?')} / {counts.get('failed', '?')}",
            format_figure(_get(record, "metrics", "overall", "accuracy"), with_n=False),
            format_figure(_get(record, "metrics", "overall", "macro_auroc"), percent=False,
                          with_n=False),
            format_figure(_get(record, "metrics", "populations", "key_figures",
                               "adult_false_covid_rate"), missing="no adults"),
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return (heading + "<p>Measured with this model on labelled films of your own (films the "
            "out-of-distribution check refused are excluded from the figures). Value (95 % "
            "interval).</p><table class='grid' cellspacing='0' cellpadding='4' border='1'><tr>"
            + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" + "".join(rows)
            + "</table>")
