"""Regenerate LungLens' application icon: ``resources/icons/lunglens.{svg,png,ico}``.

The glyph (two lungs under a magnifying lens on a rounded teal square) is described once as a
short list of primitives, and both the SVG and the raster images are drawn from that list, so
the three files cannot drift apart. The raster is drawn with Pillow at 4x and scaled down
(Pillow has no anti-aliasing for polygons), which keeps the build free of an SVG renderer.

Run from the repository root: ``.venv/bin/python packaging/make_icons.py``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "resources" / "icons"
CANVAS = 256  # design units; the PNG is 256 px, the SVG scales freely
SUPERSAMPLE = 4
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]

BACKGROUND = "#0F4C5C"
LUNG = "#E6EEF0"
AIRWAY = "#E6EEF0"
LENS = "#F2A541"
LENS_GLASS = (255, 255, 255, 56)


@dataclass(frozen=True)
class Shape:
    """One drawing primitive in design units (0..256).

    Attributes:
        kind: ``rrect`` (x0, y0, x1, y1, radius), ``poly`` (x, y pairs), ``line``
            (x0, y0, x1, y1, width; round caps), ``disc`` (cx, cy, r) or ``ring``
            (cx, cy, r, width).
        params: The numbers for ``kind``.
        colour: ``#RRGGBB`` or an RGBA tuple.
    """

    kind: str
    params: tuple[float, ...]
    colour: str | tuple[int, int, int, int]


def _lung(cx: float, side: int) -> tuple[float, ...]:
    """A lung outline: tall, rounded laterally, flatter on the medial side, pointed apex.

    Args:
        cx: Horizontal centre of the lung.
        side: -1 for the patient's right lung (drawn on the left), +1 for the other one.
    """
    points: list[float] = []
    cy, half_w, half_h = 134.0, 36.0, 74.0
    for step in range(72):
        t = 2 * math.pi * step / 72
        x, y = math.cos(t), math.sin(t)
        medial = (x * side) < 0  # the side facing the heart
        width = half_w * (0.62 if medial else 1.0)
        # Narrow smoothly towards the apex (top), full at the base.
        width *= 1.0 - 0.35 * max(0.0, -y) ** 1.5
        height = half_h * (0.92 if y > 0 else 1.0)
        points += [cx + width * x, cy + height * y]
    return tuple(points)


def glyph() -> list[Shape]:
    """The icon as primitives, back to front."""
    return [
        Shape("rrect", (8, 8, 248, 248, 52), BACKGROUND),
        Shape("poly", _lung(86, -1), LUNG),
        Shape("poly", _lung(170, +1), LUNG),
        Shape("line", (128, 40, 128, 92, 12), AIRWAY),
        Shape("line", (128, 92, 108, 112, 10), AIRWAY),
        Shape("line", (128, 92, 148, 112, 10), AIRWAY),
        Shape("disc", (166, 166, 46), LENS_GLASS),
        Shape("ring", (166, 166, 46, 14), LENS),
        Shape("line", (200, 200, 232, 232, 20), LENS),
    ]


def _svg_colour(colour: str | tuple[int, int, int, int]) -> str:
    if isinstance(colour, str):
        return f'fill="{colour}"'
    red, green, blue, alpha = colour
    return f'fill="rgb({red},{green},{blue})" fill-opacity="{alpha / 255:.3f}"'


def to_svg(shapes: list[Shape]) -> str:
    """Render the primitives as a standalone SVG document."""
    body: list[str] = []
    for shape in shapes:
        p = shape.params
        if shape.kind == "rrect":
            body.append(f'<rect x="{p[0]}" y="{p[1]}" width="{p[2] - p[0]}" '
                        f'height="{p[3] - p[1]}" rx="{p[4]}" {_svg_colour(shape.colour)}/>')
        elif shape.kind == "poly":
            coords = " ".join(f"{p[i]:.1f},{p[i + 1]:.1f}" for i in range(0, len(p), 2))
            body.append(f'<polygon points="{coords}" {_svg_colour(shape.colour)}/>')
        elif shape.kind == "line":
            body.append(f'<line x1="{p[0]}" y1="{p[1]}" x2="{p[2]}" y2="{p[3]}" '
                        f'stroke="{shape.colour}" stroke-width="{p[4]}" stroke-linecap="round"/>')
        elif shape.kind == "disc":
            body.append(f'<circle cx="{p[0]}" cy="{p[1]}" r="{p[2]}" '
                        f'{_svg_colour(shape.colour)}/>')
        elif shape.kind == "ring":
            body.append(f'<circle cx="{p[0]}" cy="{p[1]}" r="{p[2] - p[3] / 2}" fill="none" '
                        f'stroke="{shape.colour}" stroke-width="{p[3]}"/>')
        else:
            raise ValueError(f"unknown shape kind: {shape.kind!r}")
    inner = "\n  ".join(body)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CANVAS} {CANVAS}" '
            f'width="{CANVAS}" height="{CANVAS}">\n  <title>LungLens</title>\n  {inner}\n</svg>\n')


def to_image(shapes: list[Shape], size: int = CANVAS) -> Image.Image:
    """Render the primitives to an RGBA image of ``size`` pixels (anti-aliased)."""
    big = size * SUPERSAMPLE
    scale = big / CANVAS
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    for shape in shapes:
        # Each shape on its own layer so translucent fills blend instead of overwriting.
        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        p = [value * scale for value in shape.params]
        colour = shape.colour
        if shape.kind == "rrect":
            draw.rounded_rectangle(p[:4], radius=p[4], fill=colour)
        elif shape.kind == "poly":
            draw.polygon(list(zip(p[0::2], p[1::2], strict=True)), fill=colour)
        elif shape.kind == "line":
            draw.line(p[:4], fill=colour, width=round(p[4]))
            for x, y in ((p[0], p[1]), (p[2], p[3])):  # round caps
                draw.ellipse((x - p[4] / 2, y - p[4] / 2, x + p[4] / 2, y + p[4] / 2), fill=colour)
        elif shape.kind == "disc":
            draw.ellipse((p[0] - p[2], p[1] - p[2], p[0] + p[2], p[1] + p[2]), fill=colour)
        elif shape.kind == "ring":
            draw.ellipse((p[0] - p[2], p[1] - p[2], p[0] + p[2], p[1] + p[2]),
                         outline=colour, width=round(p[3]))
        else:
            raise ValueError(f"unknown shape kind: {shape.kind!r}")
        image = Image.alpha_composite(image, layer)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def write_icons(out: Path) -> list[Path]:
    """Write ``lunglens.svg``, ``lunglens.png`` (256 px) and ``lunglens.ico``; return them."""
    out.mkdir(parents=True, exist_ok=True)
    shapes = glyph()
    svg, png, ico = out / "lunglens.svg", out / "lunglens.png", out / "lunglens.ico"
    svg.write_text(to_svg(shapes), encoding="utf-8")
    image = to_image(shapes)
    image.save(png, optimize=True)
    # Pillow downsamples the 256 px image for each ICO entry.
    image.save(ico, sizes=ICO_SIZES)
    return [svg, png, ico]


def main() -> None:
    """Command-line entry: regenerate the icons (default: ``resources/icons``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    for path in write_icons(parser.parse_args().out):
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
