from __future__ import annotations

from pathlib import Path

import pytest

from model_training.cli import main


def test_check_exit_code_reflects_fatal_findings(tiny_dataset: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    # 6 TRAIN images per class are below the minimum of 20: fatal -> exit code 1.
    assert main(["check", "--data", str(tiny_dataset), "--json", str(tmp_path / "r.json")]) == 1
    out = capsys.readouterr().out
    assert "class_too_small" in out
    assert "24 images" in out
    assert (tmp_path / "r.json").is_file()


def test_missing_data_is_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--data", str(tmp_path / "nope")]) == 1
    assert "nope" in capsys.readouterr().err


def test_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["train", "--data", "x"])  # --out missing
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        main(["train", "--data", "x", "--out", "y", "--arch", "resnet"])
    assert caught.value.code == 2


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, model_training, model_training.datasets, model_training.dataset_check,"
            " model_training.cli; print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2]).stdout
    assert out.split() == ["False", "False"]


def test_loso_trains_without_the_source_and_reports_it(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """One held-out run end to end (1 epoch, 32 px), then the table recorded in a card."""
    import json

    from PIL import Image

    from tests.training.conftest import synthetic_image

    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    lines = ["X_ray_image_name,Label,Dataset_type,Label_2_Virus_category,"
             "Label_1_Virus_category,source,patient_id,age_group"]
    rows = [("Normal", "Normal", "", "kermany", "child", 8),
            ("Pneumonia", "Pnemonia", "", "kermany", "child", 8),
            ("COVID-19", "Pnemonia", "COVID-19", "ieee8023", "adult", 8),
            ("COVID-19", "Pnemonia", "COVID-19", "hospital_b", "adult", 4),
            ("Normal", "Normal", "", "hospital_b", "adult", 3)]
    seed = 0
    for name, label, label_2, source, age, count in rows:
        for index in range(count):
            seed += 1
            file = f"{source}_{name}_{index}.png"
            Image.fromarray(synthetic_image(name, seed)).save(data / "images" / file)
            split = "TEST" if index % 4 == 3 else "TRAIN"
            lines.append(f"{file},{label},{split},{label_2},,{source},{source}_{name}_{index},"
                         f"{age}")
    (data / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "loso"
    code = main(["loso", "--holdout-source", "hospital_b", "--out", str(out), "--data", str(data),
                 "--input-size", "32", "--width", "0.25", "--epochs", "1", "--batch-size", "4",
                 "--augment", "robust", "--class-weighting", "class-group",
                 "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    summary = json.loads((out / "holdout.json").read_text(encoding="utf-8"))
    assert summary["source"] == "hospital_b"
    assert summary["test_images"] == 7
    assert summary["test_per_class"] == {"COVID-19": 4, "Normal": 3}
    assert summary["covid_sensitivity"]["n"] == 4
    assert summary["non_covid_labelled_covid"]["n"] == 3
    assert (out / "bundle" / "model.tflite").is_file()
    card = tmp_path / "model_card.json"
    card.write_text(json.dumps({"metrics": {}}), encoding="utf-8")
    capsys.readouterr()
    assert main(["loso-report", str(out), "--card", str(card)]) == 0
    assert "| hospital_b | 7 (COVID-19 4, Normal 3) |" in capsys.readouterr().out
    recorded = json.loads(card.read_text(encoding="utf-8"))["metrics"]["leave_one_source_out"]
    assert recorded["runs"][0]["source"] == "hospital_b"
    assert recorded["recipe"]["class_weighting"] == "class-group"
    assert main(["loso-report", str(tmp_path / "missing")]) == 1
