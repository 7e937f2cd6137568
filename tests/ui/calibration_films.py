"""Generated site films and a small non-chest check set for the calibration tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from desktop_app.core.gate.check_set import CheckCase
from tests.ui.images import write_colour_noise, write_xray

#: Site films written: above the calibration's minimum of frontal films (30).
SITE_FILMS = 42
_CLASS_FOLDERS = ("NORMAL", "PNEUMONIA", "COVID-19")


def write_site_films(folder: Path, count: int = SITE_FILMS) -> Path:
    """A folder per class of generated radiographs (never real patient data)."""
    for index in range(count):
        label = _CLASS_FOLDERS[index % len(_CLASS_FOLDERS)]
        write_xray(folder / label / f"film{index:03d}.png", seed=index, size=(160, 192))
    return folder


def write_check_set(folder: Path) -> list[CheckCase]:
    """Generated non-chest images standing in for the shipped check set (both halves)."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for index in range(2):
        path = write_colour_noise(folder / f"noise{index}.png", seed=index)
        cases.append(CheckCase(path, "noise", "colour noise", index == 1, f"noise{index}"))
    rng = np.random.default_rng(7)
    photo = np.zeros((200, 260, 3), dtype=np.uint8)
    photo[..., 0] = np.linspace(30, 220, 260, dtype=np.uint8)
    photo[..., 1] = rng.integers(60, 200, (200, 260), dtype=np.uint8)
    photo[..., 2] = 90
    Image.fromarray(photo, "RGB").save(folder / "photo.png")
    cases.append(CheckCase(folder / "photo.png", "photo", "colour gradient", False, "photo"))
    text = Image.new("L", (240, 180), 255)
    draw = ImageDraw.Draw(text)
    for line in range(8):
        draw.text((10, 10 + 20 * line), "Lorem ipsum dolor sit amet", fill=0)
    text.save(folder / "document.png")
    cases.append(CheckCase(folder / "document.png", "document", "printed text", True,
                           "document"))
    return cases
