"""The core's figures and data readers that local validation relies on (no pandas, no TF)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.metrics.classification import auroc, expected_calibration_error
from desktop_app.core.metrics.populations import (
    Resampler,
    calibration_error,
    estimate,
    estimate_weighted,
    rate,
    weighted_auroc,
)
from desktop_app.core.validation.labelled_data import read_labelled

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cohort() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    n = 240
    probabilities = rng.dirichlet([1.0, 1.0, 1.0], n)
    return {
        "probabilities": probabilities,
        "labels": rng.integers(0, 3, n),
        "rows": rng.random(n) < 0.45,
        # Rounded scores: many ties, the hard case for a rank statistic.
        "scores": np.round(probabilities[:, 0], 2),
        "patients": np.array([f"p{i // 3}" for i in range(n)]),
    }


def test_weighted_estimates_equal_one_call_per_resample(cohort: dict[str, np.ndarray]) -> None:
    """The all-resamples-at-once figures are exactly those of the plain bootstrap loop."""
    p, y, rows = cohort["probabilities"], cohort["labels"], cohort["rows"]
    resampler = Resampler(len(y), rounds=200, seed=3, patients=cohort["patients"])
    correct = p.argmax(axis=1) == y
    pairs = [
        (estimate(lambda i: float(correct[i].mean()), rows, resampler),
         estimate_weighted(rate(correct), rows, resampler)),
        (estimate(lambda i: expected_calibration_error(p[i], y[i]), rows, resampler,
                  debias=True),
         estimate_weighted(calibration_error(p, y), rows, resampler, debias=True)),
        (estimate(lambda i: auroc(y[i] == 0, cohort["scores"][i]), rows, resampler),
         estimate_weighted(weighted_auroc(y == 0, cohort["scores"]), rows, resampler)),
        (estimate(lambda i: auroc(y[i] == 2, p[i, 2]), rows, resampler),
         estimate_weighted(weighted_auroc(y == 2, p[:, 2]), rows, resampler)),
    ]
    for plain, weighted in pairs:
        assert weighted["n"] == plain["n"] == int(rows.sum())
        assert weighted["value"] == pytest.approx(plain["value"], abs=1e-12)
        np.testing.assert_allclose(weighted["ci95"], plain["ci95"], atol=1e-12)


def test_weighted_estimate_of_nothing_is_none(cohort: dict[str, np.ndarray]) -> None:
    resampler = Resampler(10, rounds=20, seed=0)
    assert estimate_weighted(rate(np.ones(10)), np.zeros(10, dtype=bool), resampler) is None
    one_class = np.zeros(10, dtype=bool)
    assert estimate_weighted(weighted_auroc(one_class, np.arange(10.0)),
                             np.ones(10, dtype=bool), resampler) is None
    no_rounds = estimate_weighted(rate(np.ones(10)), np.ones(10, dtype=bool),
                                  Resampler(10, rounds=0, seed=0))
    assert no_rounds == {"value": 1.0, "ci95": None, "n": 10}


def test_csv_rows_without_pandas(tmp_path: Path) -> None:
    """A spreadsheet's CSV (byte-order mark, spaces in the header) with ages and patients."""
    (tmp_path / "images").mkdir()
    text = ("\ufeffX_ray_image_name , Label,Label_2_Virus_category,age,patient_id\n"
            "a.png,Normal,,7,\n"
            "b.png,Pnemonia,COVID-19,64,pt-9\n"
            "c.png,Pneumonia,,,pt-9\n"
            "\n")
    (tmp_path / "metadata.csv").write_text(text, encoding="utf-8")
    rows = read_labelled(tmp_path)
    assert [r.label for r in rows] == ["Normal", "COVID-19", "Pneumonia"]
    assert [r.age_group for r in rows] == ["child", "adult", "unknown"]
    assert [r.patient_id for r in rows] == ["a", "pt-9", "pt-9"]
    assert rows[0].path == str((tmp_path / "images" / "a.png").resolve())


def test_csv_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("X_ray_image_name,Label\na.png,Normal\nb.png,Flu\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels\.csv, line 3: unknown Label 'Flu'"):
        read_labelled(bad)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(ValueError, match=r"binary\.csv is not a UTF-8 text CSV"):
        read_labelled(binary)


def test_validation_modules_import_without_pandas_or_training() -> None:
    code = ("import sys, desktop_app.core.validation.validation, "
            "desktop_app.core.cli.validate_cli, "
            "desktop_app.core.validation.validation_report\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'pandas', 'model_training', 'tensorflow', 'PySide6'})\n"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
