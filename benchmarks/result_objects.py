"""Where writing a film's results goes: per-film times of each step the result writer takes.

``python benchmarks/result_objects.py [-n 50] [--size 1024]``

For N labelled films (generated DX films of ``--size`` px, cautioned, site-calibrated,
heat maps as the analysis keeps them) the steps of ``ResultWriter.write`` are timed one by
one, in this process, on files in a temporary folder: the SR as highdicom's typed classes
build it (``tests/sr_reference.py``, the build before 2026-12-07) and as it is built now,
the SC, encoding both, and writing both (each file synced and renamed, then the folder: once
per file as before, once for both as now). The steps interleave film by film, so a change in
the machine's load touches all of them alike. Prints medians and 90th percentiles in ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(REPO))

from desktop_app.core.imaging import load_image  # noqa: E402
from desktop_app.core.imaging.film_files import (  # noqa: E402
    write_all_atomically,
    write_atomically,
)
from desktop_app.core.node.result_evidence import evidence_header  # noqa: E402
from desktop_app.core.node.result_identity import result_uids  # noqa: E402
from desktop_app.core.node.result_writer import _encoded  # noqa: E402
from desktop_app.core.node.results_sc import build_secondary_capture  # noqa: E402
from desktop_app.core.node.results_sr import build_structured_report  # noqa: E402
from tests.analysis_results import MODEL_ID, facts, labelled_result, with_heatmaps  # noqa: E402
from tests.dicom_films import chest_film  # noqa: E402
from tests.sr_reference import reference_structured_report  # noqa: E402

STEPS = ("SR, highdicom (before)", "SR, now", "SC", "encoding SR + SC",
         "writing both, folder synced per file (before)", "writing both, folder synced once (now)")


def _timed(step: str, times: dict[str, list[float]], work: Callable[..., Any],
           *args: object) -> Any:
    started = time.perf_counter()
    value = work(*args)
    times[step].append((time.perf_counter() - started) * 1000)
    return value


def measure(count: int, side: int, folder: Path) -> dict[str, list[float]]:
    """Time each step for ``count`` films (the first two are warm-up, left out)."""
    algorithm = facts("calibrated for Ward 3 on 2026-12-01 from 400 films")
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    for seed in range(count + 2):
        film = chest_film(seed, size=(side, side * 7 // 8))
        path = folder / f"{seed}.dcm"
        film.save_as(path, enforce_file_format=True)
        header, image = evidence_header(film), load_image(path)
        result = with_heatmaps(labelled_result(path), image)
        uids = result_uids(str(header.SOPInstanceUID), MODEL_ID)
        made = (header, result, algorithm, uids)
        _timed(STEPS[0], times, reference_structured_report, *made)
        sr = _timed(STEPS[1], times, build_structured_report, *made)
        sc = _timed(STEPS[2], times, build_secondary_capture, header, result, image,
                    algorithm, uids)
        blobs = _timed(STEPS[3], times, lambda a, b: [_encoded(a), _encoded(b)], sr, sc)
        old = [(folder / "old" / f"{seed}-{kind}.dcm", blob) for kind, blob in enumerate(blobs)]
        _timed(STEPS[4], times, lambda files: [write_atomically(*f) for f in files], old)
        new = [(folder / "new" / f"{seed}-{kind}.dcm", blob) for kind, blob in enumerate(blobs)]
        _timed(STEPS[5], times, write_all_atomically, new)
    return {step: values[2:] for step, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="films")
    parser.add_argument("--size", type=int, default=1024, help="film side in pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lunglens-result-objects-") as temp:
        load = os.getloadavg()[0]
        times = measure(args.n, args.size, Path(temp))
    print(f"{args.n} films of {args.size}x{args.size * 7 // 8} px, load average {load:.1f} "
          f"before, {os.getloadavg()[0]:.1f} after")
    print("| step | median | p90 |")
    print("|---|---|---|")
    for step, values in times.items():
        print(f"| {step} | {np.median(values):.1f} ms | {np.percentile(values, 90):.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
