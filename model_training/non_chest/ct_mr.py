"""CT and MR slices.

pydicom's test files (as DICOM and exported PNG), matplotlib's MR sample, the Shepp-Logan
phantom and drawn axial chest CT slices.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from model_training.non_chest.drawing import (
    Spec,
    as_film,
    dicom_to_png,
    ellipse,
    gaussian_blur,
    mpl_sample,
    normalise,
    pydicom_file,
    save,
    skimage_file,
    u8,
    write_dicom,
)

# pydicom test files that decode locally (checked: get_testdata_file never downloads these).
_PYDICOM_CT_MR = (
    ("CT_small.dcm", "CT slice (pydicom test file)"),
    ("MR_small.dcm", "MR slice (pydicom test file)"),
    ("693_J2KI.dcm", "CT slice, JPEG 2000 (pydicom test file)"),
    ("J2K_pixelrep_mismatch.dcm", "CT head slice (pydicom test file)"),
    ("examples_overlay.dcm", "MR abdomen slice (pydicom test file)"),
    ("image_dfl.dcm", "deflated grayscale DICOM image (pydicom test file)"),
    ("JPGExtended.dcm", "nuclear-medicine whole-body scan (pydicom test file)"),
    ("liver_1frame.dcm", "CT liver segmentation mask (pydicom test file)"),
)


def _mpl_mri() -> np.ndarray:
    """Read matplotlib's sample MR slice ``s1045.ima.gz``: 256 x 256 big-endian uint16."""
    raw = gzip.decompress(mpl_sample("s1045.ima.gz").read_bytes())
    return np.frombuffer(raw, dtype=">u2").reshape(256, 256).astype(np.uint16)


def _phantom() -> np.ndarray:
    return np.asarray(Image.open(skimage_file("phantom.png")).convert("L"), dtype=np.float64)


def ct_mr_specs() -> Iterator[Spec]:
    """CT and MR slices: pydicom's test files, matplotlib's MR sample, a phantom."""
    for name, description in _PYDICOM_CT_MR:
        stem = Path(name).stem

        def copy(path: Path, name: str = name) -> None:
            shutil.copyfile(pydicom_file(name), path)

        def png(path: Path, name: str = name) -> None:
            dicom_to_png(pydicom_file(name), path)

        yield Spec(f"{stem}.dcm", description, stem, copy)
        yield Spec(f"{stem}.png", f"{description}, exported as PNG", stem, png)

    def mri_png(path: Path) -> None:
        save(normalise(_mpl_mri()), path)

    def mri_dcm(path: Path) -> None:
        write_dicom(_mpl_mri(), path, "MR", "MR slice (matplotlib sample s1045)")

    def mri_zoom(path: Path) -> None:
        save(Image.fromarray(u8(normalise(_mpl_mri()))).resize((768, 768),
                                                                 Image.Resampling.BICUBIC), path)

    yield Spec("mri_s1045.png", "MR head slice (matplotlib sample s1045.ima.gz), PNG",
               "s1045", mri_png)
    yield Spec("mri_s1045.dcm", "MR head slice (matplotlib sample), written as DICOM",
               "s1045", mri_dcm)
    yield Spec("mri_s1045_zoom.png", "MR head slice upscaled to 768 px", "s1045", mri_zoom)

    def phantom_png(path: Path) -> None:
        save(normalise(_phantom()), path)

    def phantom_dcm(path: Path) -> None:
        write_dicom((normalise(_phantom()) * 3000).astype(np.uint16), path, "CT",
                    "Shepp-Logan phantom")

    yield Spec("shepp_logan.png", "Shepp-Logan CT phantom (scikit-image)", "phantom",
               phantom_png)
    yield Spec("shepp_logan.dcm", "Shepp-Logan CT phantom as DICOM", "phantom", phantom_dcm)

    for seed in range(4):

        def chest_ct(path: Path, seed: int = seed) -> None:
            save(_chest_ct(seed), path)

        yield Spec(f"chest_ct_axial_{seed}.png",
                   f"synthetic axial chest CT slice, lung window (seed {seed}): two dark lungs "
                   "either side of a bright mediastinum, like a frontal film's layout",
                   f"chest_ct{seed}", chest_ct)

    def ct_noisy(path: Path) -> None:
        from desktop_app.core.imaging import load_image

        pixels = load_image(pydicom_file("693_J2KI.dcm")).pixels
        rng = np.random.default_rng(7)
        save(np.clip(pixels + rng.normal(0, 0.03, pixels.shape), 0, 1), path, quality=80)

    yield Spec("ct_693_noisy.jpg", "CT slice with added noise, JPEG", "693_J2KI_b", ct_noisy)


def _chest_ct(seed: int) -> np.ndarray:
    """An axial chest CT slice sketch: the hardest CT case, its layout echoes a frontal film."""
    rng = np.random.default_rng(seed)
    size = 512
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cy, cx = 250.0 + 5 * seed, 256.0
    body = ellipse(yy, xx, cy, cx, 170 + 5 * seed, 230)
    image = 0.02 + 0.45 * body  # soft tissue; air outside is black
    image -= 0.1 * (body & ~ellipse(yy, xx, cy, cx, 155, 215))  # subcutaneous fat
    for side in (-1, 1):
        lung = ellipse(yy, xx, cy - 5, cx + side * 105, 120, 80, angle=side * 0.15)
        image = np.where(lung, 0.08, image)
        vessels = (rng.random((size, size)) < 0.004) & lung
        image += 0.3 * gaussian_blur(vessels.astype(np.float64), 1.5) * 6
    image = np.where(ellipse(yy, xx, cy - 40, cx - 10, 60, 55), 0.55, image)  # heart
    image = np.where(ellipse(yy, xx, cy + 115, cx, 38, 40), 0.95, image)  # vertebral body
    image = np.where(ellipse(yy, xx, cy - 160, cx, 12, 25), 0.9, image)  # sternum
    image += 0.6 * ((yy > cy + 190) & (yy < cy + 200) & (np.abs(xx - cx) < 240))  # table
    return np.clip(as_film(image, rng, noise=0.015, blur=1.0) * 1.05, 0, 1)
