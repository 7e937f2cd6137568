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
