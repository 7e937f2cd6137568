"""``python -m desktop_app validate``: table, JSON, PDF + CSV report, exit codes, no TF/Qt."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.__main__ import main
from desktop_app.core.cli.validate_cli import run_validate
from desktop_app.core.validation.validation import stored_validations
from tests.core.test_validation import write_labelled_csv, write_labelled_folder

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_validate(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    return write_labelled_folder(tmp_path / "site films", per_class=3)


def test_table_names_model_counts_and_exclusions(tiny_bundle: Path, labelled: Path) -> None:
    code, out, err = run(["--data", str(labelled), "--model", str(tiny_bundle),
                          "--bootstrap", "40"])
    assert code == 0, err
    record = stored_validations()[0].record
    counts = record["metrics"]["counts"]
    assert f"Validation of {record['model_id']} on {labelled.resolve()}" in out
    assert (f"{counts['validated']} labelled films: {counts['measured']} measured, "
            f"{counts['out_of_distribution']} refused as not a chest X-ray (excluded)") in out
    assert "Per class: sensitivity | specificity | AUROC" in out
    assert "Confusion matrix (rows: true label, columns: the app's label)" in out
    assert "excluded from every figure" in out
    assert str(stored_validations()[0].path) in out


def test_json_is_the_stored_record(tiny_bundle: Path, labelled: Path) -> None:
    code, out, err = run(["--json", "--data", str(labelled), "--model", str(tiny_bundle),
                          "--bootstrap", "0"])
    assert code == 0, err
    record = json.loads(out)
    stored = stored_validations()[0]
    assert record["stored"]["record"] == str(stored.path)
    assert {k: v for k, v in record.items() if k != "stored"} == stored.record
    assert record["metrics"]["populations"]["bootstrap"]["rounds"] == 0
    assert record["data_fingerprint"]["images"] == record["metrics"]["counts"]["validated"]


def test_report_writes_pdf_and_csv(tiny_bundle: Path, tmp_path: Path) -> None:
    data = write_labelled_csv(tmp_path / "site")
    pdf = tmp_path / "out" / "validation.pdf"
    pdf.parent.mkdir()
    code, out, err = run(["--data", str(data), "--model", str(tiny_bundle), "--report",
                          str(pdf), "--bootstrap", "30"])
    assert code == 0, err
    assert pdf.read_bytes().startswith(b"%PDF")
    with open(pdf.with_suffix(".csv"), encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["file"] for row in rows] == [f"img{i}.png" for i in range(6)]
    assert {row["age_group"] for row in rows} == {"adult", "child"}
    assert f"Report: {pdf}" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--data", "nowhere"], "nowhere"),
    (["--data", "."], "no class folders"),
])
def test_bad_data_exits_1_with_message(tiny_bundle: Path, argv: list[str], message: str,
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run([*argv, "--model", str(tiny_bundle)])
    assert code == 1
    assert message in err
    assert out == ""
    assert stored_validations() == []


def test_bad_model_exits_1_and_usage_exits_2(tmp_path: Path, labelled: Path) -> None:
    code, _, err = run(["--data", str(labelled), "--model", str(tmp_path / "no-model")])
    assert code == 1
    assert "cannot load the model" in err
    code, _, err = run(["--data", str(labelled), "--report", str(tmp_path / "r.txt")])
    assert code == 2
    assert "r.txt" in err
    with pytest.raises(SystemExit) as exit_info:
        run([])
    assert exit_info.value.code == 2


def test_main_dispatches_and_loads_neither_tensorflow_nor_qt(tiny_bundle: Path,
                                                             labelled: Path) -> None:
    code = (
        "import sys\n"
        "from desktop_app.__main__ import main\n"
        f"status = main(['validate', '--json', '--bootstrap', '10', '--model', "
        f"{str(tiny_bundle)!r}, '--data', {str(labelled)!r}])\n"
        "loaded = [m for m in sys.modules\n"
        "          if m.split('.')[0] in ('tensorflow', 'keras', 'PySide6', 'pandas')]\n"
        "print('HEAVY', loaded, file=sys.stderr)\n"
        "sys.exit(status or (3 if loaded else 0))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metrics"]["counts"]["validated"] == 10


def test_help_lists_the_layouts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--help"])
    assert exit_info.value.code == 0
    assert "NORMAL/, PNEUMONIA/, COVID-19/" in capsys.readouterr().out


def test_cautions_and_sensitivity_counting_refused_in_text_and_pdf(
    tiny_caution_bundle: Path, tmp_path: Path
) -> None:
    from tests.pdf_text import pdf_text

    data = write_labelled_folder(tmp_path / "films", per_class=2)  # + a photo among normals
    report = tmp_path / "out" / "validation.pdf"
    report.parent.mkdir()
    code, out, err = run(["--data", str(data), "--model", str(tiny_caution_bundle),
                          "--bootstrap", "20", "--report", str(report)])
    assert code == 0, err
    assert ("6 of the measured films were labelled with a caution (unusual film: read with "
            "care): COVID-19 2, Normal 2, Pneumonia 2.") in out
    assert "Found per class: over the films the app labelled" in out
    normal = next(line for line in out.splitlines() if line.startswith("  Normal found:"))
    assert "of labelled films;" in normal
    assert "of all 3 Normal films, counting 1 refused as not found" in normal
    text = " ".join(pdf_text(report).split())
    assert "Found per class, counting refused films" in text
    assert "of all 3 Normal films, counting 1 refused as not found" in text
    assert "6 of the measured films were labelled with a caution" in text
    with report.with_suffix(".csv").open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sum(bool(row["caution"]) for row in rows) == 6
