"""Command line: ``python -m model_training {check,train,loso,...,lung-segmenter}``.

Exit codes: 0 success, 1 failure (bad data, fatal dataset finding, failed export,
cancelled), 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Bar:
    """A one-line text progress bar on stderr, redrawn at most 4 times a second."""

    def __init__(self) -> None:
        self._last = 0.0

    def draw(self, label: str, done: int, total: int, suffix: str = "", force: bool = False
             ) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.25 and done < total:
            return
        self._last = now
        width = 30
        filled = int(width * done / max(1, total))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                         f"{suffix}\x1b[K")
        if done >= total and force:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """The data and training settings shared by ``train`` and ``loso``."""
    from model_training.config import (
        ARCHITECTURES,
        AUGMENT_PRESETS,
        CLASS_WEIGHTINGS,
        QUANTIZATIONS,
        TASKS,
    )

    parser.add_argument("--data", required=True)
    parser.add_argument("--arch", choices=ARCHITECTURES, default="compact")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--augment", choices=AUGMENT_PRESETS, default="robust")
    parser.add_argument("--task", choices=TASKS, default="3class")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--intensity", choices=("percentile", "equalize"), default="percentile",
                        help="preprocessing intensity policy: percentile windowing, or histogram "
                             "equalisation (invariant to a site's grey-level curve)")
    parser.add_argument("--region", choices=("image", "lungs"), default="image",
                        help="model input: the whole film, or the lung box found by the "
                             "program's lung segmenter (resources/lung_segmenter)")
    parser.add_argument("--lung-margin", type=float, default=0.12,
                        help="widening of the lung box on each side, share of its size")
    parser.add_argument("--width", type=float, default=1.0, help="compact channel multiplier")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--optimizer", choices=("adamw", "adam"), default="adamw")
    parser.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    parser.add_argument("--label-smoothing", type=float, default=0.05)
    parser.add_argument("--patience", type=int, default=8, help="early-stopping patience (0 off)")
    parser.add_argument("--stop-at-val-loss", type=float, default=None,
                        help="seed-style stop when val_loss falls below this")
    parser.add_argument("--class-weighting", choices=CLASS_WEIGHTINGS,
                        default="class-group")
    parser.add_argument("--strategy", choices=("mirrored", "multi-worker"), default=None)
    parser.add_argument("--cache-dir", default=None, help="preprocessed-image cache folder")
    parser.add_argument("--initial-model", default=None, metavar="PATH",
                        help="fine-tune: start from this model.keras or bundle folder (same "
                             "architecture, width, input size and task)")
    parser.add_argument("--target-sensitivity", type=float, default=0.90,
                        help="validation sensitivity the app's COVID-19 and Pneumonia "
                             "thresholds aim at (default 0.90)")
    parser.add_argument("--quantization", choices=QUANTIZATIONS, default="none",
                        help="LiteRT model the app runs: none (default; float32, equal to "
                             "Keras within 1e-4) or int8 (calibrated and evaluated as int8)")
    _add_rule_options(parser, defaults_from="today's rule (docs/operating_point.md)")


def _add_rule_options(parser: Any, *, defaults_from: str) -> None:
    """The operating-point rule's settings a command may override."""
    from model_training.calibration import ADULT_PNEUMONIA_RULES, CHILD_PNEUMONIA_RULES

    parser.add_argument("--max-false-covid", type=_fraction_or_none, default=None,
                        metavar="F", help="COVID-19 anchor: at most this share of adult "
                        f"non-COVID validation films reach it ('none': no anchor; default: "
                        f"{defaults_from})")
    parser.add_argument("--adult-pneumonia", choices=ADULT_PNEUMONIA_RULES, default=None,
                        help=f"how the adults' Pneumonia threshold is chosen (default: "
                             f"{defaults_from})")
    parser.add_argument("--child-pneumonia", choices=CHILD_PNEUMONIA_RULES, default=None,
                        help=f"how the children's Pneumonia threshold is chosen (default: "
                             f"{defaults_from})")


def _fraction_or_none(text: str) -> float | str:
    """A share in [0, 1), or ``none``."""
    if text.strip().lower() == "none":
        return "none"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1) or 'none': {text!r}") \
            from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1) or 'none': {text!r}")
    return value


def rule_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The rule settings given on the command line (``none`` -> ``None``)."""
    given = {"max_false_covid": args.max_false_covid, "adult_pneumonia": args.adult_pneumonia,
             "child_pneumonia": args.child_pneumonia}
    return {key: None if value == "none" else value
            for key, value in given.items() if value is not None}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_training",
                                     description="Train, check, evaluate and export LungLens "
                                                 "models.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_check_and_train(sub)
    _add_loso(sub)
    _add_evaluate_decide_export(sub)
    _add_view_model(sub)
    _add_lung_segmenter(sub)
    return parser


def _add_check_and_train(sub: Any) -> None:
    """The ``check`` and ``train`` commands."""
    from model_training.config import TASKS

    check = sub.add_parser("check", help="check a dataset before training")
    check.add_argument("--data", required=True, help="dataset folder or CoronaHack-style CSV")
    check.add_argument("--task", choices=TASKS, default="3class")
    check.add_argument("--json", help="also write the report as JSON to this file")

    train = sub.add_parser("train", help="train, calibrate, evaluate and export a model")
    train.add_argument("--out", required=True, help="bundle folder to write")
    _add_training_arguments(train)
    train.add_argument("--run-dir", default=None,
                       help="where the trained model is saved before export (default OUT/run)")
    train.add_argument("--report-dir", default=None, help="report folder (default OUT/report)")


def _add_loso(sub: Any) -> None:
    """The ``loso`` and ``loso-report`` commands (leave one source out)."""
    loso = sub.add_parser(
        "loso", help="leave-one-source-out: train without one source, test on that source")
    loso.add_argument("--holdout-source", required=True,
                      help="source left out of training and validation and tested on")
    loso.add_argument("--out", required=True,
                      help="folder for the run, its bundle, report and holdout.json")
    _add_training_arguments(loso)

    loso_report = sub.add_parser(
        "loso-report", help="tabulate leave-one-source-out runs (and record them in a card)")
    loso_report.add_argument("runs", nargs="+", help="folders written by 'loso'")
    loso_report.add_argument("--card", default=None,
                             help="model_card.json to record the study in "
                                  "(metrics.leave_one_source_out)")
    loso_report.add_argument("--json", default=None, help="also write the table as JSON")


def _add_evaluate_decide_export(sub: Any) -> None:
    """The ``evaluate``, ``decide`` and ``export`` commands (on an exported bundle or run)."""
    from model_training.config import QUANTIZATIONS

    evaluate = sub.add_parser("evaluate", help="evaluate an exported bundle (LiteRT)")
    evaluate.add_argument("--model", required=True, help="bundle folder")
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--subset", choices=("test", "val", "train", "all"), default="test")
    evaluate.add_argument("--json", help="write the metrics to this file")
    evaluate.add_argument("--gate", action="store_true",
                          help="also run the app's out-of-distribution gate on every image: "
                               "refused and cautioned counts, and each class's sensitivity "
                               "counting refused images as not found")

    decide = sub.add_parser(
        "decide", help="re-decide an exported bundle: today's operating-point rule and gate "
                       "on its own validation split, same weights (rewrites its card)")
    decide.add_argument("--model", required=True, help="bundle folder (its card is rewritten)")
    decide.add_argument("--data", required=True, help="the dataset the bundle was trained on")
    decide.add_argument("--report-dir", default=None,
                        help="rewrite report.json and its figures here")
    _add_rule_options(decide, defaults_from="the card's training config, else today's rule")

    export = sub.add_parser("export", help="re-export a saved training run (no retraining)")
    export.add_argument("--run", required=True, help="run folder written by 'train'")
    export.add_argument("--out", required=True)
    export.add_argument("--report-dir", default=None)
    export.add_argument("--quantization", choices=QUANTIZATIONS, default=None,
                        help="override the run's setting (default: as trained)")


def _add_view_model(sub: Any) -> None:
    """The ``view-model`` command."""
    view = sub.add_parser("view-model",
                          help="train and export the view model (frontal / lateral / rotated / "
                               "other) shipped in resources/view_model")
    view.add_argument("--data", required=True, help="chest X-ray dataset (TRAIN rows are used)")
    view.add_argument("--laterals", required=True, help="folder of lateral films")
    view.add_argument("--out", required=True, help="folder to write (e.g. resources/view_model)")
    view.add_argument("--epochs", type=int, default=None)
    view.add_argument("--seed", type=int, default=None)
    view.add_argument("--exclude-source", action="append", default=[], metavar="SOURCE",
                      help="leave this source's films out of the material (repeatable; "
                           "leave-one-source-out measurement of the view check)")
    view.add_argument("--non-chest", default=None, metavar="PATH",
                      help="real CT, MR and ultrasound images (../shared/datasets/views/"
                           "non_chest): trainable cases are trained on, the rest held out")
    view.add_argument("--exclude-family", action="append", default=[], metavar="FAMILY",
                      help="leave this family of material out of training (ct, us, mr, "
                           "lateral, figure, screenshot, topogram, photo; repeatable)")
    view.add_argument("--held-out-category-runs", default=None, metavar="DIR",
                      help="also train, on the same material, one model without CT "
                           "(DIR/ct) and one without ultrasound (DIR/us): the estimate for a "
                           "kind of image nobody thought of (benchmarks/ood_eval.py)")
    view.add_argument("--no-ood-cases", action="store_true",
                      help="leave out the OOD evaluation set's development half "
                           "(model_training/non_chest/; writing it needs "
                           "scikit-image and matplotlib)")


def _add_lung_segmenter(sub: Any) -> None:
    """The ``lung-segmenter`` command."""
    lungs = sub.add_parser("lung-segmenter",
                           help="train and export the lung segmenter shipped in "
                                "resources/lung_segmenter")
    lungs.add_argument("--data", required=True, help="chest X-ray dataset (ieee8023 films)")
    lungs.add_argument("--masks", required=True,
                       help="torchxrayvision 1.5.7 wheel, its semantic_masks_v7labs_lungs.zip, "
                            "or an extracted folder")
    lungs.add_argument("--out", required=True,
                       help="folder to write (e.g. resources/lung_segmenter)")
    lungs.add_argument("--epochs", type=int, default=None)
    lungs.add_argument("--seed", type=int, default=None)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _cmd_check(args: argparse.Namespace) -> int:
    from model_training.dataset_check import check_dataset
    from model_training.datasets import TASK_CLASSES, read_dataset

    table = read_dataset(args.data, task=args.task)
    bar = _Bar()
    report = check_dataset(table, list(TASK_CLASSES[args.task]),
                           progress=lambda d, t: bar.draw("decoding", d, t, force=d == t))
    print(report.format())
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n",
                                   encoding="utf-8")
    return EXIT_FAILURE if report.fatal else EXIT_OK


def _dataset_root(paths: list[str]) -> str:
    """The dataset folder a saved run's images came from (for the card's description).

    A run folder stores image paths, not the ``--data`` argument: their common folder is the
    images folder, and the dataset is its parent when that holds the metadata CSV.
    """
    import os

    common = Path(os.path.commonpath([str(Path(p).parent) for p in paths]))
    if common.name == "images" and any((common.parent / name).is_file() for name in
                                       ("metadata.csv", "Chest_xray_Corona_Metadata.csv")):
        return str(common.parent)
    return str(common)


def _describe(data: str) -> str:
    return (f"Chest X-rays read from {Path(data).name!r} in CoronaHack's label scheme "
            "(COVID-19 = Label_2 COVID-19; Pneumonia = other 'Pnemonia'; Normal), split by "
            "patient.")


def _finish(result: Any, out: str, report_dir: str | None, data: str) -> int:
    """Finalize a saved run (``export``) and print its test figures."""
    from model_training.export import ExportError
    from model_training.finalize import finalize

    try:
        report = finalize(result, out, report_dir=report_dir, dataset_description=_describe(data),
                          log=_log)
    except ExportError as error:
        print(f"export failed: {error}", file=sys.stderr)
        return EXIT_FAILURE
    return _print_figures(report, out)


def _log(line: str) -> None:
    print(line, file=sys.stderr)


def _print_figures(report: dict[str, Any], out: str | Path) -> int:
    """The test figures of a finalized report and where the bundle is; exit status 0."""
    test = report["metrics"].get("test")
    if test:
        overall = test["overall"]
        print(f"test accuracy {overall['accuracy']:.4f}, macro AUROC "
              f"{overall['macro_auroc']:.4f}, ECE {overall['ece']:.4f} "
              f"(uncalibrated {test['uncalibrated']['ece']:.4f})")
        if "populations" in test:
            from model_training.population_metrics import format_populations

            for line in format_populations(test["populations"]):
                print(line)
    print(f"bundle written to {out}")
    return EXIT_OK


def _config_from_args(args: argparse.Namespace) -> Any:
    from model_training.config import TrainingConfig

    return TrainingConfig(
        task=args.task, arch=args.arch, input_size=args.input_size, intensity=args.intensity,
        region=args.region, lung_margin=args.lung_margin,
        width=args.width,
        epochs=args.epochs, batch_size=args.batch_size, augment=args.augment, seed=args.seed,
        optimizer=args.optimizer, learning_rate=args.learning_rate, schedule=args.schedule,
        label_smoothing=args.label_smoothing, patience=args.patience,
        stop_at_val_loss=args.stop_at_val_loss, cache_dir=args.cache_dir,
        class_weighting=args.class_weighting,
        strategy=args.strategy, initial_model=args.initial_model,
        quantization=args.quantization, target_sensitivity=args.target_sensitivity,
        **rule_overrides(args),
    )


def _writes_results(result: Any) -> bool:
    """Print this worker's weights digest; True when it is the one that writes the results.

    In a multi-worker run every machine runs the same command; they end with the same
    weights (the digest lines show it) and only the chief writes the run folder, bundle and
    report (:mod:`model_training.workers`).
    """
    from model_training.workers import is_chief, weights_sha256, worker_name

    chief = is_chief()
    print(f"{worker_name()}: weights sha256 {weights_sha256(result.model)}", file=sys.stderr)
    if not chief:
        print(f"{worker_name()}: training done; the chief writes the run folder and the bundle",
              file=sys.stderr)
    return chief


def _progress_bar() -> Any:
    """A ``train`` progress callback that draws a text progress bar."""
    from model_training.training import TrainingProgress

    bar = _Bar()

    def progress(p: TrainingProgress) -> None:
        if p.phase == "preprocessing":
            bar.draw("preprocessing", p.batch, p.batches, force=p.batch == p.batches)
            return
        eta = f"eta {p.eta_seconds / 60:.1f} min" if p.eta_seconds is not None else ""
        shown = {k: v for k, v in p.metrics.items() if k in
                 ("loss", "accuracy", "auroc", "val_loss", "val_accuracy", "val_auroc")}
        metrics = " ".join(f"{k} {v:.4f}" for k, v in shown.items())
        end = p.batch == p.batches and "val_loss" in p.metrics
        bar.draw(f"epoch {p.epoch}/{p.epochs}", p.batch, p.batches, f"{metrics} {eta}",
                 force=end)

    return progress


def _train_and_finalize(args: argparse.Namespace, config: Any, *, run_dir: Path, out: Path,
                        report_dir: str | Path | None, description: str,
                        select: Any = None) -> Any:
    """The shared read → train → save → finalize; None when cancelled or the export failed.

    Ctrl+C is not a cancel: it stops the command as usual.
    """
    from model_training.export import ExportError
    from model_training.pipeline import read_train_finalize
    from model_training.training import TrainingCancelled

    try:
        return read_train_finalize(
            args.data, config, run_dir=run_dir, bundle_dir=out,
            report_dir=Path(report_dir) if report_dir else None,
            dataset_description=description, select=select, progress=_progress_bar(),
            log=_log, writes_results=_writes_results)
    except TrainingCancelled as error:
        print(f"\n{error}", file=sys.stderr)
    except ExportError as error:
        print(f"export failed: {error}", file=sys.stderr)
    return None


def _cmd_train(args: argparse.Namespace) -> int:
    config = _config_from_args(args)
    run_dir = Path(args.run_dir) if args.run_dir else Path(args.out) / "run"
    trained = _train_and_finalize(args, config, run_dir=run_dir, out=Path(args.out),
                                  report_dir=args.report_dir, description=_describe(args.data))
    if trained is None:
        return EXIT_FAILURE
    if trained.report is None:  # another worker writes the results
        return EXIT_OK
    return _print_figures(trained.report, args.out)


def _cmd_loso(args: argparse.Namespace) -> int:
    from model_training.population_metrics import format_populations
    from model_training.source_holdout import holdout_summary, holdout_table

    config = _config_from_args(args)
    out = Path(args.out)
    trained = _train_and_finalize(
        args, config, run_dir=out / "run", out=out / "bundle", report_dir=out / "report",
        description=_describe(args.data)
        + f" Leave-one-source-out: source {args.holdout_source!r} held out.",
        select=lambda table: holdout_table(table, args.holdout_source,
                                           val_fraction=config.val_fraction, seed=config.seed))
    if trained is None:
        return EXIT_FAILURE
    if trained.report is None:  # another worker writes the results
        return EXIT_OK
    report, result = trained.report, trained.result
    summary = holdout_summary(args.holdout_source, report["metrics"]["test"], result.table)
    summary["training_config"] = config.to_dict()
    summary["best_epoch"] = result.best_epoch
    (out / "holdout.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    for line in format_populations(report["metrics"]["test"]["populations"]):
        print(line)
    print(f"held-out summary written to {out / 'holdout.json'}")
    return EXIT_OK


def _cmd_loso_report(args: argparse.Namespace) -> int:
    from model_training.source_holdout import format_holdout_table, record_in_card

    summaries = []
    for folder in args.runs:
        path = Path(folder) / "holdout.json"
        if not path.is_file():
            print(f"error: {str(path)!r} does not exist (run 'loso' first)", file=sys.stderr)
            return EXIT_FAILURE
        summaries.append(json.loads(path.read_text(encoding="utf-8")))
    for line in format_holdout_table(summaries):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(summaries, indent=2) + "\n", encoding="utf-8")
    if args.card:
        record_in_card(Path(args.card), summaries)
        print(f"recorded in {args.card}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from model_training.run_folder import load_run

    result = load_run(args.run)
    if args.quantization is not None:
        result.config.quantization = args.quantization
    return _finish(result, args.out, args.report_dir,
                   _dataset_root(result.table["path"].astype(str).tolist()))


def _cmd_decide(args: argparse.Namespace) -> int:
    from model_training.redecide import redecide_bundle

    card = redecide_bundle(args.model, args.data, report_dir=args.report_dir,
                           rule=rule_overrides(args),
                           log=lambda line: print(line, file=sys.stderr))
    decision = card["decision"]
    _print_json({"model_id": card["model_id"], "thresholds": decision["thresholds"],
                 "by_age_group": decision.get("by_age_group"),
                 "refusal_limits": card["ood"].get("refusal_limits")})
    return EXIT_OK


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from model_training.bundle_evaluation import evaluate_bundle
    from model_training.population_metrics import format_populations

    metrics = evaluate_bundle(args.model, args.data, subset=args.subset, gate=args.gate)
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    overall = metrics["overall"]
    print(f"{metrics['n']} images ({args.subset}): accuracy {overall['accuracy']:.4f}, "
          f"macro AUROC {overall['macro_auroc']}, ECE {overall['ece']:.4f}")
    for name, entry in overall["per_class"].items():
        print(f"  {name}: n {entry['n']}, sensitivity {entry['sensitivity']}, "
              f"specificity {entry['specificity']}, AUROC {entry['auroc']}")
    if "gate" in metrics:
        from desktop_app.core.metrics.refusals import refusal_lines

        gate = metrics["gate"]
        print(f"Gate: {gate['refused']} of {gate['films']} images refused, "
              f"{gate['cautioned']} labelled with a caution")
        for line in refusal_lines(gate):
            print(f"  {line}")
    if "populations" in metrics:
        for line in format_populations(metrics["populations"]):
            print(line)
    else:
        for source, entry in metrics.get("per_source", {}).items():
            print(f"  source {source}: n {entry['n']}, accuracy {entry['accuracy']:.4f}")
    return EXIT_OK


def _cmd_view_model(args: argparse.Namespace) -> int:
    import dataclasses
    import tempfile

    from model_training.non_chest_images import read_non_chest
    from model_training.view_model import ViewTrainingConfig, build_material, train_view_model

    overrides = {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None}
    config = dataclasses.replace(ViewTrainingConfig(), **overrides,
                                 exclude_sources=tuple(args.exclude_source),
                                 exclude_families=tuple(args.exclude_family))
    bar = _Bar()

    def progress(stage: str, done: int, total: int) -> None:
        bar.draw(stage, done, total, force=done >= total)

    non_chest = read_non_chest(args.non_chest) if args.non_chest else []
    with tempfile.TemporaryDirectory(prefix="lunglens_view_ood_") as folder:
        cases: list[tuple[Path, str]] = []
        if not args.no_ood_cases:
            # Writing the OOD set needs scikit-image and matplotlib (a development install);
            # only its development half is trained on, the held-out half is what is reported.
            from model_training.non_chest import write_ood_cases

            cases = [(c.path, c.category) for c in write_ood_cases(Path(folder))
                     if not c.held_out]
        material = build_material(Path(args.data), Path(args.laterals), config,
                                  ood_cases=cases, non_chest=non_chest, progress=progress)
    card = train_view_model(args.data, args.laterals, args.out, config, material=material,
                            progress=progress)
    _print_json({"model_id": card["model_id"], "metrics": card["metrics"]})
    if args.held_out_category_runs:
        for family in ("ct", "us"):
            run = dataclasses.replace(config, exclude_families=(*config.exclude_families,
                                                                family))
            card = train_view_model(args.data, args.laterals,
                                    Path(args.held_out_category_runs) / family, run,
                                    material=material, progress=progress)
            _print_json({"without": family, "model_id": card["model_id"]})
    return EXIT_OK


def _cmd_lung_segmenter(args: argparse.Namespace) -> int:
    import dataclasses

    from model_training.lung_segmenter import SegmenterConfig, build_lung_segmenter

    overrides = {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None}
    config = dataclasses.replace(SegmenterConfig(), **overrides)
    card = build_lung_segmenter(args.data, args.masks, args.out, config,
                                progress=lambda message: print(message, file=sys.stderr))
    _print_json({"model_id": card["model_id"], "metrics": card["metrics"]})
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    from desktop_app.core.errors import LungLensError

    handlers = {"check": _cmd_check, "train": _cmd_train, "evaluate": _cmd_evaluate,
                "decide": _cmd_decide,
                "export": _cmd_export, "loso": _cmd_loso, "loso-report": _cmd_loso_report,
                "view-model": _cmd_view_model, "lung-segmenter": _cmd_lung_segmenter}
    try:
        return handlers[args.command](args)
    except (FileNotFoundError, ValueError, LungLensError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
