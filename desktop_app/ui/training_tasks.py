"""The wizard's long work as plain functions (no Qt), each chaining ``model_training`` calls.

The training wizard runs these in :mod:`desktop_app.ui.training_worker` threads, the way the
CLI (``python -m model_training``) runs the same chain in a terminal: ``read_dataset`` ->
``check_dataset``; ``read_dataset`` -> ``train`` -> ``save_run`` -> ``finalize``; then
``evaluate_bundle`` for the installed model on the same held-out images, and
``ModelStore.install`` with a LiteRT self-test. Nothing here trains, calibrates or scores by
itself: if a number is wrong, it is wrong in ``model_training`` too.

TensorFlow is only imported by the ``model_training`` functions these call, i.e. inside the
worker thread when the user starts a measurement or a training run — never when the wizard is
opened.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.errors import LungLensError
from desktop_app.core.locations import user_data_dir
from desktop_app.core.model.model_bundle import ModelBundle
from desktop_app.core.model.model_store import ModelEntry, ModelStore, ModelStoreError

__all__ = [
    "DatasetSummary",
    "SpeedMeasurement",
    "TrainingOutcome",
    "cancel_message",
    "check",
    "describe_training_error",
    "estimate_training_seconds",
    "evaluate_current_model",
    "install_model",
    "measure_training_speed",
    "new_run_dir",
    "read_source",
    "run_training",
    "self_test_bundle",
    "settings_lines",
]

Progress = Callable[[Any], None]
Log = Callable[[str], None]
Cancelled = Callable[[], bool]

#: Layout names shown on the Data page.
LAYOUT_LUNGLENS = "LungLens metadata folder (metadata.csv + images/)"
LAYOUT_KAGGLE = "Kaggle CoronaHack (Chest_xray_Corona_Metadata.csv)"
LAYOUT_CSV = "CoronaHack-style CSV file"
LAYOUT_FOLDERS = "Folder per class"
SELF_TEST_IMAGES = 6

#: One TensorFlow job at a time: Keras builds models and traces graphs through process-wide
#: state, and a speed measurement still unwinding while training starts crashed TensorFlow
#: in graph tracing. Training waits (at most one measured batch) for the measurement to stop.
_TF_LOCK = threading.Lock()


@dataclass(frozen=True)
class DatasetSummary:
    """What the Data page shows about a readable source.

    Attributes:
        source: The folder or CSV.
        layout: Which supported layout was detected (one of the ``LAYOUT_*`` texts).
        table: The dataset table from :func:`model_training.datasets.read_dataset`.
        per_class: Images per class (every class of the 3-class task, zeros included).
        per_split: Images per given split (``TRAIN``/``TEST``/``none``).
        patients: Distinct patient ids.
    """

    source: Path
    layout: str
    table: Any
    per_class: dict[str, int]
    per_split: dict[str, int]
    patients: int

    @property
    def images(self) -> int:
        """Rows of the table."""
        return len(self.table)

    def suggested_task(self) -> str:
        """``covid-vs-normal`` when the data has no pneumonia images, else ``3class``."""
        if self.per_class.get("Pneumonia", 0) == 0 and self.per_class.get("COVID-19", 0) > 0:
            return "covid-vs-normal"
        return "3class"


@dataclass
class TrainingOutcome:
    """Everything the Results and Install pages need from a finished run.

    Attributes:
        run_dir: The run's folder under ``<user data>/runs``.
        bundle_dir: The exported (verified, not yet installed) bundle.
        report_dir: ``report.json`` and the PNG figures of ``model_training.report``.
        report: The report ``finalize`` returned.
        current: Metrics of the installed model on the same held-out images (or None).
        current_model_id: Its model id.
        current_note: Why there is no comparison, or a caveat about it.
        test_paths: Held-out image files (the install self-test classifies a few).
        history: Per-epoch metrics.
    """

    run_dir: Path
    bundle_dir: Path
    report_dir: Path
    report: dict[str, Any]
    current: dict[str, Any] | None = None
    current_model_id: str | None = None
    current_note: str | None = None
    test_paths: list[str] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def new_test(self) -> dict[str, Any] | None:
        """The new model's test metrics (None when the data had no test split)."""
        return self.report.get("metrics", {}).get("test")


# -- data -----------------------------------------------------------------------------------


def detect_layout(source: Path) -> str:
    """Name the layout ``read_dataset`` will use for ``source`` (same rules, same order)."""
    from model_training.datasets import KAGGLE_CSV, LUNGLENS_CSV

    if source.is_file():
        return LAYOUT_CSV
    if (source / LUNGLENS_CSV).is_file():
        return LAYOUT_LUNGLENS
    if (source / KAGGLE_CSV).is_file():
        return LAYOUT_KAGGLE
    return LAYOUT_FOLDERS


def read_source(source: Path | str) -> DatasetSummary:
    """Read a dataset for the Data page (always all three classes; the task is chosen later).

    Raises:
        FileNotFoundError: If the path does not exist.
        ValueError: If the layout is not recognised or the table is empty.
    """
    from model_training.datasets import CLASSES_3, read_dataset

    path = Path(source)
    table = read_dataset(path, task="3class")
    if table.empty:
        raise ValueError(f"no labelled images found in {str(path)!r}")
    labels = table["label"].astype(str)
    per_class = {name: int((labels == name).sum()) for name in CLASSES_3}
    splits = table["split"].map(lambda s: s if isinstance(s, str) else "none")
    per_split = {str(k): int(v) for k, v in splits.value_counts().sort_index().items()}
    return DatasetSummary(path, detect_layout(path), table, per_class, per_split,
                          int(table["patient_id"].nunique()))


def check(summary: DatasetSummary, task: str, *, min_images_per_class: int | None = None,
          progress: Callable[[int, int], None] | None = None,
          cancelled: Cancelled | None = None) -> Any:
    """Run :func:`model_training.dataset_check.check_dataset` on the task's classes.

    Returns:
        The :class:`~model_training.dataset_check.DatasetReport`.

    Raises:
        CheckCancelled: If ``cancelled()`` returned True.
    """
    from model_training.dataset_check import MIN_IMAGES_PER_CLASS, check_dataset
    from model_training.datasets import TASK_CLASSES

    classes = list(TASK_CLASSES[task])
    table = summary.table[summary.table["label"].astype(str).isin(classes)]
    minimum = MIN_IMAGES_PER_CLASS if min_images_per_class is None else min_images_per_class
    return check_dataset(table, classes, progress=progress, cancelled=cancelled,
                         min_images_per_class=minimum)


def imbalance_ratio(per_class: dict[str, int]) -> float:
    """Largest over smallest non-empty class count (1.0 when balanced or empty)."""
    counts = [c for c in per_class.values() if c > 0]
    return max(counts) / min(counts) if len(counts) > 1 else 1.0


# -- estimate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeedMeasurement:
    """Training speed measured on this computer.

    Attributes:
        seconds_per_batch: Median time of a training step after warm-up.
        startup_seconds: Building, compiling and tracing the model (the first step), paid
            once per run.
    """

    seconds_per_batch: float
    startup_seconds: float


def measure_training_speed(config: Any, num_classes: int, *, batches: int = 3,
                           cancelled: Cancelled | None = None) -> SpeedMeasurement:
    """Time training steps of the configured architecture on random data, on this computer.

    The model is built and compiled the way :func:`model_training.training.train` does
    (same builder, optimizer, loss), the first step (graph tracing) is timed as start-up,
    then ``batches`` steps are timed. Random data costs the same as images of the same shape.

    Raises:
        InterruptedError: If ``cancelled()`` returned True.
    """
    def stop() -> None:
        if cancelled is not None and cancelled():
            raise InterruptedError("measurement cancelled")

    with _TF_LOCK:
        stop()
        return _measure(config, num_classes, batches, stop)


def _measure(config: Any, num_classes: int, batches: int, stop: Callable[[], None]
             ) -> SpeedMeasurement:
    import keras

    from model_training.architectures import build_model

    start = time.perf_counter()
    model = build_model(config.arch, config.input_size, num_classes, width=config.width,
                        dropout=config.dropout)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=config.learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.random((config.batch_size, config.input_size, config.input_size, 1),
                   dtype=np.float32)
    y = np.eye(num_classes, dtype=np.float32)[rng.integers(0, num_classes, config.batch_size)]
    model.train_on_batch(x, y)  # warm-up: graph tracing is not a per-batch cost
    startup = time.perf_counter() - start
    timings = []
    for _ in range(batches):
        stop()
        start = time.perf_counter()
        model.train_on_batch(x, y)
        timings.append(time.perf_counter() - start)
    return SpeedMeasurement(float(np.median(timings)), startup)


def estimate_training_seconds(speed: SpeedMeasurement, train_images: int, val_images: int,
                              batch_size: int, epochs: int) -> float:
    """Whole-run estimate from a measurement.

    Start-up is counted twice (training and validation are traced separately), then every
    batch of every epoch. Validation is a forward pass only (about a third of a training
    step per image).
    """
    train_batches = math.ceil(max(1, train_images) / batch_size)
    val_batches = math.ceil(max(0, val_images) / batch_size)
    per_epoch = speed.seconds_per_batch * (train_batches + val_batches / 3.0)
    return 2 * speed.startup_seconds + epochs * per_epoch


def expected_subset_sizes(summary: DatasetSummary, task: str, config: Any) -> tuple[int, int]:
    """Approximate (train, val) image counts the split will give (for the estimate only)."""
    from model_training.datasets import TASK_CLASSES

    labels = summary.table["label"].astype(str)
    rows = summary.table[labels.isin(TASK_CLASSES[task])]
    given_test = int((rows["split"] == "TEST").sum())
    unsplit = int(rows["split"].isna().sum())
    train_pool = len(rows) - given_test - round(unsplit * config.test_fraction)
    val = round(train_pool * config.val_fraction)
    return max(1, train_pool - val), val


# -- training -------------------------------------------------------------------------------


def new_run_dir(root: Path | None = None) -> Path:
    """A fresh folder under ``<user data>/runs`` (never the program folder)."""
    base = Path(root) if root is not None else user_data_dir() / "runs"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = base / stamp
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = base / f"{stamp}-{suffix}"
    folder.mkdir(parents=True)
    return folder


def describe_training_error(error: BaseException) -> str:
    """One sentence for the Training page, naming the usual causes plainly."""
    name = type(error).__name__
    text = str(error).strip().splitlines()[0] if str(error).strip() else name
    if isinstance(error, MemoryError) or "ResourceExhausted" in name or "OOM" in text:
        return (f"the computer ran out of memory ({text}). Try a smaller batch size or input "
                "size, or close other programs.")
    if "subset has no images" in text or "is empty" in text:
        return f"the dataset is too small to train on: {text}."
    if isinstance(error, LungLensError | ValueError | OSError):
        return text
    return f"{name}: {text}"


def cancel_message(error: BaseException) -> str:
    """One sentence on how far a cancelled run got, with the right plural.

    ``TrainingCancelled`` carries the complete epochs; its own text ("... epoch(s)") is for
    logs, not for the page.
    """
    epochs = getattr(error, "epochs_completed", None)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        return "Training was cancelled."
    if epochs == 0:
        return "Training was cancelled before the first epoch finished."
    return f"Training was cancelled after {epochs} complete epoch{'' if epochs == 1 else 's'}."


def _setting_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(_setting_value(item) for item in value) or "none"
    return str(value)


def settings_lines(settings: Any) -> list[str]:
    """A run's settings as readable ``name: value`` lines for the training log.

    Nested sections become ``section.name: value``; ``None`` reads "none", booleans
    "yes"/"no", floats without trailing zeros (``0.002``, ``1e-04``).
    """
    lines: list[str] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}", value)
            return
        lines.append(f"{prefix}: {_setting_value(node)}")

    if isinstance(settings, dict):
        for key, value in settings.items():
            walk(f"{key}." if isinstance(value, dict) else str(key), value)
    return lines


def run_training(
    summary: DatasetSummary,
    config: Any,
    run_dir: Path,
    *,
    store: ModelStore | None = None,
    bootstrap_rounds: int = 200,
    progress: Progress | None = None,
    log: Log | None = None,
    cancelled: Cancelled | None = None,
) -> TrainingOutcome:
    """Train, save the run, finalize (calibrate, OOD, evaluate, export) and compare.

    Mirrors ``python -m model_training train``: ``read_dataset`` -> ``train`` -> ``save_run``
    -> ``finalize``. The bundle is written into ``run_dir/bundle``; nothing is installed here.
    If anything fails, the half-written bundle folder is removed, so it can never be
    installed by mistake.

    Raises:
        TrainingCancelled: If ``cancelled()`` returned True (also between the steps).
    """
    with _TF_LOCK:
        return _run_training(summary, config, run_dir, store=store,
                             bootstrap_rounds=bootstrap_rounds, progress=progress, log=log,
                             cancelled=cancelled)


def _run_training(summary: DatasetSummary, config: Any, run_dir: Path, *,
                  store: ModelStore | None, bootstrap_rounds: int, progress: Progress | None,
                  log: Log | None, cancelled: Cancelled | None) -> TrainingOutcome:
    from model_training.pipeline import read_train_finalize

    say = log or (lambda _line: None)
    config.save(run_dir / "config.json")
    bundle_dir = run_dir / "bundle"
    report_dir = run_dir / "report"
    try:
        trained = read_train_finalize(
            summary.source, config, run_dir=run_dir / "run", bundle_dir=bundle_dir,
            report_dir=report_dir, dataset_description=_describe(summary),
            bootstrap_rounds=bootstrap_rounds, progress=progress, cancelled=cancelled, log=log)
    except BaseException:
        shutil.rmtree(bundle_dir, ignore_errors=True)
        raise
    result, report = trained.result, trained.report
    assert report is not None  # the wizard trains on one machine: it always writes
    test_rows = result.table[result.subset_mask("test")]
    outcome = TrainingOutcome(run_dir=run_dir, bundle_dir=bundle_dir, report_dir=report_dir,
                              report=report, test_paths=test_rows["path"].astype(str).tolist(),
                              history=result.history)
    if test_rows.empty:
        outcome.current_note = "the data has no held-out test images, so nothing was compared"
        return outcome
    say("evaluating the installed model on the same held-out images")
    try:
        current, model_id, note = evaluate_current_model(
            store or ModelStore(), test_rows, run_dir / "comparison",
            bootstrap_rounds=bootstrap_rounds, cache_dir=config.cache_dir)
    except Exception as error:  # a comparison failure must not lose a trained model
        current, model_id, note = None, None, f"the installed model could not be evaluated: " \
                                              f"{describe_training_error(error)}"
    outcome.current, outcome.current_model_id, outcome.current_note = current, model_id, note
    if note:
        say(note)
    return outcome


def _describe(summary: DatasetSummary) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in summary.per_class.items() if v)
    return (f"Chest X-rays from {summary.source.name!r} ({summary.layout}; {counts}), trained "
            "with the LungLens training wizard, split by patient.")


def evaluate_current_model(store: ModelStore, test_rows: Any, folder: Path, *,
                           bootstrap_rounds: int = 200, cache_dir: str | None = None
                           ) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """Score the installed model on exactly the new model's held-out rows.

    ``evaluate_bundle`` re-splits a dataset with the bundle's own seed, which would give the
    installed model a different test set; so the held-out rows are written to a
    CoronaHack-style CSV whose ``Dataset_type`` is ``TEST`` for every row, and that CSV is
    the dataset ``evaluate_bundle`` reads. Same files, same patients, same labels.

    Returns:
        ``(metrics, model_id, note)``; metrics is None when there is nothing to compare.
    """
    from model_training.bundle_evaluation import evaluate_bundle

    active = store.active()
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "held_out.csv"
    # Age group and view go along: without them every film of the installed model would be
    # "age unknown", and its adult figures (which the install advice rests on) unmeasured.
    extra = [column for column in ("age_group", "view") if column in test_rows.columns]
    with csv_path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["X_ray_image_name", "Label", "Label_2_Virus_category", "Dataset_type",
                         "patient_id", "source", *extra])
        for _, row in test_rows.iterrows():
            label = str(row["label"])
            writer.writerow([
                str(Path(row["path"]).resolve()),
                "Normal" if label == "Normal" else "Pnemonia",
                "COVID-19" if label == "COVID-19" else "",
                "TEST", str(row["patient_id"]), str(row["source"]),
                *("" if row[column] is None else str(row[column]) for column in extra),
            ])
    card = active.bundle.card
    metrics = evaluate_bundle(active.bundle.path, csv_path, subset="test",
                              bootstrap_rounds=bootstrap_rounds, cache_dir=cache_dir)
    note = active.warning
    if metrics.get("n", 0) != len(test_rows):
        note = (f"the installed model ({card.task}) was scored on the {metrics.get('n')} "
                f"held-out images of its own classes, out of {len(test_rows)}")
    return metrics, card.model_id, note


# -- install --------------------------------------------------------------------------------


def self_test_bundle(bundle: ModelBundle, images: Sequence[str | Path]) -> int:
    """Load a (staged) bundle in LiteRT and classify held-out images with the app's Analyzer.

    Returns:
        The number of images classified.

    Raises:
        ModelStoreError: If the model cannot run or gives invalid probabilities.
    """
    from desktop_app.core.classify.analysis import Analyzer

    paths = [Path(p) for p in list(images)[:SELF_TEST_IMAGES]]
    if not paths:
        raise ModelStoreError("self-test failed: no held-out images to classify")
    analyzer = Analyzer(bundle, num_threads=1)
    results = list(analyzer.analyse(paths, batch_size=len(paths), workers=1))
    good = [r for r in results if r.ok]
    if not good:
        reasons = "; ".join(f"{r.path.name}: {r.error}" for r in results)
        raise ModelStoreError(f"self-test failed: no held-out image could be classified "
                              f"({reasons})")
    for result in good:
        probabilities = np.array(list((result.probabilities or {}).values()))
        if not (np.all(np.isfinite(probabilities)) and abs(probabilities.sum() - 1) < 1e-3):
            raise ModelStoreError(f"self-test failed: invalid probabilities for "
                                  f"{result.path.name}: {probabilities}")
    return len(good)


def install_model(store: ModelStore, bundle_dir: Path, name: str,
                  self_test_images: Sequence[str | Path]) -> ModelEntry:
    """Install atomically through the store, with the LiteRT self-test as its verify step.

    The store copies into a staging folder, verifies hashes, runs the self-test on the staged
    copy and only then renames it into place and activates it; the previous model stays.
    """
    def verify(staged: ModelBundle) -> None:
        self_test_bundle(staged, self_test_images)

    return store.install(Path(bundle_dir), name, verify=verify)
