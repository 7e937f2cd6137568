"""Leave-one-source-out: train without one COVID-19 source, test on that source alone.

The TEST split shares hospitals, scanners and web collections with the training images, so
its COVID-19 sensitivity partly measures "recognised a familiar collection". A clinic's films
come from a hospital the model never saw. Holding out every image of one source (all of its
classes) from training and validation and testing on it is the honest estimate of that case:
how many of a new source's COVID-19 films are found, and how many of its non-COVID films are
called COVID-19.

Patients are kept whole: a patient with images in the held-out source and elsewhere (the
dataset joins copies of one patient across collections) is left out of training too, so no
film of a test patient is ever learned from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from model_training.splits import assign_subsets

__all__ = ["format_holdout_table", "holdout_summary", "holdout_table", "record_in_card"]


def holdout_table(
    table: pd.DataFrame,
    source: str,
    *,
    val_fraction: float = 0.15,
    seed: int = 2026,
) -> pd.DataFrame:
    """A copy of ``table`` whose ``subset`` is ``test`` for ``source`` and never elsewhere.

    Every image of ``source`` (TRAIN and TEST rows alike) and every image of a patient who has
    one becomes ``test``. The other rows of the data's TEST split are dropped (they would
    measure the familiar sources again); the rest is split into train / val by patient as
    usual (:func:`model_training.splits.assign_subsets`).

    Raises:
        ValueError: If ``source`` has no images, or training would lose a whole class, naming
            the source and the sources present.
    """
    sources = table["source"].astype(str)
    if source not in set(sources):
        raise ValueError(f"source {source!r} has no images; sources present: "
                         f"{sorted(set(sources))}")
    held_patients = set(table.loc[sources == source, "patient_id"].astype(str))
    held = table["patient_id"].astype(str).isin(held_patients)
    rest = table.loc[~held & (table["split"].astype(object) != "TEST")].copy()
    rest["split"] = "TRAIN"
    rest = assign_subsets(rest, val_fraction=val_fraction, seed=seed)
    missing = sorted(set(table["label"].astype(str)) - set(rest["label"].astype(str)))
    if missing:
        raise ValueError(f"without source {source!r} no training images of {missing} remain")
    test = table.loc[held].copy()
    test["subset"] = "test"
    combined = pd.concat([rest, test], ignore_index=True)
    combined["label"] = pd.Categorical(combined["label"].astype(str),
                                       categories=list(table["label"].cat.categories))
    return combined


def holdout_summary(source: str, metrics: dict[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """The figures of one held-out run that the card and docs report.

    Args:
        source: The held-out source.
        metrics: ``metrics["test"]`` of the run's finalized report (its ``populations``).
        table: The run's table (for the counts).

    Returns:
        Counts, and the held-out source's COVID-19 sensitivity, non-COVID films labelled
        COVID-19 and accuracy: population figures (value, 95 % CI, n) at the app's decision
        on that source's images, ``None`` where the source has no image of that kind.
    """
    populations = metrics["populations"]
    own = populations["per_source"].get(source, {})
    test_rows = table[(table["subset"] == "test") & (table["source"].astype(str) == source)]
    return {
        "source": source,
        "test_images": len(test_rows),
        "test_per_class": {str(k): int(v) for k, v in
                           test_rows["label"].astype(str).value_counts().sort_index().items()},
        "train_images": int((table["subset"] == "train").sum()),
        "val_images": int((table["subset"] == "val").sum()),
        "covid_sensitivity": own.get("per_class", {}).get("COVID-19", {}).get("sensitivity"),
        "non_covid_labelled_covid": own.get("labelled_covid_non_covid"),
        "accuracy": own.get("accuracy"),
        "covid_auroc_all_test_rows": populations["per_class"].get("COVID-19", {}).get("auroc"),
    }


def _cell(figure: dict[str, Any] | None) -> str:
    if figure is None:
        return "n/a"
    text = f"{100 * figure['value']:.0f} %"
    if figure.get("ci95"):
        low, high = figure["ci95"]
        text += f" ({100 * low:.0f}-{100 * high:.0f})"
    return f"{text}, n={figure['n']}"


def format_holdout_table(summaries: list[dict[str, Any]]) -> list[str]:
    """A Markdown table of held-out runs, one row per source (for docs and the terminal)."""
    lines = [
        "| held-out source | test images | COVID-19 found | non-COVID labelled COVID-19 | "
        "accuracy |",
        "|---|---|---|---|---|",
    ]
    for item in summaries:
        per_class = ", ".join(f"{k} {v}" for k, v in item["test_per_class"].items())
        lines.append(
            f"| {item['source']} | {item['test_images']} ({per_class}) | "
            f"{_cell(item['covid_sensitivity'])} | {_cell(item['non_covid_labelled_covid'])} | "
            f"{_cell(item['accuracy'])} |")
    return lines


#: Settings that make a held-out run a different recipe from the model's (the split's own
#: settings and paths do not).
RECIPE_KEYS = ("task", "arch", "input_size", "intensity", "region", "lung_margin", "width",
               "epochs", "augment", "optimizer", "learning_rate", "schedule", "label_smoothing",
               "class_weighting", "quantization", "target_sensitivity")
_RECIPE_DEFAULTS = {"intensity": "percentile", "region": "image"}


def recipe_difference(model: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    """How the held-out runs' recipe differs from the model's, in words ("" when it does not).

    A study run at reduced scale (a smaller input, fewer epochs) is still worth recording, but
    the card must not call it the model's own recipe.
    """
    differences = []
    for key in RECIPE_KEYS:
        own = model.get(key, _RECIPE_DEFAULTS.get(key))
        theirs = sorted({str(run.get(key, _RECIPE_DEFAULTS.get(key))) for run in runs})
        if own is None or theirs == [str(own)]:
            continue
        differences.append(f"{key} {' / '.join(theirs)} (this model: {own})")
    return "; ".join(differences)


def record_in_card(card_path: Path, summaries: list[dict[str, Any]]) -> None:
    """Write the study into a card's ``metrics.leave_one_source_out`` (atomically).

    Only the card JSON changes; the model files, whose sha256 the card lists, stay untouched.
    When the runs' recipe differs from the model's, the card says how.
    """
    card = json.loads(card_path.read_text(encoding="utf-8"))
    configs = [item.get("training_config") or {} for item in summaries]
    difference = recipe_difference(card.get("training_config") or {}, configs)
    recipe = ("same recipe as this model" if not difference
              else f"this model's recipe except {difference}")
    card.setdefault("metrics", {})["leave_one_source_out"] = {
        "what": "each COVID-19 source in turn left out of training and validation (all of its "
                f"images and patients) and tested on; {recipe}; figures at the app's decision "
                "with patient-level bootstrap 95 % CIs",
        "runs": [{k: v for k, v in item.items() if k != "training_config"}
                 for item in summaries],
        "recipe": summaries[0].get("training_config") if summaries else None,
    }
    temporary = card_path.with_name(f".{card_path.name}.tmp")
    temporary.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    temporary.replace(card_path)
