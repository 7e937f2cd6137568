"""The field's own validators (dicom3tools' dciodvfy, dcmtk's dsrdump), run on written files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {package}; .ci/run installs it)")
    return path


def dciodvfy_errors(path: Path) -> list[str]:
    """dciodvfy's error lines for a DICOM file (warnings are not errors)."""
    run = subprocess.run([_tool("dciodvfy", "dicom3tools"), str(path)], capture_output=True,
                         text=True, timeout=60, check=False)
    return [line for line in (run.stdout + run.stderr).splitlines()
            if line.startswith("Error")]


def dsrdump(path: Path) -> str:
    """dsrdump's rendering of a Structured Report's tree (fails the test on its errors)."""
    run = subprocess.run([_tool("dsrdump", "dcmtk"), "+Pc", str(path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout
