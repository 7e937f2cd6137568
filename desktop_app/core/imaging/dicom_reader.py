"""Reading DICOM files: header checks, transfer syntaxes, the first frame, its gray levels.

Reduced resolution (``min_side``): a monochrome JPEG Baseline frame is a plain JPEG stream
that Pillow decodes with DCT scaling (1/2 to 1/8 of each side), and a monochrome JPEG 2000
frame a codestream whose finest resolution levels Pillow's OpenJPEG plugin can skip
(``im.reduce``); both give the stored values at a fraction of the cost. Every other syntax
(native, JPEG Lossless, JPEG-LS, RLE, 12-bit JPEG) is decoded whole by pydicom and then
block-averaged in its integer domain, before the Modality LUT, the window and the float
conversion. If Pillow cannot read a frame, pydicom decodes it as usual (and reports what is
wrong with it).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.errors import ImageLoadError
from desktop_app.core.imaging.checks import DECODE_ERRORS, check_geometry, error_detail
from desktop_app.core.imaging.dicom_windowing import dicom_grayscale
from desktop_app.core.imaging.loaded_image import LoadedImage, finish
from desktop_app.core.imaging.pixels import (
    box_reduce,
    colourfulness_of,
    finite_to_unit,
    power_of_two_factor,
    reduction_factor,
    rgb_to_gray,
)
from desktop_app.core.imaging.sniffing import describe_unrecognised
from desktop_app.core.patient_age import age_from_dataset

__all__ = ["decode_dicom", "load_dicom"]

# Elements above this size are read from disk only when used, so a DICOM's pixel count is
# checked before its pixel data is read (PixelData is read only after the checks pass).
_DICOM_DEFER_SIZE = 64 * 1024
_DICOM_NATIVE_SYNTAXES = frozenset({
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
})
_DICOM_METADATA_KEYWORDS = (
    "Modality", "BodyPartExamined", "ViewPosition", "PhotometricInterpretation",
    "PresentationIntentType",
    # The equipment (never the patient): site calibration warns when one site's films come
    # from machines that may each need their own calibration.
    "Manufacturer", "ManufacturerModelName",
)
_DICOM_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
_JPEG_2000 = frozenset({"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"})
#: Largest DCT scaling libjpeg offers (1/8 of each side).
_MAX_DCT_SCALE = 8

def load_dicom(file: Path, head: bytes, min_side: int | None = None) -> LoadedImage:
    """Read a DICOM file's first frame; ``min_side`` allows a reduced image (module docstring)."""
    import pydicom  # imported on first use: keeps startup fast for PNG/JPEG-only sessions
    from pydicom.errors import InvalidDicomError

    has_preamble = head[128:132] == b"DICM"
    # Unbuffered: pydicom then keeps reading deferred elements from *this* file object, which
    # the with-block closes even when decoding fails (with a path or a buffered reader it
    # reopens the file by name and leaks the handle if the read raises).
    with open(file, "rb", buffering=0) as fp:
        try:
            ds = pydicom.dcmread(fp, defer_size=_DICOM_DEFER_SIZE, force=not has_preamble)
        except (InvalidDicomError, *DECODE_ERRORS) as exc:
            if not has_preamble:
                raise ImageLoadError(file, describe_unrecognised(head)) from None
            raise ImageLoadError(
                file,
                f"image is truncated or corrupt: cannot read the DICOM header "
                f"({error_detail(exc)})",
            ) from None
        if not has_preamble and not _is_plausible_dataset(ds):
            raise ImageLoadError(file, describe_unrecognised(head))
        return decode_dicom(file, ds, min_side)


def _is_plausible_dataset(ds: Any) -> bool:
    """Whether a data set read with ``force=True`` is really DICOM and not parsed noise."""
    return any(
        keyword in ds
        for keyword in ("SOPClassUID", "Modality", "StudyInstanceUID", "Rows", "PixelData")
    )


def _dicom_int(file: Path, ds: Any, keyword: str, default: int | None = None) -> int:
    try:
        raw = ds.get(keyword, default)
    except DECODE_ERRORS:
        raw = "unreadable"
    if raw is None or raw == "":
        if default is not None:
            return default
        raise ImageLoadError(file, f"DICOM image is missing its {keyword} tag")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ImageLoadError(file, f"DICOM tag {keyword} has an invalid value {raw!r}") from None


def _dicom_text(ds: Any, keyword: str) -> str | None:
    try:
        value = ds.get(keyword)
    except DECODE_ERRORS:
        return None
    if value is None:
        return None
    text = "".join(ch for ch in str(value) if ch.isprintable()).strip()
    return text[:64] or None


def _transfer_syntax(ds: Any) -> Any:
    """Return the data set's transfer syntax, deriving it from the encoding if there is no meta.

    Data sets without file meta are never compressed (compression needs the meta to say so);
    pydicom needs the UID recorded to decode them.
    """
    from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax:
        return UID(str(syntax))
    implicit, little = ds.original_encoding
    if implicit:
        syntax = ImplicitVRLittleEndian
    else:
        syntax = ExplicitVRLittleEndian if little is not False else ExplicitVRBigEndian
    ds.file_meta.TransferSyntaxUID = syntax
    return syntax


def _why_no_pixel_data(ds: Any) -> str:
    """Explain a data set without pixel data: a non-image object, or an image cut short.

    pydicom reads a truncated file leniently and simply stops, so a file that describes an
    image (image pixel tags, or an image storage SOP class) but holds no pixels is reported
    as truncated rather than as a report or other non-image object.
    """
    from pydicom.uid import UID

    sop_class = _dicom_text(ds, "SOPClassUID") or _dicom_text(
        ds.file_meta, "MediaStorageSOPClassUID"
    )
    sop_name = UID(sop_class).name if sop_class else ""
    describes_image = "Image Storage" in sop_name or any(
        keyword in ds for keyword in ("Rows", "Columns", "BitsAllocated")
    )
    if describes_image:
        what = f" ({sop_name})" if sop_name and sop_name != sop_class else ""
        return (
            f"image is truncated or corrupt: the DICOM file describes an image{what} but holds "
            "no pixel data; it may have been cut short"
        )
    modality = _dicom_text(ds, "Modality")
    what = f"Modality {modality!r}" if modality else "no Modality recorded"
    return f"DICOM has no pixel data ({what})"


def _syntax_label(syntax: Any) -> str:
    name = syntax.name
    if name == str(syntax):
        return f"{str(syntax)!r} (not a standard transfer syntax)"
    return f"{name!r} ({syntax})"


def decode_dicom(file: Path, ds: Any, min_side: int | None = None) -> LoadedImage:
    """Decode the first frame of a parsed data set into a :class:`LoadedImage`."""
    pixel_keyword = next((kw for kw in _DICOM_PIXEL_KEYWORDS if kw in ds), None)
    if pixel_keyword is None:
        raise ImageLoadError(file, _why_no_pixel_data(ds))
    rows = _dicom_int(file, ds, "Rows")
    columns = _dicom_int(file, ds, "Columns")
    frames = _dicom_int(file, ds, "NumberOfFrames", default=1)
    if frames < 1:
        raise ImageLoadError(file, f"DICOM tag NumberOfFrames has an invalid value {frames!r}")
    check_geometry(file, columns, rows, frames)

    syntax = _transfer_syntax(ds)
    if str(syntax) not in _DICOM_NATIVE_SYNTAXES:
        _require_decoder(file, syntax)

    photometric = (_dicom_text(ds, "PhotometricInterpretation") or "").upper()
    factor = reduction_factor(columns, rows, min_side)
    reducible = factor > 1 and pixel_keyword == "PixelData" and photometric in _MONOCHROME
    reduced = _reduced_with_pillow(ds, str(syntax), columns, rows, frames, min_side) if (
        reducible) else None
    if reduced is not None:
        values, reduction = reduced
        bits = _dicom_int(file, ds, "BitsStored", default=values.dtype.itemsize * 8)
    else:
        values = _first_frame(file, ds, syntax)
        bits = _dicom_int(file, ds, "BitsStored", default=values.dtype.itemsize * 8)
        reduction = 1
        if reducible and values.ndim == 2:
            values, reduction = box_reduce(values, factor), factor
    gray, bits, colourfulness = _dicom_gray(file, ds, values, bits, pixel_keyword, photometric)
    metadata = {
        keyword: text
        for keyword in _DICOM_METADATA_KEYWORDS
        if (text := _dicom_text(ds, keyword)) is not None
    }
    metadata.update({
        "TransferSyntaxUID": str(syntax),
        "TransferSyntax": syntax.name,
        "Rows": str(rows),
        "Columns": str(columns),
        "NumberOfFrames": str(frames),
    })
    # The header is parsed here anyway: derive the age now rather than read the file again.
    return finish(file, gray, "DICOM", photometric, bits, colourfulness, metadata,
                  original_size=(columns, rows), reduction=reduction, age=age_from_dataset(ds))


def _require_decoder(file: Path, syntax: Any) -> None:
    """Raise ImageLoadError unless a decoder for the compressed ``syntax`` is installed."""
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise ImageLoadError(
            file,
            f"DICOM transfer syntax {_syntax_label(syntax)} cannot be decoded: LungLens "
            "has no decoder for it",
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "no plugin"
        raise ImageLoadError(
            file,
            f"DICOM transfer syntax {_syntax_label(syntax)} cannot be decoded: its decoder "
            f"is not installed ({missing})",
        )


def _first_frame(file: Path, ds: Any, syntax: Any) -> np.ndarray:
    """The first frame's stored values, decoded by pydicom (only that frame)."""
    from pydicom.pixels import pixel_array

    try:
        return pixel_array(ds, index=0)  # decodes the first frame only
    except MemoryError:
        raise
    except Exception as exc:  # decoder plugins raise assorted types for bad streams
        if str(syntax) in _DICOM_NATIVE_SYNTAXES:
            reason = f"image is truncated or corrupt: {error_detail(exc)}"
        else:
            reason = (
                f"DICOM transfer syntax {_syntax_label(syntax)} cannot be decoded: the "
                f"compressed pixel data is corrupt or truncated ({error_detail(exc)})"
            )
        raise ImageLoadError(file, reason) from None


def _dicom_gray(file: Path, ds: Any, values: np.ndarray, bits: int, pixel_keyword: str,
                photometric: str) -> tuple[np.ndarray, int, float]:
    """Gray values in 0..1 by the photometric interpretation; the bits; the colourfulness."""
    colourfulness = 0.0
    if pixel_keyword != "PixelData":
        gray = finite_to_unit(file, values)
        bits = values.dtype.itemsize * 8
    elif photometric in ("MONOCHROME1", "MONOCHROME2"):
        if values.ndim != 2:
            raise ImageLoadError(
                file, f"DICOM {photometric} image has {values.shape[-1]} samples per pixel"
            )
        gray = dicom_grayscale(values, ds)
        if photometric == "MONOCHROME1":  # low values are white: invert after windowing
            np.subtract(1.0, gray, out=gray)
    elif photometric in ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT",
                         "PALETTE COLOR"):
        rgb = values
        max_value = float((1 << bits) - 1)
        if photometric == "PALETTE COLOR":
            from pydicom.pixels import apply_color_lut

            rgb = apply_color_lut(values, ds)
            max_value = float(np.iinfo(rgb.dtype).max) if rgb.dtype.kind == "u" else 255.0
        if rgb.ndim != 3 or rgb.shape[-1] != 3:
            raise ImageLoadError(
                file, f"DICOM {photometric} image has unexpected pixel shape {rgb.shape}"
            )
        gray = rgb_to_gray(rgb, None, max_value)
        colourfulness = colourfulness_of(rgb, None, max_value)
    else:
        raise ImageLoadError(
            file, f"DICOM PhotometricInterpretation {photometric or 'missing'!r} is not supported"
        )
    return gray, bits, colourfulness


def _reduced_with_pillow(
    ds: Any, syntax: str, columns: int, rows: int, frames: int, min_side: int | None
) -> tuple[np.ndarray, int] | None:
    """Stored values of the first frame at reduced size, through Pillow, or ``None``.

    Only for one-sample unsigned frames in JPEG Baseline (8-bit) or JPEG 2000 whose codestream
    agrees with the header; anything else, or any failure, returns ``None`` so that pydicom
    decodes the frame (and explains a corrupt one).

    Returns:
        ``(values, reduction)``: stored values (uint8, uint16 or int32) and the factor by
        which each side was reduced.
    """
    if syntax != _JPEG_BASELINE and syntax not in _JPEG_2000:
        return None
    try:
        if int(ds.get("SamplesPerPixel", 1)) != 1 or int(ds.get("PixelRepresentation", 0)) != 0:
            return None
        from pydicom.encaps import generate_frames

        frame = next(generate_frames(ds.PixelData, number_of_frames=frames))
        if syntax == _JPEG_BASELINE:
            values, scale = _jpeg_frame(frame, columns, rows, min_side)
        else:
            values, scale = _jpeg2000_frame(frame, columns, rows, min_side)
    except (MemoryError, ImportError):
        raise
    except Exception:  # any trouble: the pydicom path decodes the frame or says why not
        return None
    if values is None:
        return None
    height, width = values.shape
    rest = reduction_factor(width, height, min_side)
    return box_reduce(values, rest), scale * rest


def _jpeg_frame(
    frame: bytes, columns: int, rows: int, min_side: int | None
) -> tuple[np.ndarray | None, int]:
    """Decode a JPEG Baseline frame with DCT scaling (Pillow's ``draft``)."""
    from PIL import JpegImagePlugin

    with JpegImagePlugin.JpegImageFile(io.BytesIO(frame)) as img:  # no bomb check: size known
        if img.size != (columns, rows) or img.mode != "L":
            return None, 1
        scale = power_of_two_factor(columns, rows, min_side, limit=_MAX_DCT_SCALE)
        if scale > 1:
            img.draft(None, (-(-columns // scale), -(-rows // scale)))
        img.load()
        actual = round(columns / img.size[0])
        return np.asarray(img), actual


def _jpeg2000_frame(
    frame: bytes, columns: int, rows: int, min_side: int | None
) -> tuple[np.ndarray | None, int]:
    """Decode a JPEG 2000 codestream, skipping the finest resolution levels (``im.reduce``).

    Pillow returns samples of more than 8 bits scaled up to 16 bits; they are shifted back to
    the codestream's precision, which is what pydicom returns as stored values.
    """
    from PIL import Jpeg2KImagePlugin

    header = _j2k_main_header(frame)
    if header is None:
        return None, 1
    precision, levels = header
    with Jpeg2KImagePlugin.Jpeg2KImageFile(io.BytesIO(frame)) as img:
        if img.size != (columns, rows) or img.mode not in ("L", "I;16"):
            return None, 1
        scale = power_of_two_factor(columns, rows, min_side, limit=1 << levels)
        level = _pillow_safe_level(columns, rows, scale.bit_length() - 1)
        if level:
            img.reduce = level
        img.load()
        values = np.asarray(img)
        if img.mode == "I;16" and precision < 16:
            values = values >> (16 - precision)
        actual = round(columns / img.size[0])
        return values, actual


def _pillow_safe_level(columns: int, rows: int, level: int) -> int:
    """The largest level up to ``level`` at which Pillow's and OpenJPEG's sizes agree.

    OpenJPEG's reduced image is ``ceil(side / 2**level)``; Pillow 13 allocates
    ``round(side / 2**level)`` (halves up) and reports a broken stream when that is one pixel
    short. Level 1 always agrees; higher levels depend on the remainders.
    """
    while level > 1:
        power = 1 << level
        if all((side + (power >> 1)) // power == -(-side // power) for side in (columns, rows)):
            return level
        level -= 1
    return level


def _j2k_main_header(frame: bytes) -> tuple[int, int] | None:
    """Return ``(precision, decomposition levels)`` from a J2K codestream's SIZ and COD.

    The levels bound how far ``im.reduce`` may go (OpenJPEG refuses to skip more).
    """
    if not frame.startswith(b"\xff\x4f\xff\x51"):
        return None
    position, precision, levels = 2, None, None
    while position + 4 <= len(frame) and (precision is None or levels is None):
        marker = frame[position:position + 2]
        length = int.from_bytes(frame[position + 2:position + 4], "big")
        segment = frame[position + 4:position + 2 + length]
        if marker == b"\xff\x51" and len(segment) >= 37:  # SIZ: Ssiz of component 0
            precision = (segment[36] & 0x7F) + 1
        elif marker == b"\xff\x52" and len(segment) >= 6:  # COD: SPcod decomposition levels
            levels = segment[5]
        elif marker == b"\xff\x90" or length < 2:  # first tile: the main header is over
            break
        position += 2 + length
    if precision is None or levels is None:
        return None
    return precision, levels


