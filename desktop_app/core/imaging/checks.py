"""Checks every reader shares: size limits from the header, readable file, error wording.

Refusing from header values before any pixel is decoded keeps a decompression bomb cheap, and
one wording for each refusal keeps the messages alike whatever the format.
"""

from __future__ import annotations

import stat
import struct
import zlib
from pathlib import Path

from desktop_app.core.errors import ImageLoadError

__all__ = [
    "DECODE_ERRORS",
    "MAX_ASPECT",
    "MAX_PIXELS",
    "MIN_SIDE",
    "check_geometry",
    "error_detail",
    "read_head",
]

#: Bytes read to detect a format; DICOM's "DICM" sits at bytes 128..131.
SNIFF_BYTES = 132
#: Shortest side accepted, in pixels. Smaller files are icons or thumbnails, not radiographs.
MIN_SIDE = 64
#: Largest long/short side ratio accepted. Chest films are at most ~1.5:1; 4:1 leaves room for
#: odd crops while refusing banners, strips and screenshots of a worklist.
MAX_ASPECT = 4.0
#: Most pixels accepted (all frames of a DICOM together). A 43 x 43 cm detector at 100 um is
#: ~18.5 Mpx; 60 Mpx leaves headroom while one float32 copy of the largest image stays 240 MB.
MAX_PIXELS = 60_000_000


DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError,
    KeyError, TypeError, AttributeError, NotImplementedError,
)

def read_head(file: Path) -> bytes:
    """Return the first bytes of ``file``, refusing what is not a readable, non-empty file."""
    try:
        info = file.stat()
    except FileNotFoundError:
        raise ImageLoadError(file, "file not found") from None
    except PermissionError:
        raise ImageLoadError(file, "permission denied: LungLens may not access this file") from None
    except OSError as exc:
        raise ImageLoadError(file, f"cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageLoadError(file, "is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageLoadError(file, "is not a regular file (a device, pipe or socket)")
    if info.st_size == 0:
        raise ImageLoadError(file, "file is empty (0 bytes)")
    try:
        with open(file, "rb") as fp:
            return fp.read(SNIFF_BYTES)
    except PermissionError:
        raise ImageLoadError(file, "permission denied: LungLens may not read this file") from None
    except OSError as exc:
        raise ImageLoadError(file, f"cannot be read: {exc.strerror or exc}") from None


def check_geometry(file: Path, width: int, height: int, frames: int = 1) -> None:
    """Refuse, from header values only, images too large, too small or of the wrong shape."""
    pixels = width * height * frames
    if pixels > MAX_PIXELS:
        extent = f"{width} x {height}" + (f" x {frames} frames" if frames > 1 else "")
        raise ImageLoadError(
            file,
            f"declares {extent} = {pixels:,} pixels, more than the {MAX_PIXELS:,} allowed "
            "(possible decompression bomb); refused before decoding",
        )
    if min(width, height) < MIN_SIDE:
        raise ImageLoadError(
            file, f"too small: {width} x {height} px (each side must be at least {MIN_SIDE} px)"
        )
    aspect = max(width, height) / min(width, height)
    if aspect > MAX_ASPECT:
        raise ImageLoadError(
            file,
            f"aspect ratio {aspect:.3g}:1 ({width} x {height} px) is not that of a radiograph "
            f"(at most {MAX_ASPECT:g}:1)",
        )


def error_detail(exc: BaseException) -> str:
    """An exception's message on one line, shortened: enough to diagnose, short enough to show.

    pydicom lists each decoder plugin's complaint on a line of its own; those lines are the
    useful part, so lines are joined rather than dropped.
    """
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = text.replace(":;", ":") or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."

