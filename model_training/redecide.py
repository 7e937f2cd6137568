"""Re-decide an exported bundle: today's operating-point rule and gate, the same weights.

``python -m model_training decide --model DIR --data PATH [--report-dir DIR]``

How answers become decisions changes more often than the network: the specificity anchors and
age-group thresholds of 2026-12-06 (docs/operating_point.md) and the gate's caution tier
(docs/ood_evaluation.md) apply to the bundled model without retraining it. This recomputes,
from the bundle's own validation split (the seed and fractions its card records) and through
LiteRT, exactly what an export computes after training:

* the ``decision`` section, by :func:`model_training.calibration.decision_for_config` (the
  temperature is kept: calibration does not depend on the operating point);
* the ``ood`` section, by :func:`model_training.ood_fitting.fit_gate` (refusal limits included);
* ``metrics.validation`` and ``metrics.test`` at the new operating point (every population,
  intervals, the lung-masked shortcut audit, each finding's threshold curves with the new
  operating point: ``metrics.test.threshold_curves``), and the report in ``--report-dir``.

The model files and their sha256 are untouched, so the bundle stays verifiable and keeps its
``model_id``; the card's ``decision.decided`` says when and by what rule the operating point
was set, and ``training_config`` records the rule's settings. The TEST split is evaluated at
the end, never used to choose anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["redecide_bundle"]


def redecide_bundle(
    model_dir: Path | str,
    data: Path | str,
    *,
    report_dir: Path | str | None = None,
    bootstrap_rounds: int = 1000,
    cache_dir: Path | str | None = None,
    rule: Mapping[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Rewrite a bundle card's decision, gate and metrics by the current rules.

    Args:
        model_dir: The bundle folder (its card is rewritten in place, atomically).
        data: The dataset the bundle was trained on (any layout ``read_dataset`` accepts).
        report_dir: Where to rewrite ``report.json`` and its figures (``None``: no report);
            the folder the export wrote its report to (its training curves are kept).
        bootstrap_rounds: Bootstrap resamples for the TEST intervals.
        cache_dir: Preprocessed-image cache (default: the user cache).
        rule: Operating-point settings that replace the card's (``max_false_covid``,
            ``adult_pneumonia``, ...: :data:`model_training.calibration.RULE_FIELDS`).
        log: Receives one line per step.

    Returns:
        The new card.

    Raises:
        ValueError: If the validation subset is empty, naming the data, or ``report_dir``
            holds no training history.
    """
    from desktop_app.core.classify.inference import TfliteModel
    from desktop_app.core.model.model_bundle import load_bundle
    from desktop_app.core.model.model_card import CARD_FILE
    from desktop_app.core.site.check_set_record import record_check_set
    from model_training.calibration import RULE_FIELDS

    unknown = sorted(set(rule or {}) - set(RULE_FIELDS))
    if unknown:
        raise ValueError(f"unknown operating-point setting(s) {unknown}; known: {RULE_FIELDS}")
    say = log or (lambda _line: None)
    folder = Path(model_dir)
    bundle = load_bundle(folder)
    card_path = folder / CARD_FILE
    card = json.loads(card_path.read_text(encoding="utf-8"))
    classes = list(bundle.card.classes)
    config = {**card.get("training_config", {}), **(rule or {})}
    table = _split_table(data, bundle.card.task, config)
    model = TfliteModel(bundle)
    temperature = float(bundle.card.temperature)
    subsets = _predicted_subsets(table, bundle, model, data, cache_dir, say)
    decision, rule = _decision(subsets["val"], classes, temperature, config, say)
    ood = _fitted_gate(subsets, classes, say)
    metrics, test_eval = _evaluated(model, subsets, classes, temperature, decision, config,
                                    dict(card.get("metrics", {})), bootstrap_rounds, say)
    _rewrite_card(folder, card_path, card, decision=decision, ood=ood, metrics=metrics,
                  training_config={**config, **rule})
    say(f"rewrote {card_path}")
    if test_eval is not None:
        say("measuring the gate on the TEST split through the app's classify path")
        _measure_test_gate(folder, subsets["test"], test_eval, temperature, metrics,
                           bootstrap_rounds, int(config.get("seed", 2026)))
    say("measuring the non-chest check set through the app's classify path")
    card["ood"]["check_set"] = record_check_set(folder)
    if report_dir is not None:
        _rewrite_report(report_dir, folder, card, test_eval, classes, temperature)
        say(f"rewrote the report in {report_dir}")
    return card


def _split_table(data: Path | str, task: str, config: dict[str, Any]) -> Any:
    """The dataset with the subsets its card's seed and fractions give (patient-level)."""
    from model_training.datasets import read_dataset
    from model_training.splits import assign_subsets

    return assign_subsets(read_dataset(data, task=task),
                          val_fraction=float(config.get("val_fraction", 0.15)),
                          test_fraction=float(config.get("test_fraction", 0.2)),
                          seed=int(config.get("seed", 2026)))


def _rewrite_card(folder: Path, card_path: Path, card: dict[str, Any],
                  **sections: dict[str, Any]) -> None:
    """Put the new sections and today's limitations in the card; write it and re-verify."""
    from desktop_app.core.imaging.film_files import write_atomically
    from desktop_app.core.model.model_bundle import load_bundle
    from model_training.finalize import LIMITATIONS

    card.update(sections)
    card["limitations"] = list(LIMITATIONS)  # today's wording, which describes the rule
    # Atomic (a crash never leaves half a card), with the usual file permissions.
    write_atomically(card_path, (json.dumps(card, indent=2) + "\n").encode("utf-8"))
    load_bundle(folder)  # the rewritten card must still load and verify


def _measure_test_gate(folder: Path, test: dict[str, Any], test_eval: Any, temperature: float,
                       metrics: dict[str, Any], bootstrap_rounds: int, seed: int) -> None:
    """The gate's figures on the TEST split through the app's classify path, in ``metrics``."""
    from model_training.bundle_evaluation import record_gate_figures
    from model_training.metrics import softmax

    metrics["test"]["gate"] = record_gate_figures(
        folder, test["rows"], softmax(test_eval.logits, temperature),
        bootstrap_rounds=bootstrap_rounds, seed=seed)


def _predicted_subsets(table: Any, bundle: Any, model: Any, data: Path | str,
                       cache_dir: Path | str | None,
                       say: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Each subset's readable rows, preprocessed arrays, labels, statistics and outputs."""
    from model_training.data_pipeline import load_preprocessed
    from model_training.evaluation import predict

    subsets: dict[str, Any] = {}
    for name in ("train", "val", "test"):
        rows = table[table["subset"] == name].reset_index(drop=True)
        if rows.empty:
            if name == "val":
                raise ValueError(f"the validation subset of {str(data)!r} is empty")
            continue
        say(f"{name}: preprocessing and predicting {len(rows)} films through LiteRT")
        images = load_preprocessed(rows["path"].tolist(), bundle.card.preprocessing,
                                   cache_dir=cache_dir)
        keep = [i for i in range(len(rows)) if i not in images.errors]
        kept = rows.iloc[keep]
        arrays = images.arrays[keep]
        subsets[name] = {
            "rows": kept, "arrays": arrays, "labels": kept["label"].cat.codes.to_numpy(),
            "stats": [images.stats[i] for i in keep],
            "file_sha1": [images.file_sha1[i] for i in keep],
            "outputs": predict(model, arrays),
        }
    return subsets


def _decision(val: dict[str, Any], classes: list[str], temperature: float,
              config: dict[str, Any], say: Callable[[str], None]
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Today's operating point on the validation split, dated; and the rule's settings."""
    from model_training.calibration import (
        decision_for_config,
        describe_rule,
        operating_point_settings,
    )
    from model_training.evaluation import population_columns
    from model_training.metrics import softmax

    rule = operating_point_settings(config)
    val_columns = population_columns(val["rows"])
    decision = decision_for_config(softmax(val["outputs"].logits, temperature), val["labels"],
                                   classes, val_columns.get("age_groups"), rule)
    decision["decided"] = {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "by": "model_training.redecide (python -m model_training decide)",
        "rule": describe_rule(rule),
    }
    say(f"thresholds {decision['thresholds']}; by age group "
        f"{ {k: v['thresholds'] for k, v in decision.get('by_age_group', {}).items()} }")
    return decision, rule


def _fitted_gate(subsets: dict[str, dict[str, Any]], classes: list[str],
                 say: Callable[[str], None]) -> dict[str, Any]:
    """The card's ``ood`` section: the gate fitted on train, its threshold on validation."""
    from model_training.finalize import compact_floats
    from model_training.ood_fitting import GateReference, fit_gate

    def reference(subset: dict[str, Any]) -> GateReference:
        return GateReference.from_images(subset["outputs"].features, subset["stats"],
                                         subset["arrays"])

    say("fitting the out-of-distribution gate (train; feature threshold on validation)")
    return compact_floats(fit_gate(reference(subsets["train"]), subsets["train"]["labels"],
                                   reference(subsets["val"]), classes))


def _evaluated(model: Any, subsets: dict[str, dict[str, Any]], classes: list[str],
               temperature: float, decision: dict[str, Any], config: dict[str, Any],
               metrics: dict[str, Any], bootstrap_rounds: int,
               say: Callable[[str], None]) -> tuple[dict[str, Any], Any]:
    """``metrics`` with validation and (when there is one) TEST at the new operating point."""
    from model_training.data_fingerprint import rows_fingerprint
    from model_training.evaluation import evaluate, population_columns
    from model_training.threshold_curve_card import record_threshold_curves

    val = subsets["val"]
    val_eval = evaluate(model, val["arrays"], val["labels"], classes,
                        **population_columns(val["rows"]), temperature=temperature,
                        decision=decision, shortcut_audit=False, bootstrap_rounds=200,
                        seed=int(config.get("seed", 2026)), outputs=val["outputs"])
    metrics["validation"] = val_eval.metrics
    test_eval = None
    if "test" in subsets:
        test = subsets["test"]
        say("evaluating the TEST split at the new operating point")
        test_eval = evaluate(model, test["arrays"], test["labels"], classes,
                             **population_columns(test["rows"]), temperature=temperature,
                             decision=decision, bootstrap_rounds=bootstrap_rounds,
                             seed=int(config.get("seed", 2026)), outputs=test["outputs"])
        metrics["test"] = test_eval.metrics
        metrics["test"]["rows_fingerprint"] = rows_fingerprint(test["rows"], test["file_sha1"])
        record_threshold_curves(metrics["test"], test_eval, test["rows"], classes, temperature,
                                decision, bootstrap_rounds=bootstrap_rounds,
                                seed=int(config.get("seed", 2026)))
    return metrics, test_eval


def _rewrite_report(report_dir: Path | str, folder: Path, card: dict[str, Any], test_eval: Any,
                    classes: list[str], temperature: float) -> None:
    """Rewrite the report; the training curves come from the export's report (same weights)."""
    from model_training.report import write_report

    old = next((path for path in (Path(report_dir) / "report.json",
                                  folder / "report" / "report.json") if path.is_file()),
               None)
    history = json.loads(old.read_text(encoding="utf-8")).get("history") if old else None
    if not history:
        raise ValueError(f"no training history in {str(report_dir)!r} or the bundle's "
                         "report folder: --report-dir must be the folder the export "
                         "wrote its report to")
    write_report(report_dir, card_fields=card, history=history, test=test_eval,
                 classes=classes, temperature=temperature)

