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
        "import sys, desktop_app.core.classify.analysis, desktop_app.core.cli.classify_cli, "
        "desktop_app.core.model.model_store, model_training\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'tensorflow', 'keras', 'PySide6'})\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (TYPE_CHECKING blocks included)."""
    import ast

    package = path.relative_to(REPO_ROOT).parent.parts
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # A relative import counts from the file's own package.
            base = package[:len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_start_up_imports_the_main_window() -> None:
    # The window's parts take the session and their widgets; one that needs the window to
    # reach another part's state is a sign that state belongs in the session.
    ui = REPO_ROOT / "desktop_app" / "ui"
    importers = sorted(str(path.relative_to(ui)) for path in ui.rglob("*.py")
                       if "desktop_app.ui.main_window" in _imported_modules(path))
    assert importers == ["application.py"]
