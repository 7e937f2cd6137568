"""Format detection from a file's first bytes, and saying what a non-image file seems to be.

Content, not name, decides the format: a DICOM without extension loads, a JPEG named ``.png``
loads as JPEG, a PDF named ``.jpg`` is refused as a PDF.
"""

from __future__ import annotations

import codecs
import os
import struct

from desktop_app.core.imaging.checks import SNIFF_BYTES

__all__ = ["SUPPORTED_FORMATS", "describe_unrecognised", "sniff_bytes", "sniff_format"]

#: ``LoadedImage.format`` values.
SUPPORTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "TIFF", "GIF", "WEBP", "DICOM")

_QUOTE_BYTES = 8  # how much of unrecognised content an error message quotes

# Explicit VR codes, to recognise a DICOM data set that starts without preamble.
_DICOM_VRS = frozenset({
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
})


def sniff_format(path: str | os.PathLike[str]) -> str | None:
    """Detect a supported image format from the first bytes of a file.

    Cheap (one read of 132 bytes) and independent of the file name, so folder scans can use it
    on every file.

    Args:
        path: The file to look at.

    Returns:
        One of :data:`SUPPORTED_FORMATS`, or ``None`` if the content is not a supported image
        or the file cannot be read.
    """
    try:
        with open(path, "rb") as fp:
            head = fp.read(SNIFF_BYTES)
    except OSError:
        return None
    return sniff_bytes(head)


def sniff_bytes(head: bytes) -> str | None:
    """Return the format whose signature starts ``head``, or ``None``."""
    # DICOM first: its 128-byte preamble may legally hold another format's header (dual
    # DICOM/TIFF files start with "II*\0", e.g. pydicom's own MR_small.dcm).
    if head[128:132] == b"DICM":
        return "DICOM"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "TIFF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    # "BM" alone is too common a start of text; also require a known DIB header size.
    if (
        head.startswith(b"BM")
        and len(head) >= 18
        and struct.unpack_from("<I", head, 14)[0] in (12, 16, 40, 52, 56, 64, 108, 124)
    ):
        return "BMP"
    if _looks_like_bare_dicom(head):
        return "DICOM"
    return None


def _looks_like_bare_dicom(head: bytes) -> bool:
    """Whether ``head`` starts like a DICOM data set written without the 128-byte preamble.

    Such files (old ACR-NEMA style exports, some PACS dumps) begin with the file meta group
    0002 or the identifying group 0008: little-endian explicit or implicit VR, or big-endian
    explicit VR. Only a hint: the data set must then also parse and hold DICOM tags.
    """
    if len(head) < 8:
        return False
    if head[:2] in (b"\x00\x02", b"\x00\x08"):  # big endian: explicit VR only
        return head[4:6] in _DICOM_VRS
    if head[:2] not in (b"\x02\x00", b"\x08\x00"):
        return False
    if head[4:6] in _DICOM_VRS:
        return True
    length = struct.unpack_from("<I", head, 4)[0]
    return length % 2 == 0 and length < 1024


def describe_unrecognised(head: bytes) -> str:
    """Say what a file that is not a supported image seems to be, quoting its first bytes."""
    quoted = repr(head[:_QUOTE_BYTES])
    kind: str | None = None
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if head.startswith(b"%PDF"):
        kind = "a PDF"
    elif head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        kind = "a ZIP archive or an Office document"
    elif head.startswith(b"\x1f\x8b"):
        kind = "a gzip-compressed file"
    elif text.startswith((b"<!doctype html", b"<html")):
        kind = "an HTML web page, perhaps saved instead of the image it showed"
    elif text.startswith((b"<?xml", b"<svg")):
        kind = "an XML or SVG document"
    elif _is_text(head):
        kind = "plain text"
    if kind is not None:
        return f"not an image: content starts with {quoted} (looks like {kind})"
    if head.startswith((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")):
        kind = "a JPEG 2000 image"
    elif head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"avif", b"avis"):
        kind = "a HEIC/AVIF photo"
    hint = f" (looks like {kind})" if kind else ""
    return (
        f"not a supported image format: content starts with {quoted}{hint}; LungLens reads "
        "PNG, JPEG, BMP, TIFF, GIF, WebP and DICOM"
    )


def _is_text(head: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(head, final=False)  # the sample may end inside a character
    except UnicodeDecodeError:
        return False
    return bool(text) and all(ch.isprintable() or ch in "\t\r\n\f\v" for ch in text)

