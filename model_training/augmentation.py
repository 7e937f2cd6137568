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

* ``robust`` is ``default`` plus transforms that erase the *file-format* cues which, on this
  data, tell the sources apart better than the lungs do (see the dataset README's caveat):
  Kermany films are mostly 224 px squashed JPEGs, NIH films 1024 px PNGs with one hospital's
  processing, COVID-19 films re-compressed web and journal figures. Per image it draws a gamma
  (tone curve), a blur-or-sharpen strength, sensor-like noise, a down-and-up scaling (lost
  resolution) and a JPEG re-compression at a random quality, so that sharpness, noise,
  blockiness and tone stop predicting the class and the network has to look at the anatomy.

All ops work on a batch ``(n, s, s, 1)`` in 0..1 and keep it in 0..1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
        gamma: Tone-curve exponent drawn log-uniformly from ``exp(±gamma)``.
        sharpness: Unsharp-mask strength drawn from ``±sharpness`` (negative blurs).
        noise: Maximum standard deviation of additive Gaussian noise (0..1 scale).
        rescale_probability: Chance that an image is shrunk to ``rescale_min`` .. 1 of its
            side and enlarged back (the resolution a small or re-saved file has).
        rescale_min: Smallest relative side of that round trip.
        jpeg_probability: Chance that an image is JPEG re-compressed.
        jpeg_quality: ``(lowest, highest)`` JPEG quality drawn uniformly.
    """

    rotation_degrees: float = 0.0
    shift: float = 0.0
    zoom: float = 0.0
    isotropic_zoom: bool = True
    horizontal_flip: bool = False
    brightness: float = 0.0
    contrast: float = 0.0
    fill_mode: str = "constant"
    gamma: float = 0.0
    sharpness: float = 0.0
    noise: float = 0.0
    rescale_probability: float = 0.0
    rescale_min: float = 1.0
    jpeg_probability: float = 0.0
    jpeg_quality: tuple[int, int] = (30, 95)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (recorded with the training config)."""
        return asdict(self)

    @property
    def is_identity(self) -> bool:
        """True when the preset changes nothing."""
        neutral = AugmentationConfig(fill_mode=self.fill_mode, isotropic_zoom=self.isotropic_zoom,
                                     rescale_min=self.rescale_min,
                                     jpeg_quality=self.jpeg_quality)
        return self == neutral


PRESETS: dict[str, AugmentationConfig] = {
    "default": AugmentationConfig(
        rotation_degrees=7.0, shift=0.05, zoom=0.10, brightness=0.08, contrast=0.15,
    ),
    "seed-2020": AugmentationConfig(
        rotation_degrees=90.0, shift=0.15, zoom=0.5, isotropic_zoom=False,
        horizontal_flip=True, fill_mode="nearest",
    ),
    "robust": AugmentationConfig(
        rotation_degrees=7.0, shift=0.05, zoom=0.10, brightness=0.08, contrast=0.15,
        gamma=0.3, sharpness=1.0, noise=0.03, rescale_probability=0.5, rescale_min=0.35,
        jpeg_probability=0.5, jpeg_quality=(25, 95),
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
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=16)
    n = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)

    def uniform(index: int, limit: float) -> Any:
        return tf.random.stateless_uniform([n], seeds[index], -limit, limit)

    x = images
    if config.rotation_degrees or config.shift or config.zoom:
        x = _rotate_zoom_shift(x, config, uniform, size)
    if config.horizontal_flip:
        flip = tf.random.stateless_uniform([n, 1, 1, 1], seeds[5]) < 0.5
        x = tf.where(flip, tf.reverse(x, axis=[2]), x)
    if config.contrast:
        factor = 1.0 + tf.reshape(uniform(6, config.contrast), [-1, 1, 1, 1])
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * factor + mean
    if config.brightness:
        x = x + tf.reshape(uniform(7, config.brightness), [-1, 1, 1, 1])
    x = tf.clip_by_value(x, 0.0, 1.0)
    if config.gamma:
        exponent = tf.exp(tf.reshape(uniform(8, config.gamma), [-1, 1, 1, 1]))
        x = tf.pow(x + 1e-6, exponent)
    if config.rescale_probability:
        x = _rescale(x, config, seeds[9], seeds[10])
    if config.sharpness:
        x = _sharpen(x, tf.reshape(uniform(11, config.sharpness), [-1, 1, 1, 1]))
    if config.noise:
        sigma = tf.random.stateless_uniform([n, 1, 1, 1], seeds[12], 0.0, config.noise)
        x = x + sigma * tf.random.stateless_normal(tf.shape(x), seeds[13])
    x = tf.clip_by_value(x, 0.0, 1.0)
    if config.jpeg_probability:
        x = _jpeg(x, config, seeds[14], seeds[15])
    return tf.clip_by_value(x, 0.0, 1.0)


def _rotate_zoom_shift(x: Any, config: AugmentationConfig, uniform: Callable[[int, float], Any],
                       size: Any) -> Any:
    """One projective transform per image: rotation, (an)isotropic zoom and shift."""
    import tensorflow as tf

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
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transforms,
        output_shape=tf.shape(x)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode=config.fill_mode.upper(),
    )


def _rescale(x: Any, config: AugmentationConfig, seed_factor: Any, seed_apply: Any) -> Any:
    """Shrink chosen images to a random fraction of their side and enlarge them back.

    One factor per batch (``tf.image.resize`` takes one output size), chosen images per image:
    over an epoch every image meets many factors, which is all the cue-erasing needs.
    """
    import tensorflow as tf

    size = tf.shape(x)[1:3]
    factor = tf.random.stateless_uniform([], seed_factor, config.rescale_min, 1.0)
    small = tf.maximum(8, tf.cast(tf.cast(size, tf.float32) * factor, tf.int32))
    method = "area" if config.rescale_min < 1.0 else "bilinear"
    round_trip = tf.image.resize(tf.image.resize(x, small, method=method), size,
                                 method="bilinear")
    chosen = tf.random.stateless_uniform([tf.shape(x)[0], 1, 1, 1], seed_apply) \
        < config.rescale_probability
    return tf.where(chosen, round_trip, x)


def _sharpen(x: Any, amount: Any) -> Any:
    """Unsharp mask: ``x + amount * (x - blur(x))``; a negative amount blurs instead."""
    import tensorflow as tf

    kernel_1d = tf.constant([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    kernel = tf.reshape(kernel_1d[:, None] * kernel_1d[None, :], [5, 5, 1, 1])
    padded = tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="SYMMETRIC")
    blurred = tf.nn.conv2d(padded, kernel, strides=1, padding="VALID")
    # Below -1 an unsharp mask inverts detail; cap the blur at the blurred image itself.
    return x + tf.maximum(amount, -1.0) * (x - blurred)


def _jpeg(x: Any, config: AugmentationConfig, seed_quality: Any, seed_apply: Any) -> Any:
    """JPEG re-compress chosen images at a random quality (real JPEG encoder and decoder)."""
    import tensorflow as tf

    n = tf.shape(x)[0]
    low, high = config.jpeg_quality
    qualities = tf.random.stateless_uniform([n], seed_quality, low, high + 1, dtype=tf.int32)
    chosen = tf.random.stateless_uniform([n], seed_apply) < config.jpeg_probability

    def one(args: Any) -> Any:
        image, quality, apply = args
        return tf.cond(apply, lambda: tf.image.adjust_jpeg_quality(image, quality),
                       lambda: image)

    return tf.map_fn(one, (x, qualities, chosen), fn_output_signature=tf.float32)
