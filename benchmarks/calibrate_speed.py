"""``calibrate`` against ``classify`` on the same 500 films (target: at most 1.3x).

``python benchmarks/calibrate_speed.py [--data ../shared/datasets/cxr] [--films 500]
[--rounds 2] [--model resources/model]``

Both commands run end to end as a clinic runs them (``python -m desktop_app classify --json``
over the films' folder; ``python -m desktop_app calibrate --data`` over the labelled folder),
alternately, ``--rounds`` times each; the best wall time of each is compared, because on
these shared machines timings vary 2-4x from hour to hour and only a ratio measured in one
run means anything. Calibration measures every film once through the same classify path,
plus the shipped non-chest check set (219 small images), plus the cross-validation (numbers
only), which is where its extra time goes.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_films(data: Path, count: int, folder: Path) -> Path:
    """A labelled folder with ``count`` adult and child films of every source (linked)."""
    with open(data / "metadata.csv", encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    step = max(1, len(rows) // count)
    chosen = rows[::step][:count]
    images = folder / "images"
    images.mkdir(parents=True)
    for row in chosen:
        os.symlink((data / "images" / row["X_ray_image_name"]).resolve(),
                   images / row["X_ray_image_name"])
    with open(folder / "metadata.csv", "w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return folder


def timed(command: Sequence[str]) -> float:
    """Wall seconds of one run (its output discarded; a failure stops the benchmark)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets" / "cxr")
    parser.add_argument("--films", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", type=Path, default=REPO / "resources" / "model")
    args = parser.parse_args(argv)
    python = sys.executable
    times: dict[str, list[float]] = {"classify": [], "calibrate": []}
    with tempfile.TemporaryDirectory(prefix="lunglens-calibrate-speed-") as work:
        films = write_films(args.data, args.films, Path(work) / "films")
        for round_index in range(args.rounds):
            out = Path(work) / f"out{round_index}"
            times["classify"].append(timed([python, "-m", "desktop_app", "classify", "--json",
                                            "--model", str(args.model), str(films / "images")]))
            times["calibrate"].append(timed([python, "-m", "desktop_app", "calibrate", "--data",
                                             str(films), "--out", str(out), "--model",
                                             str(args.model), "--site", "benchmark"]))
            shutil.rmtree(out, ignore_errors=True)
    best = {name: min(values) for name, values in times.items()}
    print(f"| command ({args.films} films, {os.cpu_count()} cores) | best of {args.rounds} (s) "
          "| all runs (s) |")
    print("|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {best[name]:.1f} | {', '.join(f'{v:.1f}' for v in values)} |")
    ratio = best["calibrate"] / best["classify"]
    print(f"\ncalibrate / classify = {ratio:.2f}x (target <= 1.3x: "
          f"{'met' if ratio <= 1.3 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
