"""Measure LungLens start-up as a user sees it: window visible, model ready, first result.

Each run launches ``python -m desktop_app`` in a fresh process with ``LUNGLENS_STARTUP_PROBE=1``;
the app prints wall-clock times of its first show, of the model being loaded and of the first
result shown, then quits. Times are measured from just before the process is started, so they
include the interpreter, imports and Qt initialisation.

Usage::

    python benchmarks/startup.py [--runs 5] [--model DIR] [--image PATH]

Without ``--image`` a generated radiograph-like PNG is used (no patient data). Without
``--model`` the installed/bundled model is used (``$LUNGLENS_MODEL_DIR`` also works). Without a
``DISPLAY`` the Qt "offscreen" platform is used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"window_shown": 1.0, "first_result": 1.5}


def _probe(args: list[str], env: dict[str, str]) -> dict[str, float]:
    start = time.time()
    result = subprocess.run([sys.executable, "-m", "desktop_app", *args], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    line = next((x for x in result.stderr.splitlines() if x.startswith("LUNGLENS_STARTUP")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"probe failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    fields = dict(item.split("=", 1) for item in line.split()[1:])
    return {name: float(value) - start for name, value in fields.items()}


def _row(name: str, values: list[float]) -> str:
    target = TARGETS.get(name)
    verdict = ""
    if target is not None:
        verdict = "ok" if statistics.median(values) <= target else "SLOW"
    target_text = f"<= {target:.1f} s" if target is not None else ""
    return (f"{name:<28}{min(values):>8.3f}{statistics.median(values):>9.3f}"
            f"{max(values):>8.3f}   {target_text:<9} {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario (default 5)")
    parser.add_argument("--model", help="model bundle folder (default: the installed model)")
    parser.add_argument("--image", help="image for the 'first result' scenario")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lunglens-bench-") as temp:
        image = options.image
        if image is None:
            import numpy as np
            from PIL import Image

            sys.path.insert(0, str(REPO_ROOT))
            from desktop_app.core.classify.synthetic import synthetic_radiograph

            image = str(Path(temp) / "radiograph.png")
            Image.fromarray(synthetic_radiograph((1024, 1024)).astype(np.uint8)).save(image)
        env = {**os.environ, "LUNGLENS_STARTUP_PROBE": "1",
               "XDG_CONFIG_HOME": str(Path(temp) / "config")}
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            env.setdefault("QT_QPA_PLATFORM", "offscreen")
        model_args = ["--model", options.model] if options.model else []

        _probe([*model_args], env)  # warm the file cache once; not counted
        empty: dict[str, list[float]] = {}
        with_image: dict[str, list[float]] = {}
        for _ in range(options.runs):
            for name, value in _probe([*model_args], env).items():
                empty.setdefault(name, []).append(value)
            for name, value in _probe([*model_args, image], env).items():
                with_image.setdefault(name, []).append(value)

    platform = env.get("QT_QPA_PLATFORM") or "default (display)"
    print(f"LungLens start-up, {options.runs} runs per scenario, Qt platform: {platform}, "
          f"{os.cpu_count()} CPU(s)")
    source = options.image or "generated 1024x1024 PNG"
    print(f"model: {options.model or 'installed/bundled'}; image: {source}")
    print(f"{'seconds after launch':<28}{'min':>8}{'median':>9}{'max':>8}   target")
    print("-- no file on the command line")
    for name in ("window_shown", "model_loaded"):
        print(_row(name, empty[name]))
    print("-- one image on the command line")
    for name in ("window_shown", "model_loaded", "first_result"):
        print(_row(name, with_image[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
