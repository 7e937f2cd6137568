"""``calibrate``: a calibrated bundle from a site's films, through the real classify path.

The tiny model's gate was fitted on one kind of generated radiograph; the "site" here gives
another kind (``tests.image_factory.synthetic_cxr``), which the view model calls frontal but
the tiny model's layout check refuses: exactly a site whose real films the model's limits do
not know. The shipped non-chest check set brakes the widening.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.cli.calibrate_cli import run_calibrate
from desktop_app.core.cli.classify_cli import run_classify
from desktop_app.core.cli.validate_cli import run_validate
from desktop_app.core.gate.check_set import load_check_set
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.model.model_card import CARD_FILE
from desktop_app.core.model.model_store import ModelStore
from desktop_app.core.site.site_calibration import (
    CalibrationError,
    CalibrationSettings,
    calibrate_site,
    calibration_line,
)
from desktop_app.core.site.site_gate import GateLimits, ViewLimits, refused_and_cautioned
from tests.image_factory import synthetic_cxr

CLASS_FOLDERS = {"NORMAL": 0, "PNEUMONIA": 1000, "COVID-19": 2000}


def _write_site(folder: Path, per_class: int) -> Path:
    for name, offset in CLASS_FOLDERS.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            Image.fromarray(synthetic_cxr(seed=offset + index)).save(
                folder / name / f"{name.lower()}_{index}.png")
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_site(tmp_path_factory.mktemp("site"), 14)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _calibrate(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_calibrate(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def calibrated(site: Path, tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("calibrated") / "bundle"
    status, text, err = _calibrate("--data", str(site), "--out", str(out), "--model",
                                   str(tiny_bundle), "--site", "Ward 3", "--json")
    assert status == 0, err
    return out, json.loads(text)


def test_calibrated_bundle_round_trips_through_classify_and_validate(
        site: Path, tiny_bundle: Path, calibrated: tuple[Path, dict]) -> None:
    out, printed = calibrated
    card_before = _sha(tiny_bundle / CARD_FILE)
    bundle = load_bundle(out)
    assert bundle.card.site_calibration["site"] == "Ward 3"
    assert calibration_line(bundle.card) == (
        f"calibrated for Ward 3 on {bundle.card.site_calibration['date']} from 42 films")
    assert printed["model_id"] == bundle.model_id != load_bundle(tiny_bundle).model_id
    # Same weights, byte for byte; the input bundle untouched.
    assert bundle.card.files == load_bundle(tiny_bundle).card.files
    assert _sha(tiny_bundle / CARD_FILE) == card_before
    films = sorted(str(p) for p in site.rglob("*.png"))
    for model, accepted in ((tiny_bundle, 0), (out, len(films))):
        stream = io.StringIO()
        assert run_classify(["--json", "--model", str(model), *films], stdout=stream) == 0
        records = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert sum(not r["out_of_distribution"] for r in records) == accepted
    stream = io.StringIO()
    assert run_validate(["--model", str(out), "--data", str(site), "--json", "--bootstrap",
                         "0"], stdout=stream) == 0
    record = json.loads(stream.getvalue())
    assert record["model_id"] == bundle.model_id
    assert record["calibration"]["site"] == "Ward 3"
    assert record["calibration"]["calibrated_from"] == load_bundle(tiny_bundle).model_id


def test_simulated_refusals_match_the_classify_path(site: Path,
                                                    calibrated: tuple[Path, dict]) -> None:
    out, _ = calibrated
    bundle = load_bundle(out)
    analyzer = Analyzer(bundle)
    paths = sorted(site.rglob("*.png")) + [case.path for case in load_check_set()[::7]]
    results = list(analyzer.analyse(paths))
    view = ViewLimits(analyzer.view.min_frontal_probability,
                      analyzer.view.caution_frontal_probability,
                      analyzer.view.confident_frontal_probability)
    refused, cautioned = refused_and_cautioned(
        [dict(r.ood.values) if r.ok else None for r in results],
        GateLimits.from_spec(bundle.card.ood), view,
        [r.out_of_distribution or not r.ok for r in results])
    assert refused.tolist() == [r.out_of_distribution or not r.ok for r in results]
    assert cautioned.tolist() == [r.caution is not None for r in results]


def test_section_reports_gate_thresholds_and_honest_figures(
        calibrated: tuple[Path, dict]) -> None:
    section = calibrated[1]["site_calibration"]
    assert section["films"]["by_class"] == {"Normal": 14, "Pneumonia": 14, "COVID-19": 14}
    before, after = section["figures"]["before"]["all"], section["figures"]["after"]["all"]
    assert before["refused"]["value"] == 1.0  # the tiny model's limits refuse every film
    assert after["refused"]["value"] < 0.1  # measured without each film's patient
    assert section["figures"]["after_is"].startswith("cross-validated by patient")
    # The view check vouches for every one of these films: the card gains refusal limits
    # (the model's usual limits), so they are answered with a caution instead of refused;
    # no limit needs to move for films nothing refuses any more.
    assert after["cautioned"]["value"] > 0.9
    card = load_bundle(calibrated[0]).card
    assert set(card.ood["refusal_limits"]) >= {"layout", "features"}
    assert section["gate"]["layout"]["refusal"][1] == section["gate"]["layout"]["refusal"][0]
    checks = section["non_chest_check_set"]
    # No image of the check set that the model refused is labelled after calibration.
    assert checks["newly_labelled"] == 0
    for half in ("development", "held_out"):
        assert checks[half]["refused_after"] >= checks[half]["refused_before"]
    # 14 films per class cannot pin a figure down: the warning says how far.
    assert any("known to about ±" in warning for warning in section["warnings"])


def test_recalibrating_starts_from_the_model_not_the_last_calibration(
        site: Path, tiny_bundle: Path, calibrated: tuple[Path, dict], tmp_path: Path) -> None:
    out, first = calibrated
    status, text, err = _calibrate("--data", str(site), "--out", str(tmp_path / "again"),
                                   "--model", str(out), "--site", "Ward 3", "--json")
    assert status == 0, err
    again = json.loads(text)["site_calibration"]
    assert again["model_id"] == load_bundle(tiny_bundle).model_id
    assert again["gate"] == first["site_calibration"]["gate"]
    assert again["thresholds"]["site"] == first["site_calibration"]["thresholds"]["site"]


def test_install_then_roll_back(site: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    before = ModelStore().active().bundle.model_id
    status, text, err = _calibrate("--data", str(site), "--out", str(tmp_path / "out"),
                                   "--model", str(tiny_bundle), "--site", "Ward 3",
                                   "--install")
    assert status == 0, err
    assert "installed it as" in text
    store = ModelStore()  # the CLI installs into the user's store (isolated in tests)
    assert store.active().bundle.card.site_calibration["site"] == "Ward 3"
    assert store.previous() is not None
    store.rollback()
    assert store.active().bundle.model_id == before
    assert store.active().bundle.card.site_calibration is None


def test_too_few_films_is_a_clear_failure(tiny_bundle: Path, tmp_path: Path) -> None:
    site = _write_site(tmp_path / "small", 3)
    status, _, err = _calibrate("--data", str(site), "--out", str(tmp_path / "out"),
                                "--model", str(tiny_bundle))
    assert status == 1
    assert "only 9 films in" in err
    assert "needs at least 30" in err
    assert not (tmp_path / "out").exists()


def test_non_chest_heavy_input_does_not_widen_the_gate_for_non_chest_images(
        site: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(site, folder)
    cases = [case for case in load_check_set() if case.category != "cxr_transformed"]
    for index, case in enumerate(cases):
        shutil.copy(case.path, folder / "NORMAL" / f"other_{index}{case.path.suffix}")
    bundle = load_bundle(tiny_bundle)
    result = calibrate_site(folder, bundle, CalibrationSettings("Mixed"))
    assert result is not None
    assert result.summary["films"]["site_look"] < len(cases) / 2 + 42
    out = result.write_bundle(tmp_path / "out")
    analyzer = Analyzer(out)
    refused = [r.out_of_distribution or not r.ok for r in analyzer.analyse(
        sorted((folder / "NORMAL").glob("other_*")))]
    assert np.mean(refused) >= 0.98


def test_non_chest_only_input_cannot_calibrate(tiny_bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    for index, case in enumerate(load_check_set()[:60]):
        shutil.copy(case.path, folder / f"image_{index}{case.path.suffix}")
    with pytest.raises(CalibrationError, match="frontal chest films"):
        calibrate_site(folder, load_bundle(tiny_bundle), CalibrationSettings("Other"))


def test_output_folder_must_be_new(site: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("keep me")
    status, _, err = _calibrate("--data", str(site), "--out", str(taken), "--model",
                                str(tiny_bundle))
    assert status == 1
    assert "not an empty folder" in err
    assert (taken / "notes.txt").read_text() == "keep me"
    status, _, err = _calibrate("--data", str(site), "--out", str(tmp_path / "x"),
                                "--max-false-covid", "150%")
    assert status == 2


def test_unlabelled_films_adapt_the_gate_only(site: Path, tiny_bundle: Path,
                                              tmp_path: Path) -> None:
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    for path in sorted(site.rglob("*.png")):
        shutil.copy(path, folder / path.name)
    result = calibrate_site(folder, load_bundle(tiny_bundle), CalibrationSettings("Ward 4"))
    assert result is not None
    assert result.card["decision"]["thresholds"] == \
        load_bundle(tiny_bundle).card.decision["thresholds"]
    assert any(w.startswith("no labelled films") for w in result.warnings)
    assert result.summary["figures"]["after"]["all"]["refused"]["value"] < 0.1


def test_films_from_several_machines_are_warned_about(tiny_bundle: Path,
                                                      tmp_path: Path) -> None:
    from tests.image_factory import dicom_dataset, write_dicom

    folder = tmp_path / "machines"
    for name, offset in CLASS_FOLDERS.items():
        (folder / name).mkdir(parents=True)
        for index in range(12):
            stored = (synthetic_cxr(seed=offset + index).astype(np.uint16) * 16)
            ds = dicom_dataset(stored, seed=offset + index)
            ds.Manufacturer, ds.ManufacturerModelName = (("Acme", "DR-1") if index % 2
                                                         else ("Globex", "CR 9"))
            write_dicom(ds, folder / name / f"film_{index}.dcm")
    result = calibrate_site(folder, load_bundle(tiny_bundle), CalibrationSettings("Two rooms"))
    assert result is not None
    assert any(w.startswith("the films come from several machines (Acme DR-1 (18), "
                            "Globex CR 9 (18))") for w in result.warnings)


def test_the_cards_check_set_record_stands_in_for_measuring_it(
        site: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    from desktop_app.core.site.check_set_record import RECORD_KEY, record_check_set

    recorded = tmp_path / "recorded"
    shutil.copytree(tiny_bundle, recorded)
    record = record_check_set(recorded)
    assert len(record["films"]) == len(load_check_set())
    settings = CalibrationSettings("Ward 3")
    fresh = calibrate_site(site, load_bundle(tiny_bundle), settings)
    steps: list[tuple[int, int]] = []
    reused = calibrate_site(site, load_bundle(recorded), settings,
                            progress=lambda done, total: steps.append((done, total)))
    assert fresh is not None
    assert reused is not None
    assert reused.summary["gate"] == fresh.summary["gate"]
    assert reused.summary["non_chest_check_set"] == fresh.summary["non_chest_check_set"]
    assert steps[-1] == (42, 42)  # only the site's films were measured
    # A record of another check set (or view model) is not used.
    card = json.loads((recorded / CARD_FILE).read_text(encoding="utf-8"))
    card["ood"][RECORD_KEY]["manifest_sha256"] = "0" * 64
    (recorded / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    steps.clear()
    again = calibrate_site(site, load_bundle(recorded), settings,
                           progress=lambda done, total: steps.append((done, total)))
    assert again is not None
    assert steps[-1][1] == 42 + len(load_check_set())
    assert again.summary["gate"] == fresh.summary["gate"]
