from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from desktop_app.core.validation.patient_ids import derive_patient_id
from model_training.datasets import (
    class_from_coronahack,
    class_from_folder_name,
    read_dataset,
)
from tests.training.conftest import synthetic_image


def _png(path: Path, label: str = "Normal", seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(synthetic_image(label, seed)).save(path)


def test_metadata_layout(tiny_dataset: Path) -> None:
    table = read_dataset(tiny_dataset)
    assert list(table.columns) == ["path", "label", "split", "patient_id", "source",
                                   "age_group", "view"]
    assert list(table["label"].cat.categories) == ["Normal", "Pneumonia", "COVID-19"]
    assert table["label"].value_counts().to_dict() == {"Normal": 8, "Pneumonia": 8,
                                                      "COVID-19": 8}
    assert set(table["split"]) == {"TRAIN", "TEST"}
    assert all(Path(p).is_file() for p in table["path"])
    # The CSV path works too.
    assert len(read_dataset(tiny_dataset / "metadata.csv")) == 24


def test_covid_vs_normal_drops_pneumonia(tiny_dataset: Path) -> None:
    table = read_dataset(tiny_dataset, task="covid-vs-normal")
    assert list(table["label"].cat.categories) == ["Normal", "COVID-19"]
    assert len(table) == 16


def test_coronahack_spelling_and_classes() -> None:
    assert class_from_coronahack("Pnemonia", "COVID-19") == "COVID-19"
    assert class_from_coronahack("Pnemonia", "SARS") == "Pneumonia"
    assert class_from_coronahack("Pnemonia", float("nan")) == "Pneumonia"
    assert class_from_coronahack("Pneumonia", "") == "Pneumonia"
    assert class_from_coronahack("Normal", "") == "Normal"
    with pytest.raises(ValueError, match="'Cancer'"):
        class_from_coronahack("Cancer", "")


def test_kaggle_coronahack_layout(tmp_path: Path) -> None:
    root = tmp_path / "kaggle"
    images = root / "Coronahack-Chest-XRay-Dataset" / "Coronahack-Chest-XRay-Dataset"
    _png(images / "train" / "IM-0001-0001.jpeg")
    _png(images / "train" / "person1_virus_6.jpeg", "Pneumonia")
    _png(images / "test" / "covid.jpg", "COVID-19")
    (root / "Chest_xray_Corona_Metadata.csv").write_text(
        ",X_ray_image_name,Label,Dataset_type,Label_2_Virus_category,Label_1_Virus_category\n"
        "0,IM-0001-0001.jpeg,Normal,TRAIN,,\n"
        "1,person1_virus_6.jpeg,Pnemonia,TRAIN,,Virus\n"
        "2,covid.jpg,Pnemonia,TEST,COVID-19,Virus\n", encoding="utf-8")
    table = read_dataset(root)
    assert table["label"].astype(str).tolist() == ["Normal", "Pneumonia", "COVID-19"]
    assert table["split"].tolist() == ["TRAIN", "TRAIN", "TEST"]
    assert table["patient_id"].tolist() == ["IM-0001", "person1", "covid"]
    assert table["source"].tolist() == ["kermany", "kermany", "unknown"]
    # No age columns: Kermany names mean the pediatric set; anything else stays unknown.
    assert table["age_group"].tolist() == ["child", "child", "unknown"]
    assert all(Path(p).is_file() for p in table["path"])


def test_class_folders_with_synonyms_and_splits(tmp_path: Path) -> None:
    root = tmp_path / "folders"
    _png(root / "train" / "NORMAL" / "IM-0005-0001.jpeg")
    _png(root / "train" / "Viral Pneumonia" / "a.png", "Pneumonia")
    _png(root / "val" / "covid19" / "b.png", "COVID-19")
    _png(root / "test" / "pneumonia" / "person3_bacteria_10.jpeg", "Pneumonia")
    _png(root / "test" / "COVID-19" / "c.png", "COVID-19")
    table = read_dataset(root)
    by_name = {Path(p).name: (str(lab), s) for p, lab, s in
               zip(table["path"], table["label"], table["split"], strict=True)}
    assert by_name == {
        "IM-0005-0001.jpeg": ("Normal", "TRAIN"),
        "a.png": ("Pneumonia", "TRAIN"),
        "b.png": ("COVID-19", "TRAIN"),
        "person3_bacteria_10.jpeg": ("Pneumonia", "TEST"),
        "c.png": ("COVID-19", "TEST"),
    }


def test_class_folders_without_splits(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    _png(root / "normal" / "x.png")
    _png(root / "COVID" / "y.png", "COVID-19")
    table = read_dataset(root)
    assert sorted(table["label"].astype(str)) == ["COVID-19", "Normal"]
    assert table["split"].isna().all()


def test_unknown_layout_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cats").mkdir()
    with pytest.raises(ValueError, match="cats"):
        read_dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_dataset(tmp_path / "nowhere")


@pytest.mark.parametrize(("name", "expected"), [
    ("NORMAL", "Normal"), ("healthy", "Normal"), ("PNEUMONIA", "Pneumonia"),
    ("bacterial_pneumonia", "Pneumonia"), ("COVID-19", "COVID-19"), ("Covid19", "COVID-19"),
    ("cats", None),
])
def test_folder_synonyms(name: str, expected: str | None) -> None:
    assert class_from_folder_name(name) == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("person1004_virus_1686.jpeg", "person1004"),
    ("person1004_bacteria_2932.jpeg", "person1004"),
    ("kermany_person30_bacteria_156.jpg", "person30"),
    ("IM-0291-0001.jpeg", "IM-0291"),
    ("IM-0291-0001-0002.jpeg", "IM-0291"),
    ("NORMAL2-IM-0887-0001.jpeg", "NORMAL2-IM-0887"),
    ("kermany_NORMAL2-IM-0587-0001-0001.jpg", "NORMAL2-IM-0587"),
    ("covid-case.png", "covid-case"),
])
def test_patient_id_derivation(name: str, expected: str) -> None:
    assert derive_patient_id(name) == expected


def test_patient_id_without_fallback() -> None:
    assert derive_patient_id("random.png", fallback=False) is None
