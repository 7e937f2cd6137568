"""Open one signature of a LiteRT model, check it is the one its card promises, and run it.

The view check and the lung segmenter are small single-input, single-output models, each
shipped with its own card. Both are opened the same way: LiteRT interpreter, signature
runner, names and input shape checked, so that a wrong or damaged file is refused at load
with a message naming it rather than failing on the first image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.errors import ModelBundleError

__all__ = ["SignatureModel", "open_signature"]


class SignatureModel:
    """A checked LiteRT signature, kept together with its interpreter (which must stay alive).

    Not thread-safe: one per thread.
    """

    def __init__(self, interpreter: Any, runner: Any, *, input_name: str, output_name: str,
                 input_shape: tuple[int, ...], what: str) -> None:
        self._interpreter = interpreter
        self._runner = runner
        self._input_name, self._output_name = input_name, output_name
        self._input_shape, self._what = tuple(input_shape), what

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """The output for ``(n, s, s)`` or ``(n, s, s, 1)`` float inputs, as float32.

        Raises:
            ValueError: If the inputs do not have the card's input shape.
        """
        given = np.asarray(inputs, dtype=np.float32)
        batch = np.ascontiguousarray(given[..., None] if given.ndim == 3 else given)
        if batch.ndim != 4 or batch.shape[1:] != self._input_shape:
            side = self._input_shape[0]
            raise ValueError(f"{self._what} inputs must have shape (n, {side}, {side}[, 1]). "
                             f"Received: {given.shape}")
        out = self._runner(**{self._input_name: batch})[self._output_name]
        return np.asarray(out, dtype=np.float32)


def open_signature(
    path: Path,
    *,
    signature: str,
    input_name: str,
    output_name: str,
    input_shape: tuple[int, ...],
    what: str,
    num_threads: int = 1,
) -> SignatureModel:
    """Load ``path`` in LiteRT and return its checked signature runner.

    Args:
        path: The ``.tflite`` file.
        signature: Signature name.
        input_name: The one input the signature must have.
        output_name: The output the signature must have.
        input_shape: Expected input shape without the batch axis (from the model's card).
        what: What the model is, for messages (``"view model"``).
        num_threads: LiteRT threads.

    Raises:
        ModelBundleError: If LiteRT cannot load it, or names or shape differ.
    """
    # Imported here so that merely importing the core stays instant.
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        runner = interpreter.get_signature_runner(signature)
    except (ValueError, RuntimeError) as error:
        raise ModelBundleError(path, f"LiteRT cannot load the {what}: {error}") from error
    inputs = runner.get_input_details()
    outputs = runner.get_output_details()
    if input_name not in inputs or output_name not in outputs:
        raise ModelBundleError(
            path, f"{what} signature has inputs {sorted(inputs)} and outputs {sorted(outputs)}, "
                  f"expected {input_name!r} and {output_name!r}")
    shape = tuple(int(v) for v in inputs[input_name]["shape_signature"][1:])
    if shape != tuple(input_shape):
        raise ModelBundleError(
            path, f"{what} input shape {shape} does not match its card's preprocessing "
                  f"{tuple(input_shape)}")
    return SignatureModel(interpreter, runner, input_name=input_name, output_name=output_name,
                          input_shape=shape, what=what)
