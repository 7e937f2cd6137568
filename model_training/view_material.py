"""The view model's material: every training, validation and held-out input, built.

Which films and images each class gets, and why, is in :mod:`model_training.view_model`'s
docstring; this module loads them, augments them and synthesises the rest
(:func:`build_material`), with the run's settings (:class:`ViewTrainingConfig`).
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.gate.view import (
    FRONTAL,
    VIEW_CLASSES,
    view_input,
)
from desktop_app.core.imaging import load_image, model_min_side
from desktop_app.core.preprocessing import PreprocessingSpec
from model_training.non_chest_images import NonChestImage
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
    "LABEL_INDEX",
    "CancelCallback",
    "ProgressCallback",
    "ViewMaterial",
    "ViewTrainingCancelled",
    "ViewTrainingConfig",
    "build_material",
]

ProgressCallback = Callable[[str, int, int], None]
CancelCallback = Callable[[], bool]
#: Index of each view class in the model's output.
LABEL_INDEX = {name: index for index, name in enumerate(VIEW_CLASSES)}
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
        self.labels.append(LABEL_INDEX[label])
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
    held_out = _held_out_lateral_patients(lateral_rows, config)
    held_out_files = [row["X_ray_image_name"] for row in lateral_rows
                      if row["patient_id"] in held_out]
    jobs, source_sizes = _frontal_jobs(data_dir, config, b.rng)
    jobs += _other_jobs(laterals_dir, lateral_rows, held_out, ood_cases, non_chest)
    by_path = {image.path: image for image in non_chest}
    for done, (kind, path, origin) in enumerate(jobs):
        if cancelled is not None and cancelled():
            raise ViewTrainingCancelled
        if progress is not None:
            progress("images", done, len(jobs))
        _add_job(b, kind, _load(path), Path(path), origin, source_sizes, by_path)
    _add_synthesised(b)
    _add_program_synthetic(b)
    if progress is not None:
        progress("images", len(jobs), len(jobs))
    counts = Counter(f"{s}/{VIEW_CLASSES[label]}/{o}"
                     for s, label, o in zip(b.splits, b.labels, b.origins, strict=True))
    held_cases = sorted({image.case_id for image in non_chest if image.held_out})
    return ViewMaterial(np.stack(b.inputs).astype(np.float32), np.asarray(b.labels),
                        np.asarray(b.splits), np.asarray(b.origins), np.asarray(b.families),
                        held_out, sorted(held_out_files), held_cases,
                        dict(sorted(counts.items())))


def _held_out_lateral_patients(lateral_rows: list[dict[str, str]],
                               config: ViewTrainingConfig) -> list[str]:
    """The lateral patients never trained on: the first ones in a seeded order."""
    patients = sorted({row["patient_id"] for row in lateral_rows},
                      key=lambda p: _patient_fraction(p, config.seed))
    return sorted(patients[:config.held_out_lateral_patients])


def _other_jobs(laterals_dir: Path, lateral_rows: list[dict[str, str]], held_out: list[str],
                ood_cases: Sequence[tuple[Path, str]], non_chest: Sequence[NonChestImage]
                ) -> list[tuple[str, Path, str]]:
    """The lateral, OOD and real non-chest jobs, after the frontal ones."""
    jobs = [("lateral:held_out" if row["patient_id"] in held_out else "lateral:train",
             laterals_dir / "images" / row["X_ray_image_name"], "lateral")
            for row in lateral_rows]
    jobs += [(f"ood:{category}", Path(path), category) for path, category in ood_cases]
    jobs += [("non_chest", image.path, image.category) for image in non_chest]
    return jobs


def _add_job(b: _Builder, kind: str, pixels: np.ndarray, path: Path, origin: str,
             source_sizes: dict[str, int], by_path: dict[Path, NonChestImage]) -> None:
    """Add the inputs one loaded image gives, by the kind of job it came from."""
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
        _add_ood_case(b, pixels, path, origin)


def _add_program_synthetic(b: _Builder) -> None:
    """The program's own synthetic radiograph: the self-test expects it to pass the gate."""
    for seed in range(12):
        size = (280 + 24 * seed, 340 + 20 * seed)
        pixels = synthetic_radiograph(size, seed=seed).astype(np.float32) / 255.0
        b.add(pixels, FRONTAL, "train", "synthetic frontal", "frontal")
        b.add(_augment(pixels, b.rng, 0.4), FRONTAL, "train", "synthetic frontal", "frontal")
