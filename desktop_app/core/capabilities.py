"""What this installation of LungLens can do: is the training wizard usable here?

LungLens ships in two variants built from the same ``build.spec``: the *full* build (LiteRT
inference plus TensorFlow/Keras and ``model_training`` for the retraining wizard) and the
*classify-only* build (``LUNGLENS_VARIANT=classify``), which leaves TensorFlow out to be about
a third of the size. The UI asks :func:`training_available` before offering training, so the
classify-only build can say why instead of failing with an ``ImportError`` halfway through.

The check uses :func:`importlib.util.find_spec`, which finds a module without importing it:
importing TensorFlow takes seconds, and this is called while the window is being built.
"""

from __future__ import annotations

import importlib.util
from functools import cache

__all__ = ["FULL_BUILD_HINT", "training_available", "training_unavailable_reason"]

# Shown by the wizard in the classify-only build; docs/packaging.md explains the two variants.
FULL_BUILD_HINT = (
    "Training a model needs the full LungLens build (with TensorFlow); this installation is "
    "the classify-only build. Install the full build, or run from source, to train or "
    "fine-tune models."
)

# The modules training needs; each must be findable (not imported) for training to be offered.
_TRAINING_MODULES = ("tensorflow", "keras", "model_training")


def _missing_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        # find_spec raises ValueError for a module whose __spec__ is None (a broken or
        # half-removed install) and ImportError when a parent package is missing.
        return True


@cache
def training_unavailable_reason() -> str | None:
    """Why training cannot run in this installation, or ``None`` if it can.

    Cached: the answer cannot change while the process runs, and the wizard may ask often.

    Returns:
        A sentence for the user naming the missing modules, or ``None``.
    """
    missing = [name for name in _TRAINING_MODULES if _missing_module(name)]
    if not missing:
        return None
    return f"{FULL_BUILD_HINT} (missing: {', '.join(missing)})"


def training_available() -> bool:
    """True when TensorFlow, Keras and ``model_training`` can be imported here."""
    return training_unavailable_reason() is None
