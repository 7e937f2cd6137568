"""How each operating-point rule decides on a source the model never saw (leave-one-source-out).

``python benchmarks/operating_point.py RUN_DIR... [--json out.json] [--markdown out.md]``

Each ``RUN_DIR`` is the output of ``python -m model_training loso --holdout-source S --out
RUN_DIR`` (``bundle/`` and ``run/table.csv``; ``scripts/loso_study.sh``): a model trained
without every film of source S. For every candidate rule the thresholds are chosen on that
model's own validation films (in-collection, as an export does) and then applied to S's films,
which the model never saw. The rule that holds best across held-out sources is the one a new
site should get; docs/operating_point.md states the choice and why.

Probabilities come from the exported LiteRT bundle (the app's path: loader, the card's
preprocessing, temperature); they are cached in ``RUN_DIR/predictions.npz``. No TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.classify.inference import TfliteModel
from desktop_app.core.classify.lung_fields import ModelInputs
from desktop_app.core.errors import ImageLoadError
from desktop_app.core.imaging import load_image, model_min_side
from desktop_app.core.metrics.decisions import decision_predictions
from desktop_app.core.model.model_bundle import load_bundle
from model_training.calibration import choose_decision

__all__ = ["RULES", "Predictions", "evaluate_rule", "predict_run"]

#: Validation sensitivity target of every rule (the shipped recipe's).
TARGET_SENSITIVITY = 0.90


@dataclass(frozen=True)
class Predictions:
    """Calibrated probabilities of one leave-one-source-out model.

    Attributes:
        source: The held-out source.
        classes: Class names.
        subset: ``val`` or ``test`` (the held-out source) per row.
        labels: True class index per row.
        age_groups: ``child`` / ``adult`` / ``unknown`` per row (the data's metadata).
        probabilities: ``(n, classes)``.
    """

    source: str
    classes: list[str]
    subset: np.ndarray
    labels: np.ndarray
    age_groups: np.ndarray
    probabilities: np.ndarray


def predict_table(bundle_dir: Path, table: Any, cache: Path, source: str) -> Predictions:
    """Predict ``table``'s ``val`` and ``test`` rows with a bundle (cached in ``cache``)."""
    bundle = load_bundle(bundle_dir)
    classes = list(bundle.card.classes)
    table = table[table["subset"].isin(["val", "test"])].reset_index(drop=True)
    if cache.is_file():
        probabilities = np.load(cache)["probabilities"]
    else:
        model = TfliteModel(bundle, num_threads=2)
        inputs = ModelInputs(bundle.card.preprocessing)
        min_side = model_min_side(bundle.card.preprocessing.input_size)
        rows = []
        for start in range(0, len(table), 32):
            arrays = []
            for path in table["path"][start:start + 32]:
                try:
                    pixels = load_image(path, min_side=min_side).pixels
                except ImageLoadError as error:
                    raise SystemExit(f"{path}: {error.reason}") from error
                arrays.append(inputs(pixels)[0].array)
            rows.append(model.run(np.stack(arrays)[..., None]).probabilities)
        probabilities = np.concatenate(rows)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, probabilities=probabilities)
    index = {name: i for i, name in enumerate(classes)}
    return Predictions(
        source=source, classes=classes,
        subset=table["subset"].to_numpy(str), labels=table["label"].map(index).to_numpy(int),
        age_groups=table["age_group"].to_numpy(str), probabilities=probabilities,
    )


def predict_run(run_dir: Path) -> Predictions:
    """A leave-one-source-out run's validation and held-out films (``test``), cached."""
    import pandas as pd

    holdout = json.loads((run_dir / "holdout.json").read_text(encoding="utf-8"))
    table = pd.read_csv(run_dir / "run" / "table.csv", keep_default_na=False)
    return predict_table(run_dir / "bundle", table, run_dir / "predictions.npz",
                         str(holdout["source"]))


def predict_model(model_dir: Path, data_dir: Path, cache: Path) -> Predictions:
    """A bundle's own validation and TEST films (the split its training used)."""
    from benchmarks.refit_ood import dataset_subsets

    bundle = load_bundle(model_dir)
    table = dataset_subsets(data_dir, bundle.card.training_config)
    return predict_table(model_dir, table, cache / f"{bundle.model_id}-val-test.npz",
                         bundle.model_id)


Rule = Callable[[np.ndarray, np.ndarray, list[str], np.ndarray], dict[str, Any]]


def _in_collection(probs: np.ndarray, labels: np.ndarray, classes: list[str],
                   groups: np.ndarray) -> dict[str, Any]:
    """The rule of 2026-12-01: 90 % validation sensitivity, the most probable class else."""
    spec = choose_decision(probs, labels, classes, target_sensitivity=TARGET_SENSITIVITY)
    spec["strict_thresholds"] = False
    return spec


def _anchor(covid: float | None, pneumonia: float | None = None, *,
            by_age: bool = False, pneumonia_unknown_age: bool = True,
            adult_pneumonia: str = "anchor", child_pneumonia: str = "overall") -> Rule:
    def rule(probs: np.ndarray, labels: np.ndarray, classes: list[str],
             groups: np.ndarray) -> dict[str, Any]:
        return choose_decision(probs, labels, classes, target_sensitivity=TARGET_SENSITIVITY,
                               age_groups=list(groups), max_false_covid=covid,
                               max_false_pneumonia=pneumonia, child_max_false_covid=0.01,
                               by_age_group=by_age,
                               pneumonia_anchor_unknown_age=pneumonia_unknown_age,
                               adult_pneumonia=adult_pneumonia,
                               child_pneumonia=child_pneumonia)
    return rule


def _age_rule(covid: float, adult_pneumonia: str, *, pneumonia: float | None = None,
              child_pneumonia: str = "overall") -> Rule:
    """COVID-19 anchored for adults, thresholds per age group, Pneumonia per group's rule."""
    return _anchor(covid, pneumonia, by_age=True, pneumonia_unknown_age=False,
                   adult_pneumonia=adult_pneumonia, child_pneumonia=child_pneumonia)


#: Candidate rules, stated before any TEST film was looked at (2026-12-06). All but the first
#: are strict: a finding below its threshold is never the answer.
RULES: dict[str, Rule] = {
    "in-collection 90 % sensitivity (2026-12-01)": _in_collection,
    "strict, 90 % sensitivity, no anchor": _anchor(None),
    "anchor: adult false-COVID <= 10 %": _anchor(0.10),
    "anchor: adult false-COVID <= 5 %": _anchor(0.05),
    "anchors: adult false-COVID <= 5 %, adult Normal -> Pneumonia <= 15 %": _anchor(0.05, 0.15),
    "anchors: adult false-COVID <= 10 %, adult Normal -> Pneumonia <= 15 %":
        _anchor(0.10, 0.15),
    "COVID anchor 10 % + age groups (Pneumonia anchor for known adults)":
        _anchor(0.10, 0.15, by_age=True, pneumonia_unknown_age=False),
}

#: Candidates added 2026-12-07 with the criterion that counts every finding (CRITERION),
#: stated in docs/operating_point.md before any TEST figure was computed under it.
RULES.update({
    "COVID anchor 10 % + age groups, adults' Pneumonia anchor 30 %":
        _age_rule(0.10, "anchor", pneumonia=0.30),
    "COVID anchor 10 % + age groups, adults' Pneumonia the all-ages threshold":
        _age_rule(0.10, "overall"),
    "COVID anchor 10 % + age groups, adults' Pneumonia balanced":
        _age_rule(0.10, "balanced"),
    "COVID anchor 10 % + age groups, adults' Pneumonia balanced, children's most accurate":
        _age_rule(0.10, "balanced", child_pneumonia="accuracy"),
    "COVID anchor 5 % + age groups, adults' Pneumonia balanced":
        _age_rule(0.05, "balanced"),
    "COVID anchor 15 % + age groups, adults' Pneumonia balanced":
        _age_rule(0.15, "balanced"),
})
#: The same rule without the adults' own thresholds, for the criterion's age-group clause
#: (a group keeps its own thresholds only where they pay): added once the 15 % rule scored
#: highest, before any TEST figure.
RULES.update({
    "COVID anchor 15 % + age groups, adults' Pneumonia the all-ages threshold":
        _age_rule(0.15, "overall"),
    "anchor: adult false-COVID <= 15 %": _anchor(0.15),
})

#: The figures the criterion of 2026-12-07 weighs alike (docs/operating_point.md): the four
#: adult figures on the held-out sources, children's on the runs' validation films.
CRITERION_FIGURES = ("covid_found", "adult_non_covid_spared", "normal_labelled_normal",
                     "adult_pneumonia_found", "children_correct")
#: A rule must keep at least this share of children's validation films right.
MIN_CHILDREN_VALIDATION = 0.95


def _share(hit: np.ndarray) -> dict[str, float | int | None]:
    return {"value": float(hit.mean()) if len(hit) else None, "n": len(hit)}


def evaluate_rule(pred: Predictions, rule: Rule, *, ages_known: bool,
                  on: str = "test") -> dict[str, Any]:
    """Thresholds from the validation films, figures on the ``on`` subset.

    For a leave-one-source-out run ``test`` is the held-out source; for an installed model
    ``val`` shows the rule where it was chosen and ``test`` is its TEST split.
    """
    val, test = pred.subset == "val", pred.subset == on
    spec = rule(pred.probabilities[val], pred.labels[val], pred.classes, pred.age_groups[val])
    groups = list(pred.age_groups[test]) if ages_known else None
    chosen, _ = decision_predictions(pred.probabilities[test], pred.classes, spec, groups)
    truth, ages = pred.labels[test], pred.age_groups[test]
    covid, normal = pred.classes.index("COVID-19"), pred.classes.index("Normal")
    pneumonia = pred.classes.index("Pneumonia")
    adult_rest = (truth != covid) & (ages != "child")  # adults and unknown ages
    children = ages == "child"
    return {
        "thresholds": spec["thresholds"],
        "by_age_group": spec.get("by_age_group"),
        "covid_found": _share(chosen[truth == covid] == covid),
        "non_covid_adult_labelled_covid": _share(chosen[adult_rest] == covid),
        "normal_labelled_normal": _share(chosen[(truth == normal) & ~children] == normal),
        "adult_pneumonia_found": _share(chosen[(truth == pneumonia) & ~children] == pneumonia),
        "children_correct": _share(chosen[children] == truth[children]),
        "accuracy": _share(chosen == truth),
    }


def _cell(figure: dict[str, Any]) -> str:
    return "—" if figure["value"] is None else f"{figure['value']:.0%} (n={figure['n']})"


def markdown(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One table per held-out source, one row per rule (and whether ages were used)."""
    lines = []
    for source, rules in results.items():
        title = source if " on its " in source else f"{source} held out"
        lines += [f"### {title}", "",
                  "| rule | ages | COVID-19 found | adult non-COVID → COVID-19 | "
                  "adult Normal → Normal | adult Pneumonia found | children correct | "
                  "accuracy |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for name, by_age in rules.items():
            for ages, figures in by_age.items():
                lines.append(f"| {name} | {ages} | {_cell(figures['covid_found'])} | "
                             f"{_cell(figures['non_covid_adult_labelled_covid'])} | "
                             f"{_cell(figures['normal_labelled_normal'])} | "
                             f"{_cell(figures['adult_pneumonia_found'])} | "
                             f"{_cell(figures['children_correct'])} | "
                             f"{_cell(figures['accuracy'])} |")
        lines.append("")
    return "\n".join(lines)


def pooled(results: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each rule's figures summed over every held-out source (counts, not averages)."""
    totals: dict[str, dict[str, Any]] = {}
    for rules in results.values():
        for name, by_age in rules.items():
            for ages, figures in by_age.items():
                slot = totals.setdefault(f"{name} | {ages}", {})
                for key, figure in figures.items():
                    if not isinstance(figure, dict) or "n" not in figure:
                        continue
                    hits, n = slot.get(key, (0.0, 0))
                    if figure["value"] is not None:
                        slot[key] = (hits + figure["value"] * figure["n"], n + figure["n"])
                    else:
                        slot[key] = (hits, n)
    return {rule: {key: {"value": hits / n if n else None, "n": n}
                   for key, (hits, n) in figures.items()} for rule, figures in totals.items()}


def criterion(held_out: dict[str, dict[str, Any]], validation: dict[str, dict[str, Any]],
              guard: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Each rule's score under the criterion of 2026-12-07 (docs/operating_point.md).

    Args:
        held_out: :func:`pooled` figures on the held-out sources (``"rule | ages"`` keys).
        validation: :func:`pooled` figures on the same runs' validation films.
        guard: Per rule and ages, the figures on the bundled model's own validation split
            (its children's accuracy decides eligibility); ``None``: not measured, so no
            rule is eligible.

    Returns:
        Per rule: the five figures for ages known and unknown, the score (their mean over
        both), children's validation accuracy and whether the rule is eligible.
    """
    rules: dict[str, dict[str, Any]] = {}
    for key, figures in held_out.items():
        name, ages = key.split(" | ")
        children = validation[key]["children_correct"]["value"]
        guarded = (guard or {}).get(name, {}).get(ages, {}).get("children_correct", {})
        spared = figures["non_covid_adult_labelled_covid"]["value"]
        values = {"covid_found": figures["covid_found"]["value"],
                  "adult_non_covid_spared": None if spared is None else 1.0 - spared,
                  "normal_labelled_normal": figures["normal_labelled_normal"]["value"],
                  "adult_pneumonia_found": figures["adult_pneumonia_found"]["value"],
                  "children_correct": children}
        entry = rules.setdefault(name, {"figures": {}, "children_validation": {}})
        entry["figures"][ages] = values
        entry["children_validation"][ages] = guarded.get("value")
    for entry in rules.values():
        means = [float(np.mean([v for v in entry["figures"][ages].values() if v is not None]))
                 for ages in entry["figures"]]
        entry["score"] = float(np.mean(means))
        entry["eligible"] = all(v is not None and v >= MIN_CHILDREN_VALIDATION
                                for v in entry["children_validation"].values())
    return rules


def criterion_markdown(rules: dict[str, dict[str, Any]]) -> str:
    """The criterion's table, best eligible rule first."""
    order = sorted(rules, key=lambda name: (not rules[name]["eligible"], -rules[name]["score"]))
    lines = ["| rule | ages | COVID-19 found | adult non-COVID spared | adult Normal → Normal | "
             "adult Pneumonia found | children correct (validation) | score | "
             "children correct (bundled model, validation) | eligible |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name in order:
        entry = rules[name]
        for ages, values in entry["figures"].items():
            cells = " | ".join("—" if values[k] is None else f"{values[k]:.1%}"
                               for k in CRITERION_FIGURES)
            guard = entry["children_validation"][ages]
            lines.append(f"| {name} | {ages} | {cells} | {entry['score']:.3f} | "
                         f"{'—' if guard is None else f'{guard:.1%}'} | "
                         f"{'yes' if entry['eligible'] else 'no (children < 95 %)'} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, metavar="RUN_DIR")
    parser.add_argument("--model", type=Path, default=None,
                        help="also an installed bundle: each rule on its own validation films")
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "datasets"
                        / "cxr")
    parser.add_argument("--test", action="store_true",
                        help="with --model, also its TEST split (only once the rule is chosen)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/lunglens_operating_point"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    validation: dict[str, dict[str, dict[str, Any]]] = {}
    for run in args.runs:
        pred = predict_run(run)
        for on, into in (("test", results), ("val", validation)):
            into[pred.source] = {
                name: {ages: evaluate_rule(pred, rule, ages_known=ages == "known", on=on)
                       for ages in ("unknown", "known")}
                for name, rule in RULES.items()
            }
    installed: dict[str, dict[str, dict[str, Any]]] = {}
    if args.model is not None:
        pred = predict_model(args.model, args.data, args.cache)
        for on in ("val", "test") if args.test else ("val",):
            installed[f"{pred.source} on its {on} split"] = {
                name: {ages: evaluate_rule(pred, rule, ages_known=ages == "known", on=on)
                       for ages in ("unknown", "known")}
                for name, rule in RULES.items()
            }
    text = markdown(installed) if installed else ""
    if results:
        text += markdown(results)
    summary = pooled(results)
    if summary:
        text += "\n### all held-out sources pooled\n\n| rule | ages | COVID-19 found | " \
            "adult non-COVID → COVID-19 | adult Normal → Normal | adult Pneumonia found | " \
            "children correct | accuracy |\n|---|---|---:|---:|---:|---:|---:|---:|\n"
    for key, figures in summary.items():
        name, ages = key.split(" | ")
        text += (f"| {name} | {ages} | " + " | ".join(
            _cell(figures[k]) for k in ("covid_found", "non_covid_adult_labelled_covid",
                                        "normal_labelled_normal", "adult_pneumonia_found",
                                        "children_correct",
                                        "accuracy")) + " |\n")
    own = installed.get(next((k for k in installed if k.endswith(" on its val split")), ""))
    scores = criterion(summary, pooled(validation), own) if summary else {}
    if scores:
        text += "\n### the criterion of 2026-12-07 (every finding counts)\n\n" + \
            criterion_markdown(scores)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"per_source": results, "pooled": summary,
                                         "criterion": scores, "installed": installed},
                                        indent=2)
                             + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
