"""Local validation speed: ``validate`` against ``classify`` on the same labelled films.

``python benchmarks/validate_speed.py [--model DIR] [--data DIR] [-n 800] [--repeats 3]``

Both commands run as a user runs them (a fresh ``python -m desktop_app`` process each, start
to exit, page cache warm): ``classify --json`` on the N image files and
``validate --json --data`` on the same N films with their labels (a ``metadata.csv`` of the
chosen rows beside an ``images/`` folder of symbolic links: nothing is copied). The target
is validation within 1.3x of classification: reading labels, hashing the files for the data
fingerprint, 1,000 patient-level bootstrap resamples for every interval and writing the
record must cost little next to classifying. The in-process split of one validation
(classification vs figures) is printed beside it.

Validation records go to a temporary user data folder, never the real one.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "cxr"
DEFAULT_MODEL = REPO / "resources" / "model"
TARGET_RATIO = 1.3


def _labelled_subset(source: Path, count: int, workdir: Path) -> Path:
    """``metadata.csv`` with ``count`` rows spread over ``source`` and linked images."""
    folder = workdir / "labelled"
    (folder / "images").mkdir(parents=True)
    with open(source / "metadata.csv", encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    step = max(1, len(rows) // count)
    chosen = rows[::step][:count]
    with open(folder / "metadata.csv", "w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        writer.writerows(chosen)
    for row in chosen:
        name = row["X_ray_image_name"]
        (folder / "images" / name).symlink_to((source / "images" / name).resolve())
    return folder


def _generated_subset(count: int, workdir: Path) -> Path:
    """A folder per class of generated radiographs (when the real data is absent)."""
    from PIL import Image

    from desktop_app.core.classify.synthetic import synthetic_radiograph

    folder = workdir / "labelled"
    for index in range(count):
        target = folder / ("NORMAL", "PNEUMONIA", "COVID-19")[index % 3]
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(synthetic_radiograph(seed=index)).save(target / f"g{index:04d}.png")
    return folder


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])}... failed ({done.returncode}):\n"
                         f"{done.stderr[-2000:]}")
    return elapsed


def _split(model: Path, data: Path) -> dict[str, float]:
    """In process, each step once: what validation adds to classifying, wall and CPU time.

    Under load the two commands' difference drowns in noise; the added steps timed alone
    (CPU time beside wall time) say what validation costs on top of classifying anywhere.
    """
    from desktop_app.core.classify.analysis import Analyzer
    from desktop_app.core.model.model_bundle import load_bundle
    from desktop_app.core.validation.data_fingerprint import file_sha1
    from desktop_app.core.validation.labelled_data import read_labelled
    from desktop_app.core.validation.validation import ValidatedImage, validation_metrics

    bundle = load_bundle(model)
    analyzer = Analyzer(bundle)
    times: dict[str, float] = {}

    def timed(name: str, work: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        value = work()
        times[f"{name}_s"] = time.perf_counter() - wall
        times[f"{name}_cpu_s"] = time.process_time() - cpu
        return value

    rows = timed("labels", lambda: [r for r in read_labelled(data)
                                    if r.label in bundle.card.classes])
    results = timed("classify", lambda: list(analyzer.analyse([Path(r.path) for r in rows])))
    timed("hashing", lambda: [file_sha1(r.path) for r in rows])
    images = [ValidatedImage(r.path, r.label, r.source, r.age_group, r.patient_id,
                             predicted=result.label,
                             probabilities=dict(result.probabilities or {}),
                             out_of_distribution=result.out_of_distribution,
                             error=result.error, caution=result.caution)
              for r, result in zip(rows, results, strict=True)]
    metrics = timed("figures", lambda: validation_metrics(images, bundle.card.classes,
                                                          bundle.card.decision))
    times["measured"] = metrics["counts"]["measured"]
    times["refused"] = metrics["counts"]["out_of_distribution"]
    return times


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="a dataset folder with metadata.csv and images/")
    parser.add_argument("-n", type=int, default=800, help="films (default 800)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lunglens-validate-bench-") as tmp:
        workdir = Path(tmp)
        if (args.data / "metadata.csv").is_file():
            data = _labelled_subset(args.data, args.n, workdir)
            images = [str(data / "images")]
        else:
            print(f"note: no metadata.csv in {args.data}; using {args.n} generated films",
                  file=sys.stderr)
            data = _generated_subset(args.n, workdir)
            images = [str(data)]
        for path in data.rglob("*"):  # warm the page cache for both commands
            if path.is_file():
                path.read_bytes()
        env = {**os.environ, "LUNGLENS_DATA_DIR": str(workdir / "user-data")}
        python = [sys.executable, "-m", "desktop_app"]
        classify = [*python, "classify", "--json", "--model", str(args.model), *images]
        validate = [*python, "validate", "--json", "--model", str(args.model), "--data",
                    str(data)]
        _timed(classify, env)  # warm-up: imports compiled, model file cached
        classify_s, validate_s = [], []
        for _ in range(args.repeats):
            classify_s.append(_timed(classify, env))
            validate_s.append(_timed(validate, env))
        split = _split(args.model, data)

    c, v = statistics.median(classify_s), statistics.median(validate_s)
    ratio = v / c
    print(f"# validate vs classify, {dt.date.today()}, {platform.node()} "
          f"({os.cpu_count()} CPUs), load {os.getloadavg()[0]:.1f}, model {args.model.name}")
    print(f"# {args.n} films; median of {args.repeats}; process start to exit")
    print()
    print("| command | seconds | films/s |")
    print("|---|---|---|")
    print(f"| `classify --json` ({args.n} files) | {c:.2f} | {args.n / c:.0f} |")
    print(f"| `validate --json` (the same films, labelled; 1,000 bootstrap resamples) "
          f"| {v:.2f} | {args.n / v:.0f} |")
    print(f"| ratio validate / classify | {ratio:.2f}x | target <= {TARGET_RATIO}x — "
          f"{'met' if ratio <= TARGET_RATIO else 'missed'} |")
    print()
    added = split["labels_s"] + split["hashing_s"] + split["figures_s"]
    print(f"In process, each step once ({split['measured']:.0f} films measured, "
          f"{split['refused']:.0f} refused by the gate):")
    print()
    print("| step | wall s | CPU s |")
    print("|---|---|---|")
    for name, label in (("classify", "classify (both commands)"),
                        ("labels", "read the labels (validate only)"),
                        ("hashing", "hash the files for the fingerprint (validate only)"),
                        ("figures", "figures with 1,000-resample intervals (validate only)")):
        print(f"| {label} | {split[name + '_s']:.2f} | {split[name + '_cpu_s']:.2f} |")
    print(f"| added by validation | {added:.2f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
