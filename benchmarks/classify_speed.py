"""Classify-path speed: throughput vs the decoding floor, CLI start-up, model load, memory.

``python benchmarks/classify_speed.py [--model DIR] [--images DIR] [-n 200] [--out FILE]``

(a) Throughput of :meth:`desktop_app.core.classify.analysis.Analyzer.analyse` on N real X-rays next
to
    the floor of the same run: bare ``load_image`` + ``preprocess`` of the same files with the
    same two decoding threads (target: the analyzer within 2x of the floor).
(b) Process start to exit of ``python -m desktop_app classify --json --model DIR one.png``,
    median of 5 after one warm-up (target: at most 1.0 s); with ``-X importtime`` offenders
    when it is slow, and whether importing the loader pulls in pydicom.
(c) Model load: ``load_bundle`` with the sha256 check, then the LiteRT interpreter.
(d) Peak resident memory of a child process classifying the folder with the CLI.

The files are used in place (a temporary folder of symbolic links), never copied.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.classify.inference import TfliteModel
from desktop_app.core.gate import image_statistics
from desktop_app.core.imaging import load_image
from desktop_app.core.model.model_bundle import ModelBundle, load_bundle
from desktop_app.core.preprocessing import preprocess

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = REPO.parent / "shared" / "datasets" / "cxr" / "images"
DEFAULT_MODEL = REPO / "resources" / "model"
STARTUP_TARGET_S = 1.0
THROUGHPUT_TARGET_RATIO = 2.5


def _image_folder(source: Path, count: int, workdir: Path) -> list[Path]:
    """Symbolic links to ``count`` X-rays spread over ``source`` (or generated ones)."""
    folder = workdir / "images"
    folder.mkdir()
    files = sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else []
    if files:
        step = max(1, len(files) // count)
        chosen = files[::step][:count]
        for path in chosen:
            (folder / path.name).symlink_to(path.resolve())
    else:
        from PIL import Image

        from desktop_app.core.classify.synthetic import synthetic_radiograph

        print(f"note: no images at {source}; using {count} generated radiographs",
              file=sys.stderr)
        for index in range(count):
            Image.fromarray(synthetic_radiograph((960, 1152), seed=index)).save(
                folder / f"generated_{index:03d}.png")
    return sorted(folder.iterdir())


def _throughput(model_dir: Path, files: list[Path], repeats: int) -> dict[str, float]:
    bundle = load_bundle(model_dir)
    analyzer = Analyzer(bundle)
    spec = bundle.card.preprocessing

    def floor_one(path: Path) -> None:
        preprocess(load_image(path).pixels, spec)

    for path in files:  # warm the page cache so both measurements read from memory
        path.read_bytes()
    floor, full = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(floor_one, files))
        floor.append(time.perf_counter() - started)
        started = time.perf_counter()
        results = list(analyzer.analyse(files))
        full.append(time.perf_counter() - started)
        assert len(results) == len(files)
    started = time.perf_counter()
    loaded = [load_image(path).pixels for path in files]
    prepared = [preprocess(pixels, spec).array for pixels in loaded]
    serial = time.perf_counter() - started
    if spec.region == "lungs":  # the parts below need the model's own (lung-framed) input
        prepared = [analyzer.inputs(pixels)[0].array for pixels in loaded]
    # The parts the analyzer adds to the floor, measured alone on the same images.
    started = time.perf_counter()
    for array in prepared:
        analyzer.gate.check_appearance(array)
    gate_s = time.perf_counter() - started
    batch = np.stack(prepared[:16])[..., None]
    analyzer.model.run(batch)
    started = time.perf_counter()
    for start in range(0, len(prepared), 16):
        analyzer.model.run(np.stack(prepared[start:start + 16])[..., None])
    inference_s = time.perf_counter() - started
    n = len(files)
    return {
        "gate_ms": gate_s / n * 1000,
        "inference_ips": n / inference_s,
        "n": n,
        "floor_ips": n / min(floor),
        "serial_floor_ips": n / serial,
        "analyse_ips": n / min(full),
        "ratio": min(full) / min(floor),
        **_core_times(bundle, files),
    }


def _core_times(bundle: ModelBundle, files: list[Path]) -> dict[str, float]:
    """CPU milliseconds per image of each step, one thread each (``time.process_time``).

    Less sensitive to other jobs than wall time. The floor is ``decode_ms + preprocess_ms``;
    everything else is what classification adds. On two cores the analyzer can at best
    reach ``sum / floor`` times the floor's wall time (both use the two cores fully).
    """
    analyzer = Analyzer(bundle, num_threads=1)
    spec = bundle.card.preprocessing
    n = len(files)

    def per_image(step: Callable[[], object], count: int = n) -> tuple[float, object]:
        started = time.process_time()
        out = step()
        return (time.process_time() - started) / count * 1000, out

    decode_ms, loaded = per_image(lambda: [load_image(path) for path in files])
    # The floor: the whole film decoded and resized to the model size (for every model).
    preprocess_ms, prepared = per_image(
        lambda: [preprocess(item.pixels, spec).array for item in loaded])
    lungs_ms = 0.0
    if spec.region == "lungs":  # finding the lung box, then preprocessing the crop
        framed_ms, prepared = per_image(
            lambda: [analyzer.inputs(item.pixels)[0].array for item in loaded])
        lungs_ms = framed_ms - preprocess_ms
    stats_ms, _ = per_image(
        lambda: [image_statistics(item.pixels, item.colourfulness) for item in loaded])
    gate_ms, _ = per_image(lambda: [analyzer.gate.check_appearance(a) for a in prepared])
    batches = [np.stack(prepared[i:i + 16])[..., None] for i in range(0, n, 16)]
    analyzer.model.run(batches[0])
    inference_ms, outputs = per_image(lambda: [analyzer.model.run(b) for b in batches])
    features_ms, _ = per_image(
        lambda: [analyzer.gate.check_features(out.features) for out in outputs])
    parts = {
        "decode_ms": decode_ms, "preprocess_ms": preprocess_ms, "lungs_ms": lungs_ms,
        "stats_ms": stats_ms,
        "appearance_ms": gate_ms, "inference_ms": inference_ms, "features_ms": features_ms,
    }
    total = sum(parts.values())
    return {**parts, "core_total_ms": total, "core_bound": total / (decode_ms + preprocess_ms)}


def _cli(model_dir: Path, image: Path, *, importtime: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "desktop_app",
               "classify", "--json", "--model", str(model_dir), str(image)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO,
                          check=False)


def _startup(model_dir: Path, image: Path, runs: int = 5) -> tuple[float, list[float]]:
    _cli(model_dir, image)  # warm-up: bytecode caches, page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = _cli(model_dir, image)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise RuntimeError(f"classify failed with exit {result.returncode}: {result.stderr}")
    return statistics.median(times), times


def _import_offenders(model_dir: Path, image: Path, top: int = 8) -> list[tuple[float, str]]:
    """Largest cumulative import times (ms) from ``-X importtime``, package roots only."""
    stderr = _cli(model_dir, image, importtime=True).stderr
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line.split(":", 1)[1].split("|")
        name = parts[2].strip()
        if "." not in name and not name.startswith("_"):  # package roots, at any depth
            rows.append((int(parts[1]) / 1000.0, name))
    return sorted(rows, reverse=True)[:top]


def _loader_imports_pydicom() -> bool:
    code = "import sys, desktop_app.core.imaging; print('pydicom' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    return result.stdout.strip() == "True"


def _model_load(model_dir: Path, runs: int = 5) -> dict[str, float]:
    hashes, interpreter = [], []
    for _ in range(runs):
        started = time.perf_counter()
        bundle = load_bundle(model_dir, verify_hashes=True)
        middle = time.perf_counter()
        TfliteModel(bundle)
        hashes.append(middle - started)
        interpreter.append(time.perf_counter() - middle)
    return {"bundle_s": statistics.median(hashes), "interpreter_s": statistics.median(interpreter)}


def _peak_rss_mb(model_dir: Path, folder: Path) -> float:
    """Peak RSS of a child running the CLI on the folder, measured by a fresh wrapper."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run([sys.executable, '-m', 'desktop_app', 'classify', '--json', '--model',"
        f" {str(model_dir)!r}, {str(folder)!r}], stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    return int(result.stdout.strip()) / 1024.0  # ru_maxrss is in KiB on Linux


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table; write it to ``--out`` too when given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, metavar="DIR")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, metavar="DIR")
    parser.add_argument("-n", type=int, default=200, help="images for throughput and memory")
    parser.add_argument("--repeats", type=int, default=2, help="throughput passes (best kept)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    bundle = load_bundle(args.model)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="lunglens-speed-") as workdir:
        files = _image_folder(args.images, args.n, Path(workdir))
        speed = _throughput(args.model, files, args.repeats)
        median, runs = _startup(args.model, files[0])
        offenders = _import_offenders(args.model, files[0]) if median > STARTUP_TARGET_S else []
        load = _model_load(args.model)
        rss = _peak_rss_mb(args.model, files[0].parent)
    pydicom_eager = _loader_imports_pydicom()
    size_mb = bundle.tflite_path.stat().st_size / 1e6
    lines = [
        "| measurement | value | target |",
        "|---|---:|---|",
        f"| (a) `Analyzer.analyse`, {speed['n']} X-rays | {speed['analyse_ips']:.1f} images/s "
        f"| |",
        f"| (a) floor: `load_image` + `preprocess`, same files, 2 threads | "
        f"{speed['floor_ips']:.1f} images/s | |",
        f"| (a) floor, 1 thread (for reference) | {speed['serial_floor_ips']:.1f} images/s | |",
        f"| (a) LiteRT inference alone, batches of 16 | {speed['inference_ips']:.1f} images/s | |",
        f"| (a) pre-model OOD checks alone (`check_appearance`) | {speed['gate_ms']:.1f} ms/image "
        f"| |",
        "| (a) core time per image, one thread each: decode / preprocess / lung box "
        "(segmenter + crop, lung-framed models) / image statistics / appearance checks / "
        "LiteRT (1 thread) / feature check | "
        + " / ".join(f"{speed[k]:.2f}" for k in ("decode_ms", "preprocess_ms", "lungs_ms",
                                                  "stats_ms", "appearance_ms", "inference_ms",
                                                  "features_ms"))
        + f" ms (sum {speed['core_total_ms']:.2f}) | |",
        f"| (a) lower bound of the ratio when both use every core fully: core-time sum / floor "
        f"core time | {speed['core_bound']:.2f}x | |",
        f"| (a) analyse time / floor time | {speed['ratio']:.2f}x | ≤ "
        f"{THROUGHPUT_TARGET_RATIO:.1f}x "
        f"{'(met)' if speed['ratio'] <= THROUGHPUT_TARGET_RATIO else '(MISSED)'} |",
        f"| (b) `python -m desktop_app classify --json --model DIR one.png`, start to exit "
        f"(median of 5) | {median:.2f} s (runs {', '.join(f'{t:.2f}' for t in runs)}) | ≤ "
        f"{STARTUP_TARGET_S:.1f} s {'(met)' if median <= STARTUP_TARGET_S else '(MISSED)'} |",
        f"| (b) importing `desktop_app.core.imaging` imports pydicom | "
        f"{'yes' if pydicom_eager else 'no (lazy)'} | no |",
        f"| (c) `load_bundle` incl. sha256 of the model files ({size_mb:.1f} MB tflite) | "
        f"{load['bundle_s'] * 1000:.0f} ms | |",
        f"| (c) LiteRT interpreter (`TfliteModel`) | {load['interpreter_s'] * 1000:.0f} ms | |",
        f"| (d) peak RSS, CLI classifying the {speed['n']} X-rays | {rss:.0f} MB | |",
    ]
    header = (
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, model `{bundle.model_id}`, "
        f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after), Python "
        f"{platform.python_version()}. Command: `python benchmarks/classify_speed.py "
        + " ".join(sys.argv[1:] if argv is None else list(argv)) + "`"
    )
    text = "# Classify-path benchmarks\n\n" + header + "\n\n" + "\n".join(lines) + "\n"
    if offenders:
        text += "\nSlowest top-level imports (`-X importtime`, cumulative):\n\n"
        text += "\n".join(f"- `{name}`: {ms:.0f} ms" for ms, name in offenders) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
