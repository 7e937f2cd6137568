"""Training-time augmentation as batched TensorFlow ops (run inside ``tf.data``).

Two presets (:data:`PRESETS`):

* ``seed-2020`` reproduces the 2020 seed's ``ImageDataGenerator``: rotation up to 90°, width and
  height shift 0.15, zoom 0.5 (each axis independently in 0.5..1.5), horizontal flip, nearest
  fill. Kept only for the side-by-side comparison.
* ``default`` is suited to chest radiographs: rotation ±7°, shift ±5 %, zoom ±10 % (isotropic),
  brightness ±0.08 and contrast ±15 % jitter, black fill (like the collimated border and the
  preprocessing pad), and **no horizontal flip**. A frontal CXR is not mirror-symmetric: the
  heart, the aortic knob and the gastric bubble are on the left, the liver dome on the right,
  and dextrocardia is rare (about 1 in 10,000). A flipped film shows anatomy that does not
  exist, so the model would spend capacity on it and could learn that laterality does not
  matter, while side-specific findings (right-lower-lobe pneumonia is the most common) and the
  cardiac silhouette sign depend on it. Rotations of 90° do not occur on a clinical frontal
  film either; a few degrees of patient tilt and small changes of field of view and exposure
  do, which is what the default imitates.

All ops work on a batch ``(n, s, s, 1)`` in 0..1 and keep it in 0..1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["PRESETS", "AugmentationConfig", "augment_batch", "get_preset"]


@dataclass(frozen=True)
class AugmentationConfig:
    """Random transforms applied per image.

    Attributes:
        rotation_degrees: Maximum absolute rotation.
        shift: Maximum absolute shift as a fraction of the image side (both axes).
        zoom: Zoom factor drawn from ``1 ± zoom``.
        isotropic_zoom: One zoom factor for both axes (True) or one per axis (Keras 2 style).
        horizontal_flip: Flip left-right with probability 0.5.
        brightness: Maximum absolute additive brightness change (0..1 scale).
        contrast: Maximum relative contrast change around the image mean.
        fill_mode: ``"constant"`` (black) or ``"nearest"`` for pixels moved in from outside.
    """

    rotation_degrees: float = 0.0
    shift: float = 0.0
    zoom: float = 0.0
    isotropic_zoom: bool = True
    horizontal_flip: bool = False
    brightness: float = 0.0
    contrast: float = 0.0
    fill_mode: str = "constant"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (recorded with the training config)."""
        return asdict(self)

    @property
    def is_identity(self) -> bool:
        """True when the preset changes nothing."""
        neutral = AugmentationConfig(fill_mode=self.fill_mode, isotropic_zoom=self.isotropic_zoom)
        return self == neutral


PRESETS: dict[str, AugmentationConfig] = {
    "default": AugmentationConfig(
        rotation_degrees=7.0, shift=0.05, zoom=0.10, brightness=0.08, contrast=0.15,
    ),
    "seed-2020": AugmentationConfig(
        rotation_degrees=90.0, shift=0.15, zoom=0.5, isotropic_zoom=False,
        horizontal_flip=True, fill_mode="nearest",
    ),
    "none": AugmentationConfig(),
}


def get_preset(name: str) -> AugmentationConfig:
    """Return the preset called ``name``.

    Raises:
        ValueError: For an unknown name, quoting it.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown augmentation preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name]


def augment_batch(images: Any, config: AugmentationConfig, seed: Any) -> Any:
    """Apply random transforms to a batch with stateless randomness.

    Args:
        images: ``tf.Tensor`` ``(n, s, s, 1)`` float32 in 0..1.
        config: What to apply.
        seed: A shape ``(2,)`` int tensor; the same seed gives the same transforms.

    Returns:
        The transformed batch, same shape and dtype, clipped to 0..1.
    """
    import tensorflow as tf

    if config.is_identity:
        return images
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=8)
    n = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)

    def uniform(index: int, limit: float) -> Any:
        return tf.random.stateless_uniform([n], seeds[index], -limit, limit)

    x = images
    if config.rotation_degrees or config.shift or config.zoom:
        angle = uniform(0, config.rotation_degrees * math.pi / 180.0)
        zoom_x = 1.0 + uniform(1, config.zoom)
        zoom_y = zoom_x if config.isotropic_zoom else 1.0 + uniform(2, config.zoom)
        shift_x = uniform(3, config.shift) * size
        shift_y = uniform(4, config.shift) * size
        centre = (size - 1.0) / 2.0
        cos, sin = tf.cos(angle), tf.sin(angle)
        # Output -> input pixel mapping: p_in = c + R(angle) diag(1/zoom) (p_out - c) - shift.
        a0, a1 = cos / zoom_x, -sin / zoom_y
        b0, b1 = sin / zoom_x, cos / zoom_y
        a2 = centre - a0 * centre - a1 * centre - shift_x
        b2 = centre - b0 * centre - b1 * centre - shift_y
        zeros = tf.zeros_like(a0)
        transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        x = tf.raw_ops.ImageProjectiveTransformV3(
            images=x,
            transforms=transforms,
            output_shape=tf.shape(x)[1:3],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode=config.fill_mode.upper(),
        )
    if config.horizontal_flip:
        flip = tf.random.stateless_uniform([n, 1, 1, 1], seeds[5]) < 0.5
        x = tf.where(flip, tf.reverse(x, axis=[2]), x)
    if config.contrast:
        factor = 1.0 + tf.reshape(uniform(6, config.contrast), [-1, 1, 1, 1])
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * factor + mean
    if config.brightness:
        x = x + tf.reshape(uniform(7, config.brightness), [-1, 1, 1, 1])
    return tf.clip_by_value(x, 0.0, 1.0)
