"""A child process that ends with its parent, whatever ends the parent.

The window runs ``serve`` as a child process. When the window was killed (SIGTERM, SIGKILL,
a crash) the child kept running and kept the port, so the next window could not listen.
Two mechanisms, because neither covers every case alone:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGTERM)``: the kernel sends the child SIGTERM the
  moment its parent dies, which the node treats like Ctrl+C (finish the films in hand, exit);
* everywhere, a watchdog thread that checks every second whether the parent is still there
  (on POSIX: the child was re-parented; on Windows: the parent's process handle is
  signalled) and then stops the node the same way. It also covers the parent dying before
  the ``prctl`` call, and Linux's death signal firing on the death of the parent's *thread*
  rather than the process.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["end_with_parent", "parent_alive"]

_PR_SET_PDEATHSIG = 1


def _set_death_signal() -> bool:
    """Ask Linux to send SIGTERM when the parent dies; True when it took."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _windows_process_alive(pid: int) -> bool:
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    synchronize, wait_timeout = 0x00100000, 0x00000102
    handle = kernel32.OpenProcess(synchronize, False, pid)
    if not handle:
        return False
    try:
        return kernel32.WaitForSingleObject(handle, 0) == wait_timeout
    finally:
        kernel32.CloseHandle(handle)


def parent_alive(parent_pid: int) -> bool:
    """True while the process ``parent_pid`` is still this process's living parent."""
    if os.name == "nt":
        return _windows_process_alive(parent_pid)
    return os.getppid() == parent_pid  # re-parented (to init or a subreaper) once it died


def end_with_parent(parent_pid: int, on_parent_gone: Callable[[], None],
                    poll_seconds: float = 1.0) -> threading.Thread:
    """Call ``on_parent_gone`` once (from a watchdog thread) when the parent has gone.

    Also sets Linux's parent-death signal (SIGTERM), so the process's own SIGTERM handler
    runs at once there. Returns the started watchdog thread (a daemon).
    """
    _set_death_signal()

    def watch() -> None:
        while parent_alive(parent_pid):
            time.sleep(poll_seconds)
        on_parent_gone()

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread
