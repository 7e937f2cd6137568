"""Other medical images: ultrasound, radiographs of other body parts, retina photos.

Ultrasound from pydicom's test files and a drawn fan; drawn skull, hand, mammogram, knee,
pelvis, spine and dental panoramic films; scikit-image's retina photo.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from model_training.non_chest.drawing import (
    Spec,
    as_film,
    capsule,
    dejavu_font,
    ellipse,
    gaussian_blur,
    pydicom_file,
    save,
    skimage_file,
    smooth_noise,
    u8,
)

_PYDICOM_US = (
    ("examples_palette.dcm", "ultrasound, palette colour (pydicom test file)"),
    ("examples_rgb_color.dcm", "ultrasound, RGB (pydicom test file)"),
    ("examples_jpeg2k.dcm", "ultrasound, JPEG 2000 (pydicom test file)"),
    ("examples_ybr_color.dcm", "ultrasound cine, first frame (pydicom test file)"),
)


def _ultrasound(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 480, 640
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    apex_y, apex_x = -40.0, width / 2
    radius = np.hypot(yy - apex_y, xx - apex_x)
    angle = np.arctan2(xx - apex_x, yy - apex_y)
    fan = (radius > 80) & (radius < 500) & (np.abs(angle) < np.radians(35 + 5 * seed))
    tissue = 0.4 + 0.6 * smooth_noise((height, width), rng, 4)
    tissue *= ~ellipse(yy, xx, 260 + 20 * seed, width / 2 + 40, 50, 70)  # a dark cyst
    speckle = rng.rayleigh(0.5, (height, width))
    image = tissue * speckle * np.exp(-radius / 600.0) * fan
    image = gaussian_blur(image, 0.7)
    out = Image.fromarray(u8(np.clip(image / 1.2, 0, 1)))
    ImageDraw.Draw(out).text((12, 10), f"US  5.0 MHz  G{60 + seed}", font=dejavu_font(14), fill=230)
    return np.asarray(out)


def _skull(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 600, 500
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = 290 + 10 * seed, 250.0
    outer = ellipse(yy, xx, cy, cx, 240, 190)
    inner = ellipse(yy, xx, cy, cx, 222, 172)
    image = 0.08 + 0.25 * outer + 0.45 * (outer & ~inner)
    for side in (-1, 1):  # orbits and maxillary sinuses
        image -= 0.2 * ellipse(yy, xx, cy + 40, cx + side * 70, 40, 45)
        image -= 0.12 * ellipse(yy, xx, cy + 130, cx + side * 55, 35, 40)
    image += 0.35 * ellipse(yy, xx, cy + 215, cx, 25, 120)  # teeth row
    return as_film(image, rng)


def _hand(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 640, 512
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.full((height, width), 0.05)
    palm = ellipse(yy, xx, 430, 256, 120, 130)
    image += 0.3 * palm
    bases = [(-150, 380, -0.5), (-75, 330, -0.15), (0, 320, 0.0), (75, 330, 0.12),
             (140, 360, 0.3)]
    for offset, base_y, tilt in bases:
        base = (base_y, 256 + offset)
        tip = (base_y - 230 + 40 * abs(tilt), 256 + offset + 230 * np.sin(tilt + 0.05 * seed))
        image += 0.3 * capsule(yy, xx, base, tip, 26) * ~palm
        for k in range(3):  # phalanges
            a = k / 3
            b = (k + 0.85) / 3
            p0 = (base[0] + (tip[0] - base[0]) * a, base[1] + (tip[1] - base[1]) * a)
            p1 = (base[0] + (tip[0] - base[0]) * b, base[1] + (tip[1] - base[1]) * b)
            image += 0.4 * capsule(yy, xx, p0, p1, 11)
        image += 0.4 * capsule(yy, xx, (base[0] + 10, base[1]), (560, 256 + offset * 0.4), 13)
    image += 0.3 * ellipse(yy, xx, 600, 256, 60, 150)  # wrist
    return as_film(image, rng)


def _mammogram(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 640, 480
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    breast = ellipse(yy, xx, 320, 0, 280, 330 - 20 * seed)
    texture = smooth_noise((height, width), rng, 5)
    image = breast * (0.35 + 0.45 * texture * np.clip(1 - xx / 330, 0, 1) ** 0.5)
    if seed % 2 == 1:  # MLO view: the pectoral muscle as a bright triangle
        image += 0.35 * ((xx + yy * 0.6) < 160)
    return as_film(image, rng, blur=0.8)


def _knee(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 640, 480
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = 0.05 + 0.3 * (np.abs(xx - 240) < 170 - 20 * np.abs(yy - 320) / 320)
    femur = capsule(yy, xx, (-50, 240), (250, 240), 55)
    condyles = ellipse(yy, xx, 290, 190, 45, 60) | ellipse(yy, xx, 290, 290, 45, 60)
    tibia = capsule(yy, xx, (360, 240), (720, 240), 50) | ellipse(yy, xx, 360, 240, 30, 120)
    fibula = capsule(yy, xx, (390, 345 + 5 * seed), (700, 340), 16)
    for bone in (femur, condyles, tibia, fibula):
        image += 0.45 * bone
    return as_film(image, rng)


def _pelvis(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 480, 640
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = 0.1 + 0.25 * ellipse(yy, xx, 260, 320, 300, 330)
    for side in (-1, 1):
        image += 0.35 * (ellipse(yy, xx, 170, 320 + side * 150, 120, 110)
                         & ~ellipse(yy, xx, 230, 320 + side * 120, 80, 70))
        image += 0.45 * ellipse(yy, xx, 330, 320 + side * 170, 40, 40)  # femoral heads
        image += 0.4 * capsule(yy, xx, (350, 320 + side * 190), (520, 320 + side * 210), 35)
        image -= 0.15 * ellipse(yy, xx, 380, 320 + side * 70, 40, 45)  # obturator foramina
    image += 0.35 * capsule(yy, xx, (0, 320), (260, 320), 30)  # sacrum / lumbar spine
    return as_film(image, rng)


def _spine_lateral(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 700, 420
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = 0.08 + 0.2 * (np.abs(xx - 210) < 190)
    for level in range(7):
        y = 60 + level * 92
        image += 0.45 * ellipse(yy, xx, y, 230 + 6 * np.sin(level + seed), 36, 55)
        image += 0.25 * capsule(yy, xx, (y, 290), (y + 20, 360), 12)  # spinous processes
    return as_film(image, rng)


def _dental_panoramic(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 360, 760
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    arch = np.abs(yy - (180 + 0.0006 * (xx - 380) ** 2)) < 70
    image = 0.1 + 0.2 * arch
    for tooth in range(16):
        x = 90 + tooth * 39
        for row, sign in ((150, -1), (215, 1)):
            y = row + 0.0006 * (x - 380) ** 2
            image += 0.45 * capsule(yy, xx, (y, x), (y + sign * 60, x), 14)
    return as_film(image, rng)


def _retina(gray: bool) -> Image.Image:
    image = Image.open(skimage_file("retina.jpg")).convert("RGB").resize((800, 800))
    return image.convert("L") if gray else image


def medical_other_specs() -> Iterator[Spec]:
    """Ultrasound, other radiographs (skull, hand, knee ...), retina photos."""
    for name, description in _PYDICOM_US:
        stem = Path(name).stem

        def copy(path: Path, name: str = name) -> None:
            shutil.copyfile(pydicom_file(name), path)

        yield Spec(f"{stem}.dcm", description, stem, copy)
    drawn: list[tuple[str, str, Callable[[int], np.ndarray], tuple[int, ...]]] = [
        ("ultrasound_fan", "synthetic ultrasound fan sector with speckle", _ultrasound,
         (0, 1, 2)),
        ("skull", "synthetic frontal skull radiograph", _skull, (0, 1, 2)),
        ("hand", "synthetic hand radiograph", _hand, (0, 1, 2)),
        ("mammogram", "synthetic mammogram (CC, MLO)", _mammogram, (0, 1, 2)),
        ("knee", "synthetic knee radiograph", _knee, (0, 1, 2)),
        ("pelvis", "synthetic pelvis radiograph", _pelvis, (0, 1)),
        ("spine_lateral", "synthetic lateral spine radiograph", _spine_lateral, (0, 1)),
        ("dental_panoramic", "synthetic dental panoramic radiograph", _dental_panoramic, (0, 1)),
    ]
    for name, description, draw, seeds in drawn:
        for seed in seeds:

            def write(path: Path, draw: Callable[[int], np.ndarray] = draw, seed: int = seed,
                      ) -> None:
                save(draw(seed), path)

            yield Spec(f"{name}_{seed}.png", f"{description} (seed {seed})", name, write)

    def retina(path: Path, gray: bool) -> None:
        save(_retina(gray), path, quality=90)

    yield Spec("retina_colour.jpg", "retinal fundus photo (scikit-image)", "retina",
               lambda p: retina(p, False))
    yield Spec("retina_gray.jpg", "retinal fundus photo, grayscale", "retina",
               lambda p: retina(p, True))

    def microaneurysms(path: Path) -> None:
        image = Image.open(skimage_file("microaneurysms.png")).convert("L")
        save(image.resize((408, 408), Image.Resampling.BICUBIC), path)

    yield Spec("microaneurysms.png", "retina close-up, grayscale (scikit-image), upscaled",
               "microaneurysms", microaneurysms)
