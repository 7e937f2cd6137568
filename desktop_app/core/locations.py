"""Where LungLens finds its bundled resources and keeps the user's data.

One module knows the layout, so the source tree, an editable install and the PyInstaller
bundle (where ``sys._MEIPASS`` is the ``_internal/`` folder of a onedir build) all work.
User data (installed models, settings, logs) lives under platformdirs' per-user folders,
never next to the program: a clinic workstation's program folder is usually read-only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from platformdirs import PlatformDirs

from desktop_app import APP_AUTHOR, APP_NAME

__all__ = [
    "DATA_DIR_ENV",
    "bundled_model_dir",
    "log_dir",
    "resources_dir",
    "user_data_dir",
    "user_models_dir",
]

# Tests and portable installs point this at another folder so nothing touches the real home.
DATA_DIR_ENV = "LUNGLENS_DATA_DIR"


def resources_dir() -> Path:
    """The read-only ``resources/`` folder shipped with the program."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def bundled_model_dir() -> Path:
    """The model bundle shipped with the program (always available as the fallback)."""
    return resources_dir() / "model"


def _dirs() -> PlatformDirs:
    return PlatformDirs(APP_NAME, APP_AUTHOR, ensure_exists=False)


def user_data_dir() -> Path:
    """Per-user data folder (``$LUNGLENS_DATA_DIR`` when set)."""
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(_dirs().user_data_dir)


def user_models_dir() -> Path:
    """Where retrained models are installed."""
    return user_data_dir() / "models"


def log_dir() -> Path:
    """Per-user log folder."""
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) / "logs" if override else Path(_dirs().user_log_dir)
