"""Trial: can a lung segmenter be trained here from the 274 masked ieee8023 films?

The next step for the model (docs/model_recipe.md) is a classifier that sees only the lung
fields, so that collection cues outside the lungs (borders, labels, framing) cannot carry the
answer. That needs a segmenter that works on every source, adults and children, although the
only expert masks are torchxrayvision's v7labs masks for ieee8023 films. This script measures
whether that is within reach: a small U-Net (128 px, about 0.5 M parameters) trained from
scratch on four fifths of the masked patients, Dice on the other fifth, and an overlay of its
masks on TEST films of the other sources (``--overlay``) to look at.

Not part of the product; TensorFlow is imported here because this is training code.

Usage (from the repository root; masks from ``pip download --no-deps torchxrayvision==1.5.7``)::

    .venv/bin/python scripts/lung_segmenter_trial.py --masks /tmp/txv/masks \
        --data ../shared/datasets/cxr --epochs 25 --overlay /tmp/lungs.png
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.imaging import load_image
from desktop_app.core.preprocessing import PreprocessingSpec, preprocess
from model_training.lung_heatmap import load_lung_masks

SIZE = 128
OVERLAY_SOURCES = ("kermany", "nih", "cxnet", "actualmed")


def masked_films(data: Path, masks_path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Model inputs, lung masks (both ``(n, SIZE, SIZE, 1)``) and patient ids of masked films."""
    spec = PreprocessingSpec(input_size=SIZE)
    mask_spec = PreprocessingSpec(input_size=SIZE, intensity="none")
    masks = load_lung_masks(masks_path)
    with (data / "metadata.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    images, targets, patients = [], [], []
    for row in rows:
        name = row["X_ray_image_name"]
        if name not in masks:
            continue
        pixels = load_image(data / "images" / name).pixels
        lung = masks.load(name).astype(np.float32)
        if lung.shape != pixels.shape:
            size = (pixels.shape[1], pixels.shape[0])
            lung = np.asarray(Image.fromarray(lung).resize(size, Image.Resampling.BILINEAR))
        images.append(preprocess(pixels, spec).array)
        targets.append(preprocess(lung, mask_spec).array > 0.5)
        patients.append(row["patient_id"])
    return (np.stack(images)[..., None], np.stack(targets)[..., None].astype(np.float32),
            patients)


def build_unet() -> Any:
    """A three-level U-Net with a sigmoid lung-probability output."""
    import keras
    from keras import layers

    def block(x: Any, filters: int) -> Any:
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        return layers.Conv2D(filters, 3, padding="same", activation="relu")(x)

    inputs = keras.Input((SIZE, SIZE, 1))
    skips, x = [], inputs
    for filters in (16, 32, 64):
        x = block(x, filters)
        skips.append(x)
        x = layers.MaxPooling2D()(x)
    x = block(x, 128)
    for filters, skip in zip((64, 32, 16), reversed(skips), strict=True):
        x = layers.Concatenate()([layers.UpSampling2D()(x), skip])
        x = block(x, filters)
    return keras.Model(inputs, layers.Conv2D(1, 1, activation="sigmoid")(x))


def bce_dice_loss(target: Any, predicted: Any) -> Any:
    """Binary cross-entropy plus soft Dice loss (Dice keeps small lungs from vanishing)."""
    import keras
    from keras import ops

    overlap = ops.sum(target * predicted, axis=(1, 2, 3))
    total = ops.sum(target, axis=(1, 2, 3)) + ops.sum(predicted, axis=(1, 2, 3))
    dice = (2.0 * overlap + 1.0) / (total + 1.0)
    return keras.losses.binary_crossentropy(target, predicted) + 1.0 - ops.mean(dice)


def dice(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Dice coefficient per image of two boolean mask batches."""
    overlap = (predicted & target).sum(axis=(1, 2, 3))
    return (2 * overlap + 1) / (predicted.sum(axis=(1, 2, 3)) + target.sum(axis=(1, 2, 3)) + 1)


def overlay(model: Any, data: Path, out: Path) -> None:
    """Save a 4x4 grid of TEST films of other sources with the predicted lungs tinted red."""
    spec = PreprocessingSpec(input_size=SIZE)
    with (data / "metadata.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Dataset_type"] == "TEST"]
    tiles = []
    for source in OVERLAY_SOURCES:
        names = [r["X_ray_image_name"] for r in rows if r["source"] == source][:4]
        for name in names:
            image = preprocess(load_image(data / "images" / name).pixels, spec).array
            lung = model.predict(image[None, ..., None], verbose=0)[0, ..., 0] > 0.5
            rgb = np.stack([image] * 3, axis=-1)
            rgb[lung, 0] = rgb[lung, 0] * 0.5 + 0.5
            tiles.append((rgb * 255).astype(np.uint8))
    rows_of_tiles = [np.concatenate(tiles[i:i + 4], axis=1) for i in range(0, len(tiles), 4)]
    Image.fromarray(np.concatenate(rows_of_tiles, axis=0)).save(out)


def main() -> int:
    """Train, print validation Dice, optionally write the overlay."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/cxr"))
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--overlay", type=Path, default=None)
    args = parser.parse_args()

    images, targets, patients = masked_films(args.data, args.masks)
    rng = np.random.default_rng(0)
    held_out_patients = sorted(set(patients))
    rng.shuffle(held_out_patients)
    held = set(held_out_patients[: len(held_out_patients) // 5])
    val = np.array([p in held for p in patients])
    print(f"masked films {len(images)}, validation {int(val.sum())} "
          f"({len(held)} patients)", flush=True)

    model = build_unet()
    model.compile("adam", loss=bce_dice_loss)
    train_x, train_y = images[~val], targets[~val]
    started = time.time()
    for epoch in range(args.epochs):
        flip = rng.random(len(train_x)) < 0.5  # mirrored films, gamma 0.7-1.4
        x, y = train_x.copy(), train_y.copy()
        x[flip], y[flip] = x[flip, :, ::-1], y[flip, :, ::-1]
        x = np.clip(x, 0.0, 1.0) ** rng.uniform(0.7, 1.4, (len(x), 1, 1, 1))
        history = model.fit(x, y, batch_size=16, epochs=1, verbose=0,
                            validation_data=(images[val], targets[val]))
        print(f"epoch {epoch + 1}: loss {history.history['loss'][0]:.3f} "
              f"val_loss {history.history['val_loss'][0]:.3f} ({time.time() - started:.0f} s)",
              flush=True)
    scores = dice(model.predict(images[val], verbose=0) > 0.5, targets[val] > 0.5)
    print(f"validation Dice: mean {scores.mean():.3f}, median {np.median(scores):.3f}, "
          f"10th percentile {np.percentile(scores, 10):.3f}, n={len(scores)}")
    if args.overlay is not None:
        overlay(model, args.data, args.overlay)
        print(f"overlay written to {args.overlay}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
