"""Entry script of the frozen LungLens executables (``LungLens`` and ``lunglens-cli``).

PyInstaller runs a script, not a module, so this file stands in for ``python -m desktop_app``
and hands over to :func:`desktop_app.__main__.main` unchanged: the GUI, ``classify`` and
``--self-test`` behave exactly as from source.

One addition, only in a full build (where :func:`training_available` is true): ``--self-test``
also proves that the *training* stack survived freezing: it imports ``model_training``, loads
the bundled ``model.keras``, trains it for one step on generated radiographs, converts it to
int8 LiteRT the way the wizard does, and runs the result. That catches what the LiteRT
self-test cannot see: a TensorFlow shared library, a lazily imported Keras module, ``h5py``,
the MLIR converter or the int8 calibrator missing from the bundle. It lives here, not in the
core self-test, because from source the question "did the bundle keep TensorFlow?" does not
arise.
"""

from __future__ import annotations

import multiprocessing
import sys
import time


def _training_self_test() -> int:
    """Fine-tune and export the bundled Keras model for one step; print the outcome; 0 or 1.

    One optimizer step on two generated radiographs and a LiteRT conversion exercise what
    the wizard needs (TensorFlow kernels, autograph, h5py for ``.keras`` weights, the MLIR
    converter) in a few seconds, without touching the user's data or installed models.
    """
    start = time.perf_counter()
    try:

        import keras
        import numpy as np
        import tensorflow as tf

        import model_training  # noqa: F401  (registers custom Keras objects, if any)
        from desktop_app.core.classify.synthetic import synthetic_radiograph
        from desktop_app.core.locations import bundled_model_dir
        from desktop_app.core.model.model_bundle import load_bundle
        from desktop_app.core.preprocessing import preprocess
        from model_training.architectures import has_cam
        from model_training.export import convert_to_tflite, run_tflite

        bundle = load_bundle(bundled_model_dir())
        model = keras.saving.load_model(bundle.keras_path, compile=False)
        spec = bundle.card.preprocessing
        batch = np.stack([preprocess(synthetic_radiograph(seed=seed), spec).array
                          for seed in (0, 1)])[..., None].astype("float32")
        outputs = model.predict(batch, verbose=0)
        first = outputs[0] if isinstance(outputs, list | tuple) else outputs
        if not np.all(np.isfinite(first)):
            raise ValueError(f"Keras model returned non-finite values: {first}")
        if not isinstance(outputs, list | tuple):  # a single-output classifier: train a step
            model.compile(optimizer="adam",
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.fit(batch, np.array([0, 1]), epochs=1, batch_size=2, verbose=0)
        # The wizard's own export path: serving signature, int8 calibration on these images,
        # then the flatbuffer run in LiteRT.
        flatbuffer = convert_to_tflite(model, spec.input_size,
                                       cam=has_cam(bundle.card.architecture),
                                       representative=batch)
        lite = run_tflite(flatbuffer, batch)
        if not np.all(np.isfinite(lite["logits"])):
            raise ValueError(f"int8 LiteRT model returned non-finite values: {lite['logits']}")
    except Exception as error:
        print(f"TRAINING SELF-TEST FAILED: {type(error).__name__}: {error}")
        return 1
    print(f"TRAINING SELF-TEST PASSED in {time.perf_counter() - start:.2f} s "
          f"(TensorFlow {tf.__version__}, Keras {keras.__version__}: load, train step, "
          "int8 LiteRT export and run)")
    return 0


def run() -> int:
    """Run LungLens; add the training self-test to ``--self-test`` in a full build."""
    from desktop_app.__main__ import main

    code = main()
    if "--self-test" in sys.argv[1:] and code == 0:
        from desktop_app.core.capabilities import training_available, training_unavailable_reason

        if training_available():
            code = _training_self_test()
        else:
            print(f"training stack: not in this build ({training_unavailable_reason()})")
    return code


if __name__ == "__main__":
    # Harmless when nothing starts processes; required on Windows if anything ever does.
    multiprocessing.freeze_support()
    sys.exit(run())
