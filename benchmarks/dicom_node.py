"""The DICOM node's targets: films received, analysed and their results sent, whatever happens.

``python benchmarks/dicom_node.py [--only PART ...] [--model DIR] [-n 200] [--size 1024]
[--kill-films 100] [--runs 5]``

Everything runs as a user runs it: ``python -m desktop_app serve`` in its own process (on a
temporary data folder, loopback, any free port) and pynetdicom's SCU as the modality, sending
the films from files. The parts (``--only`` runs some of them; default: all but ``gui``):

* **load**: N generated DX films (12-bit, ``--size`` px, Explicit VR Little Endian) pushed
  over 4 simultaneous associations; counted: C-STORE answers with success, rows, results
  committed per film (target: N of N, each exactly once). The time from the first push to
  the last result committed, against ``python -m desktop_app classify --json`` on the same
  files right after it, in each of ``--runs`` runs (target: >= 0.7x in every run); the
  server's resident memory is sampled every 100 ms (``/proc``; target: <= 500 MB).
* **fault**: ``--kill-films`` films pushed; the server is killed with SIGKILL after half of
  them are acknowledged, restarted, and the sender pushes all of them again; counted:
  acknowledged films missing from the worklist and films answered more than once
  (target: 0 and 0).
* **send**, **send-kill**, **send-down**: the results sent back to Orthanc
  (:mod:`benchmarks.node_sending`): N films (``send``; throughput with sending, target
  >= 0.6x of classify; every film's SR, and SC when labelled, in Orthanc once, with the
  worklist's answer), ``--kill-films`` films for SIGKILL while sending and for a destination
  down during the first half (target: 0 results missing).
* **abuse**: 100 silent connections held and 550 garbage or 4 GB-PDU connections while a real
  client sends 20 C-ECHOs and 10 films (:mod:`benchmarks.node_abuse`; target: every C-ECHO
  within 2 s, 10 of 10 films stored and analysed, serve <= 1 GB).
* **gui**: the real window (offscreen unless a display is set) in a child process receives
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
from benchmarks.node_abuse import abuse, abuse_rows  # noqa: E402
from benchmarks.node_sending import send_down, send_kill, send_load, sending_rows  # noqa: E402
from benchmarks.node_serve import Serve, analyses, classify_seconds, wait_answered  # noqa: E402
from desktop_app.core.node.dicom_receiver import STATUS_SUCCESS  # noqa: E402
from tests.dicom_films import (  # noqa: E402
    chest_film,
    push,
    push_concurrently,
    push_until_killed,
)

DEFAULT_MODEL = REPO / "resources" / "model"
PARTS = ("load", "fault", "send", "send-kill", "send-down", "abuse", "gui")
DEFAULT_PARTS = tuple(part for part in PARTS if part != "gui")


def _load(films: list[Path], folder: Path, model: Path, work: Path, env: dict[str, str],
          run: int) -> dict[str, float]:
    """Push and analyse every film, then classify the same files: one run of the ratio."""
    data = work / f"load-{run}"
    server = Serve(data, model, env)
    started = time.perf_counter()
    cpu = time.process_time()
    statuses = push_concurrently(server.address, films, associations=4)
    sender_cpu = time.process_time() - cpu
    wait_answered(data, len(films))
    elapsed = time.perf_counter() - started
    server.stop()
    committed = analyses(data)
    return {"acknowledged": sum(s == STATUS_SUCCESS for s in statuses.values()),
            "rows": len(committed), "once": sum(n == 1 for n in committed.values()),
            "seconds": elapsed, "rss": server.peak_rss_mb, "sender_cpu": sender_cpu,
            "classify_seconds": classify_seconds(folder, model, env)}


def _fault(films: list[Path], model: Path, work: Path, env: dict[str, str]) -> dict[str, int]:
    data = work / "fault"
    server = Serve(data, model, env)
    statuses: dict[str, int] = {}

    pusher = threading.Thread(target=push_until_killed, args=(server.address, films, statuses))
    pusher.start()
    while len(statuses) < len(films) // 2:
        time.sleep(0.005)
    server.stop(signal.SIGKILL)
    pusher.join()
    acknowledged = {uid for uid, status in statuses.items() if status == STATUS_SUCCESS}
    restarted = Serve(data, model, env)
    push(restarted.address, films)
    wait_answered(data, len(films))
    restarted.stop()
    committed = analyses(data)
    return {"acknowledged": len(acknowledged),
            "lost": len(acknowledged - set(committed)),
            "twice": sum(n > 1 for n in committed.values())}


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


def _films(work: Path, count: int, side: tuple[int, int]
           ) -> tuple[Path, list[Path], dict[str, str]]:
    """Write ``count`` films into a folder; their paths and each one's Study Instance UID."""
    folder = work / "films"
    folder.mkdir()
    films, studies = [], {}
    for seed in range(count):  # one at a time: 500 films in memory would be ~1 GB
        film = chest_film(seed, size=side)
        films.append(folder / f"{film.SOPInstanceUID}.dcm")
        studies[str(film.SOPInstanceUID)] = str(film.StudyInstanceUID)
        film.save_as(films[-1], enforce_file_format=True)
    return folder, films, studies


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended."""
    import resource

    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load_rows(runs: list[dict[str, float]], n: int) -> list[tuple[str, str, str]]:
    if not runs:
        return []
    ratios = [run["classify_seconds"] / run["seconds"] for run in runs]
    first = runs[0]
    met = sum(ratio >= 0.7 for ratio in ratios)
    return [
        ("films pushed over 4 associations, stored + analysed (first run)",
         f"{first['acknowledged']:.0f} acknowledged, {first['rows']:.0f} rows, "
         f"{first['once']:.0f} analysed exactly once (of {n})", f"{n} of {n}, exactly once"),
        (f"receive + analyse throughput vs classify, {len(runs)} run(s)",
         ", ".join(f"{r:.2f}x" for r in ratios) + f" ({met} of {len(runs)} >= 0.7x; node "
         + ", ".join(f"{n / run['seconds']:.1f}" for run in runs) + " films/s, classify "
         + ", ".join(f"{n / run['classify_seconds']:.1f}" for run in runs) + "; the sender "
         f"on the same 2 cores used {first['sender_cpu']:.0f} CPU s)",
         ">= 0.7x in every run"),
        ("memory while receiving (serve process, peak RSS over the runs)",
         f"{max(run['rss'] for run in runs):.0f} MB", "<= 500 MB"),
    ]


def _other_rows(fault: dict | None, gui: dict | None) -> list[tuple[str, str, str]]:
    rows = []
    if fault:
        rows.append(("acknowledged films lost after SIGKILL + restart",
                     f"{fault['lost']} of {fault['acknowledged']} acknowledged; "
                     f"{fault['twice']} analysed twice", "0"))
    if gui:
        rows += [
            ("GUI event-loop latency while receiving, p50 / p99 / max",
             f"{gui['p50']:.0f} / {gui['p99']:.0f} / {gui['max']:.0f} ms "
             f"({gui['done']:.0f} of {gui['count']:.0f} rows answered in "
             f"{gui['seconds']:.0f} s)", "p99 <= 100 ms"),
            ("GUI memory while receiving (window process, peak RSS)",
             f"{gui['rss']:.0f} MB (its child processes: the node and the decoders, "
             f"{gui['children']:.0f} MB; together {gui['rss'] + gui['children']:.0f} MB)",
             "<= 500 MB"),
        ]
    return rows


def _run_parts(args: argparse.Namespace, work: Path, env: dict[str, str]
               ) -> tuple[dict[str, object], dict[str, tuple[float, float]]]:
    """Run the chosen parts; their results and (wall, CPU) seconds each."""
    side = (args.size, args.size * 7 // 8)
    folder, films, studies = _films(work, args.n, side)
    few = films[:args.kill_films]
    jobs = {
        "load": lambda: [_load(films, folder, args.model, work, env, run)
                         for run in range(args.runs)],
        "fault": lambda: _fault(few, args.model, work, env),
        "send": lambda: send_load(films, folder, studies, args.model, work, env),
        "send-kill": lambda: send_kill(few, studies, args.model, work, env),
        "send-down": lambda: send_down(few, studies, args.model, work, env),
        "abuse": lambda: abuse(films[:10], args.model, work, env),
        "gui": lambda: _gui(folder, args.model, work),
    }
    results: dict[str, object] = {}
    costs: dict[str, tuple[float, float]] = {}
    for part in PARTS:
        if part in args.only:
            wall, cpu = time.perf_counter(), _cpu_seconds()
            results[part] = jobs[part]()
            costs[part] = (time.perf_counter() - wall, _cpu_seconds() - cpu)
            print(f"{part}: {costs[part][0]:.0f} s, {costs[part][1]:.0f} CPU s",
                  file=sys.stderr, flush=True)
    return results, costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(DEFAULT_PARTS),
                        metavar="PART", help=f"parts to run, of {', '.join(PARTS)} "
                        "(default: all but gui)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("-n", type=int, default=200, help="films pushed in load and send")
    parser.add_argument("--size", type=int, default=1024, help="film side in pixels")
    parser.add_argument("--kill-films", type=int, default=100,
                        help="films of the fault, send-kill and send-down parts")
    parser.add_argument("--runs", type=int, default=5, help="runs of the load part")
    parser.add_argument("--push", nargs=3, metavar=("HOST", "PORT", "FOLDER"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--gui-run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.n < max(args.kill_films, 10):
        parser.error(f"-n must be at least --kill-films and 10, got {args.n}")
    _send_like_a_modality()
    if args.push:  # the modality of the GUI run, in its own process
        host, port, folder = args.push
        push_concurrently((host, int(port)), sorted(Path(folder).glob("*.dcm")))
        return 0
    if args.gui_run:
        _isolate_user_folders(args.work)
        print(json.dumps(_gui_run(args.gui_run, args.model, timeout=1800)))
        return 0

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="lunglens-dicom-bench-") as temp:
        work = Path(temp)
        env = dict(os.environ, LUNGLENS_DATA_DIR=str(work / "user"),
                   XDG_CONFIG_HOME=str(work / "config"), TF_CPP_MIN_LOG_LEVEL="2")
        results, costs = _run_parts(args, work, env)
    rows = _load_rows(results.get("load") or [], args.n)  # type: ignore[arg-type]
    rows += _other_rows(results.get("fault"), None)  # type: ignore[arg-type]
    rows += sending_rows(results.get("send"), results.get("send-kill"),  # type: ignore[arg-type]
                         results.get("send-down"))  # type: ignore[arg-type]
    rows += abuse_rows(results.get("abuse"))  # type: ignore[arg-type]
    rows += _other_rows(None, results.get("gui"))  # type: ignore[arg-type]
    print(f"DICOM node, {args.n} films of {args.size}x{args.size * 7 // 8} px (--kill-films "
          f"{args.kill_films}), model {args.model.name}, {platform.machine()} "
          f"{os.cpu_count()} CPUs, load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after; parts: "
          + ", ".join(f"{part} {wall:.0f} s / {cpu:.0f} CPU s"
                      for part, (wall, cpu) in costs.items()))
    width = max((len(r[0]) for r in rows), default=6)
    print(f"| {'figure':<{width}} | measured | target |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for figure, measured, target in rows:
        print(f"| {figure:<{width}} | {measured} | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
