"""Qt adapters that run the core's long work off the UI thread.

The work itself is plain Python in :mod:`desktop_app.core` (a function or a generator taking
``progress``/``cancelled`` callbacks, as in Orange3's ``concurrent`` helpers); this module only
wraps it in a :class:`QtCore.QRunnable` paired with a separate signals ``QObject`` (a
``QRunnable`` is not a ``QObject`` — the superqt pattern). Results come back to the UI thread
through queued signals; workers never touch widgets, and cancelling is cooperative (a
``threading.Event`` polled by the core between images), never ``terminate()``.

Every thread that classifies keeps its own :class:`Analyzer` (LiteRT interpreters are not
thread-safe), cached per thread so a second batch does not reload the model. The classify
path (LiteRT, Pillow, pydicom) is imported inside the workers, never at module level, so the
main window appears before any of it is loaded.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6 import QtCore

from desktop_app.core.classify.row_thumbnails import make_thumbnail
from desktop_app.core.errors import LungLensError

if TYPE_CHECKING:
    from desktop_app.core.classify.analysis import Analyzer, ExpandedInputs, ImageResult
    from desktop_app.core.model.model_bundle import ModelBundle
    from desktop_app.core.model.model_store import ActiveModel

__all__ = [
    "DECODE_PROCESSES",
    "BatchAnalysisWorker",
    "BatchItem",
    "FunctionWorker",
    "ImageLoader",
    "TaskWorker",
    "analyzer_for",
    "expand_paths",
    "load_active_model",
    "make_thumbnail",
    "shared_decoder",
]

_thread_state = threading.local()
# Decoding in worker processes: several decoders (JPEG 2000, pylibjpeg's JPEG plugins) hold
# the interpreter lock for a whole 0.3-5 s decode, which would freeze the window. One pool
# serves the batch and the viewer (two decodes at a time, as on a two-core clinic PC).
DECODE_PROCESSES = 2
_decoder_lock = threading.Lock()
_decoder: Any = None


def shared_decoder() -> Any:
    """The process-backed decoder every classifying thread of the GUI uses (created once)."""
    global _decoder
    with _decoder_lock:
        if _decoder is None:
            from desktop_app.core.imaging.process_decoder import ProcessDecoder

            _return_large_blocks_to_the_system()
            _decoder = ProcessDecoder(DECODE_PROCESSES)
        return _decoder


def _return_large_blocks_to_the_system() -> None:
    """With glibc, memory blocks of 1 MiB and more are mapped and unmapped, never kept.

    Films pass through the window's process as 10-40 MB arrays from several threads. With
    glibc's adaptive threshold those land in per-thread heaps that are not given back:
    measured with benchmarks/gui_responsiveness.py on 500 clinic files, peak memory 713 MB,
    and 395 MB with a fixed 1 MiB threshold and two heaps (same latency). Elsewhere a no-op.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD: fixed, no longer adaptive
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def load_active_model(override: Path | str | None = None) -> ActiveModel:
    """Load the model to use: ``override``, ``$LUNGLENS_MODEL_DIR`` or the store's active one.

    The rule is the commands' (:func:`desktop_app.core.cli.model_choice.resolve_model`).

    Raises:
        ModelBundleError: If the model cannot be used (the message says why).
    """
    # The classify path is imported here, in the worker, so the window can appear first.
    from desktop_app.core.cli.model_choice import resolve_model

    # One decoder process starts while the model loads, so the first compressed film does
    # not wait for it; the second starts when two decodes first overlap. Started ahead, it sat
    # idle holding 62 MB while the window received films (the node decodes those).
    shared_decoder().warm_up(wait=False, processes=1)
    return resolve_model(override, tidy_store=True)


def analyzer_for(bundle: ModelBundle) -> Analyzer:
    """This thread's :class:`Analyzer` for ``bundle`` (created once per thread and model)."""
    from desktop_app.core.classify.analysis import Analyzer

    cached: Analyzer | None = getattr(_thread_state, "analyzer", None)
    if cached is None or cached.bundle is not bundle:
        # Two threads at most classify at once (batch + current image); the Analyzer's default
        # of half the CPUs for LiteRT keeps the UI thread a core on a two-core clinic PC.
        cached = Analyzer(bundle)
        cached.decode = shared_decoder()
        _thread_state.analyzer = cached
    return cached


def expand_paths(paths: Sequence[str | Path]) -> ExpandedInputs:
    """Expand folders to image files (run off the UI thread: it reads every file's header)."""
    from desktop_app.core.classify.analysis import expand_inputs

    return expand_inputs(paths)


def _describe(error: BaseException) -> str:
    if isinstance(error, LungLensError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class _FunctionSignals(QtCore.QObject):
    """Signals of :class:`FunctionWorker`.

    Signals:
        succeeded(object): The function's return value.
        failed(str): A message describing the exception it raised.
    """

    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(str)


class FunctionWorker(QtCore.QRunnable):
    """Run ``function(*args)`` in a thread pool and report its result by signal."""

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        super().__init__()
        self.signals = _FunctionSignals()
        self._function = function
        self._args = args

    def run(self) -> None:
        """Call the function; never let an exception escape into Qt's thread."""
        try:
            value = self._function(*self._args)
        except Exception as error:
            traceback.print_exc()
            self.signals.failed.emit(_describe(error))
            return
        self.signals.succeeded.emit(value)


class _TaskSignals(QtCore.QObject):
    """Signals of :class:`TaskWorker`.

    Signals:
        progress_changed(int, int): Steps done, total steps.
        succeeded(object): The function's return value.
        failed(str): A message describing the exception it raised.
    """

    progress_changed = QtCore.Signal(int, int)
    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(str)


class TaskWorker(QtCore.QRunnable):
    """Run ``function(*args, progress=..., cancelled=...)`` with progress and cooperative cancel.

    Progress is only emitted when the value changes, so a fast loop does not flood the UI
    thread with queued signals (as Orange3 does).
    """

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        super().__init__()
        self.signals = _TaskSignals()
        self._function = function
        self._args = args
        self._cancel = threading.Event()
        self._last_progress: tuple[int, int] | None = None

    def cancel(self) -> None:
        """Ask the task to stop at its next check."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancel.is_set()

    def _progress(self, done: int, total: int) -> None:
        if (done, total) != self._last_progress:
            self._last_progress = (done, total)
            self.signals.progress_changed.emit(done, total)

    def run(self) -> None:
        """Call the function; report its value or its error."""
        try:
            value = self._function(*self._args, progress=self._progress,
                                   cancelled=self._cancel.is_set)
        except Exception as error:
            traceback.print_exc()
            self.signals.failed.emit(_describe(error))
            return
        self.signals.succeeded.emit(value)


@dataclass(frozen=True)
class BatchItem:
    """One classified image as the batch table keeps it (no pixels: 500 rows stay small).

    Attributes:
        key: The table row's key.
        result: The result with ``loaded``, ``prepared`` and ``cams`` removed.
        thumbnail: uint8 grayscale thumbnail, or ``None`` for unreadable files.
        full: The complete result, only when the batch was asked to keep pixels.
    """

    key: int
    result: ImageResult
    thumbnail: np.ndarray | None
    full: ImageResult | None = None


class _BatchSignals(QtCore.QObject):
    """Signals of :class:`BatchAnalysisWorker`.

    Signals:
        item_finished(object): A :class:`BatchItem`, in input order.
        progress_changed(int, int): Images done, images in the batch.
        batch_finished(bool): The batch ended; True if it was cancelled.
        batch_failed(str): The model could not run at all (every row stays unanswered).
    """

    item_finished = QtCore.Signal(object)
    progress_changed = QtCore.Signal(int, int)
    batch_finished = QtCore.Signal(bool)
    batch_failed = QtCore.Signal(str)


class BatchAnalysisWorker(QtCore.QRunnable):
    """Classify a list of files with :meth:`Analyzer.analyse`, one signal per image."""

    def __init__(
        self,
        bundle: ModelBundle,
        items: Sequence[tuple[int, Path]],
        *,
        keep_loaded: bool = False,
        batch_size: int = 8,
        decode_workers: int = 2,
    ) -> None:
        super().__init__()
        self.signals = _BatchSignals()
        self._bundle = bundle
        self._items = list(items)
        self._keep_loaded = keep_loaded
        self._batch_size = batch_size
        self._decode_workers = decode_workers
        self._cancel = threading.Event()

    @property
    def keys(self) -> list[int]:
        """Row keys in this batch, in order."""
        return [key for key, _ in self._items]

    def cancel(self) -> None:
        """Ask the batch to stop after the images already being decoded."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancel.is_set()

    def run(self) -> None:
        """Classify; emit results as they come; always emit ``batch_finished`` or ``failed``."""
        try:
            analyzer = analyzer_for(self._bundle)
            paths = [path for _, path in self._items]
            results = analyzer.analyse(
                paths,
                batch_size=self._batch_size,
                keep_loaded=self._keep_loaded,
                progress=self.signals.progress_changed.emit,
                cancelled=self._cancel.is_set,
                workers=self._decode_workers,
            )
            for (key, _), result in zip(self._items, results, strict=False):
                thumbnail = make_thumbnail(result)
                light = replace(result, loaded=None, prepared=None, cams=None)
                full = result if self._keep_loaded and result.ok else None
                self.signals.item_finished.emit(BatchItem(key, light, thumbnail, full))
        except Exception as error:
            traceback.print_exc()
            self.signals.batch_failed.emit(_describe(error))
            return
        self.signals.batch_finished.emit(self._cancel.is_set())


class _ImageSignals(QtCore.QObject):
    """Signals of :class:`_ImageWorker`.

    Signals:
        previewed(object): ``(key, result)`` with the reduced decode as ``loaded``.
        succeeded(object): ``(key, result)`` with the full-resolution pixels.
        failed(str): Why the image could not be analysed.
    """

    previewed = QtCore.Signal(object)
    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(str)


class _ImageWorker(QtCore.QRunnable):
    """Analyse one image for the viewer: reduced pixels first, then the full resolution.

    One analysis (on the reduced decode, as in a batch); the second step only decodes.
    """

    def __init__(self, bundle: ModelBundle, key: int, path: Path) -> None:
        super().__init__()
        self.signals = _ImageSignals()
        self._bundle, self._key, self._path = bundle, key, path

    def run(self) -> None:
        """Never let an exception escape into Qt's thread."""
        try:
            analyzer = analyzer_for(self._bundle)
            result = analyzer.analyse_one(self._path, keep_loaded=True, full_resolution=False)
            if result.loaded is not None and result.loaded.reduced:
                _prepare_for_display(result)
                self.signals.previewed.emit((self._key, result))
                result = replace(result, loaded=analyzer.decode(self._path))
            _prepare_for_display(result)
        except Exception as error:
            traceback.print_exc()
            self.signals.failed.emit(_describe(error))
            return
        self.signals.succeeded.emit((self._key, result))


def _prepare_for_display(result: ImageResult) -> None:
    """The display conversions, here rather than in the UI thread (cached per pixel array)."""
    if result.loaded is not None:
        from desktop_app.ui.image_view import prepare_display

        prepare_display(result.loaded.pixels)


class ImageLoader(QtCore.QObject):
    """Loads the selected image at full resolution, latest request only.

    Keyboard navigation through a worklist fires a request per row; only the newest one
    matters, so while one image is being analysed further requests replace each other and
    just the last is run afterwards. A large file is shown twice: first from the reduced
    decode the model input came from (``image_previewed``, in a fraction of the time), then
    at full resolution (``image_loaded``).

    Signals:
        image_previewed(int, object): Row key and the result with reduced pixels.
        image_loaded(int, object): Row key and the full :class:`ImageResult` (pixels kept).
        image_failed(int, str): Row key and why it could not be analysed.
    """

    image_previewed = QtCore.Signal(int, object)
    image_loaded = QtCore.Signal(int, object)
    image_failed = QtCore.Signal(int, str)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(-1)  # keep the thread (and its cached Analyzer) alive
        self._bundle: ModelBundle | None = None
        self._busy = False
        self._pending: tuple[int, Path] | None = None
        self._current_key = -1

    def set_bundle(self, bundle: ModelBundle | None) -> None:
        """Use this model from now on."""
        self._bundle = bundle

    @property
    def busy(self) -> bool:
        """True while an image is being analysed."""
        return self._busy

    def request(self, key: int, path: Path) -> None:
        """Analyse ``path`` for row ``key`` (replacing any request not yet started)."""
        self._pending = (key, Path(path))
        if not self._busy:
            self._start_next()

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for the running request (used when the window closes)."""
        self._pending = None
        return self._pool.waitForDone(msecs)

    def _start_next(self) -> None:
        if self._pending is None or self._bundle is None:
            return
        key, path = self._pending
        self._pending = None
        self._busy = True
        self._current_key = key
        # Bound methods of this QObject (not lambdas) so Qt queues the calls to the UI thread.
        worker = _ImageWorker(self._bundle, key, path)
        worker.signals.previewed.connect(self._on_worker_previewed)
        worker.signals.succeeded.connect(self._on_worker_succeeded)
        worker.signals.failed.connect(self._on_worker_failed)
        self._pool.start(worker)

    def _on_worker_previewed(self, value: tuple[int, ImageResult]) -> None:
        key, result = value
        self.image_previewed.emit(key, result)

    def _on_worker_succeeded(self, value: tuple[int, ImageResult]) -> None:
        self._busy = False
        key, result = value
        self.image_loaded.emit(key, result)
        self._start_next()

    def _on_worker_failed(self, message: str) -> None:
        self._busy = False
        self.image_failed.emit(self._current_key, message)
        self._start_next()
