"""Screenshots of the threshold curves for the docs, from synthetic data only.

``QT_QPA_PLATFORM=offscreen python scripts/threshold_curve_screenshots.py [--out docs/images]``
writes ``calibration_curves.png`` (Analysis › Calibrate to This Site…) and
``model_card_curves.png`` (the model card's TEST curves).

No film of any dataset is read: the site's films are generated radiographs
(:func:`desktop_app.core.classify.synthetic_radiograph`) calibrated with the bundled model
through the real path, and because a model cannot rank generated films, each film's
probabilities are then replaced by draws that rank the truth first more often than not (a
made-up model of middling skill), and the calibration is re-measured on them
(:func:`desktop_app.core.site.site_calibration.recalibrate`). The card shown is the bundled
card's structure with a made-up id and only synthetic curves, so no figure in either picture
describes a real model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop_app.core.classify.synthetic import synthetic_radiograph  # noqa: E402
from desktop_app.core.locations import bundled_model_dir  # noqa: E402

CLASSES = ["Normal", "Pneumonia", "COVID-19"]
_CSV = {"Normal": ("Normal", ""), "Pneumonia": ("Pnemonia", "bacteria"),
        "COVID-19": ("Pnemonia", "COVID-19")}


def _probabilities(truth: int, rng: np.random.Generator) -> np.ndarray:
    """A made-up model's calibrated probabilities: the truth ahead more often than not."""
    logits = rng.normal(0.0, 1.0, 3)
    logits[truth] += 1.7
    return np.exp(logits) / np.exp(logits).sum()


def _site(folder: Path, films: int) -> Path:
    """Generated films with labels, patients and ages in a CoronaHack-style CSV."""
    lines = ["X_ray_image_name,Label,Label_2_Virus_category,patient_id,source,age"]
    for index in range(films):
        name = CLASSES[index % 3]
        label, detail = _CSV[name]
        Image.fromarray(synthetic_radiograph(seed=500 + index)).save(folder / f"f{index}.png")
        lines.append(f"f{index}.png,{label},{detail},p{index // 2},ward,"
                     f"{50 if index % 4 else 9}")
    (folder / "site.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "site.csv"


def calibration(films: int = 240) -> object:
    """A real calibration of the bundled model, re-measured on made-up probabilities."""
    from desktop_app.core.decision import decide
    from desktop_app.core.model.model_bundle import load_bundle
    from desktop_app.core.site.site_calibration import (
        CalibrationSettings,
        SiteCalibration,
        calibrate_site,
        recalibrate,
    )

    folder = Path(tempfile.mkdtemp(prefix="lunglens-screens-"))
    bundle = load_bundle(bundled_model_dir())
    settings = CalibrationSettings("St Example's radiology (synthetic)")
    first = calibrate_site(_site(folder, films), bundle, settings)
    rng = np.random.default_rng(7)
    evidence = first.evidence
    readable = []
    for film in evidence.readable:
        probabilities = _probabilities(CLASSES.index(film.film.truth), rng)
        answer = decide(probabilities, CLASSES, bundle.card.decision, age_group=film.age_group)
        readable.append(dataclasses.replace(film, probabilities=probabilities,
                                            label=answer.label, refused=False))
    made_up = dataclasses.replace(evidence, readable=readable)
    return recalibrate(SiteCalibration(first.source, first.card, evidence=made_up,
                                       settings=settings), settings)


def card_with_curves() -> object:
    """The bundled card's structure with a made-up id and synthetic TEST curves only."""
    from desktop_app.core.model.model_card import ModelCard
    from model_training.threshold_curve_card import threshold_curves_section

    card = json.loads((bundled_model_dir() / "model_card.json").read_text(encoding="utf-8"))
    rng = np.random.default_rng(11)
    n = 800
    labels = rng.integers(0, 3, n)
    ages = np.where(rng.random(n) < 0.45, "adult", "child")
    probabilities = np.stack([_probabilities(int(t), rng) for t in labels])
    section = threshold_curves_section(probabilities, labels, CLASSES, card["decision"],
                                       age_groups=ages.tolist(),
                                       patients=[f"p{i}" for i in range(n)],
                                       bootstrap_rounds=300, seed=0)
    card["model_id"] = "synthetic-example-model"
    card["metrics"] = {"test": {"threshold_curves": section}}
    card.pop("site_calibration", None)
    return ModelCard.from_dict(card)


def main(argv: list[str] | None = None) -> int:
    """Write both screenshots; print their paths and sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    from PySide6 import QtWidgets

    from desktop_app.core.model.model_bundle import load_bundle
    from desktop_app.ui.calibration_dialog import CalibrationDialog
    from desktop_app.ui.card_curves import CURVES_ANCHOR
    from desktop_app.ui.model_card_dialog import ModelCardDialog

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    args.out.mkdir(parents=True, exist_ok=True)
    dialog = CalibrationDialog(load_bundle(bundled_model_dir()))
    result = calibration()
    dialog.path_edit.setText("/data/site-films/site.csv")
    dialog.site_edit.setText(result.summary["site"])
    dialog.progress.setRange(0, 1)
    dialog.progress.setValue(1)
    dialog._on_worker_succeeded(result)  # as when the calibration's worker finishes
    dialog.choose_thresholds({"Pneumonia": 0.45})
    dialog.show()
    app.processEvents()
    written = [args.out / "calibration_curves.png", args.out / "model_card_curves.png"]
    dialog.grab().save(str(written[0]))
    card_dialog = ModelCardDialog(card_with_curves())
    card_dialog.show()
    app.processEvents()
    card_dialog.browser.scrollToAnchor(CURVES_ANCHOR)
    app.processEvents()
    card_dialog.grab().save(str(written[1]))
    for path in written:
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
