"""Fixtures for the training tests: tiny generated datasets and the real-data lookup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASS_ROWS = {
    # class -> (Label, Label_2_Virus_category, Label_1_Virus_category)
    "Normal": ("Normal", "", ""),
    "Pneumonia": ("Pnemonia", "", "bacteria"),
    "COVID-19": ("Pnemonia", "COVID-19", "Virus"),
}


@pytest.fixture
def cxr_data(cxr_data_dir: Path) -> Path:
    """The real dataset; the lookup and the skip live in ``tests/conftest.py``."""
    return cxr_data_dir


def synthetic_image(label: str, seed: int, size: tuple[int, int] = (72, 80)) -> np.ndarray:
    """A uint8 image whose class is visible: darker lungs for Normal, a bright blob for
    Pneumonia, bright stripes for COVID-19 (so one epoch learns something)."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = 0.5 + 0.1 * rng.standard_normal((height, width))
    if label == "Pneumonia":
        image += 0.5 * np.exp(-(((x - width * 0.3) / 10) ** 2 + ((y - height * 0.5) / 10) ** 2))
    elif label == "COVID-19":
        image += 0.3 * (np.sin(x / 3.0) > 0)
    else:
        image -= 0.2 * np.exp(-(((x - width * 0.5) / 20) ** 2))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_metadata_dataset(folder: Path, per_class: int = 8, *, with_patient_id: bool = True
                           ) -> Path:
    """A LungLens-layout dataset: ``metadata.csv`` + ``images/``; 1 image per patient, the
    last quarter of every class in TEST."""
    images = folder / "images"
    images.mkdir(parents=True)
    lines = ["X_ray_image_name,Label,Dataset_type,Label_2_Virus_category,"
             "Label_1_Virus_category,source,patient_id"]
    seed = 0
    for name, (label, label_2, label_1) in CLASS_ROWS.items():
        for index in range(per_class):
            seed += 1
            file = f"{name.lower().replace('-', '')}_{index:03d}.png"
            Image.fromarray(synthetic_image(name, seed)).save(images / file)
            split = "TEST" if index >= per_class * 3 // 4 else "TRAIN"
            source = "kermany" if name != "COVID-19" else "ieee8023"
            patient = f"p_{name}_{index}" if with_patient_id else ""
            lines.append(f"{file},{label},{split},{label_2},{label_1},{source},{patient}")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """24 synthetic images (8 per class) in the LungLens metadata layout."""
    return write_metadata_dataset(tmp_path / "tiny")
