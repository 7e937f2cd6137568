"""A card re-exported from a saved run names the dataset it was trained on, not one image.

A run folder keeps image paths, not the ``--data`` argument, so ``export`` works the dataset
folder out from them (``_dataset_root``) and describes it as ``train`` does (``_describe``);
what ``finalize`` then writes into the card is checked by the finalize golden.
"""

from __future__ import annotations

from pathlib import Path

from model_training.cli import _dataset_root, _describe
from model_training.datasets import read_dataset


def test_exported_card_describes_the_dataset_folder(tiny_dataset: Path) -> None:
    paths = read_dataset(tiny_dataset)["path"].astype(str).tolist()
    root = _dataset_root(paths)
    assert Path(root) == tiny_dataset
    for description in (_describe(str(tiny_dataset)), _describe(root)):
        assert f"read from {tiny_dataset.name!r}" in description
        assert not any(suffix in description for suffix in (".png", ".jpg", ".jpeg", ".dcm"))


def test_a_folder_without_metadata_is_described_by_its_images_folder(tmp_path: Path) -> None:
    images = tmp_path / "films" / "images"
    paths = [str(images / "NORMAL" / "a.png"), str(images / "COVID" / "b.png")]
    assert Path(_dataset_root(paths)) == images
    images.mkdir(parents=True)
    (tmp_path / "films" / "metadata.csv").write_text("X_ray_image_name\n", encoding="utf-8")
    assert Path(_dataset_root(paths)) == tmp_path / "films"
