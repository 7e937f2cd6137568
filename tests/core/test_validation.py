"""Local validation of a model on labelled films: figures, exclusions, the stored record."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.classify.analysis import Analyzer
from desktop_app.core.classify.synthetic import synthetic_radiograph
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.validation.data_fingerprint import file_sha1, images_fingerprint
from desktop_app.core.validation.validation import (
    EXCLUSION_NOTE,
    ValidationError,
    stored_validations,
    validate,
    validations_dir,
)

FOLDERS = {"NORMAL": "Normal", "PNEUMONIA": "Pneumonia", "COVID-19": "COVID-19"}


def write_labelled_folder(root: Path, per_class: int = 4, *, photo: bool = True) -> Path:
    """Folder per class of generated radiographs, plus one colour photo among the normals."""
    for number, folder in enumerate(FOLDERS):
        (root / folder).mkdir(parents=True)
        for i in range(per_class):
            seed = 10 * number + i
            Image.fromarray(synthetic_radiograph(seed=seed)).save(root / folder / f"f{seed}.png")
    if photo:
        rng = np.random.default_rng(3)
        colour = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
        Image.fromarray(colour, "RGB").save(root / "NORMAL" / "holiday.jpg")
    return root


def write_labelled_csv(root: Path) -> Path:
    """A CoronaHack-style CSV with optional age columns, images beside it."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ["X_ray_image_name,Label,Label_2_Virus_category,patient_id,source,age"]
    cases = [("Normal", "", 30), ("Normal", "", 8), ("Pnemonia", "bacteria", 45),
             ("Pnemonia", "bacteria", 5), ("Pnemonia", "COVID-19", 60),
             ("Pnemonia", "COVID-19", 71)]
    for i, (label, detail, age) in enumerate(cases):
        name = f"img{i}.png"
        Image.fromarray(synthetic_radiograph(seed=40 + i)).save(root / name)
        lines.append(f"{name},{label},{detail},p{i // 2},site-a,{age}")
    path = root / "local.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def analyzer(tiny_bundle: Path) -> Analyzer:
    return Analyzer(load_bundle(tiny_bundle))


def test_folder_figures_match_the_classify_path(tmp_path: Path, analyzer: Analyzer) -> None:
    data = write_labelled_folder(tmp_path / "data")
    seen: list[tuple[int, int]] = []
    result = validate(data, analyzer.bundle, analyzer=analyzer, bootstrap_rounds=50,
                      progress=lambda done, total: seen.append((done, total)))
    assert result is not None
    assert seen[-1] == (13, 13)

    # Every film gets exactly the answer `classify` gives it.
    files = [Path(image.path) for image in result.images]
    expected = {r.path: r for r in analyzer.analyse(files)}
    for image in result.images:
        answer = expected[Path(image.path)]
        assert image.predicted == answer.label
        assert image.out_of_distribution == answer.out_of_distribution

    photo = next(i for i in result.images if Path(i.path).name == "holiday.jpg")
    assert photo.out_of_distribution
    assert photo.predicted is None
    assert not photo.measured
    counts = result.metrics["counts"]
    measured = [i for i in result.images if i.measured]
    assert counts["measured"] == len(measured) == result.metrics["overall"]["n"]
    assert counts["out_of_distribution"] == sum(i.out_of_distribution for i in result.images)
    assert counts["out_of_distribution_by_class"]["Normal"] >= 1
    assert result.metrics["excluded"] == EXCLUSION_NOTE

    # Figures are those of the measured films only, at the app's decision.
    correct = sum(i.predicted == i.truth for i in measured)
    assert result.metrics["overall"]["accuracy"]["value"] == pytest.approx(correct / len(measured))
    matrix = np.array(result.metrics["confusion_matrix"])
    assert matrix.sum() == len(measured)
    assert np.trace(matrix) == correct
    for row, name in enumerate(result.classes):
        assert matrix[row].sum() == sum(i.truth == name for i in measured)
    populations = result.metrics["populations"]
    assert set(populations["per_age_group"]) == {"unknown"}  # a folder says nothing of age
    assert populations["bootstrap"]["rounds"] == 50
    for name, curve in result.metrics["roc"].items():
        assert name in result.classes
        assert curve["fpr"][0] == 0.0
        assert curve["tpr"][-1] == 1.0
    reliability = result.metrics["reliability"]
    assert sum(reliability["count"]) == len(measured)


def test_record_and_csv_are_stored_with_fingerprint(tmp_path: Path, analyzer: Analyzer,
                                                    isolated_user_data: Path) -> None:
    data = write_labelled_folder(tmp_path / "data", per_class=2, photo=False)
    result = validate(data, analyzer.bundle, analyzer=analyzer, bootstrap_rounds=20)
    assert result is not None
    assert result.record_path is not None
    assert result.csv_path is not None
    assert result.record_path.parent == validations_dir()
    assert validations_dir().is_relative_to(isolated_user_data)

    record = json.loads(result.record_path.read_text(encoding="utf-8"))
    assert record["model_id"] == analyzer.bundle.model_id
    assert record["data_path"] == str(data.resolve())
    assert record["metrics"]["counts"]["measured"] == result.metrics["counts"]["measured"]
    files = sorted(data.rglob("*.png"))
    labels = [FOLDERS[f.parent.name] for f in files]
    assert record["data_fingerprint"] == images_fingerprint(files, labels,
                                                            [file_sha1(f) for f in files])

    with open(result.csv_path, encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 6
    assert {row["true_label"] for row in rows} == set(FOLDERS.values())
    assert all(row["model_id"] == analyzer.bundle.model_id for row in rows)

    stored = stored_validations(analyzer.bundle.model_id)
    assert [s.path for s in stored] == [result.record_path]
    assert stored[0].dataset == "data"
    assert stored_validations("another-model") == []

    # Same films, another folder: same fingerprint; one label changed: a different one.
    again = validate(data, analyzer.bundle, analyzer=analyzer, bootstrap_rounds=0)
    assert again is not None
    assert again.fingerprint == result.fingerprint
    assert again.record_path != result.record_path
    moved = next((data / "PNEUMONIA").iterdir())
    moved.rename(data / "COVID-19" / moved.name)
    relabelled = validate(data, analyzer.bundle, analyzer=analyzer, bootstrap_rounds=0)
    assert relabelled is not None
    assert relabelled.fingerprint != result.fingerprint
    assert len(stored_validations()) == 3


def test_csv_with_ages_reports_age_groups_and_patients(tmp_path: Path,
                                                      analyzer: Analyzer) -> None:
    csv_path = write_labelled_csv(tmp_path / "site")
    result = validate(csv_path, analyzer.bundle, analyzer=analyzer, bootstrap_rounds=30,
                      store=False)
    assert result is not None
    assert result.record_path is None
    populations = result.metrics["populations"]
    measured = [i for i in result.images if i.measured]
    groups = {i.age_group for i in measured}
    assert set(populations["per_age_group"]) == groups <= {"adult", "child"}
    assert populations["bootstrap"]["unit"] == "patient"
    assert set(populations["per_source"]) == {"site-a"}
    assert {i.patient_id for i in result.images} == {"p0", "p1", "p2"}


def test_cancel_returns_none_and_stores_nothing(tmp_path: Path, analyzer: Analyzer) -> None:
    data = write_labelled_folder(tmp_path / "data", per_class=12, photo=False)
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 5

    assert validate(data, analyzer.bundle, analyzer=analyzer, cancelled=cancelled) is None
    assert stored_validations() == []


def test_unreadable_and_unknown_data_say_what_is_wrong(tmp_path: Path,
                                                       analyzer: Analyzer) -> None:
    with pytest.raises(ValidationError, match="nowhere"):
        validate(tmp_path / "nowhere", analyzer.bundle, analyzer=analyzer)
    (tmp_path / "cats").mkdir()
    Image.fromarray(synthetic_radiograph()).save(tmp_path / "cats" / "a.png")
    with pytest.raises(ValidationError, match="cats"):
        validate(tmp_path, analyzer.bundle, analyzer=analyzer)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,diagnosis\na.png,flu\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="X_ray_image_name"):
        validate(bad, analyzer.bundle, analyzer=analyzer)


def test_broken_file_is_listed_not_measured(tmp_path: Path, analyzer: Analyzer) -> None:
    data = write_labelled_folder(tmp_path / "data", per_class=2, photo=False)
    (data / "COVID-19" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    result = validate(data, analyzer.bundle, analyzer=analyzer, bootstrap_rounds=0,
                      store=False)
    assert result is not None
    broken = next(i for i in result.images if Path(i.path).name == "broken.png")
    assert broken.error
    assert not broken.measured
    counts = result.metrics["counts"]
    assert counts["failed"] == 1
    assert counts["validated"] == 7
    assert counts["measured"] == 6 - counts["out_of_distribution"]
