"""Tests for desktop_app.core.imaging: formats, pixel conventions, refusals, scans."""

from __future__ import annotations

import io
import os
import struct
import sys
import time
import tracemalloc
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import UID, ExplicitVRLittleEndian, JPEGBaseline8Bit, RLELossless

from desktop_app.core.errors import ImageLoadError
from desktop_app.core.imaging import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    VERIFIED_TRANSFER_SYNTAXES,
    LoadedImage,
    checks,
    dicom_reader,
    iter_image_files,
    load_image,
    pillow_reader,
    sniff_format,
)
from desktop_app.core.preprocessing import PreprocessingSpec, preprocess
from tests.image_factory import (
    PATIENT_BIRTH_DATE,
    PATIENT_ID,
    PATIENT_NAME,
    VARIANT_SPECS,
    dicom_dataset,
    synthetic_cxr,
    write_dicom,
    write_format_variants,
)

SPEC = PreprocessingSpec()
HEIGHT, WIDTH = 384, 320
PYDICOM_SAMPLES = Path(pydicom.__file__).parent / "data" / "test_files"
BASIC_TEXT_SR = UID("1.2.840.10008.5.1.4.1.1.88.11")


@pytest.fixture(scope="module")
def cxr() -> np.ndarray:
    return synthetic_cxr(seed=0)


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory, cxr: np.ndarray) -> dict[str, Path]:
    return write_format_variants(cxr, tmp_path_factory.mktemp("variants"))


@pytest.fixture(scope="module")
def reference(variants: dict[str, Path]) -> LoadedImage:
    return load_image(variants["png8"])


def refused(path: Path) -> ImageLoadError:
    """Load ``path`` expecting a refusal whose message names the file; return the error."""
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert info.value.path == path
    assert path.name in str(info.value)
    return info.value


def sample_file(name: str) -> Path:
    path = PYDICOM_SAMPLES / name
    if not path.is_file():
        pytest.skip(f"pydicom sample file {name!r} is not installed")
    return path


# --------------------------------------------------------------------------- every format


def test_factory_writes_every_variant(variants: dict[str, Path]) -> None:
    assert set(variants) == set(VARIANT_SPECS)
    assert all(path.is_file() for path in variants.values())


@pytest.mark.parametrize("name", sorted(VARIANT_SPECS))
def test_variant_loads_like_the_8bit_png(
    name: str, variants: dict[str, Path], reference: LoadedImage
) -> None:
    expected = VARIANT_SPECS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library may warn about our own, valid files
        img = load_image(variants[name])

    assert (img.format, img.mode, img.bits) == (expected.format, expected.mode, expected.bits)
    assert img.path == variants[name]
    assert img.pixels.dtype == np.float32
    assert img.pixels.shape == (HEIGHT, WIDTH)
    assert img.original_size == (WIDTH, HEIGHT)
    assert float(img.pixels.min()) >= 0.0
    assert float(img.pixels.max()) <= 1.0
    assert not img.pixels.flags.writeable
    assert img.colourfulness < 1.0  # a gray X-ray, whatever the container's colour model
    diff = np.abs(preprocess(img.pixels, SPEC).array - preprocess(reference.pixels, SPEC).array)
    assert float(diff.mean()) < expected.tolerance
    if expected.exact:
        # Lossless storage + exact intensity mapping (16-bit scaling, palette, alpha on black,
        # DICOM rescale + first window, MONOCHROME1 inversion) give the PNG's pixels exactly.
        np.testing.assert_allclose(img.pixels, reference.pixels, rtol=0, atol=1e-6)


def test_reference_png_pixels_are_the_source_values_over_255(
    reference: LoadedImage, cxr: np.ndarray
) -> None:
    np.testing.assert_array_equal(reference.pixels, cxr.astype(np.float32) / 255)
    assert reference.metadata == {}
    assert reference.colourfulness == 0.0


def test_exif_orientation_is_applied_and_recorded(
    variants: dict[str, Path], reference: LoadedImage
) -> None:
    with Image.open(variants["jpeg_exif_rotated"]) as stored:
        assert stored.size == (HEIGHT, WIDTH)  # stored lying on its side
    img = load_image(variants["jpeg_exif_rotated"])
    assert img.metadata == {"ExifOrientation": "6"}
    assert float(np.abs(img.pixels - reference.pixels).mean()) < 0.01


def test_format_comes_from_content_not_the_name(variants: dict[str, Path]) -> None:
    assert variants["jpeg_named_png"].suffix == ".png"
    assert load_image(variants["jpeg_named_png"]).format == "JPEG"
    assert variants["dicom_no_suffix"].suffix == ""
    assert load_image(variants["dicom_no_suffix"]).format == "DICOM"
    for name, path in variants.items():
        assert sniff_format(path) == VARIANT_SPECS[name].format, name


def test_sniff_format_returns_none_for_non_images_and_missing_files(tmp_path: Path) -> None:
    text = tmp_path / "scan.dcm"
    text.write_text("DICOM export failed\n", encoding="utf-8")
    assert sniff_format(text) is None
    assert sniff_format(tmp_path / "missing.png") is None
    assert sniff_format(tmp_path) is None


# --------------------------------------------------------------------------- DICOM


def test_dicom_metadata_is_small_and_never_identifies_the_patient(
    variants: dict[str, Path],
) -> None:
    img = load_image(variants["dicom_mono2"])
    assert img.metadata == {
        "Modality": "DX",
        "BodyPartExamined": "CHEST",
        "ViewPosition": "PA",
        "PhotometricInterpretation": "MONOCHROME2",
        "PresentationIntentType": "FOR PRESENTATION",
        "TransferSyntaxUID": "1.2.840.10008.1.2.1",
        "TransferSyntax": "Explicit VR Little Endian",
        "Rows": "384",
        "Columns": "320",
        "NumberOfFrames": "1",
    }
    for path in variants.values():
        values = " ".join(load_image(path).metadata.values())
        for secret in (*PATIENT_NAME.split("^"), PATIENT_ID, PATIENT_BIRTH_DATE):
            assert secret not in values


def test_multiframe_dicom_gives_its_first_frame(variants: dict[str, Path]) -> None:
    img = load_image(variants["dicom_multiframe"])
    assert img.metadata["NumberOfFrames"] == "3"
    assert img.pixels.shape == (HEIGHT, WIDTH)


def test_only_the_first_frame_is_decoded(tmp_path: Path, cxr: np.ndarray) -> None:
    # Frames 2 and 3 are garbage that no RLE decoder accepts: decoding them would fail.
    single = dicom_dataset(cxr, bits_stored=8, rescale=None)
    single.compress(RLELossless)
    first = next(generate_frames(single.PixelData, number_of_frames=1))
    ds = dicom_dataset(np.stack([cxr] * 3), bits_stored=8, rescale=None)
    ds.PixelData = encapsulate([first, b"\x00" * 64, b"\x00" * 64])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = RLELossless
    path = write_dicom(ds, tmp_path / "three_frames.dcm")
    with pytest.raises(Exception):  # noqa: B017, PT011 - any decoder error proves the point
        pydicom.dcmread(path).pixel_array  # noqa: B018
    img = load_image(path)
    stretched = (cxr - cxr.min()) / (cxr.max() - cxr.min())  # no window: min..max
    np.testing.assert_allclose(img.pixels, stretched, atol=1e-6)


def gradient_stored(bits: int = 12) -> np.ndarray:
    """128 x 256 image whose values sweep the whole stored range left to right."""
    row = np.linspace(0, (1 << bits) - 1, 256).round().astype(np.uint16)
    return np.tile(row, (128, 1))


def test_dicom_window_saturates_outside_and_is_linear_inside(tmp_path: Path) -> None:
    stored = gradient_stored()
    slope, intercept, center, width = 2.0, -1000.0, 2000.0, 1001.0
    ds = dicom_dataset(stored, rescale=(slope, intercept), window=(center, width))
    img = load_image(write_dicom(ds, tmp_path / "window.dcm"))
    x = stored * slope + intercept
    # PS3.3 C.11.2.1.2.1 (LINEAR) with output 0..1.
    expected = np.clip((x - (center - 0.5)) / (width - 1) + 0.5, 0, 1)
    np.testing.assert_allclose(img.pixels, expected, atol=1e-5)
    assert img.pixels.min() == 0.0
    assert img.pixels.max() == 1.0


def test_dicom_sigmoid_window(tmp_path: Path) -> None:
    stored = gradient_stored()
    ds = dicom_dataset(stored, rescale=None, window=(2048.0, 800.0))
    ds.VOILUTFunction = "SIGMOID"
    img = load_image(write_dicom(ds, tmp_path / "sigmoid.dcm"))
    expected = 1.0 / (1.0 + np.exp(-4.0 * (stored - 2048.0) / 800.0))
    np.testing.assert_allclose(img.pixels, expected, atol=1e-5)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_dicom_windowing_agrees_with_pydicom(function: str, tmp_path: Path) -> None:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    stored = gradient_stored()
    ds = dicom_dataset(stored, rescale=(0.8, -512.0), window=(1200.0, 700.0))
    ds.VOILUTFunction = function
    path = write_dicom(ds, tmp_path / f"{function}.dcm")
    read = pydicom.dcmread(path)
    windowed = apply_voi_lut(apply_modality_lut(read.pixel_array, read), read, index=0)
    # pydicom's output range is the rescaled stored range; probe it far outside the window.
    low, high = apply_voi_lut(np.array([-5e4, 5e4]), read, index=0)
    np.testing.assert_allclose(load_image(path).pixels, (windowed - low) / (high - low),
                               atol=2e-5)


def test_dicom_voi_lut_sequence_is_preferred_to_the_window(tmp_path: Path) -> None:
    stored = gradient_stored()
    lut = np.rint(np.sqrt(np.arange(4096) / 4095) * 4095).astype(np.uint16)
    ds = dicom_dataset(stored, rescale=(1.0, 0.0), window=(100.0, 50.0))
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 12])  # LUT Descriptor: entries, first, bits
    item.add_new(0x00283006, "US", lut.tolist())  # LUT Data
    ds.VOILUTSequence = [item]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        img = load_image(write_dicom(ds, tmp_path / "voi_lut.dcm"))
    np.testing.assert_allclose(img.pixels, lut[stored] / 4095, atol=1e-6)


def test_dicom_without_window_is_stretched_min_to_max(tmp_path: Path) -> None:
    stored = (200 + gradient_stored(8).astype(np.uint16) * 10).astype(np.uint16)
    img = load_image(write_dicom(dicom_dataset(stored, rescale=None), tmp_path / "raw.dcm"))
    np.testing.assert_allclose(img.pixels, (stored - 200) / 2550, atol=1e-6)


def test_dicom_with_an_invalid_window_falls_back_to_min_max(tmp_path: Path) -> None:
    stored = gradient_stored()
    ds = dicom_dataset(stored, rescale=None, window=(2048.0, 0.0))  # width 0 is invalid
    img = load_image(write_dicom(ds, tmp_path / "bad_window.dcm"))
    np.testing.assert_allclose(img.pixels, stored / 4095, atol=1e-6)


def test_monochrome1_shows_the_lowest_value_white(tmp_path: Path) -> None:
    stored = gradient_stored()
    ds = dicom_dataset(stored, photometric="MONOCHROME1", rescale=None)
    img = load_image(write_dicom(ds, tmp_path / "mono1.dcm"))
    np.testing.assert_allclose(img.pixels, 1.0 - stored / 4095, atol=1e-6)
    assert img.mode == "MONOCHROME1"


def test_verified_transfer_syntaxes_have_installed_decoders() -> None:
    from pydicom.pixels import get_decoder

    natives = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99",
               "1.2.840.10008.1.2.2"}
    for uid in VERIFIED_TRANSFER_SYNTAXES:
        assert uid in natives or get_decoder(uid).is_available, uid


def test_every_verified_transfer_syntax_is_decoded_in_these_tests(
    variants: dict[str, Path],
) -> None:
    decoded = {load_image(path).metadata["TransferSyntaxUID"]
               for name, path in variants.items() if name.startswith("dicom")}
    for name in ("MR_small_implicit.dcm", "MR_small_bigendian.dcm", "JPGExtended.dcm",
                 "MR_small_jpeg_ls_lossless.dcm", "SC_rgb_jls_lossy_line.dcm",
                 "JPEG2000.dcm"):
        decoded.add(load_image(sample_file(name)).metadata["TransferSyntaxUID"])
    assert decoded >= set(VERIFIED_TRANSFER_SYNTAXES)


@pytest.mark.parametrize(
    "name",
    ["MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm",
     "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"],
)
def test_pydicom_sample_in_a_lossless_syntax_equals_the_uncompressed_one(name: str) -> None:
    # MR_small.dcm's preamble holds a TIFF header: the DICM marker must win over "II*".
    reference = load_image(sample_file("MR_small.dcm"))
    assert reference.format == "DICOM"
    np.testing.assert_array_equal(load_image(sample_file(name)).pixels, reference.pixels)


def test_pydicom_samples_in_lossy_syntaxes_decode_to_the_same_picture() -> None:
    extended = load_image(sample_file("JPGExtended.dcm"))  # 12-bit JPEG Extended (.51)
    j2k = load_image(sample_file("JPEG2000.dcm"))  # the same scan in JPEG 2000 (.91)
    assert extended.bits == 12
    assert np.corrcoef(extended.pixels.ravel(), j2k.pixels.ravel())[0, 1] > 0.9
    rle = load_image(sample_file("SC_rgb_rle.dcm"))
    lossless = load_image(sample_file("SC_rgb_jpeg_gdcm.dcm"))  # JPEG Lossless SV1 (.70), RGB
    np.testing.assert_array_equal(lossless.pixels, rle.pixels)
    for name in ("SC_rgb_jls_lossy_line.dcm",  # JPEG-LS near-lossless (.81)
                 "SC_rgb_dcmtk_+eb+cy+np.dcm"):  # JPEG Baseline, YBR_FULL_422 (chroma 4:2:2)
        lossy = load_image(sample_file(name))
        assert float(np.abs(lossy.pixels - rle.pixels).mean()) < 0.005, name


# --------------------------------------------------------------------------- colour and depth


def reference_colourfulness(rgb: np.ndarray) -> float:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def colour_photo(size: int = 200) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([x, y, 1 - x * y], axis=-1) * 255
    return np.rint(rgb).astype(np.uint8)


def test_colour_photo_reports_hasler_susstrunk_colourfulness(tmp_path: Path) -> None:
    rgb = colour_photo()
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    img = load_image(path)
    assert img.mode == "RGB"
    assert img.colourfulness == pytest.approx(reference_colourfulness(rgb), abs=1e-3)
    assert img.colourfulness > 30
    luma = (rgb.astype(np.float64) @ [0.299, 0.587, 0.114]) / 255
    np.testing.assert_allclose(img.pixels, luma, atol=1e-6)


def test_colour_dicom_is_reduced_to_luma_and_keeps_its_colourfulness() -> None:
    img = load_image(sample_file("SC_rgb_rle.dcm"))
    assert (img.mode, img.bits) == ("RGB", 8)
    assert img.colourfulness > 50
    rgb = pydicom.dcmread(sample_file("SC_rgb_rle.dcm")).pixel_array
    np.testing.assert_allclose(img.pixels, (rgb @ [0.299, 0.587, 0.114]) / 255, atol=1e-6)


def test_transparency_is_composited_on_black(tmp_path: Path) -> None:
    rgba = np.zeros((100, 100, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = 128
    path = tmp_path / "half_transparent_white.png"
    Image.fromarray(rgba).save(path)
    np.testing.assert_allclose(load_image(path).pixels, 128 / 255, atol=1e-6)


def test_an_entirely_transparent_alpha_channel_is_ignored(tmp_path: Path) -> None:
    rgba = np.zeros((100, 100, 4), dtype=np.uint8)
    rgba[..., :3] = 200  # e.g. a 32-bit BMP whose fourth byte is unused
    path = tmp_path / "unused_alpha.png"
    Image.fromarray(rgba).save(path)
    np.testing.assert_allclose(load_image(path).pixels, 200 / 255, atol=1e-6)


def test_16bit_png_is_scaled_by_the_16_bit_range_not_stretched(tmp_path: Path) -> None:
    values = (np.arange(128 * 256, dtype=np.uint32).reshape(128, 256) % 4096).astype(np.uint16)
    path = tmp_path / "twelve_bits_in_sixteen.png"
    Image.fromarray(values).save(path)
    img = load_image(path)
    assert (img.mode, img.bits) == ("I;16", 16)
    np.testing.assert_allclose(img.pixels, values / 65535, atol=1e-7)
    assert float(img.pixels.max()) == pytest.approx(4095 / 65535)


def test_float_tiff_nan_becomes_minimum_and_infinities_are_clipped(tmp_path: Path) -> None:
    values = np.tile(np.linspace(-3.0, 5.0, 128, dtype=np.float32), (96, 1))
    values[0, 10] = np.nan
    values[1, 20] = np.inf
    values[2, 30] = -np.inf
    path = tmp_path / "float.tif"
    Image.fromarray(values).save(path)
    img = load_image(path)
    assert (img.format, img.mode, img.bits) == ("TIFF", "F", 32)
    assert np.isfinite(img.pixels).all()
    assert img.pixels[0, 10] == 0.0  # NaN -> minimum
    assert img.pixels[1, 20] == 1.0  # +inf -> maximum
    assert img.pixels[2, 30] == 0.0  # -inf -> minimum
    expected = (np.linspace(-3.0, 5.0, 128) + 3.0) / 8.0
    np.testing.assert_allclose(img.pixels[5], expected, atol=1e-6)


# --------------------------------------------------------------------------- refusals


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width x height`` but which holds (almost) no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def write_png(path: Path, width: int, height: int) -> Path:
    Image.new("L", (width, height), 128).save(path)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def truncated(source: Path, target: Path) -> Path:
    data = source.read_bytes()
    return write_bytes(target, data[: len(data) // 2])


def dicom_report(tmp_path: Path) -> Path:
    """A structured report: a valid DICOM file that is not an image."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.9.9999.2"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = BASIC_TEXT_SR
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "SR"
    ds.PatientName = PATIENT_NAME
    return write_dicom(ds, tmp_path / "report.dcm")


def cut(source: Path, target: Path, keep: int) -> Path:
    return write_bytes(target, source.read_bytes()[:keep])


def dicom_with_garbage_jpeg(tmp_path: Path) -> Path:
    ds = dicom_dataset(np.zeros((128, 128), dtype=np.uint8), bits_stored=8, rescale=None)
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xe0" + b"garbage!" * 16])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    return write_dicom(ds, tmp_path / "garbage_jpeg.dcm")


def dicom_with_private_syntax(tmp_path: Path) -> Path:
    ds = dicom_dataset(np.zeros((128, 128), dtype=np.uint8), bits_stored=8, rescale=None)
    ds.PixelData = encapsulate([b"\x00" * 64])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = "1.2.826.0.1.3680043.9.9999.1"
    path = tmp_path / "private_syntax.dcm"
    pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=True, enforce_file_format=True)
    return path


def dicom_bomb(tmp_path: Path, rows: int, columns: int, frames: int) -> Path:
    ds = dicom_dataset(np.zeros((64, 64), dtype=np.uint16))
    ds.Rows, ds.Columns = rows, columns
    if frames > 1:
        ds.NumberOfFrames = frames
    return write_dicom(ds, tmp_path / f"bomb_{rows}x{columns}x{frames}.dcm")


RefusalCase = Callable[[Path, dict[str, Path]], Path]
REFUSALS: dict[str, tuple[RefusalCase, tuple[str, ...]]] = {
    "missing": (lambda t, v: t / "missing.png", ("file not found",)),
    "folder": (lambda t, v: t, ("is a folder",)),
    "empty": (lambda t, v: write_bytes(t / "empty.png", b""), ("file is empty (0 bytes)",)),
    "truncated_png": (lambda t, v: truncated(v["png8"], t / "cut.png"),
                      ("image is truncated or corrupt:",)),
    "truncated_jpeg": (lambda t, v: truncated(v["jpeg"], t / "cut.jpg"),
                       ("image is truncated or corrupt:",)),
    "truncated_dicom": (lambda t, v: truncated(v["dicom_mono2"], t / "cut.dcm"),
                        ("image is truncated or corrupt:",)),
    "text": (lambda t, v: write_bytes(t / "notes.png", b"Patient notes: see PACS\n"),
             ("not an image: content starts with b'Patient '", "(looks like plain text)")),
    "pdf": (lambda t, v: write_bytes(t / "report.jpg", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
            ("not an image: content starts with b'%PDF-1.4' (looks like a PDF)",)),
    "zip": (lambda t, v: write_bytes(t / "images.dcm", b"PK\x03\x04\x14\x00\x00\x00" * 4),
            ("looks like a ZIP archive",)),
    "html": (lambda t, v: write_bytes(t / "xray.jpg", b"<!DOCTYPE html>\n<html><body>"),
             ("(looks like an HTML web page, perhaps saved instead of the image it showed)",)),
    "unknown_binary": (lambda t, v: write_bytes(t / "blob.bmp", bytes(range(0, 256, 3))),
                       ("not a supported image format", "LungLens reads PNG, JPEG")),
    "too_small": (lambda t, v: write_png(t / "icon.png", 40, 300),
                  ("too small: 40 x 300 px (each side must be at least 64 px)",)),
    "absurd_aspect": (lambda t, v: write_png(t / "banner.png", 1880, 200),
                      ("aspect ratio 9.4:1 (1880 x 200 px) is not that of a radiograph "
                       "(at most 4:1)",)),
    "png_bomb": (lambda t, v: write_bytes(t / "bomb.png", png_header_only(50000, 50000)),
                 ("declares 50000 x 50000 = 2,500,000,000 pixels, more than the 60,000,000 "
                  "allowed (possible decompression bomb); refused before decoding",)),
    "dicom_bomb": (lambda t, v: dicom_bomb(t, 20000, 20000, 1),
                   ("declares 20000 x 20000 = 400,000,000 pixels", "refused before decoding")),
    "dicom_frames_bomb": (lambda t, v: dicom_bomb(t, 4000, 4000, 5),
                          ("declares 4000 x 4000 x 5 frames = 80,000,000 pixels",)),
    "dicom_without_pixels": (lambda t, v: dicom_report(t),
                             ("DICOM has no pixel data (Modality 'SR')",)),
    # pydicom stops quietly at the end of a cut file; the loader must not call it a report.
    "dicom_cut_in_its_header": (
        lambda t, v: cut(v["dicom_mono2"], t / "cut_header.dcm", 400),
        ("image is truncated or corrupt: the DICOM file describes an image (Digital X-Ray "
         "Image Storage - For Presentation) but holds no pixel data",)),
    "dicom_jpeg_cut_short": (
        lambda t, v: cut(v["dicom_jpeg_baseline"], t / "cut_jpeg.dcm", 20000),
        ("image is truncated or corrupt",)),
    "dicom_garbage_jpeg": (lambda t, v: dicom_with_garbage_jpeg(t),
                           ("DICOM transfer syntax 'JPEG Baseline (Process 1)' "
                            "(1.2.840.10008.1.2.4.50) cannot be decoded",)),
    "dicom_private_syntax": (lambda t, v: dicom_with_private_syntax(t),
                             ("DICOM transfer syntax '1.2.826.0.1.3680043.9.9999.1'",
                              "cannot be decoded: LungLens has no decoder for it")),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusal_names_the_file_and_the_problem(
    case: str, tmp_path: Path, variants: dict[str, Path]
) -> None:
    build, fragments = REFUSALS[case]
    path = build(tmp_path, variants)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error = refused(path)
    # pydicom may warn about the broken file it reads (and logs it); Pillow's bomb warning and
    # warnings of our own must not appear: the refusal is the message.
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)
                or "desktop_app" in w.filename]
    for fragment in fragments:
        assert fragment in error.reason


def test_pixel_bomb_is_refused_from_the_header_without_allocating(tmp_path: Path) -> None:
    paths = [
        write_bytes(tmp_path / "bomb.png", png_header_only(50000, 50000)),
        # 100 Mpx: inside the band where Pillow's own check would only *warn*.
        write_bytes(tmp_path / "warn_band.png", png_header_only(10000, 10000)),
        # WebP: Pillow allocates the canvas while reading the header; we must refuse first.
        write_bytes(tmp_path / "bomb.webp", b"RIFF\x16\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00"
                    + b"\x00\x00\x00\x00" + (16000 - 1).to_bytes(3, "little") * 2),
    ]
    tracemalloc.start()
    try:
        started = time.perf_counter()
        for path in paths:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                error = refused(path)
            assert "refused before decoding" in error.reason
            assert f"{MAX_PIXELS:,}" in error.reason
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 5_000_000


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="needs POSIX permissions and a non-root user")
def test_unreadable_file_is_refused(tmp_path: Path, variants: dict[str, Path]) -> None:
    path = tmp_path / "locked.png"
    path.write_bytes(variants["png8"].read_bytes())
    path.chmod(0)
    try:
        assert "permission denied" in refused(path).reason
    finally:
        path.chmod(0o644)


def test_permission_denied_is_reported(
    variants: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs everywhere (root can read a chmod-0 file): the OS refusal is simulated.
    def deny(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checks, "open", deny, raising=False)
    assert refused(variants["png8"]).reason == (
        "permission denied: LungLens may not read this file"
    )


def test_float_image_without_finite_values_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "all_nan.tif"
    Image.fromarray(np.full((80, 80), np.nan, dtype=np.float32)).save(path)
    assert "contains no finite pixel values" in refused(path).reason


def test_unexpected_errors_are_wrapped_with_their_text(
    variants: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("simulated decoder bug")

    monkeypatch.setattr(pillow_reader, "pillow_to_gray", explode)
    error = refused(variants["png8"])
    assert error.reason == ("unexpected error while reading the image: "
                            "RuntimeError: simulated decoder bug")


def test_running_out_of_memory_is_reported_plainly(
    variants: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def exhaust(*args: object) -> None:
        raise MemoryError

    monkeypatch.setattr(dicom_reader, "decode_dicom", exhaust)
    assert refused(variants["dicom_mono2"]).reason == "not enough memory to decode this image"


# --------------------------------------------------------------------------- folder scans


def test_iter_image_files_finds_images_by_content_and_skips_hidden(
    tmp_path: Path, variants: dict[str, Path]
) -> None:
    root = tmp_path / "scan"
    files = {
        "a.png": variants["png8"].read_bytes(),
        "b/IM000001": variants["dicom_no_suffix"].read_bytes(),  # DICOM without extension
        "b/notes.txt": b"nothing to see\n",
        "c/d/chest.jpg": variants["jpeg"].read_bytes(),
        "broken.png": b"<!DOCTYPE html>",  # named as an image: listed, load_image explains
        "export.bin": variants["dicom_mono2"].read_bytes(),  # image by content
        "readme.md": b"# scans\n",
        ".hidden.png": variants["png8"].read_bytes(),
        ".cache/e.png": variants["png8"].read_bytes(),
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)

    found = [path.relative_to(root).as_posix() for path in iter_image_files(root)]

    assert found == ["a.png", "b/IM000001", "broken.png", "c/d/chest.jpg", "export.bin"]
    assert "HTML web page" in refused(root / "broken.png").reason


def test_iter_image_files_refuses_a_file_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="missing"):
        list(iter_image_files(tmp_path / "missing"))


def test_image_suffixes_are_lower_case_with_a_dot_and_exclude_empty() -> None:
    assert "" not in IMAGE_SUFFIXES
    assert {".png", ".jpg", ".jpeg", ".dcm", ".tif", ".tiff", ".bmp", ".gif", ".webp"} <= (
        IMAGE_SUFFIXES
    )
    assert all(s.startswith(".") and s == s.lower() for s in IMAGE_SUFFIXES)


def test_loaded_pixels_feed_preprocess_without_copies_or_errors(
    reference: LoadedImage,
) -> None:
    out = preprocess(reference.pixels, SPEC)  # read-only input is fine for preprocess
    assert out.array.shape == (SPEC.input_size, SPEC.input_size)
    buffer = io.BytesIO()
    np.save(buffer, reference.pixels)  # and for serialisation (the training cache)
