"""Images a clinic has on disk that are not a frontal chest film, made from real ones.

The view model must answer "other" for a CT slice, an MR slice, an ultrasound frame, a paper
figure, a screenshot of a PACS viewer, a CT scout view or a film photographed on a light box,
and "lateral" for a lateral film however it was cropped or marked. Only 153 real CT, MR and
ultrasound images and 22 real laterals are shared (``../shared/datasets/views``), so the
material is multiplied here from the training cases themselves:

* :func:`rewindow` shows a CT slice in another window (lung, mediastinal, bone-like);
* :func:`with_scout_inset` puts a small scout image with the slice line in a corner, as a
  paper figure or a PACS export does;
* :func:`multi_panel` arranges two to four images (CT, ultrasound, a chest film) as a
  journal figure with gutters and panel letters;
* :func:`viewer_screenshot` draws a PACS viewer around a film (toolbar, thumbnails, overlay
  text) so that the film fills only part of the image;
* :func:`topogram` makes a CT scout view of a frontal film (longer field, row streaks, the
  planned scan range drawn over it);
* :func:`light_box_photo` photographs a film hanging on a light box (bright surround,
  perspective, glare, vignetting);
* :func:`marked_lateral` adds side markers and tighter or wider framing to a lateral film;
* :func:`annotated` draws what journal figures and teaching files put on a *frontal* film
  (boxes, circles, arrows, letters), so that a drawn box alone never makes a film "other"
  (the scouts' scan-range box and the figures' gutters are drawn too).

Everything is plain numpy and Pillow on ``float32`` images in 0..1 (white = dense), so it runs
while the material is built and never needs TensorFlow. Every function is deterministic for a
given ``rng`` state.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = [
    "annotated",
    "light_box_photo",
    "marked_lateral",
    "multi_panel",
    "rewindow",
    "topogram",
    "viewer_screenshot",
    "with_scout_inset",
]


def _to_pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.asarray(image) * 255.0, 0, 255).astype(np.uint8))


def _from_pil(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``(width, height)``."""
    width, height = max(2, int(size[0])), max(2, int(size[1]))
    return _from_pil(_to_pil(image).resize((width, height), Image.Resampling.BILINEAR))


def _fit(image: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """Scale to fit inside ``(width, height)`` keeping the aspect ratio."""
    height, width = image.shape
    scale = min(box[0] / width, box[1] / height)
    return _resize(image, (round(width * scale), round(height * scale)))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=max(6, size))
    except TypeError:  # Pillow without sizeable default fonts
        return ImageFont.load_default()


def rewindow(ct: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The CT slice as another window would show it.

    The shared slices are already windowed 8-bit images, so a window is simulated on them: a
    narrower or wider range of their grey values stretched to the full range, with a gamma.
    """
    low = rng.uniform(0.0, 0.35)
    high = rng.uniform(max(low + 0.25, 0.55), 1.0)
    out = np.clip((ct - low) / (high - low), 0.0, 1.0)
    out = out ** float(np.exp(rng.uniform(-0.5, 0.5)))
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return out.astype(np.float32)


def with_scout_inset(image: np.ndarray, scout: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """``image`` with a small ``scout`` (a frontal view) and its slice line in a corner."""
    out = image.copy()
    height, width = out.shape
    side = int(rng.uniform(0.18, 0.33) * min(height, width))
    small = _fit(scout, (side, side))
    sh, sw = small.shape
    # The slice position: one bright horizontal line across the scout.
    row = int(rng.uniform(0.3, 0.7) * sh)
    small = small.copy()
    small[max(0, row - 1):row + 1, :] = 1.0
    margin = int(rng.uniform(0.0, 0.04) * min(height, width))
    top = margin if rng.random() < 0.5 else height - sh - margin
    left = margin if rng.random() < 0.5 else width - sw - margin
    top, left = max(0, top), max(0, left)
    out[top:top + sh, left:left + sw] = small[:height - top, :width - left]
    if rng.random() < 0.6:  # a thin frame around the inset
        value = float(rng.random() < 0.5)
        out[top, left:left + sw] = value
        out[min(height - 1, top + sh - 1), left:left + sw] = value
        out[top:top + sh, left] = value
        out[top:top + sh, min(width - 1, left + sw - 1)] = value
    return out


def multi_panel(panels: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """A journal figure: the panels in one row, one column or a 2x2 grid, with letters."""
    count = len(panels)
    if count == 4:
        rows, cols = 2, 2
    elif rng.random() < 0.7:
        rows, cols = 1, count
    else:
        rows, cols = count, 1
    cell = int(rng.uniform(180, 300))
    gutter = int(rng.uniform(0.01, 0.05) * cell)
    background = 1.0 if rng.random() < 0.6 else 0.0
    height = rows * cell + (rows + 1) * gutter
    width = cols * cell + (cols + 1) * gutter
    canvas = np.full((height, width), background, dtype=np.float32)
    for index, panel in enumerate(panels):
        r, c = divmod(index, cols)
        fitted = _fit(panel, (cell, cell))
        ph, pw = fitted.shape
        top = gutter + r * (cell + gutter) + (cell - ph) // 2
        left = gutter + c * (cell + gutter) + (cell - pw) // 2
        canvas[top:top + ph, left:left + pw] = fitted
    picture = _to_pil(canvas)
    draw = ImageDraw.Draw(picture)
    font = _font(int(cell * 0.1))
    for index in range(count):
        r, c = divmod(index, cols)
        x = gutter + c * (cell + gutter) + int(0.04 * cell)
        y = gutter + r * (cell + gutter) + int(0.03 * cell)
        ink = 255 if rng.random() < 0.5 else 0
        draw.text((x, y), "ABCD"[index], fill=ink, font=font)
    return _from_pil(picture)


def viewer_screenshot(film: np.ndarray, rng: np.random.Generator,
                      thumbnails: Sequence[np.ndarray] = ()) -> np.ndarray:
    """A PACS viewer window around ``film``: toolbar, thumbnail strip, overlay text.

    The film fills at most about two thirds of the window, so that what is learnt is the
    window around it, not a frontal film with a black border (journal copies have those).
    """
    width = int(rng.uniform(900, 1400))
    height = int(width * rng.uniform(0.56, 0.75))
    dark = rng.random() < 0.8
    window = 0.12 if dark else 0.9
    canvas = Image.new("L", (width, height), round(255 * window))
    draw = ImageDraw.Draw(canvas)
    bar = int(height * rng.uniform(0.05, 0.09))
    draw.rectangle((0, 0, width, bar), fill=round(255 * (0.22 if dark else 0.8)))
    for i in range(int(rng.integers(6, 14))):  # toolbar buttons
        x = int(bar * 0.3) + i * int(bar * 1.2)
        draw.rectangle((x, int(bar * 0.2), x + int(bar * 0.8), int(bar * 0.8)),
                       fill=round(255 * (0.4 if dark else 0.6)))
    strip = int(width * rng.uniform(0.1, 0.16)) if rng.random() < 0.8 else 0
    if strip:
        draw.rectangle((0, bar, strip, height), fill=round(255 * (0.18 if dark else 0.85)))
        tops = bar + 8
        for thumb in list(thumbnails)[:4] or [film]:
            small = _to_pil(_fit(thumb, (strip - 16, strip - 16)))
            canvas.paste(small, (8, tops))
            tops += small.size[1] + 10
            if tops > height - strip:
                break
    viewport = (strip + 8, bar + 8, width - 8, height - 8)
    view_w, view_h = viewport[2] - viewport[0], viewport[3] - viewport[1]
    draw.rectangle(viewport, fill=0)
    fill = rng.uniform(0.55, 0.95)
    fitted = _to_pil(_fit(film, (int(view_w * fill), int(view_h * fill))))
    canvas.paste(fitted, (viewport[0] + (view_w - fitted.size[0]) // 2,
                          viewport[1] + (view_h - fitted.size[1]) // 2))
    small_font = _font(int(height * 0.022))
    for corner in range(4):  # DICOM overlay text in the viewport's corners
        x = viewport[0] + 6 if corner % 2 == 0 else viewport[2] - int(view_w * 0.2)
        y = viewport[1] + 6 if corner < 2 else viewport[3] - int(height * 0.12)
        for line in range(int(rng.integers(2, 5))):
            text = ("PATIENT^NAME", "ID 0004711", "W 2048 L 1024", "Im 1/1", "Zoom 87%",
                    "Se 2", "CR CHEST PA")[int(rng.integers(0, 7))]
            draw.text((x, y + line * int(height * 0.028)), text, fill=230, font=small_font)
    return _from_pil(canvas)


def topogram(film: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A CT scout view (topogram) from a frontal film, with the planned range drawn on it.

    A scout is itself a frontal projection, so what tells it apart is drawn in every copy: a
    field running from neck to pelvis, coarse row streaks of the line scan, low contrast and
    the scan range box with its lines; a clean frontal film never has these.
    """
    height, width = film.shape
    extra = int(height * rng.uniform(0.25, 0.6))
    body = np.concatenate([film, np.repeat(film[-1:, :], extra, axis=0)
                           * np.linspace(1.0, 0.7, extra)[:, None]], axis=0)
    rows = body.shape[0]
    step = int(rng.integers(2, 5))
    streaked = np.repeat(body[::step], step, axis=0)[:rows]
    streaked = streaked + rng.normal(0.0, 0.03, (rows, 1)).astype(np.float32)
    low, high = rng.uniform(0.15, 0.35), rng.uniform(0.65, 0.85)
    scout = low + (high - low) * np.clip(streaked, 0.0, 1.0)
    scout = np.pad(scout, ((0, 0), (width // 6, width // 6)), constant_values=low * 0.5)
    picture = _to_pil(scout)
    draw = ImageDraw.Draw(picture)
    w, h = picture.size
    top, bottom = int(rng.uniform(0.05, 0.2) * h), int(rng.uniform(0.55, 0.85) * h)
    left, right = int(rng.uniform(0.08, 0.2) * w), int(rng.uniform(0.8, 0.92) * w)
    line = max(1, w // 200)
    draw.rectangle((left, top, right, bottom), outline=255, width=line)
    for y in np.linspace(top, bottom, int(rng.integers(4, 12)))[1:-1]:
        draw.line((left, int(y), right, int(y)), fill=230, width=max(1, line // 2))
    draw.text((left + 4, max(0, top - int(0.04 * h))), "Scan range",
              fill=255, font=_font(int(0.03 * h)))
    return _from_pil(picture)


def light_box_photo(film: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photo of ``film`` hanging on a light box: bright surround, tilt, glare, vignette."""
    height, width = film.shape
    scale = rng.uniform(0.55, 0.8)
    canvas_w, canvas_h = int(width / scale), int(height / scale)
    yy, xx = np.mgrid[0:canvas_h, 0:canvas_w].astype(np.float32)
    glow = 0.85 + 0.15 * rng.random()
    surround = glow - 0.15 * (np.abs(yy / canvas_h - 0.5) + np.abs(xx / canvas_w - 0.5))
    # The film transmits the box's light: dense (white) parts of the film look bright.
    shown = 0.1 + 0.85 * film
    canvas = _to_pil(surround)
    top, left = (canvas_h - height) // 2, (canvas_w - width) // 2
    canvas.paste(_to_pil(shown), (left, top))
    # Perspective: the camera is not square to the box.
    jitter = [float(v) for v in rng.uniform(-0.08, 0.08, 8) * np.tile([canvas_w, canvas_h], 4)]
    quad = (jitter[0], jitter[1], jitter[2], canvas_h + jitter[3],
            canvas_w + jitter[4], canvas_h + jitter[5], canvas_w + jitter[6], jitter[7])
    canvas = canvas.transform((canvas_w, canvas_h), Image.Transform.QUAD, quad,
                              resample=Image.Resampling.BILINEAR, fillcolor=40)
    photo = _from_pil(canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.8))))
    cy, cx = rng.uniform(0.2, 0.8, 2)
    glare = np.exp(-(((yy / canvas_h - cy) ** 2 + (xx / canvas_w - cx) ** 2) / 0.02))
    vignette = 1.0 - 0.35 * ((yy / canvas_h - 0.5) ** 2 + (xx / canvas_w - 0.5) ** 2) * 4
    photo = photo * vignette + rng.uniform(0.1, 0.35) * glare
    photo = photo + rng.normal(0.0, 0.02, photo.shape)
    return np.clip(photo, 0.0, 1.0).astype(np.float32)


def marked_lateral(lateral: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A lateral film with side markers, a different crop and contrast, perhaps mirrored."""
    height, width = lateral.shape
    top, bottom = (int(rng.uniform(0.0, 0.2) * height) for _ in range(2))
    left, right = (int(rng.uniform(0.0, 0.2) * width) for _ in range(2))
    out = lateral[top:height - bottom or height, left:width - right or width]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = np.clip(out, 0.0, 1.0) ** float(np.exp(rng.uniform(-0.7, 0.7)))
    if rng.random() < 0.3:  # a wider field: the film padded as a smaller detector would
        pad = int(rng.uniform(0.03, 0.15) * max(out.shape))
        out = np.pad(out, pad, constant_values=float(rng.uniform(0.0, 0.2)))
    picture = _to_pil(out)
    draw = ImageDraw.Draw(picture)
    w, h = picture.size
    for _ in range(int(rng.integers(1, 3))):
        size = int(rng.uniform(0.04, 0.09) * min(w, h))
        x, y = int(rng.uniform(0.02, 0.85) * w), int(rng.uniform(0.02, 0.2) * h)
        if rng.random() < 0.5:
            draw.rectangle((x, y, x + size, y + size), fill=250)
            draw.text((x + size // 4, y + size // 8), str(rng.choice(["L", "R"])), fill=20,
                      font=_font(int(size * 0.8)))
        else:
            draw.text((x, y), str(rng.choice(["L", "R", "LAT", "LEFT"])), fill=250,
                      font=_font(size))
    return _from_pil(picture)


def annotated(film: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A frontal film with annotations drawn on it: boxes, circles, arrows, letters."""
    picture = _to_pil(film)
    draw = ImageDraw.Draw(picture)
    w, h = picture.size
    line = max(1, round(min(w, h) / rng.uniform(80, 200)))
    ink = 255 if rng.random() < 0.8 else 0
    for _ in range(int(rng.integers(1, 4))):
        x0, y0 = rng.uniform(0.02, 0.6) * w, rng.uniform(0.05, 0.6) * h
        x1, y1 = x0 + rng.uniform(0.15, 0.45) * w, y0 + rng.uniform(0.15, 0.6) * h
        shape = rng.random()
        if shape < 0.45:
            draw.rectangle((x0, y0, min(x1, w - 2), min(y1, h - 2)), outline=ink, width=line)
        elif shape < 0.7:
            draw.ellipse((x0, y0, min(x1, w - 2), min(y1, h - 2)), outline=ink, width=line)
        else:  # an arrow pointing at something
            tip = (x0 + rng.uniform(0.05, 0.2) * w, y0 + rng.uniform(0.05, 0.2) * h)
            draw.line((x0, y0, *tip), fill=ink, width=line * 2)
            draw.polygon([tip, (tip[0] - 4 * line, tip[1] - line),
                          (tip[0] - line, tip[1] - 4 * line)], fill=ink)
    if rng.random() < 0.6:
        size = int(rng.uniform(0.04, 0.08) * min(w, h))
        draw.text((rng.uniform(0.01, 0.8) * w, rng.uniform(0.01, 0.1) * h),
                  str(rng.choice(["R", "L", "DX", "SX", "A", "B", "PA", "AP"])), fill=ink,
                  font=_font(size))
    return _from_pil(picture)
