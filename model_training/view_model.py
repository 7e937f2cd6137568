"""Train and export the view model: "is this a frontal PA/AP chest film?".

The model ships in ``resources/view_model/`` (read by :mod:`desktop_app.core.gate.view`). Its
four classes are ``frontal``, ``lateral``, ``rotated`` (turned by 90°) and ``other`` (another
body part, a heavily cropped part of a chest film, or not a radiograph at all).

Only 22 real lateral films of 17 patients exist in the shared data, so the material is built:

* **frontal**: TRAIN-split films of every source of the chest X-ray dataset (capped per
  source so that Kermany and NIH do not drown the small web sources), mildly augmented, plus
  the program's own synthetic radiograph (which the self-test classifies);
* **lateral**: the real laterals of the training patients, each in many augmented copies
  (crops, mirrors, contrast and gamma changes, small rotations, borders, lower resolution),
  plus the synthetic lateral sketches of the OOD evaluation's development half;
* **rotated**: other TRAIN frontal films and the training laterals turned by 90° or 270°;
* **other**: the development half of the OOD evaluation set
  (``model_training/non_chest/``: photos, charts, documents, screenshots, noise,
  CT/MR, other radiographs) and heavily cropped or zoomed regions of frontal films.

A part of the lateral patients is held out (never trained on) and reported in the card; the
OOD set's held-out half and the dataset's TEST split are never used here, so
``benchmarks/view_check.py`` measures on material the model has not seen. TensorFlow is
imported lazily: importing this module costs nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from desktop_app import __version__
from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.gate.view import (
    FRONTAL,
    SUBSAMPLE_FACTOR,
    VIEW_CARD_FILE,
    VIEW_CARD_FORMAT,
    VIEW_CLASSES,
    VIEW_INPUT_NAME,
    VIEW_OUTPUT_NAME,
    VIEW_SIGNATURE,
    VIEW_TFLITE_FILE,
    view_input,
)
from desktop_app.core.hashing import sha256_file
from desktop_app.core.imaging import load_image, model_min_side
from desktop_app.core.preprocessing import PreprocessingSpec
from model_training.non_chest_images import NonChestImage
from model_training.tflite_export import keras_to_tflite, run_signature
from model_training.view_synthesis import (
    annotated,
    light_box_photo,
    marked_lateral,
    multi_panel,
    rewindow,
    topogram,
    viewer_screenshot,
    with_scout_inset,
)
from model_training.ward_films import ward_film

__all__ = [
    "ViewMaterial",
    "ViewTrainingCancelled",
    "ViewTrainingConfig",
    "build_material",
    "fit_view_model",
    "train_view_model",
    "view_metrics",
]

ProgressCallback = Callable[[str, int, int], None]
CancelCallback = Callable[[], bool]
_LABEL = {name: index for index, name in enumerate(VIEW_CLASSES)}
#: The classify path decodes at reduced resolution for the default 224 px classifier; the
#: training images are loaded the same way so the view input looks the same.
_DECODE_MIN_SIDE = model_min_side(224)
#: Sources with more TRAIN films than this get one augmented copy of each, smaller ones three.
_LARGE_SOURCE = 800
#: Long side (at most about) of the working copy every augmentation starts from.
_WORKING_SIDE = 320


class ViewTrainingCancelled(Exception):  # noqa: N818 - mirrors TrainingCancelled
    """Raised inside the loop when the cancel callback says so."""


@dataclass(frozen=True)
class ViewTrainingConfig:
    """Settings of one view-model training run (saved in the card).

    Attributes:
        input_size: Side of the model input.
        epochs: Training epochs.
        batch_size: Images per step.
        learning_rate: Adam learning rate (cosine decay to zero).
        seed: Seed of every random choice.
        held_out_lateral_patients: Lateral patients never trained on, reported in the card.
        lateral_copies: Augmented copies of each training lateral.
        frontal_per_source: At most this many frontal films per source.
        rotated_per_source: At most this many films per source turned by 90°.
        crops_per_source: At most this many heavily cropped regions per source.
        ood_copies: Augmented copies of each development-half OOD image.
        validation_fraction: Share of the TRAIN patients used to choose the threshold.
        max_validation_flagged: Largest share of validation frontal films the caution
            threshold may flag; it is ``confident_frontal`` unless that flags more.
        refuse_below: Frontal probability below which a film is refused (between it and
            the caution threshold the film is answered with a caution): at 0.25 another view
            is at least three times as likely as a frontal film.
        confident_frontal: At or above this frontal probability the view check vouches for
            the film: one distance check's refusal becomes a caution
            (:func:`desktop_app.core.gate.gate.agreement`). It must lie above, with a margin,
            every frontal probability that a view model trained without a category gives an
            image of that category which a distance check refuses (the held-out-category
            runs, docs/ood_evaluation.md); below it the view check cautions.
        ward_copies: Bedside versions (:func:`model_training.ward_films.ward_film`) of each
            training frontal film.
        exclude_sources: Sources whose films are left out of the material (leave-one-source-
            out measurement of the view check).
        non_chest_copies: Augmented copies (other windows, crops, mirrors) of each trained
            real CT, MR or ultrasound image.
        scout_copies: Copies of each trained real CT or MR slice with a scout inset.
        panels: Multi-panel journal figures (CT, MR, ultrasound or chest films).
        screenshots: PACS-viewer screenshots around a frontal film or a CT slice.
        topograms: CT scout views made from frontal films.
        light_box_photos: Photos of frontal films on a light box.
        marked_lateral_copies: Copies of each training lateral with markers, new crops and
            contrast (on top of ``lateral_copies``).
        annotated_fraction: Share of training frontal films that also get a copy with boxes,
            circles, arrows or letters drawn on (journal figures have them; the synthesised
            "other" images have boxes and lines too).
        exclude_families: Families of material left out of training (``ct``, ``us``, ``mr``,
            ...; see :attr:`ViewMaterial.family`): leave-one-category-out measurement, the
            estimate for a kind of image nobody thought of.
    """

    input_size: int = 64
    epochs: int = 18
    batch_size: int = 64
    learning_rate: float = 3e-3
    seed: int = 2026
    held_out_lateral_patients: int = 5
    lateral_copies: int = 60
    frontal_per_source: int = 2100
    rotated_per_source: int = 120
    crops_per_source: int = 110
    ood_copies: int = 4
    validation_fraction: float = 0.15
    max_validation_flagged: float = 0.005
    refuse_below: float = 0.25
    confident_frontal: float = 0.99
    ward_copies: int = 2
    exclude_sources: tuple[str, ...] = ()
    non_chest_copies: int = 30
    scout_copies: int = 3
    panels: int = 700
    screenshots: int = 500
    topograms: int = 400
    light_box_photos: int = 400
    marked_lateral_copies: int = 25
    annotated_fraction: float = 0.35
    exclude_families: tuple[str, ...] = ()

    @property
    def preprocessing(self) -> PreprocessingSpec:
        """The view model's own preprocessing spec (recorded in its card)."""
        # Min-max, not percentiles: np.percentile alone would cost 0.2 ms per image, and the
        # model learns on the same stretch it is served with.
        return PreprocessingSpec(input_size=self.input_size, resize="pad",
                                 interpolation="bilinear", intensity="minmax")


@dataclass
class ViewMaterial:
    """Inputs and labels for training, validation and the held-out report.

    Attributes:
        inputs: ``(n, s, s)`` float32 view inputs.
        labels: ``(n,)`` class indices into :data:`VIEW_CLASSES`.
        split: ``(n,)`` ``"train"``, ``"validation"``, ``"validation_ward"`` or
            ``"held_out"``.
        origin: ``(n,)`` where each input came from (source name, ``lateral``, OOD category,
            ``CT chest`` ...).
        family: ``(n,)`` the kind of image, for leaving a whole kind out of training:
            ``frontal``, ``lateral``, ``rotated``, ``crop``, ``ct``, ``mr``, ``us``,
            ``figure``, ``screenshot``, ``topogram``, ``photo``, ``other``.
        held_out_patients: Lateral patient ids never trained on.
        held_out_files: Their files.
        held_out_cases: Non-chest case ids never trained on.
        counts: Inputs per (split, class, origin) for the card.
    """

    inputs: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    origin: np.ndarray
    family: np.ndarray
    held_out_patients: list[str]
    held_out_files: list[str]
    held_out_cases: list[str]
    counts: dict[str, int]

    def training_mask(self, exclude_families: Sequence[str] = ()) -> np.ndarray:
        """Rows trained on: the ``train`` split without the excluded families."""
        return (self.split == "train") & ~np.isin(self.family, list(exclude_families))


# ------------------------------------------------------------------------------ augmentation


def _augment(pixels: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A random crop / mirror / rotation / contrast / border / resolution change.

    ``strength`` 0..1 scales every change: frontal films get mild ones (they must stay
    recognisable as the films the app reads), the few real laterals strong ones (so that the
    model learns the view, not these 17 patients).
    """
    image = np.asarray(pixels, dtype=np.float32)
    height, width = image.shape
    crop = 0.18 * strength
    top, bottom, left, right = (rng.uniform(0, crop) for _ in range(4))
    image = image[int(top * height):height - int(bottom * height),
                  int(left * width):width - int(right * width)]
    if rng.random() < 0.5:
        image = image[:, ::-1]
    if rng.random() < 0.6:
        angle = rng.uniform(-12, 12) * strength
        image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).rotate(
            angle, resample=Image.Resampling.BILINEAR, fillcolor=0.0), dtype=np.float32)
    gamma = float(np.exp(rng.uniform(-0.6, 0.6) * strength))
    image = np.clip(image, 0.0, 1.0) ** gamma
    low, high = rng.uniform(0, 0.15 * strength), 1.0 - rng.uniform(0, 0.15 * strength)
    image = low + (high - low) * image
    if rng.random() < 0.3 * strength:  # journal-figure borders, white or black
        pad = int(rng.uniform(0.02, 0.08) * max(image.shape))
        image = np.pad(image, pad, constant_values=float(rng.random() < 0.5))
    if rng.random() < 0.4:  # a smaller original (web copies, reduced decodes)
        long_side = int(rng.uniform(120, 300))
        scale = long_side / max(image.shape)
        if scale < 1.0:
            size = (max(8, round(image.shape[1] * scale)), max(8, round(image.shape[0] * scale)))
            image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(
                size, Image.Resampling.BILINEAR), dtype=np.float32)
    if rng.random() < 0.3:
        image = image + rng.normal(0.0, 0.02 * strength, image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0)


def _tight_framing(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A frontal film framed tightly: less above the apices, no abdomen, narrow sides."""
    height, width = pixels.shape
    top, bottom = int(rng.uniform(0.0, 0.15) * height), int(rng.uniform(0.05, 0.3) * height)
    left, right = int(rng.uniform(0.0, 0.1) * width), int(rng.uniform(0.0, 0.1) * width)
    return pixels[top:height - bottom, left:width - right]


def _zoomed_region(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A heavily cropped part of a film (15-40 % of each side): not a whole chest.

    Tightly framed whole chests (lungs filling a landscape frame) are frontal films and are
    taught as such by :func:`_tight_framing`; these regions show a sixth of the film or less.
    """
    height, width = pixels.shape
    frac_h, frac_w = rng.uniform(0.15, 0.4), rng.uniform(0.15, 0.4)
    crop_h, crop_w = max(8, int(frac_h * height)), max(8, int(frac_w * width))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    return pixels[top:top + crop_h, left:left + crop_w]


# ------------------------------------------------------------------------------ material


def _patient_fraction(patient: str, seed: int) -> float:
    """A stable pseudo-random number in 0..1 per patient (split by patient, never by image)."""
    digest = hashlib.sha256(f"{seed}:{patient}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError as error:
        raise ValueError(f"{path}: metadata file not found") from error


#: File stems of the OOD set's development half that are ultrasound or MR (the rest of its
#: ``ct_mr`` category is CT); leave-one-category-out needs to know.
_OOD_ULTRASOUND = ("examples_palette", "examples_rgb_color", "examples_jpeg2k",
                   "examples_ybr_color", "ultrasound_fan")
_OOD_MR = ("MR_small", "mri_s1045", "examples_overlay")


def _ood_family(path: Path, category: str) -> str:
    """The family of a generated OOD image (see :attr:`ViewMaterial.family`)."""
    stem = path.stem
    if any(stem.startswith(name) for name in _OOD_ULTRASOUND):
        return "us"
    if category == "ct_mr":
        return "mr" if any(stem.startswith(name) for name in _OOD_MR) else "ct"
    if stem.startswith("lateral"):
        return "lateral"
    if "_rot" in stem:
        return "rotated"
    return {"screenshot": "screenshot", "photo_colour": "photo",
            "photo_gray": "photo"}.get(category, "other")


class _Builder:
    """Collects inputs while the material is built; one random generator for everything."""

    def __init__(self, config: ViewTrainingConfig) -> None:
        self.config = config
        self.spec = config.preprocessing
        self.rng = np.random.default_rng(config.seed)
        self.inputs: list[np.ndarray] = []
        self.labels: list[int] = []
        self.splits: list[str] = []
        self.origins: list[str] = []
        self.families: list[str] = []
        #: Working copies kept for the synthesised material, by family.
        self.pools: dict[str, list[np.ndarray]] = {}

    def add(self, pixels: np.ndarray, label: str, split: str, origin: str,
            family: str) -> None:
        self.inputs.append(view_input(pixels, self.spec))
        self.labels.append(_LABEL[label])
        self.splits.append(split)
        self.origins.append(origin)
        self.families.append(family)

    def keep(self, family: str, pixels: np.ndarray, limit: int) -> None:
        pool = self.pools.setdefault(family, [])
        if len(pool) < limit:
            pool.append(pixels)

    def pick(self, family: str) -> np.ndarray:
        pool = self.pools[family]
        return pool[int(self.rng.integers(0, len(pool)))]


def _load(path: Path) -> np.ndarray:
    """The working copy of an image: decoded as the classify path does, then subsampled."""
    pixels = load_image(path, min_side=_DECODE_MIN_SIDE).pixels
    # Augment at the resolution the view input is made from (the app subsamples the same
    # way): several times cheaper than augmenting the decoded image.
    stride = max(1, max(pixels.shape) // _WORKING_SIDE)
    return np.ascontiguousarray(pixels[::stride, ::stride])


def _frontal_jobs(data_dir: Path, config: ViewTrainingConfig, rng: np.random.Generator
                  ) -> tuple[list[tuple[str, Path, str]], dict[str, int]]:
    """Frontal, rotated and crop jobs from the TRAIN rows; also each source's film count."""
    rows = [r for r in _read_csv(data_dir / "metadata.csv")
            if r["Dataset_type"].strip() == "TRAIN"
            and r["source"] not in config.exclude_sources]
    if not rows:
        raise ValueError(f"{data_dir / 'metadata.csv'}: no TRAIN rows"
                         + (f" outside {list(config.exclude_sources)}"
                            if config.exclude_sources else ""))
    by_source: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    jobs: list[tuple[str, Path, str]] = []  # (kind, path, origin)
    for source, source_rows in sorted(by_source.items()):
        order = rng.permutation(len(source_rows))
        chosen = [source_rows[i] for i in order]
        frontal = chosen[:config.frontal_per_source]
        rest = chosen[config.frontal_per_source:] or chosen  # small sources reuse films
        for row in frontal:
            split = ("validation" if _patient_fraction(row["patient_id"], config.seed + 1)
                     < config.validation_fraction else "train")
            jobs.append((f"frontal:{split}", data_dir / "images" / row["X_ray_image_name"],
                         source))
        for row in rest[:config.rotated_per_source]:
            jobs.append(("rotated", data_dir / "images" / row["X_ray_image_name"], source))
        for row in rest[::-1][:config.crops_per_source]:
            jobs.append(("crop", data_dir / "images" / row["X_ray_image_name"], source))
    return jobs, {source: len(source_rows) for source, source_rows in by_source.items()}


def _add_frontal(b: _Builder, pixels: np.ndarray, split: str, origin: str,
                 source_size: int) -> None:
    rng = b.rng
    b.add(pixels, FRONTAL, split, origin, "frontal")
    if split != "train":  # bedside versions of unseen films: reported, never for a threshold
        b.add(ward_film(pixels, rng), FRONTAL, "validation_ward", f"{origin} ward", "frontal")
        return
    b.keep("frontal", pixels, 600)
    # Small web sources (figures, borders, arrows) need more than one look.
    copies = 1 if source_size > _LARGE_SOURCE else 3
    for _ in range(copies):
        b.add(_augment(pixels, rng, 0.5), FRONTAL, split, origin, "frontal")
    b.add(_augment(_tight_framing(pixels, rng), rng, 0.3), FRONTAL, split, origin, "frontal")
    if rng.random() < b.config.annotated_fraction:
        b.add(_augment(annotated(pixels, rng), rng, 0.3), FRONTAL, split,
              f"{origin} annotated", "frontal")
    for _ in range(b.config.ward_copies * copies):
        b.add(ward_film(pixels, rng), FRONTAL, split, f"{origin} ward", "frontal")


def _add_lateral(b: _Builder, pixels: np.ndarray, held_out: bool) -> None:
    rng, config = b.rng, b.config
    if held_out:
        b.add(pixels, "lateral", "held_out", "lateral", "lateral")
        return
    b.keep("lateral", pixels, 100)
    b.add(pixels, "lateral", "train", "lateral", "lateral")
    for _ in range(config.lateral_copies):
        b.add(_augment(pixels, rng, 1.0), "lateral", "train", "lateral", "lateral")
    for _ in range(config.marked_lateral_copies):
        b.add(_augment(marked_lateral(pixels, rng), rng, 0.4), "lateral", "train",
              "lateral marked", "lateral")
    for turn in (1, -1):
        for _ in range(3):
            b.add(_augment(np.rot90(pixels, turn), rng, 0.6), "rotated", "train",
                  "lateral rotated", "rotated")
    for _ in range(3):
        b.add(_augment(_zoomed_region(pixels, rng), rng, 0.3), "other", "train",
              "lateral crop", "crop")


def _add_non_chest(b: _Builder, pixels: np.ndarray, image: NonChestImage) -> None:
    """A real CT, MR or ultrasound image: held out as it is, or trained in many copies."""
    if image.held_out:
        b.add(pixels, "other", "held_out", image.category, image.family)
        return
    rng, config = b.rng, b.config
    b.keep(image.family, pixels, 200)
    b.add(pixels, "other", "train", image.category, image.family)
    # A coronal or sagittal reformat has the layout of a frontal film (two dark lungs beside
    # a bright mediastinum) and there are few of them: they get three times the copies.
    copies = config.non_chest_copies * (3 if "reformat" in image.plane else 1)
    for _ in range(copies):
        shown = rewindow(pixels, rng) if image.family == "ct" else pixels
        b.add(_augment(shown, rng, 0.7), "other", "train", image.category, image.family)
    if image.family in ("ct", "mr"):
        for _ in range(config.scout_copies):
            scout = b.pick("frontal") if "frontal" in b.pools else pixels
            b.add(with_scout_inset(rewindow(pixels, rng) if image.family == "ct" else pixels,
                                   scout, rng),
                  "other", "train", f"{image.category} with scout", image.family)


def _add_ood_case(b: _Builder, pixels: np.ndarray, path: Path, category: str) -> None:
    family = _ood_family(path, category)
    label = family if family in ("lateral", "rotated") else "other"
    copies = b.config.lateral_copies // 4 if label == "lateral" else b.config.ood_copies
    b.add(pixels, label, "train", category, family)
    for _ in range(copies):
        b.add(_augment(pixels, b.rng, 0.6), label, "train", category, family)


def _add_synthesised(b: _Builder) -> None:
    """Paper figures, viewer screenshots, CT scouts and light-box photos (all "other")."""
    rng, config = b.rng, b.config
    if "frontal" not in b.pools:
        return
    modalities = [family for family in ("ct", "us", "mr") if b.pools.get(family)]
    for _ in range(config.panels):
        count = int(rng.choice([2, 2, 3, 4]))
        modality = str(rng.choice(modalities)) if modalities and rng.random() < 0.8 else None
        panels = [b.pick(modality) if modality and (i == 0 or rng.random() < 0.6)
                  else b.pick("frontal") for i in range(count)]
        b.add(_augment(multi_panel(panels, rng), rng, 0.2), "other", "train",
              "multi-panel figure", modality or "figure")
    for _ in range(config.screenshots):
        on_ct = "ct" in b.pools and rng.random() < 0.25
        film = b.pick("ct") if on_ct else b.pick("frontal")
        thumbs = [b.pick("frontal") for _ in range(3)]
        b.add(viewer_screenshot(film, rng, thumbs), "other", "train", "viewer screenshot",
              "ct" if on_ct else "screenshot")
    for _ in range(config.topograms):
        b.add(_augment(topogram(b.pick("frontal"), rng), rng, 0.3), "other", "train",
              "CT scout view", "topogram")
    for _ in range(config.light_box_photos):
        b.add(light_box_photo(b.pick("frontal"), rng), "other", "train", "light-box photo",
              "photo")


def build_material(
    data_dir: Path,
    laterals_dir: Path,
    config: ViewTrainingConfig,
    *,
    ood_cases: Sequence[tuple[Path, str]] = (),
    non_chest: Sequence[NonChestImage] = (),
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
) -> ViewMaterial:
    """Load and augment every training, validation and held-out input.

    Args:
        data_dir: The chest X-ray dataset (``metadata.csv``, ``images/``); TRAIN rows only.
        laterals_dir: The lateral films (``metadata.csv``, ``images/``).
        config: The run's settings.
        ood_cases: ``(file, category)`` of non-frontal images (the OOD set's development
            half); ``cxr_transformed`` files named ``lateral_*`` count as lateral,
            ``*rot*`` as rotated, everything else as other.
        non_chest: Real CT, MR and ultrasound images
            (:func:`model_training.non_chest_images.read_non_chest`): the trainable cases are
            trained on in many copies, the held-out ones only measured.
        progress: Called with (stage, done, total).
        cancelled: Polled between images; True stops with :class:`ViewTrainingCancelled`.

    Returns:
        The material.

    Raises:
        ValueError: If a folder or metadata file is missing or holds no usable images.
    """
    b = _Builder(config)
    lateral_rows = _read_csv(laterals_dir / "metadata.csv")
    if not lateral_rows:
        raise ValueError(f"{laterals_dir / 'metadata.csv'}: no lateral films listed")
    patients = sorted({row["patient_id"] for row in lateral_rows},
                      key=lambda p: _patient_fraction(p, config.seed))
    held_out = sorted(patients[:config.held_out_lateral_patients])
    held_out_files = [row["X_ray_image_name"] for row in lateral_rows
                      if row["patient_id"] in held_out]
    jobs, source_sizes = _frontal_jobs(data_dir, config, b.rng)
    jobs += [("lateral:held_out" if row["patient_id"] in held_out else "lateral:train",
              laterals_dir / "images" / row["X_ray_image_name"], "lateral")
             for row in lateral_rows]
    jobs += [(f"ood:{category}", Path(path), category) for path, category in ood_cases]
    by_path = {image.path: image for image in non_chest}
    jobs += [("non_chest", image.path, image.category) for image in non_chest]
    for done, (kind, path, origin) in enumerate(jobs):
        if cancelled is not None and cancelled():
            raise ViewTrainingCancelled
        if progress is not None:
            progress("images", done, len(jobs))
        pixels = _load(path)
        if kind.startswith("frontal:"):
            _add_frontal(b, pixels, kind.split(":")[1], origin, source_sizes[origin])
        elif kind == "rotated":
            turned = np.rot90(pixels, 1 if b.rng.random() < 0.5 else -1)
            b.add(_augment(turned, b.rng, 0.4), "rotated", "train", origin, "rotated")
        elif kind == "crop":
            b.add(_augment(_zoomed_region(pixels, b.rng), b.rng, 0.3), "other", "train",
                  f"{origin} crop", "crop")
        elif kind.startswith("lateral:"):
            _add_lateral(b, pixels, kind == "lateral:held_out")
        elif kind == "non_chest":
            _add_non_chest(b, pixels, by_path[path])
        else:  # OOD development half
            _add_ood_case(b, pixels, Path(path), origin)
    _add_synthesised(b)
    # The program's own synthetic radiograph: the self-test expects it to pass the gate.
    for seed in range(12):
        size = (280 + 24 * seed, 340 + 20 * seed)
        pixels = synthetic_radiograph(size, seed=seed).astype(np.float32) / 255.0
        b.add(pixels, FRONTAL, "train", "synthetic frontal", "frontal")
        b.add(_augment(pixels, b.rng, 0.4), FRONTAL, "train", "synthetic frontal", "frontal")
    if progress is not None:
        progress("images", len(jobs), len(jobs))
    counts = Counter(f"{s}/{VIEW_CLASSES[label]}/{o}"
                     for s, label, o in zip(b.splits, b.labels, b.origins, strict=True))
    held_cases = sorted({image.case_id for image in non_chest if image.held_out})
    return ViewMaterial(np.stack(b.inputs).astype(np.float32), np.asarray(b.labels),
                        np.asarray(b.splits), np.asarray(b.origins), np.asarray(b.families),
                        held_out, sorted(held_out_files), held_cases,
                        dict(sorted(counts.items())))


# ------------------------------------------------------------------------------ model


def _make_model(input_size: int) -> Any:
    """A small all-convolutional network: four strided 3x3 stages, pooling, a linear head.

    About 135 k parameters and 4.4 M multiply-adds at 64 px: about 0.15 ms per image in
    LiteRT on one thread, small enough to ship next to the classifier.
    """
    import keras

    inputs = keras.Input((input_size, input_size, 1), name=VIEW_INPUT_NAME)
    x = inputs
    for filters, stride in ((16, 2), (32, 2), (64, 2), (64, 1), (128, 2)):  # 64->32->16->8->4
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(len(VIEW_CLASSES), activation="softmax",
                                 name=VIEW_OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="lunglens_view")


def _to_tflite(model: Any, input_size: int) -> bytes:
    """LiteRT flatbuffer with one signature: ``image`` in, ``probabilities`` out."""

    def serve(image: Any) -> dict[str, Any]:
        return {VIEW_OUTPUT_NAME: model(image, training=False)}

    return keras_to_tflite(model, serve, signature=VIEW_SIGNATURE, input_name=VIEW_INPUT_NAME,
                           input_size=input_size)


def _run_tflite(data: bytes, inputs: np.ndarray) -> np.ndarray:
    """Probabilities from the exported flatbuffer: the metrics are those of what ships."""
    return run_signature(data, inputs, signature=VIEW_SIGNATURE, input_name=VIEW_INPUT_NAME,
                         output_names=(VIEW_OUTPUT_NAME,))[VIEW_OUTPUT_NAME].astype(np.float64)


def _rate(flags: np.ndarray) -> dict[str, float | int]:
    return {"n": len(flags), "flagged": float(flags.mean()) if len(flags) else float("nan")}


def fit_view_model(
    material: ViewMaterial,
    config: ViewTrainingConfig,
    *,
    exclude_families: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
) -> bytes:
    """Train on the material's training rows and return the LiteRT flatbuffer.

    Args:
        material: From :func:`build_material` (built once, fitted as often as needed).
        config: The run's settings.
        exclude_families: Families left out (leave-one-category-out runs).
        progress: Called with ("epochs", done, total).
        cancelled: Polled after each epoch.

    Raises:
        ViewTrainingCancelled: When ``cancelled`` says so.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    train = material.training_mask(exclude_families)
    x_train = material.inputs[train][..., None]
    y_train = material.labels[train]
    counts = np.bincount(y_train, minlength=len(VIEW_CLASSES))
    weights = {i: float(len(y_train) / (len(VIEW_CLASSES) * max(1, c)))
               for i, c in enumerate(counts)}
    model = _make_model(config.input_size)
    steps = int(np.ceil(len(x_train) / config.batch_size)) * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class _Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            if progress is not None:
                progress("epochs", epoch + 1, config.epochs)
            if cancelled is not None and cancelled():
                self.model.stop_training = True

    model.fit(x_train, y_train, epochs=config.epochs, batch_size=config.batch_size,
              shuffle=True, class_weight=weights, verbose=0, callbacks=[_Progress()])
    if cancelled is not None and cancelled():
        raise ViewTrainingCancelled
    return _to_tflite(model, config.input_size)


def view_metrics(material: ViewMaterial, probabilities: np.ndarray,
                 config: ViewTrainingConfig,
                 exclude_families: Sequence[str] = ()) -> dict[str, Any]:
    """The thresholds chosen on the validation films and the card's figures.

    The caution threshold is the vouching threshold (``confident_frontal``: the view check
    either vouches for a film or is not sure of it) unless that flags more than
    ``max_validation_flagged`` of the validation frontal films; refusal is below
    ``refuse_below``. Held-out laterals and
    held-out non-chest cases (whole patients or cases never trained on) are reported.
    """
    frontal = probabilities[:, _LABEL[FRONTAL]]
    validation = (material.split == "validation") & (material.labels == _LABEL[FRONTAL])
    # Below the vouching threshold the view check is not sure: it cautions (and with a
    # distance check's doubt the gate refuses), unless that would flag more than
    # max_validation_flagged of the unseen frontal films.
    caution = config.confident_frontal
    if validation.any():
        limit = float(np.quantile(frontal[validation], config.max_validation_flagged))
        caution = float(min(config.confident_frontal, max(limit, 0.05)))
    threshold = float(min(caution, config.refuse_below))
    flagged = frontal < threshold
    cautioned = (frontal >= threshold) & (frontal < caution)
    held = material.split == "held_out"
    ward = material.split == "validation_ward"
    train = material.training_mask(exclude_families)

    def per_origin(mask: np.ndarray) -> dict[str, dict[str, float | int]]:
        return {origin: {**_rate(flagged[mask & (material.origin == origin)]),
                         "cautioned": float(cautioned[mask & (material.origin == origin)]
                                            .mean()),
                         "max_frontal_probability": float(
                             frontal[mask & (material.origin == origin)].max())}
                for origin in sorted(set(material.origin[mask]))}

    lateral = held & (material.family == "lateral")
    non_chest = held & (material.family != "lateral")
    return {
        "min_frontal_probability": threshold,
        "caution_frontal_probability": caution,
        "held_out_laterals": {**_rate(flagged[lateral]),
                              "patients": len(material.held_out_patients)},
        "held_out_non_chest_per_category": per_origin(non_chest),
        "validation_frontal_per_source": per_origin(validation),
        "validation_frontal_all": _rate(flagged[validation]),
        "validation_ward_films_per_source": per_origin(ward),
        "validation_ward_films_all": {**_rate(flagged[ward]),
                                      "cautioned": float(cautioned[ward].mean())
                                      if ward.any() else float("nan")},
        "train_accuracy": float((probabilities[train].argmax(axis=1)
                                 == material.labels[train]).mean()),
        "note": "validation = frontal TRAIN-split films of patients not trained on (chooses "
                "the caution threshold); validation ward films = one bedside version of each "
                "(model_training.ward_films), reported only; held-out laterals = whole "
                "patients never trained on; held-out non-chest = real CT, MR and ultrasound "
                "cases never trained on (model_training.non_chest_images). The dataset's "
                "TEST split and the whole gate are measured by benchmarks/ood_eval.py.",
    }


def train_view_model(
    data_dir: Path | str,
    laterals_dir: Path | str,
    out_dir: Path | str,
    config: ViewTrainingConfig | None = None,
    *,
    ood_cases: Sequence[tuple[Path, str]] = (),
    non_chest: Sequence[NonChestImage] = (),
    material: ViewMaterial | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
) -> dict[str, Any]:
    """Build the material, train, choose the threshold, export the LiteRT model and card.

    Args:
        data_dir: The chest X-ray dataset.
        laterals_dir: The lateral films.
        out_dir: Output folder (``view_model.tflite`` and ``view_card.json``).
        config: Settings (defaults: :class:`ViewTrainingConfig`).
        ood_cases: Development-half OOD images, see :func:`build_material`.
        non_chest: Real CT, MR and ultrasound images, see :func:`build_material`.
        material: Material already built with ``config`` (leave-one-category-out runs share
            one); built here when ``None``.
        progress: Called with (stage, done, total).
        cancelled: Polled between images and epochs.

    Returns:
        The card that was written.
    """
    config = config or ViewTrainingConfig()
    if material is None:
        material = build_material(Path(data_dir), Path(laterals_dir), config,
                                  ood_cases=ood_cases, non_chest=non_chest,
                                  progress=progress, cancelled=cancelled)
    data = fit_view_model(material, config, exclude_families=config.exclude_families,
                          progress=progress, cancelled=cancelled)
    probabilities = _run_tflite(data, material.inputs)
    metrics = view_metrics(material, probabilities, config, config.exclude_families)
    threshold = metrics["min_frontal_probability"]
    caution = metrics["caution_frontal_probability"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / VIEW_TFLITE_FILE).write_bytes(data)
    digest = sha256_file(out / VIEW_TFLITE_FILE)
    created = dt.datetime.now(dt.UTC)
    card = {
        "format": VIEW_CARD_FORMAT,
        "model_id": f"lunglens-view-{created:%Y%m%d}-{digest[:6]}",
        "created": created.isoformat(timespec="seconds"),
        "software_version": __version__,
        "purpose": "Refuse what is not a whole frontal (PA/AP) chest film before the "
                   "classifier's answer is shown. Independent of the installed classifier.",
        "classes": list(VIEW_CLASSES),
        "min_frontal_probability": threshold,
        "caution_frontal_probability": caution,
        "confident_frontal_probability": max(caution, config.confident_frontal),
        "preprocessing": config.preprocessing.to_dict(),
        "input": {
            "name": VIEW_INPUT_NAME, "shape": [None, config.input_size, config.input_size, 1],
            "dtype": "float32", "output": VIEW_OUTPUT_NAME,
            "how": "desktop_app.core.gate.view.view_input: strided subsample of the loaded "
                   f"image to about {SUBSAMPLE_FACTOR}x the input side, then "
                   "preprocessing.preprocess with this card's spec",
        },
        "files": {VIEW_TFLITE_FILE: digest},
        "training_data": {
            "description": "frontal TRAIN-split films of every source of the chest X-ray "
                           "dataset (mildly augmented, and bedside versions with lines, "
                           "tubes, electrodes, markers, neck or upper abdomen, rotation up "
                           "to 15°, collimation and portable-film contrast), real lateral "
                           "films of the training "
                           "patients (heavily augmented), frontal films and laterals turned "
                           "by 90°/270°, heavily cropped regions of frontal films, the "
                           "development half of the OOD evaluation set "
                           "(model_training/non_chest/), the program's "
                           "synthetic radiograph; real CT (chest, abdomen, head; axial and "
                           "reformats), MR and lung-ultrasound images of the trainable "
                           "cases of ../shared/datasets/views/non_chest (licence use "
                           "'training or evaluation' only), re-windowed and augmented, CT "
                           "and MR slices with a scout inset, multi-panel figures, PACS-"
                           "viewer screenshots around a film, CT scout views and light-box "
                           "photos made from frontal films, laterals with side markers "
                           "(model_training/view_synthesis.py)",
            "held_out_lateral_patients": material.held_out_patients,
            "held_out_lateral_files": sorted(material.held_out_files),
            "held_out_non_chest_cases": material.held_out_cases,
            "excluded_families": list(config.exclude_families),
            "inputs_per_split_class_origin": material.counts,
        },
        "training_config": dataclasses.asdict(config),
        "metrics": metrics,
        "limitations": [
            "Real lateral films of only 17 patients, all from one collection (ieee8023), "
            f"{len(material.held_out_patients)} of them held out; laterals from other "
            "hospitals may look different.",
            "No real abdominal, skull or limb radiographs: those negatives are drawn "
            "sketches and public sample images. Real CT, MR and ultrasound come from few "
            "collections (TCIA COVID-19-NY-SBU, Lung-PET-CT-Dx, VQA-RAD, POCUS); CT slices "
            "of other scanners and reconstructions may look different.",
            "A frontal film mirrored or upside down counts as frontal.",
        ],
    }
    (out / VIEW_CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card
