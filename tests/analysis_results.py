"""Analysis results built by hand, for tests of what LungLens writes about a film."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from desktop_app.core.classify.analysis import ImageResult
from desktop_app.core.decision import decide
from desktop_app.core.gate import OodVerdict
from desktop_app.core.imaging.loaded_image import LoadedImage
from desktop_app.core.node.result_identity import AlgorithmFacts
from desktop_app.core.preprocessing import PreprocessedImage

CLASSES = ("COVID-19", "Normal", "Pneumonia")
DECISION = {"priority": ["COVID-19", "Pneumonia"],
            "thresholds": {"COVID-19": 0.31, "Pneumonia": 0.45}, "min_confidence": 0.55}
MODEL_ID = "lunglens-test-20261207-abc123"
CAUTION = "unusual film: features unlike the training films (distance 18.9; usual up to 18.1)"
REFUSAL = "not a chest X-ray: colour photograph"


def labelled_result(path: Path, probabilities: tuple[float, float, float] = (0.62, 0.2, 0.18),
                    *, caution: str | None = CAUTION) -> ImageResult:
    """A labelled result (COVID-19 by default) with a caution."""
    return ImageResult(path, MODEL_ID, probabilities=dict(zip(CLASSES, probabilities,
                                                              strict=True)),
                       decision=decide(probabilities, CLASSES, DECISION),
                       ood=OodVerdict(False, None, caution=caution))


def refused_result(path: Path) -> ImageResult:
    """A film the gate refused to label."""
    return ImageResult(path, MODEL_ID, probabilities=dict(zip(CLASSES, (0.3, 0.4, 0.3),
                                                              strict=True)),
                       ood=OodVerdict(True, REFUSAL))


def with_heatmaps(result: ImageResult, image: LoadedImage) -> ImageResult:
    """The result with heat maps hot in the film's upper left corner only (for every class)."""
    width, height = image.original_size
    cams = np.zeros((4, 4, len(CLASSES)), dtype=np.float32)
    cams[0, 0, :] = 1.0
    prepared = PreprocessedImage(np.zeros((32, 32), np.float32), (0, 0, 32, 32),
                                 (0, 0, width, height))
    return replace(result, cams=cams, prepared=prepared)


def facts(site_calibration: str | None = None) -> AlgorithmFacts:
    """The algorithm facts of the test model at its top-level thresholds."""
    from desktop_app.core.node.result_identity import device_uid

    return AlgorithmFacts(MODEL_ID, "1.2", "0.1.0", device_uid(MODEL_ID),
                          dict(DECISION["thresholds"]), None, site_calibration)
