#!/usr/bin/env python3
"""Shortcut checks of model bundles on the validation split (no TEST figures).

Usage (from the repository root)::

    .venv/bin/python scripts/shortcut_check.py BUNDLE [BUNDLE ...] [--data DIR]

For each bundle, on the validation patients of the bundle's own split (seed and fraction
from its card):

* the per-population key figures at the app's decision;
* COVID-19-vs-rest AUROC, on all films and on adults only, with the lung fields visible and
  hidden (the card's shortcut-audit masking: two ellipses set to the image mean). A model
  whose COVID-19 answer survives hidden lungs is reading something else: the collection,
  labels, borders, processing;
* the adult false-COVID rate when the films are re-saved as another site might (JPEG quality
  40, one third of the size, a 224 px squashed JPEG, gamma 0.7): dependence on file format.

Used to choose the training recipe (docs/model_recipe.md).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.classify.inference import TfliteModel
from desktop_app.core.classify.lung_fields import ModelInputs
from desktop_app.core.imaging import load_image
from desktop_app.core.model.model_bundle import load_bundle
from model_training.calibration import decision_predictions
from model_training.datasets import read_dataset
from model_training.evaluation import mask_lungs
from model_training.metrics import auroc, softmax
from model_training.population_metrics import population_metrics
from model_training.splits import assign_subsets

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cxr"


def _resaved(pixels: np.ndarray) -> dict[str, np.ndarray]:
    from PIL import Image

    image = Image.fromarray((pixels * 255).clip(0, 255).astype(np.uint8))
    out = {"as is": pixels}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=40)
    out["JPEG q40"] = np.asarray(Image.open(buffer), np.float32) / 255
    width, height = image.size
    small = image.resize((max(64, width // 3), max(64, height // 3)), Image.Resampling.BILINEAR)
    out["1/3 size"] = np.asarray(small, np.float32) / 255
    buffer = io.BytesIO()
    image.resize((224, 224), Image.Resampling.BILINEAR).save(buffer, "JPEG", quality=75)
    out["224 squashed JPEG"] = np.asarray(Image.open(buffer), np.float32) / 255
    out["gamma 0.7"] = pixels ** 0.7
    return out


def main(argv: list[str]) -> int:
    """Print the checks for every bundle."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    args = parser.parse_args(argv)
    for folder in args.bundles:
        bundle = load_bundle(folder)
        card = bundle.card
        config = card.training_config
        table = assign_subsets(read_dataset(args.data, task=card.task),
                               val_fraction=float(config.get("val_fraction", 0.15)),
                               seed=int(config.get("seed", 2026)))
        rows = table[table["subset"] == "val"].reset_index(drop=True)
        labels = rows["label"].cat.codes.to_numpy()
        adult = (rows["age_group"] == "adult").to_numpy()
        covid = card.classes.index("COVID-19")
        model = TfliteModel(bundle)
        variants = [_resaved(load_image(p).pixels.astype(np.float32)) for p in rows["path"]]

        def probabilities(images: np.ndarray, model: TfliteModel = model,
                          temperature: float = card.temperature) -> np.ndarray:
            logits = [model.run(images[s:s + 64, ..., None]).logits
                      for s in range(0, len(images), 64)]
            return softmax(np.concatenate(logits), temperature)

        make_input = ModelInputs(card.preprocessing)

        def inputs(name: str, make: ModelInputs = make_input,
                   variants: list = variants) -> np.ndarray:
            return np.stack([make(v[name])[0].array for v in variants])

        plain = inputs("as is")
        probs, hidden = probabilities(plain), probabilities(mask_lungs(plain))
        key = population_metrics(probs, labels, card.classes, card.decision,
                                 sources=rows["source"].tolist(),
                                 age_groups=rows["age_group"].tolist(),
                                 bootstrap_rounds=0)["key_figures"]
        print(f"{card.model_id} ({folder}), validation: {len(rows)} films")
        for name, figure in key.items():
            print(f"  {name}: {'n/a' if figure is None else round(figure['value'], 3)}")
        for label, rows_mask in (("all films", np.ones(len(rows), bool)), ("adults", adult)):
            truth = labels[rows_mask] == covid
            print(f"  COVID-19 vs rest AUROC, {label}: "
                  f"{auroc(truth, probs[rows_mask, covid]):.3f} lungs visible, "
                  f"{auroc(truth, hidden[rows_mask, covid]):.3f} lungs hidden")
        for name in variants[0]:
            chosen, _ = decision_predictions(probabilities(inputs(name)), card.classes,
                                             card.decision)
            rate = float((chosen[adult & (labels != covid)] == covid).mean())
            print(f"  re-saved ({name}): adult non-COVID labelled COVID-19 {rate:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
