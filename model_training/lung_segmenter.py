"""Train and export the lung segmenter shipped in ``resources/lung_segmenter/``.

The only expert lung masks available offline are torchxrayvision's v7labs masks of ieee8023
films (``semantic_masks_v7labs_lungs.zip`` inside the ``torchxrayvision`` wheel on PyPI:
``pip download --no-deps torchxrayvision==1.5.7``). A small U-Net (64 px, about 0.12 M
parameters, 1.8 ms per film in LiteRT) trained from scratch on four fifths of the masked
patients reaches a Dice of about 0.9 on the other fifth, and its masks cover both lungs on the
other sources' films (children and adults), which is what the classifier's lung box needs
(:mod:`desktop_app.core.classify.lung_fields`).

The card records the held-out Dice, measured on the exported LiteRT model, and how often the
box is found on each source's TRAIN films (those have no masks: a film without a box is used
whole, so this is the share of films the lung framing reaches). TensorFlow is imported lazily.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from desktop_app import __version__
from desktop_app.core.classify.lung_fields import (
    LUNG_CARD_FILE,
    LUNG_CARD_FORMAT,
    LUNG_INPUT_NAME,
    LUNG_OUTPUT_NAME,
    LUNG_SIGNATURE,
    LUNG_TFLITE_FILE,
    lung_box,
    segmenter_input,
)
from desktop_app.core.hashing import sha256_file
from desktop_app.core.imaging import load_image, model_min_side
from desktop_app.core.preprocessing import PreprocessingSpec
from model_training.tflite_export import keras_to_tflite, run_signature

__all__ = [
    "SegmenterConfig",
    "build_lung_segmenter",
    "dice",
    "export_segmenter",
    "held_out_patients",
    "masked_films",
    "train_segmenter",
]

#: Images are decoded as the classify path decodes them for a 192 px classifier.
_DECODE_MIN_SIDE = model_min_side(192)
#: Films per source checked for a lung box in the card.
_BOX_CHECK_FILMS = 150
ProgressFn = Callable[[str], None]


@dataclass(frozen=True)
class SegmenterConfig:
    """Training settings.

    Attributes:
        input_size: Side of the segmenter's square input (the whole film, padded, percentile
            windowing). 64 px frames the lungs to within 2 % of the film's side; 128 px cost
            33 ms per film in LiteRT on one core, ten times the classifier.
        base_filters: Filters of the first U-Net level (doubled at each of the next three).
        epochs: Passes over the training films.
        batch_size: Films per step.
        seed: Seeds the patient split, the augmentation and Keras.
        threshold: Lung probability above which a pixel is lung (written to the card).
        held_out_share: Share of masked patients held out for the Dice.
    """

    input_size: int = 64
    base_filters: int = 8
    epochs: int = 40
    batch_size: int = 16
    seed: int = 0
    threshold: float = 0.5
    held_out_share: float = 0.2

    @property
    def preprocessing(self) -> PreprocessingSpec:
        """The segmenter's input spec (written to its card)."""
        return PreprocessingSpec(input_size=self.input_size)


def _read_rows(data: Path) -> list[dict[str, str]]:
    with (data / "metadata.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def masked_films(data: Path | str, masks_source: Path | str, spec: PreprocessingSpec
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Segmenter inputs, target masks (both ``(n, s, s)``) and patient ids of masked films.

    The target is the expert mask taken through the same geometry as the image (resized to
    the loaded image, then :func:`segmenter_input` without intensity windowing).
    """
    from model_training.lung_heatmap import load_lung_masks

    data = Path(data)
    masks = load_lung_masks(masks_source)
    mask_spec = PreprocessingSpec(input_size=spec.input_size, intensity="none")
    images, targets, patients = [], [], []
    for row in _read_rows(data):
        name = row["X_ray_image_name"]
        if name not in masks:
            continue
        pixels = load_image(data / "images" / name, min_side=_DECODE_MIN_SIDE).pixels
        lung = masks.load(name).astype(np.float32)
        if lung.shape != pixels.shape:
            size = (pixels.shape[1], pixels.shape[0])
            lung = np.asarray(Image.fromarray(lung).resize(size, Image.Resampling.BILINEAR))
        images.append(segmenter_input(pixels, spec).array)
        targets.append(segmenter_input(lung, mask_spec).array > 0.5)
        patients.append(row["patient_id"])
    if not images:
        raise ValueError(f"no film of {str(data)!r} has a mask in {str(masks_source)!r}")
    return np.stack(images), np.stack(targets).astype(np.float32), patients


def held_out_patients(patients: list[str], config: SegmenterConfig) -> set[str]:
    """The patients whose films are never trained on (seeded, stable)."""
    ordered = sorted(set(patients))
    np.random.default_rng(config.seed).shuffle(ordered)
    return set(ordered[: int(len(ordered) * config.held_out_share)])


def build_unet(size: int, base_filters: int) -> Any:
    """A three-level U-Net with a sigmoid lung-probability output."""
    import keras
    from keras import layers

    def block(x: Any, filters: int) -> Any:
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        return layers.Conv2D(filters, 3, padding="same", activation="relu")(x)

    inputs = keras.Input((size, size, 1), name=LUNG_INPUT_NAME)
    skips, x = [], inputs
    levels = [base_filters * 2**level for level in range(3)]
    for filters in levels:
        x = block(x, filters)
        skips.append(x)
        x = layers.MaxPooling2D()(x)
    x = block(x, base_filters * 8)
    for filters, skip in zip(reversed(levels), reversed(skips), strict=True):
        x = layers.Concatenate()([layers.UpSampling2D()(x), skip])
        x = block(x, filters)
    outputs = layers.Conv2D(1, 1, activation="sigmoid", name=LUNG_OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="lunglens_lungs")


def _bce_dice_loss(target: Any, predicted: Any) -> Any:
    """Binary cross-entropy plus soft Dice loss (Dice keeps small lungs from vanishing)."""
    import keras
    from keras import ops

    overlap = ops.sum(target * predicted, axis=(1, 2, 3))
    total = ops.sum(target, axis=(1, 2, 3)) + ops.sum(predicted, axis=(1, 2, 3))
    dice = (2.0 * overlap + 1.0) / (total + 1.0)
    return keras.losses.binary_crossentropy(target, predicted) + 1.0 - ops.mean(dice)


def dice(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Dice coefficient per image of two boolean ``(n, s, s)`` mask batches."""
    axes = tuple(range(1, predicted.ndim))
    overlap = (predicted & target).sum(axis=axes)
    return (2 * overlap + 1) / (predicted.sum(axis=axes) + target.sum(axis=axes) + 1)


def train_segmenter(images: np.ndarray, targets: np.ndarray, config: SegmenterConfig,
                    progress: ProgressFn | None = None) -> Any:
    """Train the U-Net on ``(n, s, s)`` films and masks (mirror and gamma augmentation)."""
    import keras

    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_unet(images.shape[1], config.base_filters)
    model.compile("adam", loss=_bce_dice_loss)
    started = time.monotonic()
    for epoch in range(config.epochs):
        flip = rng.random(len(images)) < 0.5  # mirrored films, gamma 0.7-1.4
        x, y = images.copy(), targets.copy()
        x[flip], y[flip] = x[flip, :, ::-1], y[flip, :, ::-1]
        x = np.clip(x, 0.0, 1.0) ** rng.uniform(0.7, 1.4, (len(x), 1, 1))
        history = model.fit(x[..., None], y[..., None], batch_size=config.batch_size, epochs=1,
                            verbose=0)
        if progress is not None:
            progress(f"epoch {epoch + 1}/{config.epochs}: loss "
                     f"{history.history['loss'][0]:.3f} ({time.monotonic() - started:.0f} s)")
    return model


def _lungs(flatbuffer: bytes, inputs: np.ndarray) -> np.ndarray:
    """``(n, s, s)`` lung probabilities of the exported flatbuffer (what ships)."""
    return run_signature(flatbuffer, inputs, signature=LUNG_SIGNATURE, input_name=LUNG_INPUT_NAME,
                         output_names=(LUNG_OUTPUT_NAME,))[LUNG_OUTPUT_NAME][..., 0]


def _box_reach(runner_data: bytes, data: Path, config: SegmenterConfig, skip_source: str
               ) -> dict[str, dict[str, float | int]]:
    """Per source: share of TRAIN films with a lung box and the box's median area share."""
    by_source: dict[str, list[str]] = {}
    for row in _read_rows(data):
        if row["Dataset_type"] == "TRAIN" and row["source"] != skip_source:
            by_source.setdefault(row["source"], []).append(row["X_ray_image_name"])
    out: dict[str, dict[str, float | int]] = {}
    for source, names in sorted(by_source.items()):
        picked = sorted(names)[:: max(1, len(names) // _BOX_CHECK_FILMS)][:_BOX_CHECK_FILMS]
        prepared, sizes = [], []
        for name in picked:
            pixels = load_image(data / "images" / name, min_side=_DECODE_MIN_SIDE).pixels
            prepared.append(segmenter_input(pixels, config.preprocessing))
            sizes.append((pixels.shape[1], pixels.shape[0]))
        lungs = _lungs(runner_data, np.stack([p.array for p in prepared])) > config.threshold
        areas = []
        for mask, item, size in zip(lungs, prepared, sizes, strict=True):
            box = lung_box(mask, item.content_box, size, 0.0)
            if box is not None:
                areas.append((box[2] - box[0]) * (box[3] - box[1]) / (size[0] * size[1]))
        out[source] = {"films": len(picked), "found": len(areas) / len(picked),
                       "median_box_area": float(np.median(areas)) if areas else float("nan")}
    return out


def export_segmenter(
    model: Any,
    out_dir: Path | str,
    *,
    data: Path | str,
    masks_source: Path | str,
    config: SegmenterConfig,
    images: np.ndarray,
    targets: np.ndarray,
    held_out: np.ndarray,
    patients: int,
) -> dict[str, Any]:
    """Write ``lung_segmenter.tflite`` and its card; the card's figures are the LiteRT model's.

    Returns:
        The card that was written.
    """
    def serve(image: Any) -> dict[str, Any]:
        return {LUNG_OUTPUT_NAME: model(image, training=False)}

    flatbuffer = keras_to_tflite(model, serve, signature=LUNG_SIGNATURE,
                                 input_name=LUNG_INPUT_NAME, input_size=images.shape[1])
    predicted = _lungs(flatbuffer, images[held_out])
    scores = dice(predicted > config.threshold, targets[held_out] > 0.5)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tflite_path = out / LUNG_TFLITE_FILE
    tflite_path.write_bytes(flatbuffer)
    digest = sha256_file(tflite_path)
    today = dt.date.today()
    card = {
        "format": LUNG_CARD_FORMAT,
        "model_id": f"lunglens-lungs-{today:%Y%m%d}-{digest[:6]}",
        "created": today.isoformat(),
        "lunglens_version": __version__,
        "purpose": "frames the classifier's input on the lung fields "
                   "(desktop_app/core/classify/lung_fields.py)",
        "preprocessing": config.preprocessing.to_dict(),
        "threshold": config.threshold,
        "training": {
            "masks": "torchxrayvision 1.5.7 semantic_masks_v7labs_lungs (ieee8023 films)",
            "films": int((~held_out).sum()),
            "held_out_films": int(held_out.sum()),
            "patients": patients,
            "epochs": config.epochs,
            "base_filters": config.base_filters,
            "parameters": int(model.count_params()),
            "seed": config.seed,
        },
        "metrics": _segmenter_metrics(scores, flatbuffer, data, config),
        "files": {LUNG_TFLITE_FILE: digest},
        "reproduce": "python -m model_training lung-segmenter --data ../shared/datasets/cxr "
                     f"--masks <torchxrayvision-1.5.7 wheel> --out {out}",
    }
    (out / LUNG_CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card


def _segmenter_metrics(scores: np.ndarray, flatbuffer: bytes, data: Path | str,
                       config: SegmenterConfig) -> dict[str, Any]:
    """The card's figures: held-out Dice, and how often the box is found on training films."""
    return {
        "held_out_dice_mean": float(scores.mean()),
        "held_out_dice_median": float(np.median(scores)),
        "held_out_dice_p10": float(np.percentile(scores, 10)),
        "box_reach_train_films": _box_reach(flatbuffer, Path(data), config, "ieee8023"),
    }


def build_lung_segmenter(
    data: Path | str,
    masks_source: Path | str,
    out_dir: Path | str,
    config: SegmenterConfig | None = None,
    *,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Load the masked films, train, export and write the card."""
    config = config or SegmenterConfig()
    images, targets, patients = masked_films(data, masks_source, config.preprocessing)
    held = held_out_patients(patients, config)
    held_out = np.array([p in held for p in patients])
    if progress is not None:
        progress(f"masked films {len(images)}, held out {int(held_out.sum())} "
                 f"({len(held)} patients)")
    model = train_segmenter(images[~held_out], targets[~held_out], config, progress)
    return export_segmenter(model, out_dir, data=data, masks_source=masks_source, config=config,
                            images=images, targets=targets, held_out=held_out,
                            patients=len(set(patients)))
