"""The one way LungLens opens an image: any supported file in, display-ready grayscale out.

Modules: :mod:`.sniffing` (format from content), :mod:`.pillow_reader` (PNG, JPEG, BMP, TIFF,
GIF, WebP), :mod:`.dicom_reader` and :mod:`.dicom_windowing` (DICOM), :mod:`.pixels` (gray
conversion, integer-domain reduction), :mod:`.folders` (folder expansion), :mod:`.checks`
(limits and messages), :mod:`.loader` (:func:`load_image`, the entry point).

Everything that reads pixels from disk (the classify window, folder scans, the training data
scanner, the benchmarks) calls :func:`load_image`, so every part of the program sees the same
pixels for the same file and refuses the same bad files with the same plain-English reason.

What it guarantees:

* **Content, not name, decides the format.** A DICOM without extension loads; a JPEG named
  ``.png`` loads as JPEG; a PDF named ``.jpg`` is refused as a PDF.
* **One pixel convention.** ``LoadedImage.pixels`` is float32 ``(height, width)`` in 0..1 with
  0 = black, already as a radiologist would see it: EXIF orientation applied, DICOM Modality LUT
  and VOI LUT / window applied, MONOCHROME1 inverted, colour reduced to luma.
* **Refuse early and cheaply.** Size, aspect ratio and pixel count are checked from the header
  before any pixel is decoded, so a decompression bomb costs nothing.
* **One exception type.** Every failure, expected or not, is an
  :class:`~desktop_app.core.errors.ImageLoadError` naming the file and the problem.

* **Reduced resolution on request.** Callers that need only the model input and a
  thumbnail (batch and CLI analysis, training data, evaluation) pass
  ``min_side=model_min_side(spec.input_size)``; codecs that can (JPEG DCT scaling, JPEG 2000
  resolution levels, also inside DICOM) then decode less, and the rest is block-averaged in
  its integer domain. The viewer decodes the full image.

Formats: PNG, JPEG, BMP, TIFF (first page), GIF (first frame), WebP, and DICOM (first frame).

DICOM transfer syntaxes verified
--------------------------------
Each syntax below is decoded in ``tests/core/test_image_loading.py`` from real encoded data
(files written by ``tests/image_factory.py`` and the sample files shipped with pydicom), with
pydicom 3.0, pylibjpeg 2.1, pylibjpeg-libjpeg 2.5, pylibjpeg-openjpeg 2.6, pylibjpeg-rle 2.2:

* Implicit VR Little Endian (1.2.840.10008.1.2)
* Explicit VR Little Endian (1.2.840.10008.1.2.1)
* Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99)
* Explicit VR Big Endian (1.2.840.10008.1.2.2)
* JPEG Baseline, 8-bit (1.2.840.10008.1.2.4.50)
* JPEG Extended, 12-bit (1.2.840.10008.1.2.4.51)
* JPEG Lossless, Non-Hierarchical (1.2.840.10008.1.2.4.57)
* JPEG Lossless, First-Order Prediction (1.2.840.10008.1.2.4.70)
* JPEG-LS Lossless (1.2.840.10008.1.2.4.80)
* JPEG-LS Near-Lossless (1.2.840.10008.1.2.4.81)
* JPEG 2000 Lossless (1.2.840.10008.1.2.4.90)
* JPEG 2000 (1.2.840.10008.1.2.4.91)
* RLE Lossless (1.2.840.10008.1.2.5)

Files without a preamble (no ``DICM`` at byte 128) are read too when they start like a DICOM
data set (group 0002 or 0008) and turn out to hold sensible image tags. Other syntaxes are
refused with a message naming them; pylibjpeg-openjpeg can also decode High-Throughput JPEG
2000 (1.2.840.10008.1.2.4.201-203), but no such file was available to verify it.
"""


from __future__ import annotations

from desktop_app.core.imaging.checks import MAX_ASPECT, MAX_PIXELS, MIN_SIDE
from desktop_app.core.imaging.folders import IMAGE_SUFFIXES, iter_image_files
from desktop_app.core.imaging.loaded_image import LoadedImage
from desktop_app.core.imaging.loader import MODEL_SIDE_MARGIN, load_image, model_min_side
from desktop_app.core.imaging.sniffing import SUPPORTED_FORMATS, sniff_format

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_ASPECT",
    "MAX_PIXELS",
    "MIN_SIDE",
    "MODEL_SIDE_MARGIN",
    "SUPPORTED_FORMATS",
    "VERIFIED_TRANSFER_SYNTAXES",
    "LoadedImage",
    "iter_image_files",
    "load_image",
    "model_min_side",
    "sniff_format",
]

#: DICOM transfer syntaxes this package is tested to decode (see the docstring above): the one
#: list, which the DICOM receiver also accepts (:mod:`desktop_app.core.node.dicom_receiver`).
#: Plain strings, so that importing the package leaves pydicom out.
VERIFIED_TRANSFER_SYNTAXES: tuple[str, ...] = (
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.5",
)
