"""Save a finished training run and load it back, so export can be redone without retraining.

A run folder holds ``model.keras`` (best weights), ``config.json``, ``table.csv`` (every image
with its subset) and ``history.json``; the preprocessed arrays come back from the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from desktop_app.core.preprocessing import PreprocessingSpec
from model_training.config import TrainingConfig
from model_training.data_pipeline import load_preprocessed
from model_training.datasets import TASK_CLASSES
from model_training.training import TrainingResult

__all__ = ["load_run", "save_run"]


def save_run(result: TrainingResult, folder: Path | str) -> Path:
    """Write the run folder (see module docs)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    result.model.save(folder / "model.keras")
    result.config.save(folder / "config.json")
    result.table.to_csv(folder / "table.csv", index=False)
    state = {
        "history": result.history,
        "best_epoch": result.best_epoch,
        "best_value": result.best_value,
        "epoch_seconds": result.epoch_seconds,
        "dropped": result.dropped,
        "preprocessing": result.spec.to_dict(),
    }
    (folder / "history.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return folder


def load_run(folder: Path | str) -> TrainingResult:
    """Rebuild a :class:`TrainingResult` from a run folder (images from the cache)."""
    import keras

    folder = Path(folder)
    config = TrainingConfig.load(folder / "config.json")
    state = json.loads((folder / "history.json").read_text(encoding="utf-8"))
    spec = PreprocessingSpec.from_dict(state["preprocessing"])
    classes = list(TASK_CLASSES[config.task])
    table = pd.read_csv(folder / "table.csv", dtype={"patient_id": str}, keep_default_na=False)
    table["split"] = table["split"].replace("", None)
    table["label"] = pd.Categorical(table["label"], categories=classes)
    images = load_preprocessed(table["path"].tolist(), spec, cache_dir=config.cache_dir)
    if images.errors:
        first = next(iter(images.errors.items()))
        raise ValueError(f"{len(images.errors)} image(s) of the run cannot be loaded now, "
                         f"e.g. {table.at[first[0], 'path']!r}: {first[1]}")
    model = keras.models.load_model(folder / "model.keras")
    return TrainingResult(
        model=model, config=config, classes=classes, spec=spec, table=table, images=images,
        history=state["history"], best_epoch=int(state["best_epoch"]),
        best_value=float(state["best_value"]), epoch_seconds=list(state["epoch_seconds"]),
        dropped=dict(state.get("dropped", {})),
    )
