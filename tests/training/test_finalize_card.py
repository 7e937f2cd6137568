"""The card and report ``finalize()`` writes for the tiny bundle, against a recorded golden.

The golden (``data/finalize_tiny_card.json``) was recorded with ``finalize()`` as one function
(before it became named stages); the stages must write the same card and report. To make the
card a function of the code alone, the trained model's weights are replaced by recorded ones
(``data/finalize_tiny_weights.npz``) and the training record (history, epoch times) by fixed
values, so nothing depends on how one epoch of training happened to go on this machine.

Left aside: the creation time, the date-stamped id and version, the software version, and the
epoch times. Floats are compared to 1e-6 relative (another CPU or TensorFlow build may round
the last bits of a convolution differently). After an intended change to the card, record a
new golden with ``LUNGLENS_RECORD_GOLDEN=1`` and review its diff.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_training.training import TrainingResult

GOLDEN = Path(__file__).parent / "data" / "finalize_tiny_card.json"
# The weights of one recorded one-epoch run: training is not bit-reproducible across machines.
WEIGHTS = GOLDEN.with_name("finalize_tiny_weights.npz")
# Differ between runs by design (time of export, software version) or by machine load.
# The files' sha256 too: the .keras file is a zip that stores the time it was saved, and the
# .tflite flatbuffer names its graph after the Keras models built before it in the process
# (alone it matched; after other tests it did not, with every figure still equal). What the
# flatbuffer computes is in the card: the gate's figures run it through the app's path.
# The cache folder is a temporary one; the check-set record carries the day it was made.
VOLATILE = {"created", "version", "model_id", "software_version", "model.keras",
            "model.tflite", "cache_dir", "seconds_per_epoch_mean", "seconds_per_epoch_median",
            "recorded"}


@pytest.fixture(scope="module")
def fixed_result(tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    """The tiny training run with seeded weights and a fixed training record."""
    from model_training.config import TrainingConfig
    from model_training.datasets import read_dataset
    from model_training.training import train
    from tests.training.conftest import write_metadata_dataset

    folder = write_metadata_dataset(tmp_path_factory.mktemp("data") / "tiny")
    config = TrainingConfig(input_size=32, epochs=1, batch_size=4, width=0.25, seed=0,
                            cache_dir=str(tmp_path_factory.mktemp("cache")))
    result = train(config, read_dataset(folder))
    if os.environ.get("LUNGLENS_RECORD_GOLDEN") == "1" and not WEIGHTS.is_file():
        # Recorded weights are kept: a new golden for a new card needs the same network.
        WEIGHTS.parent.mkdir(exist_ok=True)
        np.savez_compressed(WEIGHTS, *result.model.get_weights())
    with np.load(WEIGHTS) as saved:
        result.model.set_weights([saved[f"arr_{i}"] for i in range(len(saved.files))])
    history = {"loss": [1.0], "val_loss": [1.1], "accuracy": [0.5], "val_accuracy": [0.4],
               "auroc": [0.6], "val_auroc": [0.55]}
    return dataclasses.replace(result, history=history, best_epoch=1, best_value=1.1,
                               epoch_seconds=[2.0])


def _normalised(value: Any) -> Any:
    """The card without its volatile fields."""
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def _differences(expected: Any, actual: Any, where: str = "card") -> list[str]:
    """Every place the two JSON values differ (floats to 1e-6 relative)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [f"{where}: keys only in the golden: {sorted(set(expected) - set(actual))}"
                 ] if set(expected) - set(actual) else []
        if set(actual) - set(expected):
            found.append(f"{where}: keys not in the golden: {sorted(set(actual) - set(expected))}")
        for key in sorted(set(expected) & set(actual)):
            found += _differences(expected[key], actual[key], f"{where}.{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: length {len(actual)}, golden {len(expected)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in _differences(e, a, f"{where}[{i}]")]
    if (isinstance(expected, float) or isinstance(actual, float)) and not isinstance(
            expected, bool) and isinstance(expected, int | float) and isinstance(
            actual, int | float):
        if math.isclose(expected, actual, rel_tol=1e-6, abs_tol=1e-9):
            return []
    elif expected == actual:
        return []
    return [f"{where}: {actual!r}, golden {expected!r}"]


def test_finalize_writes_the_recorded_card(fixed_result: TrainingResult, tmp_path: Path
                                           ) -> None:
    from desktop_app.core.model.model_card import CARD_FILE
    from model_training.finalize import finalize

    lines: list[str] = []
    report = finalize(fixed_result, tmp_path / "bundle", bootstrap_rounds=20,
                      dataset_description="tiny generated films", log=lines.append)
    card = json.loads((tmp_path / "bundle" / CARD_FILE).read_text(encoding="utf-8"))
    written = json.loads((tmp_path / "bundle" / "report" / "report.json").read_text(
        encoding="utf-8"))
    log = [line.replace(str(tmp_path), "<tmp>") for line in lines]
    actual = {"card": _normalised(card), "report": _normalised(written), "log": log}
    if os.environ.get("LUNGLENS_RECORD_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(actual, indent=1) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    differences = _differences(golden, actual, "finalize")
    assert not differences, "\n".join(differences)
    # What finalize() returns is what it wrote, and the card carries the gate's figures.
    assert _differences(_normalised(written), _normalised(json.loads(json.dumps(
        report, default=str))), "report") == []
    assert "gate" in card["metrics"]["test"]


def test_every_stage_is_short_and_says_what_it_adds() -> None:
    """A stage is one readable function whose docstring names its part of the card."""
    import inspect

    from model_training.finalize import STAGES

    assert len({stage.__name__ for stage in STAGES}) == len(STAGES)
    for stage in STAGES:
        lines = inspect.getsource(stage).splitlines()
        assert len(lines) <= 40, (stage.__name__, len(lines))
        assert (stage.__doc__ or "").startswith("Card:"), stage.__name__
