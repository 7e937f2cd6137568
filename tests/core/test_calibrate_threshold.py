"""``calibrate --threshold``: thresholds set by hand, refused when they cannot be, and used
exactly by ``classify`` and ``validate`` afterwards; the report draws the site's curves.

The model has thresholds per age group (``tiny_age_bundle``) and the site's CSV gives adults
and children, so a threshold set by hand must replace every group's.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.cli.calibrate_cli import run_calibrate
from desktop_app.core.cli.classify_cli import run_classify
from desktop_app.core.cli.validate_cli import run_validate
from desktop_app.core.decision import decide
from desktop_app.core.metrics.threshold_curves import curves_from_section
from desktop_app.core.model.model_bundle import load_bundle
from tests.image_factory import synthetic_cxr
from tests.pdf_text import pdf_text

_LABELS = {"Normal": ("Normal", ""), "Pneumonia": ("Pnemonia", "bacteria"),
           "COVID-19": ("Pnemonia", "COVID-19")}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """42 generated films in a CoronaHack-style CSV with ages: adults and children."""
    root = tmp_path_factory.mktemp("site-with-ages")
    lines = ["X_ray_image_name,Label,Label_2_Virus_category,patient_id,source,age"]
    for index in range(42):
        name = list(_LABELS)[index % 3]
        label, detail = _LABELS[name]
        file = f"film{index:02d}.png"
        Image.fromarray(synthetic_cxr(seed=3000 + index)).save(root / file)
        lines.append(f"{file},{label},{detail},p{index},ward-3,{45 if index % 2 else 8}")
    (root / "site.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "site.csv"


def _calibrate(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return run_calibrate(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("value", "quoted"), [
    ("COVID-19=1.5", "'COVID-19=1.5'"), ("COVID-19=-0.1", "'COVID-19=-0.1'"),
    ("COVID-19=abc", "'COVID-19=abc'"), ("COVID-19=0", "'COVID-19=0'"),
    ("0.6", "'0.6'")])
def test_a_threshold_outside_0_1_is_a_usage_error_quoting_it(
        value: str, quoted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _calibrate("--data", str(tmp_path), "--out", str(tmp_path / "out"),
                                "--threshold", value)
    message = err + capsys.readouterr().err
    assert status == 2
    assert "argument --threshold" in message
    assert quoted in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("value", "words"), [
    ("Flu=0.5", "'Flu' is not one of the model's classes"),
    ("Normal=0.5", "'Normal' has no threshold")])
def test_a_class_without_a_threshold_is_a_usage_error_naming_the_findings(
        value: str, words: str, site: Path, tiny_age_bundle: Path, tmp_path: Path) -> None:
    status, _, err = _calibrate("--data", str(site), "--out", str(tmp_path / "out"),
                                "--model", str(tiny_age_bundle), "--threshold", value)
    assert status == 2
    assert words in err
    assert "thresholds can be set for: COVID-19, Pneumonia" in err
    assert "Normal, Pneumonia, COVID-19" in err
    twice = _calibrate("--data", str(site), "--out", str(tmp_path / "out"), "--model",
                       str(tiny_age_bundle), "--threshold", "COVID-19=0.5", "--threshold",
                       "COVID-19=0.6")
    assert twice[0] == 2
    assert "'COVID-19' is given twice (0.5 and 0.6)" in twice[2]


def _median_probabilities(bundle: Path, site: Path) -> dict[str, float]:
    """Thresholds that split the site's films: some reach them, some do not.

    The tiny untrained model's probabilities differ in the fourth decimal only, so the
    thresholds keep six (as the card does).
    """
    films = sorted(site.parent.glob("*.png"))
    results = list(Analyzer(load_bundle(bundle)).analyse(films))
    return {name: round(float(np.median([r.probabilities[name] for r in results])), 6)
            for name in ("COVID-19", "Pneumonia")}


def test_thresholds_set_by_hand_round_trip_through_classify_and_validate(
        site: Path, tiny_age_bundle: Path, tmp_path: Path) -> None:
    chosen = _median_probabilities(tiny_age_bundle, site)
    out, report = tmp_path / "calibrated", tmp_path / "calibration.pdf"
    status, text, err = _calibrate(
        "--data", str(site), "--out", str(out), "--model", str(tiny_age_bundle), "--site",
        "Ward 3", "--threshold", f"COVID-19={chosen['COVID-19']}", "--threshold",
        f"Pneumonia={chosen['Pneumonia']}", "--report", str(report), "--json")
    assert status == 0, err
    section = json.loads(text)["site_calibration"]
    decision = load_bundle(out).card.decision
    # Every age group is decided at exactly the thresholds set by hand.
    assert decision["thresholds"] == chosen
    assert {group: entry["thresholds"] for group, entry in decision["by_age_group"].items()} \
        == {"child": chosen, "adult": chosen}
    assert section["settings"]["thresholds_set_by_hand"] == chosen

    stream = io.StringIO()
    films = sorted(str(p) for p in site.parent.glob("*.png"))
    assert run_classify(["--json", "--model", str(out), *films], stdout=stream) == 0
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    rule = {"priority": ["COVID-19", "Pneumonia"], "thresholds": chosen,
            "min_confidence": decision["min_confidence"], "strict_thresholds": True}
    classes = ["Normal", "Pneumonia", "COVID-19"]
    answered = [r for r in records if not r["out_of_distribution"]]
    assert answered
    expected = {}
    for record in answered:
        probabilities = [record["probabilities"][c] for c in classes]
        expected[record["path"]] = decide(probabilities, classes, rule).label
        assert record["label"] == expected[record["path"]]
    assert len(set(expected.values())) >= 2  # the thresholds split the films

    stream = io.StringIO()
    validation_pdf = tmp_path / "validation.pdf"
    assert run_validate(["--model", str(out), "--data", str(site), "--json", "--bootstrap",
                         "20", "--report", str(validation_pdf)], stdout=stream) == 0
    validation = json.loads(stream.getvalue())
    with open(validation["stored"]["csv"], encoding="utf-8-sig", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["predicted"]]
    # Adults and children alike: each decided at exactly the thresholds set by hand.
    assert {row["age_group"] for row in rows} == {"adult", "child"}
    assert {row["path"]: row["predicted"] for row in rows} == expected
    curves = validation["metrics"]["threshold_curves"]
    assert set(curves["populations"]) == {"adult", "child"}
    for population in curves_from_section(curves).values():
        for finding, curve in population.curves.items():
            assert curve.operating_threshold == chosen[finding]
    text = " ".join(pdf_text(validation_pdf).split())
    assert "Threshold curves" in text
    assert "COVID-19 threshold: found against wrongly called" in text
    assert f"Adults (n=21): threshold {chosen['COVID-19']:.2f} (ring)" in text
    _check_the_sites_curves(section, chosen, report)


def _check_the_sites_curves(section: dict, chosen: dict[str, float], report: Path) -> None:
    """The curve's point at a threshold set by hand is the after column's figure."""
    curves = section["threshold_curves"]
    site_curves = curves_from_section(curves)["all"].curves
    after = section["figures"]["after"]["all"]
    for finding, found, called in (("COVID-19", "covid_found", "non_covid_as_covid"),
                                   ("Pneumonia", "pneumonia_found", "normal_as_pneumonia")):
        curve = site_curves[finding]
        assert curve.operating_threshold == chosen[finding]
        point = curve.operating_point
        for figure, key in ((point.sensitivity, found), (point.false_rate, called)):
            assert figure["value"] == pytest.approx(after[key]["value"])
            assert figure["n"] == after[key]["n"]
            assert figure["ci95"] == pytest.approx(after[key]["ci95"])
        assert curves["chosen"][finding]["set_by"] == "hand"
        assert curves["targets"][finding]["sensitivity"] == 0.9
    text = " ".join(pdf_text(report).split())
    assert "calibration to this site" in text
    assert "Threshold curves on the site's films" in text
    assert "COVID-19 threshold: found against wrongly called" in text
    assert "Pneumonia threshold: found against wrongly called" in text
    assert f"chosen {chosen['COVID-19']:.2f}" in text
    assert "(set by hand)" in text


def test_a_threshold_set_by_hand_applies_without_labelled_films_too(
        site: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    films = tmp_path / "last-month"
    films.mkdir()
    for path in sorted(site.parent.glob("*.png"))[:32]:
        (films / path.name).write_bytes(path.read_bytes())
    status, text, err = _calibrate("--data", str(films), "--out", str(tmp_path / "out"),
                                   "--model", str(tiny_bundle), "--threshold",
                                   "COVID-19=0.5", "--json")
    assert status == 0, err
    section = json.loads(text)["site_calibration"]
    assert load_bundle(tmp_path / "out").card.decision["thresholds"]["COVID-19"] == 0.5
    assert any(w.startswith("no labelled films") for w in section["warnings"])
    assert section["threshold_curves"]["populations"] == {}  # nothing to draw a curve from


def test_recalibrating_needs_the_films_at_hand(tiny_bundle: Path) -> None:
    from desktop_app.core.site.site_calibration import (
        CalibrationError,
        CalibrationSettings,
        SiteCalibration,
        recalibrate,
    )

    card = json.loads((tiny_bundle / "model_card.json").read_text(encoding="utf-8"))
    read_back = SiteCalibration(tiny_bundle, {**card, "site_calibration": {"date": "2026-12-08"}})
    with pytest.raises(CalibrationError, match="films are not at hand"):
        recalibrate(read_back, CalibrationSettings("Ward 3"))
