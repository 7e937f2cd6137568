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
  intervals, the lung-masked shortcut audit), and the report in ``--report-dir``.

The model files and their sha256 are untouched, so the bundle stays verifiable and keeps its
``model_id``; the card's ``decision.decided`` says when and by what rule the operating point
was set, and ``training_config`` records the rule's settings. The TEST split is evaluated at
the end, never used to choose anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
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
        log: Receives one line per step.

    Returns:
        The new card.

    Raises:
        ValueError: If the validation subset is empty, naming the data, or ``report_dir``
            holds no training history.
    """
    from desktop_app.core.classify.inference import TfliteModel
    from desktop_app.core.imaging.film_files import write_atomically
    from desktop_app.core.model.model_bundle import load_bundle
    from desktop_app.core.model.model_card import CARD_FILE
    from desktop_app.core.site.check_set_record import record_check_set
    from model_training.bundle_evaluation import record_gate_figures
    from model_training.calibration import decision_for_config, operating_point_settings
    from model_training.data_fingerprint import rows_fingerprint
    from model_training.data_pipeline import load_preprocessed
    from model_training.datasets import read_dataset
    from model_training.evaluation import evaluate, population_columns, predict
    from model_training.finalize import LIMITATIONS, compact_floats
    from model_training.metrics import softmax
    from model_training.ood_fitting import GateReference, fit_gate
    from model_training.report import write_report
    from model_training.splits import assign_subsets

    say = log or (lambda _line: None)
    folder = Path(model_dir)
    bundle = load_bundle(folder)
    card_path = folder / CARD_FILE
    card = json.loads(card_path.read_text(encoding="utf-8"))
    classes = list(bundle.card.classes)
    config = dict(card.get("training_config", {}))
    table = assign_subsets(read_dataset(data, task=bundle.card.task),
                           val_fraction=float(config.get("val_fraction", 0.15)),
                           test_fraction=float(config.get("test_fraction", 0.2)),
                           seed=int(config.get("seed", 2026)))
    model = TfliteModel(bundle)
    temperature = float(bundle.card.temperature)
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

    val = subsets["val"]
    rule = operating_point_settings(config)
    val_columns = population_columns(val["rows"])
    decision = decision_for_config(softmax(val["outputs"].logits, temperature), val["labels"],
                                   classes, val_columns.get("age_groups"), rule)
    decision["decided"] = {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "by": "model_training.redecide (python -m model_training decide)",
        "rule": "90 % validation sensitivity per finding, strict thresholds, specificity "
                "anchors on adult films, age-group thresholds (docs/operating_point.md)",
    }
    say(f"thresholds {decision['thresholds']}; by age group "
        f"{ {k: v['thresholds'] for k, v in decision.get('by_age_group', {}).items()} }")

    def reference(subset: dict[str, Any]) -> GateReference:
        return GateReference.from_images(subset["outputs"].features, subset["stats"],
                                         subset["arrays"])

    say("fitting the out-of-distribution gate (train; feature threshold on validation)")
    ood = compact_floats(fit_gate(reference(subsets["train"]), subsets["train"]["labels"],
                                  reference(val), classes))

    val_eval = evaluate(model, val["arrays"], val["labels"], classes, **val_columns,
                        temperature=temperature, decision=decision, shortcut_audit=False,
                        bootstrap_rounds=200, seed=int(config.get("seed", 2026)),
                        outputs=val["outputs"])
    metrics = dict(card.get("metrics", {}))
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

    card["decision"] = decision
    card["ood"] = ood
    card["metrics"] = metrics
    card["training_config"] = {**config, **rule}
    card["limitations"] = list(LIMITATIONS)  # today's wording, which describes the rule
    # Atomic (a crash never leaves half a card), with the usual file permissions.
    write_atomically(card_path, (json.dumps(card, indent=2) + "\n").encode("utf-8"))
    load_bundle(folder)  # the rewritten card must still load and verify
    say(f"rewrote {card_path}")
    if test_eval is not None:
        say("measuring the gate on the TEST split through the app's classify path")
        metrics["test"]["gate"] = record_gate_figures(
            folder, subsets["test"]["rows"], softmax(test_eval.logits, temperature),
            bootstrap_rounds=bootstrap_rounds, seed=int(config.get("seed", 2026)))
    say("measuring the non-chest check set through the app's classify path")
    card["ood"]["check_set"] = record_check_set(folder)
    if report_dir is not None:
        # The training curves come from the export's report (the weights did not change).
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
        say(f"rewrote the report in {report_dir}")
    return card

