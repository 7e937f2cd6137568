"""``load_image``: the one entry point that turns a file into a :class:`LoadedImage`."""

from __future__ import annotations

import os
from pathlib import Path

from desktop_app.core.errors import ImageLoadError
from desktop_app.core.imaging.checks import read_head
from desktop_app.core.imaging.loaded_image import LoadedImage
from desktop_app.core.imaging.pillow_reader import load_with_pillow
from desktop_app.core.imaging.sniffing import describe_unrecognised, sniff_bytes

__all__ = ["MODEL_SIDE_MARGIN", "STATISTICS_SIDE", "load_image", "model_min_side"]

#: How many times the model input side a reduced decode keeps (see :func:`model_min_side`).
MODEL_SIDE_MARGIN = 2
#: Shortest side a reduced decode keeps whatever the model (see :func:`model_min_side`).
STATISTICS_SIDE = 256


def model_min_side(input_size: int) -> int:
    """Shortest side to decode for a model whose input side is ``input_size``.

    Twice the model input: the card's preprocessing still shrinks the image by at least 2
    with an antialiasing filter, so the model input from a reduced decode matches the one
    from the full image (mean absolute difference well under 0.01, tested per codec in
    ``tests/core/test_reduced_decoding.py``). The shorter side is used so that every resize
    policy (pad: long side, crop and stretch: short side) keeps the margin. Never below
    :data:`STATISTICS_SIDE`: the gate's image statistics sample up to 256 x 256 pixels, and a
    smaller image would show them fewer grey levels than the full one (small test models).
    """
    return max(MODEL_SIDE_MARGIN * int(input_size), STATISTICS_SIDE)


def load_image(path: str | os.PathLike[str], *, min_side: int | None = None) -> LoadedImage:
    """Read an image file of any supported format into display-ready grayscale.

    Args:
        path: The file to read.
        min_side: For callers that need only the model input (and a thumbnail): the image
            may be decoded at reduced resolution as long as its shorter side stays at least
            this many pixels (see :func:`model_min_side`). JPEG and JPEG 2000 (also inside
            DICOM) then decode only what is needed; other formats are block-averaged before
            any float conversion. ``original_size`` keeps the full size. ``None`` (the
            default) decodes the full image, as the viewer needs.

    Returns:
        The decoded image; see :class:`LoadedImage` for the pixel convention.

    Raises:
        ImageLoadError: For every failure, with a reason fit to show the user: missing,
            unreadable, empty, not an image (quoting its first bytes), truncated or corrupt,
            too large (checked before decoding), too small, an implausible aspect ratio, a
            DICOM without pixel data or in a transfer syntax that cannot be decoded. Errors
            nobody anticipated are wrapped too, so callers need one ``except`` clause.
    """
    file = Path(path)
    try:
        return _load(file, min_side)
    except ImageLoadError:
        raise
    except MemoryError:
        raise ImageLoadError(file, "not enough memory to decode this image") from None
    except Exception as exc:  # the contract: ImageLoadError for every failure
        raise ImageLoadError(
            file, f"unexpected error while reading the image: {type(exc).__name__}: {exc}"
        ) from exc


def _load(file: Path, min_side: int | None) -> LoadedImage:
    head = read_head(file)
    fmt = sniff_bytes(head)
    if fmt is None:
        raise ImageLoadError(file, describe_unrecognised(head))
    if fmt == "DICOM":
        # Imported on first use: pydicom stays out of PNG/JPEG-only sessions and start-up.
        from desktop_app.core.imaging.dicom_reader import load_dicom

        return load_dicom(file, head, min_side)
    return load_with_pillow(file, fmt, head, min_side)


