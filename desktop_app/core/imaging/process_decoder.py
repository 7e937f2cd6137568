"""``load_image`` in worker processes where a decoder would hold the interpreter lock.

Several decoders hold Python's global interpreter lock for the whole decode: Pillow's JPEG
2000 plugin, and pylibjpeg's JPEG 2000, JPEG (lossless and baseline) and JPEG-LS plugins
that pydicom uses. Measured on 2,000-3,000 px clinic files, one such decode keeps every
other thread of the process waiting for 0.3-5 s, the GUI's event loop included. Decoding in
a separate process keeps the GUI answering and lets two decodes really run side by side.

The returned :class:`LoadedImage` is the one ``load_image`` gives (pixels travel pickled: a
reduced image is well under 1 MB, a full 3,000 px one 36 MB). Failures are the same
:class:`ImageLoadError` with the same reason; a worker that dies (a decoder crash) is
reported for that file, and the next call starts fresh workers.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from desktop_app.core.errors import ImageLoadError
from desktop_app.core.imaging.checks import SNIFF_BYTES
from desktop_app.core.imaging.loaded_image import LoadedImage
from desktop_app.core.imaging.loader import load_image
from desktop_app.core.imaging.sniffing import sniff_bytes

__all__ = ["ProcessDecoder"]

# Decoded by numpy (uncompressed) or by Pillow (JPEG Baseline, reduced): the lock stays free.
_NATIVE_SYNTAXES = frozenset({
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
})
_JPEG_BASELINE = "1.2.840.10008.1.2.4.50"


def _decode(path: Path, min_side: int | None) -> LoadedImage | tuple[str, str]:
    """Worker side: the image, or ``("error", reason)`` (ImageLoadError does not pickle)."""
    try:
        return load_image(path, min_side=min_side)
    except ImageLoadError as error:
        return ("error", error.reason)


def _exit_with_parent(parent: int) -> None:
    """Worker start-up: end this worker when the program that started it is gone.

    A program that ends without shutting the pool down (killed, or leaving through
    ``os._exit``) would otherwise leave its idle workers behind: they hold the task
    queue open for one another and never see it close.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _decodes_without_the_lock(file: Path, min_side: int | None) -> bool:
    """Whether decoding ``file`` leaves the interpreter lock free (module docstring)."""
    try:
        with open(file, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return True  # load_image reports it, quickly
    fmt = sniff_bytes(head)
    if fmt != "DICOM":
        return True  # Pillow releases the lock while decoding; unknown content is refused
    try:
        from pydicom.filereader import read_file_meta_info

        syntax = str(read_file_meta_info(file).get("TransferSyntaxUID", ""))
    except Exception:  # no file meta or unreadable: let a worker find out
        return False
    return syntax in _NATIVE_SYNTAXES or (syntax == _JPEG_BASELINE and min_side is not None)


def _warm() -> int:
    """Import the decoders in a worker before the first file needs them."""
    import pydicom.pixels  # noqa: F401
    from PIL import Image

    Image.init()
    return os.getpid()


class ProcessDecoder:
    """A callable like :func:`load_image` that decodes in a small pool of worker processes.

    Thread-safe: several threads may call it at once (each waits for its own file). Workers
    are started with ``spawn`` (forking a process that runs Qt or LiteRT threads is unsafe)
    on first use and kept until :meth:`close`.
    """

    def __init__(self, processes: int = 2) -> None:
        """Args: processes: Worker processes (decodes that run at the same time)."""
        self.processes = max(1, int(processes))
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.processes, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_exit_with_parent, initargs=(os.getpid(),))
            return self._pool

    def warm_up(self, *, wait: bool = True, processes: int | None = None) -> None:
        """Start workers and import the decoders now (e.g. while a model loads).

        Starting a worker costs about a second of one core (a fresh interpreter importing
        numpy, Pillow and pydicom); done ahead, the first image does not wait for it.

        Args:
            wait: Return only once the workers are ready.
            processes: How many to start now (default all). Each idle worker holds about
                60 MB; the others start when two decodes first run at the same time.
        """
        count = self.processes if processes is None else max(1, min(self.processes,
                                                                    int(processes)))
        pool = self._executor()
        futures = [pool.submit(_warm) for _ in range(count)]
        if wait:
            for future in futures:
                future.result()

    def __call__(self, path: str | os.PathLike[str], *, min_side: int | None = None
                 ) -> LoadedImage:
        """Decode ``path``; same contract as :func:`load_image`.

        Files whose decoder releases the interpreter lock (Pillow's raster formats,
        uncompressed DICOM, and JPEG Baseline DICOM when a reduced image is asked for, which
        Pillow decodes) are decoded in the calling thread: no process hop, no pickled copy.
        Everything else goes to a worker process.
        """
        file = Path(path)
        if _decodes_without_the_lock(file, min_side):
            return load_image(file, min_side=min_side)
        pool = self._executor()
        try:
            outcome = pool.submit(_decode, file, min_side).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # the next file gets fresh workers
            raise ImageLoadError(
                file, "the image decoder stopped unexpectedly while reading this file"
            ) from None
        if isinstance(outcome, tuple):
            raise ImageLoadError(file, outcome[1])
        outcome.pixels.flags.writeable = False  # unpickled arrays are writeable again
        return outcome

    def close(self) -> None:
        """Stop the workers (waits for running decodes)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
