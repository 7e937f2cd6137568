"""``serve`` and ``classify`` as processes, for benchmarks/dicom_node.py.

A :class:`Serve` is ``python -m desktop_app serve`` on a free loopback port and a data folder
of the benchmark's, its resident memory and thread count sampled every 100 ms from
``/proc``. The waits read the worklist database as the window does.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

from desktop_app.core.cli.worklist_cli import run_worklist
from desktop_app.core.node.dicom_receiver import listening_address
from desktop_app.core.node.outbox_store import Outbox
from desktop_app.core.node.worklist_store import WorklistStore

REPO = Path(__file__).resolve().parents[1]


def _proc_status(pid: int) -> dict[str, int]:
    """``VmRSS`` (kB) and ``Threads`` of a process, 0 when it has gone."""
    found = {"VmRSS": 0, "Threads": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in found:
                found[key] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return found


def process_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (0 when it has gone)."""
    return _proc_status(pid)["VmRSS"] / 1024


class Serve:
    """A ``serve`` process; ``peak_rss_mb`` and ``peak_threads`` are sampled while it runs."""

    def __init__(self, data: Path, model: Path, env: dict[str, str], *extra: str) -> None:
        self.log = data.parent / f"serve-{time.monotonic_ns()}.log"
        self._stream = open(self.log, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop
        self.process = subprocess.Popen(
            [sys.executable, "-m", "desktop_app", "serve", "--port", "0", "--data-dir",
             str(data), "--model", str(model), "--poll", "0.2", *extra],
            cwd=REPO, env=env, stdout=self._stream, stderr=subprocess.STDOUT)
        while (address := listening_address(self.log.read_text())) is None:
            if self.process.poll() is not None:
                raise SystemExit(f"serve did not start:\n{self.log.read_text()}")
            time.sleep(0.1)
        self.address = address
        self.peak_rss_mb = 0.0
        self.peak_threads = 0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while self._sampling:
            status = _proc_status(self.process.pid)
            self.peak_rss_mb = max(self.peak_rss_mb, status["VmRSS"] / 1024)
            self.peak_threads = max(self.peak_threads, status["Threads"])
            time.sleep(0.1)

    def log_text(self) -> str:
        """What the process has logged so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the process, wait for it, return its exit status."""
        self._sampling = False
        self.process.send_signal(signum)
        code = self.process.wait(300)
        self._stream.close()
        return code


def wait_answered(data: Path, count: int, timeout: float = 1800) -> None:
    """Until ``count`` films have an answer and none is queued."""
    deadline = time.monotonic() + timeout
    while True:
        with WorklistStore.in_folder(data) as store:
            counts = store.counts()
        if counts["queued"] == 0 and counts["analysed"] + counts["failed"] >= count:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"films not answered within {timeout:.0f} s: {counts}")
        time.sleep(0.1)


def send_states(data: Path) -> dict[str, str]:
    """Each film's send status (films owing no result are left out)."""
    with WorklistStore.in_folder(data) as store:
        return {uid: state.status for uid, state in Outbox(store).film_states().items()}


def sent_rows(data: Path) -> tuple[int, int]:
    """Outbox rows ``(sent, not sent)``."""
    with WorklistStore.in_folder(data) as store:
        rows = store.query("SELECT status = 'sent' AS sent, COUNT(*) AS n FROM outbox "
                           "GROUP BY status = 'sent'")
    counts = {bool(row["sent"]): int(row["n"]) for row in rows}
    return counts.get(True, 0), counts.get(False, 0)


def wait_sent(data: Path, count: int, timeout: float = 1800) -> None:
    """Until ``count`` films' results are all sent."""
    deadline = time.monotonic() + timeout
    while True:
        states = send_states(data)
        if len(states) >= count and set(states.values()) == {"sent"}:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"results not sent within {timeout:.0f} s: "
                             f"{sorted(states.values()).count('sent')} of {count} films")
        time.sleep(0.1)


def analyses(data: Path) -> dict[str, int]:
    """How many answers each film's row has committed."""
    with WorklistStore.in_folder(data) as store:
        return {row.sop_instance_uid: row.analyses for row in store.films()}


def worklist_records(data: Path) -> list[dict]:
    """``worklist --json``, as a user reads it."""
    out = StringIO()
    if run_worklist(["--data-dir", str(data), "--json"], stdout=out, stderr=StringIO()) != 0:
        raise SystemExit(f"worklist --json failed on {data}")
    return [json.loads(line) for line in out.getvalue().splitlines()]


def classify_seconds(folder: Path, model: Path, env: dict[str, str]) -> float:
    """``classify --json`` on every file of ``folder``, start to exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "desktop_app", "classify", "--json", "--model",
                    str(model), str(folder)], cwd=REPO, env=env, capture_output=True,
                   check=True)
    return time.perf_counter() - started
