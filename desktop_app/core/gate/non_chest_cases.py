"""A labelled evaluation set of images that are *not* frontal chest X-rays.

The out-of-distribution gate (:mod:`desktop_app.core.gate`) must refuse to label photos,
screenshots, charts, documents, noise, CT/MR slices, other radiographs and views. Measuring
that needs such images, and a clinic workstation (and CI) has no network, so every image here
is written from what the installed packages ship (scikit-image's bundled sample images,
matplotlib's sample data, pydicom's test files, Qt widgets rendered offscreen) or drawn with
numpy. The set is deterministic: the same packages write the same pixels.

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
* **The upright synthetic radiograph** (:func:`desktop_app.core.synthetic.synthetic_radiograph`)
  is not a real X-ray, so it counts neither way either.

Run ``python benchmarks/ood_cases.py OUT_DIR`` to write the set and print the counts.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import shutil
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.synthetic import synthetic_radiograph

__all__ = ["CATEGORIES", "OodCase", "write_ood_cases"]

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


def _qt_app() -> object:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtGui, QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(["ood_cases"])
        font_dir = Path(__import__("matplotlib").get_data_path()) / "fonts" / "ttf"
        QtGui.QFontDatabase.addApplicationFont(str(font_dir / "DejaVuSans.ttf"))
        app.setFont(QtGui.QFont("DejaVu Sans", 10))
    return app


def _grab(build: Callable[[], object], size: tuple[int, int], dark: bool) -> Image.Image:
    from PySide6 import QtCore, QtGui, QtWidgets

    _qt_app()
    widget = build()
    assert isinstance(widget, QtWidgets.QWidget)
    if dark:
        palette = QtGui.QPalette()
        for role, colour in ((QtGui.QPalette.ColorRole.Window, "#2b2b2b"),
                             (QtGui.QPalette.ColorRole.Base, "#1e1e1e"),
                             (QtGui.QPalette.ColorRole.Text, "#e0e0e0"),
                             (QtGui.QPalette.ColorRole.WindowText, "#e0e0e0"),
                             (QtGui.QPalette.ColorRole.Button, "#3c3f41"),
                             (QtGui.QPalette.ColorRole.ButtonText, "#e0e0e0"),
                             (QtGui.QPalette.ColorRole.Highlight, "#2f65ca")):
            palette.setColor(role, QtGui.QColor(colour))
        widget.setPalette(palette)
        widget.setAutoFillBackground(True)
    widget.resize(*size)
    widget.show()
    QtWidgets.QApplication.processEvents()
    pixmap = widget.grab()
    widget.close()
    widget.deleteLater()
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")


def _qt_message() -> object:
    from PySide6 import QtWidgets

    box = QtWidgets.QMessageBox()
    box.setIcon(QtWidgets.QMessageBox.Icon.Warning)
    box.setText("The model bundle could not be verified.")
    box.setInformativeText("sha256 of 'model.tflite' does not match the model card.")
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Ok
                           | QtWidgets.QMessageBox.StandardButton.Cancel)
    return box


def _qt_table() -> object:
    from PySide6 import QtWidgets

    rng = np.random.default_rng(0)
    table = QtWidgets.QTableWidget(25, 5)
    table.setHorizontalHeaderLabels(["File", "Normal", "Pneumonia", "COVID-19", "Result"])
    for row in range(25):
        probs = rng.dirichlet([1, 1, 1])
        values = [f"image_{row:03d}.png", *(f"{p:.1%}" for p in probs),
                  ["Normal", "Pneumonia", "COVID-19"][int(probs.argmax())]]
        for column, value in enumerate(values):
            table.setItem(row, column, QtWidgets.QTableWidgetItem(value))
    return table


def _qt_form() -> object:
    from PySide6 import QtWidgets

    widget = QtWidgets.QWidget()
    form = QtWidgets.QFormLayout(widget)
    form.addRow("Patient folder:", QtWidgets.QLineEdit("/data/xrays/2024"))
    combo = QtWidgets.QComboBox()
    combo.addItems(["efficientnet-b0", "resnet50", "densenet121"])
    form.addRow("Architecture:", combo)
    spin = QtWidgets.QSpinBox()
    spin.setValue(20)
    form.addRow("Epochs:", spin)
    form.addRow("Augmentation:", QtWidgets.QCheckBox("random rotation and contrast"))
    slider = QtWidgets.QSlider()
    slider.setOrientation(__import__("PySide6.QtCore", fromlist=["Qt"]).Qt.Orientation.Horizontal)
    form.addRow("Learning rate:", slider)
    form.addRow(QtWidgets.QPushButton("Start training"))
    return widget


def _qt_tree() -> object:
    from PySide6 import QtWidgets

    tree = QtWidgets.QTreeWidget()
    tree.setHeaderLabels(["Name", "Size", "Modified"])
    for folder in range(6):
        parent = QtWidgets.QTreeWidgetItem(tree, [f"study_{folder:02d}", "", "2024-03-0{folder}"])
        for child in range(4):
            QtWidgets.QTreeWidgetItem(parent, [f"img_{child}.dcm", f"{(child + 3) * 417} KB", ""])
    tree.expandAll()
    return tree


def _qt_text() -> object:
    from PySide6 import QtWidgets

    edit = QtWidgets.QPlainTextEdit()
    edit.setPlainText("\n".join(f"2024-03-01 12:{m:02d}:00 INFO classify image_{m}.png -> Normal"
                                for m in range(40)))
    return edit


def _qt_progress() -> object:
    from PySide6 import QtWidgets

    widget = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(widget)
    layout.addWidget(QtWidgets.QLabel("Training epoch 3 of 20 ..."))
    bar = QtWidgets.QProgressBar()
    bar.setValue(37)
    layout.addWidget(bar)
    layout.addWidget(QtWidgets.QListWidget())
    layout.addWidget(QtWidgets.QPushButton("Cancel"))
    return widget


def _qt_calendar() -> object:
    from PySide6 import QtCore, QtWidgets

    calendar = QtWidgets.QCalendarWidget()
    calendar.setSelectedDate(QtCore.QDate(2024, 3, 14))
    return calendar


def _qt_viewer() -> object:
    """A viewer window showing an X-ray-like image: mostly image, some UI chrome."""
    from PySide6 import QtGui, QtWidgets

    window = QtWidgets.QMainWindow()
    window.menuBar().addMenu("File")
    window.menuBar().addMenu("View")
    toolbar = window.addToolBar("tools")
    toolbar.addAction("Open")
    toolbar.addAction("Classify")
    label = QtWidgets.QLabel()
    pixels = synthetic_radiograph((420, 500), seed=3)
    qimage = QtGui.QImage(pixels.tobytes(), pixels.shape[1], pixels.shape[0], pixels.shape[1],
                          QtGui.QImage.Format.Format_Grayscale8)
    label.setPixmap(QtGui.QPixmap.fromImage(qimage.copy()))
    window.setCentralWidget(label)
    window.statusBar().showMessage("Normal 91.2 %  -  model lunglens-1.0")
    return window


def _qt_wizard() -> object:
    from PySide6 import QtWidgets

    wizard = QtWidgets.QWizard()
    wizard.setWizardStyle(QtWidgets.QWizard.WizardStyle.ClassicStyle)
    page = QtWidgets.QWizardPage()
    page.setTitle("Select training data")
    page.setSubTitle("Choose a folder with one sub-folder per class.")
    layout = QtWidgets.QVBoxLayout(page)
    layout.addWidget(QtWidgets.QLineEdit("/data/cxr"))
    layout.addWidget(QtWidgets.QLabel("Found 3048 images in 3 classes."))
    wizard.addPage(page)
    return wizard


def _screenshots() -> Iterator[_Spec]:
    builders = [
        ("message_box", "warning message box", _qt_message, (420, 160)),
        ("results_table", "results table", _qt_table, (640, 520)),
        ("training_form", "form with inputs", _qt_form, (480, 300)),
        ("file_tree", "tree view of files", _qt_tree, (500, 600)),
        ("log_view", "plain-text log view", _qt_text, (700, 500)),
        ("progress", "progress dialog with list", _qt_progress, (400, 420)),
        ("calendar", "calendar widget", _qt_calendar, (360, 300)),
        ("viewer", "viewer window showing an X-ray-like image", _qt_viewer, (560, 620)),
        ("wizard", "wizard page", _qt_wizard, (560, 420)),
    ]
    for name, description, build, size in builders:
        for dark in (False, True):

            def write(path: Path, build: Callable[[], object] = build,
                      size: tuple[int, int] = size, dark: bool = dark) -> None:
                image = _grab(build, size, dark)
                _save(image if path.suffix == ".png" else image.convert("L"), path)

            suffix = "_dark" if dark else ""
            gray = dark  # the dark variants are saved as 8-bit gray: a colourless screenshot
            yield _Spec(f"{name}{suffix}{'_gray' if gray else ''}.{'jpg' if gray else 'png'}",
                        f"Qt screenshot: {description}" + (", dark palette, grayscale JPEG"
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
    """Write the set into a folder and print the counts per category."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--limit", type=int, default=None, help="images per category")
    args = parser.parse_args(argv)
    cases = write_ood_cases(args.out, limit_per_category=args.limit)
    for category in CATEGORIES:
        chosen = [c for c in cases if c.category == category]
        held = sum(c.held_out for c in chosen)
        print(f"{category:<16} {len(chosen):>4} images ({held} held out)")
    print(f"{'total':<16} {len(cases):>4} images in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
