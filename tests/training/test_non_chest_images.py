"""The real non-chest images' split by case (model_training.non_chest_images)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image

from model_training.non_chest_images import family_of, read_non_chest

COLUMNS = ("X_ray_image_name", "kind", "license", "source", "case_id", "original_path", "use",
           "plane", "window", "body_region", "notes")
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "views" / "non_chest"


def _folder(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    (tmp_path / "images").mkdir(parents=True)
    for row in rows:
        Image.new("L", (64, 64), 100).save(tmp_path / "images" / row["X_ray_image_name"])
    with (tmp_path / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def _row(name: str, case: str, *, kind: str = "CT slice", use: str = "training or evaluation",
         plane: str = "axial", region: str = "chest") -> dict[str, str]:
    return {"X_ray_image_name": name, "kind": kind, "license": "CC0 1.0", "source": "src",
            "case_id": case, "original_path": "x", "use": use, "plane": plane, "window": "",
            "body_region": region, "notes": ""}


def test_slices_of_a_case_share_a_side_and_evaluation_only_rows_are_held_out(
        tmp_path: Path) -> None:
    rows = [_row(f"c{case}_{n}.jpg", f"case{case}",
                 region="chest" if n == 0 else "chest/abdomen",
                 plane="axial" if n == 0 else "coronal reformat")
            for case in range(10) for n in range(2)]
    rows.append(_row("nc.jpg", "nc", kind="ultrasound", use="evaluation only",
                     plane="lung ultrasound"))
    images = read_non_chest(_folder(tmp_path, rows))
    sides: dict[str, set[bool]] = defaultdict(set)
    for image in images:
        sides[image.case_id].add(image.held_out)
    assert all(len(side) == 1 for side in sides.values())
    held = sum(next(iter(sides[f"case{case}"])) for case in range(10))
    assert held == 4  # two of every five cases
    (uncommercial,) = [image for image in images if image.case_id == "nc"]
    assert uncommercial.held_out
    assert not uncommercial.trainable
    assert {image.category for image in images} == {"CT chest", "ultrasound"}


def test_the_split_is_stable_and_changes_with_the_seed(tmp_path: Path) -> None:
    rows = [_row(f"c{case}.jpg", f"case{case}") for case in range(20)]
    folder = _folder(tmp_path, rows)
    first = [image.held_out for image in read_non_chest(folder)]
    assert first == [image.held_out for image in read_non_chest(folder)]
    assert first != [image.held_out for image in read_non_chest(folder, seed=7)]


def test_bad_metadata_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="metadata file not found"):
        read_non_chest(tmp_path)
    folder = _folder(tmp_path / "a", [_row("a.jpg", "a")])
    (folder / "images" / "a.jpg").unlink()
    with pytest.raises(ValueError, match=r"'a\.jpg' is missing"):
        read_non_chest(folder)
    with pytest.raises(ValueError, match="'X-ray'"):
        family_of("X-ray")


@pytest.mark.skipif(not (SHARED / "metadata.csv").is_file(),
                    reason=f"the shared non-chest images are not at {SHARED}")
def test_every_kind_of_the_shared_images_has_held_out_cases() -> None:
    images = read_non_chest(SHARED)
    assert len(images) == 153
    for category in ("CT chest", "CT other", "MR", "ultrasound"):
        chosen = [image for image in images if image.category == category]
        assert any(image.held_out for image in chosen), category
        assert any(not image.held_out for image in chosen), category
    assert all(image.held_out for image in images if not image.trainable)
