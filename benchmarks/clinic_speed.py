"""Classify speed on clinic-size files against the naive full-decoding floor, per codec.

``python benchmarks/clinic_speed.py CORPUS [--model DIR] [-n 140] [--small 200] [--repeats 1]``

``CORPUS`` is a folder written by ``benchmarks/clinic_corpus.py``. For each codec (and for
the whole sample, mixed as in the corpus) the table gives:

* **classify**: wall time of :meth:`Analyzer.analyse` (reduced-resolution decoding, the
  gate, LiteRT, decisions), model already loaded;
* **naive floor**: every file fully decoded (Pillow, or pydicom's ``pixel_array``) and
  resized to the model input size, the files spread over 2 processes — what any program
  that decodes the whole image must at least spend;
* **ratio** classify / floor (targets: JPEG-family codecs <= 0.5x, whole corpus <= 0.8x).

It also runs ``benchmarks/classify_speed.py``'s measurement on the dataset's small files:
``Analyzer.analyse`` against the decode floor of docs/benchmarks.md (``load_image`` +
``preprocess``, 2 threads; target <= 2.5x). Both figures of a ratio come from one run, so
they share the machine's load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.classify_speed import DEFAULT_IMAGES, DEFAULT_MODEL, _image_folder, _throughput
from benchmarks.clinic_corpus import MIX, counts_for, read_manifest
from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.model.model_bundle import load_bundle

JPEG_FAMILY = ("jpeg", "dicom_jpeg_baseline", "dicom_j2k_lossless")
TARGET_JPEG_FAMILY = 0.5
TARGET_WHOLE = 0.8
TARGET_SMALL = 2.5
_MODEL_SIDE = 192  # set in each floor process by _init_floor


def _init_floor(side: int) -> None:
    global _MODEL_SIDE
    _MODEL_SIDE = side
    import pydicom  # noqa: F401  (imported before timing, as a warm program would have)
    from PIL import Image

    Image.init()


def naive_floor_one(path: str) -> tuple[int, int]:
    """Fully decode ``path`` (pydicom ``pixel_array`` or Pillow) and resize to the model size."""
    from PIL import Image

    with open(path, "rb") as handle:
        is_dicom = handle.read(132)[128:132] == b"DICM"
    if is_dicom:
        import pydicom

        values = pydicom.dcmread(path).pixel_array
        image = Image.fromarray(values if values.dtype == np.uint8
                                else values.astype(np.float32))
    else:
        image = Image.open(path)
        image.load()
    width, height = image.size
    scale = _MODEL_SIDE / max(width, height)
    small = image.resize((max(1, round(width * scale)), max(1, round(height * scale))),
                         Image.Resampling.BILINEAR)
    return small.size


def _timed_floor(pool: multiprocessing.pool.Pool, files: list[Path]) -> float:
    started = time.perf_counter()
    pool.map(naive_floor_one, [str(p) for p in files], chunksize=1)
    return time.perf_counter() - started


def _timed_classify(analyzer: Analyzer, files: list[Path]) -> tuple[float, int]:
    started = time.perf_counter()
    results = list(analyzer.analyse(files))
    elapsed = time.perf_counter() - started
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"error: {failed[0].path}: {failed[0].error}")
    return elapsed, sum(1 for r in results if r.out_of_distribution)


def _sample(corpus: dict[str, list[Path]], total: int) -> dict[str, list[Path]]:
    wanted = counts_for(total)
    return {codec: corpus.get(codec, [])[:count] for codec, count in wanted.items()
            if corpus.get(codec)}


def measure(corpus: Path, model_dir: Path, total: int, repeats: int,
            processes: bool = False) -> list[dict[str, object]]:
    """Rows ``{name, files, classify_s, floor_s, ratio, ood}``: per codec, then the whole."""
    bundle = load_bundle(model_dir)
    analyzer = Analyzer(bundle)
    if processes:  # as the GUI decodes (and the CLI for folders): in 2 worker processes
        from desktop_app.core.imaging.process_decoder import ProcessDecoder

        analyzer.decode = ProcessDecoder(2)
        analyzer.decode.warm_up()
    side = bundle.card.preprocessing.input_size
    sample = _sample(read_manifest(corpus), total)
    everything = [p for paths in sample.values() for p in paths]
    for path in everything:  # page cache warm for both sides
        path.read_bytes()
    analyzer.analyse_one(everything[0], keep_loaded=False)  # warm LiteRT and the imports
    rows = []
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2, initializer=_init_floor, initargs=(side,)) as pool:
        pool.map(naive_floor_one, [str(everything[0])] * 2)  # warm both workers
        groups = [*sample.items(), ("whole corpus (mixed)", everything)]
        for name, files in groups:
            floors, classifies, ood = [], [], 0
            for _ in range(repeats):
                floors.append(_timed_floor(pool, files))
                seconds, ood = _timed_classify(analyzer, files)
                classifies.append(seconds)
            rows.append({
                "name": name, "files": len(files), "classify_s": min(classifies),
                "floor_s": min(floors), "ratio": min(classifies) / min(floors), "ood": ood,
            })
            print(f"{name}: {rows[-1]['ratio']:.2f}x", file=sys.stderr)
    return rows


def equivalence(corpus: Path, model_dir: Path, total: int) -> dict[str, float]:
    """Reduced against full decoding on the same sample: labels, OOD verdicts, max |dp|."""
    analyzer = Analyzer(load_bundle(model_dir))
    files = [p for paths in _sample(read_manifest(corpus), total).values() for p in paths]
    reduced = list(analyzer.analyse(files))
    analyzer.min_side = None  # every file decoded at full resolution
    full = list(analyzer.analyse(files))
    pairs = [(r, f) for r, f in zip(reduced, full, strict=True) if r.ok and f.ok]
    return {
        "n": len(files),
        "same_label": sum(r.label == f.label for r, f in pairs),
        "same_ood": sum(r.out_of_distribution == f.out_of_distribution for r, f in pairs),
        "max_dp": max(abs(r.probabilities[k] - f.probabilities[k])
                      for r, f in pairs for k in r.probabilities),
    }


def _target(name: str) -> str:
    if name in JPEG_FAMILY:
        return f"<= {TARGET_JPEG_FAMILY}x"
    if name.startswith("whole"):
        return f"<= {TARGET_WHOLE}x"
    return ""


def _verdict(name: str, ratio: float) -> str:
    target = TARGET_JPEG_FAMILY if name in JPEG_FAMILY else (
        TARGET_WHOLE if name.startswith("whole") else None)
    if target is None:
        return ""
    return " (met)" if ratio <= target else " (MISSED)"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="folder written by clinic_corpus.py")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("-n", type=int, default=140,
                        help="clinic files to use, mixed as in the corpus (default 140)")
    parser.add_argument("--small", type=int, default=200,
                        help="dataset files for the small-file row (0 to skip)")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--check-equivalence", action="store_true",
                        help="also classify the sample from full decodes and compare")
    parser.add_argument("--decoder", choices=("threads", "processes"), default="processes",
                        help="decode in the analyzer's threads or in 2 worker processes "
                        "(default, as the GUI and the CLI on folders do)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    started = dt.datetime.now(dt.UTC)
    rows = measure(args.corpus, args.model, args.n, args.repeats,
                   processes=args.decoder == "processes")
    small = None
    if args.small:
        with tempfile.TemporaryDirectory() as workdir:
            files = _image_folder(args.images, args.small, Path(workdir))
            small = _throughput(args.model, files, max(args.repeats, 2))
    load_after = os.getloadavg()[0]
    check = equivalence(args.corpus, args.model, args.n) if args.check_equivalence else None

    print(f"Measured {started:%Y-%m-%d %H:%M} UTC, model `{load_bundle(args.model).card.model_id}`,"
          f" {platform.machine()}, {os.cpu_count()} cores (load average {load_before:.1f} "
          f"before, {load_after:.1f} after), Python {platform.python_version()}. Command: "
          f"`python benchmarks/clinic_speed.py CORPUS -n {args.n} --small {args.small} "
          f"--repeats {args.repeats} --decoder {args.decoder}`\n")
    print("| files | n | classify | naive floor (2 processes) | classify / floor | target |")
    print("|---|---:|---:|---:|---:|---|")
    for row in rows:
        name, n = str(row["name"]), int(row["files"])
        ratio = float(row["ratio"])
        print(f"| {name} | {n} | {row['classify_s']:.2f} s ({n / row['classify_s']:.1f}/s) | "
              f"{row['floor_s']:.2f} s ({n / row['floor_s']:.1f}/s) | {ratio:.2f}x"
              f"{_verdict(name, ratio)} | {_target(name)} |")
    if small is not None:
        ratio = float(small["ratio"])
        verdict = " (met)" if ratio <= TARGET_SMALL else " (MISSED)"
        print(f"| dataset's small files vs the decode floor (`load_image` + `preprocess`, "
              f"2 threads) | {int(small['n'])} | {small['analyse_ips']:.0f}/s | "
              f"{small['floor_ips']:.0f}/s | {ratio:.2f}x{verdict} | <= {TARGET_SMALL}x |")
    if check is not None:
        print(f"\nReduced vs full decoding on the same {check['n']} files: same label "
              f"{check['same_label']}/{check['n']}, same OOD verdict {check['same_ood']}/"
              f"{check['n']}, largest probability difference {check['max_dp']:.4f}.")
    print("\nCodec mix of the whole-corpus row: "
          + ", ".join(f"{codec} {share:.0%}" for codec, share in MIX.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
