"""LungLens: offline decision support for chest X-rays (Normal / Pneumonia / COVID-19).

The package is layered: ``desktop_app.core`` holds everything that does not need a window
(image loading, preprocessing, LiteRT inference, heat maps, the out-of-distribution gate, the
model store, the CLI), and ``desktop_app.ui`` is the PySide6 application on top of it.
TensorFlow lives only in ``model_training`` and is imported lazily when training runs.
"""

from __future__ import annotations

__all__ = ["APP_AUTHOR", "APP_NAME", "DISCLAIMER", "__version__"]

__version__ = "0.1.0"
APP_NAME = "LungLens"
APP_AUTHOR = "LungLens"

# Shown in the UI, the CLI table and every report: the product is decision support only.
DISCLAIMER = (
    "LungLens is decision support, not a diagnosis. Probabilities come from a model trained on "
    "public research data and must be read by a qualified clinician together with the full "
    "clinical picture."
)
