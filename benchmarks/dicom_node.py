"""The DICOM node's targets: films pushed and analysed once, none lost to SIGKILL, throughput.

``python benchmarks/dicom_node.py [--model DIR] [-n 500] [--size 1024] [--kill-films 100]``

Everything runs as a user runs it: ``python -m desktop_app serve`` in its own process (on a
temporary data folder, loopback, any free port) and pynetdicom's SCU as the modality, sending
the films from files.

* **load**: N generated DX films (12-bit, ``--size`` px, Explicit VR Little Endian) pushed
  over 4 simultaneous associations; counted: C-STORE answers with success, rows, results
  committed per film (target: N of N, each exactly once). The time from the first push to
  the last result gives the node's throughput; the server's resident memory is sampled
  every 100 ms (``/proc``; target: <= 500 MB).
* **classify**: ``python -m desktop_app classify --json`` on the same N files, start to
  exit; the node's throughput over classify's (target: >= 0.7x).
* **fault**: ``--kill-films`` films pushed; the server is killed with SIGKILL after half of
  them are acknowledged, restarted, and the sender pushes all of them again; counted:
  acknowledged films missing from the worklist and films answered more than once
  (target: 0 and 0).
* **GUI**: the real window (offscreen unless a display is set) in a child process receives
  the N films through File › Receive Films… from a pushing process; a 10 ms ``QTimer``
  probe measures event-loop latency until every row is answered (target: p99 <= 100 ms) and
  the window process's resident memory is sampled (target: <= 500 MB; its child processes,
  the node it runs and the decoders, are reported beside it).

Prints one table. Nothing of the user's is read or written.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(REPO))

from benchmarks.gui_responsiveness import (  # noqa: E402
    EventLoopProbe,
    _isolate_user_folders,
    _percentile,
)
from desktop_app.core.node.dicom_receiver import STATUS_SUCCESS, listening_address  # noqa: E402
from desktop_app.core.node.worklist_store import WorklistStore  # noqa: E402
from tests.dicom_films import (  # noqa: E402
    chest_film,
    push,
    push_concurrently,
    push_until_killed,
)

DEFAULT_MODEL = REPO / "resources" / "model"


def _process_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class _Serve:
    """A ``serve`` process; ``peak_rss_mb`` is sampled while it runs."""

    def __init__(self, data: Path, model: Path, env: dict[str, str]) -> None:
        self.log = data.parent / f"serve-{time.monotonic_ns()}.log"
        self._stream = open(self.log, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop
        self.process = subprocess.Popen(
            [sys.executable, "-m", "desktop_app", "serve", "--port", "0", "--data-dir",
             str(data), "--model", str(model), "--poll", "0.2"],
            cwd=REPO, env=env, stdout=self._stream, stderr=subprocess.STDOUT)
        while (address := listening_address(self.log.read_text())) is None:
            if self.process.poll() is not None:
                raise SystemExit(f"serve did not start:\n{self.log.read_text()}")
            time.sleep(0.1)
        self.address = address
        self.peak_rss_mb = 0.0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while self._sampling:
            self.peak_rss_mb = max(self.peak_rss_mb, _process_rss_mb(self.process.pid))
            time.sleep(0.1)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self._sampling = False
        self.process.send_signal(signum)
        code = self.process.wait(120)
        self._stream.close()
        return code


def _wait_answered(data: Path, count: int) -> None:
    while True:
        with WorklistStore.in_folder(data) as store:
            counts = store.counts()
        if counts["queued"] == 0 and counts["analysed"] + counts["failed"] >= count:
            return
        time.sleep(0.1)


def _rows(data: Path) -> dict[str, int]:
    with WorklistStore.in_folder(data) as store:
        return {row.sop_instance_uid: row.analyses for row in store.films()}


def _load(films: list[Path], model: Path, work: Path, env: dict[str, str]) -> dict[str, float]:
    data = work / "load"
    server = _Serve(data, model, env)
    started = time.perf_counter()
    cpu = time.process_time()
    statuses = push_concurrently(server.address, films, associations=4)
    sender_cpu = time.process_time() - cpu
    _wait_answered(data, len(films))
    elapsed = time.perf_counter() - started
    server.stop()
    analyses = _rows(data)
    return {"acknowledged": sum(s == STATUS_SUCCESS for s in statuses.values()),
            "rows": len(analyses), "once": sum(n == 1 for n in analyses.values()),
            "seconds": elapsed, "rss": server.peak_rss_mb, "sender_cpu": sender_cpu}


def _classify(folder: Path, model: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "desktop_app", "classify", "--json", "--model",
                    str(model), str(folder)], cwd=REPO, env=env, capture_output=True,
                   check=True)
    return time.perf_counter() - started


def _fault(films: list[Path], model: Path, work: Path, env: dict[str, str]) -> dict[str, int]:
    data = work / "fault"
    server = _Serve(data, model, env)
    statuses: dict[str, int] = {}

    pusher = threading.Thread(target=push_until_killed, args=(server.address, films, statuses))
    pusher.start()
    while len(statuses) < len(films) // 2:
        time.sleep(0.005)
    server.stop(signal.SIGKILL)
    pusher.join()
    acknowledged = {uid for uid, status in statuses.items() if status == STATUS_SUCCESS}
    restarted = _Serve(data, model, env)
    push(restarted.address, films)
    _wait_answered(data, len(films))
    restarted.stop()
    analyses = _rows(data)
    return {"acknowledged": len(acknowledged),
            "lost": len(acknowledged - set(analyses)),
            "twice": sum(n > 1 for n in analyses.values())}


def _gui_run(folder: Path, model: Path, timeout: float) -> dict[str, float]:
    """In this (child) process: the window receives every film of ``folder``; measure it."""
    from PySide6 import QtCore

    from desktop_app.ui.application import create_application

    app = create_application([sys.argv[0]])
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.results_table import Status

    count = len(list(folder.glob("*.dcm")))
    window = MainWindow(model_dir=model)
    window.resize(1400, 900)
    window.show()
    loop = QtCore.QEventLoop()

    def wait(condition: object, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)

    wait(lambda: window.active_model is not None, 120)
    window.receiver.start({"host": "127.0.0.1", "port": 0, "ae_title": "LUNGLENS",
                           "allowed_aes": [], "watch": ""})
    wait(lambda: window.receiver.indicator.text().startswith("Listening on"), 60)
    if not window.receiver.indicator.text().startswith("Listening on"):
        raise SystemExit(f"error: the receiver did not start: {window.banner.text()}")
    host, port = window.receiver.indicator.text().split()[2].split(":")
    pusher = subprocess.Popen([sys.executable, __file__, "--push", host, port, str(folder)],
                              cwd=REPO)
    probe = EventLoopProbe(
        lambda: loop.quit() if window.table_model.count(Status.DONE) >= count else None)
    probe.exclude_children.add(pusher.pid)  # the modality is not LungLens's memory
    started = time.perf_counter()
    probe.start()
    QtCore.QTimer.singleShot(int(timeout * 1000), loop.quit)
    loop.exec()
    elapsed = time.perf_counter() - started
    probe.stop()
    pusher.wait(120)
    done = window.table_model.count(Status.DONE)
    window.close()
    gaps = probe.gaps
    return {"p50": _percentile(gaps, 0.50), "p99": _percentile(gaps, 0.99), "max": max(gaps),
            "rss": max(probe.rss), "children": max(probe.children), "done": done,
            "count": count, "seconds": elapsed}


def _gui(folder: Path, model: Path, work: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--gui-run", str(folder), "--model",
                           str(model), "--work", str(work / "gui")], cwd=REPO,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _send_like_a_modality() -> None:
    """Send each file's bytes as they are (no decode and re-encode in the sender).

    A modality sends what it has; pynetdicom's default decodes every file and encodes it
    again, which on this 2-core machine takes CPU from the node being measured.
    """
    from pynetdicom import _config

    _config.STORE_SEND_CHUNKED_DATASET = True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("-n", type=int, default=500, help="films pushed in the load run")
    parser.add_argument("--size", type=int, default=1024, help="film side in pixels")
    parser.add_argument("--kill-films", type=int, default=100)
    parser.add_argument("--push", nargs=3, metavar=("HOST", "PORT", "FOLDER"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--gui-run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _send_like_a_modality()
    if args.push:  # the modality of the GUI run, in its own process
        host, port, folder = args.push
        push_concurrently((host, int(port)), sorted(Path(folder).glob("*.dcm")))
        return 0
    if args.gui_run:
        _isolate_user_folders(args.work)
        print(json.dumps(_gui_run(args.gui_run, args.model, timeout=1800)))
        return 0

    with tempfile.TemporaryDirectory(prefix="lunglens-dicom-bench-") as temp:
        work = Path(temp)
        env = dict(os.environ, LUNGLENS_DATA_DIR=str(work / "user"),
                   XDG_CONFIG_HOME=str(work / "config"), TF_CPP_MIN_LOG_LEVEL="2")
        side = (args.size, args.size * 7 // 8)
        folder = work / "films"
        folder.mkdir()
        films = []
        for seed in range(args.n):  # one at a time: 500 films in memory would be ~1 GB
            film = chest_film(seed, size=side)
            films.append(folder / f"{film.SOPInstanceUID}.dcm")
            film.save_as(films[-1], enforce_file_format=True)
        load = _load(films, args.model, work, env)
        classify_seconds = _classify(folder, args.model, env)
        fault = _fault(films[:args.kill_films], args.model, work, env)
        gui = _gui(folder, args.model, work)

    ratio = classify_seconds / load["seconds"]
    node_rate = args.n / load["seconds"]
    rows = [
        ("films pushed over 4 associations, stored + analysed",
         f"{load['acknowledged']:.0f} acknowledged, {load['rows']:.0f} rows, "
         f"{load['once']:.0f} analysed exactly once (of {args.n})",
         f"{args.n} of {args.n}, exactly once"),
        ("acknowledged films lost after SIGKILL + restart",
         f"{fault['lost']} of {fault['acknowledged']} acknowledged; {fault['twice']} "
         "analysed twice", "0"),
        ("receive + analyse throughput vs classify",
         f"{ratio:.2f}x ({node_rate:.1f} films/s vs {args.n / classify_seconds:.1f}; "
         f"the sender on the same 2 cores used {load['sender_cpu']:.0f} CPU s)",
         ">= 0.7x"),
        ("memory while receiving (serve process, peak RSS)", f"{load['rss']:.0f} MB",
         "<= 500 MB"),
        ("GUI event-loop latency while receiving, p50 / p99 / max",
         f"{gui['p50']:.0f} / {gui['p99']:.0f} / {gui['max']:.0f} ms "
         f"({gui['done']:.0f} of {gui['count']:.0f} rows answered in {gui['seconds']:.0f} s)",
         "p99 <= 100 ms"),
        ("GUI memory while receiving (window process, peak RSS)",
         f"{gui['rss']:.0f} MB (its child processes: the node and the decoders, "
         f"{gui['children']:.0f} MB; together {gui['rss'] + gui['children']:.0f} MB)",
         "<= 500 MB"),
    ]
    print(f"DICOM node, {args.n} films of {side[0]}x{side[1]} px, model {args.model.name}, "
          f"{platform.machine()} {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    width = max(len(r[0]) for r in rows)
    print(f"| {'figure':<{width}} | measured | target |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for figure, measured, target in rows:
        print(f"| {figure:<{width}} | {measured} | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
