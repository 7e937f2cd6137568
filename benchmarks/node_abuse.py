"""Stray connections against ``serve`` while a real client works (part of benchmarks/dicom_node.py).

The strays come from a process of their own (``python -m benchmarks.node_abuse HOST PORT
SILENT GARBAGE SECONDS``), so the client measured here does not share an interpreter lock
with them: ``SILENT`` connections that never speak are held the whole time (one the node
drops is opened again at once), and ``GARBAGE`` connections sending random bytes or a header
declaring a 4 GB PDU arrive at an even pace over ``SECONDS``. Meanwhile the client sends a
C-ECHO every 0.5 s (each timed, target: answered within 2 s) and, from the first second, its
films over one association (target: every one stored and analysed). ``serve``'s peak resident
memory and thread count are sampled throughout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(REPO))

from benchmarks.node_serve import Serve, analyses, wait_answered  # noqa: E402
from desktop_app.core.node.dicom_receiver import STATUS_SUCCESS  # noqa: E402
from tests.dicom_films import push  # noqa: E402
from tests.stray_connections import SilentHolder, echo_seconds, stray_burst  # noqa: E402

ECHO_LIMIT = 2.0


def _client(address: tuple[str, int], films: Sequence[Path], echoes: int
            ) -> dict[str, object]:
    """The real client: timed C-ECHOs every 0.5 s, and the films pushed from the first second."""
    times: list[float | None] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []

    def pushing() -> None:
        time.sleep(1.0)
        try:
            push(address, films, statuses=statuses)
        except Exception as error:  # reported in the table
            errors.append(f"{type(error).__name__}: {error}")

    pusher = threading.Thread(target=pushing)
    pusher.start()
    for _ in range(echoes):
        started = time.monotonic()
        times.append(echo_seconds(address, timeout=10))
        time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))
    pusher.join()
    return {"times": times, "statuses": statuses, "errors": errors}


def abuse(films: Sequence[Path], model: Path, work: Path, env: dict[str, str], *,
          silent: int = 100, garbage: int = 550, echoes: int = 20) -> dict[str, object]:
    """Run ``serve`` under the strays while the client works; what the client got."""
    data = work / "abuse"
    server = Serve(data, model, env)
    host, port = server.address
    strays = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.node_abuse", host, str(port), str(silent),
         str(garbage), f"{echoes * 0.5:.1f}"],
        cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert strays.stdout is not None
    assert strays.stdin is not None
    if strays.stdout.readline().strip() != "held":
        raise SystemExit("the stray connections could not be made")
    client = _client(server.address, films, echoes)
    strays.stdin.write("done\n")
    strays.stdin.close()
    tally = json.loads(strays.stdout.readline())
    strays.wait(60)
    stored = sum(status == STATUS_SUCCESS for status in client["statuses"].values())  # type: ignore[attr-defined]
    if stored == len(films):
        wait_answered(data, len(films), timeout=300)
    server.stop()
    log = server.log_text()
    times = client["times"]
    answered = [t for t in times if t is not None]  # type: ignore[union-attr]
    return {"echoes": len(times), "echo_in_time": sum(t < ECHO_LIMIT for t in answered),  # type: ignore[arg-type]
            "echo_max": max(answered, default=float("nan")), "films": len(films),
            "stored": stored, "analysed": sum(n >= 1 for n in analyses(data).values()),
            "client_errors": client["errors"], "rss": server.peak_rss_mb,
            "threads": server.peak_threads, "strays": tally,
            "log_drop_lines": sum("dropped" in line for line in log.splitlines()),
            "tracebacks": log.count("Traceback")}


def abuse_rows(result: dict | None) -> list[tuple[str, str, str]]:
    """The table rows of the abuse part, if it ran."""
    if not result:
        return []
    strays = result["strays"]
    return [
        ("real client among 100 silent + 550 garbage/4 GB connections: C-ECHOs within 2 s",
         f"{result['echo_in_time']} of {result['echoes']} (slowest {result['echo_max']:.2f} s;"
         f" {strays['made']} strays made, {strays['reconnected']} silent ones reopened after "
         f"the node dropped them)", "every one (before: 0 of 20)"),
        ("its films stored and analysed",
         f"{result['stored']} stored, {result['analysed']} analysed of {result['films']}"
         + (f"; client errors: {result['client_errors']}" if result["client_errors"] else ""),
         "10 of 10 (before: 0 of 10)"),
        ("memory of serve under that abuse (peak RSS; peak threads)",
         f"{result['rss']:.0f} MB; {result['threads']} threads; {result['log_drop_lines']} "
         f"log lines about dropped connections, {result['tracebacks']} tracebacks",
         "<= 1 GB"),
    ]


def _strays_main(argv: Sequence[str]) -> int:
    """The strays' process: hold the silent ones, send the garbage, report, wait for stdin."""
    parser = argparse.ArgumentParser(description="stray connections against a DICOM node")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("silent", type=int)
    parser.add_argument("garbage", type=int)
    parser.add_argument("seconds", type=float)
    args = parser.parse_args(argv)
    address = (args.host, args.port)
    with SilentHolder(address, args.silent) as holder:
        print("held", flush=True)
        tally = stray_burst(address, args.garbage, threads=16, spread=args.seconds)
        sys.stdin.readline()  # the client is done
        print(json.dumps({"made": tally.made, "failed": tally.failed,
                          "reconnected": holder.reconnected}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_strays_main(sys.argv[1:]))
