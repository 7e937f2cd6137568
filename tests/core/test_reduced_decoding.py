"""Reduced-resolution decoding gives the model the same input as the full image, per codec.

``load_image(path, min_side=...)`` lets JPEG (DCT scaling) and JPEG 2000 (resolution levels),
also inside DICOM, decode a smaller image, and block-averages every other format in its
integer domain. The model input must not change beyond a stated tolerance: mean absolute
difference of the preprocessed input at most :data:`INPUT_TOLERANCE` for every codec, and
class probabilities of the bundled model within :data:`PROBABILITY_TOLERANCE` on real films.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import JPEG2000, JPEG2000Lossless, JPEGBaseline8Bit, RLELossless

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.classify.heatmap import heatmap_for_original
from desktop_app.core.classify.inference import TfliteModel
from desktop_app.core.classify.lung_fields import ModelInputs
from desktop_app.core.imaging import load_image, model_min_side
from desktop_app.core.imaging.model_geometry import match_model_geometry
from desktop_app.core.locations import bundled_model_dir
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.preprocessing import PreprocessingSpec, preprocess
from tests.image_factory import dicom_dataset, synthetic_cxr, write_dicom

#: Largest mean absolute difference of the model input (0..1) between the two paths.
INPUT_TOLERANCE = 0.01
#: Largest difference of any class probability between the two paths on real films.
PROBABILITY_TOLERANCE = 0.02
SPEC = PreprocessingSpec(input_size=192)  # the bundled card's input size
MIN_SIDE = model_min_side(SPEC.input_size)
# Clinic-like portrait, large enough for a 4x reduction; sides no reduction divides, so the
# partial edge blocks and the rounding of the padded content size are exercised.
HEIGHT, WIDTH = 1601, 1303


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    return synthetic_cxr(seed=7, size=(HEIGHT, WIDTH))


def _stored_12bit(picture: np.ndarray, seed: int = 0) -> np.ndarray:
    """12-bit stored values with fine texture below the 8-bit steps (as a detector gives)."""
    jitter = np.random.default_rng(seed).integers(0, 15, size=picture.shape)
    return (100 + 15 * picture.astype(np.uint16) + jitter).astype(np.uint16)


def _window(stored: np.ndarray) -> tuple[float, float]:
    low, high = float(stored.min()) * 0.5 - 1024, float(stored.max()) * 0.5 - 1024
    return (low + high) / 2 + 0.5, high - low + 1


def _write(kind: str, picture: np.ndarray, folder: Path) -> Path:
    """Write ``picture`` as one clinic codec; return the file."""
    path = folder / f"{kind}.{'dcm' if kind.startswith('dicom') else kind.split('_')[0]}"
    if kind == "jpg":
        Image.fromarray(picture).save(path, "JPEG", quality=92)
    elif kind == "png_16bit":
        path = folder / "film16.png"
        Image.fromarray(_stored_12bit(picture) * 16).save(path, "PNG")
    elif kind in ("dicom_raw_mono2", "dicom_raw_mono1"):
        stored = _stored_12bit(picture)
        photometric = "MONOCHROME2"
        if kind.endswith("mono1"):
            stored = (4095 - stored).astype(np.uint16)
            photometric = "MONOCHROME1"
        write_dicom(dicom_dataset(stored, photometric=photometric, window=_window(stored)), path)
    elif kind == "dicom_jpeg_baseline":
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, "JPEG", quality=92)
        ds = dicom_dataset(picture, bits_stored=8, rescale=None)
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([buffer.getvalue()])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        write_dicom(ds, path)
    elif kind in ("dicom_j2k_lossless", "dicom_j2k", "dicom_rle"):
        stored = _stored_12bit(picture)
        ds = dicom_dataset(stored, window=_window(stored))
        if kind == "dicom_j2k_lossless":
            ds.compress(JPEG2000Lossless)
        elif kind == "dicom_j2k":
            ds.compress(JPEG2000, j2k_psnr=[70.0])
        else:
            ds.compress(RLELossless)
        write_dicom(ds, path)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return path


CODECS = ("jpg", "png_16bit", "dicom_raw_mono2", "dicom_raw_mono1", "dicom_jpeg_baseline",
          "dicom_j2k_lossless", "dicom_j2k", "dicom_rle")


@pytest.mark.parametrize("kind", CODECS)
def test_reduced_decode_gives_the_same_model_input(
    kind: str, picture: np.ndarray, tmp_path: Path
) -> None:
    path = _write(kind, picture, tmp_path)
    full = load_image(path)
    reduced = load_image(path, min_side=MIN_SIDE)

    assert full.original_size == reduced.original_size == (WIDTH, HEIGHT)
    assert not full.reduced
    assert full.reduction == 1
    assert reduced.reduced
    assert reduced.reduction >= 2
    assert min(reduced.pixels.shape) >= MIN_SIDE
    height, width = reduced.pixels.shape
    # The reduced image spans exactly the original (resampled from the partial edge blocks).
    assert abs(width - WIDTH / reduced.reduction) <= 1
    assert abs(height - HEIGHT / reduced.reduction) <= 1
    assert (reduced.format, reduced.mode, reduced.bits) == (full.format, full.mode, full.bits)

    a = preprocess(full.pixels, SPEC)
    b = preprocess(match_model_geometry(reduced, SPEC).pixels, SPEC)
    assert a.content_box == b.content_box
    difference = float(np.abs(a.array - b.array).mean())
    assert difference <= INPUT_TOLERANCE, f"{kind}: mean |d input| {difference:.4f}"
    # Display pixels agree too (block means of the full image, within codec rounding).
    shrunk = np.asarray(Image.fromarray(full.pixels).resize((width, height), Image.BOX))
    assert float(np.abs(shrunk - reduced.pixels).mean()) <= INPUT_TOLERANCE


def test_small_images_and_full_requests_are_not_reduced(
    picture: np.ndarray, tmp_path: Path
) -> None:
    small = tmp_path / "small.jpg"
    Image.fromarray(picture[:600, :500]).save(small, "JPEG", quality=92)
    assert not load_image(small, min_side=MIN_SIDE).reduced  # 500 px: no 2x reduction fits
    big = _write("jpg", picture, tmp_path)
    assert not load_image(big).reduced


def test_exif_rotated_jpeg_reports_the_displayed_full_size(
    picture: np.ndarray, tmp_path: Path
) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; "rotate 90 clockwise to display"
    Image.fromarray(picture).transpose(Image.Transpose.ROTATE_90).save(
        path, "JPEG", quality=92, exif=exif)
    full = load_image(path)
    reduced = load_image(path, min_side=MIN_SIDE)
    assert full.original_size == reduced.original_size == (WIDTH, HEIGHT)
    assert reduced.pixels.shape[0] > reduced.pixels.shape[1]  # portrait, as displayed
    difference = np.abs(preprocess(full.pixels, SPEC).array
                        - preprocess(match_model_geometry(reduced, SPEC).pixels, SPEC).array).mean()
    assert difference <= INPUT_TOLERANCE


def test_geometry_maps_back_onto_the_original(picture: np.ndarray, tmp_path: Path) -> None:
    path = _write("dicom_j2k_lossless", picture, tmp_path)
    reduced = load_image(path, min_side=MIN_SIDE)
    height, width = reduced.pixels.shape
    assert reduced.to_original_box((0, 0, width, height)) == (0, 0, WIDTH, HEIGHT)
    crop = preprocess(reduced.pixels, PreprocessingSpec(input_size=192, resize="crop"))
    left, top, right, bottom = reduced.to_original_box(crop.source_box)
    assert abs((right - left) - WIDTH) <= 1  # the centred square, at full scale
    assert abs((bottom - top) - WIDTH) <= reduced.reduction
    assert abs(top - (HEIGHT - WIDTH) // 2) <= reduced.reduction


def test_the_viewer_gets_full_pixels_and_a_heat_map_that_fits_them(
    picture: np.ndarray, tmp_path: Path
) -> None:
    path = _write("jpg", picture, tmp_path)
    analyzer = Analyzer(load_bundle(bundled_model_dir()))
    batch = next(iter(analyzer.analyse([path])))
    shown = analyzer.analyse_one(path)
    assert batch.loaded is None
    assert shown.loaded is not None
    assert shown.loaded.pixels.shape == (HEIGHT, WIDTH)  # the viewer shows every pixel
    assert shown.prepared.source_box == (0, 0, WIDTH, HEIGHT)
    # One answer per file: the viewer's model input is the batch's (reduced) one.
    assert np.array_equal(shown.prepared.array, batch.prepared.array)
    assert shown.probabilities == batch.probabilities
    heat = heatmap_for_original(shown.cams[..., 0], shown.prepared, (WIDTH, HEIGHT))
    assert heat.shape == (HEIGHT, WIDTH)
    assert float(heat.max()) > 0.0


def _real_films(data_dir: Path, count: int) -> list[Path]:
    names = sorted(p for p in (data_dir / "images").iterdir() if p.is_file())
    return names[:: max(1, len(names) // count)][:count]


def test_real_films_keep_their_probabilities(cxr_data_dir: Path, tmp_path: Path) -> None:
    """Real films upscaled to clinic size (2,000 px) in three codecs: probabilities agree."""
    bundle = load_bundle(bundled_model_dir())
    spec = bundle.card.preprocessing
    model = TfliteModel(bundle, num_threads=1)
    files = []
    for index, source in enumerate(_real_films(cxr_data_dir, 8)):
        pixels = load_image(source).pixels
        height, width = pixels.shape
        scale = 2000 / max(height, width)
        big = np.asarray(Image.fromarray(pixels).resize(
            (round(width * scale), round(height * scale)), Image.BICUBIC))
        big8 = np.clip(np.rint(big * 255), 0, 255).astype(np.uint8)
        kind = ("jpg", "png_16bit", "dicom_j2k_lossless", "dicom_jpeg_baseline")[index % 4]
        folder = tmp_path / str(index)
        folder.mkdir()
        files.append(_write(kind, big8, folder))
    # The card's whole input path (for a lung-framed model: the lung box found on each decode).
    make_input = ModelInputs(spec)
    full = np.stack([make_input(load_image(p).pixels)[0].array for p in files])[..., None]
    reduced = np.stack([make_input(match_model_geometry(
        load_image(p, min_side=model_min_side(spec.input_size)), spec).pixels)[0].array
        for p in files])[..., None]
    p_full = model.run(full).probabilities
    p_reduced = model.run(reduced).probabilities
    difference = float(np.abs(p_full - p_reduced).max())
    assert difference <= PROBABILITY_TOLERANCE, f"max |dp| {difference:.4f}"


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter")  # pydicom's
def test_process_decoder_gives_what_load_image_gives(picture: np.ndarray, tmp_path: Path) -> None:
    from desktop_app.core.errors import ImageLoadError
    from desktop_app.core.imaging.process_decoder import ProcessDecoder

    decoder = ProcessDecoder(1)
    try:
        for kind in ("dicom_j2k_lossless", "jpg"):  # a worker process, the calling thread
            path = _write(kind, picture, tmp_path)
            for min_side in (MIN_SIDE, None):
                here = load_image(path, min_side=min_side)
                there = decoder(path, min_side=min_side)
                assert np.array_equal(here.pixels, there.pixels)
                assert not there.pixels.flags.writeable
                assert (there.original_size, there.reduction) == (
                    here.original_size, here.reduction)
        broken = tmp_path / "broken.dcm"
        data = bytearray(_write("dicom_j2k_lossless", picture, tmp_path).read_bytes())
        broken.write_bytes(bytes(data[: len(data) // 2]))
        with pytest.raises(ImageLoadError) as caught:
            decoder(broken, min_side=MIN_SIDE)
        with pytest.raises(ImageLoadError) as expected:
            load_image(broken, min_side=MIN_SIDE)
        assert caught.value.reason == expected.value.reason
    finally:
        decoder.close()


def test_warming_up_one_decoder_starts_one_process_and_a_second_on_demand(
        picture: np.ndarray, tmp_path: Path) -> None:
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    from desktop_app.core.imaging.process_decoder import ProcessDecoder

    before = set(multiprocessing.active_children())
    decoder = ProcessDecoder(2)
    try:
        decoder.warm_up(processes=1)  # what the window does while its model loads
        assert len(set(multiprocessing.active_children()) - before) == 1
        path = _write("dicom_j2k_lossless", picture, tmp_path)
        with ThreadPoolExecutor(4) as threads:  # overlapping decodes still all succeed
            results = list(threads.map(lambda _: decoder(path, min_side=MIN_SIDE), range(4)))
        expected = load_image(path, min_side=MIN_SIDE).pixels
        assert all(np.array_equal(r.pixels, expected) for r in results)
        assert 1 <= len(set(multiprocessing.active_children()) - before) <= 2
    finally:
        decoder.close()
