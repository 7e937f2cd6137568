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


def sr_validator_errors(path: Path) -> list[str]:
    """PixelMed DicomSRValidator's error lines (template and IOD) for a Structured Report.

    The JDK's XPath limits stop it silently on TID 1500 unless lifted (shared/STYLE.md).
    """
    import os

    limits = ("-Djdk.xml.xpathExprOpLimit=0 -Djdk.xml.xpathExprGrpLimit=0 "
              "-Djdk.xml.xpathTotalOpLimit=0")
    run = subprocess.run([_tool("DicomSRValidator", "pixelmed-apps"), str(path)],
                         capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "JAVA_TOOL_OPTIONS": limits})
    output = run.stdout + run.stderr
    assert "Root Template Validation Complete" in output, output
    return [line for line in output.splitlines() if line.startswith("Error")]
