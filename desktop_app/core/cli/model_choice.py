"""Which model a command or the window uses: the one rule, written once.

``--model DIR`` if given, else the folder in ``$LUNGLENS_MODEL_DIR`` (handy for testing a
bundle), else the model store's active model (which falls back to the previous and then the
bundled model when one is damaged). ``--self-test`` checks the bundled model unless told
otherwise by the same two overrides. Every command (``classify``, ``validate``,
``calibrate``, ``serve``, ``--self-test``) and the window resolve the model here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from desktop_app.core.locations import bundled_model_dir
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.model.model_store import BUNDLED_ID, ActiveModel, ModelStore

__all__ = ["MODEL_DIR_ENV", "model_override", "resolve_model"]

#: Overrides the model store for one run (as ``--model DIR`` does).
MODEL_DIR_ENV = "LUNGLENS_MODEL_DIR"


def model_override(model_dir: Path | str | None) -> Path | None:
    """The model folder asked for: ``model_dir``, else ``$LUNGLENS_MODEL_DIR``, else None."""
    folder = model_dir or os.environ.get(MODEL_DIR_ENV) or None
    return Path(folder) if folder else None


def resolve_model(model_dir: Path | str | None = None, *, store: ModelStore | None = None,
                  fallback: Literal["active", "bundled"] = "active",
                  tidy_store: bool = False) -> ActiveModel:
    """Load the model to use (see the module's rule).

    Args:
        model_dir: ``--model``, if given.
        store: The model store to ask (default: the user's).
        fallback: Without an override, the store's ``"active"`` model or the ``"bundled"`` one.
        tidy_store: Remove what an interrupted install left in the store before asking it.

    Raises:
        ModelBundleError: If the model cannot be loaded.
    """
    folder = model_override(model_dir)
    if folder is not None:
        return ActiveModel("override", load_bundle(folder))
    if fallback == "bundled":
        return ActiveModel(BUNDLED_ID, load_bundle(bundled_model_dir()))
    store = store if store is not None else ModelStore()
    if tidy_store:
        store.cleanup_staging()
    return store.active()
