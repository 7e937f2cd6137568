"""One DICOM node per data folder: an exclusive lock on ``node.lock`` inside it.

Two processes analysing the same worklist queue would each answer the same films (the
headless ``serve`` and the window's receiver pointed at one folder, say). The lock is an OS
file lock, so it is released when the process dies, even by ``SIGKILL``: a restarted node
never waits for a dead one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

__all__ = ["DataFolderBusyError", "DataFolderLock"]

LOCK_FILE = "node.lock"


class DataFolderBusyError(RuntimeError):
    """Another LungLens node already serves this data folder."""


class DataFolderLock:
    """Holds the data folder's lock from :meth:`acquire` until :meth:`release`."""

    def __init__(self, data_dir: Path, file_name: str = LOCK_FILE,
                 role: str = "serves the data folder") -> None:
        """Prepare the lock ``file_name`` in ``data_dir``.

        Args:
            data_dir: The data folder.
            file_name: The lock file (``node.lock``; the outbox's sender uses its own).
            role: What the holder does, for the error message.
        """
        self.path = Path(data_dir) / file_name
        self.role = role
        self._stream: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock without waiting.

        Raises:
            DataFolderBusyError: Naming the folder and the holder's process id, if another
                process holds it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stream = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 - held until release
        try:
            _lock(stream)
        except OSError as error:
            stream.seek(0)
            holder = stream.read().strip() or "unknown"
            stream.close()
            raise DataFolderBusyError(
                f"another LungLens process (process {holder}) already {self.role} "
                f"{self.path.parent}") from error
        stream.seek(0)
        stream.truncate()
        stream.write(str(os.getpid()))
        stream.flush()
        self._stream = stream

    def release(self) -> None:
        """Give the lock up (closing the file releases it)."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> DataFolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _lock(stream: IO[str]) -> None:
    if os.name == "nt":
        import msvcrt

        stream.seek(0)
        msvcrt.locking(stream.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
