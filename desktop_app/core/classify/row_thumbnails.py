"""The small picture of what the model saw, shown in a worklist row.

Made where the analysis runs (the window's batch, or the node that commits results to the
persistent worklist, where it is kept as a few kilobytes of PNG), so a table of 500 films
never holds or decodes the films themselves.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from desktop_app.core.classify.analysis import ImageResult

__all__ = ["ROW_THUMBNAIL_SIZE", "make_thumbnail", "thumbnail_from_png", "thumbnail_png"]

ROW_THUMBNAIL_SIZE = 48


def make_thumbnail(result: ImageResult, size: int = ROW_THUMBNAIL_SIZE) -> np.ndarray | None:
    """A small 8-bit grayscale thumbnail of what the model saw (content only, no padding)."""
    if result.prepared is None:
        return None
    from PIL import Image

    from desktop_app.core.preprocessing import to_uint8

    left, top, right, bottom = result.prepared.content_box
    content = to_uint8(result.prepared.array[top:bottom, left:right])
    image = Image.fromarray(content)
    image.thumbnail((size, size), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def thumbnail_png(thumbnail: np.ndarray) -> bytes:
    """A thumbnail as PNG bytes (how the worklist database keeps it)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(thumbnail).save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail_from_png(data: bytes) -> np.ndarray | None:
    """The thumbnail kept as PNG bytes, or ``None`` when they cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError):
        return None
