"""The out-of-distribution gate: refuse to label what is not a frontal chest X-ray.

One module per kind of check (see :mod:`desktop_app.core.gate.gate` for how they combine):

* :mod:`~desktop_app.core.gate.vectors` — image statistics and appearance vectors;
* :mod:`~desktop_app.core.gate.appearance` — the cheap and appearance checks before the model;
* :mod:`~desktop_app.core.gate.features` — the classifier's feature distance;
* :mod:`~desktop_app.core.gate.view` — the shipped view model (frontal / lateral / rotated /
  other);
* :mod:`~desktop_app.core.gate.spec` — the card's ``ood`` section: validation and fitting;
* :mod:`~desktop_app.core.gate.verdict` — the verdict and the two-tier rule (refuse, caution,
  pass) of a check with a refusal limit;
* :mod:`~desktop_app.core.gate.check_set` — the shipped non-chest check set (images the gate
  must refuse), written by :mod:`~model_training.non_chest` in a development
  install.
"""

from __future__ import annotations

from desktop_app.core.gate.check_set import CheckCase, check_set_dir, load_check_set
from desktop_app.core.gate.gate import CAUTION_PREFIX, CAUTION_SUFFIX, Gate, OodGate
from desktop_app.core.gate.spec import (
    REFUSAL_LIMIT_KEYS,
    fit_ood_spec,
    usual_limits,
    validate_ood_spec,
    with_limits,
)
from desktop_app.core.gate.vectors import (
    GLOBAL_NAMES,
    THUMBNAIL_SIZE,
    ImageStatistics,
    appearance_vectors,
    global_vector,
    image_statistics,
    orientation_score,
    texture_vector,
    thumbnail_vector,
)
from desktop_app.core.gate.verdict import OodVerdict, Tier, tier
from desktop_app.core.gate.view import (
    VIEW_CLASSES,
    ViewCheck,
    ViewModel,
    bundled_view_model_dir,
    load_view_model,
    view_input,
)

__all__ = [
    "CAUTION_PREFIX",
    "CAUTION_SUFFIX",
    "GLOBAL_NAMES",
    "REFUSAL_LIMIT_KEYS",
    "THUMBNAIL_SIZE",
    "VIEW_CLASSES",
    "CheckCase",
    "Gate",
    "ImageStatistics",
    "OodGate",
    "OodVerdict",
    "Tier",
    "ViewCheck",
    "ViewModel",
    "appearance_vectors",
    "bundled_view_model_dir",
    "check_set_dir",
    "fit_ood_spec",
    "global_vector",
    "image_statistics",
    "load_check_set",
    "load_view_model",
    "orientation_score",
    "texture_vector",
    "thumbnail_vector",
    "tier",
    "usual_limits",
    "validate_ood_spec",
    "view_input",
    "with_limits",
]
