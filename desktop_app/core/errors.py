"""Exceptions the core raises, each carrying a message fit to show a clinician."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ImageLoadError", "LungLensError", "ModelBundleError"]


class LungLensError(Exception):
    """Base class for expected, user-facing failures (never a bug)."""


class ImageLoadError(LungLensError):
    """An image file could not be read or was refused.

    Attributes:
        path: The file that failed.
        reason: What is wrong with it, in plain words (quoting the bad value).
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelBundleError(LungLensError):
    """A model bundle folder is missing, incomplete, corrupted or inconsistent.

    Attributes:
        path: The bundle folder (or file inside it) at fault.
        reason: What is wrong with it.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"model at {self.path}: {reason}")
