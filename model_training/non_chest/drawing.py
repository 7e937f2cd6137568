"""What every kind of image is drawn with.

The :class:`Spec` of one image, saving, the packages' bundled sample files (never fetched),
fonts, crops, a 16-bit DICOM writer, and the shapes and film look of the drawn radiographs.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFont


@dataclass(frozen=True)
class Spec:
    """One image to write: its file name (with suffix), description, group and writer."""

    name: str  # file name, with suffix
    description: str
    group: str
    write: Callable[[Path], None]


def save(array_or_image: np.ndarray | Image.Image, path: Path, **params: object) -> None:
    """Write an array (floats in [0, 1] or uint8) or a Pillow image to ``path``."""
    image = (array_or_image if isinstance(array_or_image, Image.Image)
             else Image.fromarray(u8(array_or_image)))
    if path.suffix.lower() in (".jpg", ".jpeg") and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    image.save(path, **params)


def u8(array: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] as uint8 (uint8 input is returned as is)."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)


def normalise(array: np.ndarray) -> np.ndarray:
    """Stretch an array to [0, 1] (a flat array becomes zeros)."""
    array = np.asarray(array, dtype=np.float64)
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def skimage_file(name: str) -> Path:
    """A sample image shipped inside scikit-image's wheel (never fetched)."""
    import skimage

    return Path(skimage.__file__).parent / "data" / name


def mpl_sample(name: str) -> Path:
    """A file of matplotlib's bundled sample data."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / name


def pydicom_file(name: str) -> Path:
    """A pydicom test file that is installed locally."""
    from pydicom.data import get_testdata_file

    # download=False: a file that is not shipped must fail here, never reach the network.
    found = get_testdata_file(name, download=False)
    if found is None:
        raise FileNotFoundError(f"pydicom test file {name!r} is not installed locally")
    return Path(found)


def dejavu_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The DejaVu Sans font that matplotlib ships, at ``size`` px."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def crop(image: Image.Image, kind: str) -> Image.Image:
    """A centred ``square`` crop, or a 4:5 ``portrait`` crop rescaled to 640 x 800."""
    width, height = image.size
    if kind == "square":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return image.crop((left, top, left + side, top + side))
    # "portrait": a 4:5 crop, the shape of a chest film, rescaled to a typical export size.
    crop_w = min(width, int(height * 0.8))
    crop_h = int(crop_w / 0.8)
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return image.crop((left, top, left + crop_w, top + crop_h)).resize((640, 800),
                                                                      Image.Resampling.LANCZOS)


def write_dicom(pixels: np.ndarray, path: Path, modality: str, description: str) -> None:
    """Write a 16-bit MONOCHROME2 DICOM with fixed UIDs (deterministic bytes)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

    pixels = np.asarray(pixels, dtype=np.uint16)
    seed = zlib.crc32(path.name.encode())
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{seed}.1"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.{seed}.2"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.{seed}.3"
    ds.Modality = modality
    ds.SeriesDescription = description[:64]
    ds.PatientName = "OOD^Test"
    ds.PatientID = "OOD-TEST"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)


def dicom_to_png(source: Path, path: Path) -> None:
    """The DICOM as a viewer would export it (Modality/VOI LUTs applied by our loader)."""
    from desktop_app.core.imaging import load_image

    save(load_image(source).pixels, path)


def smooth_noise(shape: tuple[int, int], rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    """Perlin-like fractal noise: upsampled random grids, halving amplitude per octave."""
    height, width = shape
    total = np.zeros(shape)
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        layer = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)
        total += np.asarray(layer, dtype=np.float64) * 0.5**octave
    return normalise(total)


def as_film(image: np.ndarray, rng: np.random.Generator, noise: float = 0.02,
            blur: float = 1.2) -> np.ndarray:
    """Blur, add film noise and normalise a drawn radiograph."""
    return normalise(gaussian_blur(image, blur) + rng.normal(0, noise, image.shape))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur in float (Pillow's blur works on 8-bit images only)."""
    radius = max(1, int(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(np.asarray(image, dtype=np.float64), radius, mode="edge")
    rows = np.apply_along_axis(np.convolve, 0, padded, taps, mode="valid")
    return np.apply_along_axis(np.convolve, 1, rows, taps, mode="valid")


def ellipse(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float,
            angle: float = 0.0) -> np.ndarray:
    """Mask of the pixels inside an ellipse centred at (cy, cx), turned by ``angle``."""
    cos, sin = np.cos(angle), np.sin(angle)
    dy, dx = yy - cy, xx - cx
    u = (dx * cos + dy * sin) / rx
    v = (-dx * sin + dy * cos) / ry
    return (u**2 + v**2) <= 1.0


def capsule(yy: np.ndarray, xx: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
            radius: float) -> np.ndarray:
    """Mask of the pixels within ``radius`` of the segment from ``p0`` to ``p1``."""
    (y0, x0), (y1, x1) = p0, p1
    dy, dx = y1 - y0, x1 - x0
    t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / (dy * dy + dx * dx), 0, 1)
    return np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx)) <= radius
