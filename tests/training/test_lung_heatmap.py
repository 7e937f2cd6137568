"""Heat-map mass inside the lungs: the share, the mask readers and the audit on the app's path."""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model_training.lung_heatmap import (
    MASKS_ZIP,
    audit,
    dataset_file_name,
    load_lung_masks,
    lung_area_share,
    lung_mass_share,
)
from tests.training.conftest import synthetic_image


def _left_half_mask(height: int = 40, width: int = 60) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[:, : width // 2] = True
    return mask


def _blob(centre_x: float, height: int = 40, width: int = 60) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.exp(-(((x - centre_x) / 3.0) ** 2 + ((y - height / 2) / 3.0) ** 2))


def _png_bytes(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def _raw_mask(width: int = 80, height: int = 72) -> np.ndarray:
    """A mask as the v7labs files store it: 255 lungs, 127 another annotation, 0 elsewhere."""
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[10:60, 8:35] = 255
    mask[10:60, 45:72] = 255
    mask[0:6, 30:50] = 127
    return mask


def test_blob_inside_the_mask_is_almost_all_inside() -> None:
    assert lung_mass_share(_blob(centre_x=15), _left_half_mask()) > 0.99


def test_blob_outside_the_mask_is_almost_all_outside() -> None:
    assert lung_mass_share(_blob(centre_x=45), _left_half_mask()) < 0.01


def test_mask_is_resized_to_the_heat_map_with_nearest_neighbour() -> None:
    # The mask is at the original film's size (here 3x), the heat map at the loaded one's.
    big = np.repeat(np.repeat(_left_half_mask(), 3, axis=0), 3, axis=1)
    assert lung_mass_share(_blob(centre_x=15), big) > 0.99
    uniform = np.ones((40, 60), dtype=np.float32)
    assert lung_mass_share(uniform, big) == pytest.approx(0.5)
    assert lung_area_share(big, (40, 60)) == pytest.approx(0.5)


def test_all_zero_or_negative_heat_gives_nan() -> None:
    assert math.isnan(lung_mass_share(np.zeros((40, 60)), _left_half_mask()))
    assert math.isnan(lung_mass_share(-np.ones((40, 60)), _left_half_mask()))


def test_negative_heat_counts_as_zero() -> None:
    heat = _blob(centre_x=15) - _blob(centre_x=45)  # negative evidence outside the lungs
    assert lung_mass_share(heat, _left_half_mask()) > 0.99


def test_bad_heat_map_is_refused_with_its_shape() -> None:
    with pytest.raises(ValueError, match=r"\(3,\)"):
        lung_mass_share(np.ones(3), _left_half_mask())
    with pytest.raises(ValueError, match="non-finite"):
        lung_mass_share(np.full((4, 4), np.nan), np.ones((4, 4)))


def test_dataset_file_name_follows_the_dataset_naming() -> None:
    assert dataset_file_name("case 1 (a).PNG") == "ieee8023_case_1__a_.jpg"
    assert dataset_file_name("masks/1-s2.0-S0140_lrg.jpeg") == "ieee8023_1-s2_0-S0140_lrg.jpg"


def _write_masks(tmp_path: Path, kind: str) -> Path:
    files = {
        "semantic_masks_v7labs_lungs/case 1.2.png": _png_bytes(_raw_mask()),
        "semantic_masks_v7labs_lungs/AB-07.jpeg": _png_bytes(_raw_mask(), "JPEG"),
    }
    if kind == "folder":
        for name, data in files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(data)
        return tmp_path / "semantic_masks_v7labs_lungs"
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("semantic_masks_v7labs_lungs/", b"")
        for name, data in files.items():
            archive.writestr(name, data)
    if kind == "zip":
        path = tmp_path / MASKS_ZIP
        path.write_bytes(inner.getvalue())
        return path
    path = tmp_path / "torchxrayvision-1.5.7-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("torchxrayvision/__init__.py", "")
        wheel.writestr(f"torchxrayvision/data/{MASKS_ZIP}", inner.getvalue())
    return path


@pytest.mark.parametrize("kind", ["zip", "wheel", "folder"])
def test_masks_are_read_and_keyed_by_the_dataset_name(tmp_path: Path, kind: str) -> None:
    masks = load_lung_masks(_write_masks(tmp_path, kind))
    assert sorted(masks) == ["ieee8023_AB-07.jpg", "ieee8023_case_1_2.jpg"]
    assert masks.member("ieee8023_case_1_2.jpg") == "case 1.2.png"
    for name in masks:
        lung = masks.load(name)
        assert lung.dtype == bool
        assert lung.shape == (72, 80)
        # 255 is lung; 127 (another annotation) and 0 are not, also after JPEG compression.
        assert lung[30, 20]
        assert lung[30, 60]
        assert not lung[2, 40]
        assert not lung[30, 40]


def test_two_masks_with_one_dataset_name_are_refused(tmp_path: Path) -> None:
    path = tmp_path / MASKS_ZIP
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a b.png", _png_bytes(_raw_mask()))
        archive.writestr("a_b.png", _png_bytes(_raw_mask()))
    with pytest.raises(ValueError, match=r"ieee8023_a_b\.jpg"):
        load_lung_masks(path)


def test_source_without_masks_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no masks here", encoding="utf-8")
    with pytest.raises(ValueError, match="no mask images"):
        load_lung_masks(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing"):
        load_lung_masks(tmp_path / "missing")


def _write_masked_dataset(folder: Path) -> Path:
    """Five ieee8023-named films (3 TEST, 2 TRAIN), four with a mask (one of the wrong shape),
    one other film; masks in a zip under their original names."""
    images = folder / "images"
    images.mkdir(parents=True)
    lines = ["X_ray_image_name,Label,Dataset_type,Label_2_Virus_category,"
             "Label_1_Virus_category,source,patient_id"]
    films = [  # original name, label columns, split, mask kind
        ("case 1.png", "Pnemonia,TEST,COVID-19,Virus", "good"),
        ("case-2.jpeg", "Normal,TEST,,", "good"),
        ("case.3.png", "Pnemonia,TEST,,bacteria", "transposed"),
        ("case 4.png", "Pnemonia,TRAIN,COVID-19,Virus", "good"),
        ("case 5.png", "Normal,TEST,,", None),
    ]
    masks = io.BytesIO()
    with zipfile.ZipFile(masks, "w") as archive:
        for seed, (original, columns, mask) in enumerate(films):
            name = dataset_file_name(original)
            film = synthetic_image("COVID-19", seed, size=(80, 72))  # width 80, height 72
            Image.fromarray(film).save(images / name, quality=90)
            label, split, label_2, label_1 = columns.split(",")
            lines.append(f"{name},{label},{split},{label_2},{label_1},ieee8023,p{seed}")
            if mask == "good":
                archive.writestr(original, _png_bytes(_raw_mask(160, 144)))  # 2x the film
            elif mask == "transposed":
                archive.writestr(original, _png_bytes(_raw_mask(72, 80)))
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / MASKS_ZIP).write_bytes(masks.getvalue())
    return folder


def test_audit_runs_the_app_path_on_masked_films(tmp_path: Path, tiny_bundle: Path) -> None:
    data = _write_masked_dataset(tmp_path / "cxr")
    masks = load_lung_masks(data / MASKS_ZIP)
    result = audit(tiny_bundle, data, masks, subset="test")

    assert result["model_id"].startswith("tiny-test-model")
    assert result["subset"] == "test"
    assert [row["name"] for row in result["rows"]] == ["ieee8023_case-2.jpg",
                                                       "ieee8023_case_1.jpg"]
    assert [s["name"] for s in result["skipped"]] == ["ieee8023_case_3.jpg"]
    assert "aspect ratio" in result["skipped"][0]["reason"]
    for row in result["rows"]:
        assert row["shown_class"] in result["classes"]
        assert 0.0 <= row["probability"] <= 1.0
        for key in ("share", "lung_area", "reference_share"):
            assert 0.0 <= row[key] <= 1.0, (key, row)
    assert {row["true_class"] for row in result["rows"]} == {"Normal", "COVID-19"}

    summary = result["summary"]
    assert summary["all"]["n"] == 2
    assert summary["all"]["patients"] == 2
    assert set(summary["by_true_class"]) == {"Normal", "COVID-19"}
    assert sum(s["n"] for s in summary["by_shown_class"].values()) == 2
    for key in ("mean_share", "median_share", "majority_inside", "mean_lung_area",
                "mean_reference_share"):
        assert 0.0 <= summary["all"][key] <= 1.0, key

    everything = audit(tiny_bundle, data, data / MASKS_ZIP, subset="all")
    assert everything["summary"]["all"]["n"] == 3


def test_audit_refuses_an_unknown_subset(tmp_path: Path, tiny_bundle: Path) -> None:
    with pytest.raises(ValueError, match="'validation'"):
        audit(tiny_bundle, tmp_path, tmp_path, subset="validation")
