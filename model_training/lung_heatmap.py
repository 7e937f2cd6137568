"""How much of the app's heat map falls inside the lungs, measured on films with lung masks.

A model that learned shortcuts (hospital, age, burnt-in labels, tubes) instead of lung findings
puts its class activation map on the mediastinum, the abdomen, the borders or the text. The
figure here is the **share of heat-map mass inside the lung fields**: ``sum(heat * lung) /
sum(heat)``. A map spread evenly over the film scores the lungs' share of the image area, so
every figure is reported next to that area share; a model looking at the lungs scores well
above it.

The heat map is exactly the one the app draws: the image goes through
:func:`desktop_app.core.imaging.load_image` and
:class:`desktop_app.core.classify.lung_fields.ModelInputs` with the bundle card's spec, the LiteRT
model
gives the CAMs, the card's operating point (:func:`desktop_app.core.decision.decide`) picks
the class the app shows, and :func:`desktop_app.core.classify.heatmap.heatmap_for_original` maps
that
class's CAM onto the original pixels. The out-of-distribution gate is not applied: every
masked film is measured.

Because a CAM is coarse (6x6 cells for a 192 px input), even a map that is the lung mask
itself spills over the lung borders once it is upsampled. Each image therefore also gets a
*reference* share: the share of a map made from the lung mask averaged onto the model's CAM
grid and drawn by the same function. It is what "the evidence is the lungs, nothing else"
looks like at this resolution; it is not a strict upper bound.

Lung masks: torchxrayvision's ``semantic_masks_v7labs_lungs.zip`` (Apache-2.0; 517 masks for
images of the ieee8023 COVID-19 image data collection, original resolution). Pixels of 255 are
lung; 127 marks a few other regions (on the films we looked at: pacemakers, arrows, burnt-in
labels) and counts as outside the lungs.
:func:`load_lung_masks` reads them straight from the wheel, the zip or an extracted folder and
keys them by the name the LungLens dataset gives the same image. No TensorFlow and no Qt here:
the classify path is the app's LiteRT one.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from desktop_app.core.classify.heatmap import heatmap_for_original
from desktop_app.core.classify.inference import TfliteModel
from desktop_app.core.classify.lung_fields import ModelInputs
from desktop_app.core.decision import decide
from desktop_app.core.errors import ImageLoadError
from desktop_app.core.imaging import load_image
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.patient_age import decision_age_group
from desktop_app.core.preprocessing import PreprocessedImage
from model_training.datasets import read_dataset

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MASKS_ZIP",
    "SUBSETS",
    "LungMasks",
    "audit",
    "dataset_file_name",
    "load_lung_masks",
    "lung_area_share",
    "lung_mass_share",
]

#: The file inside the torchxrayvision wheel that holds the masks.
MASKS_ZIP = "semantic_masks_v7labs_lungs.zip"
#: ``subset`` values of :func:`audit` -> the ``Dataset_type`` rows they select (None: all).
SUBSETS: dict[str, str | None] = {"test": "TEST", "train": "TRAIN", "all": None}
#: Prefix of the dataset's ieee8023 file names (see the dataset README).
IEEE8023_PREFIX = "ieee8023_"
#: Mask pixels above this are lung. Lung is 255 and other annotations 127; the midpoint keeps
#: JPEG-compressed masks (whose 255 drifts by a few levels) reading the same.
LUNG_LEVEL = 191
MASK_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif"})
#: Largest relative aspect-ratio difference between mask and image accepted as the same film.
ASPECT_TOLERANCE = 0.02

_NOT_NAME_CHAR = re.compile(r"[^A-Za-z0-9_-]")


def dataset_file_name(original: str) -> str:
    """The LungLens dataset's name for an ieee8023 file.

    The dataset keeps the original stem with every character other than ASCII letters, digits,
    ``-`` and ``_`` replaced by ``_`` and saves JPEG, so ``"a b.PNG"`` becomes
    ``"ieee8023_a_b.jpg"``.
    """
    stem = PurePosixPath(original.replace("\\", "/")).stem
    return f"{IEEE8023_PREFIX}{_NOT_NAME_CHAR.sub('_', stem)}.jpg"


class LungMasks(Mapping[str, bytes]):
    """Lung masks keyed by dataset file name; the values are the encoded mask files.

    Kept as bytes (about 2 MB for all 517) so that nothing has to be extracted to disk and a
    mask is decoded only when an image needs it. :meth:`load` decodes one.
    """

    def __init__(self, files: Mapping[str, bytes], members: Mapping[str, str],
                 source: Path) -> None:
        self._files = dict(files)
        self._members = dict(members)
        self.source = source

    def __getitem__(self, name: str) -> bytes:
        return self._files[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def member(self, name: str) -> str:
        """The mask's own file name inside the source (for reports)."""
        return self._members[name]

    def load(self, name: str) -> np.ndarray:
        """Decode one mask: bool ``(height, width)`` at the original film's size, True = lung.

        Raises:
            KeyError: If no mask has that dataset name.
        """
        with Image.open(io.BytesIO(self._files[name])) as image:
            pixels = np.asarray(image.convert("L"))
        return pixels > LUNG_LEVEL


def _is_mask_name(name: str) -> bool:
    path = PurePosixPath(name)
    return (path.suffix.lower() in MASK_SUFFIXES and not path.name.startswith(".")
            and "__MACOSX" not in path.parts)


def _add(found: dict[str, tuple[str, bytes]], original: str, data: bytes) -> None:
    key = dataset_file_name(original)
    if key in found and found[key][0] != original:
        raise ValueError(
            f"mask files {found[key][0]!r} and {original!r} both map to the dataset name {key!r}"
        )
    found[key] = (original, data)


def _read_zip(archive: zipfile.ZipFile, found: dict[str, tuple[str, bytes]]) -> None:
    members = [info for info in archive.infolist() if not info.is_dir()]
    images = [info for info in members if _is_mask_name(info.filename)]
    for info in images:
        _add(found, PurePosixPath(info.filename).name, archive.read(info))
    if images:
        return
    # A wheel holds the masks as a zip inside the zip: read it in memory, never extract.
    for info in members:
        if PurePosixPath(info.filename).name == MASKS_ZIP:
            with zipfile.ZipFile(io.BytesIO(archive.read(info))) as inner:
                _read_zip(inner, found)
            return


def load_lung_masks(source: Path | str) -> LungMasks:
    """Read lung masks from the torchxrayvision wheel, its masks zip, or an extracted folder.

    Args:
        source: ``torchxrayvision-*.whl``, ``semantic_masks_v7labs_lungs.zip``, or a folder
            holding the mask images (any depth) or one of those archives.

    Returns:
        The masks keyed by :func:`dataset_file_name` of each mask's file name.

    Raises:
        FileNotFoundError: If ``source`` does not exist.
        ValueError: If it holds no mask images, or two masks map to one dataset name.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"lung mask source does not exist: {str(source)!r}")
    found: dict[str, tuple[str, bytes]] = {}
    if source.is_dir():
        files = sorted(p for p in source.rglob("*")
                       if p.is_file() and _is_mask_name(p.relative_to(source).as_posix()))
        for path in files:
            _add(found, path.name, path.read_bytes())
        if not files:
            for archive in sorted(source.rglob("*")):
                if archive.suffix.lower() in (".zip", ".whl") and zipfile.is_zipfile(archive):
                    with zipfile.ZipFile(archive) as opened:
                        _read_zip(opened, found)
                    if found:
                        break
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as opened:
            _read_zip(opened, found)
    else:
        raise ValueError(
            f"lung mask source must be a folder, a zip or a wheel. Received: {str(source)!r}"
        )
    if not found:
        raise ValueError(f"no mask images ({', '.join(sorted(MASK_SUFFIXES))}) found in "
                         f"{str(source)!r}")
    return LungMasks({k: v[1] for k, v in found.items()}, {k: v[0] for k, v in found.items()},
                     source)


def _fit_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``mask`` (non-zero = lung) as bool at ``shape``, resized with nearest neighbour."""
    array = np.asarray(mask)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"mask must be a non-empty 2-D array. Received shape {array.shape}")
    lung = array != 0
    height, width = shape
    if lung.shape != (height, width):
        image = Image.fromarray(lung.astype(np.uint8) * 255)
        lung = np.asarray(image.resize((width, height), Image.Resampling.NEAREST)) > 0
    return lung


def lung_mass_share(heat: np.ndarray, mask: np.ndarray) -> float:
    """Share of the heat map's mass that lies inside the lung mask.

    Args:
        heat: 2-D heat map; negative values count as zero (the app shows only positive
            evidence).
        mask: 2-D lung mask, non-zero = lung, any size; resized to ``heat`` with nearest
            neighbour (masks are at the original film's size, heat maps at the loaded one's).

    Returns:
        ``sum(heat * lung) / sum(heat)`` in 0..1; NaN when the heat map is all zero, because
        a map that points nowhere is neither inside nor outside.

    Raises:
        ValueError: If an array is not 2-D or ``heat`` holds NaN or infinity.
    """
    values = np.asarray(heat, dtype=np.float64)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"heat map must be a non-empty 2-D array. Received shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"heat map holds {int((~np.isfinite(values)).sum())} non-finite value(s)")
    values = np.maximum(values, 0.0)
    total = float(values.sum())
    if total <= 0.0:
        return float("nan")
    inside = float(values[_fit_mask(mask, values.shape)].sum())
    return min(1.0, inside / total)


def lung_area_share(mask: np.ndarray, shape: tuple[int, int] | None = None) -> float:
    """Share of the image area the lung mask covers: what a uniform heat map would score.

    Args:
        mask: 2-D lung mask, non-zero = lung.
        shape: ``(height, width)`` to measure at (the heat map's); default the mask's own.
    """
    array = np.asarray(mask)
    return float(_fit_mask(array, shape or array.shape).mean())


def _reference_heat(lung: np.ndarray, prepared: PreprocessedImage, cam_shape: tuple[int, int],
                    original_size: tuple[int, int]) -> np.ndarray:
    """The lung mask as a CAM: averaged onto the model's CAM grid, drawn like the app's map."""
    left, top, right, bottom = prepared.content_box
    s_left, s_top, s_right, s_bottom = prepared.source_box
    size = prepared.array.shape[0]
    crop = Image.fromarray(lung[s_top:s_bottom, s_left:s_right].astype(np.float32))
    placed = np.zeros((size, size), dtype=np.float32)
    placed[top:bottom, left:right] = np.asarray(
        crop.resize((right - left, bottom - top), Image.Resampling.BOX), dtype=np.float32)
    cam_height, cam_width = cam_shape
    cam = Image.fromarray(placed).resize((cam_width, cam_height), Image.Resampling.BOX)
    return heatmap_for_original(np.asarray(cam, dtype=np.float32), prepared, original_size)


def _summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    shares = np.array([r["share"] for r in rows], dtype=np.float64)
    measured = shares[~np.isnan(shares)]

    def mean(key: str) -> float:
        values = np.array([r[key] for r in rows], dtype=np.float64)
        values = values[~np.isnan(values)]
        return float(values.mean()) if values.size else float("nan")

    return {
        "n": len(rows),
        "patients": len({r["patient_id"] for r in rows}),
        "empty_heat": int(np.isnan(shares).sum()),
        "mean_share": float(measured.mean()) if measured.size else float("nan"),
        "median_share": float(np.median(measured)) if measured.size else float("nan"),
        "majority_inside": float((measured > 0.5).mean()) if measured.size else float("nan"),
        "mean_lung_area": mean("lung_area"),
        "mean_reference_share": mean("reference_share"),
    }


def audit(
    bundle_dir: Path | str,
    data_dir: Path | str,
    masks: LungMasks | Path | str,
    *,
    subset: str = "test",
    batch_size: int = 16,
    num_threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Measure the lung share of the app's heat map on every masked film of a split.

    Args:
        bundle_dir: The model bundle.
        data_dir: A dataset in any layout :func:`model_training.datasets.read_dataset` reads;
            images are matched to masks by file name.
        masks: :func:`load_lung_masks`'s result, or a source to load it from.
        subset: ``"test"``, ``"train"`` or ``"all"`` (``Dataset_type`` rows).
        batch_size: Images per LiteRT call.
        num_threads: LiteRT threads (default: the app's choice).
        progress: Called with ``(done, total)`` after every batch.

    Returns:
        ``{"model_id", "classes", "subset", "cam_shape", "rows", "skipped", "summary"}``.
        Each row: ``name``, ``patient_id``, ``true_class``, ``shown_class``, ``uncertain``,
        ``probability`` (of the shown class), ``share``, ``lung_area``, ``reference_share``.
        ``skipped``: ``{"name", "reason"}`` for films that could not be measured. ``summary``:
        ``{"all": s, "by_true_class": {class: s}, "by_shown_class": {class: s}}`` where ``s``
        has ``n``, ``patients``, ``empty_heat`` (all-zero maps, left out of the share
        figures), ``mean_share``, ``median_share``, ``majority_inside`` (fraction of films
        with more than half the mass inside the lungs), ``mean_lung_area`` and
        ``mean_reference_share``.

    Raises:
        ValueError: If ``subset`` or ``batch_size`` is invalid.
    """
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {tuple(SUBSETS)}. Received: subset={subset!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1. Received: batch_size={batch_size!r}")
    if not isinstance(masks, LungMasks):
        masks = load_lung_masks(masks)
    bundle = load_bundle(bundle_dir)
    model = TfliteModel(bundle, num_threads=num_threads)
    inputs = ModelInputs(bundle.card.preprocessing)
    table = _masked_table(data_dir, subset, masks)
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    cam_shape: tuple[int, int] | None = None
    total = len(table)
    for start in range(0, total, batch_size):
        batch = _prepared_batch(table.iloc[start:start + batch_size], masks, inputs, skipped)
        if batch:
            cam_shape = _measure_batch(batch, model, bundle.card, rows)
        if progress is not None:
            progress(min(start + batch_size, total), total)
    return _audit_result(bundle, subset, cam_shape, rows, skipped, table)


def _masked_table(data_dir: Path | str, subset: str, masks: LungMasks) -> pd.DataFrame:
    """The subset's rows whose file has a lung mask, sorted by path."""
    table = read_dataset(data_dir)
    split = SUBSETS[subset]
    if split is not None:
        table = table[table["split"] == split]
    names = table["path"].map(lambda p: Path(p).name)
    return table[names.isin(set(masks))].sort_values("path").reset_index(drop=True)


def _prepared_batch(records: pd.DataFrame, masks: LungMasks, inputs: ModelInputs,
                    skipped: list[dict[str, str]]
                    ) -> list[tuple[Any, Any, np.ndarray, PreprocessedImage]]:
    """Load and preprocess a batch's films; a film that fails or whose mask differs is skipped."""
    prepared_batch: list[tuple[Any, Any, np.ndarray, PreprocessedImage]] = []
    for record in records.itertuples(index=False):
        name = Path(record.path).name
        try:
            loaded = load_image(record.path)
        except ImageLoadError as error:
            skipped.append({"name": name, "reason": str(error)})
            continue
        lung = masks.load(name)
        width, height = loaded.original_size
        mask_ratio, image_ratio = lung.shape[1] / lung.shape[0], width / height
        if abs(mask_ratio - image_ratio) > ASPECT_TOLERANCE * image_ratio:
            skipped.append({"name": name, "reason": (
                f"mask {masks.member(name)!r} is {lung.shape[1]}x{lung.shape[0]}, the image "
                f"{width}x{height}: different aspect ratio, not the same film")})
            continue
        prepared, _ = inputs(loaded.pixels)
        prepared_batch.append((record, loaded, lung, prepared))
    return prepared_batch


def _measure_batch(batch: list[tuple[Any, Any, np.ndarray, PreprocessedImage]],
                   model: TfliteModel, card: Any, rows: list[dict[str, Any]]
                   ) -> tuple[int, int]:
    """Run the batch; add one row per film to ``rows``; the heat maps' (CAM) shape."""
    outputs = model.run(np.stack([item[3].array for item in batch])[..., None])
    cam_shape = (int(outputs.cams.shape[1]), int(outputs.cams.shape[2]))
    for (record, loaded, lung, prepared), probabilities, cams in zip(
            batch, outputs.probabilities, outputs.cams, strict=True):
        decision = decide(probabilities, card.classes, card.decision,
                          age_group=decision_age_group(loaded.age, None))
        index = card.classes.index(decision.label)
        size = loaded.original_size
        heat = heatmap_for_original(cams[..., index], prepared, size)
        fitted = _fit_mask(lung, heat.shape)
        rows.append({
            "name": Path(record.path).name,
            "patient_id": record.patient_id,
            "true_class": str(record.label),
            "shown_class": decision.label,
            "uncertain": decision.uncertain,
            "probability": float(probabilities[index]),
            "share": lung_mass_share(heat, fitted),
            "lung_area": lung_area_share(fitted),
            "reference_share": lung_mass_share(
                _reference_heat(fitted, prepared, cam_shape, size), fitted),
        })
    return cam_shape


def _audit_result(bundle: Any, subset: str, cam_shape: tuple[int, int] | None,
                  rows: list[dict[str, Any]], skipped: list[dict[str, str]],
                  table: pd.DataFrame) -> dict[str, Any]:
    """The audit's document: the rows, the skipped films and the summaries."""
    classes = list(bundle.card.classes)
    true_classes = [c for c in table["label"].cat.categories if any(
        r["true_class"] == c for r in rows)]
    return {
        "model_id": bundle.model_id,
        "classes": classes,
        "subset": subset,
        "cam_shape": cam_shape,
        "rows": rows,
        "skipped": skipped,
        "summary": {
            "all": _summary(rows),
            "by_true_class": {c: _summary([r for r in rows if r["true_class"] == c])
                              for c in true_classes},
            "by_shown_class": {c: _summary([r for r in rows if r["shown_class"] == c])
                               for c in classes if any(r["shown_class"] == c for r in rows)},
        },
    }
