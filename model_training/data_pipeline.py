"""Decode and preprocess every image once, cache the result, and feed ``tf.data``.

Training and the app must see identical numbers for the same file, so every image goes
through :func:`desktop_app.core.imaging.load_image` and
:func:`desktop_app.core.preprocessing.preprocess` - the app's own code - exactly once:

* in memory for the life of the process (evaluation after training reuses the arrays), and
* on disk as ``.npy`` under ``<cache_dir>/<spec hash>/<file sha1>.npy`` (plus a small JSON with
  the decoded-pixel hash and the image statistics the OOD gate needs). The key is the file's
  *content* hash and the preprocessing spec, so a renamed file is still a hit, an edited file
  or another spec is a miss, and a second run decodes no JPEG at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.gate import ImageStatistics, image_statistics
from desktop_app.core.preprocessing import PreprocessingSpec

__all__ = [
    "CachedImage",
    "PreprocessedSet",
    "default_cache_dir",
    "file_sha1",
    "load_preprocessed",
    "make_dataset",
    "spec_key",
]

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]

_MEMORY: dict[tuple[str, str], CachedImage] = {}


class PreprocessingCancelled(Exception):  # noqa: N818 - mirrors TrainingCancelled
    """Raised by :func:`load_preprocessed` when ``cancelled()`` returned True."""


@dataclass(frozen=True)
class CachedImage:
    """One preprocessed image and the facts about its decoded pixels.

    Attributes:
        array: ``(s, s)`` float32 model input in 0..1.
        pixel_sha1: sha1 of the decoded float32 pixels (duplicate detection by content).
        stats: Cheap image statistics for the OOD gate.
    """

    array: np.ndarray
    pixel_sha1: str
    stats: ImageStatistics


@dataclass
class PreprocessedSet:
    """Preprocessed images of a table, in the table's row order.

    Attributes:
        arrays: ``(n, s, s)`` float32 (rows that failed are zeros and listed in ``errors``).
        pixel_sha1: Decoded-pixel hash per row (``""`` where failed).
        file_sha1: File content hash per row (``""`` where unreadable).
        stats: Image statistics per row (``None`` where failed).
        errors: ``{row index: reason}`` for files that could not be loaded.
    """

    arrays: np.ndarray
    pixel_sha1: list[str]
    file_sha1: list[str]
    stats: list[ImageStatistics | None]
    errors: dict[int, str] = field(default_factory=dict)


def default_cache_dir() -> Path:
    """``<user data dir>/cache/preprocessed`` (follows ``$LUNGLENS_DATA_DIR`` in tests)."""
    from desktop_app.core.locations import user_data_dir

    return user_data_dir() / "cache" / "preprocessed"


#: How images are decoded for the model; part of the cache key, so entries decoded another
#: way are never mixed in. "reduced-2x": ``load_image(min_side=model_min_side(...))``.
DECODING = "reduced-2x"


def spec_key(spec: PreprocessingSpec) -> str:
    """Short stable hash of a preprocessing spec and :data:`DECODING` (cache folder name).

    A lung-framed spec names its segmenter's id, so another segmenter is another folder.
    """
    text = json.dumps({**spec.to_dict(), "decoding": DECODING}, sort_keys=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def file_sha1(path: Path | str) -> str:
    """sha1 of a file's bytes."""
    digest = hashlib.sha1()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def decode_one(path: Path | str, spec: PreprocessingSpec) -> CachedImage:
    """Load, hash and preprocess one file with the core's loader and ``preprocess``.

    Raises:
        ImageLoadError: If the loader refuses the file.
    """
    from desktop_app.core.imaging import load_image, model_min_side
    from desktop_app.core.imaging.model_geometry import match_model_geometry

    # Decoded as the app's classify path decodes it: at reduced resolution, which gives the
    # same model input within the tested tolerance and is much cheaper for large files.
    loaded = match_model_geometry(
        load_image(path, min_side=model_min_side(spec.input_size)), spec)
    pixels = np.ascontiguousarray(loaded.pixels, dtype=np.float32)
    prepared, _ = _model_inputs(spec)(pixels)
    return CachedImage(
        array=prepared.array,
        pixel_sha1=hashlib.sha1(pixels.tobytes()).hexdigest(),
        stats=image_statistics(pixels, loaded.colourfulness),
    )


_INPUTS: dict[str, Any] = {}


def _model_inputs(spec: PreprocessingSpec) -> Any:
    """One :class:`~desktop_app.core.classify.lung_fields.ModelInputs` per spec (thread-safe)."""
    from desktop_app.core.classify.lung_fields import ModelInputs

    key = spec_key(spec)
    if key not in _INPUTS:
        _INPUTS[key] = ModelInputs(spec)
    return _INPUTS[key]


def _read_disk(folder: Path, key: str) -> CachedImage | None:
    array_path, meta_path = folder / f"{key}.npy", folder / f"{key}.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        array = np.load(array_path, allow_pickle=False)
        return CachedImage(array, meta["pixel_sha1"], ImageStatistics(**meta["stats"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_disk(folder: Path, key: str, item: CachedImage) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # Write to temporary names and rename: a crash never leaves a half-written cache entry.
    tmp_array = folder / f".{key}.{os.getpid()}.npy"
    np.save(tmp_array, item.array, allow_pickle=False)
    tmp_meta = folder / f".{key}.{os.getpid()}.json"
    tmp_meta.write_text(
        json.dumps({"pixel_sha1": item.pixel_sha1, "stats": asdict(item.stats)}), encoding="utf-8"
    )
    tmp_array.replace(folder / f"{key}.npy")
    tmp_meta.replace(folder / f"{key}.json")


def load_preprocessed(
    paths: Sequence[str | Path],
    spec: PreprocessingSpec,
    *,
    cache_dir: Path | str | None = None,
    use_disk_cache: bool = True,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    workers: int | None = None,
) -> PreprocessedSet:
    """Preprocess many files, using the memory and disk caches.

    Args:
        paths: Image files.
        spec: Preprocessing spec (the model card's).
        cache_dir: Disk cache root (default :func:`default_cache_dir`).
        use_disk_cache: Read and write the ``.npy`` cache.
        progress: Called with ``(done, total)`` after each file.
        cancelled: Polled between files; when it returns True, stop.
        workers: Decoding threads (Pillow releases the GIL while decoding); default: CPUs.

    Returns:
        The arrays and facts, in ``paths`` order; unreadable files are in ``errors``.

    Raises:
        PreprocessingCancelled: If ``cancelled()`` returned True.
    """
    size = spec.input_size
    total = len(paths)
    result = PreprocessedSet(
        arrays=np.zeros((total, size, size), dtype=np.float32),
        pixel_sha1=[""] * total, file_sha1=[""] * total, stats=[None] * total,
    )
    skey = spec_key(spec)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    work = _CachedDecoder(paths, spec, skey, folder / skey, use_disk_cache, cancelled)
    threads = workers or max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done, (index, item, content, reason) in enumerate(pool.map(work, range(total)), 1):
            if reason == "cancelled":
                raise PreprocessingCancelled("preprocessing was cancelled")
            result.file_sha1[index] = content
            if item is None:
                result.errors[index] = reason
            else:
                result.arrays[index] = item.array
                result.pixel_sha1[index] = item.pixel_sha1
                result.stats[index] = item.stats
            if progress is not None:
                progress(done, total)
    return result


@dataclass(frozen=True)
class _CachedDecoder:
    """One file by index: from the memory cache, the disk cache, or decoded (and cached).

    Returns ``(index, item or None, file sha1, reason)``; the reason is ``"cancelled"`` when
    ``cancelled()`` said so, or why the file could not be read.
    """

    paths: Sequence[str | Path]
    spec: PreprocessingSpec
    skey: str
    folder: Path
    use_disk_cache: bool
    cancelled: CancelledFn | None

    def __call__(self, index: int) -> tuple[int, CachedImage | None, str, str]:
        from desktop_app.core.errors import ImageLoadError

        if self.cancelled is not None and self.cancelled():
            return index, None, "", "cancelled"
        path = self.paths[index]
        try:
            content = file_sha1(path)
        except OSError as error:
            return index, None, "", f"file cannot be read: {error.strerror or error}"
        item = _MEMORY.get((content, self.skey))
        if item is None and self.use_disk_cache:
            item = _read_disk(self.folder, content)
        if item is None:
            try:
                item = decode_one(path, self.spec)
            except ImageLoadError as error:
                return index, None, content, error.reason
            if self.use_disk_cache:
                _write_disk(self.folder, content, item)
        _MEMORY[(content, self.skey)] = item
        return index, item, content, ""


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray | None,
    num_classes: int,
    *,
    batch_size: int,
    shuffle: bool = False,
    augment: Any = None,
    sample_weights: np.ndarray | None = None,
    seed: int = 0,
) -> Any:
    """Build a ``tf.data.Dataset`` of ``(image, one_hot[, weight])`` batches from cached arrays.

    Args:
        images: ``(n, s, s)`` or ``(n, s, s, 1)`` float32 in 0..1.
        labels: ``(n,)`` class indices, or None for prediction-only datasets.
        num_classes: Width of the one-hot labels.
        batch_size: Batch size.
        shuffle: Reshuffle every epoch (seeded).
        augment: An :class:`~model_training.augmentation.AugmentationConfig` applied per
            batch, or None.
        sample_weights: Optional per-image loss weights (class balancing).
        seed: Seed for shuffling and augmentation.

    Returns:
        The dataset, batched and prefetched with ``AUTOTUNE``.
    """
    import tensorflow as tf

    from model_training.augmentation import augment_batch

    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    parts: list[Any] = [images]
    if labels is not None:
        parts.append(np.eye(num_classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)])
        if sample_weights is not None:
            parts.append(np.asarray(sample_weights, dtype=np.float32))
    dataset = tf.data.Dataset.from_tensor_slices(tuple(parts))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augment is not None and not augment.is_identity:
        counter = tf.data.Dataset.counter()
        dataset = tf.data.Dataset.zip((dataset, counter))

        def apply(batch: Any, step: Any) -> Any:
            seed_pair = tf.stack([tf.constant(seed, tf.int64), step])
            return (augment_batch(batch[0], augment, seed_pair), *batch[1:])

        dataset = dataset.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    if labels is None:
        dataset = dataset.map(lambda *batch: batch[0])
    return dataset.prefetch(tf.data.AUTOTUNE)
