"""Evaluate an exported bundle through LiteRT - exactly what the app runs.

The wizard uses this to compare a newly trained model with the installed one on the same
split: the split is rebuilt with the seed and validation fraction recorded in the card, and
images are preprocessed with the card's spec.

With ``gate=True`` every image also goes through the app's classify path
(:class:`desktop_app.core.classify.analysis.Analyzer`: image checks, view check, appearance and
feature checks), so the metrics add which images the app refuses or labels with a caution and
each class's sensitivity counting the refused ones as not found (``metrics["gate"]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["evaluate_bundle", "gate_verdicts", "record_gate_figures"]


def evaluate_bundle(
    bundle_dir: Path | str,
    data: Path | str,
    *,
    subset: str = "test",
    bootstrap_rounds: int = 1000,
    cache_dir: Path | str | None = None,
    gate: bool = False,
) -> dict[str, Any]:
    """Metrics of a bundle on one subset of a dataset.

    Args:
        bundle_dir: The bundle folder.
        data: Dataset folder or CSV (any layout :func:`read_dataset` accepts).
        subset: ``"test"``, ``"val"``, ``"train"`` or ``"all"``.
        bootstrap_rounds: Bootstrap resamples for AUROC CIs.
        cache_dir: Preprocessed-image cache (default: the user cache).
        gate: Also run the app's gate on every image (decodes each file again) and report
            the refused and cautioned images and sensitivity both ways.

    Returns:
        The metrics of :func:`model_training.evaluation.evaluate` plus ``model_id``,
        ``subset``, ``rows_fingerprint`` (of the evaluated rows, comparable with the card's
        ``metrics.test.rows_fingerprint``) and ``skipped`` (unreadable files).

    Raises:
        ValueError: If the subset is empty or unknown, quoting it.
    """
    from desktop_app.core.classify.inference import TfliteModel
    from desktop_app.core.model.model_bundle import load_bundle
    from model_training.data_fingerprint import rows_fingerprint
    from model_training.data_pipeline import load_preprocessed
    from model_training.evaluation import evaluate, population_columns

    if subset not in ("test", "val", "train", "all"):
        raise ValueError(f"subset must be test, val, train or all. Received: {subset!r}")
    bundle = load_bundle(bundle_dir)
    card = bundle.card
    table = _subset_rows(data, card, subset)
    images = load_preprocessed(table["path"].tolist(), card.preprocessing, cache_dir=cache_dir)
    keep = [i for i in range(len(table)) if i not in images.errors]
    labels = table["label"].cat.codes.to_numpy()[keep]
    rows = table.iloc[keep]
    verdicts = gate_verdicts(bundle, rows["path"].tolist()) if gate else {}
    result = evaluate(TfliteModel(bundle), images.arrays[keep], labels, card.classes,
                      **population_columns(rows),
                      temperature=card.temperature, decision=card.decision,
                      bootstrap_rounds=bootstrap_rounds, **verdicts)
    metrics = result.metrics
    metrics["rows_fingerprint"] = rows_fingerprint(rows, [images.file_sha1[i] for i in keep])
    metrics["model_id"] = card.model_id
    metrics["subset"] = subset
    metrics["skipped"] = {table.at[i, "path"]: reason for i, reason in images.errors.items()}
    return metrics


def _subset_rows(data: Path | str, card: Any, subset: str) -> Any:
    """The subset's rows, split as the card's training run split them (seed, fractions)."""
    from model_training.datasets import read_dataset
    from model_training.splits import assign_subsets

    config = card.training_config
    table = read_dataset(data, task=card.task)
    table = assign_subsets(table, val_fraction=float(config.get("val_fraction", 0.15)),
                           test_fraction=float(config.get("test_fraction", 0.2)),
                           seed=int(config.get("seed", 2026)))
    if subset != "all":
        table = table[table["subset"] == subset].reset_index(drop=True)
    if table.empty:
        raise ValueError(f"the {subset!r} subset of {str(data)!r} is empty")
    return table


def record_gate_figures(bundle_dir: Path | str, rows: Any, probabilities: Any, *,
                        bootstrap_rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Put the gate's TEST figures into a finished bundle's card (``metrics.test.gate``).

    The refusals come from the app's classify path on the bundle as exported (its gate,
    refusal limits and view check), the labels from the card's decision at each film's age
    group; the card is rewritten (it is not hashed, the model files are).

    Args:
        bundle_dir: The exported bundle.
        rows: The TEST rows of the dataset table (``path``, ``label``, ``patient_id``,
            optional ``age_group``), in the order of ``probabilities``.
        probabilities: Calibrated probabilities of those rows.
        bootstrap_rounds: Bootstrap resamples for the intervals.
        seed: Bootstrap seed.

    Returns:
        The figures written.
    """
    import json

    from desktop_app.core.metrics.decisions import decision_predictions
    from desktop_app.core.metrics.refusals import refusal_figures
    from desktop_app.core.model.model_bundle import load_bundle
    from desktop_app.core.model.model_card import CARD_FILE

    bundle = load_bundle(bundle_dir)
    classes = list(bundle.card.classes)
    verdicts = gate_verdicts(bundle, rows["path"].astype(str).tolist())
    ages = rows["age_group"].astype(str).tolist() if "age_group" in rows.columns else None
    chosen, _ = decision_predictions(probabilities, classes, bundle.card.decision, ages)
    labels = [classes.index(str(label)) for label in rows["label"]]
    figures = refusal_figures(labels, chosen, verdicts["refused"], classes,
                              cautioned=verdicts["cautioned"],
                              patients=rows["patient_id"].astype(str).tolist(),
                              bootstrap_rounds=bootstrap_rounds, seed=seed)
    card_path = Path(bundle_dir) / CARD_FILE
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card.setdefault("metrics", {}).setdefault("test", {})["gate"] = figures
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    load_bundle(bundle_dir)  # the rewritten card must still load
    return figures


def gate_verdicts(bundle: Any, paths: list[str]) -> dict[str, list[bool]]:
    """``refused`` and ``cautioned`` flags of each file, from the app's own classify path.

    The keyword arguments :func:`model_training.evaluation.evaluate` takes for its ``gate``
    figures (a finished bundle's test split, for its card).
    """
    from desktop_app.core.classify.analysis import Analyzer

    results = list(Analyzer(bundle).analyse([Path(path) for path in paths]))
    # A file the cached loader read but the app cannot is refused in the app too.
    return {"refused": [not r.ok or r.out_of_distribution for r in results],
            "cautioned": [r.caution is not None for r in results]}
