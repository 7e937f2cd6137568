"""A card re-exported from a saved run names the dataset it was trained on, not one image."""

from __future__ import annotations

import json
from pathlib import Path

from model_training.cli import main


def test_exported_card_describes_the_dataset_folder(tiny_dataset: Path, tmp_path: Path) -> None:
    common = ["--input-size", "32", "--width", "0.25", "--epochs", "1", "--batch-size", "4",
              "--cache-dir", str(tmp_path / "cache")]
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_dataset), "--out", str(tmp_path / "trained"),
                 "--run-dir", str(run), *common]) == 0
    assert main(["export", "--run", str(run), "--out", str(tmp_path / "exported")]) == 0
    for bundle in ("trained", "exported"):
        card = json.loads((tmp_path / bundle / "model_card.json").read_text(encoding="utf-8"))
        description = card["training_data"]["description"]
        assert f"read from {tiny_dataset.name!r}" in description, (bundle, description)
        assert not any(suffix in description for suffix in (".png", ".jpg", ".jpeg", ".dcm"))
