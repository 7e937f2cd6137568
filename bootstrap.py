#!/usr/bin/env python3
"""Set up LungLens in a local virtual environment, then run the app or the tests.

Usage (any OS with Python 3.11+; nothing else needed):

    python3 bootstrap.py app [FILES...]     # set up, then open LungLens on the bundled model
    python3 bootstrap.py test [PYTEST ARGS]  # set up (with dev tools), then run the test suite
    python3 bootstrap.py shell CMD...        # run CMD inside the environment

The environment lives in ``.venv`` next to this file and is (re)installed only when
``pyproject.toml`` changed since the last setup, so the second run starts at once.
Standard library only: this script runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".lunglens-setup-stamp"


def _python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def _setup(extras: str) -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may run on an old Python
        sys.exit(f"LungLens needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    python = _python()
    if not python.exists():
        print(f"Creating virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, upgrade_deps=False).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print(f"Installing LungLens and its dependencies ({extras or 'app'}) ...", flush=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                       check=True)
        target = f".[{extras}]" if extras else "."
        subprocess.run([python, "-m", "pip", "install", "--quiet", "-e", target], cwd=ROOT,
                       check=True)
        STAMP.write_text(wanted)
    return python


def main(argv: list[str]) -> int:
    """Dispatch ``app``, ``test`` or ``shell``; return the exit status."""
    if not argv or argv[0] not in {"app", "test", "shell"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    # One environment for everything (app, tests, PyInstaller build test): switching between
    # extras would reinstall on every alternate command.
    python = _setup("dev,build")
    env = dict(os.environ)
    if command == "app":
        return subprocess.call([python, "-m", "desktop_app", *rest], cwd=ROOT, env=env)
    if command == "test":
        return subprocess.call([python, "-m", "pytest", *rest], cwd=ROOT, env=env)
    bin_dir = python.parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.call(rest, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
