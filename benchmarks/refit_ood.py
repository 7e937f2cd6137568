"""Re-fit the ``ood`` section of a model bundle's card from the real training X-rays.

``python benchmarks/refit_ood.py --model DIR [--data ../shared/datasets/cxr] [--write]``

Why a separate step: the gate's statistics (class means and shared covariance of the model's
pooled features, the appearance model of the thumbnails, the image-check limits) must come from
the *trained* model on the *real* training X-rays. This script recomputes them without
TensorFlow (LiteRT only, the model's ``features`` output) and rewrites ``model_card.json``; the
card is not hashed, the model files are, so the bundle stays valid.

The fit itself is :func:`model_training.ood_fitting.fit_gate`, the same function every export
uses (fitted on the training code's own ``train`` subset, the feature threshold set on
``val``; its docstring gives the protocol and the quantiles). This script only measures the
images without TensorFlow and rewrites the card; the TEST split is never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.classify.lung_fields import ModelInputs
from desktop_app.core.errors import ImageLoadError, ModelBundleError
from desktop_app.core.gate import (
    ImageStatistics,
    OodGate,
    global_vector,
    image_statistics,
    orientation_score,
    texture_vector,
    thumbnail_vector,
)
from desktop_app.core.hashing import sha256_file
from desktop_app.core.imaging import load_image
from desktop_app.core.model.model_bundle import ModelBundle, load_bundle
from desktop_app.core.model.model_card import CARD_FILE, ModelCard
from desktop_app.core.preprocessing import PreprocessingSpec

__all__ = ["Measurements", "dataset_subsets", "measure", "refit_bundle_ood", "refit_spec"]

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cxr"


@dataclass
class Measurements:
    """What the gate needs to know about a list of images.

    Attributes:
        paths: The images that loaded (in input order).
        stats: Their image statistics.
        thumbnails: ``(n, 256)`` appearance thumbnails.
        textures: :func:`~desktop_app.core.gate.texture_vector` rows.
        globals_: :func:`~desktop_app.core.gate.global_vector` rows.
        features: ``(n, dim)`` pooled model features (``None`` without a model).
        errors: Files the loader refused, with the reason.
    """

    paths: list[Path]
    stats: list[ImageStatistics]
    thumbnails: np.ndarray
    textures: np.ndarray
    globals_: np.ndarray
    features: np.ndarray | None
    errors: dict[Path, str]

    def save(self, path: Path) -> None:
        """Cache to an ``.npz`` (re-running the model on 2,500 films takes minutes)."""
        np.savez_compressed(
            path, paths=np.array([str(p) for p in self.paths]),
            stats=np.array([[s.colourfulness, s.aspect, s.uniform_fraction, s.gray_levels]
                            for s in self.stats]).reshape(-1, 4),
            thumbnails=self.thumbnails, textures=self.textures, globals_=self.globals_,
            features=self.features if self.features is not None else np.zeros((0, 0)),
            errors=np.array([f"{p}\t{r}" for p, r in self.errors.items()]),
        )

    @classmethod
    def load(cls, path: Path) -> Measurements:
        """Read a cache written by :meth:`save`."""
        data = np.load(path)
        features = data["features"]
        errors = dict(line.split("\t", 1) for line in data["errors"].tolist())
        return cls(
            paths=[Path(p) for p in data["paths"].tolist()],
            stats=[ImageStatistics(float(c), float(a), float(u), int(g))
                   for c, a, u, g in data["stats"]],
            thumbnails=data["thumbnails"], textures=data["textures"], globals_=data["globals_"],
            features=features if features.size else None,
            errors={Path(p): r for p, r in errors.items()},
        )


def measure(
    paths: Sequence[Path],
    spec: PreprocessingSpec,
    bundle: ModelBundle | None = None,
    *,
    batch_size: int = 32,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> Measurements:
    """Load, preprocess and (with a bundle) run the model on ``paths``.

    The same steps as :class:`desktop_app.core.classify.analysis.Analyzer`, but keeping the raw
    features, which the gate's fit needs and the analyzer does not return.
    """
    model = None
    if bundle is not None:
        from desktop_app.core.classify.inference import TfliteModel

        model = TfliteModel(bundle, num_threads=workers)

    make_input = ModelInputs(spec)

    def prepare(path: Path) -> tuple[Path, Any]:
        try:
            loaded = load_image(path)
        except ImageLoadError as error:
            return path, error.reason
        prepared = make_input(loaded.pixels)[0].array
        return path, (image_statistics(loaded.pixels, loaded.colourfulness), prepared)

    kept: list[Path] = []
    stats: list[ImageStatistics] = []
    thumbs: list[np.ndarray] = []
    textures: list[np.ndarray] = []
    globals_: list[np.ndarray] = []
    features: list[np.ndarray] = []
    errors: dict[Path, str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(paths), batch_size):
            chunk = list(pool.map(prepare, paths[start:start + batch_size]))
            arrays = []
            for path, outcome in chunk:
                if isinstance(outcome, str):
                    errors[path] = outcome
                    continue
                kept.append(path)
                stats.append(outcome[0])
                thumbs.append(thumbnail_vector(outcome[1]))
                textures.append(texture_vector(outcome[1]))
                globals_.append(global_vector(outcome[1]))
                arrays.append(outcome[1])
            if model is not None and arrays:
                features.append(model.run(np.stack(arrays)[..., None]).features)
            if progress is not None:
                progress(min(start + batch_size, len(paths)), len(paths))
    return Measurements(
        paths=kept, stats=stats,
        thumbnails=np.stack(thumbs) if thumbs else np.zeros((0, 256)),
        textures=np.stack(textures) if textures else np.zeros((0, 0)),
        globals_=np.stack(globals_) if globals_ else np.zeros((0, 0)),
        features=np.concatenate(features).astype(np.float64) if features else None,
        errors=errors,
    )


def dataset_subsets(data_dir: Path, card_training_config: dict[str, Any] | None = None) -> Any:
    """The dataset table with the training code's ``subset`` column (train / val / test)."""
    from model_training.datasets import read_dataset
    from model_training.splits import assign_subsets

    config = card_training_config or {}
    table = read_dataset(data_dir)
    return assign_subsets(
        table,
        val_fraction=float(config.get("val_fraction", 0.15)),
        test_fraction=float(config.get("test_fraction", 0.2)),
        seed=int(config.get("seed", 2026)),
    )


def refit_spec(
    train: Measurements,
    train_labels: np.ndarray,
    val: Measurements,
    classes: Sequence[str],
    **options: Any,
) -> dict[str, Any]:
    """Fit on ``train``, set the thresholds on validation (the training code's protocol).

    Returns:
        The new ``ood`` card section (see :func:`model_training.ood_fitting.fit_gate`).
    """
    from model_training.ood_fitting import GateReference, fit_gate

    if train.features is None or val.features is None:
        raise ValueError("refit_spec needs model features for train and validation images")

    def reference(m: Measurements) -> GateReference:
        return GateReference(m.features, m.stats, m.thumbnails, m.textures, m.globals_)

    return fit_gate(reference(train), train_labels, reference(val), classes, **options)


def refit_bundle_ood(
    model_dir: Path,
    data_dir: Path,
    *,
    write: bool = False,
    cache_dir: Path | None = None,
    distance_quantile: float = 0.999,
    appearance_quantile: float = 0.9975,
    texture_quantile: float = 0.999,
    global_quantile: float = 0.999,
    orientation_quantile: float = 0.001,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Recompute a bundle's ``ood`` section; rewrite its card when ``write``."""
    bundle = _load_for_refit(Path(model_dir))
    card_path = Path(model_dir) / CARD_FILE
    raw_card = json.loads(card_path.read_text(encoding="utf-8"))
    table = dataset_subsets(data_dir, raw_card.get("training_config"))
    classes = list(bundle.card.classes)
    measured: dict[str, Measurements] = {}
    for subset in ("train", "val"):
        rows = table[table["subset"] == subset]
        paths = [Path(p) for p in rows["path"]]
        cache = cache_dir / f"{bundle.model_id}-{subset}.npz" if cache_dir else None
        if cache is not None and cache.is_file():
            measured[subset] = Measurements.load(cache)
        else:
            started = time.perf_counter()
            measured[subset] = measure(paths, bundle.card.preprocessing, bundle)
            log(f"{subset}: {len(paths)} images measured in {time.perf_counter() - started:.0f} s"
                f" ({len(measured[subset].errors)} unreadable)")
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                measured[subset].save(cache)
    label_of = {Path(p): str(label) for p, label in zip(table["path"], table["label"],
                                                         strict=True)}
    train_labels = np.array([classes.index(label_of[p]) for p in measured["train"].paths])
    spec = refit_spec(measured["train"], train_labels, measured["val"], classes,
                      distance_quantile=distance_quantile,
                      appearance_quantile=appearance_quantile,
                      texture_quantile=texture_quantile, global_quantile=global_quantile,
                      orientation_quantile=orientation_quantile)
    gate = OodGate(spec)
    for subset, data in measured.items():
        image = np.array([gate.check_image(s).out_of_distribution for s in data.stats])
        layout = gate.appearance_distance(data.thumbnails) > spec["appearance"][
            "distance_threshold"]
        texture = gate.texture_distance(data.textures) > spec["texture"]["distance_threshold"]
        global_ = gate.global_distance(data.globals_) > spec["global"]["distance_threshold"]
        global_ |= orientation_score(data.globals_) < spec["orientation"]["min_score"]
        features = gate.distances(data.features) > spec["distance_threshold"]
        either = image | layout | texture | global_ | features
        log(f"{subset}: flagged by image checks {image.mean():.1%}, layout {layout.mean():.1%}, "
            f"global/orientation {global_.mean():.1%}, texture {texture.mean():.1%}, features "
            f"{features.mean():.1%}; any {either.mean():.1%}")
    if write:
        raw_card["ood"] = spec
        card_path.write_text(json.dumps(raw_card, indent=2) + "\n", encoding="utf-8")
        load_bundle(model_dir)  # the rewritten card must still validate
        log(f"rewrote the ood section of {card_path}")
    return spec


def _load_for_refit(model_dir: Path) -> ModelBundle:
    """Load and verify a bundle whose ``ood`` section may be outdated (that is why we refit).

    Everything but the ``ood`` section is checked as :func:`load_bundle` does: the files'
    sha256 against the card, the decision section.
    """
    try:
        return load_bundle(model_dir)
    except ModelBundleError as error:
        if "ood" not in str(error):
            raise
    card = ModelCard.read(model_dir / CARD_FILE)
    for name, expected in card.files.items():
        actual = sha256_file(model_dir / name)
        if actual != expected:
            raise ModelBundleError(model_dir / name, f"sha256 {actual[:16]}... does not match "
                                   f"the card's {expected[:16]}...")
    return ModelBundle(path=model_dir, card=card)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, metavar="DIR")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, metavar="DIR")
    parser.add_argument("--write", action="store_true", help="rewrite the bundle's card")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="cache measured features here (.npz per subset)")
    parser.add_argument("--distance-quantile", type=float, default=0.999)
    parser.add_argument("--appearance-quantile", type=float, default=0.9975)
    parser.add_argument("--texture-quantile", type=float, default=0.999)
    parser.add_argument("--global-quantile", type=float, default=0.999)
    parser.add_argument("--orientation-quantile", type=float, default=0.001)
    args = parser.parse_args(argv)
    spec = refit_bundle_ood(args.model, args.data, write=args.write, cache_dir=args.cache,
                            distance_quantile=args.distance_quantile,
                            appearance_quantile=args.appearance_quantile,
                            texture_quantile=args.texture_quantile,
                            global_quantile=args.global_quantile,
                            orientation_quantile=args.orientation_quantile)
    summary = {k: spec[k] for k in ("distance_threshold", "max_colourfulness", "max_aspect",
                                    "max_uniform_fraction", "min_gray_levels")}
    for name in ("appearance", "texture", "global"):
        summary[f"{name}_threshold"] = spec.get(name, {}).get("distance_threshold")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
