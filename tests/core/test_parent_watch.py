"""``serve`` started by a parent (the window) ends with it, however the parent ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from desktop_app.core.cli.parent_watch import end_with_parent, parent_alive
from desktop_app.core.node.dicom_receiver import listening_address
from tests.conftest import REPO_ROOT


def _gone(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie nobody reaped counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state


def test_watchdog_calls_back_once_the_parent_is_not_the_parent() -> None:
    assert parent_alive(os.getppid())
    called = []
    thread = end_with_parent(os.getpid() + 10_000_000, lambda: called.append(True),
                             poll_seconds=0.01)
    thread.join(5)
    assert called == [True]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_serve_child_ends_and_frees_its_port_when_the_parent_is_killed(
        tmp_path: Path, tiny_bundle: Path, signum: int) -> None:
    log = tmp_path / "serve.log"
    # The parent: like the window, it starts serve with --parent-pid and waits.
    parent_code = textwrap.dedent(f"""
        import os, subprocess, sys, time
        log = open({str(log)!r}, "w")
        child = subprocess.Popen([sys.executable, "-m", "desktop_app", "serve", "--port", "0",
                                  "--data-dir", {str(tmp_path / "data")!r}, "--model",
                                  {str(tiny_bundle)!r}, "--parent-pid", str(os.getpid())],
                                 stdout=log, stderr=subprocess.STDOUT)
        print(child.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
    deadline = time.monotonic() + 120
    while listening_address(log.read_text()) is None:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    parent.send_signal(signum)
    parent.wait(30)
    deadline = time.monotonic() + 30
    while not _gone(child_pid):
        assert time.monotonic() < deadline, f"serve outlived its parent:\n{log.read_text()}"
        time.sleep(0.1)
    assert "stopped listening" in log.read_text()
