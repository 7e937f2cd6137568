"""The answer as a picture any PACS viewer shows: the film, its heat map and a banner.

Not every viewer renders a Structured Report, and the heat map (the regions that drove the
answer) only means something on the film. So LungLens also sends a Secondary Capture: the
film as the window shows it (Modality and VOI LUT applied), the heat map of the answered
class burned in as the window colours it, and a banner above the film (never over it) with
the answer, every class's probability, the caution, the model id and "decision support, not
a diagnosis". RGB, 8 bits: the colours of the heat map are the point.

A refused or unreadable film gets no Secondary Capture (the SR says why): there is no
answer whose evidence could be drawn. Films larger than :data:`MAX_SIDE` pixels are scaled
down: the picture is for looking, the original stays in the study at full resolution.
"""

from __future__ import annotations

import textwrap

import highdicom as hd
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset

from desktop_app.core.classify.analysis import ImageResult
from desktop_app.core.classify.heatmap import colourise, heatmap_for_original
from desktop_app.core.imaging.loaded_image import LoadedImage
from desktop_app.core.node.result_identity import (
    DECISION_SUPPORT,
    MANUFACTURER,
    AlgorithmFacts,
    ResultUids,
)
from desktop_app.core.node.results_sr import equipment

__all__ = ["MAX_SIDE", "SC_SERIES_NUMBER", "banner_lines", "build_secondary_capture",
           "film_with_heatmap"]

SC_SERIES_NUMBER = 9902
#: Longest side of the picture, in pixels.
MAX_SIDE = 2048
#: How strongly the heat map covers the film where it is hottest (the window's default).
_OPACITY = 0.5


def banner_lines(result: ImageResult, facts: AlgorithmFacts) -> list[str]:
    """The banner's lines: answer, probabilities, caution, model, the disclaimer."""
    flags = []
    if result.decision is not None and result.decision.uncertain:
        flags.append("uncertain")
    if result.caution is not None:
        flags.append("caution")
    answer = f"LungLens: {result.label}" + (f" ({', '.join(flags)})" if flags else "")
    probabilities = "   ".join(f"{name} {value:.0%}"
                               for name, value in (result.probabilities or {}).items())
    lines = [answer, probabilities]
    if result.caution is not None:
        lines.append(f"Caution: {result.caution}")
    lines.append(f"Heat map: the regions that drove {result.label}.   Model {facts.model_id}")
    lines.append(f"LungLens is {DECISION_SUPPORT}.")
    return lines


def film_with_heatmap(image: LoadedImage, result: ImageResult) -> np.ndarray:
    """The film (display-ready grey) with the answered class's heat map blended in, RGB uint8.

    Raises:
        ValueError: If the result has no label or no heat maps to draw.
    """
    if result.label is None or result.cams is None or result.prepared is None \
            or result.probabilities is None:
        raise ValueError(f"no heat map to draw for {str(result.path)!r}: "
                         f"label {result.label!r}, heat maps {result.cams is not None}")
    index = list(result.probabilities).index(result.label)
    heat = heatmap_for_original(result.cams[..., index], result.prepared, image.original_size)
    grey = np.asarray(image.pixels, dtype=np.float32)
    if grey.shape != heat.shape:  # a reduced decode: bring the map onto its pixels
        heat = np.asarray(Image.fromarray(heat).resize(grey.shape[::-1],
                                                       Image.Resampling.BILINEAR))
    scale = min(1.0, MAX_SIDE / max(grey.shape))
    if scale < 1.0:
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.BILINEAR))
        heat = np.asarray(Image.fromarray(heat).resize(size, Image.Resampling.BILINEAR))
    rgba = colourise(heat)
    alpha = rgba[..., 3].astype(np.float32) * (_OPACITY / 255.0)
    base = grey * 255.0 * (1.0 - alpha)
    picture = np.empty((*grey.shape, 3), dtype=np.uint8)
    for channel in range(3):  # one channel at a time: a third of the temporary memory
        blended = rgba[..., channel] * alpha
        blended += base
        picture[..., channel] = np.clip(blended, 0, 255, out=blended)
    return picture


def _with_banner(picture: np.ndarray, lines: list[str]) -> np.ndarray:
    """``picture`` below a black banner holding ``lines`` in white, wrapped to its width."""
    width = picture.shape[1]
    size = max(12, width // 55)
    font = ImageFont.load_default(size=size)
    chars = max(20, int(width / (size * 0.55)))
    wrapped = [part for line in lines for part in textwrap.wrap(line, chars) or [""]]
    line_height = round(size * 1.3)
    banner = Image.new("RGB", (width, line_height * len(wrapped) + size), (0, 0, 0))
    draw = ImageDraw.Draw(banner)
    for number, line in enumerate(wrapped):
        draw.text((size // 2, size // 2 + number * line_height), line, fill=(255, 255, 255),
                  font=font)
    return np.concatenate([np.asarray(banner), picture], axis=0)


def build_secondary_capture(film: Dataset, result: ImageResult, image: LoadedImage,
                            facts: AlgorithmFacts, uids: ResultUids) -> Dataset:
    """The Secondary Capture of one labelled film, ready to write and send.

    Args:
        film: The film's header (:func:`~desktop_app.core.node.result_evidence.
            evidence_header`): patient, study and the UIDs referenced.
        result: The film's analysis with its heat maps (``Analyzer.analyse`` keeps them).
        image: The film's pixels as loaded for display (``load_image``).
        facts: The algorithm that answered.
        uids: The picture's series and instance UIDs.

    Raises:
        ValueError: If the film was refused or could not be read (no answer to draw).
    """
    pixels = _with_banner(film_with_heatmap(image, result), banner_lines(result, facts))
    orientation = film.get("PatientOrientation")
    known = bool(orientation) and len(orientation) == 2
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=film, pixel_array=pixels, photometric_interpretation="RGB",
        bits_allocated=8, coordinate_system="PATIENT", series_instance_uid=uids.sc_series,
        series_number=SC_SERIES_NUMBER, sop_instance_uid=uids.sc_instance, instance_number=1,
        manufacturer=MANUFACTURER,
        # highdicom needs an orientation; a film without one gets it empty below (type 2:
        # "unknown"), never a guessed one.
        patient_orientation=tuple(orientation) if known else ("L", "F"),
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        contributing_equipment=[equipment(facts)],
        series_description=f"LungLens heat map: {DECISION_SUPPORT}",
    )
    if not known:
        sc.PatientOrientation = None
    sc.SpecificCharacterSet = "ISO_IR 192"
    sc.ConversionType = "WSD"  # made on a workstation (highdicom says DI, digital interface)
    sc.BurnedInAnnotation = "YES"
    # Type 2C (paired body parts); a chest is not paired, but an empty value says "none"
    # to validators that cannot tell.
    sc.Laterality = film.get("Laterality") or None
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.DerivationDescription = (f"{film.get('Modality', 'film')} with the heat map of "
                                f"{result.label} by {facts.model_id} and a text banner")
    source = Dataset()
    source.ReferencedSOPClassUID = film.SOPClassUID
    source.ReferencedSOPInstanceUID = film.SOPInstanceUID
    sc.SourceImageSequence = [source]
    sc.SoftwareVersions = [f"LungLens {facts.software_version}"]
    sc.ImageComments = f"LungLens is {DECISION_SUPPORT}."
    return sc
