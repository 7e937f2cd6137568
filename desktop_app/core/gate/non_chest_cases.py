"""A labelled evaluation set of images that are *not* frontal chest X-rays.

The out-of-distribution gate (:mod:`desktop_app.core.gate`) must refuse to label photos,
screenshots, charts, documents, noise, CT/MR slices, other radiographs and views. Measuring
that needs such images, and a clinic workstation (and CI) has no network, so every image here
is written from what the installed packages ship (scikit-image's bundled sample images,
matplotlib's sample data, pydicom's test files) or drawn with Pillow and numpy; application
screenshots are drawn with Pillow too, since the core may not import Qt. The set is
deterministic: the same packages write the same pixels.

Writing the set needs scikit-image and matplotlib (lazy imports: a development install), so
the program ships a reduced copy instead: :func:`write_shipped_set` writes
``resources/non_chest_check/`` with a manifest, which
:func:`desktop_app.core.gate.check_set.load_check_set` reads in every build.

:func:`write_ood_cases` writes the images into a folder and returns one :class:`OodCase` per
file. Each case belongs to a *group* (one source photo with its crops, one noise recipe, one
synthetic anatomy ...) and groups alternate between a development half and a **held-out half**
(``OodCase.held_out``): any change to the gate may be tried on the development half only, and
the figure that is reported is the held-out one, so the set is not used to tune and to score.

Which transforms of a chest film count as out of distribution (documented decisions):

* **90° / 270° rotation: OOD.** A frontal film is never read sideways; the lungs are then
  stacked vertically, a layout the model has never seen, and its probabilities are meaningless.
* **Lateral view: OOD.** The issue names it; the model is trained on PA/AP films only.
* **180° rotation and left-right mirroring: not in this set.** An upside-down or mirrored
  frontal film (a wrongly hung scan, dextrocardia, a swapped L/R marker) is still a frontal
  chest X-ray; whether to label it is a separate question, so it counts neither way here.
* **The upright synthetic radiograph**
(:func:`desktop_app.core.classify.synthetic.synthetic_radiograph`)
  is not a real X-ray, so it counts neither way either.

Run ``python -m desktop_app.core.gate.non_chest_cases OUT_DIR`` to write the set and print the
counts, ``... --shipped resources/non_chest_check`` to re-create the shipped check set.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.hashing import sha256_file

__all__ = [
    "CATEGORIES",
    "SHIPPED_MAX_SIDE",
    "OodCase",
    "write_ood_cases",
    "write_rotated_cxrs",
    "write_shipped_set",
]

#: Category names, in the order they are written.
CATEGORIES: tuple[str, ...] = (
    "photo_colour",
    "photo_gray",
    "chart",
    "document",
    "screenshot",
    "noise",
    "ct_mr",
    "medical_other",
    "cxr_transformed",
)

# Photos that scikit-image ships inside its wheel (read as files: never through pooch, which
# could try the network for the images it does not ship).
_SKIMAGE_COLOUR = (
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
    "ihc.png", "motorcycle_left.png",
)
_SKIMAGE_GRAY = (
    "camera.png", "moon.png", "coins.png", "horse.png", "brick.png", "grass.png", "gravel.png",
    "cell.png", "clock_motion.png",
)
_MPL_COLOUR = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")
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
_PYDICOM_US = (
    ("examples_palette.dcm", "ultrasound, palette colour (pydicom test file)"),
    ("examples_rgb_color.dcm", "ultrasound, RGB (pydicom test file)"),
    ("examples_jpeg2k.dcm", "ultrasound, JPEG 2000 (pydicom test file)"),
    ("examples_ybr_color.dcm", "ultrasound cine, first frame (pydicom test file)"),
)


@dataclass(frozen=True)
class OodCase:
    """One evaluation image.

    Attributes:
        path: The written file.
        category: One of :data:`CATEGORIES`.
        description: What the image is, for the report.
        held_out: True for the half used for the reported figure (never for tuning).
        group: The source the image was derived from; all images of a group share a half so
            that a crop of a photo cannot leak its sibling's result across halves.
    """

    path: Path
    category: str
    description: str
    held_out: bool = False
    group: str = ""


@dataclass(frozen=True)
class _Spec:
    name: str  # file name, with suffix
    description: str
    group: str
    write: Callable[[Path], None]


def write_ood_cases(
    folder: Path,
    *,
    limit_per_category: int | None = None,
    categories: Sequence[str] | None = None,
    held_out_only: bool = False,
) -> list[OodCase]:
    """Write the non-chest-X-ray evaluation images into ``folder``.

    Args:
        folder: Output folder (created; one sub-folder per category).
        limit_per_category: Write only the first N images of each category (tests).
        categories: Subset of :data:`CATEGORIES` (default: all).
        held_out_only: Write only the held-out half (the reported figure; half the time).

    Returns:
        The written cases, in a stable order.

    Raises:
        ValueError: If a category name is unknown or the limit is below 1.
    """
    chosen = tuple(categories) if categories is not None else CATEGORIES
    unknown = sorted(set(chosen) - set(CATEGORIES))
    if unknown:
        raise ValueError(f"unknown categories {unknown}; known: {list(CATEGORIES)}")
    if limit_per_category is not None and limit_per_category < 1:
        raise ValueError(f"limit_per_category must be >= 1. Received: {limit_per_category!r}")
    folder = Path(folder)
    cases: list[OodCase] = []
    for category in chosen:
        target = folder / category
        target.mkdir(parents=True, exist_ok=True)
        groups: dict[str, int] = {}
        for index, spec in enumerate(_GENERATORS[category]()):
            if limit_per_category is not None and index >= limit_per_category:
                break
            path = target / spec.name
            held_out = groups.setdefault(spec.group, len(groups)) % 2 == 1
            if held_out_only and not held_out:
                continue
            spec.write(path)
            cases.append(OodCase(path, category, spec.description, held_out, spec.group))
    return cases


# ------------------------------------------------------------------------------ file helpers


def _save(array_or_image: np.ndarray | Image.Image, path: Path, **params: object) -> None:
    image = (array_or_image if isinstance(array_or_image, Image.Image)
             else Image.fromarray(_u8(array_or_image)))
    if path.suffix.lower() in (".jpg", ".jpeg") and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    image.save(path, **params)


def _u8(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)


def _normalise(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def _skimage_file(name: str) -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data" / name


def _mpl_sample(name: str) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / name


def _pydicom_file(name: str) -> Path:
    from pydicom.data import get_testdata_file

    # download=False: a file that is not shipped must fail here, never reach the network.
    found = get_testdata_file(name, download=False)
    if found is None:
        raise FileNotFoundError(f"pydicom test file {name!r} is not installed locally")
    return Path(found)


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def _crop(image: Image.Image, kind: str) -> Image.Image:
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


def _write_dicom(pixels: np.ndarray, path: Path, modality: str, description: str) -> None:
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


def _dicom_to_png(source: Path, path: Path) -> None:
    """The DICOM as a viewer would export it (Modality/VOI LUTs applied by our loader)."""
    from desktop_app.core.imaging import load_image

    _save(load_image(source).pixels, path)


# ------------------------------------------------------------------------------ photos


def _photo_colour() -> Iterator[_Spec]:
    sources = [(n, _skimage_file(n), "scikit-image sample") for n in _SKIMAGE_COLOUR]
    sources += [(n, _mpl_sample(n), "matplotlib sample") for n in _MPL_COLOUR]
    for name, file, origin in sources:
        stem = Path(name).stem

        def full(path: Path, file: Path = file) -> None:
            _save(Image.open(file).convert("RGB"), path)

        def square(path: Path, file: Path = file) -> None:
            _save(_crop(Image.open(file).convert("RGB"), "square"), path, quality=85)

        def portrait(path: Path, file: Path = file) -> None:
            _save(_crop(Image.open(file).convert("RGB"), "portrait"), path, quality=90)

        yield _Spec(f"{stem}.png", f"colour photo {name} ({origin})", stem, full)
        yield _Spec(f"{stem}_square.jpg", f"colour photo {name}, square crop", stem, square)
        yield _Spec(f"{stem}_portrait.jpg", f"colour photo {name}, 4:5 crop upscaled", stem,
                    portrait)


def _photo_gray() -> Iterator[_Spec]:
    sources = [(n, _skimage_file(n), "scikit-image sample") for n in _SKIMAGE_GRAY]
    sources += [(n, _skimage_file(n), "scikit-image colour sample") for n in _SKIMAGE_COLOUR]
    sources += [(n, _mpl_sample(n), "matplotlib sample") for n in _MPL_COLOUR]
    for position, (name, file, origin) in enumerate(sources):
        stem = Path(name).stem

        def full(path: Path, file: Path = file) -> None:
            _save(Image.open(file).convert("L"), path)

        def portrait(path: Path, file: Path = file, invert: bool = position % 3 == 0) -> None:
            image = _crop(Image.open(file).convert("L"), "portrait")
            if invert:  # a negative, as a film would look
                image = Image.eval(image, lambda v: 255 - v)
            _save(image, path, quality=90)

        yield _Spec(f"{stem}_gray.png", f"grayscale photo {name} ({origin})", stem, full)
        yield _Spec(f"{stem}_gray_portrait.jpg",
                    f"grayscale photo {name}, 4:5 crop upscaled"
                    + (", inverted" if position % 3 == 0 else ""), stem, portrait)


# ------------------------------------------------------------------------------ charts


_CHART_KINDS = ("line", "bar", "scatter", "pie", "hist", "box", "area", "heatmap", "contour",
                "errorbar")
_CHART_STYLES = ("default", "grayscale", "dark_background")


def _render_chart(kind: str, style: str, seed: int, gray_output: bool) -> Image.Image:
    import matplotlib as mpl
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rng = np.random.default_rng(seed)
    with mpl.style.context(style), mpl.rc_context({"svg.hashsalt": "lunglens"}):
        figure = Figure(figsize=(6.4, 4.8) if seed % 2 == 0 else (5.0, 6.0), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        x = np.linspace(0, 10, 60)
        cmap = "gray" if style == "grayscale" else "viridis"
        if kind == "line":
            for k in range(3):
                axes.plot(x, np.sin(x + k) + rng.normal(0, 0.1, x.size), label=f"series {k}")
            axes.legend()
        elif kind == "bar":
            axes.bar(["Normal", "Pneumonia", "COVID-19", "Other"], rng.integers(5, 50, 4))
        elif kind == "scatter":
            axes.scatter(rng.normal(size=200), rng.normal(size=200), c=rng.random(200), s=12,
                         cmap=cmap)
        elif kind == "pie":
            axes.pie(rng.integers(1, 10, 5), labels=list("ABCDE"), autopct="%1.0f%%")
        elif kind == "hist":
            axes.hist(rng.normal(size=1000), bins=30)
        elif kind == "box":
            axes.boxplot([rng.normal(k, 1, 100) for k in range(4)])
        elif kind == "area":
            axes.stackplot(x, rng.random((3, x.size)).cumsum(axis=1))
        elif kind == "heatmap":
            image = axes.imshow(rng.random((12, 12)), cmap=cmap)
            figure.colorbar(image)
        elif kind == "contour":
            yy, xx = np.mgrid[-3:3:100j, -3:3:100j]
            field = np.exp(-(xx**2 + yy**2)) + 0.5 * np.exp(-((xx - 1) ** 2 + (yy + 1) ** 2))
            axes.contourf(xx, yy, field, levels=12, cmap=cmap)
        elif kind == "errorbar":
            axes.errorbar(x[::6], np.cos(x[::6]), yerr=rng.random(10) * 0.3, fmt="o-",
                          capsize=3)
        axes.set_title(f"{kind} chart")
        axes.set_xlabel("x")
        axes.set_ylabel("value")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
    image = Image.open(io.BytesIO(buffer.getvalue()))
    return image.convert("L" if gray_output else "RGB")


def _charts() -> Iterator[_Spec]:
    for index, kind in enumerate(_CHART_KINDS):
        for variant in range(3):
            style = _CHART_STYLES[(index + variant) % len(_CHART_STYLES)]
            gray = variant == 2

            def write(path: Path, kind: str = kind, style: str = style, seed: int = index * 3
                      + variant, gray: bool = gray) -> None:
                _save(_render_chart(kind, style, seed, gray), path)

            label = f"{kind} chart, matplotlib style {style!r}" + (", saved as 8-bit gray"
                                                                 if gray else "")
            yield _Spec(f"{kind}_{style}{'_gray' if gray else ''}.png", label, kind, write)


# ------------------------------------------------------------------------------ documents


_LOREM = (
    "Chest radiographs remain the first imaging test for suspected pneumonia. This report "
    "summarises the findings of the quality assurance review carried out in the radiology "
    "department. The review covered acquisition technique, patient positioning, exposure "
    "indices and the completeness of the clinical information supplied with each request. "
    "Recommendations are listed at the end of the document together with the responsible "
    "staff and the dates by which each action should be completed."
)


def _paragraphs(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], size: int,
                fill: int | tuple[int, int, int], repeat: int = 3) -> None:
    font = _font(size)
    left, top, right, bottom = box
    y = top
    words = (_LOREM + " ") * repeat
    line = ""
    for word in words.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) > right - left:
            draw.text((left, y), line, font=font, fill=fill)
            y += int(size * 1.4)
            line = word
            if y > bottom - size:
                return
        else:
            line = trial
    draw.text((left, y), line, font=font, fill=fill)


def _text_page(size: tuple[int, int], font_size: int, dark: bool, colour: bool) -> Image.Image:
    mode = "RGB" if colour else "L"
    background = (30, 30, 36) if dark and colour else 28 if dark else (
        (255, 253, 245) if colour else 255)
    ink = (220, 220, 220) if dark and colour else 225 if dark else ((20, 20, 90) if colour else 0)
    image = Image.new(mode, size, background)
    draw = ImageDraw.Draw(image)
    draw.text((40, 30), "Quality assurance review", font=_font(font_size + 10, bold=True),
              fill=ink)
    _paragraphs(draw, (40, 40 + font_size * 3, size[0] - 40, size[1] - 30), font_size, ink, 6)
    return image


def _spreadsheet(rows: int, columns: int, colour: bool, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    cell_w, cell_h = 110, 26
    image = Image.new("RGB", (cell_w * columns + 50, cell_h * (rows + 1) + 10), "white")
    draw = ImageDraw.Draw(image)
    font = _font(13)
    header = (217, 225, 242) if colour else (230, 230, 230)
    draw.rectangle((0, 0, image.width, cell_h), fill=header)
    for c in range(columns):
        draw.text((50 + c * cell_w + 40, 5), chr(ord("A") + c), font=font, fill="black")
    for r in range(rows):
        draw.text((10, cell_h * (r + 1) + 5), str(r + 1), font=font, fill="black")
        for c in range(columns):
            value = f"{rng.normal(100, 30):.2f}" if c else f"Patient {r + 1:03d}"
            fill = ((198, 239, 206) if colour and rng.random() < 0.15 else "black")
            if fill != "black":
                draw.rectangle((50 + c * cell_w, cell_h * (r + 1), 50 + (c + 1) * cell_w,
                                cell_h * (r + 2)), fill=fill)
                fill = "black"
            draw.text((50 + c * cell_w + 6, cell_h * (r + 1) + 5), value, font=font, fill=fill)
    for r in range(rows + 2):
        draw.line((0, r * cell_h, image.width, r * cell_h), fill=(200, 200, 200))
    for c in range(columns + 1):
        draw.line((50 + c * cell_w, 0, 50 + c * cell_w, image.height), fill=(200, 200, 200))
    return image if colour else image.convert("L")


def _pdf_page(seed: int, scanned: bool) -> Image.Image:
    """An A4 page at 100 dpi (the aspect of a chest film) with text and a grayscale figure."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", (827, 1169), 255)
    draw = ImageDraw.Draw(image)
    draw.text((80, 70), "Case report", font=_font(30, bold=True), fill=0)
    _paragraphs(draw, (80, 130, 747, 420), 14, 0)
    figure = synthetic_radiograph((300, 360), seed=seed)  # an embedded X-ray-like figure
    image.paste(Image.fromarray(figure), (263, 440))
    draw.text((263, 810), f"Figure {seed + 1}. Frontal radiograph.", font=_font(13), fill=0)
    _paragraphs(draw, (80, 850, 747, 1100), 14, 0)
    if scanned:  # photocopier look: grey paper, blur, noise, slight tilt
        array = np.asarray(image, dtype=np.float64) / 255.0
        array = 0.12 + 0.8 * array + rng.normal(0, 0.04, array.shape)
        image = Image.fromarray(_u8(np.clip(array, 0, 1))).filter(ImageFilter.GaussianBlur(0.8))
        image = image.rotate(1.2, resample=Image.Resampling.BILINEAR, fillcolor=40)
    return image


def _documents() -> Iterator[_Spec]:
    specs = [
        ("paragraph_gray.png", "black text paragraphs on white",
         lambda: _text_page((800, 600), 16, dark=False, colour=False)),
        ("paragraph_colour.png", "blue text on cream paper",
         lambda: _text_page((700, 900), 14, dark=False, colour=True)),
        ("paragraph_dark.png", "light text on dark background (dark mode)",
         lambda: _text_page((900, 700), 18, dark=True, colour=False)),
        ("paragraph_dark_colour.png", "light text on dark blue-grey",
         lambda: _text_page((640, 800), 13, dark=True, colour=True)),
        ("paragraph_large.png", "large-font text, portrait",
         lambda: _text_page((600, 800), 28, dark=False, colour=False)),
        ("spreadsheet_colour.png", "spreadsheet grid with highlighted cells",
         lambda: _spreadsheet(24, 6, True, 0)),
        ("spreadsheet_gray.png", "spreadsheet grid, grayscale",
         lambda: _spreadsheet(30, 5, False, 1)),
        ("pdf_page.png", "PDF-like A4 page with text and an embedded X-ray-like figure",
         lambda: _pdf_page(0, scanned=False)),
        ("pdf_page_scanned.jpg", "scanned A4 page (grey paper, blur, noise, tilt) with a figure",
         lambda: _pdf_page(1, scanned=True)),
        ("skimage_text.png", "scikit-image 'text' sample (text on a photographed surface)",
         lambda: Image.open(_skimage_file("text.png")).convert("L").resize((896, 344))),
        ("skimage_page.png", "scikit-image 'page' sample (scanned book page)",
         lambda: Image.open(_skimage_file("page.png")).convert("L").resize((768, 382))),
        ("pdf_page_2.png", "PDF-like A4 page, second layout",
         lambda: _pdf_page(2, scanned=False)),
        ("paragraph_small.jpg", "small-font text saved as JPEG",
         lambda: _text_page((1000, 760), 11, dark=False, colour=False)),
        ("spreadsheet_small.png", "narrow spreadsheet",
         lambda: _spreadsheet(12, 3, True, 2)),
        ("pdf_page_scanned_2.jpg", "scanned A4 page, second seed",
         lambda: _pdf_page(3, scanned=True)),
        ("paragraph_wide_dark.png", "dark-mode text, wide",
         lambda: _text_page((1100, 520), 15, dark=True, colour=True)),
    ]
    for position, (name, description, make) in enumerate(specs):

        def write(path: Path, make: Callable[[], Image.Image] = make) -> None:
            _save(make(), path, quality=85)

        yield _Spec(name, description, f"doc{position}", write)


# ------------------------------------------------------------------------------ screenshots


@dataclass(frozen=True)
class _Theme:
    """Colours of a drawn desktop theme.

    The screenshots are drawn, not grabbed: the core may not import Qt, and a drawing is the
    same on every machine.
    """

    window: tuple[int, int, int]
    title: tuple[int, int, int]
    title_text: tuple[int, int, int]
    text: tuple[int, int, int]
    base: tuple[int, int, int]  # text fields, tables, lists
    alternate: tuple[int, int, int]  # every other table row
    border: tuple[int, int, int]
    button: tuple[int, int, int]
    accent: tuple[int, int, int]  # selection, progress, default button
    muted: tuple[int, int, int]  # secondary text


_LIGHT = _Theme(window=(239, 239, 239), title=(222, 226, 232), title_text=(30, 30, 30),
                text=(20, 20, 20), base=(255, 255, 255), alternate=(245, 247, 250),
                border=(180, 180, 186), button=(228, 228, 230), accent=(48, 110, 210),
                muted=(110, 110, 118))
_DARK = _Theme(window=(43, 43, 43), title=(32, 34, 37), title_text=(225, 225, 225),
               text=(224, 224, 224), base=(30, 30, 30), alternate=(38, 40, 43),
               border=(85, 85, 90), button=(60, 63, 65), accent=(47, 101, 202),
               muted=(150, 150, 156))

_MENUS = ("File", "Edit", "View", "Tools", "Help")
_CLASSES = ("Normal", "Pneumonia", "COVID-19")


def _mono(size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSansMono.ttf"
    return ImageFont.truetype(str(path), size)


class _Canvas:
    """A window drawn with Pillow: frame, title bar and optional menu bar, then widgets."""

    def __init__(self, size: tuple[int, int], title: str, theme: _Theme, *,
                 menus: Sequence[str] = (), dialog: bool = False) -> None:
        self.theme = theme
        self.image = Image.new("RGB", size, theme.window)
        self.draw = ImageDraw.Draw(self.image)
        self.font = _font(12)
        width, height = size
        bar = 26 if dialog else 30
        self.draw.rectangle((0, 0, width - 1, bar), fill=theme.title)
        self.draw.text((12 if dialog else 40, bar // 2), title, font=_font(13, bold=True),
                       fill=theme.title_text, anchor="lm")
        if not dialog:  # application icon
            self.draw.rounded_rectangle((10, 7, 26, 23), 3, fill=theme.accent)
        for k, colour in enumerate(((220, 80, 70), theme.muted, theme.muted)):
            x = width - 20 - 26 * k
            if k == 0:
                self.draw.line((x - 5, bar // 2 - 5, x + 5, bar // 2 + 5), fill=colour, width=2)
                self.draw.line((x - 5, bar // 2 + 5, x + 5, bar // 2 - 5), fill=colour, width=2)
            elif k == 1:
                self.draw.rectangle((x - 5, bar // 2 - 5, x + 5, bar // 2 + 5), outline=colour)
            else:
                self.draw.line((x - 5, bar // 2 + 4, x + 5, bar // 2 + 4), fill=colour, width=2)
        self.top = bar + 1
        if menus:
            x = 10
            for name in menus:
                self.draw.text((x, self.top + 11), name, font=self.font, fill=theme.text,
                               anchor="lm")
                x += int(self.draw.textlength(name, font=self.font)) + 18
            self.top += 23
            self.draw.line((0, self.top, width, self.top), fill=theme.border)
            self.top += 1
        self.draw.rectangle((0, 0, width - 1, height - 1), outline=theme.border)

    def text(self, xy: tuple[int, int], value: str, *, bold: bool = False, size: int = 12,
             fill: tuple[int, int, int] | None = None, anchor: str = "la") -> None:
        self.draw.text(xy, value, font=_font(size, bold) if bold or size != 12 else self.font,
                       fill=fill or self.theme.text, anchor=anchor)

    def button(self, box: tuple[int, int, int, int], label: str, *,
               default: bool = False) -> None:
        theme = self.theme
        fill = theme.accent if default else theme.button
        self.draw.rounded_rectangle(box, 4, fill=fill, outline=theme.border)
        self.draw.text(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), label, font=self.font,
                       fill=(255, 255, 255) if default else theme.text, anchor="mm")

    def field(self, box: tuple[int, int, int, int], value: str, *, combo: bool = False,
              spin: bool = False) -> None:
        theme = self.theme
        self.draw.rectangle(box, fill=theme.base, outline=theme.border)
        self.draw.text((box[0] + 6, (box[1] + box[3]) // 2), value, font=self.font,
                       fill=theme.text, anchor="lm")
        if combo or spin:
            x = box[2] - 18
            self.draw.line((x, box[1], x, box[3]), fill=theme.border)
            mid = (box[1] + box[3]) // 2
            if combo:
                self.draw.polygon(((x + 5, mid - 2), (x + 13, mid - 2), (x + 9, mid + 3)),
                                  fill=theme.text)
            else:
                self.draw.polygon(((x + 5, mid - 3), (x + 13, mid - 3), (x + 9, box[1] + 3)),
                                  fill=theme.text)
                self.draw.polygon(((x + 5, mid + 3), (x + 13, mid + 3), (x + 9, box[3] - 3)),
                                  fill=theme.text)

    def toolbar(self, labels: Sequence[str]) -> None:
        x = 8
        for index, label in enumerate(labels):
            width = int(self.draw.textlength(label, font=self.font)) + 34
            box = (x, self.top + 4, x + width, self.top + 30)
            self.draw.rounded_rectangle(box, 3, fill=self.theme.button)
            icon = (self.theme.accent, (70, 160, 90), (200, 140, 40))[index % 3]
            self.draw.rectangle((x + 6, self.top + 10, x + 20, self.top + 24), fill=icon)
            self.draw.text((x + 25, self.top + 17), label, font=self.font, fill=self.theme.text,
                           anchor="lm")
            x += width + 6
        self.top += 35
        self.draw.line((0, self.top, self.image.width, self.top), fill=self.theme.border)
        self.top += 1

    def status(self, message: str) -> int:
        """Draw a status bar; returns its top (the bottom of the content area)."""
        top = self.image.height - 24
        self.draw.rectangle((1, top, self.image.width - 2, self.image.height - 2),
                            fill=self.theme.title)
        self.draw.text((10, top + 12), message, font=self.font, fill=self.theme.muted,
                       anchor="lm")
        return top

    def table(self, box: tuple[int, int, int, int], headers: Sequence[str],
              rows: Sequence[Sequence[str]], widths: Sequence[int], *,
              selected: int | None = None, numbers: bool = False) -> None:
        theme = self.theme
        left, top, right, bottom = box
        self.draw.rectangle(box, fill=theme.base, outline=theme.border)
        row_h = 22
        self.draw.rectangle((left + 1, top + 1, right - 1, top + row_h), fill=theme.button)
        offset = 34 if numbers else 0
        x = left + offset
        for header, width in zip(headers, widths, strict=True):
            self.draw.text((x + 6, top + row_h // 2 + 1), header, font=_font(12, bold=True),
                           fill=theme.text, anchor="lm")
            x += width
            self.draw.line((x, top, x, bottom), fill=theme.border)
        for index, row in enumerate(rows):
            y = top + row_h * (index + 1)
            if y + row_h > bottom:
                break
            fill = theme.accent if index == selected else (
                theme.alternate if index % 2 else theme.base)
            self.draw.rectangle((left + 1, y, right - 1, y + row_h), fill=fill)
            ink = (255, 255, 255) if index == selected else theme.text
            if numbers:
                self.draw.rectangle((left + 1, y, left + offset, y + row_h), fill=theme.button)
                self.draw.text((left + offset // 2, y + row_h // 2), str(index + 1),
                               font=self.font, fill=theme.text, anchor="mm")
            x = left + offset
            for value, width in zip(row, widths, strict=True):
                self.draw.text((x + 6, y + row_h // 2), value, font=self.font, fill=ink,
                               anchor="lm")
                x += width
            self.draw.line((left, y + row_h, right, y + row_h), fill=theme.border)


def _shot_message(theme: _Theme) -> Image.Image:
    canvas = _Canvas((440, 170), "LungLens", theme, dialog=True)
    draw = canvas.draw
    draw.polygon(((46, 52), (70, 94), (22, 94)), fill=(236, 170, 40))
    canvas.text((46, 80), "!", bold=True, size=22, fill=(30, 30, 30), anchor="mm")
    canvas.text((90, 50), "The model bundle could not be verified.", bold=True, size=13)
    canvas.text((90, 76), "sha256 of 'model.tflite' does not match the model card.")
    canvas.text((90, 96), "Reinstall the program or choose another model.", fill=theme.muted)
    canvas.button((250, 128, 330, 156), "Cancel")
    canvas.button((342, 128, 422, 156), "OK", default=True)
    return canvas.image


def _shot_table(theme: _Theme) -> Image.Image:
    rng = np.random.default_rng(0)
    canvas = _Canvas((660, 520), "LungLens - results", theme, menus=_MENUS)
    canvas.toolbar(("Open", "Classify", "Export"))
    rows = []
    for row in range(24):
        probs = rng.dirichlet([1, 1, 1])
        rows.append([f"image_{row:03d}.png", *(f"{p:.1%}" for p in probs),
                     _CLASSES[int(probs.argmax())]])
    bottom = canvas.status("24 images classified")
    canvas.table((8, canvas.top + 8, 652, bottom - 8),
                 ["File", "Normal", "Pneumonia", "COVID-19", "Result"], rows,
                 [170, 100, 100, 100, 120], selected=5)
    return canvas.image


def _shot_spreadsheet(theme: _Theme) -> Image.Image:
    rng = np.random.default_rng(4)
    canvas = _Canvas((720, 540), "audit_2026.xlsx - Spreadsheet", theme,
                     menus=(*_MENUS[:3], "Insert", "Format", "Data", "Help"))
    canvas.toolbar(("Save", "Sort", "Filter", "Chart"))
    canvas.text((12, canvas.top + 14), "fx", bold=True, anchor="lm")
    canvas.field((40, canvas.top + 4, 712, canvas.top + 26), "=AVERAGE(C2:C31)")
    canvas.top += 32
    rows = [[f"Site {r % 4 + 1}", f"{rng.normal(100, 30):.2f}", f"{rng.normal(50, 12):.1f}",
             f"{rng.integers(0, 40)}", f"{rng.random():.3f}"] for r in range(30)]
    bottom = canvas.status("Sum = 3,118.40   Average = 103.95")
    canvas.table((8, canvas.top, 712, bottom - 8), list("ABCDE"), rows,
                 [150, 130, 130, 110, 130], numbers=True)
    return canvas.image


def _shot_form(theme: _Theme) -> Image.Image:
    canvas = _Canvas((500, 330), "Training settings", theme, dialog=True)
    rows = [("Patient folder:", "/data/xrays/2026", "field"),
            ("Architecture:", "efficientnet-b0", "combo"),
            ("Epochs:", "20", "spin"),
            ("Augmentation:", "random rotation and contrast", "check"),
            ("Learning rate:", "", "slider")]
    y = canvas.top + 20
    for label, value, kind in rows:
        canvas.text((150, y + 11), label, anchor="rm")
        if kind == "check":
            canvas.draw.rectangle((162, y + 4, 176, y + 18), fill=theme.accent)
            canvas.draw.line((165, y + 11, 169, y + 15, 174, y + 6), fill=(255, 255, 255),
                             width=2)
            canvas.text((184, y + 11), value, anchor="lm")
        elif kind == "slider":
            canvas.draw.line((162, y + 11, 480, y + 11), fill=theme.border, width=4)
            canvas.draw.line((162, y + 11, 260, y + 11), fill=theme.accent, width=4)
            canvas.draw.ellipse((252, y + 3, 268, y + 19), fill=theme.base,
                                outline=theme.accent, width=2)
        else:
            canvas.field((160, y, 480, y + 24), value, combo=kind == "combo",
                         spin=kind == "spin")
        y += 40
    canvas.button((160, y + 6, 300, y + 36), "Start training", default=True)
    return canvas.image


def _shot_tree(theme: _Theme) -> Image.Image:
    canvas = _Canvas((500, 600), "Studies", theme, menus=_MENUS[:3])
    bottom = canvas.status("6 studies, 24 images")
    box = (8, canvas.top + 8, 492, bottom - 8)
    canvas.table(box, ["Name", "Size", "Modified"], [], [250, 100, 130])
    y = box[1] + 24
    for folder in range(6):
        if y > box[3] - 24:  # the rest is scrolled out of view
            break
        canvas.draw.polygon(((16, y + 6), (26, y + 6), (21, y + 13)), fill=theme.text)
        canvas.draw.rectangle((32, y + 5, 46, y + 16), fill=(222, 180, 80))
        canvas.text((52, y + 11), f"study_{folder:02d}", anchor="lm")
        canvas.text((364, y + 11), f"2026-12-0{folder + 1}",
                    anchor="lm")
        y += 22
        for child in range(4):
            if y > box[3] - 24:
                break
            canvas.draw.line((22, y - 8, 22, y + 11, 40, y + 11), fill=theme.border)
            canvas.draw.rectangle((46, y + 4, 58, y + 18), fill=theme.base,
                                  outline=theme.muted)
            canvas.text((64, y + 11), f"img_{child}.dcm", anchor="lm")
            canvas.text((264, y + 11), f"{(child + 3) * 417} KB", anchor="lm")
            y += 22
    return canvas.image


def _shot_log(theme: _Theme) -> Image.Image:
    canvas = _Canvas((700, 500), "lunglens.log - Log viewer", theme, menus=_MENUS[:3])
    bottom = canvas.status("Line 40, column 1")
    canvas.draw.rectangle((8, canvas.top + 8, 692, bottom - 8), fill=theme.base,
                          outline=theme.border)
    font = _mono(12)
    y = canvas.top + 14
    for minute in range(40):
        if y > bottom - 24:
            break
        level = "WARNING" if minute % 7 == 3 else "INFO"
        line = (f"2026-12-06 12:{minute:02d}:00 {level:<7} classify image_{minute}.png -> "
                f"{_CLASSES[minute % 3]}")
        canvas.draw.text((14, y), line, font=font,
                         fill=(200, 140, 40) if level == "WARNING" else theme.text)
        y += 17
    return canvas.image


def _shot_progress(theme: _Theme) -> Image.Image:
    canvas = _Canvas((420, 420), "Training", theme, dialog=True)
    canvas.text((16, canvas.top + 16), "Training epoch 3 of 20 ...")
    top = canvas.top + 42
    canvas.draw.rounded_rectangle((16, top, 404, top + 20), 4, fill=theme.base,
                                  outline=theme.border)
    canvas.draw.rounded_rectangle((16, top, 16 + int(388 * 0.37), top + 20), 4,
                                  fill=theme.accent)
    canvas.text((210, top + 10), "37 %", anchor="mm")
    canvas.table((16, top + 34, 404, 360), ["Epoch", "Loss", "Accuracy"],
                 [[str(k + 1), f"{0.9 / (k + 1):.3f}", f"{0.6 + 0.1 * k:.2f}"]
                  for k in range(3)], [80, 140, 140])
    canvas.button((304, 374, 404, 404), "Cancel")
    return canvas.image


def _shot_calendar(theme: _Theme) -> Image.Image:
    canvas = _Canvas((380, 320), "Choose a date", theme, dialog=True)
    top = canvas.top + 8
    canvas.draw.rectangle((8, top, 372, top + 30), fill=theme.accent)
    canvas.text((190, top + 15), "December 2026", bold=True, fill=(255, 255, 255), anchor="mm")
    for x, arrow in ((24, "<"), (356, ">")):
        canvas.text((x, top + 15), arrow, bold=True, fill=(255, 255, 255), anchor="mm")
    cell_w, cell_h = 52, 34
    for column, day in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")):
        canvas.text((8 + cell_w * column + cell_w // 2, top + 44), day, bold=True,
                    anchor="mm", fill=theme.muted)
    first = 1  # 2026-12-01 is a Tuesday: column 1
    for day in range(1, 32):
        slot = first + day - 1
        row, column = divmod(slot, 7)
        cx = 8 + cell_w * column + cell_w // 2
        cy = top + 72 + cell_h * row
        if day == 6:
            canvas.draw.ellipse((cx - 14, cy - 14, cx + 14, cy + 14), fill=theme.accent)
        canvas.text((cx, cy), str(day), anchor="mm",
                    fill=(255, 255, 255) if day == 6 else (
                        (200, 60, 60) if column >= 5 else theme.text))
    return canvas.image


def _shot_viewer(theme: _Theme) -> Image.Image:
    """An image viewer showing a small chest-film-like picture: mostly image, some chrome."""
    canvas = _Canvas((560, 620), "LungLens - image_007.png", theme, menus=_MENUS[:3])
    canvas.toolbar(("Open", "Classify", "Zoom"))
    bottom = canvas.status("Normal 91.2 %  -  model lunglens-1.0")
    canvas.draw.rectangle((1, canvas.top, 558, bottom - 1), fill=(0, 0, 0) if theme is _DARK
                          else (90, 90, 90))
    film = Image.fromarray(synthetic_radiograph((400, 480), seed=3)).convert("RGB")
    left = (560 - film.width) // 2
    top = canvas.top + (bottom - canvas.top - film.height) // 2
    canvas.image.paste(film, (left, top))
    return canvas.image


def _shot_wizard(theme: _Theme) -> Image.Image:
    canvas = _Canvas((580, 420), "Train a new model", theme, dialog=True)
    draw = canvas.draw
    draw.rectangle((1, canvas.top, 160, 370), fill=theme.accent)
    for index, step in enumerate(("Data", "Check", "Train", "Evaluate", "Install")):
        y = canvas.top + 30 + 34 * index
        draw.ellipse((16, y - 9, 34, y + 9), fill=(255, 255, 255) if index == 0 else None,
                     outline=(255, 255, 255), width=2)
        canvas.text((44, y), step, bold=index == 0, fill=(255, 255, 255), anchor="lm")
    canvas.text((180, canvas.top + 20), "Select training data", bold=True, size=16)
    canvas.text((180, canvas.top + 48), "Choose a folder with one sub-folder per class.",
                fill=theme.muted)
    canvas.field((180, canvas.top + 84, 470, canvas.top + 110), "/data/cxr")
    canvas.button((480, canvas.top + 84, 566, canvas.top + 110), "Browse...")
    canvas.text((180, canvas.top + 130), "Found 3048 images in 3 classes.")
    draw.line((1, 370, 578, 370), fill=theme.border)
    canvas.button((300, 380, 380, 410), "< Back")
    canvas.button((390, 380, 470, 410), "Next >", default=True)
    canvas.button((484, 380, 566, 410), "Cancel")
    return canvas.image


def _screenshots() -> Iterator[_Spec]:
    builders: list[tuple[str, str, Callable[[_Theme], Image.Image]]] = [
        ("message_box", "warning message box", _shot_message),
        ("results_table", "application window with toolbar and results table", _shot_table),
        ("training_form", "form with text fields, combo box, spin box and slider", _shot_form),
        ("file_tree", "tree view of files", _shot_tree),
        ("log_view", "plain-text log view", _shot_log),
        ("progress", "progress dialog with table", _shot_progress),
        ("calendar", "calendar dialog", _shot_calendar),
        ("viewer", "viewer window showing an X-ray-like image", _shot_viewer),
        ("wizard", "wizard page", _shot_wizard),
        ("spreadsheet_app", "spreadsheet window with formula bar", _shot_spreadsheet),
    ]
    for name, description, build in builders:
        for dark in (False, True):

            def write(path: Path, build: Callable[[_Theme], Image.Image] = build,
                      dark: bool = dark) -> None:
                image = build(_DARK if dark else _LIGHT)
                _save(image if path.suffix == ".png" else image.convert("L"), path)

            suffix = "_dark" if dark else ""
            gray = dark  # the dark variants are saved as 8-bit gray: a colourless screenshot
            yield _Spec(f"{name}{suffix}{'_gray' if gray else ''}.{'jpg' if gray else 'png'}",
                        f"drawn screenshot: {description}" + (", dark theme, grayscale JPEG"
                                                              if dark else ""), name, write)

# ------------------------------------------------------------------------------ noise


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    """Perlin-like fractal noise: upsampled random grids, halving amplitude per octave."""
    height, width = shape
    total = np.zeros(shape)
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        layer = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)
        total += np.asarray(layer, dtype=np.float64) * 0.5**octave
    return _normalise(total)


def _noises() -> Iterator[_Spec]:
    recipes: list[tuple[str, str, Callable[[np.random.Generator], np.ndarray]]] = [
        ("uniform_gray", "uniform noise, grayscale", lambda r: r.random((512, 512))),
        ("uniform_colour", "uniform noise, colour", lambda r: r.random((480, 640, 3))),
        ("gaussian_gray", "Gaussian noise around mid-grey",
         lambda r: np.clip(r.normal(0.5, 0.15, (600, 500)), 0, 1)),
        ("gaussian_colour", "Gaussian colour noise",
         lambda r: np.clip(r.normal(0.5, 0.2, (500, 500, 3)), 0, 1)),
        ("salt_pepper", "salt-and-pepper noise on a grey field",
         lambda r: np.where(r.random((512, 512)) < 0.1, r.integers(0, 2, (512, 512)), 0.5)),
        ("perlin_gray", "smooth fractal (Perlin-like) noise, grayscale",
         lambda r: _smooth_noise((600, 500), r)),
        ("perlin_colour", "smooth fractal noise, colour",
         lambda r: np.stack([_smooth_noise((480, 480), r) for _ in range(3)], axis=-1)),
        ("perlin_vignette", "smooth noise with a dark vignette (film-like border)",
         lambda r: _smooth_noise((640, 520), r, 6) * _vignette((640, 520))),
        ("speckle", "multiplicative speckle on smooth noise",
         lambda r: _normalise(_smooth_noise((512, 512), r, 3) * r.rayleigh(1.0, (512, 512)))),
        ("gradient_noise", "linear gradient with mild noise",
         lambda r: np.clip(np.linspace(0, 1, 500)[None, :] * np.ones((400, 1))
                           + r.normal(0, 0.05, (400, 500)), 0, 1)),
        ("blobs", "smooth random blobs (thresholded noise, blurred)",
         lambda r: _normalise(np.asarray(Image.fromarray(
             _u8(_smooth_noise((512, 512), r, 3) > 0.5)).filter(ImageFilter.GaussianBlur(6)),
             dtype=np.float64))),
        ("stripes_noise", "horizontal stripes plus noise",
         lambda r: np.clip(0.5 + 0.3 * np.sin(np.arange(480)[:, None] / 6.0)
                           + r.normal(0, 0.1, (480, 640)), 0, 1)),
    ]
    for name, description, make in recipes:
        for seed in (0, 1):

            def write(path: Path, make: Callable[[np.random.Generator], np.ndarray] = make,
                      seed: int = seed) -> None:
                _save(make(np.random.default_rng(1000 + seed)), path)

            yield _Spec(f"{name}_{seed}.png", f"{description} (seed {seed})", name, write)


def _vignette(shape: tuple[int, int]) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    radius = np.hypot((yy - shape[0] / 2) / shape[0], (xx - shape[1] / 2) / shape[1])
    return np.clip(1.3 - 2.0 * radius, 0, 1)


# ------------------------------------------------------------------------------ CT / MR


def _mpl_mri() -> np.ndarray:
    """Read matplotlib's sample MR slice ``s1045.ima.gz``: 256 x 256 big-endian uint16."""
    raw = gzip.decompress(_mpl_sample("s1045.ima.gz").read_bytes())
    return np.frombuffer(raw, dtype=">u2").reshape(256, 256).astype(np.uint16)


def _phantom() -> np.ndarray:
    return np.asarray(Image.open(_skimage_file("phantom.png")).convert("L"), dtype=np.float64)


def _ct_mr() -> Iterator[_Spec]:
    for name, description in _PYDICOM_CT_MR:
        stem = Path(name).stem

        def copy(path: Path, name: str = name) -> None:
            shutil.copyfile(_pydicom_file(name), path)

        def png(path: Path, name: str = name) -> None:
            _dicom_to_png(_pydicom_file(name), path)

        yield _Spec(f"{stem}.dcm", description, stem, copy)
        yield _Spec(f"{stem}.png", f"{description}, exported as PNG", stem, png)

    def mri_png(path: Path) -> None:
        _save(_normalise(_mpl_mri()), path)

    def mri_dcm(path: Path) -> None:
        _write_dicom(_mpl_mri(), path, "MR", "MR slice (matplotlib sample s1045)")

    def mri_zoom(path: Path) -> None:
        _save(Image.fromarray(_u8(_normalise(_mpl_mri()))).resize((768, 768),
                                                                 Image.Resampling.BICUBIC), path)

    yield _Spec("mri_s1045.png", "MR head slice (matplotlib sample s1045.ima.gz), PNG",
                "s1045", mri_png)
    yield _Spec("mri_s1045.dcm", "MR head slice (matplotlib sample), written as DICOM",
                "s1045", mri_dcm)
    yield _Spec("mri_s1045_zoom.png", "MR head slice upscaled to 768 px", "s1045", mri_zoom)

    def phantom_png(path: Path) -> None:
        _save(_normalise(_phantom()), path)

    def phantom_dcm(path: Path) -> None:
        _write_dicom((_normalise(_phantom()) * 3000).astype(np.uint16), path, "CT",
                     "Shepp-Logan phantom")

    yield _Spec("shepp_logan.png", "Shepp-Logan CT phantom (scikit-image)", "phantom",
                phantom_png)
    yield _Spec("shepp_logan.dcm", "Shepp-Logan CT phantom as DICOM", "phantom", phantom_dcm)

    for seed in range(4):

        def chest_ct(path: Path, seed: int = seed) -> None:
            _save(_chest_ct(seed), path)

        yield _Spec(f"chest_ct_axial_{seed}.png",
                    f"synthetic axial chest CT slice, lung window (seed {seed}): two dark lungs "
                    "either side of a bright mediastinum, like a frontal film's layout",
                    f"chest_ct{seed}", chest_ct)

    def ct_noisy(path: Path) -> None:
        from desktop_app.core.imaging import load_image

        pixels = load_image(_pydicom_file("693_J2KI.dcm")).pixels
        rng = np.random.default_rng(7)
        _save(np.clip(pixels + rng.normal(0, 0.03, pixels.shape), 0, 1), path, quality=80)

    yield _Spec("ct_693_noisy.jpg", "CT slice with added noise, JPEG", "693_J2KI_b", ct_noisy)


# ------------------------------------------------------------------------------ other medical


def _chest_ct(seed: int) -> np.ndarray:
    """An axial chest CT slice sketch: the hardest CT case, its layout echoes a frontal film."""
    rng = np.random.default_rng(seed)
    size = 512
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cy, cx = 250.0 + 5 * seed, 256.0
    body = _ellipse(yy, xx, cy, cx, 170 + 5 * seed, 230)
    image = 0.02 + 0.45 * body  # soft tissue; air outside is black
    image -= 0.1 * (body & ~_ellipse(yy, xx, cy, cx, 155, 215))  # subcutaneous fat
    for side in (-1, 1):
        lung = _ellipse(yy, xx, cy - 5, cx + side * 105, 120, 80, angle=side * 0.15)
        image = np.where(lung, 0.08, image)
        vessels = (rng.random((size, size)) < 0.004) & lung
        image += 0.3 * _blur(vessels.astype(np.float64), 1.5) * 6
    image = np.where(_ellipse(yy, xx, cy - 40, cx - 10, 60, 55), 0.55, image)  # heart
    image = np.where(_ellipse(yy, xx, cy + 115, cx, 38, 40), 0.95, image)  # vertebral body
    image = np.where(_ellipse(yy, xx, cy - 160, cx, 12, 25), 0.9, image)  # sternum
    image += 0.6 * ((yy > cy + 190) & (yy < cy + 200) & (np.abs(xx - cx) < 240))  # table
    return np.clip(_film(image, rng, noise=0.015, blur=1.0) * 1.05, 0, 1)



def _film(image: np.ndarray, rng: np.random.Generator, noise: float = 0.02,
          blur: float = 1.2) -> np.ndarray:
    """Blur, add film noise and normalise a drawn radiograph."""
    return _normalise(_blur(image, blur) + rng.normal(0, noise, image.shape))


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur in float (Pillow's blur works on 8-bit images only)."""
    radius = max(1, int(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(np.asarray(image, dtype=np.float64), radius, mode="edge")
    rows = np.apply_along_axis(np.convolve, 0, padded, taps, mode="valid")
    return np.apply_along_axis(np.convolve, 1, rows, taps, mode="valid")


def _ellipse(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float,
             angle: float = 0.0) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    dy, dx = yy - cy, xx - cx
    u = (dx * cos + dy * sin) / rx
    v = (-dx * sin + dy * cos) / ry
    return (u**2 + v**2) <= 1.0


def _capsule(yy: np.ndarray, xx: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
             radius: float) -> np.ndarray:
    (y0, x0), (y1, x1) = p0, p1
    dy, dx = y1 - y0, x1 - x0
    t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / (dy * dy + dx * dx), 0, 1)
    return np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx)) <= radius


def _ultrasound(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 480, 640
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    apex_y, apex_x = -40.0, width / 2
    radius = np.hypot(yy - apex_y, xx - apex_x)
    angle = np.arctan2(xx - apex_x, yy - apex_y)
    fan = (radius > 80) & (radius < 500) & (np.abs(angle) < np.radians(35 + 5 * seed))
    tissue = 0.4 + 0.6 * _smooth_noise((height, width), rng, 4)
    tissue *= ~_ellipse(yy, xx, 260 + 20 * seed, width / 2 + 40, 50, 70)  # a dark cyst
    speckle = rng.rayleigh(0.5, (height, width))
    image = tissue * speckle * np.exp(-radius / 600.0) * fan
    image = _blur(image, 0.7)
    out = Image.fromarray(_u8(np.clip(image / 1.2, 0, 1)))
    ImageDraw.Draw(out).text((12, 10), f"US  5.0 MHz  G{60 + seed}", font=_font(14), fill=230)
    return np.asarray(out)


def _skull(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 600, 500
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = 290 + 10 * seed, 250.0
    outer = _ellipse(yy, xx, cy, cx, 240, 190)
    inner = _ellipse(yy, xx, cy, cx, 222, 172)
    image = 0.08 + 0.25 * outer + 0.45 * (outer & ~inner)
    for side in (-1, 1):  # orbits and maxillary sinuses
        image -= 0.2 * _ellipse(yy, xx, cy + 40, cx + side * 70, 40, 45)
        image -= 0.12 * _ellipse(yy, xx, cy + 130, cx + side * 55, 35, 40)
    image += 0.35 * _ellipse(yy, xx, cy + 215, cx, 25, 120)  # teeth row
    return _film(image, rng)


def _hand(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 640, 512
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.full((height, width), 0.05)
    palm = _ellipse(yy, xx, 430, 256, 120, 130)
    image += 0.3 * palm
    bases = [(-150, 380, -0.5), (-75, 330, -0.15), (0, 320, 0.0), (75, 330, 0.12),
             (140, 360, 0.3)]
    for offset, base_y, tilt in bases:
        base = (base_y, 256 + offset)
        tip = (base_y - 230 + 40 * abs(tilt), 256 + offset + 230 * np.sin(tilt + 0.05 * seed))
        image += 0.3 * _capsule(yy, xx, base, tip, 26) * ~palm
        for k in range(3):  # phalanges
            a = k / 3
            b = (k + 0.85) / 3
            p0 = (base[0] + (tip[0] - base[0]) * a, base[1] + (tip[1] - base[1]) * a)
            p1 = (base[0] + (tip[0] - base[0]) * b, base[1] + (tip[1] - base[1]) * b)
            image += 0.4 * _capsule(yy, xx, p0, p1, 11)
        image += 0.4 * _capsule(yy, xx, (base[0] + 10, base[1]), (560, 256 + offset * 0.4), 13)
    image += 0.3 * _ellipse(yy, xx, 600, 256, 60, 150)  # wrist
    return _film(image, rng)


def _mammogram(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 640, 480
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    breast = _ellipse(yy, xx, 320, 0, 280, 330 - 20 * seed)
    texture = _smooth_noise((height, width), rng, 5)
    image = breast * (0.35 + 0.45 * texture * np.clip(1 - xx / 330, 0, 1) ** 0.5)
    if seed % 2 == 1:  # MLO view: the pectoral muscle as a bright triangle
        image += 0.35 * ((xx + yy * 0.6) < 160)
    return _film(image, rng, blur=0.8)


def _knee(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 640, 480
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = 0.05 + 0.3 * (np.abs(xx - 240) < 170 - 20 * np.abs(yy - 320) / 320)
    femur = _capsule(yy, xx, (-50, 240), (250, 240), 55)
    condyles = _ellipse(yy, xx, 290, 190, 45, 60) | _ellipse(yy, xx, 290, 290, 45, 60)
    tibia = _capsule(yy, xx, (360, 240), (720, 240), 50) | _ellipse(yy, xx, 360, 240, 30, 120)
    fibula = _capsule(yy, xx, (390, 345 + 5 * seed), (700, 340), 16)
    for bone in (femur, condyles, tibia, fibula):
        image += 0.45 * bone
    return _film(image, rng)


def _pelvis(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 480, 640
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = 0.1 + 0.25 * _ellipse(yy, xx, 260, 320, 300, 330)
    for side in (-1, 1):
        image += 0.35 * (_ellipse(yy, xx, 170, 320 + side * 150, 120, 110)
                         & ~_ellipse(yy, xx, 230, 320 + side * 120, 80, 70))
        image += 0.45 * _ellipse(yy, xx, 330, 320 + side * 170, 40, 40)  # femoral heads
        image += 0.4 * _capsule(yy, xx, (350, 320 + side * 190), (520, 320 + side * 210), 35)
        image -= 0.15 * _ellipse(yy, xx, 380, 320 + side * 70, 40, 45)  # obturator foramina
    image += 0.35 * _capsule(yy, xx, (0, 320), (260, 320), 30)  # sacrum / lumbar spine
    return _film(image, rng)


def _spine_lateral(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = 700, 420
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = 0.08 + 0.2 * (np.abs(xx - 210) < 190)
    for level in range(7):
        y = 60 + level * 92
        image += 0.45 * _ellipse(yy, xx, y, 230 + 6 * np.sin(level + seed), 36, 55)
        image += 0.25 * _capsule(yy, xx, (y, 290), (y + 20, 360), 12)  # spinous processes
    return _film(image, rng)


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
            image += 0.45 * _capsule(yy, xx, (y, x), (y + sign * 60, x), 14)
    return _film(image, rng)


def _retina(gray: bool) -> Image.Image:
    image = Image.open(_skimage_file("retina.jpg")).convert("RGB").resize((800, 800))
    return image.convert("L") if gray else image


def _medical_other() -> Iterator[_Spec]:
    for name, description in _PYDICOM_US:
        stem = Path(name).stem

        def copy(path: Path, name: str = name) -> None:
            shutil.copyfile(_pydicom_file(name), path)

        yield _Spec(f"{stem}.dcm", description, stem, copy)
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
                _save(draw(seed), path)

            yield _Spec(f"{name}_{seed}.png", f"{description} (seed {seed})", name, write)

    def retina(path: Path, gray: bool) -> None:
        _save(_retina(gray), path, quality=90)

    yield _Spec("retina_colour.jpg", "retinal fundus photo (scikit-image)", "retina",
                lambda p: retina(p, False))
    yield _Spec("retina_gray.jpg", "retinal fundus photo, grayscale", "retina",
                lambda p: retina(p, True))

    def microaneurysms(path: Path) -> None:
        image = Image.open(_skimage_file("microaneurysms.png")).convert("L")
        _save(image.resize((408, 408), Image.Resampling.BICUBIC), path)

    yield _Spec("microaneurysms.png", "retina close-up, grayscale (scikit-image), upscaled",
                "microaneurysms", microaneurysms)


# ------------------------------------------------------------------------------ CXR-likes


def _lateral_chest(seed: int) -> np.ndarray:
    """A lateral chest film sketch: one lung field, spine on one side, heart in front."""
    rng = np.random.default_rng(seed)
    height, width = 560, 480
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    flip = seed % 2 == 1  # patient facing left or right
    x = (width - xx) if flip else xx
    body = _ellipse(yy, x, 300, 240, 330, 210)
    image = 0.15 + 0.55 * body
    lung = _ellipse(yy, x, 250, 230, 190, 140, angle=0.15)
    image -= 0.45 * lung
    image += 0.3 * _ellipse(yy, x, 360, 170, 90, 85) * lung  # heart shadow, anterior
    for level in range(9):  # vertebral bodies, posterior
        y = 70 + level * 52
        image += 0.4 * _ellipse(yy, x, y, 360 + 0.05 * y, 22, 28)
    image += 0.35 * (yy > 430 + 0.0015 * (x - 240) ** 2) * body  # diaphragm / abdomen
    image += 0.25 * _capsule(yy, x, (60, 120), (200, 80), 22)  # sternum / arm
    return _film(image, rng)


def _rotated_radiograph(seed: int, clockwise: bool) -> np.ndarray:
    pixels = synthetic_radiograph((320 + 16 * seed, 384 + 16 * seed), seed=seed)
    return np.rot90(pixels, -1 if clockwise else 1).copy()


def _cxr_transformed() -> Iterator[_Spec]:
    for seed in range(6):

        def lateral(path: Path, seed: int = seed) -> None:
            _save(_lateral_chest(seed), path)

        yield _Spec(f"lateral_chest_{seed}.png",
                    f"lateral chest film sketch (seed {seed}, facing "
                    f"{'left' if seed % 2 else 'right'})", f"lateral{seed}", lateral)
    for seed in range(3):
        for clockwise in (True, False):

            def rotated(path: Path, seed: int = seed, clockwise: bool = clockwise) -> None:
                _save(_rotated_radiograph(seed, clockwise), path)

            direction = "90° clockwise" if clockwise else "90° counter-clockwise"
            yield _Spec(f"synthetic_cxr_rot{'90' if clockwise else '270'}_{seed}.png",
                        f"synthetic frontal radiograph rotated {direction} (seed {seed})",
                        f"rot{seed}", rotated)


def write_rotated_cxrs(folder: Path, sources: Sequence[Path], *,
                       held_out_only: bool = False) -> list[OodCase]:
    """Write real frontal films rotated by 90° into ``folder`` (category ``cxr_rotated``).

    Used by ``benchmarks/ood_eval.py`` with TRAIN-split images from the real dataset: the
    rotated copies live only in a temporary folder, never in the repository. Alternate files
    are rotated clockwise and counter-clockwise; alternate pairs are held out.
    """
    from desktop_app.core.imaging import load_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for index, source in enumerate(sources):
        held_out = (index // 2) % 2 == 1
        if held_out_only and not held_out:
            continue
        pixels = load_image(source).pixels
        rotated = np.rot90(pixels, -1 if index % 2 == 0 else 1)
        path = folder / f"{Path(source).stem}_rot{90 if index % 2 == 0 else 270}.png"
        _save(rotated, path)
        cases.append(OodCase(path, "cxr_rotated",
                             f"real TRAIN-split frontal film rotated "
                             f"{90 if index % 2 == 0 else 270}°", held_out,
                             Path(source).stem))
    return cases


# ------------------------------------------------------------------------------ shipped set

#: Longest side of every image in the shipped check set (pixels). Noise and photos hardly
#: compress: at 512 px the folder takes 21 MB, at 320 px 9.6 MB, at 256 px 6.4 MB on disk
#: (5.9 MB of bytes), within its ~6 MB budget. The model looks at a 192 px input, so 256 px
#: still gives it more pixels than it uses, and each image keeps its content and proportions.
SHIPPED_MAX_SIDE = 256
_SHIPPED_FORMAT = "lunglens-non-chest-check-1"


def write_shipped_set(folder: Path, *, max_side: int = SHIPPED_MAX_SIDE,
                      extra: Sequence[OodCase] = ()) -> list[OodCase]:
    """Write the check set that ships in ``resources/non_chest_check/``: reduced, hashed.

    Every generated image is reduced so its longest side is at most ``max_side`` (smaller
    ones are copied byte for byte) and keeps its format: a DICOM file stays DICOM (its pixels
    resampled and stored deflated), PNG stays PNG, JPEG stays JPEG. ``manifest.json`` lists
    each file with its category, description, half, group and sha256, which is what
    :func:`desktop_app.core.gate.check_set.load_check_set` verifies. The same packages write
    the same bytes, so a test can regenerate the folder and compare the hashes.

    Args:
        folder: The output folder. An existing check set there (a folder with a manifest)
            is replaced; any other non-empty folder is refused.
        max_side: Longest side in pixels.
        extra: Real images to ship too (``scripts/write_check_set.py`` adds the CT, MR and
            ultrasound images of ``../shared/datasets/views/non_chest`` whose licence allows
            it), each with its own category, half and group.

    Returns:
        The cases, with paths inside ``folder``.

    Raises:
        ValueError: If ``max_side`` is below the loader's minimum, or ``folder`` is a
            non-empty folder that is not a check set.
    """
    from desktop_app.core.gate.check_set import MANIFEST_FILE
    from desktop_app.core.imaging import MIN_SIDE

    if max_side < 4 * MIN_SIDE:
        raise ValueError(f"max_side must be at least {4 * MIN_SIDE} so that narrow images "
                         f"keep {MIN_SIDE} px. Received: {max_side!r}")
    folder = Path(folder)
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / MANIFEST_FILE).is_file():
            raise ValueError(f"refusing to replace {str(folder)!r}: it is not empty and has "
                             f"no {MANIFEST_FILE}")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="non-chest-") as work:
        generated = [*write_ood_cases(Path(work)), *extra]
        cases = []
        entries = []
        for case in generated:
            relative = f"{case.category}/{case.path.name}"
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            _reduce(case.path, target, max_side)
            cases.append(OodCase(target, case.category, case.description, case.held_out,
                                 case.group))
            entries.append({"path": relative, "category": case.category,
                            "description": case.description, "held_out": case.held_out,
                            "group": case.group, "sha256": sha256_file(target)})
    manifest = {
        "format": _SHIPPED_FORMAT,
        "description": "Images that are not frontal chest X-rays, which the gate must refuse; "
                       "written by python -m desktop_app.core.gate.non_chest_cases --shipped",
        "max_side": max_side,
        "max_side_note": "every image reduced so its longest side is at most max_side px "
                         "(smaller images copied unchanged); DICOM stays DICOM, PNG and JPEG "
                         "keep their format",
        "categories": [*CATEGORIES, *sorted({case.category for case in extra}
                                            - set(CATEGORIES))],
        "count": len(entries),
        "held_out_count": sum(entry["held_out"] for entry in entries),
        "files": entries,
    }
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, ensure_ascii=False)
                                        + "\n", encoding="utf-8")
    return cases


def _reduced_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _reduce(source: Path, target: Path, max_side: int) -> None:
    """Copy ``source`` to ``target``, reduced to ``max_side`` if larger, in its own format."""
    if source.suffix.lower() == ".dcm":
        _reduce_dicom(source, target, max_side)
        return
    with Image.open(source) as image:
        if max(image.size) <= max_side:
            shutil.copyfile(source, target)
            return
        image.load()
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        small = image.resize(_reduced_size(*image.size, max_side), Image.Resampling.LANCZOS)
    if target.suffix.lower() in (".jpg", ".jpeg"):
        small.save(target, quality=90)  # no optimize/progressive: plain baseline, stable bytes
    else:
        small.save(target, optimize=True)


def _reduce_dicom(source: Path, target: Path, max_side: int) -> None:
    """Resample a DICOM's (first frame's) pixels and store them uncompressed, deflated.

    The header is kept (UIDs, modality, LUTs), so the file still reads as the same study;
    overlays are dropped (their planes would no longer match the image size).
    """
    import pydicom
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    dataset = pydicom.dcmread(source)
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    if max(rows, columns) <= max_side:
        shutil.copyfile(source, target)
        return
    pixels = dataset.pixel_array
    if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
        pixels = pixels[0]
    width, height = _reduced_size(columns, rows, max_side)
    photometric = str(dataset.PhotometricInterpretation)
    if pixels.ndim == 3:  # colour: the decoder returned RGB whatever the stored encoding
        small = np.asarray(Image.fromarray(pixels.astype(np.uint8), "RGB").resize(
            (width, height), Image.Resampling.LANCZOS))
        dataset.PhotometricInterpretation = "RGB"
        dataset.PlanarConfiguration = 0
    elif photometric == "PALETTE COLOR" or int(dataset.BitsAllocated) == 1:
        # indices into a palette, or a binary mask: never interpolate between values
        small = np.asarray(Image.fromarray(pixels.astype(np.int32)).resize(
            (width, height), Image.Resampling.NEAREST)).astype(pixels.dtype)
    else:
        resized = np.asarray(Image.fromarray(pixels.astype(np.float32)).resize(
            (width, height), Image.Resampling.LANCZOS), dtype=np.float64)
        small = np.clip(np.rint(resized), pixels.min(), pixels.max()).astype(pixels.dtype)
    # keys(), not iteration: iterating a dataset decodes every raw element, which changes the
    # bytes written for some of them (the shipped files would then differ from a re-run).
    overlays = [tag for tag in dataset.keys() if 0x6000 <= tag.group <= 0x601E]  # noqa: SIM118
    for tag in overlays:
        del dataset[tag]
    if "NumberOfFrames" in dataset:
        dataset.NumberOfFrames = 1
    dataset.Rows, dataset.Columns = height, width
    if int(dataset.BitsAllocated) == 1:
        from pydicom.pixels import pack_bits

        dataset.PixelData = pack_bits(small)
    else:
        dataset.PixelData = np.ascontiguousarray(small).tobytes()
    dataset["PixelData"].VR = "OW" if int(dataset.BitsAllocated) > 8 else "OB"
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    dataset.save_as(target, enforce_file_format=True)


_GENERATORS: dict[str, Callable[[], Iterator[_Spec]]] = {
    "photo_colour": _photo_colour,
    "photo_gray": _photo_gray,
    "chart": _charts,
    "document": _documents,
    "screenshot": _screenshots,
    "noise": _noises,
    "ct_mr": _ct_mr,
    "medical_other": _medical_other,
    "cxr_transformed": _cxr_transformed,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Write the full set, or the reduced shipped check set, and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", help="output folder (full-size set)")
    parser.add_argument("--limit", type=int, default=None, help="images per category")
    parser.add_argument("--shipped", type=Path, default=None, metavar="FOLDER",
                        help="write the reduced check set with its manifest instead "
                             "(resources/non_chest_check)")
    parser.add_argument("--max-side", type=int, default=SHIPPED_MAX_SIDE,
                        help=f"with --shipped: longest side in px (default {SHIPPED_MAX_SIDE})")
    args = parser.parse_args(argv)
    if (args.out is None) == (args.shipped is None):
        parser.error("give either OUT or --shipped FOLDER")
    if args.shipped is not None:
        if args.limit is not None:
            parser.error("--limit does not apply to --shipped (the shipped set is complete)")
        cases = write_shipped_set(args.shipped, max_side=args.max_side)
        out = args.shipped
    else:
        cases = write_ood_cases(args.out, limit_per_category=args.limit)
        out = args.out
    for category in CATEGORIES:
        chosen = [c for c in cases if c.category == category]
        held = sum(c.held_out for c in chosen)
        print(f"{category:<16} {len(chosen):>4} images ({held} held out)")
    print(f"{'total':<16} {len(cases):>4} images in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
