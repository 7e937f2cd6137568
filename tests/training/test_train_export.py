"""One-epoch training on 24 synthetic images at 32 px, export round trip, cancel."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from model_training.config import TrainingConfig
from model_training.datasets import read_dataset
from model_training.training import TrainingCancelled, TrainingProgress, TrainingResult, train


def _config(cache: Path, **overrides: object) -> TrainingConfig:
    values: dict[str, object] = {
        "input_size": 32, "epochs": 1, "batch_size": 4, "width": 0.25,
        "cache_dir": str(cache), "seed": 0,
    }
    values.update(overrides)
    return TrainingConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingResult, Path]:
    from tests.training.conftest import write_metadata_dataset

    folder = write_metadata_dataset(tmp_path_factory.mktemp("data") / "tiny")
    cache = tmp_path_factory.mktemp("cache")
    reports: list[TrainingProgress] = []
    result = train(_config(cache), read_dataset(folder), progress=reports.append)
    phases = {r.phase for r in reports}
    assert phases == {"preprocessing", "training"}
    assert any(r.epoch == 1 and "val_loss" in r.metrics for r in reports)
    return result, folder


def test_training_result(trained: tuple[TrainingResult, Path]) -> None:
    result, _ = trained
    assert result.classes == ["Normal", "Pneumonia", "COVID-19"]
    assert set(result.table["subset"]) == {"train", "val", "test"}
    assert result.best_epoch == 1
    assert {"loss", "val_loss", "accuracy", "val_auroc"} <= set(result.history)
    assert result.images.arrays.shape == (24, 32, 32)


def test_export_round_trip(trained: tuple[TrainingResult, Path], tmp_path: Path) -> None:
    from desktop_app.core.classify.inference import TfliteModel
    from desktop_app.core.model.model_bundle import load_bundle
    from model_training.bundle_evaluation import evaluate_bundle
    from model_training.finalize import finalize
    from model_training.metrics import softmax

    result, folder = trained
    assert result.config.quantization == "none"
    report = finalize(result, tmp_path / "bundle", bootstrap_rounds=20)
    bundle = load_bundle(tmp_path / "bundle")
    card = bundle.card
    assert card.preprocessing.input_size == 32
    assert set(card.files) == {"model.tflite", "model.keras"}
    assert "test" in card.metrics
    assert "shortcut_audit" in card.metrics["test"]
    assert card.training_data["counts"]["train"]["images"] > 0
    images = result.images.arrays[:8, ..., None]
    lite = TfliteModel(bundle).run(images)
    keras_probs = softmax(np.asarray(result.model(images, training=False)), card.temperature)
    assert np.max(np.abs(lite.probabilities - keras_probs)) <= 1e-4
    assert lite.cams.shape[0] == 8
    assert lite.cams.shape[-1] == 3
    assert lite.features.shape[0] == 8
    for name in ("training_curves.png", "roc.png", "reliability.png", "report.json"):
        assert (tmp_path / "bundle" / "report" / name).is_file()
    assert report["figures"]["roc"] == "roc.png"
    # The LiteRT evaluation path on the same split.
    metrics = evaluate_bundle(tmp_path / "bundle", folder, bootstrap_rounds=10,
                              cache_dir=result.config.cache_dir)
    assert metrics["n"] == int(result.subset_mask("test").sum())
    assert metrics["overall"]["accuracy"] == pytest.approx(
        card.metrics["test"]["overall"]["accuracy"])
    # The card names the TEST rows it was measured on, and the per-population figures at
    # the app's decision come back the same through LiteRT.
    assert metrics["rows_fingerprint"] == card.metrics["test"]["rows_fingerprint"]
    assert metrics["rows_fingerprint"]["images"] == metrics["n"]
    card_populations = card.metrics["test"]["populations"]
    assert set(card_populations["per_age_group"]) == {"child", "unknown"}
    assert card_populations["overall"]["accuracy"]["value"] == pytest.approx(
        metrics["populations"]["overall"]["accuracy"]["value"])
    assert "populations" in card.metrics["validation"]


def test_int8_export_is_measured_as_int8(
    trained: tuple[TrainingResult, Path], tmp_path: Path
) -> None:
    """An int8 bundle: smaller, close to Keras, and its card describes the int8 model."""
    from desktop_app.core.classify.inference import TfliteModel
    from desktop_app.core.model.model_bundle import load_bundle
    from model_training.bundle_evaluation import evaluate_bundle
    from model_training.export import QUANTIZED_TOLERANCE, convert_to_tflite
    from model_training.finalize import finalize
    from model_training.metrics import softmax

    result, folder = trained
    result = dataclasses.replace(
        result, config=dataclasses.replace(result.config, quantization="int8"))
    finalize(result, tmp_path / "bundle", bootstrap_rounds=10)
    bundle = load_bundle(tmp_path / "bundle")
    float_size = len(convert_to_tflite(result.model, 32))
    assert bundle.tflite_path.stat().st_size < float_size
    export = bundle.card.metrics["export"]
    assert export["quantization"] == "int8"
    assert 0.0 <= export["max_abs_probability_difference"] <= QUANTIZED_TOLERANCE
    assert 0.0 <= export["argmax_agreement"] <= 1.0
    images = result.images.arrays[:8, ..., None]
    lite = TfliteModel(bundle).run(images)
    keras_probs = softmax(np.asarray(result.model(images, training=False)),
                          bundle.card.temperature)
    assert np.max(np.abs(lite.probabilities - keras_probs)) <= QUANTIZED_TOLERANCE
    # The card's test metrics are those of the model the app runs: evaluating the bundle
    # through LiteRT reproduces them.
    metrics = evaluate_bundle(tmp_path / "bundle", folder, bootstrap_rounds=10,
                              cache_dir=result.config.cache_dir)
    assert metrics["overall"]["accuracy"] == pytest.approx(
        bundle.card.metrics["test"]["overall"]["accuracy"])
    assert metrics["overall"]["nll"] == pytest.approx(
        bundle.card.metrics["test"]["overall"]["nll"], rel=1e-4)


def test_int8_conversion_needs_images() -> None:
    from model_training.architectures import build_model
    from model_training.export import convert_to_tflite

    with pytest.raises(ValueError, match="representative"):
        convert_to_tflite(build_model("compact", 32, 3, width=0.25), 32,
                          representative=np.zeros((0, 32, 32), np.float32))


def test_cancel_takes_effect_within_one_batch(tiny_dataset: Path, tmp_path: Path) -> None:
    state = {"training": False}

    def progress(report: TrainingProgress) -> None:
        state["training"] = state["training"] or report.phase == "training"

    def cancelled() -> bool:
        # Cancel as soon as training has begun (the first poll after the first batch).
        return state["training"] or state.get("preprocessed", False)

    def on_progress(report: TrainingProgress) -> None:
        progress(report)
        if report.phase == "preprocessing" and report.batch == report.batches:
            state["preprocessed"] = True

    with pytest.raises(TrainingCancelled) as caught:
        train(_config(tmp_path, epochs=5), read_dataset(tiny_dataset), progress=on_progress,
              cancelled=cancelled)
    assert caught.value.batches_run == 1
    assert caught.value.epochs_completed == 0


def test_cancel_during_preprocessing(tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingCancelled):
        train(_config(tmp_path), read_dataset(tiny_dataset), cancelled=lambda: True)


def test_seed_architecture_exports_zero_cam(tmp_path: Path) -> None:
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from model_training.architectures import build_model
    from model_training.export import convert_to_tflite

    model = build_model("seed-2020", 64, 3)
    assert model.get_layer("head").activation is keras.activations.linear
    (tmp_path / "m.tflite").write_bytes(convert_to_tflite(model, 64, cam=False))
    runner = Interpreter(model_path=str(tmp_path / "m.tflite")).get_signature_runner()
    out = runner(image=np.random.default_rng(0).random((2, 64, 64, 1), dtype=np.float32))
    assert out["cam"].shape[0] == 2
    assert out["cam"].shape[-1] == 3
    assert not out["cam"].any()
    assert out["features"].shape == (2, 1024)


def test_fine_tuning_starts_from_the_saved_weights(
    trained: tuple[TrainingResult, Path], tmp_path: Path
) -> None:
    from model_training.architectures import build_model
    from model_training.training import load_initial_weights

    result, folder = trained
    saved = tmp_path / "model.keras"
    result.model.save(saved)
    fresh = build_model("compact", 32, 3, width=0.25)
    load_initial_weights(fresh, tmp_path)  # a bundle-like folder holding model.keras
    for got, want in zip(fresh.get_weights(), result.model.get_weights(), strict=True):
        assert np.array_equal(got, want)
    # And through train(): one more epoch from those weights.
    tuned = train(_config(Path(result.config.cache_dir), initial_model=str(saved)),
                  read_dataset(folder))
    assert tuned.config.initial_model == str(saved)
    assert tuned.best_epoch == 1


def test_fine_tuning_refuses_a_model_of_other_shape(
    trained: tuple[TrainingResult, Path], tmp_path: Path
) -> None:
    from model_training.architectures import build_model
    from model_training.training import load_initial_weights

    result, _ = trained
    result.model.save(tmp_path / "model.keras")
    wider = build_model("compact", 32, 3, width=0.5)
    with pytest.raises(ValueError, match="does not match the chosen settings"):
        load_initial_weights(wider, tmp_path / "model.keras")
    with pytest.raises(ValueError, match="does not exist"):
        load_initial_weights(wider, tmp_path / "missing.keras")


def test_redecide_rewrites_decisions_and_gate_not_weights(
        trained: tuple[TrainingResult, Path], tmp_path: Path) -> None:
    import json

    from desktop_app.core.hashing import sha256_file
    from desktop_app.core.model.model_bundle import load_bundle
    from model_training.bundle_evaluation import evaluate_bundle
    from model_training.finalize import finalize
    from model_training.redecide import redecide_bundle

    result, folder = trained
    finalize(result, tmp_path / "bundle", bootstrap_rounds=20)
    card_path = tmp_path / "bundle" / "model_card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    # An export of 2026-12-06 already decides by the rule and fits refusal limits.
    assert card["decision"]["strict_thresholds"] is True
    assert set(card["ood"]["refusal_limits"]) == {"layout", "orientation", "global",
                                                  "texture", "features"}
    # A card of an older export: no rule fields, no refusal limits, non-strict thresholds.
    for key in ("max_false_covid", "max_false_pneumonia", "child_max_false_covid",
                "age_group_thresholds"):
        card["training_config"].pop(key)
    card["decision"].pop("strict_thresholds")
    card["ood"].pop("refusal_limits")
    card["metrics"]["test"].pop("threshold_curves")  # cards before 2026-12-08 have none
    card_path.write_text(json.dumps(card), encoding="utf-8")
    hashes = {name: sha256_file(tmp_path / "bundle" / name) for name in card["files"]}

    report = tmp_path / "bundle" / "report"
    before = json.loads((report / "report.json").read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match="unknown operating-point setting"):
        redecide_bundle(tmp_path / "bundle", folder, rule={"max_false_flu": 0.1})
    new = redecide_bundle(tmp_path / "bundle", folder, report_dir=report,
                          bootstrap_rounds=10, cache_dir=result.config.cache_dir,
                          rule={"adult_pneumonia": "overall"})
    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.model_id == card["model_id"]
    assert {name: sha256_file(tmp_path / "bundle" / name) for name in card["files"]} == hashes
    assert new["decision"]["strict_thresholds"] is True
    assert new["decision"]["decided"]["by"].startswith("model_training.redecide")
    assert new["training_config"]["max_false_covid"] == TrainingConfig().max_false_covid
    # A setting given to decide replaces the card's and is recorded with the rule's words.
    assert new["training_config"]["adult_pneumonia"] == "overall"
    assert "adults' Pneumonia the all-ages threshold" in new["decision"]["decided"]["rule"]
    adult = new["decision"].get("by_age_group", {}).get("adult")
    if adult is not None:
        assert adult["thresholds"]["Pneumonia"] == new["decision"]["thresholds"]["Pneumonia"]
    limits = new["ood"]["refusal_limits"]
    assert limits["features"] >= new["ood"]["distance_threshold"]
    assert limits["orientation"] <= new["ood"]["orientation"]["min_score"]
    after = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert after["history"] == before["history"]
    assert after["decision"]["strict_thresholds"] is True
    # The gate's TEST figures come from the app's classify path on the re-decided bundle.
    gate = new["metrics"]["test"]["gate"]
    assert gate == bundle.card.metrics["test"]["gate"]
    assert sum(entry["films"] for entry in gate["per_class"].values()) == \
        new["metrics"]["test"]["n"]
    # The card's TEST figures are those of the new operating point, through LiteRT.
    metrics = evaluate_bundle(tmp_path / "bundle", folder, bootstrap_rounds=10,
                              cache_dir=result.config.cache_dir)
    assert metrics["populations"]["overall"]["accuracy"]["value"] == pytest.approx(
        new["metrics"]["test"]["populations"]["overall"]["accuracy"]["value"])
    # The TEST curves are back, each with the new operating point on it.
    from desktop_app.core.metrics.threshold_curves import curves_from_section

    curves = curves_from_section(bundle.card.metrics["test"]["threshold_curves"])
    assert "all" in curves
    for finding, threshold in new["decision"]["thresholds"].items():
        curve = curves["all"].curves[finding]
        assert curve.operating_threshold == threshold
        assert curve.operating_point.threshold == threshold



def test_a_rewritten_card_is_readable_like_any_file(tmp_path: Path) -> None:
    import os
    import stat

    from desktop_app.core.imaging.film_files import write_atomically

    card = tmp_path / "model_card.json"
    card.write_text("{}", encoding="utf-8")
    write_atomically(card, b'{"new": true}\n')
    assert card.read_text(encoding="utf-8") == '{"new": true}\n'
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(card.stat().st_mode) == 0o666 & ~umask  # not owner-only
    assert [p.name for p in tmp_path.iterdir()] == ["model_card.json"]  # no temporary left
