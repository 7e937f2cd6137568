"""Synthetic chest X-rays and the same X-ray written in every file format LungLens reads.

Tests use this to check that *how* an image is stored never changes *what* the model sees:
:func:`write_format_variants` writes one picture as PNG (8/16-bit, RGBA, palette, gray+alpha),
JPEG (gray, CMYK, EXIF-rotated, misnamed), WebP, BMP, TIFF (8/16-bit, float), GIF and DICOM
(windowed 12-bit MONOCHROME2 and MONOCHROME1, no suffix, no preamble, multi-frame, and the
deflated and compressed transfer syntaxes JPEG Baseline, JPEG Lossless, JPEG 2000, RLE).

Every variant is *faithful*: decoded by a correct loader it gives the source picture exactly
(lossless variants) or within the tolerance recorded in :data:`VARIANT_SPECS` (lossy ones), so a
"same X-ray -> same probabilities" test can reuse the variants with a real model.

Nothing here is random at run time: the same seed gives the same bytes.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    RLELossless,
    generate_uid,
)

__all__ = [
    "DICOM_STORED_BITS",
    "VARIANT_SPECS",
    "VariantSpec",
    "dicom_dataset",
    "encode_jpeg_lossless",
    "synthetic_cxr",
    "write_dicom",
    "write_format_variants",
]

#: Digital X-Ray Image Storage - For Presentation.
DX_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.1")
#: DICOM variants store 12-bit values: ``stored = DICOM_OFFSET + DICOM_GAIN * v`` for an 8-bit v.
DICOM_STORED_BITS = 12
DICOM_OFFSET = 100
DICOM_GAIN = 15
RESCALE_SLOPE = 0.5
RESCALE_INTERCEPT = -1024.0
#: Patient identity written into every DICOM variant; the loader must never expose it.
PATIENT_NAME = "Synthetic^Patient"
PATIENT_ID = "LL-SYN-0001"
PATIENT_BIRTH_DATE = "19700101"
EXIF_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class VariantSpec:
    """What loading one variant must give.

    Attributes:
        format: Expected ``LoadedImage.format``.
        mode: Expected ``LoadedImage.mode``.
        bits: Expected ``LoadedImage.bits``.
        tolerance: Largest allowed mean absolute difference between the preprocessed variant
            and the preprocessed 8-bit PNG (both 0..1). Lossless variants get a rounding-level
            bound; lossy ones (JPEG and WebP at quality 95, JPEG 2000 at 60 dB PSNR) about
            five times the error measured on :func:`synthetic_cxr` (0.0003..0.0016).
        exact: ``True`` if the loaded pixels equal the 8-bit PNG's pixels (``v / 255``) to
            float32 rounding, i.e. the variant is lossless *and* its intensity mapping (16-bit
            scaling, palette, alpha, DICOM rescale + window, MONOCHROME1 inversion) is exact.
    """

    format: str
    mode: str
    bits: int
    tolerance: float
    exact: bool


_LOSSLESS = 1e-4
VARIANT_SPECS: dict[str, VariantSpec] = {
    "png8": VariantSpec("PNG", "L", 8, _LOSSLESS, exact=True),
    "png16": VariantSpec("PNG", "I;16", 16, _LOSSLESS, exact=True),
    "png_rgba": VariantSpec("PNG", "RGBA", 8, _LOSSLESS, exact=True),
    "png_palette": VariantSpec("PNG", "P", 8, _LOSSLESS, exact=True),
    "png_gray_alpha": VariantSpec("PNG", "LA", 8, _LOSSLESS, exact=True),
    "jpeg": VariantSpec("JPEG", "L", 8, 0.005, exact=False),
    "jpeg_cmyk": VariantSpec("JPEG", "CMYK", 8, 0.005, exact=False),
    "jpeg_exif_rotated": VariantSpec("JPEG", "L", 8, 0.005, exact=False),
    "jpeg_named_png": VariantSpec("JPEG", "L", 8, 0.005, exact=False),
    "webp": VariantSpec("WEBP", "RGB", 8, 0.006, exact=False),
    "webp_lossless": VariantSpec("WEBP", "RGB", 8, _LOSSLESS, exact=True),
    "bmp": VariantSpec("BMP", "L", 8, _LOSSLESS, exact=True),
    "tiff": VariantSpec("TIFF", "L", 8, _LOSSLESS, exact=True),
    "tiff16": VariantSpec("TIFF", "I;16", 16, _LOSSLESS, exact=True),
    "tiff_float": VariantSpec("TIFF", "F", 32, _LOSSLESS, exact=True),
    "gif": VariantSpec("GIF", "P", 8, _LOSSLESS, exact=True),
    "dicom_mono2": VariantSpec("DICOM", "MONOCHROME2", 12, _LOSSLESS, exact=True),
    "dicom_mono1": VariantSpec("DICOM", "MONOCHROME1", 12, _LOSSLESS, exact=True),
    "dicom_no_suffix": VariantSpec("DICOM", "MONOCHROME2", 12, _LOSSLESS, exact=True),
    "dicom_no_preamble": VariantSpec("DICOM", "MONOCHROME2", 12, _LOSSLESS, exact=True),
    "dicom_multiframe": VariantSpec("DICOM", "MONOCHROME2", 12, _LOSSLESS, exact=True),
    "dicom_deflated": VariantSpec("DICOM", "MONOCHROME2", 12, _LOSSLESS, exact=True),
    # 8-bit, no window: the loader stretches min..max, so pixels differ by a linear map.
    "dicom_jpeg_baseline": VariantSpec("DICOM", "MONOCHROME2", 8, 0.005, exact=False),
    "dicom_jpeg_lossless": VariantSpec("DICOM", "MONOCHROME2", 12, _LOSSLESS, exact=True),
    "dicom_jpeg_lossless_sv1": VariantSpec("DICOM", "MONOCHROME2", 12, _LOSSLESS, exact=True),
    "dicom_jpeg2000_lossless": VariantSpec("DICOM", "MONOCHROME2", 12, _LOSSLESS, exact=True),
    "dicom_jpeg2000": VariantSpec("DICOM", "MONOCHROME2", 12, 0.002, exact=False),
    "dicom_rle": VariantSpec("DICOM", "MONOCHROME2", 12, _LOSSLESS, exact=True),
}


def _smoothstep(distance: np.ndarray, softness: float) -> np.ndarray:
    """Soft inside-test: ~1 where ``distance < 0``, ~0 where ``> 0``, blurred over ``softness``."""
    return 1.0 / (1.0 + np.exp(np.clip(distance / softness, -50.0, 50.0)))


def synthetic_cxr(seed: int = 0, size: tuple[int, int] = (384, 320)) -> np.ndarray:
    """Draw a deterministic, chest-X-ray-like grayscale picture.

    Bright spine, mediastinum and heart, darker lung fields crossed by ribs, clavicles, a
    diaphragm, a soft vignette and some noise, inside an 8-pixel black collimation border.
    The seed moves the anatomy a little and changes the noise, so different seeds are different
    "patients". Intensities span roughly 5..250 (never the full 0..255 apart from the border),
    so a loader that min-max stretches instead of applying a DICOM window is caught.

    Args:
        seed: Seed of the random generator.
        size: ``(height, width)`` in pixels (numpy order; the default is portrait, 320 wide).

    Returns:
        ``uint8`` array of shape ``size``; 0 = black (air), 255 = white (bone).
    """
    rng = np.random.default_rng(seed)
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    y = (yy + 0.5) / height  # 0 (top) .. 1 (bottom)
    x = (xx + 0.5) / width * 2.0 - 1.0  # -1 (image left) .. 1 (image right)
    jitter = rng.uniform(-0.03, 0.03, size=6)

    body = _smoothstep(np.hypot(x / 0.92, (y - 0.58) / 0.62) - 1.0, 0.03)
    image = 0.45 * body
    for side in (-1.0, 1.0):
        cx = side * (0.42 + jitter[0]) + jitter[1]
        lung = _smoothstep(np.hypot((x - cx) / (0.3 + jitter[2]), (y - 0.47) / 0.33) - 1.0, 0.04)
        image -= 0.3 * lung
        # Ribs: bright arcs sloping down laterally, only visible over the lungs.
        for k in range(9):
            centre = 0.2 + 0.072 * k + jitter[3] - 0.08 + 0.25 * (x - cx * 0.3) ** 2
            image += 0.16 * lung * np.exp(-(((y - centre) / 0.011) ** 2))
        clavicle = 0.1 + 0.05 * np.abs(x) - 0.02 * side * x
        image += 0.2 * body * np.exp(-(((y - clavicle) / 0.015) ** 2)) * (np.abs(x) < 0.7)
    mediastinum = _smoothstep(np.abs(x - jitter[4]) - 0.14 - 0.05 * y, 0.03) * (y > 0.05)
    heart = _smoothstep(np.hypot((x - 0.1) / 0.32, (y - 0.64) / 0.18) - 1.0, 0.08)
    spine = _smoothstep(np.abs(x - jitter[4]) - 0.05, 0.01)
    diaphragm = _smoothstep(0.8 + jitter[5] + 0.08 * x**2 - y, 0.02)
    image += 0.25 * mediastinum + 0.15 * heart + 0.15 * spine + 0.25 * diaphragm * body
    image *= 1.0 - 0.35 * np.hypot(x, y - 0.5) ** 2  # vignette
    image += rng.normal(0.0, 0.015, size=image.shape)
    image = np.clip(image, 0.0, None)
    image = 5.0 + 245.0 * image / image.max()
    out = np.clip(np.rint(image), 5, 250).astype(np.uint8)
    out[:8, :] = out[-8:, :] = 0
    out[:, :8] = out[:, -8:] = 0
    return out


def _as_uint8(pixels: np.ndarray) -> np.ndarray:
    array = np.asarray(pixels)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale array. Received shape {array.shape}")
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    raise ValueError(f"expected uint8 or float 0..1 pixels. Received dtype {array.dtype}")


def dicom_dataset(
    stored: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = DICOM_STORED_BITS,
    window: tuple[float, float] | None = None,
    rescale: tuple[float, float] | None = (RESCALE_SLOPE, RESCALE_INTERCEPT),
    modality: str = "DX",
    seed: int = 0,
) -> Dataset:
    """Build a native (Explicit VR Little Endian) DX dataset around ``stored`` values.

    Args:
        stored: Stored pixel values, ``(rows, cols)`` or ``(frames, rows, cols)``, unsigned.
        photometric: ``"MONOCHROME1"`` or ``"MONOCHROME2"``.
        bits_stored: Bits Stored; 8 gives 8-bit allocation, more gives 16-bit.
        window: ``(center, width)`` written as the first of two windows (the second is a
            narrow decoy a correct loader ignores), or ``None`` for no window.
        rescale: ``(slope, intercept)`` or ``None`` to omit the Modality rescale.
        modality: Modality.
        seed: Makes the generated UIDs deterministic.

    Returns:
        A dataset with file meta, ready for :func:`write_dicom` or ``Dataset.compress``.
    """
    frames = stored.shape[0] if stored.ndim == 3 else 1
    rows, cols = stored.shape[-2:]
    allocated = 8 if bits_stored <= 8 else 16
    sop_uid = generate_uid(entropy_srcs=[f"lunglens-synthetic-{seed}-{photometric}-{frames}"])

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[f"lunglens-study-{seed}"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[f"lunglens-series-{seed}"])
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = PATIENT_BIRTH_DATE
    ds.Modality = modality
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Rows, ds.Columns = rows, cols
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
        ds.RescaleType = "US"
    if window is not None:
        center, width = window
        ds.WindowCenter = [f"{center:.6g}", "40"]
        ds.WindowWidth = [f"{width:.6g}", "80"]
        ds.WindowCenterWidthExplanation = ["FULL", "DECOY"]
    ds.PixelData = np.ascontiguousarray(stored, dtype=f"<u{allocated // 8}").tobytes()
    return ds


def write_dicom(ds: Dataset, path: Path, *, preamble: bool = True) -> Path:
    """Write ``ds`` as a DICOM file, or as a bare dataset (no preamble, no file meta)."""
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:
        bare = Dataset()
        bare.update(ds)
        pydicom.dcmwrite(path, bare, implicit_vr=True, little_endian=True)
    return path


def _linear_window(low: float, high: float) -> tuple[float, float]:
    """DICOM LINEAR window ``(center, width)`` mapping ``low`` to black and ``high`` to white.

    PS3.3 C.11.2.1.2.1: ``y = ((x - (c - 0.5)) / (w - 1) + 0.5)``; solving for y(low) = 0 and
    y(high) = 1 gives ``w = high - low + 1`` and ``c = (low + high) / 2 + 0.5``.
    """
    return (low + high) / 2.0 + 0.5, high - low + 1.0


def _stored_12bit(pixels: np.ndarray) -> np.ndarray:
    return (DICOM_OFFSET + DICOM_GAIN * pixels.astype(np.uint16)).astype(np.uint16)


def _rescaled(stored: float) -> float:
    return stored * RESCALE_SLOPE + RESCALE_INTERCEPT


def _mono2_dataset(pixels: np.ndarray, frames: list[np.ndarray] | None = None) -> Dataset:
    window = _linear_window(_rescaled(DICOM_OFFSET), _rescaled(DICOM_OFFSET + DICOM_GAIN * 255))
    stored = _stored_12bit(pixels)
    if frames:
        stored = np.stack([stored, *(_stored_12bit(frame) for frame in frames)])
    return dicom_dataset(stored, window=window)


def encode_jpeg_lossless(stored: np.ndarray, precision: int) -> bytes:
    """Encode one grayscale frame as lossless JPEG (ITU T.81 process 14, predictor 1).

    No Python library at hand writes lossless JPEG, and pydicom has no encoder for it, so this
    small encoder exists to *verify* that LungLens decodes the JPEG Lossless transfer syntaxes
    (1.2.840.10008.1.2.4.57 and .70; selection value 1 is valid for both). One Huffman table
    codes the 17 difference categories with 5-bit codes; the bit stream is built with numpy.

    Args:
        stored: ``(rows, cols)`` unsigned values below ``2 ** precision``.
        precision: Sample precision in bits, 2..16.

    Returns:
        The complete JPEG stream, SOI to EOI.
    """
    values = stored.astype(np.int64)
    rows, cols = values.shape
    prediction = np.empty_like(values)
    prediction[0, 0] = 1 << (precision - 1)
    prediction[0, 1:] = values[0, :-1]  # first line: left neighbour
    prediction[1:, 0] = values[:-1, 0]  # first column: the sample above
    prediction[1:, 1:] = values[1:, :-1]  # predictor 1 (Ra, left) everywhere else
    diff = (values - prediction + 32768) % 65536 - 32768  # T.81 H.1.2.1: modulo 2**16
    magnitude = np.abs(diff)
    category = np.zeros_like(diff)
    nonzero = magnitude > 0
    category[nonzero] = np.floor(np.log2(magnitude[nonzero])).astype(np.int64) + 1
    extra = np.where(diff >= 0, diff, diff + (1 << category) - 1) & ((1 << category) - 1)
    extra[category == 16] = 0  # category 16 (diff 32768) carries no extra bits
    extra_bits = np.where(category == 16, 0, category)
    code_length = 5 + extra_bits  # the Huffman code of category s is s itself, in 5 bits
    code = (category << extra_bits) | extra

    flat_code, flat_length = code.ravel(), code_length.ravel()
    positions = np.arange(21)
    shift = flat_length[:, None] - 1 - positions[None, :]
    bits = (flat_code[:, None] >> np.maximum(shift, 0)) & 1
    stream = bits[shift >= 0].astype(np.uint8)
    stream = np.concatenate([stream, np.ones(-len(stream) % 8, dtype=np.uint8)])  # pad with 1s
    data = np.packbits(stream)
    data = np.insert(data, np.flatnonzero(data == 0xFF) + 1, 0)  # byte stuffing

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    counts = bytearray(16)
    counts[4] = 17  # 17 codes of length 5
    sof3 = (bytes([precision]) + rows.to_bytes(2, "big") + cols.to_bytes(2, "big")
            + bytes([1, 1, 0x11, 0]))
    dht = bytes([0x00]) + bytes(counts) + bytes(range(17))
    sos = bytes([1, 1, 0x00, 1, 0, 0])  # 1 component, table 0, predictor 1, Se=0, Pt=0
    return (b"\xff\xd8" + segment(0xC3, sof3) + segment(0xC4, dht) + segment(0xDA, sos)
            + data.tobytes() + b"\xff\xd9")


def _encapsulated(ds: Dataset, frame: bytes, syntax: UID) -> Dataset:
    """Replace ``ds``'s native pixel data by one compressed ``frame`` in ``syntax``."""
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = syntax
    return ds


def write_format_variants(pixels: np.ndarray, folder: Path) -> dict[str, Path]:
    """Write the same grayscale picture in every supported format and layout.

    Args:
        pixels: ``(height, width)`` picture, ``uint8`` or float in 0..1 (rounded to 8 bits),
            e.g. from :func:`synthetic_cxr`. Pixels equal to 0 are used as the fully
            transparent area of the alpha variants (composited on black they stay 0).
        folder: Existing folder; files are (over)written in it.

    Returns:
        Variant name (the keys of :data:`VARIANT_SPECS`) -> file written.
    """
    gray = _as_uint8(pixels)
    folder = Path(folder)
    paths: dict[str, Path] = {}

    def save(name: str, filename: str, image: Image.Image, fmt: str, **options: object) -> None:
        path = folder / filename
        image.save(path, fmt, **options)
        paths[name] = path

    base = Image.fromarray(gray)
    transparent = gray == 0
    save("png8", "cxr.png", base, "PNG")
    save("png16", "cxr_16bit.png", Image.fromarray(gray.astype(np.uint16) * 257), "PNG")

    # Alpha 0 where the picture is black, with *white* colour there: compositing on black
    # (what LungLens does) restores the picture; compositing on white would not.
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    rgba[transparent] = (255, 255, 255, 0)
    save("png_rgba", "cxr_rgba.png", Image.fromarray(rgba), "PNG")
    gray_alpha = np.dstack([gray, np.where(transparent, 0, 255).astype(np.uint8)])
    gray_alpha[transparent, 0] = 255
    save("png_gray_alpha", "cxr_gray_alpha.png", Image.fromarray(gray_alpha), "PNG")

    # Palette indices are a permutation of the gray levels, so reading indices as gray fails.
    permutation = np.random.default_rng(1234).permutation(256).astype(np.uint8)
    palette_image = Image.frombytes("P", base.size, permutation[gray].tobytes())
    ramp = np.zeros((256, 3), dtype=np.uint8)
    ramp[permutation] = np.arange(256, dtype=np.uint8)[:, None]
    palette_image.putpalette(ramp.tobytes())
    save("png_palette", "cxr_palette.png", palette_image, "PNG")

    save("jpeg", "cxr.jpg", base, "JPEG", quality=95)
    save("jpeg_cmyk", "cxr_cmyk.jpg", base.convert("CMYK"), "JPEG", quality=95)
    # Stored rotated 90 degrees anticlockwise; EXIF orientation 6 says "rotate 90 clockwise
    # to display", which exif_transpose undoes.
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = 6
    rotated = base.transpose(Image.Transpose.ROTATE_90)
    save("jpeg_exif_rotated", "cxr_exif_orientation6.jpg", rotated, "JPEG", quality=95,
         exif=exif)
    save("jpeg_named_png", "cxr_really_a_jpeg.png", base, "JPEG", quality=95)
    save("webp", "cxr.webp", base, "WEBP", quality=95)
    save("webp_lossless", "cxr_lossless.webp", base, "WEBP", lossless=True)
    save("bmp", "cxr.bmp", base, "BMP")
    save("tiff", "cxr.tif", base, "TIFF")
    save("tiff16", "cxr_16bit.tif", Image.fromarray(gray.astype(np.uint16) * 257), "TIFF")
    save("tiff_float", "cxr_float.tif", Image.fromarray(gray.astype(np.float32) / 255), "TIFF")
    save("gif", "cxr.gif", base, "GIF")

    paths["dicom_mono2"] = write_dicom(_mono2_dataset(gray), folder / "cxr_mono2.dcm")
    paths["dicom_no_suffix"] = folder / "IM000001"
    shutil.copyfile(paths["dicom_mono2"], paths["dicom_no_suffix"])
    paths["dicom_no_preamble"] = write_dicom(
        _mono2_dataset(gray), folder / "cxr_no_preamble.dcm", preamble=False
    )
    # Frames 2 and 3 differ from the first, so a loader that picks the wrong frame is caught.
    paths["dicom_multiframe"] = write_dicom(
        _mono2_dataset(gray, frames=[255 - gray, np.roll(gray, 40, axis=1)]),
        folder / "cxr_multiframe.dcm",
    )

    stored1 = (1 << DICOM_STORED_BITS) - 1 - _stored_12bit(gray)  # MONOCHROME1: high = dark
    window1 = _linear_window(
        _rescaled((1 << DICOM_STORED_BITS) - 1 - DICOM_OFFSET - DICOM_GAIN * 255),
        _rescaled((1 << DICOM_STORED_BITS) - 1 - DICOM_OFFSET),
    )
    paths["dicom_mono1"] = write_dicom(
        dicom_dataset(stored1, photometric="MONOCHROME1", window=window1),
        folder / "cxr_mono1.dcm",
    )

    buffer = io.BytesIO()
    base.save(buffer, "JPEG", quality=95)
    jpeg_ds = dicom_dataset(gray, bits_stored=8, rescale=None)
    paths["dicom_jpeg_baseline"] = write_dicom(
        _encapsulated(jpeg_ds, buffer.getvalue(), JPEGBaseline8Bit),
        folder / "cxr_jpeg_baseline.dcm",
    )
    lossless = encode_jpeg_lossless(_stored_12bit(gray), DICOM_STORED_BITS)
    for name, syntax in (("dicom_jpeg_lossless", JPEGLossless),
                         ("dicom_jpeg_lossless_sv1", JPEGLosslessSV1)):
        ds = _encapsulated(_mono2_dataset(gray), lossless, syntax)
        paths[name] = write_dicom(ds, folder / f"cxr_{name.removeprefix('dicom_')}.dcm")

    ds = _mono2_dataset(gray)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    paths["dicom_deflated"] = write_dicom(ds, folder / "cxr_deflated.dcm")
    ds = _mono2_dataset(gray)
    ds.compress(JPEG2000Lossless)
    paths["dicom_jpeg2000_lossless"] = write_dicom(ds, folder / "cxr_jpeg2000_lossless.dcm")
    ds = _mono2_dataset(gray)
    ds.compress(JPEG2000, j2k_psnr=[60.0])
    paths["dicom_jpeg2000"] = write_dicom(ds, folder / "cxr_jpeg2000.dcm")
    ds = _mono2_dataset(gray)
    ds.compress(RLELossless)
    paths["dicom_rle"] = write_dicom(ds, folder / "cxr_rle.dcm")
    return paths
