"""Model architectures; every model maps ``(batch, s, s, 1)`` in 0..1 to raw logits.

Each model names three layers that export and evaluation rely on:

* ``head`` - the final linear ``Dense`` producing logits (no softmax: temperature scaling and
  the app apply it);
* ``pooled`` - the penultimate features (out-of-distribution gate);
* ``last_feature_map`` - the last convolutional feature map (class activation maps).

``compact`` (default) puts global average pooling directly before the linear head, so a class
activation map is exactly ``last_feature_map · head weights`` (Zhou et al., CVPR 2016) and the
app draws heat maps without TensorFlow. ``seed-2020`` reproduces the 2020 seed (Flatten + four
Dense layers) for comparison; it has no such map, and its exported ``cam`` is all zeros.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ARCHITECTURES", "build_model", "has_cam"]

ARCHITECTURES: tuple[str, ...] = ("compact", "seed-2020")


def has_cam(arch: str) -> bool:
    """Whether ``last_feature_map · head`` is a valid class activation map for ``arch``."""
    return arch == "compact"


def build_model(
    arch: str,
    input_size: int,
    num_classes: int,
    *,
    width: float = 1.0,
    dropout: float = 0.2,
) -> Any:
    """Build an uncompiled Keras model.

    Args:
        arch: ``"compact"`` or ``"seed-2020"``.
        input_size: Side of the square grayscale input.
        num_classes: Number of logits.
        width: Channel multiplier (``compact`` only).
        dropout: Dropout before the head (``compact`` only; the seed has its own).

    Returns:
        A ``keras.Model`` named after the architecture.

    Raises:
        ValueError: For an unknown architecture, quoting it.
    """
    if arch == "compact":
        return _compact(input_size, num_classes, width=width, dropout=dropout)
    if arch == "seed-2020":
        return _seed_2020(input_size, num_classes)
    raise ValueError(f"unknown architecture {arch!r}; known: {ARCHITECTURES}")


def _compact(input_size: int, num_classes: int, *, width: float, dropout: float) -> Any:
    """Small Xception-style CNN: strided stem, four residual separable stages, GAP, linear head.

    Separable convolutions cost about a ninth of dense 3x3 ones, which is what keeps an epoch on
    two CPU cores short; BatchNorm and residual shortcuts make it train fast from scratch.
    """
    import keras
    from keras import layers

    def channels(base: int) -> int:
        # At least 16: with 8-channel separable convolutions this TensorFlow build's oneDNN
        # kernels crashed the process (double free) during training.
        return max(16, round(base * width / 8) * 8)

    def bn(name: str) -> Any:
        # momentum 0.9 (Keras: 0.99): with ~65 steps per epoch the moving statistics must
        # settle within an epoch or two, or validation scores of early epochs are noise.
        return layers.BatchNormalization(momentum=0.9, name=name)

    inputs = keras.Input((input_size, input_size, 1), name="image")
    # Inputs are 0..1 from preprocess(); centre them inside the model so that any caller that
    # feeds preprocess() output gets the same numbers the weights were trained on.
    x = layers.Rescaling(4.0, offset=-2.0, name="centre")(inputs)
    x = layers.Conv2D(channels(24), 3, strides=2, padding="same", use_bias=False,
                      name="stem_conv")(x)
    x = bn(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage, base in enumerate((32, 64, 128, 256), start=1):
        filters = channels(base)
        shortcut = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False,
                                 name=f"s{stage}_short")(x)
        shortcut = bn(name=f"s{stage}_short_bn")(shortcut)
        y = x
        for index in (1, 2):
            y = layers.Activation("relu", name=f"s{stage}_relu{index}")(y) if index == 2 else y
            y = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False,
                                       name=f"s{stage}_sep{index}")(y)
            y = bn(name=f"s{stage}_bn{index}")(y)
        y = layers.MaxPooling2D(3, strides=2, padding="same", name=f"s{stage}_pool")(y)
        x = layers.Add(name=f"s{stage}_add")([y, shortcut])
        x = layers.Activation("relu", name=f"s{stage}_out")(x)
    x = layers.SeparableConv2D(channels(320), 3, padding="same", use_bias=False, name="top_sep")(x)
    x = bn(name="top_bn")(x)
    fmap = layers.Activation("relu", name="last_feature_map")(x)
    pooled = layers.GlobalAveragePooling2D(name="pooled")(fmap)
    x = layers.Dropout(dropout, name="head_dropout")(pooled)
    logits = layers.Dense(num_classes, name="head")(x)
    return keras.Model(inputs, logits, name="compact")


def _seed_2020(input_size: int, num_classes: int) -> Any:
    """The 2020 seed: 4 x (Conv 3x3 ReLU, MaxPool 2, BatchNorm), Flatten, 4 x (Dense, Dropout).

    The seed took 224x224x3 RGB; grayscale is repeated to three channels inside the model so the
    layer shapes match. Its softmax output layer becomes the linear ``head`` here (logits).
    """
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 1), name="image")
    x = layers.Concatenate(name="to_rgb")([inputs, inputs, inputs])
    for index, filters in enumerate((64, 128, 256, 512), start=1):
        x = layers.Conv2D(filters, 3, activation="relu", name=f"conv{index}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
        name = "last_feature_map" if index == 4 else f"bn{index}"
        x = layers.BatchNormalization(name=name)(x)
    x = layers.Flatten(name="flatten")(x)
    for index, units in enumerate((128, 256, 512, 1024), start=1):
        name = "pooled" if index == 4 else f"dense{index}"
        x = layers.Dense(units, activation="relu", name=name)(x)
        x = layers.Dropout(0.25, name=f"dropout{index}")(x)
    logits = layers.Dense(num_classes, name="head")(x)
    return keras.Model(inputs, logits, name="seed_2020")
