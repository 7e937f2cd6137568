"""Reading the raster formats Pillow decodes: PNG, JPEG, BMP, TIFF, GIF and WebP.

Reduced resolution (``min_side``): JPEG is asked for a DCT-scaled image (Pillow's
``draft()``: 1/2, 1/4 or 1/8 of each side, decoded at a fraction of the cost); every other
format, and the rest of the reduction a JPEG still allows, is block-averaged in its integer
domain before the conversion to float. PNG (8 or 16 bits), BMP, TIFF, GIF and WebP have no
codec shortcut: their whole image is decoded; only the conversion and everything after it
work on the smaller array.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps

from desktop_app.core.errors import ImageLoadError
from desktop_app.core.imaging.checks import DECODE_ERRORS, check_geometry, error_detail
from desktop_app.core.imaging.loaded_image import LoadedImage, finish
from desktop_app.core.imaging.pixels import (
    box_reduce,
    colourfulness_of,
    composited,
    finite_to_unit,
    power_of_two_factor,
    reduction_factor,
    rgb_to_gray,
    scaled,
)

__all__ = ["load_with_pillow", "pillow_to_gray"]

#: Largest DCT scaling libjpeg offers (1/8 of each side).
_MAX_DCT_SCALE = 8


def _pillow_opener(file: Path, fmt: str) -> Any:
    """Return Pillow's header reader for ``fmt``.

    ``Image.open`` runs Pillow's own decompression-bomb check, which *warns* between ~89 and
    ~179 Mpx and raises above; both would preempt our own, stricter check and its message.
    Calling the format's registered opener directly reads the header only (decoding stays
    lazy), and :func:`check_geometry` then applies LungLens's limit to ``img.size``.
    """
    if fmt not in Image.OPEN:
        Image.init()
    try:
        opener, _accept = Image.OPEN[fmt]
    except KeyError:
        raise ImageLoadError(file, f"this installation of Pillow cannot read {fmt} files") from None
    return opener


def _webp_canvas_size(head: bytes) -> tuple[int, int] | None:
    """Return the ``(width, height)`` a WebP header declares, or ``None`` if unreadable.

    Pillow's WebP opener allocates the whole canvas while reading the header, so the size has
    to be checked before Pillow sees the file.
    """
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", head, 26)
        return width & 0x3FFF, height & 0x3FFF
    return None


def load_with_pillow(
    file: Path, fmt: str, head: bytes, min_side: int | None = None
) -> LoadedImage:
    """Decode ``file`` (already sniffed as ``fmt``) with Pillow.

    Args:
        file: The file.
        fmt: Its format, from :func:`~desktop_app.core.imaging.sniffing.sniff_bytes`.
        head: Its first bytes (WebP's canvas size is checked from them).
        min_side: When given, the shorter side of the result may be reduced down to (not
            below) this many pixels; ``original_size`` still reports the full size.
    """
    if fmt == "WEBP" and (size := _webp_canvas_size(head)) is not None:
        check_geometry(file, *size)
    opener = _pillow_opener(file, fmt)
    with open(file, "rb") as fp:
        try:
            img: ImageFile.ImageFile = opener(fp, os.fspath(file))
        except Image.DecompressionBombError as exc:
            raise ImageLoadError(
                file, f"refused before decoding (possible decompression bomb): {exc}"
            ) from None
        except DECODE_ERRORS as exc:
            raise ImageLoadError(
                file, f"image is truncated or corrupt: {error_detail(exc)}"
            ) from None
        with img:  # the file object is ours; closing the image leaves fp to the with-block
            check_geometry(file, *img.size)
            full_w, full_h = img.size
            if fmt == "JPEG" and min_side is not None:
                scale = power_of_two_factor(full_w, full_h, min_side, limit=_MAX_DCT_SCALE)
                if scale > 1:
                    img.draft(None, (math.ceil(full_w / scale), math.ceil(full_h / scale)))
            try:
                img.load()
            except DECODE_ERRORS as exc:
                raise ImageLoadError(
                    file, f"image is truncated or corrupt: {error_detail(exc)}"
                ) from None
            decoded_scale = round(full_w / img.size[0]) if img.size[0] else 1
            factor = reduction_factor(*img.size, min_side)
            metadata: dict[str, str] = {}
            orientation = _exif_orientation(img)
            if orientation in range(2, 9):
                ImageOps.exif_transpose(img, in_place=True)
                metadata["ExifOrientation"] = str(orientation)
                if orientation >= 5:  # a quarter turn: width and height swap
                    full_w, full_h = full_h, full_w
            mode = img.mode
            gray, bits, colourfulness = pillow_to_gray(file, img, fmt, factor)
    reduction = decoded_scale * (factor if gray.shape != img.size[::-1] else 1)
    return finish(file, gray, fmt, mode, bits, colourfulness, metadata,
                  original_size=(full_w, full_h), reduction=reduction)


def _exif_orientation(img: Image.Image) -> int | None:
    """Return the EXIF Orientation tag, or ``None`` if absent or the EXIF block is unreadable.

    Unreadable EXIF is not worth refusing a radiograph for: the pixels are shown as stored,
    which is what every other viewer does too.
    """
    try:
        value = img.getexif().get(ExifTags.Base.Orientation)
    except DECODE_ERRORS:
        return None
    return value if isinstance(value, int) else None


def pillow_to_gray(
    file: Path, img: Image.Image, fmt: str, factor: int = 1
) -> tuple[np.ndarray, int, float]:
    """Convert a loaded Pillow image to 0..1 gray; return ``(gray, bits, colourfulness)``.

    ``factor`` > 1 block-averages the integer samples first (:func:`box_reduce`). Float and
    32-bit integer images, and images with transparency, are kept whole: they are rare, and
    their range or compositing is not linear in the samples.
    """
    mode = img.mode
    if mode in ("L", "1"):
        values = np.asarray(img if mode == "L" else img.convert("L"))
        return scaled(box_reduce(values, factor), 255), 1 if mode == "1" else 8, 0.0
    if mode.startswith("I;16"):
        return scaled(box_reduce(np.asarray(img), factor), 65535), 16, 0.0
    if mode == "I":
        values = np.asarray(img)
        if fmt == "PNG":  # older Pillow versions loaded 16-bit PNGs as "I"
            return scaled(box_reduce(np.clip(values, 0, 65535), factor), 65535), 16, 0.0
        return finite_to_unit(file, values), 32, 0.0
    if mode == "F":
        return finite_to_unit(file, np.asarray(img)), 32, 0.0
    if mode in ("LA", "La"):
        values = np.asarray(img if mode == "LA" else img.convert("LA"))
        return composited(scaled(values[..., 0], 255), values[..., 1]), 8, 0.0
    has_alpha = mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in img.info)
    target = "RGBA" if has_alpha else "RGB"
    try:
        values = np.asarray(img if mode == target else img.convert(target))
    except ValueError:
        raise ImageLoadError(file, f"unsupported pixel layout {mode!r}") from None
    if not has_alpha:
        values = box_reduce(values, factor)
    alpha = values[..., 3] if has_alpha else None
    rgb = values[..., :3]
    return rgb_to_gray(rgb, alpha, 255), 8, colourfulness_of(rgb, alpha, 255)
