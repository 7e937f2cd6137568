"""The layering rules, checked on every test run (napari-style import contracts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_import_contracts_hold() -> None:
    """UI above core; core free of Qt/TensorFlow; training free of Qt (pyproject.toml)."""
    result = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "--no-cache", "."], cwd=REPO_ROOT, capture_output=True,
        text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_import_does_not_load_qt_or_tensorflow() -> None:
    code = (
        "import sys, desktop_app.core.analysis, desktop_app.core.classify_cli, "
        "desktop_app.core.model_store, model_training\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'tensorflow', 'keras', 'PySide6'})\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
