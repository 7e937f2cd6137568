"""The classify path: files in, one :class:`ImageResult` per file out.

load (core loader) -> cheap OOD checks -> preprocess (the card's spec, and the view model's
own small input) -> batched LiteRT inference (classifier and view model) -> the gate combines
image, view, appearance and feature-space checks -> decision at the card's operating point
(at the thresholds for the patient's age group when the card has them: the file's own DICOM
age, else an age group the caller knows from elsewhere, e.g. a validation CSV).

Shared by the CLI, the GUI workers and the self-test, so all three answer identically.
Decoding runs in a small thread pool (Pillow and numpy release the GIL) while the calling
thread runs inference, which keeps a folder close to the speed of bare decoding.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.classify.inference import TfliteModel
from desktop_app.core.classify.lung_fields import LungSegmenterModel, ModelInputs
from desktop_app.core.decision import Decision, decide
from desktop_app.core.errors import ImageLoadError
from desktop_app.core.gate import (
    Gate,
    ImageStatistics,
    OodVerdict,
    ViewCheck,
    ViewModel,
    image_statistics,
    load_view_model,
)
from desktop_app.core.imaging import LoadedImage, load_image, model_min_side, sniff_format
from desktop_app.core.imaging.model_geometry import match_model_geometry
from desktop_app.core.model.model_bundle import ModelBundle
from desktop_app.core.patient_age import PatientAge, age_group_basis, decision_age_group
from desktop_app.core.preprocessing import PreprocessedImage

__all__ = [
    "Analyzer",
    "ExpandedInputs",
    "ImageResult",
    "decision_age_group",
    "expand_inputs",
]

#: Why a film is refused when the model frames the lungs and the segmenter finds none.
NO_LUNGS_REASON = ("no lung fields found: the lung segmenter found no lungs on this image; "
                   "LungLens reads frontal PA/AP chest films only")

ProgressCallback = Callable[[int, int], None]
CancelCallback = Callable[[], bool]


@dataclass(frozen=True)
class ExpandedInputs:
    """Files to classify after expanding folders.

    Attributes:
        files: Files to classify, in order (explicit files always included).
        skipped: Files inside folders that are clearly not images (by content), not classified.
    """

    files: list[Path]
    skipped: list[Path] = field(default_factory=list)


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> ExpandedInputs:
    """Expand folders recursively (sorted, hidden entries skipped); keep files as given.

    A file named explicitly is always returned so that it gets an answer (an error if it is
    not an image); inside folders, files whose content is not an image are skipped and listed.
    """
    files: list[Path] = []
    skipped: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.startswith("."):
                        continue
                    child = Path(root) / name
                    if sniff_format(child) is None:
                        skipped.append(child)
                    elif child not in seen:
                        seen.add(child)
                        files.append(child)
        elif path not in seen:
            seen.add(path)
            files.append(path)
    return ExpandedInputs(files, skipped)


@dataclass(frozen=True)
class ImageResult:
    """Everything LungLens says about one input file.

    Attributes:
        path: The file.
        model_id: The model that produced the result.
        error: Why the file could not be read (then everything below is empty).
        probabilities: Calibrated probabilities per class.
        decision: The decision at the operating point (``None`` if OOD or error).
        ood: The out-of-distribution verdict.
        loaded: The loaded image (kept only when asked, e.g. for the GUI's current image).
        prepared: The preprocessed model input and its geometry.
        cams: ``(h, w, classes)`` class activation maps.
        stats: Cheap image statistics used by the gate.
        age: The patient's age from the DICOM header, or why it is unknown (other formats
            carry none); picks the population whose measured figures the panel shows.
        age_group: The age group the film was decided for (:func:`decision_age_group`).
        equipment: The DICOM header's manufacturer and model ("GE Definium 8000"), when the
            file names them; ``None`` otherwise.
    """

    path: Path
    model_id: str
    error: str | None = None
    probabilities: dict[str, float] | None = None
    decision: Decision | None = None
    ood: OodVerdict | None = None
    loaded: LoadedImage | None = None
    prepared: PreprocessedImage | None = None
    cams: np.ndarray | None = None
    stats: ImageStatistics | None = None
    age: PatientAge | None = None
    age_group: str = "unknown"
    equipment: str | None = None

    @property
    def ok(self) -> bool:
        """True when the image was read and analysed."""
        return self.error is None

    @property
    def out_of_distribution(self) -> bool:
        """True when the gate refused to label the image."""
        return bool(self.ood and self.ood.out_of_distribution)

    @property
    def caution(self) -> str | None:
        """Why a labelled film is unusual ("unusual film: ...: read with care"), else ``None``.

        ``None`` for errors and refusals: a refused film has a reason, not a caution.
        """
        if not self.ok or self.out_of_distribution or self.ood is None:
            return None
        return self.ood.caution

    @property
    def thresholds_note(self) -> str:
        """Which operating thresholds decided the film, and why that set.

        For example ``"adult thresholds (COVID-19 34%, Pneumonia 52%): PatientAge 045Y"``.
        The same probabilities can give an adult and a child different labels, so every
        answer says which set applied; empty when nothing was decided (error, refusal).
        """
        if self.decision is None or self.out_of_distribution or not self.ok:
            return ""
        words = self.decision.thresholds_words()
        if not self.decision.grouped:
            return words
        return f"{words}: {age_group_basis(self.age, self.age_group)}"

    @property
    def label(self) -> str | None:
        """The label, or ``None`` for errors and out-of-distribution inputs."""
        if not self.ok or self.out_of_distribution or self.decision is None:
            return None
        return self.decision.label

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON-lines record (a contract other tools depend on)."""
        if not self.ok:
            return {"path": str(self.path), "ok": False, "error": self.error}
        return {
            "path": str(self.path),
            "ok": True,
            "label": self.label,
            "probabilities": dict(self.probabilities or {}),
            "out_of_distribution": self.out_of_distribution,
            "ood_reason": self.ood.reason if self.ood else None,
            "caution": self.caution,
            "model": self.model_id,
            "age_group": self.age_group,
            "patient_age_years": None if self.age is None or self.age.years is None
            else round(self.age.years, 2),
            "age_source": self.age.source or None if self.age is not None else None,
            "decision_reason": self.decision.reason if self.decision is not None else None,
            "thresholds": self.thresholds_note or None,
        }


@dataclass
class _Prepared:
    path: Path
    error: str | None = None
    loaded: LoadedImage | None = None
    prepared: PreprocessedImage | None = None
    stats: ImageStatistics | None = None
    verdict: OodVerdict | None = None
    age: PatientAge | None = None
    image_verdict: OodVerdict | None = None
    view_input: np.ndarray | None = None
    age_group_hint: str | None = None
    equipment: str | None = None


class Analyzer:
    """Runs the classify path with one model. Not thread-safe: one per worker thread."""

    def __init__(self, bundle: ModelBundle, *, num_threads: int | None = None,
                 view_model: ViewModel | None = None,
                 lung_segmenter: LungSegmenterModel | None = None) -> None:
        """Load the bundle's LiteRT model, the view model and the gate.

        Args:
            bundle: A verified model bundle.
            num_threads: LiteRT threads. The default is half the CPUs (at least one, at most
                four): the other half decodes the next files in :meth:`analyse`. On two cores
                a second inference thread only spins against the decoders; measured with
                ``benchmarks/classify_speed.py`` it made folders slower, not faster.
            view_model: The view model (default: the one shipped with the program, verified
                here). It never comes from the classifier's bundle, so a retrained
                classifier keeps the same view check.
            lung_segmenter: The lung segmenter, for a model whose preprocessing frames the
                lungs (default: the one shipped with the program, verified here).

        Raises:
            ModelBundleError: If the classifier, the view model or the lung segmenter the
                classifier names is missing, damaged or another one.
        """
        self.bundle = bundle
        self.card = bundle.card
        #: Shortest side decoded for the model (``load_image(min_side=...)``).
        self.min_side = model_min_side(self.card.preprocessing.input_size)
        #: The decoder: ``load_image``, or a ``ProcessDecoder`` (desktop_app.core.imaging.
        #: process_decoder) where decoding must not hold this process's interpreter lock.
        self.decode: Callable[..., LoadedImage] = load_image
        if num_threads is None:
            num_threads = max(1, min(4, (os.cpu_count() or 2) // 2))
        self.model = TfliteModel(bundle, num_threads=num_threads)
        self.view = ViewCheck(view_model if view_model is not None else load_view_model())
        self.gate = Gate(self.card.ood, self.view)
        self.inputs = ModelInputs(self.card.preprocessing, lung_segmenter)

    @property
    def model_id(self) -> str:
        """Id of the model in use."""
        return self.card.model_id

    def _prepare(self, path: Path, keep_loaded: bool, full_resolution: bool = True
                 ) -> _Prepared:
        try:
            # Only the model input and a thumbnail are needed: decode at reduced resolution
            # (JPEG / JPEG 2000 codecs decode less; see desktop_app.core.imaging).
            loaded = self.decode(path, min_side=self.min_side)
        except ImageLoadError as error:
            return _Prepared(path, error=error.reason)
        loaded = match_model_geometry(loaded, self.card.preprocessing)
        stats = image_statistics(loaded.pixels, loaded.colourfulness)
        prepared, lungs_found = self.inputs(loaded.pixels)
        if loaded.reduced:  # heat maps are drawn on the original: keep its coordinates
            prepared = replace(prepared, source_box=loaded.to_original_box(prepared.source_box))
        image_verdict = self.gate.check_image(stats)
        if not lungs_found and not image_verdict.out_of_distribution:
            image_verdict = OodVerdict(True, NO_LUNGS_REASON,
                                       values={**image_verdict.values, "lungs_found": 0.0})
        # The appearance checks run even when an image check refused: the refusal stands,
        # but site calibration needs every check's value to know whether a site's film would
        # pass the rest once its aspect or flat-area limit is the site's.
        verdict = self.gate.check_appearance(prepared.array)
        if image_verdict.out_of_distribution:
            verdict = replace(image_verdict, values={**image_verdict.values, **verdict.values})
        view_input = self.view.input_for(loaded.pixels)
        # Up to two batches wait in the pipeline: holding their full-resolution pixels
        # (12 MB for a 2000 px film, 36 MB for a 3000 px DICOM) would cost hundreds of MB.
        age = loaded.age or PatientAge.unknown(f"{loaded.format} files carry no patient age")
        equipment = " ".join(loaded.metadata[key] for key in ("Manufacturer",
                                                              "ManufacturerModelName")
                             if loaded.metadata.get(key)) or None
        if keep_loaded and loaded.reduced and full_resolution:
            # The viewer shows the full image (and the heat map on it); the model input above
            # still comes from the reduced decode, so the CLI, the batch and the viewer agree.
            try:
                loaded = self.decode(path)
            except ImageLoadError as error:
                return _Prepared(path, error=error.reason)
        return _Prepared(path, None, loaded if keep_loaded else None, prepared, stats, verdict,
                         age, image_verdict=image_verdict, view_input=view_input,
                         equipment=equipment)

    def analyse(
        self,
        paths: Sequence[Path],
        *,
        batch_size: int = 16,
        keep_loaded: bool = False,
        progress: ProgressCallback | None = None,
        cancelled: CancelCallback | None = None,
        workers: int = 2,
        age_groups: Sequence[str | None] | None = None,
    ) -> Iterator[ImageResult]:
        """Classify files, yielding results in input order as batches finish.

        Args:
            paths: Files (use :func:`expand_inputs` for folders).
            batch_size: Images per LiteRT call.
            keep_loaded: Keep the full-resolution pixels in each result (memory heavy: only
                for single images or the GUI's current selection).
            progress: Called with (done, total) after each batch.
            cancelled: Polled before each image is queued; when it returns True, no more
                results are produced (those already finished are yielded).
            workers: Decoding threads.
            age_groups: Per path, the patient's age group where the caller knows it (a
                validation CSV's ``age``/``age_group``); used only when the file itself
                carries no age (:func:`decision_age_group`).

        Yields:
            One result per path, in order, until done or cancelled.
        """
        total = len(paths)
        if age_groups is not None and len(age_groups) != total:
            raise ValueError(f"age_groups must have one entry per path ({total}). "
                             f"Received: {len(age_groups)}")
        done = 0
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="decode") as pool:
            queue = _DecodeQueue(pool, self._prepare, keep_loaded, paths, age_groups,
                                 window=max(batch_size * 2, workers * 2), cancelled=cancelled)
            queue.refill()
            while queue.pending:
                batch = queue.take(batch_size)
                yield from self._finish(batch, keep_loaded)
                done += len(batch)
                if progress is not None:
                    progress(done, total)
                if cancelled is not None and cancelled():
                    queue.cancel()
                    return

    def analyse_one(self, path: Path, *, keep_loaded: bool = True,
                    full_resolution: bool = True) -> ImageResult:
        """Classify a single file (keeping its pixels for display by default).

        Args:
            path: The file.
            keep_loaded: Keep the loaded pixels in the result.
            full_resolution: With ``keep_loaded``, decode the full image for display. False
                keeps the reduced decode the model input was made from
                (``result.loaded.reduced``; the viewer shows it while the full image is
                decoded: for a large JPEG 2000 that is seconds).
        """
        return self._finish([self._prepare(Path(path), keep_loaded, full_resolution)],
                            keep_loaded)[0]

    def _finish(self, batch: list[_Prepared], keep_loaded: bool) -> list[ImageResult]:
        readable = [item for item in batch if item.error is None]
        outputs = None
        if readable:
            arrays = np.stack([item.prepared.array for item in readable])[..., None]
            outputs = self.model.run(arrays)
            feature_verdicts = self.gate.check_features(outputs.features)
            view_verdicts = self.view.check(np.stack([item.view_input for item in readable]))
        results: list[ImageResult] = []
        position = 0
        for item in batch:
            if item.error is not None:
                results.append(ImageResult(item.path, self.model_id, error=item.error,
                                           age_group=decision_age_group(None,
                                                                        item.age_group_hint)))
                continue
            probs = outputs.probabilities[position]
            age_group = decision_age_group(item.age, item.age_group_hint)
            verdict = self.gate.combine(item.image_verdict, view_verdicts[position],
                                        item.verdict, feature_verdicts[position],
                                        self.gate.confident_frontal)
            probabilities = {
                name: float(p) for name, p in zip(self.card.classes, probs, strict=True)
            }
            decision = None if verdict.out_of_distribution else decide(
                probs, self.card.classes, self.card.decision, age_group=age_group
            )
            results.append(ImageResult(
                path=item.path,
                model_id=self.model_id,
                probabilities=probabilities,
                decision=decision,
                ood=verdict,
                loaded=item.loaded,
                prepared=item.prepared,
                cams=outputs.cams[position],
                stats=item.stats,
                age=item.age,
                age_group=age_group,
                equipment=item.equipment,
            ))
            position += 1
        return results


class _DecodeQueue:
    """Files being decoded ahead of the model, at most ``window`` at a time, in order.

    Each finished item carries its age-group hint (the caller's, for files without an age).
    """

    def __init__(self, pool: ThreadPoolExecutor, prepare: Callable[[Path, bool], Any],
                 keep_loaded: bool, paths: Sequence[Path],
                 age_groups: Sequence[str | None] | None, *, window: int,
                 cancelled: CancelCallback | None) -> None:
        self.pool = pool
        self.prepare = prepare
        self.keep_loaded = keep_loaded
        self.paths = iter(paths)
        self.hints = iter(age_groups) if age_groups is not None else None
        self.hint_of: dict[Any, str | None] = {}
        self.window = window
        self.cancelled = cancelled
        self.pending: list[Any] = []

    def refill(self) -> None:
        """Queue files until the window is full, the files run out or cancel is asked."""
        while len(self.pending) < self.window:
            if self.cancelled is not None and self.cancelled():
                return
            path = next(self.paths, None)
            if path is None:
                return
            future = self.pool.submit(self.prepare, Path(path), self.keep_loaded)
            self.hint_of[future] = next(self.hints) if self.hints is not None else None
            self.pending.append(future)

    def take(self, count: int) -> list[Any]:
        """The next ``count`` prepared items (waiting for them), the window refilled first."""
        take = self.pending[:count]
        del self.pending[:count]
        self.refill()
        batch = [future.result() for future in take]
        for future, item in zip(take, batch, strict=True):
            item.age_group_hint = self.hint_of.pop(future)
        return batch

    def cancel(self) -> None:
        """Cancel the files not started yet."""
        for future in self.pending:
            future.cancel()
