"""``python -m desktop_app serve`` as a real process, for tests that kill it and restart it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from desktop_app.core.node.dicom_receiver import listening_address
from tests.conftest import REPO_ROOT


class Server:
    """A ``python -m desktop_app serve`` process and its log."""

    def __init__(self, data_dir: Path, bundle: Path, *extra: str) -> None:
        self.log_path = data_dir.parent / f"serve-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop
        self.process = subprocess.Popen(
            [sys.executable, "-m", "desktop_app", "serve", "--port", "0", "--data-dir",
             str(data_dir), "--model", str(bundle), "--poll", "0.1", *extra],
            cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120  # model load on a loaded 2-core machine
        while (address := listening_address(self.log)) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start:\n{self.log}")
            time.sleep(0.1)
        self.address = address

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(60)
        self._log.close()
        return code


@contextmanager
def serving(data_dir: Path, bundle: Path, *extra: str) -> Iterator[Server]:
    server = Server(data_dir, bundle, *extra)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()


