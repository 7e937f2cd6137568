"""Print the size and start-up figures of a built LungLens folder as a table.

Usage (from the repository root)::

    .venv/bin/python benchmarks/package_size.py dist/LungLens-classify
    .venv/bin/python benchmarks/package_size.py dist/LungLens --archives zip,tar.xz --runs 5
    .venv/bin/python benchmarks/package_size.py --build classify   # build, then measure

Figures: the one-folder size (sum of file sizes, and what ``du`` reports), each compressed
archive's size (made in a temporary folder, then deleted), the biggest parts of ``_internal``,
the wall time of the frozen ``lunglens-cli --self-test``, and the time until the main window
is shown (``LUNGLENS_STARTUP_PROBE=1``: the app prints ``time.time()`` at its first show and
quits; Qt's offscreen platform is used when there is no display). With ``--build`` it also
reports the build time of a clean build (``nice -n 19``, fresh work folder).

Why these: a clinic copies the folder (on-disk size) or downloads an archive (compressed
size), and users judge the app by how long the window takes to appear.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
CLI_NAME = "lunglens-cli"
GUI_NAME = "LungLens"


def folder_bytes(folder: Path) -> int:
    """Sum of regular file sizes (symlinks counted once, as links)."""
    return sum(path.lstat().st_size for path in folder.rglob("*") if not path.is_dir())


def disk_bytes(folder: Path) -> int | None:
    """What ``du`` says (block usage), or None where ``du`` is unavailable."""
    if shutil.which("du") is None:
        return None
    out = subprocess.run(["du", "-sk", str(folder)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) * 1024


def archive_bytes(folder: Path, kind: str, xz_preset: int) -> tuple[int, float]:
    """Compress the folder as ``kind`` (``zip`` or ``tar.xz``); return (bytes, seconds)."""
    with tempfile.TemporaryDirectory(prefix="lunglens-archive-") as tmp:
        target = Path(tmp) / f"{folder.name}.{kind}"
        start = time.perf_counter()
        if kind == "zip":
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
                for path in sorted(folder.rglob("*")):
                    name = str(path.relative_to(folder.parent))
                    if path.is_symlink():
                        # Stored as a link (like `zip -y`), not as a second copy of the target:
                        # lunglens-cli -> LungLens would otherwise add the whole executable.
                        info = zipfile.ZipInfo(name)
                        info.create_system = 3  # Unix, so the mode bits below are honoured
                        info.external_attr = (stat.S_IFLNK | 0o777) << 16
                        archive.writestr(info, os.readlink(path))
                    elif not path.is_dir():
                        archive.write(path, name)
        elif kind == "tar.xz":
            if shutil.which("tar") and shutil.which("xz"):
                # The same command a release script would run; xz -T0 uses every core.
                env = {**os.environ, "XZ_OPT": f"-{xz_preset} -T0"}
                subprocess.run(["tar", "-cJf", str(target), "-C", str(folder.parent),
                                folder.name], check=True, env=env)
            else:
                with tarfile.open(target, "w:xz", preset=xz_preset) as archive:
                    archive.add(folder, arcname=folder.name)
        else:
            raise ValueError(f"unknown archive kind: {kind!r} (use zip or tar.xz)")
        return target.stat().st_size, time.perf_counter() - start


def largest_parts(folder: Path, count: int) -> list[tuple[str, int]]:
    """The biggest top-level entries of ``_internal`` (where the size comes from)."""
    internal = folder / "_internal"
    if not internal.is_dir():
        return []
    sizes = []
    for entry in internal.iterdir():
        size = folder_bytes(entry) if entry.is_dir() else entry.lstat().st_size
        sizes.append((entry.name, size))
    return sorted(sizes, key=lambda item: -item[1])[:count]


def _executable(folder: Path, name: str) -> Path:
    suffix = ".exe" if sys.platform == "win32" else ""
    return folder / f"{name}{suffix}"


def _frozen_env() -> dict[str, str]:
    env = dict(os.environ)
    if sys.platform.startswith("linux") and not env.get("DISPLAY") \
            and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def self_test_seconds(folder: Path) -> tuple[float, bool]:
    """Wall time of ``lunglens-cli --self-test`` and whether it passed."""
    start = time.perf_counter()
    done = subprocess.run([str(_executable(folder, CLI_NAME)), "--self-test"],
                          capture_output=True, text=True, env=_frozen_env(), timeout=300)
    return time.perf_counter() - start, done.returncode == 0


def window_seconds(folder: Path) -> tuple[float | None, float | None]:
    """Seconds from launch to the window's first show and to the model being loaded.

    Returns ``(None, None)`` when the GUI does not support the startup probe.
    """
    env = {**_frozen_env(), "LUNGLENS_STARTUP_PROBE": "1"}
    launched = time.time()
    done = subprocess.run([str(_executable(folder, GUI_NAME))], capture_output=True, text=True,
                          env=env, timeout=120)
    for line in done.stderr.splitlines():
        if line.startswith("LUNGLENS_STARTUP "):
            stamps = dict(item.split("=", 1) for item in line.split()[1:])
            shown = stamps.get("window_shown")
            loaded = stamps.get("model_loaded")
            return (float(shown) - launched if shown else None,
                    float(loaded) - launched if loaded else None)
    return None, None


def build(variant: str, dist: Path, model_source: Path | None) -> float:
    """Build ``variant`` into ``dist`` from a fresh work folder; return the wall seconds."""
    env = {**os.environ, "LUNGLENS_VARIANT": variant}
    if model_source is not None:
        env["LUNGLENS_MODEL_SOURCE"] = str(model_source)
    pyinstaller = Path(sys.executable).with_name("pyinstaller")
    command = [str(pyinstaller), "--noconfirm", "--clean", "--distpath", str(dist)]
    if shutil.which("nice"):
        command = ["nice", "-n", "19", *command]
    with tempfile.TemporaryDirectory(prefix="lunglens-work-") as work:
        start = time.perf_counter()
        subprocess.run([*command, "--workpath", work, str(REPO_ROOT / "build.spec")],
                       check=True, env=env, cwd=REPO_ROOT)
        return time.perf_counter() - start


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path,
                        help="a built one-folder app, e.g. dist/LungLens-classify")
    parser.add_argument("--build", choices=["full", "classify"],
                        help="build this variant first (into --dist) and time the build")
    parser.add_argument("--dist", type=Path, default=REPO_ROOT / "dist",
                        help="dist folder for --build (default: dist/)")
    parser.add_argument("--model-source", type=Path, default=None,
                        help="LUNGLENS_MODEL_SOURCE for --build (default: resources/model)")
    parser.add_argument("--archives", default="zip,tar.xz",
                        help="comma-separated archive kinds to measure, or 'none'")
    parser.add_argument("--xz-preset", type=int, default=9, choices=range(10))
    parser.add_argument("--runs", type=int, default=3, help="start-up repetitions")
    parser.add_argument("--top", type=int, default=8, help="largest parts of _internal to list")
    args = parser.parse_args()

    build_seconds = None
    folder = args.folder
    if args.build:
        build_seconds = build(args.build, args.dist, args.model_source)
        name = "LungLens" if args.build == "full" else "LungLens-classify"
        folder = folder or args.dist / name
    if folder is None or not folder.is_dir():
        parser.error(f"not a built LungLens folder: {folder}")

    rows: list[tuple[str, str]] = [("folder", str(folder))]
    if build_seconds is not None:
        rows.append(("build time (clean, nice 19)", _fmt(build_seconds / 60, " min")))
    rows.append(("one-folder size (files)", _fmt(folder_bytes(folder) / MB, " MB")))
    on_disk = disk_bytes(folder)
    rows.append(("one-folder size (du)", _fmt(on_disk / MB if on_disk else None, " MB")))
    kinds = [] if args.archives == "none" else [k.strip() for k in args.archives.split(",")]
    for kind in kinds:
        size, seconds = archive_bytes(folder, kind, args.xz_preset)
        label = f"{kind} archive" + (f" (xz -{args.xz_preset})" if kind == "tar.xz" else "")
        rows.append((label, f"{size / MB:.1f} MB ({seconds:.0f} s to make)"))

    tests = [self_test_seconds(folder) for _ in range(max(1, args.runs))]
    rows.append(("--self-test wall time (first / median)",
                 f"{tests[0][0]:.2f} s / {statistics.median(t for t, _ in tests):.2f} s"
                 f" ({'passed' if all(ok for _, ok in tests) else 'FAILED'})"))
    shows = [window_seconds(folder) for _ in range(max(1, args.runs))]
    shown = [s for s, _ in shows if s is not None]
    loaded = [m for _, m in shows if m is not None]
    rows.append(("window shown after launch (first / median)",
                 f"{shown[0]:.2f} s / {statistics.median(shown):.2f} s" if shown else
                 "n/a (no LUNGLENS_STARTUP_PROBE output)"))
    rows.append(("model loaded after launch (median)",
                 _fmt(statistics.median(loaded) if loaded else None, " s", 2)))
    for name, size in largest_parts(folder, args.top):
        rows.append((f"  _internal/{name}", f"{size / MB:.1f} MB"))

    width = max(len(label) for label, _ in rows)
    print(f"{'figure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0 if all(ok for _, ok in tests) else 1


if __name__ == "__main__":
    sys.exit(main())
