"""GUI responsiveness while a folder of clinic-size files is analysed: event-loop latency, memory.

``python benchmarks/gui_responsiveness.py CORPUS [--model DIR] [--switch-every 1.0]``

Runs the real :class:`~desktop_app.ui.main_window.MainWindow` (Qt's offscreen platform unless
a display is set) in this process, opens ``CORPUS`` (a folder written by
``benchmarks/clinic_corpus.py``, 500 files for the figures in docs/benchmarks.md) and, until
the batch is done:

* a ``QTimer`` probe fires every 10 ms on the main thread; each late firing is event-loop
  latency (the time the window could not answer a click or repaint). p50 / p99 / max are
  printed (target: p99 <= 100 ms);
* like a user reading the worklist, every ``--switch-every`` seconds the next row is selected
  (its full image is decoded, analysed and shown, with the heat map) and the table scrolls;
  the time from selection to the result in the panel (at once when the batch already
  answered for the row) and to the image being shown are reported;
* resident memory is sampled every 100 ms; the peak (``ru_maxrss``) is printed (target:
  <= 500 MB).

User folders (settings, models, logs) are temporary: nothing of the user's is read or written.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(REPO))

PROBE_MS = 10
TARGET_P99_MS = 100.0
TARGET_RSS_MB = 500.0


def _isolate_user_folders(root: Path) -> None:
    """Point every per-user folder at ``root`` before Qt or the app reads one."""
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        os.environ[variable] = str(root / variable.lower())
    os.environ["LUNGLENS_DATA_DIR"] = str(root / "data")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _children_rss_mb(exclude: set[int] | frozenset[int] = frozenset()) -> float:
    """Resident memory of this process's children (the decoder processes), summed.

    ``exclude``: children that are not LungLens (e.g. a benchmark's own sender).
    """
    total = 0.0
    for task in Path("/proc/self/task").iterdir():
        try:
            pids = (task / "children").read_text(encoding="ascii").split()
        except OSError:
            continue
        for pid in pids:
            if int(pid) in exclude:
                continue
            try:
                pages = int(Path(f"/proc/{pid}/statm").read_text(encoding="ascii").split()[1])
            except (OSError, IndexError, ValueError):
                continue
            total += pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    return total


class EventLoopProbe:
    """A 10 ms ``QTimer`` on the main thread: each late firing is event-loop latency.

    Every tenth firing samples this process's resident memory and its children's, then calls
    ``every_100_ms`` (e.g. to see whether the work is done).
    """

    def __init__(self, every_100_ms: Callable[[], None] | None = None) -> None:
        from PySide6 import QtCore

        self.gaps: list[float] = []
        self.rss: list[float] = [_rss_mb()]
        self.children: list[float] = [0.0]
        #: Child processes left out of ``children`` (not part of the program measured).
        self.exclude_children: set[int] = set()
        self._last = time.perf_counter()
        self._ticks = 0
        self._every_100_ms = every_100_ms
        self._timer = QtCore.QTimer()
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        """Start probing now."""
        self._last = time.perf_counter()
        self._timer.start(PROBE_MS)

    def stop(self) -> None:
        """Stop probing."""
        self._timer.stop()

    def _on_timer_timeout(self) -> None:
        now = time.perf_counter()
        self.gaps.append(max(0.0, (now - self._last) * 1000.0 - PROBE_MS))
        self._last = now
        self._ticks += 1
        if self._ticks % 10 == 0:
            self.rss.append(_rss_mb())
            self.children.append(_children_rss_mb(self.exclude_children))
            if self._every_100_ms is not None:
                self._every_100_ms()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(corpus: Path, model: Path | None, switch_every: float, timeout: float) -> dict[str, float]:
    """Analyse ``corpus`` in the real window; return the measured figures."""
    from PySide6 import QtCore

    from desktop_app.ui.application import create_application

    app = create_application([sys.argv[0]])
    from desktop_app.ui.main_window import MainWindow

    window = MainWindow(model_dir=model)
    window.resize(1400, 900)
    window.show()
    loop = QtCore.QEventLoop()
    state: dict[str, object] = {"finished": False, "shown": {}, "selected": {}}
    window.model_loaded.connect(lambda _active: loop.quit())
    window.model_failed.connect(lambda message: sys.exit(f"error: model: {message}"))
    QtCore.QTimer.singleShot(int(timeout * 1000), loop.quit)
    if window.active_model is None:
        loop.exec()
    if window.active_model is None:
        raise SystemExit("error: the model did not load")

    probe = EventLoopProbe()

    selected: dict[int, float] = {}
    shown: list[float] = []
    answered: list[float] = []  # selection to the result in the panel
    waiting_answer: dict[int, float] = {}

    shown_at: dict[int, float] = {}

    def on_switch() -> None:
        asked = time.perf_counter()
        window.select_next()
        key = window.table.current_key()
        if key < 0:
            return
        panel_result = window.panel.result
        if panel_result is not None and panel_result.path == window.table_model.record(key).path:
            answered.append(time.perf_counter() - asked)  # the batch's result, shown at once
        else:
            waiting_answer[key] = asked
        if shown_at.get(key, -1.0) >= asked:  # shown at once (a cached or refused image)
            shown.append(shown_at[key] - asked)
        else:
            selected[key] = asked
        bar = window.table.verticalScrollBar()
        bar.setValue(min(bar.maximum(), bar.value() + bar.pageStep() // 2))

    def on_image_shown(key: int) -> None:
        shown_at[key] = time.perf_counter()
        asked_for_answer = waiting_answer.pop(key, None)
        if asked_for_answer is not None:
            answered.append(shown_at[key] - asked_for_answer)
        started = selected.pop(key, None)
        if started is not None:
            shown.append(time.perf_counter() - started)

    def on_finished(cancelled: bool) -> None:
        if not window.batch.pending:  # the whole folder was one batch
            state["finished"] = True
            state["cancelled"] = cancelled
            loop.quit()

    window.image_shown.connect(on_image_shown)
    window.analysis_finished.connect(on_finished)
    switcher = QtCore.QTimer()
    switcher.timeout.connect(on_switch)

    rss_start = _rss_mb()
    started = time.perf_counter()
    probe.start()
    switcher.start(int(switch_every * 1000))
    window.open_paths([corpus])
    QtCore.QTimer.singleShot(int(timeout * 1000), loop.quit)
    loop.exec()
    elapsed = time.perf_counter() - started
    probe.stop()
    switcher.stop()
    rows = window.table_model.rowCount()
    window.close()
    app.processEvents()
    if not state["finished"]:
        raise SystemExit(f"error: the batch did not finish within {timeout:.0f} s")
    return {
        "files": rows,
        "seconds": elapsed,
        "p50_ms": statistics.median(probe.gaps),
        "p99_ms": _percentile(probe.gaps, 0.99),
        "max_ms": max(probe.gaps),
        "late_50": sum(1 for g in probe.gaps if g > 50),
        "ticks": len(probe.gaps),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "sampled_rss_mb": max(probe.rss),
        "start_rss_mb": rss_start,
        "children_rss_mb": max(probe.children),
        "switches": len(shown),
        "show_median_s": statistics.median(shown) if shown else float("nan"),
        "show_max_s": max(shown) if shown else float("nan"),
        "answers": len(answered),
        "answer_median_s": statistics.median(answered) if answered else float("nan"),
        "answer_max_s": max(answered) if answered else float("nan"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="folder of images (clinic_corpus.py output)")
    parser.add_argument("--model", type=Path, default=REPO / "resources" / "model")
    parser.add_argument("--switch-every", type=float, default=1.0,
                        help="seconds between simulated row switches (0: none)")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lunglens-gui-bench-") as root:
        _isolate_user_folders(Path(root))
        load_before = os.getloadavg()[0]
        figures = run(args.corpus, args.model, args.switch_every or 1e6, args.timeout)
        load_after = os.getloadavg()[0]
    p99_ok = "met" if figures["p99_ms"] <= TARGET_P99_MS else "MISSED"
    rss_ok = "met" if figures["peak_rss_mb"] <= TARGET_RSS_MB else "MISSED"
    print(f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {platform.machine()}, "
          f"{os.cpu_count()} cores (load average {load_before:.1f} before, {load_after:.1f} "
          f"after), Python {platform.python_version()}, QT_QPA_PLATFORM="
          f"{os.environ.get('QT_QPA_PLATFORM', '(display)')}. Command: `python "
          f"benchmarks/gui_responsiveness.py CORPUS --switch-every {args.switch_every}`\n")
    print("| measurement | value | target |")
    print("|---|---:|---|")
    print(f"| files analysed in the window | {figures['files']} in {figures['seconds']:.0f} s "
          f"({figures['files'] / figures['seconds']:.1f}/s) | |")
    print(f"| event-loop latency p50 / p99 / max ({figures['ticks']} probes of {PROBE_MS} ms) | "
          f"{figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} / {figures['max_ms']:.0f} ms | "
          f"p99 <= {TARGET_P99_MS:.0f} ms ({p99_ok}) |")
    print(f"| probes more than 50 ms late | {figures['late_50']} | |")
    print(f"| peak RSS of the window's process (at the start of the batch: "
          f"{figures['start_rss_mb']:.0f} MB) | {figures['peak_rss_mb']:.0f} MB | "
          f"<= {TARGET_RSS_MB:.0f} MB ({rss_ok}) |")
    print(f"| peak RSS of the decoder processes (sampled, summed) | "
          f"{figures['children_rss_mb']:.0f} MB | |")
    print(f"| row switch to the result in the panel, median / max ({figures['answers']} "
          f"switches) | {figures['answer_median_s']:.3f} / {figures['answer_max_s']:.2f} s | |")
    print(f"| row switch to the image shown (reduced decode first), median / max "
          f"({figures['switches']} switches) | "
          f"{figures['show_median_s']:.2f} / {figures['show_max_s']:.2f} s | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
