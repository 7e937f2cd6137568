"""Charts (rendered with matplotlib) and documents.

Documents are text pages, spreadsheets and PDF-like pages with an embedded X-ray-like figure,
drawn with Pillow.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from desktop_app.core.classify.synthetic import synthetic_radiograph
from model_training.non_chest.drawing import Spec, dejavu_font, save, skimage_file, u8

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


def chart_specs() -> Iterator[Spec]:
    """Charts rendered with matplotlib in several kinds and styles."""
    for index, kind in enumerate(_CHART_KINDS):
        for variant in range(3):
            style = _CHART_STYLES[(index + variant) % len(_CHART_STYLES)]
            gray = variant == 2

            def write(path: Path, kind: str = kind, style: str = style, seed: int = index * 3
                      + variant, gray: bool = gray) -> None:
                save(_render_chart(kind, style, seed, gray), path)

            label = f"{kind} chart, matplotlib style {style!r}" + (", saved as 8-bit gray"
                                                                 if gray else "")
            yield Spec(f"{kind}_{style}{'_gray' if gray else ''}.png", label, kind, write)


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
    font = dejavu_font(size)
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
    draw.text((40, 30), "Quality assurance review", font=dejavu_font(font_size + 10, bold=True),
              fill=ink)
    _paragraphs(draw, (40, 40 + font_size * 3, size[0] - 40, size[1] - 30), font_size, ink, 6)
    return image


def _spreadsheet(rows: int, columns: int, colour: bool, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    cell_w, cell_h = 110, 26
    image = Image.new("RGB", (cell_w * columns + 50, cell_h * (rows + 1) + 10), "white")
    draw = ImageDraw.Draw(image)
    font = dejavu_font(13)
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
    draw.text((80, 70), "Case report", font=dejavu_font(30, bold=True), fill=0)
    _paragraphs(draw, (80, 130, 747, 420), 14, 0)
    figure = synthetic_radiograph((300, 360), seed=seed)  # an embedded X-ray-like figure
    image.paste(Image.fromarray(figure), (263, 440))
    draw.text((263, 810), f"Figure {seed + 1}. Frontal radiograph.", font=dejavu_font(13), fill=0)
    _paragraphs(draw, (80, 850, 747, 1100), 14, 0)
    if scanned:  # photocopier look: grey paper, blur, noise, slight tilt
        array = np.asarray(image, dtype=np.float64) / 255.0
        array = 0.12 + 0.8 * array + rng.normal(0, 0.04, array.shape)
        image = Image.fromarray(u8(np.clip(array, 0, 1))).filter(ImageFilter.GaussianBlur(0.8))
        image = image.rotate(1.2, resample=Image.Resampling.BILINEAR, fillcolor=40)
    return image


def document_specs() -> Iterator[Spec]:
    """Text pages, spreadsheets and PDF-like pages drawn with Pillow."""
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
         lambda: Image.open(skimage_file("text.png")).convert("L").resize((896, 344))),
        ("skimage_page.png", "scikit-image 'page' sample (scanned book page)",
         lambda: Image.open(skimage_file("page.png")).convert("L").resize((768, 382))),
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
            save(make(), path, quality=85)

        yield Spec(name, description, f"doc{position}", write)
